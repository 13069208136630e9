//! A merchant's money: balances, ledger entries (paged, filterable, CSV), withdrawals.
//!
//! Balances and entries are read from the database, the fold of durable postings, so what a
//! merchant sees never runs ahead of what survives a crash.

use actix_web::{HttpResponse, get, post, web};
use actors::SettleError;
use engine::books::Withdrawal;
use engine::ledger::Account;
use engine::settlement::WithdrawalError;
use engine::{Fen, Timestamp};
use persistence::DbErr;
use persistence::money::{self as repo, StatementFilter, StatementLine};
use serde::Deserialize;
use serde_json::json;
use thiserror::Error;
use workflows::payments::{BooksError, ReportError};
use workflows::statements::{self, account_name};

use crate::AppState;
use crate::auth::MerchantAuth;
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::time::rfc3339;

/// What a merchant's money routes answer besides success.
#[derive(Debug, Error)]
pub enum MoneyError {
    #[error("{0}")]
    InvalidQuery(String),
    #[error("amount_fen must be a positive integer")]
    InvalidAmount,
    /// The withdrawal was refused by the books, or they were busy; with `Retry-After`.
    #[error("{0}")]
    Books(BooksError, u32),
    #[error("writing csv: {0}")]
    Csv(String),
    #[error("withdrawals are frozen while the merchant is banned")]
    Frozen,
    #[error("database: {0}")]
    Internal(#[from] DbErr),
}

impl MoneyError {
    fn api(&self) -> ApiError {
        match self {
            Self::InvalidQuery(message) => ApiError::invalid("invalid_query", message.clone()),
            Self::InvalidAmount => ApiError::invalid("invalid_amount", self.to_string()),
            Self::Books(error, retry_after) => books_error(error, *retry_after),
            Self::Frozen => {
                ApiError::new(actix_web::http::StatusCode::FORBIDDEN, "merchant_banned", self.to_string())
            }
            Self::Csv(_) | Self::Internal(_) => ApiError::unexpected(),
        }
    }
}

crate::route_error!(MoneyError);

#[utoipa::path(
    get,
    path = "/api/v1/merchants/me/balance",
    tag = "money",
    summary = "The merchant's balances (available, pending, withdrawing)",
    responses(
        (status = 200, description = "balances in fen"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/merchants/me/balance")]
pub async fn balance(state: web::Data<AppState>, merchant: MerchantAuth) -> Result<HttpResponse, MoneyError> {
    let b = repo::balances(&state.db, merchant.0).await?;
    Ok(HttpResponse::Ok().json(json!({
        "merchant_id": merchant.0,
        "available_fen": b.available,
        "pending_fen": b.pending,
        "withdrawing_fen": b.withdrawing,
    })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// `available`, `pending` or `withdrawing`.
    account: Option<String>,
    /// `payment`, `refund`, `withdrawal`, … (the entry's kind).
    kind: Option<String>,
    /// RFC 3339 bounds, `from` inclusive, `to` exclusive.
    from: Option<String>,
    to: Option<String>,
    page: Option<u64>,
    per_page: Option<u64>,
}

fn parse_time(raw: &Option<String>, field: &'static str) -> Result<Option<Timestamp>, MoneyError> {
    raw.as_deref()
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| Timestamp(t.timestamp_millis()))
                .map_err(|_| MoneyError::InvalidQuery(format!("{field} must be an RFC 3339 time")))
        })
        .transpose()
}

fn filter_of(merchant: MerchantAuth, query: &EntriesQuery) -> Result<StatementFilter, MoneyError> {
    let account = match query.account.as_deref() {
        None => None,
        Some("available") => Some(Account::MerchantAvailable(merchant.0)),
        Some("pending") => Some(Account::MerchantPending(merchant.0)),
        Some("withdrawing") => Some(Account::MerchantWithdrawing(merchant.0)),
        Some(_) => {
            return Err(MoneyError::InvalidQuery("account must be available, pending or withdrawing".into()));
        }
    };
    Ok(StatementFilter {
        account,
        kind: query.kind.clone(),
        from: parse_time(&query.from, "from")?,
        to: parse_time(&query.to, "to")?,
    })
}

fn render_line(line: &StatementLine) -> serde_json::Value {
    json!({
        "op_id": line.op_id,
        "kind": line.kind,
        "order_id": line.order_id,
        "account": account_name(&line.account),
        "amount_fen": line.amount_fen,
        "created_at": rfc3339(Timestamp(line.created_at)),
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/me/ledger",
    tag = "money",
    summary = "The merchant's ledger entries, newest first, paged and filterable",
    params(EntriesQuery),
    responses(
        (status = 200, description = "a page of entries", example = json!({"entries": [], "page": 1, "per_page": 50, "total": 0})),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/merchants/me/ledger")]
pub async fn entries(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    query: web::Query<EntriesQuery>,
) -> Result<HttpResponse, MoneyError> {
    let filter = filter_of(merchant, &query)?;
    let per_page = query.per_page.unwrap_or(50);
    if !(1..=500).contains(&per_page) || query.page == Some(0) {
        return Err(MoneyError::InvalidQuery("page starts at 1; per_page is 1 to 500".into()));
    }
    let page = query.page.unwrap_or(1);
    let (lines, total) =
        repo::statement(&state.db, merchant.0, &filter, (page - 1) * per_page, per_page).await?;
    Ok(HttpResponse::Ok().json(json!({
        "entries": lines.iter().map(render_line).collect::<Vec<_>>(),
        "page": page,
        "per_page": per_page,
        "total": total,
    })))
}

/// The same entries as CSV (every match, newest first), for a spreadsheet or an accountant.
#[utoipa::path(
    get,
    path = "/api/v1/merchants/me/ledger.csv",
    tag = "money",
    summary = "The same entries as CSV",
    params(EntriesQuery),
    responses(
        (status = 200, description = "text/csv"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/merchants/me/ledger.csv")]
pub async fn entries_csv(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    query: web::Query<EntriesQuery>,
) -> Result<HttpResponse, MoneyError> {
    const MOST: u64 = 100_000;
    let filter = filter_of(merchant, &query)?;
    let (lines, _) = repo::statement(&state.db, merchant.0, &filter, 0, MOST).await?;
    let bytes = statements::csv(&lines).map_err(|e| MoneyError::Csv(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"ledger-{}.csv\"", merchant.0)))
        .body(bytes))
}

pub(crate) fn render_withdrawal(w: &Withdrawal) -> serde_json::Value {
    json!({
        "withdrawal_id": w.id,
        "merchant_id": w.merchant_id,
        "amount_fen": w.amount_fen,
        "state": w.state.as_str(),
        "reason": w.reason,
        "created_at": rfc3339(w.created_at),
        "updated_at": rfc3339(w.updated_at),
    })
}

/// A decision about a merchant's money that was not made, on the wire (shared with the
/// operator routes): a rule of the books is a 4xx, busy books a 503, the database a 500.
pub(crate) fn books_error(error: &BooksError, retry_after: u32) -> ApiError {
    let message = error.to_string();
    match error {
        BooksError::ReviewNotFound => ApiError::not_found("review_not_found", message),
        BooksError::WithdrawalNotFound => ApiError::not_found("withdrawal_not_found", message),
        BooksError::MerchantNotFound => ApiError::not_found("merchant_not_found", message),
        BooksError::UnknownPartner(_) => ApiError::invalid("unknown_partner", message),
        BooksError::InvalidSplit(_) => ApiError::invalid("invalid_split", message),
        BooksError::Settle(SettleError::Withdrawal(WithdrawalError::KycRequired)) => {
            ApiError::new(actix_web::http::StatusCode::FORBIDDEN, "kyc_required", message)
        }
        BooksError::Settle(SettleError::Withdrawal(WithdrawalError::BelowMinimum(_))) => {
            ApiError::invalid("below_minimum", message)
        }
        BooksError::Settle(SettleError::Withdrawal(WithdrawalError::InsufficientFunds { .. })) => {
            ApiError::conflict("insufficient_funds", message)
        }
        BooksError::Settle(SettleError::Withdrawal(WithdrawalError::DailyLimit { .. })) => {
            ApiError::conflict("daily_limit", message)
        }
        BooksError::Settle(SettleError::NotUnderReview) => ApiError::conflict("not_under_review", message),
        BooksError::Settle(SettleError::NoSuchWithdrawal) => ApiError::conflict("not_pending", message),
        // Refund decisions have routes of their own (`routes::refunds`).
        BooksError::Settle(SettleError::RefundDecided) => ApiError::conflict("already_decided", message),
        BooksError::Settle(SettleError::NothingToRefund | SettleError::Refund(_)) => {
            ApiError::conflict("not_refundable", message)
        }
        BooksError::Settle(
            SettleError::Unavailable(_)
            | SettleError::Journal(_)
            | SettleError::SaleBusy
            | SettleError::SaleGone,
        ) => ApiError::unavailable("overloaded", message, retry_after),
        BooksError::Unreachable(ReportError::Db(_)) | BooksError::Db(_) => ApiError::unexpected(),
        BooksError::Unreachable(other) => ApiError::unavailable("overloaded", other.to_string(), retry_after),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct WithdrawBody {
    amount_fen: i64,
}

#[utoipa::path(
    post,
    path = "/api/v1/merchants/me/withdrawals",
    tag = "money",
    summary = "Ask for a withdrawal of the available balance",
    request_body(content = WithdrawBody, example = json!({"amount_fen": 10000})),
    responses(
        (status = 201, description = "the pending withdrawal"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "`kyc_required`", body = ErrorBody),
        (status = 409, description = "`insufficient_funds`, `daily_limit`", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
        (status = 503, description = "busy (`overloaded`), with Retry-After", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[post("/merchants/me/withdrawals")]
pub async fn withdraw(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    body: web::Json<WithdrawBody>,
) -> Result<HttpResponse, MoneyError> {
    let retry = state.admission.retry_after_secs();
    if body.amount_fen <= 0 {
        return Err(MoneyError::InvalidAmount);
    }
    if persistence::qualification::active_ban(&state.db, merchant.0).await?.is_some() {
        return Err(MoneyError::Frozen);
    }
    let withdrawal = state
        .payments
        .withdraw(merchant.0, Fen(body.amount_fen))
        .await
        .map_err(|e| MoneyError::Books(e, retry))?;
    Ok(HttpResponse::Created().json(render_withdrawal(&withdrawal)))
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/me/withdrawals",
    tag = "money",
    summary = "The merchant's withdrawals",
    responses(
        (status = 200, description = "withdrawals", example = json!({"withdrawals": []})),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/merchants/me/withdrawals")]
pub async fn withdrawals(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
) -> Result<HttpResponse, MoneyError> {
    let list = repo::withdrawals(&state.db, Some(merchant.0), None).await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "withdrawals": list.iter().map(render_withdrawal).collect::<Vec<_>>() })))
}
