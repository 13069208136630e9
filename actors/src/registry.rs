//! Finds or starts the stock actor of a flash sale.
//!
//! Actors run on a small pool of dedicated arbiters (threads), apart from the HTTP workers, so
//! that a hot sale's reservations never wait behind request parsing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix::prelude::*;
use dashmap::DashMap;
use engine::books::Entry;
use engine::payment::Capture;
use engine::{
    BuyerId, FlashSale, FlashSaleId, IdempotencyKey, Order, OrderId, Quantity, Receipt, ReserveError,
    RestoreError, SaleTerms,
};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::stock::{
    CancelOrder, Cancelled, ConfirmPayment, Confirmed, PlaceBatch, PlaceError, PlaceOrder, PlaceRequest,
    Placed, ReplayIndex, StockActor, StockActorSettings,
};
use crate::{Clock, Journal, OrderIds, SaleGauge};

/// Tuning of the actor system, from configuration.
#[derive(Debug, Clone)]
pub struct ActorSettings {
    /// Dedicated threads the stock actors are spread over.
    pub arbiters: usize,
    pub mailbox_capacity: usize,
    pub expiry_tick: Duration,
    pub expiry_batch: usize,
}

/// The mailbox is full: the caller must shed load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxFull;

/// Everything the gateway needs of a running sale. Cheap to clone.
#[derive(Clone)]
pub struct SaleHandle {
    addr: Addr<StockActor>,
    pub terms: Arc<SaleTerms>,
    pub gauge: Arc<SaleGauge>,
    replays: Arc<ReplayIndex>,
    depth: Arc<AtomicUsize>,
}

impl SaleHandle {
    /// The first answer to this key, if the buyer used it before in this sale.
    pub fn replay(
        &self,
        buyer_id: BuyerId,
        key: &IdempotencyKey,
        quantity: Quantity,
    ) -> Option<Result<Receipt, ReserveError>> {
        let receipt = *self.replays.get(&(buyer_id, key.clone()))?;
        Some(if receipt.quantity == quantity.get() { Ok(receipt) } else { Err(ReserveError::KeyReused) })
    }

    /// Asks the actor to reserve; the answer comes on the returned channel.
    pub fn try_place(
        &self,
        buyer_id: BuyerId,
        quantity: Quantity,
        idempotency_key: IdempotencyKey,
    ) -> Result<oneshot::Receiver<Result<Placed, PlaceError>>, MailboxFull> {
        let (reply, answer) = oneshot::channel();
        self.try_send(PlaceOrder { buyer_id, quantity, idempotency_key, reply })?;
        Ok(answer)
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

/// All running stock actors, by sale.
pub struct StockRegistry {
    /// Behind an `Arc`: a lookup on the hot path is one reference-count increment.
    sales: DashMap<FlashSaleId, Arc<SaleHandle>>,
    arbiters: Mutex<Vec<Arbiter>>,
    handles: Vec<ArbiterHandle>,
    next_arbiter: AtomicUsize,
    journal: Journal,
    clock: Arc<dyn Clock>,
    ids: Arc<OrderIds>,
    settings: ActorSettings,
}

impl StockRegistry {
    /// Starts the arbiter threads. Must be called inside a running actix `System`.
    pub fn new(settings: ActorSettings, journal: Journal, clock: Arc<dyn Clock>, ids: Arc<OrderIds>) -> Self {
        assert!(settings.arbiters > 0 && settings.mailbox_capacity > 0 && settings.expiry_batch > 0);
        let arbiters: Vec<Arbiter> = (0..settings.arbiters).map(|_| Arbiter::new()).collect();
        let handles = arbiters.iter().map(Arbiter::handle).collect();
        Self {
            sales: DashMap::new(),
            arbiters: Mutex::new(arbiters),
            handles,
            next_arbiter: AtomicUsize::new(0),
            journal,
            clock,
            ids,
            settings,
        }
    }

    /// Starts the actor of a sale from its stored orders; returns the running one if there is.
    pub fn start(&self, terms: SaleTerms, orders: Vec<Order>) -> Result<Arc<SaleHandle>, RestoreError> {
        if let Some(handle) = self.get(terms.id) {
            return Ok(handle);
        }
        let sale = FlashSale::restore(terms.clone(), orders)?;
        let replays: Arc<ReplayIndex> = Arc::new(
            sale.orders()
                .map(|order| ((order.buyer_id, order.idempotency_key.clone()), order.receipt()))
                .collect(),
        );
        let gauge = Arc::new(SaleGauge::new(sale.counts()));
        let depth = Arc::new(AtomicUsize::new(0));
        let arbiter = &self.handles[self.next_arbiter.fetch_add(1, Ordering::Relaxed) % self.handles.len()];
        let actor = StockActor::new(
            sale,
            gauge.clone(),
            replays.clone(),
            depth.clone(),
            self.journal.clone(),
            self.clock.clone(),
            self.ids.clone(),
            StockActorSettings {
                expiry_tick: self.settings.expiry_tick,
                expiry_batch: self.settings.expiry_batch,
            },
        );
        // The mailbox gets its capacity before the address exists: actix's own start would make
        // it 16 until `started` runs, and a storm at the opening second would see it full.
        let (sender, receiver) = actix::dev::channel::channel(self.settings.mailbox_capacity);
        arbiter.spawn_fn(move || {
            let context = Context::with_receiver(receiver);
            actix::spawn(context.into_future(actor));
        });
        let addr = Addr::new(sender);
        let handle = Arc::new(SaleHandle { addr, terms: Arc::new(terms), gauge, replays, depth });
        // Two concurrent starts of one sale: the first insert wins, the loser's actor stops
        // when its address is dropped here.
        Ok(self.sales.entry(handle.terms.id).or_insert(handle).clone())
    }

    pub fn get(&self, id: FlashSaleId) -> Option<Arc<SaleHandle>> {
        self.sales.get(&id).map(|h| Arc::clone(&h))
    }

    pub fn len(&self) -> usize {
        self.sales.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sales.is_empty()
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
