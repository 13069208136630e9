//! The stock actor: sole owner of one flash sale's [`FlashSale`].
//!
//! Every decision about the sale's units is made here, one message at a time, by calling the
//! engine; the actor's own job is plumbing: take a journal slot first, apply the engine's
//! decision, journal it, publish the new counters, and reply. Replies travel on a oneshot
//! channel inside the message, so callers use `try_send` (a full mailbox is an answer) rather
//! than `send` (which would wait for room).
//!
//! Time: one timer at the earliest hold deadline, none while nothing is held; the clock read
//! is the injected [`Clock`], so a test that moves a manual clock sends [`Tick`] instead of
//! waiting. A sale that has ended with every hold settled can no longer change: its actor
//! leaves the registry once all it journaled is durable, and stops when the last handle to it
//! is dropped (so a message already sent is still answered). See `registry.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix::prelude::*;
use engine::books::Entry;
use engine::payment::{Capture, PaidOrder};
use engine::{
    BuyerId, CancelError, ClientNetwork, ConfirmError, Door, DoorError, DoorOrder, DoorOutcome, FlashSale,
    IdempotencyKey, Order, OrderId, Quantity, Receipt, RefundId, Reservation, ReserveError, ReserveRequest,
    RestockError, Restocked, Slice, StateChange, StockCounts, Timestamp,
};
use tokio::sync::oneshot;

use crate::holds::{CapReached, UnpaidHolds};
use crate::journal::{AppendError, DoorEvent, Journal, JournalEvent, Seq, Slot};
use crate::ordered::OrderedBuyers;
use crate::registry::Membership;
use crate::{Clock, OrderIds, SaleGauge};

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
    /// The buyer, or its network, already has as many unpaid orders as allowed (all sales).
    TooManyUnpaid(CapReached),
    Journal(AppendError),
    /// An operator holds the sale back (the merchant's ban, a takedown).
    Suspended,
}

impl From<ReserveError> for PlaceError {
    fn from(refusal: ReserveError) -> Self {
        Self::Refused(refusal)
    }
}

/// Reserve units for a buyer.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct PlaceOrder {
    pub request: PlaceRequest,
    pub reply: oneshot::Sender<Result<Placed, PlaceError>>,
}

/// A cancelled order's state change and the journal position to wait for.
pub type Cancelled = Result<(StateChange, Seq), CancelFailure>;

/// One buyer's request.
#[derive(Debug, Clone)]
pub struct PlaceRequest {
    pub buyer_id: BuyerId,
    pub quantity: Quantity,
    pub idempotency_key: IdempotencyKey,
    pub client_network: Option<ClientNetwork>,
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

/// A merchant approved a refund and put its units back on sale: sold becomes available, once
/// per refund however often it is asked.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RestockRefund {
    pub refund_id: RefundId,
    pub order_id: OrderId,
    pub units: u32,
    pub reply: oneshot::Sender<Result<Seq, RestockFailure>>,
}

/// Why refunded units did not go back on sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestockFailure {
    Refused(RestockError),
    Journal(AppendError),
}

/// Why a door change did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoorFailure {
    Refused(DoorError),
    Journal(AppendError),
}

/// A door's slice after a change, and the journal position to wait for before telling the
/// platform (or answering it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorChanged {
    pub slice: Slice,
    /// Units leased by a [`Lease`] (0 for the other messages).
    pub granted: u32,
    /// The platform order as now recorded, when a [`RecordDoorOrder`] changed it.
    pub order: Option<DoorOrder>,
    pub counts: StockCounts,
    pub seq: Seq,
}

/// Lease up to `wanted` free units to a live platform's slice.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Lease {
    pub door: Door,
    pub wanted: u32,
    pub reply: oneshot::Sender<Result<DoorChanged, DoorFailure>>,
}

/// Take units back from a platform's slice: only after its stock was lowered by as many.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Unlease {
    pub door: Door,
    pub units: u32,
    pub reply: oneshot::Sender<Result<DoorChanged, DoorFailure>>,
}

/// A platform order as the platform reports it now: recorded, or moved (paid, cancelled,
/// refunded); a repeat changes nothing and needs no journal room.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RecordDoorOrder {
    pub order: DoorOrder,
    pub reply: oneshot::Sender<Result<DoorChanged, DoorFailure>>,
}

/// A door's slice and the sale's counts, without changing anything.
#[derive(Debug, Message)]
#[rtype(result = "(Slice, StockCounts)")]
pub struct ReadSlice(pub Door);

/// Recompute every invariant of the sale from its orders (tests and operators).
#[derive(Debug, Message)]
#[rtype(result = "(StockCounts, Result<(), String>)")]
pub struct Verify;

/// Look at the clock now: expire the holds that are due, and leave if the sale is settled.
/// The registry's sweep sends it to ended sales; tests send it after moving a manual clock.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Tick;

/// Holds the sale back (`suspended`) or gives it back. Every order the actor takes after this
/// message is refused while held back; with `release_holds`, the unpaid orders are cancelled
/// at once (units back, journaled). Answers the journal position that covers everything the
/// actor appended so far: once durable, no order it accepted before is left unsaved.
#[derive(Debug, Message)]
#[rtype(result = "Seq")]
pub struct Suspend {
    pub suspended: bool,
    pub release_holds: bool,
}

/// Tuning of one stock actor (its mailbox capacity is set by the registry, which creates it).
#[derive(Debug, Clone)]
pub struct StockActorSettings {
    /// When holds are due but the journal is full, look again after this long.
    pub expiry_retry: Duration,
    /// At most this many holds are expired per journal event (and per turn of the actor).
    pub expiry_batch: usize,
}

/// The longest a timer is set for; a deadline further away is reached in several waits. Far
/// below the limits of the timer wheel, far above any payment window.
const LONGEST_WAIT: Duration = Duration::from_secs(7 * 86_400);

/// What a stock actor shares with the others: what it needs from its registry.
pub(crate) struct Shared {
    pub journal: Journal,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<OrderIds>,
    pub holds: Arc<UnpaidHolds>,
    pub settings: StockActorSettings,
}

pub struct StockActor {
    sale: FlashSale,
    gauge: Arc<SaleGauge>,
    ordered: Arc<OrderedBuyers>,
    depth: Arc<AtomicUsize>,
    journal: Journal,
    clock: Arc<dyn Clock>,
    ids: Arc<OrderIds>,
    holds: Arc<UnpaidHolds>,
    settings: StockActorSettings,
    membership: Membership,
    /// The one timer, armed while something is held (at the earliest deadline).
    timer: Option<SpawnHandle>,
    /// The sale is settled and the actor is on its way out of the registry.
    leaving: bool,
}

impl StockActor {
    pub(crate) fn new(
        sale: FlashSale,
        gauge: Arc<SaleGauge>,
        ordered: Arc<OrderedBuyers>,
        depth: Arc<AtomicUsize>,
        shared: Shared,
        membership: Membership,
    ) -> Self {
        let Shared { journal, clock, ids, holds, settings } = shared;
        Self {
            sale,
            gauge,
            ordered,
            depth,
            journal,
            clock,
            ids,
            holds,
            settings,
            membership,
            timer: None,
            leaving: false,
        }
    }

    fn publish(&self) {
        self.gauge.publish(self.sale.counts());
    }

    /// One order: the gateway's path, without a batch's vectors.
    fn place_one(&mut self, request: PlaceRequest) -> Result<Placed, PlaceError> {
        let now = self.clock.now();
        let suspended = self.gauge.is_suspended();
        let mut slot = None;
        let (receipt, order) = reserve_one(
            &mut self.sale,
            &self.ordered,
            &self.ids,
            &self.holds,
            &self.journal,
            &mut slot,
            request,
            now,
            suspended,
        )?;
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
        let suspended = self.gauge.is_suspended();
        let mut slot = None;
        let mut placed_orders = Vec::new();
        let outcomes: Vec<Result<(Receipt, bool), PlaceError>> = requests
            .into_iter()
            .map(|request| {
                let (receipt, order) = reserve_one(
                    &mut self.sale,
                    &self.ordered,
                    &self.ids,
                    &self.holds,
                    &self.journal,
                    &mut slot,
                    request,
                    now,
                    suspended,
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
        let holder = self.sale.order(order_id).map(|o| (o.buyer_id, o.client_network));
        let outcome = self.sale.confirm_payment(order_id, self.clock.now());
        if let (Ok(_) | Err(ConfirmError::HoldExpired(_)), Some((buyer, network))) = (&outcome, holder) {
            self.holds.give_back(buyer, network);
        }
        match outcome {
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

    /// One door change: room in the journal first, then the engine, then the event.
    fn door(
        &mut self,
        door: Door,
        change: impl FnOnce(&mut FlashSale) -> Result<(u32, Option<DoorOutcome>), DoorError>,
    ) -> Result<DoorChanged, DoorFailure> {
        let slot = self.journal.slot().map_err(DoorFailure::Journal)?;
        let (granted, outcome) = change(&mut self.sale).map_err(DoorFailure::Refused)?;
        let slice = self.sale.slice(door);
        let counts = self.sale.counts();
        let order = match outcome {
            Some(DoorOutcome::Unchanged) => {
                return Ok(DoorChanged {
                    slice,
                    granted,
                    order: None,
                    counts,
                    seq: self.journal.last_appended(),
                });
            }
            Some(DoorOutcome::Changed(order)) => Some(order),
            None => None,
        };
        self.publish();
        let event = DoorEvent {
            flash_sale_id: self.sale.terms().id,
            door,
            slice,
            granted,
            order: order.clone(),
            at: self.clock.now(),
        };
        let seq = slot.append(JournalEvent::Doors(vec![event])).map_err(DoorFailure::Journal)?;
        Ok(DoorChanged { slice, granted, order, counts, seq })
    }

    /// Holds the sale back or gives it back; with `release_holds`, cancels every unpaid order
    /// in one journal event.
    fn suspend(&mut self, suspended: bool, release_holds: bool) -> Seq {
        self.gauge.set_suspended(suspended);
        if !release_holds {
            return self.journal.last_appended();
        }
        let pending: Vec<(OrderId, BuyerId, Option<ClientNetwork>)> =
            self.sale.pending_orders().map(|o| (o.id, o.buyer_id, o.client_network)).collect();
        if pending.is_empty() {
            return self.journal.last_appended();
        }
        let Ok(slot) = self.journal.slot() else {
            // Shutting down or full: the holds stay and expire as usual.
            return self.journal.last_appended();
        };
        let now = self.clock.now();
        let mut changes = Vec::new();
        for (order_id, buyer_id, network) in pending {
            if let Ok(change) = self.sale.cancel(order_id, buyer_id, now) {
                self.holds.give_back(buyer_id, network);
                changes.push(change);
            }
        }
        self.publish();
        slot.append(JournalEvent::OrdersChanged(changes)).unwrap_or_else(|_| self.journal.last_appended())
    }

    fn cancel(&mut self, order_id: OrderId, buyer_id: BuyerId) -> Cancelled {
        let slot = self.journal.slot().map_err(CancelFailure::Journal)?;
        let network = self.sale.order(order_id).and_then(|o| o.client_network);
        let change =
            self.sale.cancel(order_id, buyer_id, self.clock.now()).map_err(CancelFailure::Refused)?;
        self.holds.give_back(buyer_id, network);
        self.publish();
        let seq = slot.append(JournalEvent::OrdersChanged(vec![change])).map_err(CancelFailure::Journal)?;
        Ok((change, seq))
    }

    /// Puts a refund's units back on sale and journals it; a refund seen before changes
    /// nothing and answers the last position appended (its event is at or before it).
    fn restock(&mut self, msg: &RestockRefund) -> Result<Seq, RestockFailure> {
        let slot = self.journal.slot().map_err(RestockFailure::Journal)?;
        match self.sale.restock(msg.refund_id, msg.order_id, msg.units).map_err(RestockFailure::Refused)? {
            Restocked::AlreadyDone => Ok(self.journal.last_appended()),
            Restocked::Done => {
                self.publish();
                let event = JournalEvent::Restocked {
                    refund_id: msg.refund_id,
                    order_id: msg.order_id,
                    units: msg.units,
                    at: self.clock.now(),
                };
                slot.append(event).map_err(RestockFailure::Journal)
            }
        }
    }

    /// Releases the holds whose deadline has passed: one bounded batch, one journal event. If
    /// more are due, the timer is set to run again at once, after the messages waiting.
    fn expire_due(&mut self, ctx: &mut Context<Self>) {
        let now = self.clock.now();
        if self.sale.next_deadline().is_some_and(|deadline| deadline <= now) {
            let Ok(slot) = self.journal.slot() else {
                // No room in the journal: leave the holds for a little later rather than change
                // state that cannot be persisted.
                self.arm(ctx, self.settings.expiry_retry);
                return;
            };
            let released = self.sale.expire_due(now, self.settings.expiry_batch);
            assert!(!released.is_empty(), "a due deadline expires something");
            for release in &released {
                self.holds.give_back(release.buyer_id, release.client_network);
            }
            metrics::counter!("flashsale_holds_expired_total").increment(released.len() as u64);
            let changes = released.into_iter().map(|r| r.change).collect();
            // Closed means shutting down: nothing more will be persisted anyway.
            let _ = slot.append(JournalEvent::OrdersChanged(changes));
        }
        self.settle(ctx);
    }

    /// After every change: publish the counters, then either leave (the sale is settled) or
    /// keep exactly one timer while something is held, at the earliest deadline.
    fn settle(&mut self, ctx: &mut Context<Self>) {
        self.publish();
        let now = self.clock.now();
        if self.sale.is_settled(now) {
            self.disarm(ctx);
            self.leave(ctx);
            return;
        }
        match self.sale.next_deadline() {
            None => self.disarm(ctx),
            Some(_) if self.timer.is_some() => {}
            Some(deadline) => {
                let wait = u64::try_from(deadline.as_millis().saturating_sub(now.as_millis())).unwrap_or(0);
                self.arm(ctx, Duration::from_millis(wait).min(LONGEST_WAIT));
            }
        }
    }

    fn arm(&mut self, ctx: &mut Context<Self>, after: Duration) {
        self.disarm(ctx);
        self.membership.stats.timers.fetch_add(1, Ordering::Relaxed);
        self.timer = Some(ctx.run_later(after, |actor, ctx| {
            actor.timer = None;
            actor.membership.stats.timers.fetch_sub(1, Ordering::Relaxed);
            actor.expire_due(ctx);
        }));
    }

    fn disarm(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
            self.membership.stats.timers.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The sale can no longer change: leave the registry once everything this actor journaled
    /// is durable, so that whoever finds no actor may read the sale from the database.
    fn leave(&mut self, ctx: &mut Context<Self>) {
        if self.leaving {
            return;
        }
        self.leaving = true;
        let journal = self.journal.clone();
        let seq = journal.last_appended();
        let durable = async move { journal.wait_durable(seq).await };
        ctx.spawn(durable.into_actor(self).map(|durable, actor, _| {
            // Not durable means the writer is gone (shutdown): stay, the registry is cleared.
            if durable.is_ok() {
                actor.membership.leave(actor.sale.terms().id);
                tracing::debug!(flash_sale_id = %actor.sale.terms().id, "settled sale left the registry");
            }
        }));
    }
}

/// Answers one request. A replay comes from the sale and needs no journal room (it waits for
/// everything appended so far, which includes its original); otherwise room for the
/// message's journal event is taken, once, into `slot`, before the reservation changes any
/// state. Returns the receipt and the new order, if one was placed.
#[allow(clippy::too_many_arguments)]
fn reserve_one<'j>(
    sale: &mut FlashSale,
    ordered: &OrderedBuyers,
    ids: &OrderIds,
    holds: &UnpaidHolds,
    journal: &'j Journal,
    slot: &mut Option<Slot<'j>>,
    request: PlaceRequest,
    now: Timestamp,
    suspended: bool,
) -> Result<(Receipt, Option<Order>), PlaceError> {
    let PlaceRequest { buyer_id, quantity, idempotency_key, client_network } = request;
    // Whether this request holds a count of the buyer's unpaid orders, to give back if no
    // order is placed.
    let mut counted = false;
    let admit = || {
        if suspended {
            return Err(PlaceError::Suspended);
        }
        if slot.is_none() {
            *slot = Some(journal.slot().map_err(PlaceError::Journal)?);
        }
        // The count is taken before the order exists and given back if none is placed, so
        // that concurrent orders of one buyer in many sales can never pass the cap together.
        holds.try_take(buyer_id, client_network).map_err(PlaceError::TooManyUnpaid)?;
        counted = true;
        Ok(())
    };
    let request =
        ReserveRequest { order_id: ids.next(), buyer_id, quantity, idempotency_key, client_network };
    match sale.reserve_admitted(request, now, admit) {
        Ok(Reservation::Placed(order)) => {
            let receipt = order.receipt();
            ordered.insert(order.buyer_id);
            Ok((receipt, Some(order)))
        }
        Ok(Reservation::Replayed(receipt)) => Ok((receipt, None)),
        Err(refusal) => {
            if counted {
                holds.give_back(buyer_id, client_network);
            }
            Err(refusal)
        }
    }
}

impl Actor for StockActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Holds that ran out while the process was down expire now; a sale that was already
        // settled (started on demand for a late payment) leaves again.
        self.expire_due(ctx);
    }
}

impl Drop for StockActor {
    fn drop(&mut self) {
        let stats = &self.membership.stats;
        if self.timer.is_some() {
            stats.timers.fetch_sub(1, Ordering::Relaxed);
        }
        stats.actors.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Handler<PlaceOrder> for StockActor {
    type Result = ();

    fn handle(&mut self, msg: PlaceOrder, ctx: &mut Self::Context) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        let outcome = self.place_one(msg.request);
        if matches!(outcome, Ok(Placed { replayed: false, .. })) {
            self.settle(ctx);
        }
        // The caller may have given up (timeout, disconnect); the order stands either way.
        let _ = msg.reply.send(outcome);
    }
}

impl Handler<PlaceBatch> for StockActor {
    type Result = ();

    fn handle(&mut self, msg: PlaceBatch, ctx: &mut Self::Context) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        let outcomes = self.place_batch(msg.requests);
        self.settle(ctx);
        let _ = msg.reply.send(outcomes);
    }
}

impl Handler<CancelOrder> for StockActor {
    type Result = ();

    fn handle(&mut self, msg: CancelOrder, ctx: &mut Self::Context) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        let outcome = self.cancel(msg.order_id, msg.buyer_id);
        self.settle(ctx);
        let _ = msg.reply.send(outcome);
    }
}

impl Handler<RestockRefund> for StockActor {
    type Result = ();

    fn handle(&mut self, msg: RestockRefund, ctx: &mut Self::Context) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        let outcome = self.restock(&msg);
        self.settle(ctx);
        let _ = msg.reply.send(outcome);
    }
}

impl Handler<ConfirmPayment> for StockActor {
    type Result = ();

    fn handle(&mut self, msg: ConfirmPayment, ctx: &mut Self::Context) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        let outcome = self.confirm(msg.order_id, msg.capture);
        self.settle(ctx);
        let _ = msg.reply.send(outcome);
    }
}

impl Handler<Suspend> for StockActor {
    type Result = MessageResult<Suspend>;

    fn handle(&mut self, msg: Suspend, ctx: &mut Self::Context) -> Self::Result {
        let seq = self.suspend(msg.suspended, msg.release_holds);
        self.settle(ctx);
        MessageResult(seq)
    }
}

impl Handler<Tick> for StockActor {
    type Result = ();

    fn handle(&mut self, _: Tick, ctx: &mut Self::Context) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        self.expire_due(ctx);
    }
}

impl Handler<Lease> for StockActor {
    type Result = ();

    fn handle(&mut self, msg: Lease, ctx: &mut Self::Context) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        // Nothing free, nothing leased: nothing to journal.
        let outcome = self.door(msg.door, |sale| {
            let (granted, _) = sale.lease(msg.door, msg.wanted);
            Ok((granted, (granted == 0).then_some(DoorOutcome::Unchanged)))
        });
        self.settle(ctx);
        let _ = msg.reply.send(outcome);
    }
}

impl Handler<Unlease> for StockActor {
    type Result = ();

    fn handle(&mut self, msg: Unlease, ctx: &mut Self::Context) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        let outcome = self.door(msg.door, |sale| sale.unlease(msg.door, msg.units).map(|()| (0, None)));
        self.settle(ctx);
        let _ = msg.reply.send(outcome);
    }
}

impl Handler<RecordDoorOrder> for StockActor {
    type Result = ();

    fn handle(&mut self, msg: RecordDoorOrder, ctx: &mut Self::Context) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        let door = msg.order.door;
        let outcome = self.door(door, |sale| sale.record_door_order(msg.order).map(|o| (0, Some(o))));
        self.settle(ctx);
        let _ = msg.reply.send(outcome);
    }
}

impl Handler<ReadSlice> for StockActor {
    type Result = MessageResult<ReadSlice>;

    fn handle(&mut self, msg: ReadSlice, _: &mut Self::Context) -> Self::Result {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        MessageResult((self.sale.slice(msg.0), self.sale.counts()))
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
