//! Orders: the flash-sale hot path, and reading or cancelling an order.
//!
//! Placing an order, cheapest refusal first:
//! 1. parse (typed ids, `Idempotency-Key`, quantity) and authenticate: no shared state;
//! 2. per-buyer token bucket;
//! 3. a replay of a known key is answered from the sale's replay index (after durability);
//! 4. `SaleTerms::admits` (the engine's window and per-buyer checks), the sold-out flag and
//!    the caps on unpaid orders per buyer and per network, read without a message;
//! 5. only then a message to the sale's stock actor (`try_send`: a full mailbox is a 503),
//!    which makes every check again, exactly;
//! 6. the 201 goes out once the journal batch holding the order is committed.
//!
//! A settled sale (ended, nothing held) has no actor: its orders are answered from the
//! database (a replay of a key, else `ended`) without starting one.

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actors::journal::AppendError;
use actors::{CancelFailure, CapReached, PlaceError, SaleHandle};
use engine::{
    BuyerId, CancelError, FlashSaleId, IdempotencyKey, Order, OrderId, OrderState, Quantity, Receipt,
    ReserveError,
};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::{BuyerAuth, Caller};
use crate::error::ApiError;
use crate::time::rfc3339;

#[derive(Deserialize)]
pub struct PlaceOrderBody {
    quantity: i64,
}

/// Everything that can keep an order from being placed, each with its stable `code`.
#[derive(Debug)]
enum OrderError {
    Refused(ReserveError),
    TooManyUnpaid(CapReached),
    Journal(AppendError),
    MailboxFull,
    Timeout,
}

impl OrderError {
    fn into_api(self, retry_after: u32) -> ApiError {
        use actix_web::http::StatusCode;
        match self {
            OrderError::Refused(refusal) => {
                let message = refusal.to_string();
                match refusal {
                    ReserveError::SoldOut => ApiError::conflict("sold_out", message),
                    ReserveError::InsufficientStock { .. } => {
                        ApiError::conflict("insufficient_stock", message)
                    }
                    ReserveError::NotStarted { .. } => ApiError::conflict("not_started", message),
                    ReserveError::Ended => ApiError::conflict("ended", message),
                    ReserveError::LimitExceeded { .. } | ReserveError::OverLimit { .. } => {
                        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "limit_exceeded", message)
                    }
                    ReserveError::KeyReused => ApiError::invalid("idempotency_key_reused", message),
                    ReserveError::TooManyOrders { .. } => {
                        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_orders", message)
                    }
                }
            }
            OrderError::TooManyUnpaid(cap) => {
                let message = match cap {
                    CapReached::Buyer { max } => {
                        format!("you already have {max} unpaid orders; pay or cancel one first")
                    }
                    CapReached::Network { max } => {
                        format!(
                            "{max} orders from your network are unpaid; retry once one is paid or expires"
                        )
                    }
                };
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_unpaid_orders", message)
            }
            OrderError::Journal(AppendError::Full) => ApiError::unavailable(
                "journal_full",
                "orders are arriving faster than they are saved, retry shortly",
                retry_after,
            ),
            OrderError::Journal(AppendError::Closed) => {
                ApiError::unavailable("shutting_down", "the server is shutting down", retry_after)
            }
            OrderError::MailboxFull => ApiError::unavailable(
                "overloaded",
                "this flash sale is at capacity, retry shortly",
                retry_after,
            ),
            OrderError::Timeout => ApiError::unavailable(
                "not_confirmed",
                "the order could not be confirmed in time; retry with the same Idempotency-Key to learn its fate",
                retry_after,
            ),
        }
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

fn reject(reason: &'static str) {
    metrics::counter!("flashsale_orders_rejected_total", "reason" => reason).increment(1);
}

#[post("/flash-sales/{id}/orders")]
pub async fn place_order(
    state: web::Data<AppState>,
    sale_id: web::Path<i64>,
    buyer: BuyerAuth,
    request: HttpRequest,
    body: web::Json<PlaceOrderBody>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let retry_after = state.admission.retry_after_secs();
    let outcome = place(&state, FlashSaleId(*sale_id), buyer, &request, body.quantity).await;
    match outcome {
        Ok(Ok(receipt)) => {
            metrics::counter!("flashsale_orders_accepted_total").increment(1);
            metrics::histogram!("flashsale_order_seconds").record(started.elapsed().as_secs_f64());
            Ok(created(&receipt))
        }
        Ok(Err(error)) => {
            let api = error.into_api(retry_after);
            reject(api.code);
            Err(api)
        }
        Err(api) => {
            reject(api.code);
            Err(api)
        }
    }
}

/// `Err` for bad requests, `Ok(Err)` for well-formed orders that were refused.
async fn place(
    state: &AppState,
    sale_id: FlashSaleId,
    BuyerAuth(buyer_id): BuyerAuth,
    request: &HttpRequest,
    raw_quantity: i64,
) -> Result<Result<Receipt, OrderError>, ApiError> {
    let key = idempotency_key(request.headers())?;
    let quantity =
        Quantity::parse(raw_quantity).map_err(|e| ApiError::invalid("invalid_quantity", e.to_string()))?;
    state.admission.check_buyer(buyer_id)?;
    let sale = match state.registry.get(sale_id) {
        Some(running) => running,
        None => match without_actor(state, sale_id, buyer_id, &key, quantity).await? {
            Ok(started) => started,
            Err(answer) => return Ok(answer),
        },
    };
    let ack_timeout = state.settings.ack_timeout();

    if let Some(replay) = sale.replay(buyer_id, &key, quantity) {
        let receipt = match replay {
            Ok(receipt) => receipt,
            Err(refusal) => return Ok(Err(OrderError::Refused(refusal))),
        };
        // The original may still be in flight to the disk: wait for everything before now.
        let seq = state.journal.last_appended();
        return Ok(match tokio::time::timeout(ack_timeout, state.journal.wait_durable(seq)).await {
            Ok(Ok(())) => Ok(receipt),
            Ok(Err(closed)) => Err(OrderError::Journal(closed)),
            Err(_) => Err(OrderError::Timeout),
        });
    }

    // The engine's own first checks, then the sold-out flag: everything that can be refused
    // without asking the actor, in the order the actor would refuse it.
    if let Err(refusal) = sale.terms.admits(quantity, state.clock.now()) {
        return Ok(Err(OrderError::Refused(refusal)));
    }
    if sale.gauge.is_sold_out() {
        return Ok(Err(OrderError::Refused(ReserveError::SoldOut)));
    }
    let network = state.admission.client_network(request);
    if let Some(cap) = state.registry.holds().would_refuse(buyer_id, network) {
        return Ok(Err(OrderError::TooManyUnpaid(cap)));
    }

    let reserved_at = Instant::now();
    let Ok(answer) = sale.try_place(buyer_id, quantity, key, network) else {
        return Ok(Err(OrderError::MailboxFull));
    };
    let placed = match tokio::time::timeout(ack_timeout, answer).await {
        Ok(Ok(Ok(placed))) => placed,
        Ok(Ok(Err(PlaceError::Refused(refusal)))) => return Ok(Err(OrderError::Refused(refusal))),
        Ok(Ok(Err(PlaceError::TooManyUnpaid(cap)))) => return Ok(Err(OrderError::TooManyUnpaid(cap))),
        Ok(Ok(Err(PlaceError::Journal(e)))) => return Ok(Err(OrderError::Journal(e))),
        // The actor dropped the reply: it stopped (shutdown).
        Ok(Err(_)) => return Ok(Err(OrderError::Journal(AppendError::Closed))),
        Err(_) => return Ok(Err(OrderError::Timeout)),
    };
    metrics::histogram!("flashsale_reservation_seconds").record(reserved_at.elapsed().as_secs_f64());
    Ok(match tokio::time::timeout(ack_timeout, state.journal.wait_durable(placed.seq)).await {
        Ok(Ok(())) => Ok(placed.receipt),
        Ok(Err(closed)) => Err(OrderError::Journal(closed)),
        Err(_) => Err(OrderError::Timeout),
    })
}

/// The answer to an order for a sale without an actor, or the actor to ask after all.
type WithoutActor = Result<Arc<SaleHandle>, Result<Receipt, OrderError>>;

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
) -> Result<WithoutActor, ApiError> {
    let terms = persistence::repo::flash_sale(&state.db, sale_id)
        .await?
        .ok_or_else(|| ApiError::not_found("flash_sale_not_found", "no such flash sale"))?;
    if state.clock.now() < terms.ends_at {
        tracing::warn!(flash_sale_id = %sale_id, "an open flash sale had no stock actor; starting it");
        let started = state.sale(sale_id).await.map_err(ApiError::internal)?;
        return started
            .map(Ok)
            .ok_or_else(|| ApiError::not_found("flash_sale_not_found", "no such flash sale"));
    }
    let stored = persistence::repo::order_by_key(&state.db, sale_id, buyer_id, key).await?;
    Ok(Err(match stored {
        Some(order) if order.quantity == quantity.get() => Ok(order.receipt()),
        Some(_) => Err(OrderError::Refused(ReserveError::KeyReused)),
        None => Err(OrderError::Refused(ReserveError::Ended)),
    }))
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

#[get("/orders/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let order = visible_order(&state, caller, OrderId(id.into_inner())).await?;
    Ok(HttpResponse::Ok().json(render(&order)))
}

/// The buyer gives up an unpaid order; its units go back on sale at once.
#[post("/orders/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    buyer: BuyerAuth,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let retry_after = state.admission.retry_after_secs();
    let order = visible_order(&state, Caller::Buyer(buyer.0), OrderId(id.into_inner())).await?;
    let not_cancellable = |current: OrderState| {
        ApiError::conflict(
            "not_cancellable",
            format!("the order is {} and can no longer be cancelled", current.as_str()),
        )
    };
    // Stored as settled: final, whatever the actor would say (and a settled sale's actor need
    // not be started for it).
    if order.state != OrderState::PendingPayment {
        return Err(not_cancellable(order.state));
    }
    let sale = state.sale(order.flash_sale_id).await.map_err(ApiError::internal)?.ok_or_else(|| {
        ApiError::internal(format!("flash sale {} of an order is gone", order.flash_sale_id))
    })?;
    let answer =
        sale.try_cancel(order.id, buyer.0).map_err(|_| OrderError::MailboxFull.into_api(retry_after))?;
    let timeout = state.settings.ack_timeout();
    let (change, seq) = match tokio::time::timeout(timeout, answer).await {
        Ok(Ok(Ok(done))) => done,
        Ok(Ok(Err(CancelFailure::Refused(CancelError::NotPending(current))))) => {
            return Err(not_cancellable(current));
        }
        // The order exists (it was read above) but its sale no longer keeps it: it was expired
        // or cancelled since; the database says which once that change is durable.
        Ok(Ok(Err(CancelFailure::Refused(CancelError::UnknownOrder)))) => {
            let _ = tokio::time::timeout(timeout, state.journal.wait_durable(state.journal.last_appended()))
                .await;
            let current =
                persistence::repo::order(&state.db, order.id).await?.map_or(order.state, |o| o.state);
            return Err(not_cancellable(current));
        }
        Ok(Ok(Err(CancelFailure::Journal(e)))) => return Err(OrderError::Journal(e).into_api(retry_after)),
        Ok(Err(_)) => return Err(OrderError::Journal(AppendError::Closed).into_api(retry_after)),
        Err(_) => return Err(OrderError::Timeout.into_api(retry_after)),
    };
    match tokio::time::timeout(timeout, state.journal.wait_durable(seq)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(OrderError::Journal(e).into_api(retry_after)),
        Err(_) => return Err(OrderError::Timeout.into_api(retry_after)),
    }
    let order = Order { state: change.to, updated_at: change.at, ..order };
    Ok(HttpResponse::Ok().json(render(&order)))
}
