//! The operator console's API: AML review, withdrawal review, KYC, profit-sharing rules,
//! the active query and refunds on demand, the ledger check and the daily reconciliation,
//! notifications that could not be delivered (listed, replayed).
//! Each route names the role duty it needs; each state-changing one writes an audit row once
//! the change is durable.

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{Datelike, NaiveDate};
use engine::books::WithdrawalState;
use engine::ledger::PartnerId;
use engine::{BeijingDay, MerchantId, OrderId, WithdrawalId};
use persistence::DbErr;
use persistence::money as repo;
use serde::Deserialize;
use serde_json::json;
use thiserror::Error;
use workflows::notifications::DEAD_LETTER_PAGE_MAX;
use workflows::payments::BooksError;

use crate::AppState;
use crate::access::{self, AmlReview, Finance, OperatorAuth, Partners};
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::routes::money::{books_error, render_withdrawal};
use crate::routes::text_field;
use crate::time::rfc3339;

/// What the operator console's routes answer besides success.
#[derive(Debug, Error)]
pub enum OperatorError {
    #[error("{0}")]
    InvalidQuery(&'static str),
    /// A decision about a merchant's money not made; with `Retry-After` for when it was busy.
    #[error("{0}")]
    Books(BooksError, u32),
    /// A check shared with other groups (fields, the audit log).
    #[error(transparent)]
    Shared(#[from] ApiError),
    #[error("rendering: {0}")]
    Render(#[from] serde_json::Error),
    #[error("database: {0}")]
    Internal(#[from] DbErr),
}

impl OperatorError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Self::InvalidQuery(_) => ApiError::invalid("invalid_query", message),
            Self::Books(error, retry_after) => books_error(error, *retry_after),
            Self::Shared(api) => api.clone(),
            Self::Render(_) | Self::Internal(_) => ApiError::unexpected(),
        }
    }
}

crate::route_error!(OperatorError);

#[utoipa::path(
    get,
    path = "/api/v1/operator/reviews",
    tag = "operator console",
    summary = "Payments held for AML review (reviewer)",
    responses(
        (status = 200, description = "held captures"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[get("/operator/reviews")]
pub async fn reviews(
    state: web::Data<AppState>,
    _: OperatorAuth<AmlReview>,
) -> Result<HttpResponse, OperatorError> {
    let held = repo::captures_under_review(&state.db).await?;
    let rendered: Vec<_> = held
        .iter()
        .map(|c| {
            json!({
                "order_id": c.order_id,
                "merchant_id": c.settlement.merchant_id,
                "payment_id": c.payment_id,
                "channel": c.settlement.channel.as_str(),
                "transaction_id": c.transaction_id,
                "gross_fen": c.settlement.gross_fen,
                "fee_fen": c.settlement.fee_fen,
                "merchant_fen": c.settlement.merchant_fen,
                "captured_at": rfc3339(c.at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "reviews": rendered })))
}

async fn decide_review(
    state: &AppState,
    operator: &OperatorAuth<AmlReview>,
    order_id: i64,
    approved: bool,
) -> Result<HttpResponse, OperatorError> {
    let retry = state.admission.retry_after_secs();
    let capture = state
        .payments
        .decide_review(OrderId(order_id), approved)
        .await
        .map_err(|e| OperatorError::Books(e, retry))?;
    let action = if approved { "review.approve" } else { "review.reject" };
    let details = json!({
        "merchant_id": capture.settlement.merchant_id,
        "gross_fen": capture.settlement.gross_fen.as_i64(),
    });
    operator.audit(state, action, format!("order:{order_id}"), details).await?;
    Ok(HttpResponse::Ok().json(json!({
        "order_id": order_id,
        "review": if approved { "approved" } else { "rejected" },
    })))
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/reviews/{order_id}/approve",
    tag = "operator console",
    summary = "Release a held payment to the merchant (reviewer)",
    params(("order_id" = i64, Path, description = "order id")),
    responses(
        (status = 200, description = "approved"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 404, description = "`review_not_found`", body = ErrorBody),
        (status = 409, description = "`not_under_review`", body = ErrorBody),
        (status = 503, description = "busy (`overloaded`), with Retry-After", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/reviews/{order_id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    operator: OperatorAuth<AmlReview>,
    id: web::Path<i64>,
) -> Result<HttpResponse, OperatorError> {
    decide_review(&state, &operator, id.into_inner(), true).await
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/reviews/{order_id}/reject",
    tag = "operator console",
    summary = "Reject a held payment: it is refunded (reviewer)",
    params(("order_id" = i64, Path, description = "order id")),
    responses(
        (status = 200, description = "rejected"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 404, description = "`review_not_found`", body = ErrorBody),
        (status = 409, description = "`not_under_review`", body = ErrorBody),
        (status = 503, description = "busy (`overloaded`), with Retry-After", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/reviews/{order_id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    operator: OperatorAuth<AmlReview>,
    id: web::Path<i64>,
) -> Result<HttpResponse, OperatorError> {
    decide_review(&state, &operator, id.into_inner(), false).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WithdrawalsQuery {
    state: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/operator/withdrawals",
    tag = "operator console",
    summary = "Withdrawals, by state (finance)",
    params(WithdrawalsQuery),
    responses(
        (status = 200, description = "withdrawals"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[get("/operator/withdrawals")]
pub async fn withdrawals(
    state: web::Data<AppState>,
    _: OperatorAuth<Finance>,
    query: web::Query<WithdrawalsQuery>,
) -> Result<HttpResponse, OperatorError> {
    let wanted = query
        .state
        .as_deref()
        .map(|s| {
            WithdrawalState::parse(s).ok_or(OperatorError::InvalidQuery("state: requested, paid, rejected"))
        })
        .transpose()?;
    let list = repo::withdrawals(&state.db, None, wanted).await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "withdrawals": list.iter().map(render_withdrawal).collect::<Vec<_>>() })))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct Reason {
    #[serde(default)]
    reason: String,
}

async fn decide_withdrawal(
    state: &AppState,
    operator: &OperatorAuth<Finance>,
    id: i64,
    pay: bool,
    reason: String,
) -> Result<HttpResponse, OperatorError> {
    let retry = state.admission.retry_after_secs();
    if pay && persistence::trust::withdrawal_frozen(&state.db, id).await? == Some(true) {
        let message = "withdrawals are frozen while the merchant is banned";
        return Err(ApiError::conflict("merchant_banned", message).into());
    }
    let (withdrawal, decided) = state
        .payments
        .decide_withdrawal(WithdrawalId(id), pay, reason.clone())
        .await
        .map_err(|e| OperatorError::Books(e, retry))?;
    let action = if pay { "withdrawal.pay" } else { "withdrawal.reject" };
    let details = json!({
        "merchant_id": withdrawal.merchant_id,
        "amount_fen": withdrawal.amount_fen,
        "reason": reason,
    });
    operator.audit(state, action, format!("withdrawal:{id}"), details).await?;
    Ok(HttpResponse::Ok().json(render_withdrawal(&decided)))
}

/// The transfer to the merchant's bank went out.
#[utoipa::path(
    post,
    path = "/api/v1/operator/withdrawals/{id}/pay",
    tag = "operator console",
    summary = "Mark a withdrawal paid (finance)",
    params(("id" = i64, Path, description = "withdrawal id")),
    responses(
        (status = 200, description = "the withdrawal"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 404, description = "`withdrawal_not_found`", body = ErrorBody),
        (status = 409, description = "`not_pending`, `merchant_banned` (frozen)", body = ErrorBody),
        (status = 503, description = "busy (`overloaded`), with Retry-After", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/withdrawals/{id}/pay")]
pub async fn pay_withdrawal(
    state: web::Data<AppState>,
    operator: OperatorAuth<Finance>,
    id: web::Path<i64>,
) -> Result<HttpResponse, OperatorError> {
    decide_withdrawal(&state, &operator, id.into_inner(), true, String::new()).await
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/withdrawals/{id}/reject",
    tag = "operator console",
    summary = "Reject a withdrawal with a reason (finance)",
    params(("id" = i64, Path, description = "withdrawal id")),
    request_body = Reason,
    responses(
        (status = 200, description = "the withdrawal"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 404, description = "`withdrawal_not_found`", body = ErrorBody),
        (status = 409, description = "`not_pending`", body = ErrorBody),
        (status = 503, description = "busy (`overloaded`), with Retry-After", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/withdrawals/{id}/reject")]
pub async fn reject_withdrawal(
    state: web::Data<AppState>,
    operator: OperatorAuth<Finance>,
    id: web::Path<i64>,
    body: Option<web::Json<Reason>>,
) -> Result<HttpResponse, OperatorError> {
    let reason = body.map(|b| b.into_inner().reason).unwrap_or_default();
    decide_withdrawal(&state, &operator, id.into_inner(), false, reason).await
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Kyc {
    verified: bool,
}

#[utoipa::path(
    put,
    path = "/api/v1/operator/merchants/{id}/kyc",
    tag = "operator console",
    summary = "Record a merchant's identity verification (reviewer)",
    params(("id" = i64, Path, description = "merchant id")),
    request_body = Kyc,
    responses(
        (status = 200, description = "recorded, durable"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 404, description = "`merchant_not_found`", body = ErrorBody),
        (status = 503, description = "busy (`overloaded`), with Retry-After", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[put("/operator/merchants/{id}/kyc")]
pub async fn set_kyc(
    state: web::Data<AppState>,
    operator: OperatorAuth<access::Kyc>,
    id: web::Path<i64>,
    body: web::Json<Kyc>,
) -> Result<HttpResponse, OperatorError> {
    let merchant_id = MerchantId(id.into_inner());
    let retry = state.admission.retry_after_secs();
    // The merchant's settlement actor is the only writer of its KYC flag: it journals the
    // decision and applies it, and the answer waits until it is durable.
    state.payments.set_kyc(merchant_id, body.verified).await.map_err(|e| OperatorError::Books(e, retry))?;
    let details = json!({ "verified": body.verified });
    operator.audit(&state, "merchant.kyc", format!("merchant:{merchant_id}"), details).await?;
    Ok(HttpResponse::Ok().json(json!({ "merchant_id": merchant_id, "kyc_verified": body.verified })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewPartner {
    name: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/partners",
    tag = "operator console",
    summary = "Create an MCN partner (admin)",
    request_body = NewPartner,
    responses(
        (status = 201, description = "the partner"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/partners")]
pub async fn create_partner(
    state: web::Data<AppState>,
    operator: OperatorAuth<Partners>,
    body: web::Json<NewPartner>,
) -> Result<HttpResponse, OperatorError> {
    let name = text_field(&body.name, "name", 64)?;
    let id = repo::insert_partner(&state.db, &name, state.clock.now()).await?;
    operator.audit(&state, "partner.create", format!("partner:{}", id.0), json!({ "name": name })).await?;
    Ok(HttpResponse::Created().json(json!({ "partner_id": id, "name": name })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Share {
    partner_id: i64,
    bps: u32,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Split {
    partners: Vec<Share>,
}

/// Who shares this merchant's net from now on (e.g. its MCN at 1,000 bps).
#[utoipa::path(
    put,
    path = "/api/v1/operator/merchants/{id}/split",
    tag = "operator console",
    summary = "Set who shares a merchant's net, in basis points (admin)",
    params(("id" = i64, Path, description = "merchant id")),
    request_body = Split,
    responses(
        (status = 200, description = "the split, durable"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 404, description = "`merchant_not_found`", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
        (status = 503, description = "busy (`overloaded`), with Retry-After", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[put("/operator/merchants/{id}/split")]
pub async fn set_split(
    state: web::Data<AppState>,
    operator: OperatorAuth<Partners>,
    id: web::Path<i64>,
    body: web::Json<Split>,
) -> Result<HttpResponse, OperatorError> {
    let merchant_id = MerchantId(id.into_inner());
    let retry = state.admission.retry_after_secs();
    let shares: Vec<_> = body.partners.iter().map(|s| (PartnerId(s.partner_id), s.bps)).collect();
    // Journaled and applied by the merchant's settlement actor, its only writer.
    state.payments.set_split(merchant_id, &shares).await.map_err(|e| OperatorError::Books(e, retry))?;
    let partners: Vec<_> =
        body.partners.iter().map(|s| json!({"partner_id": s.partner_id, "bps": s.bps})).collect();
    let details = json!({ "partners": partners });
    operator.audit(&state, "merchant.split", format!("merchant:{merchant_id}"), details).await?;
    Ok(HttpResponse::Ok().json(json!({ "merchant_id": merchant_id, "partners": partners })))
}

/// Runs the active query now (it also runs on its own every `payments.query_interval_ms`).
#[utoipa::path(
    post,
    path = "/api/v1/operator/payments/query",
    tag = "operator console",
    summary = "Run the active payment query now (finance)",
    responses(
        (status = 200, description = "what the sweep found"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/payments/query")]
pub async fn run_query(
    state: web::Data<AppState>,
    operator: OperatorAuth<Finance>,
) -> Result<HttpResponse, OperatorError> {
    let sweep = state.payments.query_sweep().await?;
    let details = serde_json::to_value(sweep)?;
    operator.audit(&state, "payments.query", "payments", details).await?;
    Ok(HttpResponse::Ok().json(sweep))
}

/// Sends owed refunds now.
#[utoipa::path(
    post,
    path = "/api/v1/operator/refunds/run",
    tag = "operator console",
    summary = "Send owed refunds now (finance)",
    responses(
        (status = 200, description = "refunds sent"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/refunds/run")]
pub async fn run_refunds(
    state: web::Data<AppState>,
    operator: OperatorAuth<Finance>,
) -> Result<HttpResponse, OperatorError> {
    let refunded = state.payments.refund_sweep().await?;
    operator.audit(&state, "refunds.run", "refunds", json!({ "refunded": refunded })).await?;
    Ok(HttpResponse::Ok().json(json!({ "refunded": refunded })))
}

/// The ledger's invariants from the database alone.
#[utoipa::path(
    get,
    path = "/api/v1/operator/ledger/check",
    tag = "operator console",
    summary = "The ledger's invariants from the database (finance)",
    responses(
        (status = 200, description = "sums and unbalanced postings"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[get("/operator/ledger/check")]
pub async fn ledger_check(
    state: web::Data<AppState>,
    _: OperatorAuth<Finance>,
) -> Result<HttpResponse, OperatorError> {
    let (sum, unbalanced, postings) = repo::ledger_check(&state.db).await?;
    Ok(HttpResponse::Ok().json(json!({
        "postings": postings,
        "sum_of_all_lines_fen": sum,
        "unbalanced_postings": unbalanced,
        "balanced": sum == 0 && unbalanced.is_empty(),
    })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReconcileQuery {
    /// Beijing calendar day, `yyyy-MM-dd`; today when absent.
    date: Option<String>,
}

/// Compares each channel's bill of a day with the ledger and lists every difference.
#[utoipa::path(
    get,
    path = "/api/v1/operator/reconciliation",
    tag = "operator console",
    summary = "A day's channel bills against the ledger (finance)",
    params(ReconcileQuery),
    responses(
        (status = 200, description = "the differences"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[get("/operator/reconciliation")]
pub async fn reconcile(
    state: web::Data<AppState>,
    _: OperatorAuth<Finance>,
    query: web::Query<ReconcileQuery>,
) -> Result<HttpResponse, OperatorError> {
    let day = match &query.date {
        Some(raw) => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .and_then(|d| BeijingDay::from_ymd(d.year(), d.month(), d.day()))
            .ok_or(OperatorError::InvalidQuery("date must be yyyy-MM-dd"))?,
        None => BeijingDay::of(state.clock.now()),
    };
    Ok(HttpResponse::Ok().json(state.payments.reconcile(day).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Dead letters with a larger id (the `next_after_id` of the page before).
    after_id: Option<i64>,
    /// At most this many (1 to 200, default 50).
    limit: Option<u64>,
}

/// Notifications the worker gave up on, oldest first, paged by id.
#[utoipa::path(
    get,
    path = "/api/v1/operator/notifications/dead-letters",
    tag = "operator console",
    summary = "Notifications that could not be delivered (finance)",
    params(DeadLetterQuery),
    responses(
        (status = 200, description = "`{\"dead_letters\": [...], \"next_after_id\": id or null}`"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[get("/operator/notifications/dead-letters")]
pub async fn dead_letters(
    state: web::Data<AppState>,
    _: OperatorAuth<Finance>,
    query: web::Query<DeadLetterQuery>,
) -> Result<HttpResponse, OperatorError> {
    let limit = query.limit.unwrap_or(50).clamp(1, DEAD_LETTER_PAGE_MAX);
    let page = state.notifications.dead_letters(query.after_id.unwrap_or(0), limit).await?;
    let next = (page.len() as u64 == limit).then(|| page.last().map(|m| m.id)).flatten();
    let rendered: Vec<_> = page
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "dedupe_key": m.dedupe_key,
                "channel": m.channel.as_str(),
                "kind": m.kind.as_str(),
                "order_id": m.order_id,
                "attempts": m.attempts,
                "last_error": m.last_error,
                "created_at": rfc3339(m.created_at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "dead_letters": rendered, "next_after_id": next })))
}

/// Gives a dead letter its attempts back; the worker sends it again at once.
#[utoipa::path(
    post,
    path = "/api/v1/operator/notifications/{id}/replay",
    tag = "operator console",
    summary = "Send a dead-lettered notification again (finance)",
    params(("id" = i64, Path, description = "outbox message id")),
    responses(
        (status = 200, description = "`{\"id\": id, \"state\": \"pending\"}`"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 409, description = "`not_a_dead_letter`: no such message, or it is not dead", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/notifications/{id}/replay")]
pub async fn replay_notification(
    state: web::Data<AppState>,
    operator: OperatorAuth<Finance>,
    id: web::Path<i64>,
) -> Result<HttpResponse, OperatorError> {
    let id = id.into_inner();
    if !state.notifications.replay(id).await? {
        let message = format!("message {id} is not a dead letter");
        return Err(ApiError::conflict("not_a_dead_letter", message).into());
    }
    operator.audit(&state, "notification.replay", format!("outbox:{id}"), json!({})).await?;
    Ok(HttpResponse::Ok().json(json!({ "id": id, "state": "pending" })))
}
