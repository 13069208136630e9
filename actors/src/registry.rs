//! Finds or starts the stock actor of a flash sale.
//!
//! Actors run on a small pool of dedicated arbiters (threads), apart from the HTTP workers, so
//! that a hot sale's reservations never wait behind request parsing.
//!
//! Lifecycle: a sale's actor is started at boot if the sale can still change, when the sale is
//! created, or on demand. It leaves the registry by itself once the sale is settled (ended,
//! nothing held) and all it journaled is durable; it then stops when the last
//! [`SaleHandle`] to it is dropped, after answering whatever was sent through one. So a sale
//! with no actor in the registry is settled in the database, and a second actor started for it
//! on demand while the first is draining can only give the same answers (nothing about a
//! settled sale changes). At most one actor per sale is ever *registered*: a start spawns its
//! actor under the map's entry lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use actix::prelude::*;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry as MapEntry;
use engine::books::Entry;
use engine::payment::Capture;
use engine::{
    BuyerId, ClientNetwork, FlashSale, FlashSaleId, IdempotencyKey, Order, OrderId, Quantity, RestoreError,
    SaleTerms,
};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::holds::{HoldCaps, UnpaidHolds};
use crate::ordered::OrderedBuyers;
use crate::stock::{
    CancelOrder, Cancelled, ConfirmPayment, Confirmed, DoorChanged, DoorFailure, Lease, PlaceBatch,
    PlaceError, PlaceOrder, PlaceRequest, Placed, ReadSlice, RecordDoorOrder, Shared, StockActor,
    StockActorSettings, Tick, Unlease,
};
use crate::{Clock, Journal, OrderIds, SaleGauge};

/// Tuning of the actor system, from configuration.
#[derive(Debug, Clone)]
pub struct ActorSettings {
    /// Dedicated threads the stock actors are spread over.
    pub arbiters: usize,
    pub mailbox_capacity: usize,
    /// When holds are due but the journal is full, look again after this long.
    pub expiry_retry: Duration,
    pub expiry_batch: usize,
}

/// Live counts of what the stock actors hold on to, for metrics and tests.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Actors alive, registered or draining.
    pub actors: AtomicUsize,
    /// Expiry timers armed (at most one per actor).
    pub timers: AtomicUsize,
}

type Sales = DashMap<FlashSaleId, Arc<SaleHandle>>;

/// An actor's place in the registry: enough to take itself out, and nobody else.
pub(crate) struct Membership {
    sales: Arc<Sales>,
    generation: u64,
    pub stats: Arc<Stats>,
}

impl Membership {
    pub fn leave(&self, id: FlashSaleId) {
        self.sales.remove_if(&id, |_, handle| handle.generation == self.generation);
    }
}

/// The mailbox is full: the caller must shed load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxFull;

/// Everything the gateway needs of a running sale. Cheap to clone.
#[derive(Clone)]
pub struct SaleHandle {
    addr: Addr<StockActor>,
    /// Which start of the sale this is: an actor only ever removes its own entry.
    generation: u64,
    pub terms: Arc<SaleTerms>,
    pub gauge: Arc<SaleGauge>,
    ordered: Arc<OrderedBuyers>,
    depth: Arc<AtomicUsize>,
}

impl SaleHandle {
    /// False only if `buyer_id` has never ordered in this sale: then a refusal the gateway
    /// reads from the terms, the gauge or the caps is the actor's answer too. Otherwise only
    /// the actor knows whether this is a replay (see [`OrderedBuyers`]).
    pub fn may_have_ordered(&self, buyer_id: BuyerId) -> bool {
        self.ordered.may_contain(buyer_id)
    }

    /// Asks the actor to reserve; the answer comes on the returned channel.
    pub fn try_place(
        &self,
        buyer_id: BuyerId,
        quantity: Quantity,
        idempotency_key: IdempotencyKey,
        client_network: Option<ClientNetwork>,
    ) -> Result<oneshot::Receiver<Result<Placed, PlaceError>>, MailboxFull> {
        let (reply, answer) = oneshot::channel();
        let request = PlaceRequest { buyer_id, quantity, idempotency_key, client_network };
        self.try_send(PlaceOrder { request, reply })?;
        Ok(answer)
    }

    /// Holds the sale back or gives it back (see [`crate::stock::Suspend`]). Waits for room in
    /// a full mailbox rather than failing: an operator's decision is not load to shed. `None`
    /// if the actor is gone (shutdown).
    pub async fn suspend(&self, suspended: bool, release_holds: bool) -> Option<crate::Seq> {
        self.addr.send(crate::stock::Suspend { suspended, release_holds }).await.ok()
    }

    /// Asks the actor to look at the clock (expire what is due, leave if settled).
    pub fn tick(&self) -> Result<(), MailboxFull> {
        self.try_send(Tick)
    }

    /// Asks the actor to reserve for many buyers at once; answers in request order.
    pub fn try_place_batch(
        &self,
        requests: Vec<PlaceRequest>,
    ) -> Result<oneshot::Receiver<Vec<Result<Placed, PlaceError>>>, MailboxFull> {
        let (reply, answer) = oneshot::channel();
        self.try_send(PlaceBatch { requests, reply })?;
        Ok(answer)
    }

    /// Asks the actor to cancel an unpaid order of this buyer.
    pub fn try_cancel(
        &self,
        order_id: OrderId,
        buyer_id: BuyerId,
    ) -> Result<oneshot::Receiver<Cancelled>, MailboxFull> {
        let (reply, answer) = oneshot::channel();
        self.try_send(CancelOrder { order_id, buyer_id, reply })?;
        Ok(answer)
    }

    /// Asks the actor to put a refund's units back on sale (once per refund).
    pub fn try_restock(
        &self,
        refund_id: engine::RefundId,
        order_id: OrderId,
        units: u32,
    ) -> Result<oneshot::Receiver<Result<crate::Seq, crate::stock::RestockFailure>>, MailboxFull> {
        let (reply, answer) = oneshot::channel();
        self.try_send(crate::stock::RestockRefund { refund_id, order_id, units, reply })?;
        Ok(answer)
    }

    /// Tells the actor that an order was paid, with the capture to journal alongside.
    pub fn try_confirm_payment(
        &self,
        order_id: OrderId,
        capture: Box<(Capture, Entry)>,
    ) -> Result<oneshot::Receiver<Confirmed>, MailboxFull> {
        let (reply, answer) = oneshot::channel();
        self.try_send(ConfirmPayment { order_id, capture, reply })?;
        Ok(answer)
    }

    /// Asks the actor to lease up to `wanted` free units to `door`.
    pub fn try_lease(
        &self,
        door: engine::Door,
        wanted: u32,
    ) -> Result<oneshot::Receiver<Result<DoorChanged, DoorFailure>>, MailboxFull> {
        let (reply, answer) = oneshot::channel();
        self.try_send(Lease { door, wanted, reply })?;
        Ok(answer)
    }

    /// Asks the actor to take `units` back from `door`'s slice (after the platform lowered
    /// its stock by as many).
    pub fn try_unlease(
        &self,
        door: engine::Door,
        units: u32,
    ) -> Result<oneshot::Receiver<Result<DoorChanged, DoorFailure>>, MailboxFull> {
        let (reply, answer) = oneshot::channel();
        self.try_send(Unlease { door, units, reply })?;
        Ok(answer)
    }

    /// Asks the actor to record a platform order as the platform reports it now.
    pub fn try_record_door_order(
        &self,
        order: engine::DoorOrder,
    ) -> Result<oneshot::Receiver<Result<DoorChanged, DoorFailure>>, MailboxFull> {
        let (reply, answer) = oneshot::channel();
        self.try_send(RecordDoorOrder { order, reply })?;
        Ok(answer)
    }

    /// A door's slice and the sale's counts.
    pub async fn slice(&self, door: engine::Door) -> Option<(engine::Slice, engine::StockCounts)> {
        self.depth.fetch_add(1, Ordering::Relaxed);
        let answer = self.addr.send(ReadSlice(door)).await.ok();
        if answer.is_none() {
            self.depth.fetch_sub(1, Ordering::Relaxed);
        }
        answer
    }

    /// Recomputes the sale's invariants inside its actor.
    pub async fn verify(&self) -> Option<(engine::StockCounts, Result<(), String>)> {
        self.addr.send(crate::stock::Verify).await.ok()
    }

    /// Messages sent to the actor and not yet handled.
    pub fn mailbox_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    fn try_send<M>(&self, msg: M) -> Result<(), MailboxFull>
    where
        M: Message<Result = ()> + Send + 'static,
        StockActor: Handler<M>,
    {
        self.depth.fetch_add(1, Ordering::Relaxed);
        self.addr.try_send(msg).map_err(|_| {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            MailboxFull
        })
    }
}

/// A sale's live-platform slices `(door, leased, lease_seq)` and platform orders, as stored.
#[derive(Debug, Clone, Default)]
pub struct StoredDoors {
    pub slices: Vec<(engine::Door, u32, u64)>,
    pub orders: Vec<engine::DoorOrder>,
}

/// All running stock actors, by sale.
pub struct StockRegistry {
    /// Behind an `Arc`: a lookup on the hot path is one reference-count increment.
    sales: Arc<Sales>,
    arbiters: Mutex<Vec<Arbiter>>,
    handles: Vec<ArbiterHandle>,
    next_arbiter: AtomicUsize,
    generations: AtomicU64,
    journal: Journal,
    clock: Arc<dyn Clock>,
    ids: Arc<OrderIds>,
    holds: Arc<UnpaidHolds>,
    stats: Arc<Stats>,
    settings: ActorSettings,
}

/// Why a sale's stored state could not be rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartFailure {
    #[error(transparent)]
    Restore(RestoreError),
    #[error("a stored restock does not fit the orders: {0}")]
    Restock(engine::RestockError),
}

impl StockRegistry {
    /// Starts the arbiter threads. Must be called inside a running actix `System`. Unpaid
    /// orders are not capped unless [`Self::with_hold_caps`] says so.
    pub fn new(settings: ActorSettings, journal: Journal, clock: Arc<dyn Clock>, ids: Arc<OrderIds>) -> Self {
        assert!(settings.arbiters > 0 && settings.mailbox_capacity > 0 && settings.expiry_batch > 0);
        let arbiters: Vec<Arbiter> = (0..settings.arbiters).map(|_| Arbiter::new()).collect();
        let handles = arbiters.iter().map(Arbiter::handle).collect();
        Self {
            sales: Arc::new(DashMap::new()),
            arbiters: Mutex::new(arbiters),
            handles,
            next_arbiter: AtomicUsize::new(0),
            generations: AtomicU64::new(0),
            journal,
            clock,
            ids,
            holds: Arc::new(UnpaidHolds::default()),
            stats: Arc::new(Stats::default()),
            settings,
        }
    }

    /// Caps unpaid orders per buyer and per network across all sales. Before any start.
    pub fn with_hold_caps(mut self, caps: HoldCaps) -> Self {
        assert!(self.sales.is_empty(), "hold caps are set before any sale starts");
        self.holds = Arc::new(UnpaidHolds::new(caps));
        self
    }

    /// Where order ids come from: every order of ours takes its id here, a live platform's
    /// included (see `settlement::PlatformPayment`).
    pub fn order_ids(&self) -> &Arc<OrderIds> {
        &self.ids
    }

    /// The count of unpaid orders the actors keep (the gateway reads it to refuse early).
    pub fn holds(&self) -> &Arc<UnpaidHolds> {
        &self.holds
    }

    /// Starts the actor of a sale from its stored orders; returns the running one if there is.
    pub fn start(&self, terms: SaleTerms, orders: Vec<Order>) -> Result<Arc<SaleHandle>, RestoreError> {
        self.start_restored(terms, orders, Vec::new(), StoredDoors::default()).map_err(|e| match e {
            StartFailure::Restore(e) => e,
            StartFailure::Restock(e) => unreachable!("no restocks given: {e}"),
        })
    }

    /// Starts the actor of a sale from its stored orders, the refunds whose units went back on
    /// sale `(refund, order, units)`, and its live-platform slices and orders; returns the
    /// running one if there is.
    pub fn start_restored(
        &self,
        terms: SaleTerms,
        orders: Vec<Order>,
        restocks: Vec<(engine::RefundId, OrderId, u32)>,
        doors: StoredDoors,
    ) -> Result<Arc<SaleHandle>, StartFailure> {
        if let Some(handle) = self.get(terms.id) {
            return Ok(handle);
        }
        let mut sale = FlashSale::restore(terms.clone(), orders).map_err(StartFailure::Restore)?;
        // Units back on sale first: the slices are leased out of what is available.
        sale.restore_restocks(restocks).map_err(StartFailure::Restock)?;
        sale.restore_doors(doors.slices, doors.orders)
            .map_err(|e| StartFailure::Restore(RestoreError::Doors(e)))?;
        let vacant = match self.sales.entry(terms.id) {
            // Started meanwhile: this restore is dropped, no actor was spawned for it.
            MapEntry::Occupied(running) => return Ok(running.get().clone()),
            MapEntry::Vacant(vacant) => vacant,
        };
        // From here on the entry's shard is locked: no other start of this sale can spawn, and
        // the new actor cannot leave before it is registered.
        for order in sale.pending_orders() {
            self.holds.restore(order.buyer_id, order.client_network);
        }
        let ordered = Arc::new(OrderedBuyers::for_quantity(terms.quantity));
        for (buyer, _, _) in sale.receipts() {
            ordered.insert(buyer);
        }
        let gauge = Arc::new(SaleGauge::new(sale.counts()));
        let depth = Arc::new(AtomicUsize::new(0));
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        let arbiter = &self.handles[self.next_arbiter.fetch_add(1, Ordering::Relaxed) % self.handles.len()];
        let shared = Shared {
            journal: self.journal.clone(),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            holds: self.holds.clone(),
            settings: StockActorSettings {
                expiry_retry: self.settings.expiry_retry,
                expiry_batch: self.settings.expiry_batch,
            },
        };
        let membership = Membership { sales: self.sales.clone(), generation, stats: self.stats.clone() };
        let actor = StockActor::new(sale, gauge.clone(), ordered.clone(), depth.clone(), shared, membership);
        self.stats.actors.fetch_add(1, Ordering::Relaxed);
        // The mailbox gets its capacity before the address exists: actix's own start would make
        // it 16 until `started` runs, and a storm at the opening second would see it full.
        let (sender, receiver) = actix::dev::channel::channel(self.settings.mailbox_capacity);
        arbiter.spawn_fn(move || {
            let context = Context::with_receiver(receiver);
            actix::spawn(context.into_future(actor));
        });
        let addr = Addr::new(sender);
        let handle = Arc::new(SaleHandle { addr, generation, terms: Arc::new(terms), gauge, ordered, depth });
        Ok(vacant.insert(handle).clone())
    }

    pub fn get(&self, id: FlashSaleId) -> Option<Arc<SaleHandle>> {
        self.sales.get(&id).map(|h| Arc::clone(&h))
    }

    /// Sales with a registered actor.
    pub fn len(&self) -> usize {
        self.sales.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sales.is_empty()
    }

    /// Stock actors alive: registered ones and settled ones still answering their last
    /// messages.
    pub fn running_actors(&self) -> usize {
        self.stats.actors.load(Ordering::Relaxed)
    }

    /// Expiry timers armed over all actors: at most one per actor with something held.
    pub fn armed_timers(&self) -> usize {
        self.stats.timers.load(Ordering::Relaxed)
    }

    /// Asks every registered sale that has ended to look at the clock: a sale that ended with
    /// nothing held has no timer to wake it, so this sweep is what lets it leave. Returns how
    /// many were asked. A full mailbox is skipped: the sale is busy and the next sweep comes.
    pub fn tick_ended(&self) -> usize {
        let now = self.clock.now();
        self.tick_where(|handle| handle.terms.ends_at <= now)
    }

    /// Asks every registered sale to look at the clock (after a manual clock moved).
    pub fn tick_all(&self) -> usize {
        self.tick_where(|_| true)
    }

    fn tick_where(&self, wanted: impl Fn(&SaleHandle) -> bool) -> usize {
        // Collected first: a tick may make an actor leave, which takes the map's lock.
        let due: Vec<Arc<SaleHandle>> =
            self.sales.iter().filter(|h| wanted(h.value())).map(|h| h.value().clone()).collect();
        due.iter().filter(|handle| handle.tick().is_ok()).count()
    }

    /// Messages waiting in all stock actors' mailboxes.
    pub fn mailbox_depth(&self) -> usize {
        self.sales.iter().map(|h| h.mailbox_depth()).sum()
    }

    /// Stops every actor and joins the arbiter threads. Whatever they appended before is in
    /// the journal; close the journal after this.
    pub fn shutdown(&self) {
        self.sales.clear();
        let arbiters: Vec<Arbiter> = std::mem::take(&mut *self.arbiters.lock());
        for arbiter in &arbiters {
            arbiter.stop();
        }
        for arbiter in arbiters {
            let _ = arbiter.join();
        }
    }
}
