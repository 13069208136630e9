//! After-sales refunds: the buyer asks (whole, some units, or an amount, with a reason); the
//! merchant lists and decides (approve with where the units go, or reject with a reason). The
//! rules and the money are in `workflows::payments::aftersales`.

use actix_web::{HttpResponse, get, post, web};
use actors::SettleError;
use engine::aftersales::{AskError, RefundAsk, RefundRequest, RefundState, Restock, TEXT_MAX_CHARS};
use engine::{Fen, OrderId, RefundId};
use persistence::DbErr;
use serde::Deserialize;
use serde_json::json;
use thiserror::Error;
use workflows::payments::AfterSalesError;
use workflows::payments::aftersales::{PAGE_MAX, RefundAsked};

use crate::AppState;
use crate::auth::{BuyerAuth, MerchantAuth};
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::routes::text_field;
use crate::time::rfc3339;

/// What the refund routes answer besides success.
#[derive(Debug, Error)]
pub enum RefundRouteError {
    #[error("{1}")]
    Invalid(&'static str, String),
    /// Refused by the rules or the books, or busy; with `Retry-After`.
    #[error("{0}")]
    AfterSales(AfterSalesError, u32),
    #[error(transparent)]
    Shared(#[from] ApiError),
    #[error("database: {0}")]
    Internal(#[from] DbErr),
}

impl RefundRouteError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Self::Invalid(code, _) => ApiError::invalid(code, message),
            Self::AfterSales(error, retry_after) => match error {
                AfterSalesError::OrderNotFound => ApiError::not_found("order_not_found", message),
                AfterSalesError::RefundNotFound => ApiError::not_found("refund_not_found", message),
                AfterSalesError::NotPaid => ApiError::conflict("not_paid", message),
                AfterSalesError::Window(_) => ApiError::conflict("not_refundable", message),
                AfterSalesError::Ask(AskError::NotPositive) => ApiError::invalid("invalid_amount", message),
                AfterSalesError::Ask(AskError::ExceedsWhatIsLeft { .. }) => {
                    ApiError::conflict("exceeds_refundable", message)
                }
                AfterSalesError::AlreadyDecided => ApiError::conflict("already_decided", message),
                AfterSalesError::ShippedUnits => ApiError::conflict("shipped_units", message),
                AfterSalesError::Books(
                    SettleError::Unavailable(_)
                    | SettleError::Journal(_)
                    | SettleError::SaleBusy
                    | SettleError::SaleGone,
                )
                | AfterSalesError::Unreachable(_) => {
                    ApiError::unavailable("overloaded", message, *retry_after)
                }
                AfterSalesError::Books(_) | AfterSalesError::Db(_) => ApiError::internal(message),
            },
            Self::Shared(api) => api.clone(),
            Self::Internal(_) => ApiError::internal(message),
        }
    }
}

crate::route_error!(RefundRouteError);

pub(crate) fn render(r: &RefundRequest) -> serde_json::Value {
    json!({
        "refund_id": r.id,
        "order_id": r.order_id,
        "amount_fen": r.amount_fen,
        "quantity": r.units,
        "reason": r.reason,
        "note": r.note,
        "state": r.state.as_str(),
        "restock": r.restock.map(Restock::as_str),
        "decision_reason": r.decision_reason,
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRefundBody {
    /// Part of the payment, in fen; with neither this nor `quantity`, everything left.
    amount_fen: Option<i64>,
    /// Units to return; their price comes back.
    quantity: Option<i64>,
    reason: String,
    note: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/orders/{id}/refunds",
    tag = "after-sales",
    summary = "Ask for a refund of (part of) a paid order",
    params(("id" = i64, Path, description = "order id")),
    request_body(content = AskRefundBody, example = json!({"quantity": 1, "reason": "不想要了"})),
    responses(
        (status = 201, description = "the request, awaiting the merchant"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 409, description = "`not_paid`, `not_refundable` (state or return window), `exceeds_refundable`", body = ErrorBody),
        (status = 422, description = "`invalid_amount`, `invalid_field`", body = ErrorBody),
    ),
    security(("buyer" = [])),
)]
#[post("/orders/{id}/refunds")]
pub async fn ask(
    state: web::Data<AppState>,
    buyer: BuyerAuth,
    id: web::Path<i64>,
    body: web::Json<AskRefundBody>,
) -> Result<HttpResponse, RefundRouteError> {
    let retry = state.admission.retry_after_secs();
    let body = body.into_inner();
    let ask = match (body.amount_fen, body.quantity) {
        (None, None) => RefundAsk::Whole,
        (Some(amount), None) if amount > 0 => RefundAsk::Amount(Fen(amount)),
        (None, Some(quantity)) if quantity > 0 => {
            RefundAsk::Units(u32::try_from(quantity).map_err(|_| invalid_amount())?)
        }
        (Some(_), Some(_)) => {
            return Err(RefundRouteError::Invalid(
                "invalid_amount",
                "give amount_fen or quantity, not both".into(),
            ));
        }
        _ => return Err(invalid_amount()),
    };
    let reason = text_field(&body.reason, "reason", TEXT_MAX_CHARS)?;
    let note = match body.note.as_deref().map(str::trim) {
        None | Some("") => String::new(),
        Some(note) => text_field(note, "note", TEXT_MAX_CHARS)?,
    };
    let asked = RefundAsked { buyer: buyer.0, order_id: OrderId(id.into_inner()), ask, reason, note };
    let request =
        state.payments.ask_refund(asked).await.map_err(|e| RefundRouteError::AfterSales(e, retry))?;
    Ok(HttpResponse::Created().json(render(&request)))
}

fn invalid_amount() -> RefundRouteError {
    RefundRouteError::Invalid("invalid_amount", "amount_fen and quantity must be positive integers".into())
}

#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}/refunds",
    tag = "after-sales",
    summary = "The refund requests of the buyer's order",
    params(("id" = i64, Path, description = "order id")),
    responses(
        (status = 200, description = "`{\"refunds\": [...]}`, oldest first"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
    ),
    security(("buyer" = [])),
)]
#[get("/orders/{id}/refunds")]
pub async fn of_order(
    state: web::Data<AppState>,
    buyer: BuyerAuth,
    id: web::Path<i64>,
) -> Result<HttpResponse, RefundRouteError> {
    let retry = state.admission.retry_after_secs();
    let list = state
        .payments
        .refunds_of_order(buyer.0, OrderId(id.into_inner()))
        .await
        .map_err(|e| RefundRouteError::AfterSales(e, retry))?;
    Ok(HttpResponse::Ok().json(json!({ "refunds": list.iter().map(render).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// `requested`, `approved`, `refunded` or `rejected`.
    state: Option<String>,
    /// Requests with a larger id (the `next_after_id` of the page before).
    after_id: Option<i64>,
    /// At most this many (1 to 200, default 50).
    limit: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/me/refunds",
    tag = "after-sales",
    summary = "The merchant's refund requests, paged by id",
    params(ListQuery),
    responses(
        (status = 200, description = "`{\"refunds\": [...], \"next_after_id\": id or null}`"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 422, description = "`invalid_query`", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/merchants/me/refunds")]
pub async fn list_mine(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, RefundRouteError> {
    let wanted = match query.state.as_deref() {
        None => None,
        Some(raw) => Some(RefundState::parse(raw).ok_or_else(|| {
            RefundRouteError::Invalid(
                "invalid_query",
                "state must be requested, approved, refunded or rejected".into(),
            )
        })?),
    };
    let limit = query.limit.unwrap_or(50).clamp(1, PAGE_MAX);
    let after = RefundId(query.after_id.unwrap_or(0));
    let list = state.payments.refunds_of_merchant(merchant.0, wanted, after, limit).await?;
    let next = (list.len() as u64 == limit).then(|| list.last().map(|r| r.id)).flatten();
    Ok(HttpResponse::Ok().json(json!({
        "refunds": list.iter().map(render).collect::<Vec<_>>(),
        "next_after_id": next,
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// Where the units go: `sale` (back on sale, only if not shipped), `product`, or `none`.
    restock: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/merchants/me/refunds/{id}/approve",
    tag = "after-sales",
    summary = "Approve a refund: the money goes back through the payment channel",
    params(("id" = i64, Path, description = "refund request id")),
    request_body(content = ApproveBody, example = json!({"restock": "sale"})),
    responses(
        (status = 200, description = "the approved request"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`refund_not_found`", body = ErrorBody),
        (status = 409, description = "`already_decided`, `exceeds_refundable`, `shipped_units`, `not_paid`", body = ErrorBody),
        (status = 422, description = "`invalid_restock`", body = ErrorBody),
        (status = 503, description = "busy (`overloaded`), with Retry-After", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[post("/merchants/me/refunds/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    id: web::Path<i64>,
    body: web::Json<ApproveBody>,
) -> Result<HttpResponse, RefundRouteError> {
    let retry = state.admission.retry_after_secs();
    let restock = Restock::parse(&body.restock).ok_or_else(|| {
        RefundRouteError::Invalid("invalid_restock", "restock must be sale, product or none".into())
    })?;
    let decided = state
        .payments
        .decide_refund(merchant.0, RefundId(id.into_inner()), Some(restock), String::new())
        .await
        .map_err(|e| RefundRouteError::AfterSales(e, retry))?;
    Ok(HttpResponse::Ok().json(render(&decided)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Told to the buyer.
    reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/merchants/me/refunds/{id}/reject",
    tag = "after-sales",
    summary = "Reject a refund; the buyer is told the reason",
    params(("id" = i64, Path, description = "refund request id")),
    request_body(content = RejectBody, example = json!({"reason": "商品已拆封使用"})),
    responses(
        (status = 200, description = "the rejected request"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`refund_not_found`", body = ErrorBody),
        (status = 409, description = "`already_decided`", body = ErrorBody),
        (status = 422, description = "`invalid_field`", body = ErrorBody),
        (status = 503, description = "busy (`overloaded`), with Retry-After", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[post("/merchants/me/refunds/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    id: web::Path<i64>,
    body: web::Json<RejectBody>,
) -> Result<HttpResponse, RefundRouteError> {
    let retry = state.admission.retry_after_secs();
    let reason = text_field(&body.reason, "reason", TEXT_MAX_CHARS)?;
    let decided = state
        .payments
        .decide_refund(merchant.0, RefundId(id.into_inner()), None, reason)
        .await
        .map_err(|e| RefundRouteError::AfterSales(e, retry))?;
    Ok(HttpResponse::Ok().json(render(&decided)))
}
