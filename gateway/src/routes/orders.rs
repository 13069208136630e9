//! Orders: the flash-sale hot path, and reading or cancelling an order.
//!
//! Placing an order, cheapest refusal first:
//! 1. parse (typed ids, `Idempotency-Key`, quantity) and authenticate: no shared state;
//! 2. per-buyer token bucket;
//! 3. for a buyer who has never ordered in the sale (`SaleHandle::may_have_ordered`):
//!    `SaleTerms::admits` (the engine's window and per-buyer checks), the sold-out flag and
//!    the caps on unpaid orders per buyer and per network, read without a message;
//! 4. only then a message to the sale's stock actor (`try_send`: a full mailbox is a 503),
//!    which answers a replay of a known key first and makes every other check again, exactly;
//! 5. the 201 (a replay's too) goes out once the journal batch holding the order is durable:
//!    in the order log and `fdatasync`ed (or, without a log, committed to the database).
//!
//! A settled sale (ended, nothing held) has no actor: its orders are answered from the
//! database (a replay of a key, else `ended`) without starting one.

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actors::journal::AppendError;
use actors::{CancelFailure, CapReached, PlaceError, SaleHandle, Seq};
use engine::{
    BuyerId, CancelError, FlashSaleId, IdempotencyKey, Order, OrderId, OrderState, Quantity, Receipt,
    ReserveError,
};
use serde::Deserialize;
use serde_json::json;
use thiserror::Error;

use crate::AppState;
use crate::auth::{BuyerAuth, Caller};
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::time::rfc3339;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PlaceOrderBody {
    quantity: i64,
}

/// Everything that can keep an order from being placed or cancelled, each with its stable
/// `code`; the 503s carry the `Retry-After` seconds.
#[derive(Debug, Error)]
pub enum OrderError {
    /// A malformed request, a check shared with other groups (the per-buyer bucket), or the
    /// database.
    #[error(transparent)]
    Shared(#[from] ApiError),
    #[error("no such flash sale")]
    SaleNotFound,
    #[error(transparent)]
    Refused(ReserveError),
    #[error("this flash sale is suspended by the platform")]
    Suspended,
    #[error("{}", unpaid_message(.0))]
    TooManyUnpaid(CapReached),
    #[error("orders are arriving faster than they are saved, retry shortly")]
    JournalFull(u32),
    #[error("the server is shutting down")]
    ShuttingDown(u32),
    #[error("this flash sale is at capacity, retry shortly")]
    MailboxFull(u32),
    #[error(
        "the order could not be confirmed in time; retry with the same Idempotency-Key to learn its fate"
    )]
    NotConfirmed(u32),
    #[error("the order is {} and can no longer be cancelled", .0.as_str())]
    NotCancellable(OrderState),
    #[error("{0}")]
    Internal(String),
}

fn unpaid_message(cap: &CapReached) -> String {
    match cap {
        CapReached::Buyer { max } => format!("you already have {max} unpaid orders; pay or cancel one first"),
        CapReached::Network { max } => {
            format!("{max} orders from your network are unpaid; retry once one is paid or expires")
        }
    }
}

impl OrderError {
    fn journal(error: AppendError, retry_after: u32) -> Self {
        match error {
            AppendError::Full => Self::JournalFull(retry_after),
            AppendError::Closed => Self::ShuttingDown(retry_after),
        }
    }

    /// The stable code, also the label of the rejection counter.
    fn code(&self) -> &'static str {
        match self {
            Self::Shared(api) => api.code,
            Self::SaleNotFound => "flash_sale_not_found",
            Self::Refused(refusal) => match refusal {
                ReserveError::SoldOut => "sold_out",
                ReserveError::InsufficientStock { .. } => "insufficient_stock",
                ReserveError::NotStarted { .. } => "not_started",
                ReserveError::Ended => "ended",
                ReserveError::LimitExceeded { .. } | ReserveError::OverLimit { .. } => "limit_exceeded",
                ReserveError::KeyReused => "idempotency_key_reused",
                ReserveError::TooManyOrders { .. } => "too_many_orders",
            },
            Self::Suspended => "sale_suspended",
            Self::TooManyUnpaid(_) => "too_many_unpaid_orders",
            Self::JournalFull(_) => "journal_full",
            Self::ShuttingDown(_) => "shutting_down",
            Self::MailboxFull(_) => "overloaded",
            Self::NotConfirmed(_) => "not_confirmed",
            Self::NotCancellable(_) => "not_cancellable",
            Self::Internal(_) => "internal",
        }
    }

    fn api(&self) -> ApiError {
        let (code, message) = (self.code(), self.to_string());
        match self {
            Self::Shared(api) => api.clone(),
            Self::SaleNotFound => ApiError::not_found(code, message),
            Self::Refused(
                ReserveError::LimitExceeded { .. }
                | ReserveError::OverLimit { .. }
                | ReserveError::TooManyOrders { .. },
            )
            | Self::TooManyUnpaid(_) => ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message),
            Self::Refused(ReserveError::KeyReused) => ApiError::invalid(code, message),
            Self::Refused(_) | Self::Suspended | Self::NotCancellable(_) => ApiError::conflict(code, message),
            Self::JournalFull(retry)
            | Self::ShuttingDown(retry)
            | Self::MailboxFull(retry)
            | Self::NotConfirmed(retry) => ApiError::unavailable(code, message, *retry),
            Self::Internal(cause) => ApiError::internal(cause),
        }
    }
}

crate::route_error!(OrderError);

impl From<persistence::DbErr> for OrderError {
    fn from(error: persistence::DbErr) -> Self {
        Self::Shared(error.into())
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<IdempotencyKey, ApiError> {
    let raw = headers
        .get("Idempotency-Key")
        .ok_or_else(|| ApiError::bad_request("idempotency_key_required", "send an Idempotency-Key header"))?;
    let text = raw
        .to_str()
        .map_err(|_| ApiError::invalid("invalid_idempotency_key", "Idempotency-Key must be visible ASCII"))?;
    IdempotencyKey::parse(text).map_err(|e| ApiError::invalid("invalid_idempotency_key", e.to_string()))
}

/// The 201 body. A pure function of the receipt, so replays are byte for byte the same.
fn created(receipt: &Receipt) -> HttpResponse {
    HttpResponse::Created().json(json!({
        "order_id": receipt.order_id,
        "state": "pending_payment",
        "quantity": receipt.quantity,
        "amount_fen": receipt.amount_fen,
        "expires_at": rfc3339(receipt.expires_at),
    }))
}

/// Waits until the journal has made `seq` durable, at most `journal.ack_timeout_ms`: the one
/// durability wait of every answer here.
async fn durable(state: &AppState, seq: Seq) -> Result<(), OrderError> {
    let retry = state.admission.retry_after_secs();
    tokio::time::timeout(state.settings.ack_timeout(), state.journal.wait_durable(seq))
        .await
        .map_err(|_| OrderError::NotConfirmed(retry))?
        .map_err(|e| OrderError::journal(e, retry))
}

#[utoipa::path(
    post,
    path = "/api/v1/flash-sales/{id}/orders",
    tag = "orders",
    summary = "Order from a flash sale (the hot path); answered 201 once durable",
    params(("id" = i64, Path, description = "flash sale id"), ("Idempotency-Key" = String, Header, description = "one per intended order; a retry with the same key gets the same answer")),
    request_body(content = PlaceOrderBody, example = json!({"quantity": 1})),
    responses(
        (status = 201, description = "reserved and durable; pay before `expires_at`", example = json!({"order_id": 1, "state": "pending_payment", "quantity": 1, "amount_fen": 990, "expires_at": "2026-11-26T08:45:00.000Z"})),
        (status = 400, description = "malformed request (`bad_request`, `malformed_json`)", body = ErrorBody),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`flash_sale_not_found`", body = ErrorBody),
        (status = 409, description = "`sold_out`, `insufficient_stock`, `not_started`, `ended`, `sale_suspended`", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
        (status = 429, description = "`limit_exceeded`, `too_many_unpaid_orders`, `too_many_orders`, `rate_limited`", body = ErrorBody),
        (status = 503, description = "`overloaded`, `journal_full`, `not_confirmed` (retry with the same key), `shutting_down`", body = ErrorBody),
    ),
    security(("buyer" = [])),
)]
#[post("/flash-sales/{id}/orders")]
pub async fn place_order(
    state: web::Data<AppState>,
    sale_id: web::Path<i64>,
    buyer: BuyerAuth,
    request: HttpRequest,
    body: web::Json<PlaceOrderBody>,
) -> Result<HttpResponse, OrderError> {
    let started = Instant::now();
    let meters = OrderMeters::get();
    match place(&state, FlashSaleId(*sale_id), buyer, &request, body.quantity).await {
        Ok(receipt) => {
            meters.accepted.increment(1);
            meters.order_seconds.record(started.elapsed().as_secs_f64());
            Ok(created(&receipt))
        }
        Err(error) => {
            meters.rejected(error.code());
            Err(error)
        }
    }
}

/// The hot path's metric handles, looked up in the recorder once instead of on every order
/// (a name and labels hashed into its registry each time). Made on the first order, when the
/// recorder is installed (the app installs it before it serves).
struct OrderMeters {
    accepted: metrics::Counter,
    order_seconds: metrics::Histogram,
    reservation_seconds: metrics::Histogram,
    /// The refusals a storm answers by the thousand; rarer reasons are looked up each time.
    sold_out: metrics::Counter,
    overloaded: metrics::Counter,
    limit_exceeded: metrics::Counter,
    rate_limited: metrics::Counter,
}

impl OrderMeters {
    fn get() -> &'static Self {
        static METERS: std::sync::OnceLock<OrderMeters> = std::sync::OnceLock::new();
        METERS.get_or_init(|| {
            let rejected = |reason: &'static str| metrics::counter!("flashsale_orders_rejected_total", "reason" => reason);
            Self {
                accepted: metrics::counter!("flashsale_orders_accepted_total"),
                order_seconds: metrics::histogram!("flashsale_order_seconds"),
                reservation_seconds: metrics::histogram!("flashsale_reservation_seconds"),
                sold_out: rejected("sold_out"),
                overloaded: rejected("overloaded"),
                limit_exceeded: rejected("limit_exceeded"),
                rate_limited: rejected("rate_limited"),
            }
        })
    }

    fn rejected(&self, reason: &'static str) {
        match reason {
            "sold_out" => self.sold_out.increment(1),
            "overloaded" => self.overloaded.increment(1),
            "limit_exceeded" => self.limit_exceeded.increment(1),
            "rate_limited" => self.rate_limited.increment(1),
            _ => metrics::counter!("flashsale_orders_rejected_total", "reason" => reason).increment(1),
        }
    }
}

async fn place(
    state: &AppState,
    sale_id: FlashSaleId,
    BuyerAuth(buyer_id): BuyerAuth,
    request: &HttpRequest,
    raw_quantity: i64,
) -> Result<Receipt, OrderError> {
    let key = idempotency_key(request.headers())?;
    let quantity =
        Quantity::parse(raw_quantity).map_err(|e| ApiError::invalid("invalid_quantity", e.to_string()))?;
    state.admission.check_buyer(buyer_id).map_err(ApiError::from)?;
    let sale = match state.registry.get(sale_id) {
        Some(running) => running,
        None => match without_actor(state, sale_id, buyer_id, &key, quantity).await? {
            Settled::Ask(started) => started,
            Settled::Replay(receipt) => return Ok(receipt),
        },
    };
    let retry = state.admission.retry_after_secs();

    // The engine's own first checks, then the sold-out flag: everything that can be refused
    // without asking the actor, in the order the actor would refuse it. Only for a buyer who
    // has never ordered in this sale: anyone else may be replaying a key, which the actor
    // answers first, whatever has changed since.
    let known = sale.may_have_ordered(buyer_id);
    if !known {
        sale.terms.admits(quantity, state.clock.now()).map_err(OrderError::Refused)?;
        if sale.gauge.is_suspended() {
            return Err(OrderError::Suspended);
        }
        if sale.gauge.is_sold_out() {
            return Err(OrderError::Refused(ReserveError::SoldOut));
        }
    }
    // Past the sold-out flag: a storm's refusals never read the client's address.
    let network = crate::client::client_network(request, &state.proxies);
    if !known && let Some(cap) = state.registry.holds().would_refuse(buyer_id, network) {
        return Err(OrderError::TooManyUnpaid(cap));
    }

    let reserved_at = Instant::now();
    let answer =
        sale.try_place(buyer_id, quantity, key, network).map_err(|_| OrderError::MailboxFull(retry))?;
    let placed = tokio::time::timeout(state.settings.ack_timeout(), answer)
        .await
        .map_err(|_| OrderError::NotConfirmed(retry))?
        // The actor dropped the reply: it stopped (shutdown).
        .map_err(|_| OrderError::ShuttingDown(retry))?
        .map_err(|refused| match refused {
            PlaceError::Refused(refusal) => OrderError::Refused(refusal),
            PlaceError::TooManyUnpaid(cap) => OrderError::TooManyUnpaid(cap),
            PlaceError::Journal(e) => OrderError::journal(e, retry),
            PlaceError::Suspended => OrderError::Suspended,
        })?;
    OrderMeters::get().reservation_seconds.record(reserved_at.elapsed().as_secs_f64());
    durable(state, placed.seq).await?;
    Ok(placed.receipt)
}

/// What an order for a sale without an actor comes to, when it is not refused.
enum Settled {
    /// The sale is open after all: its actor was started; ask it.
    Ask(Arc<SaleHandle>),
    /// A replay of an order stored for this key.
    Replay(Receipt),
}

/// An order for a sale without an actor. Such a sale is settled (see `actors::registry`): a
/// replay of a stored key is its first answer, anything else is `ended`, and no actor is
/// started for it. A sale that is still open has no business being without one: it is
/// started, and asked.
async fn without_actor(
    state: &AppState,
    sale_id: FlashSaleId,
    buyer_id: BuyerId,
    key: &IdempotencyKey,
    quantity: Quantity,
) -> Result<Settled, OrderError> {
    let terms = persistence::repo::flash_sale(&state.db, sale_id).await?.ok_or(OrderError::SaleNotFound)?;
    if state.clock.now() < terms.ends_at {
        tracing::warn!(flash_sale_id = %sale_id, "an open flash sale had no stock actor; starting it");
        let started = state.sale(sale_id).await.map_err(|e| OrderError::Internal(e.to_string()))?;
        return started.map(Settled::Ask).ok_or(OrderError::SaleNotFound);
    }
    match persistence::repo::order_by_key(&state.db, sale_id, buyer_id, key).await? {
        Some(order) if order.quantity == quantity.get() => Ok(Settled::Replay(order.receipt())),
        Some(_) => Err(OrderError::Refused(ReserveError::KeyReused)),
        None => Err(OrderError::Refused(ReserveError::Ended)),
    }
}

pub(crate) fn render(order: &Order) -> serde_json::Value {
    json!({
        "id": order.id,
        "flash_sale_id": order.flash_sale_id,
        "merchant_id": order.merchant_id,
        "buyer_id": order.buyer_id,
        "quantity": order.quantity,
        "amount_fen": order.amount_fen,
        "state": order.state.as_str(),
        "created_at": rfc3339(order.created_at),
        "expires_at": rfc3339(order.expires_at),
        "updated_at": rfc3339(order.updated_at),
    })
}

/// An order as stored, to its buyer or its merchant. To anyone else it does not exist.
pub(crate) async fn visible_order(state: &AppState, caller: Caller, id: OrderId) -> Result<Order, ApiError> {
    let order = persistence::repo::order(&state.db, id).await?;
    order
        .filter(|o| match caller {
            Caller::Buyer(buyer) => o.buyer_id == buyer,
            Caller::Merchant(merchant) => o.merchant_id == merchant,
            Caller::Operator => true,
        })
        .ok_or_else(|| ApiError::not_found("order_not_found", "no such order"))
}

#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}",
    tag = "orders",
    summary = "An order (its buyer or its merchant), with its address (masked but to its merchant while there is something to ship), shipment and tracking",
    params(("id" = i64, Path, description = "order id")),
    responses(
        (status = 200, description = "the order", example = json!({"id": 1, "flash_sale_id": 1, "quantity": 1, "amount_fen": 990, "state": "pending_payment", "shipment": null})),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
    ),
    security(("buyer" = []), ("merchant" = [])),
)]
#[get("/orders/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let order = visible_order(&state, caller, OrderId(id.into_inner())).await?;
    Ok(HttpResponse::Ok().json(crate::routes::fulfilment::order_detail(&state, &order, caller).await?))
}

/// The buyer gives up an unpaid order; its units go back on sale at once.
#[utoipa::path(
    post,
    path = "/api/v1/orders/{id}/cancel",
    tag = "orders",
    summary = "Cancel an unpaid order; its units go back on sale",
    params(("id" = i64, Path, description = "order id")),
    responses(
        (status = 200, description = "the cancelled order", example = json!({"id": 1, "state": "cancelled"})),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 409, description = "`not_cancellable`", body = ErrorBody),
        (status = 503, description = "busy (`overloaded`), with Retry-After", body = ErrorBody),
    ),
    security(("buyer" = [])),
)]
#[post("/orders/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    buyer: BuyerAuth,
    id: web::Path<i64>,
) -> Result<HttpResponse, OrderError> {
    let retry = state.admission.retry_after_secs();
    let order = visible_order(&state, Caller::Buyer(buyer.0), OrderId(id.into_inner())).await?;
    // Stored as settled: final, whatever the actor would say (and a settled sale's actor need
    // not be started for it).
    if order.state != OrderState::PendingPayment {
        return Err(OrderError::NotCancellable(order.state));
    }
    let sale =
        state.sale(order.flash_sale_id).await.map_err(|e| OrderError::Internal(e.to_string()))?.ok_or_else(
            || OrderError::Internal(format!("flash sale {} of an order is gone", order.flash_sale_id)),
        )?;
    let answer = sale.try_cancel(order.id, buyer.0).map_err(|_| OrderError::MailboxFull(retry))?;
    let answered = tokio::time::timeout(state.settings.ack_timeout(), answer)
        .await
        .map_err(|_| OrderError::NotConfirmed(retry))?
        .map_err(|_| OrderError::ShuttingDown(retry))?;
    let (change, seq) = match answered {
        Ok(done) => done,
        Err(CancelFailure::Refused(CancelError::NotPending(current))) => {
            return Err(OrderError::NotCancellable(current));
        }
        // The order exists (it was read above) but its sale no longer keeps it: it was expired
        // or cancelled since; the database says which once that change is durable.
        Err(CancelFailure::Refused(CancelError::UnknownOrder)) => {
            let _ = durable(&state, state.journal.last_appended()).await;
            let current =
                persistence::repo::order(&state.db, order.id).await?.map_or(order.state, |o| o.state);
            return Err(OrderError::NotCancellable(current));
        }
        Err(CancelFailure::Journal(e)) => return Err(OrderError::journal(e, retry)),
    };
    durable(&state, seq).await?;
    let order = Order { state: change.to, updated_at: change.at, ..order };
    Ok(HttpResponse::Ok().json(render(&order)))
}
