//! The stock actor: sole owner of one flash sale's [`FlashSale`].
//!
//! Every decision about the sale's units is made here, one message at a time, by calling the
//! engine; the actor's own job is plumbing: take a journal slot first, apply the engine's
//! decision, journal it, publish the new counters, and reply. Replies travel on a oneshot
//! channel inside the message, so callers use `try_send` (a full mailbox is an answer) rather
//! than `send` (which would wait for room).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix::prelude::*;
use dashmap::DashMap;
use engine::books::Entry;
use engine::payment::{Capture, PaidOrder};
use engine::{
    BuyerId, CancelError, ConfirmError, FlashSale, IdempotencyKey, Order, OrderId, Quantity, Receipt,
    Reservation, ReserveError, ReserveRequest, StateChange, StockCounts, Timestamp,
};
use tokio::sync::oneshot;

use crate::journal::{AppendError, Journal, JournalEvent, Seq, Slot};
use crate::{Clock, OrderIds, SaleGauge};

/// Receipts by `(buyer, idempotency key)`, mirrored from the actor for the gateway, which
/// answers replays from it without a message (and so correctly even when sold out).
pub type ReplayIndex = DashMap<(BuyerId, IdempotencyKey), Receipt>;

/// A reservation that was made or replayed, and the journal position the answer must wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub receipt: Receipt,
    pub replayed: bool,
    pub seq: Seq,
}

/// Why an order was not placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceError {
    Refused(ReserveError),
    Journal(AppendError),
}

/// Reserve units for a buyer.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct PlaceOrder {
    pub buyer_id: BuyerId,
    pub quantity: Quantity,
    pub idempotency_key: IdempotencyKey,
    pub reply: oneshot::Sender<Result<Placed, PlaceError>>,
}

/// A cancelled order's state change and the journal position to wait for.
pub type Cancelled = Result<(StateChange, Seq), CancelFailure>;

/// One buyer's request inside a [`PlaceBatch`].
#[derive(Debug, Clone)]
pub struct PlaceRequest {
    pub buyer_id: BuyerId,
    pub quantity: Quantity,
    pub idempotency_key: IdempotencyKey,
}

/// Reserve for many buyers in one message and one journal event: the per-message and
/// per-append costs are paid once per batch. Answers come back in request order.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct PlaceBatch {
    pub requests: Vec<PlaceRequest>,
    pub reply: oneshot::Sender<Vec<Result<Placed, PlaceError>>>,
}

/// The buyer gives up an unpaid order.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct CancelOrder {
    pub order_id: OrderId,
    pub buyer_id: BuyerId,
    pub reply: oneshot::Sender<Cancelled>,
}

/// Why a cancellation did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelFailure {
    Refused(CancelError),
    Journal(AppendError),
}

/// A payment for an order succeeded: its held units become sold, and the capture the
/// merchant's settlement actor prepared is journaled in the same event as the state change.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ConfirmPayment {
    pub order_id: OrderId,
    pub capture: Box<(Capture, Entry)>,
    pub reply: oneshot::Sender<Confirmed>,
}

/// The paid order's state change and the journal position to wait for.
pub type Confirmed = Result<(StateChange, Seq), ConfirmFailure>;

/// Why a payment was not applied to the order. Every `Refused` but `AlreadyPaid` means the
/// money goes back to the buyer; `seq` covers any state change the refusal made (a hold that
/// ran out is expired by the very payment that came too late).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmFailure {
    Refused { error: ConfirmError, seq: Seq },
    Journal(AppendError),
}

/// Recompute every invariant of the sale from its orders (tests and operators).
#[derive(Debug, Message)]
#[rtype(result = "(StockCounts, Result<(), String>)")]
pub struct Verify;

/// Tuning of one stock actor (its mailbox capacity is set by the registry, which creates it).
#[derive(Debug, Clone)]
pub struct StockActorSettings {
    pub expiry_tick: Duration,
    /// At most this many holds are expired per journal event.
    pub expiry_batch: usize,
}

pub struct StockActor {
    sale: FlashSale,
    gauge: Arc<SaleGauge>,
    replays: Arc<ReplayIndex>,
    depth: Arc<AtomicUsize>,
    journal: Journal,
    clock: Arc<dyn Clock>,
    ids: Arc<OrderIds>,
    settings: StockActorSettings,
}

impl StockActor {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        sale: FlashSale,
        gauge: Arc<SaleGauge>,
        replays: Arc<ReplayIndex>,
        depth: Arc<AtomicUsize>,
        journal: Journal,
        clock: Arc<dyn Clock>,
        ids: Arc<OrderIds>,
        settings: StockActorSettings,
    ) -> Self {
        Self { sale, gauge, replays, depth, journal, clock, ids, settings }
    }

    fn publish(&self) {
        self.gauge.publish(self.sale.counts());
    }

    /// One order: the gateway's path, without a batch's vectors.
    fn place_one(&mut self, request: PlaceRequest) -> Result<Placed, PlaceError> {
        let now = self.clock.now();
        let mut slot = None;
        let (receipt, order) =
            reserve_one(&mut self.sale, &self.replays, &self.ids, &self.journal, &mut slot, request, now)?;
        let Some(order) = order else {
            return Ok(Placed { receipt, replayed: true, seq: self.journal.last_appended() });
        };
        self.publish();
        let slot = slot.expect("room is taken before an order is placed");
        let seq = slot.append(JournalEvent::OrdersPlaced(vec![order])).map_err(PlaceError::Journal)?;
        Ok(Placed { receipt, replayed: false, seq })
    }

    /// Many orders in one journal event. Answers in request order.
    fn place_batch(&mut self, requests: Vec<PlaceRequest>) -> Vec<Result<Placed, PlaceError>> {
        let now = self.clock.now();
        let mut slot = None;
        let mut placed_orders = Vec::new();
        let outcomes: Vec<Result<(Receipt, bool), PlaceError>> = requests
            .into_iter()
            .map(|request| {
                let (receipt, order) = reserve_one(
                    &mut self.sale,
                    &self.replays,
                    &self.ids,
                    &self.journal,
                    &mut slot,
                    request,
                    now,
                )?;
                let replayed = order.is_none();
                placed_orders.extend(order);
                Ok((receipt, replayed))
            })
            .collect();
        // Replays and new orders alike are covered by this append's number (or, if nothing is
        // new, by the last one).
        let seq = match slot {
            Some(slot) if !placed_orders.is_empty() => {
                self.gauge.publish(self.sale.counts());
                slot.append(JournalEvent::OrdersPlaced(placed_orders))
            }
            _ => Ok(self.journal.last_appended()),
        };
        outcomes
            .into_iter()
            .map(|outcome| {
                let (receipt, replayed) = outcome?;
                let seq = seq.map_err(PlaceError::Journal)?;
                Ok(Placed { receipt, replayed, seq })
            })
            .collect()
    }

    fn confirm(&mut self, order_id: OrderId, capture: Box<(Capture, Entry)>) -> Confirmed {
        let slot = self.journal.slot().map_err(ConfirmFailure::Journal)?;
        match self.sale.confirm_payment(order_id, self.clock.now()) {
            Ok(change) => {
                self.publish();
                let (capture, entry) = *capture;
                let paid = PaidOrder { change, capture, entry };
                let seq =
                    slot.append(JournalEvent::OrderPaid(Box::new(paid))).map_err(ConfirmFailure::Journal)?;
                Ok((change, seq))
            }
            Err(error @ ConfirmError::HoldExpired(change)) => {
                self.publish();
                let seq = slot
                    .append(JournalEvent::OrdersChanged(vec![change]))
                    .map_err(ConfirmFailure::Journal)?;
                Err(ConfirmFailure::Refused { error, seq })
            }
            Err(error) => Err(ConfirmFailure::Refused { error, seq: self.journal.last_appended() }),
        }
    }

    /// Releases every hold whose deadline has passed, a bounded batch per journal event.
    fn expire_due(&mut self) {
        let now = self.clock.now();
        while self.sale.next_deadline().is_some_and(|deadline| deadline <= now) {
            // No room in the journal: leave the holds for the next tick rather than change
            // state that cannot be persisted.
            let Ok(slot) = self.journal.slot() else { return };
            let changes = self.sale.expire_due(now, self.settings.expiry_batch);
            assert!(!changes.is_empty(), "a due deadline expires something");
            self.publish();
            metrics::counter!("flashsale_holds_expired_total").increment(changes.len() as u64);
            if slot.append(JournalEvent::OrdersChanged(changes)).is_err() {
                return;
            }
        }
    }
}

/// Answers one request. A replay comes from the sale and needs no journal room (it waits for
/// everything appended so far, which includes its original); otherwise room for the
/// message's journal event is taken, once, into `slot`, before the reservation changes any
/// state. Returns the receipt and the new order, if one was placed.
fn reserve_one<'j>(
    sale: &mut FlashSale,
    replays: &ReplayIndex,
    ids: &OrderIds,
    journal: &'j Journal,
    slot: &mut Option<Slot<'j>>,
    request: PlaceRequest,
    now: Timestamp,
) -> Result<(Receipt, Option<Order>), PlaceError> {
    let replayed = sale.replay(request.buyer_id, &request.idempotency_key, request.quantity);
    if let Some(receipt) = replayed.map_err(PlaceError::Refused)? {
        return Ok((receipt, None));
    }
    if slot.is_none() {
        *slot = Some(journal.slot().map_err(PlaceError::Journal)?);
    }
    let reservation = sale.reserve(
        ReserveRequest {
            order_id: ids.next(),
            buyer_id: request.buyer_id,
            quantity: request.quantity,
            idempotency_key: request.idempotency_key,
        },
        now,
    );
    match reservation.map_err(PlaceError::Refused)? {
        Reservation::Placed(order) => {
            let receipt = order.receipt();
            replays.insert((order.buyer_id, order.idempotency_key.clone()), receipt);
            Ok((receipt, Some(order)))
        }
        Reservation::Replayed(receipt) => Ok((receipt, None)),
    }
}

impl Actor for StockActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Holds that ran out while the process was down expire on the first tick.
        ctx.run_interval(self.settings.expiry_tick, |actor, _| actor.expire_due());
        self.expire_due();
    }
}

impl Handler<PlaceOrder> for StockActor {
    type Result = ();

    fn handle(&mut self, msg: PlaceOrder, _: &mut Self::Context) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        let request = PlaceRequest {
            buyer_id: msg.buyer_id,
            quantity: msg.quantity,
            idempotency_key: msg.idempotency_key,
        };
        let outcome = self.place_one(request);
        // The caller may have given up (timeout, disconnect); the order stands either way.
        let _ = msg.reply.send(outcome);
    }
}

impl Handler<PlaceBatch> for StockActor {
    type Result = ();

    fn handle(&mut self, msg: PlaceBatch, _: &mut Self::Context) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        let outcomes = self.place_batch(msg.requests);
        let _ = msg.reply.send(outcomes);
    }
}

impl Handler<CancelOrder> for StockActor {
    type Result = ();

    fn handle(&mut self, msg: CancelOrder, _: &mut Self::Context) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        let outcome = (|| {
            let slot = self.journal.slot().map_err(CancelFailure::Journal)?;
            let change = self
                .sale
                .cancel(msg.order_id, msg.buyer_id, self.clock.now())
                .map_err(CancelFailure::Refused)?;
            self.publish();
            let seq =
                slot.append(JournalEvent::OrdersChanged(vec![change])).map_err(CancelFailure::Journal)?;
            Ok((change, seq))
        })();
        let _ = msg.reply.send(outcome);
    }
}

impl Handler<ConfirmPayment> for StockActor {
    type Result = ();

    fn handle(&mut self, msg: ConfirmPayment, _: &mut Self::Context) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        let outcome = self.confirm(msg.order_id, msg.capture);
        let _ = msg.reply.send(outcome);
    }
}

impl Handler<Verify> for StockActor {
    type Result = MessageResult<Verify>;

    fn handle(&mut self, _: Verify, _: &mut Self::Context) -> Self::Result {
        MessageResult((self.sale.counts(), self.sale.verify()))
    }
}

#[cfg(test)]
mod tests;
