//! The write-behind journal port: actors append events, one writer commits them in batches.
//!
//! Every event gets a sequence number, and events enter the queue in sequence order (the
//! number is taken under the same lock as the queue slot is filled). The writer commits them
//! in that order and publishes the highest committed number, the *durable watermark*; whoever
//! must not answer before an event is on disk waits for the watermark to pass its number.
//! Prefix order also means recovery never sees a later event without the earlier ones.
//!
//! Waiters are kept by sequence number and a commit wakes exactly those it made durable: with
//! thousands of requests in flight, waking all of them on every commit (a broadcast) would
//! cost more than the commit.
//!
//! The queue is bounded: a full queue is an answer (the caller sheds load), never a wait.
//!
//! Two watermarks: *durable* (the event survives a crash: acknowledgements wait for it) and
//! *applied* (the database holds it: reads of the database that must see what was acknowledged
//! wait for it). Without an order log in front of the database they are the same commit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use engine::books::MoneyEvent;
use engine::payment::PaidOrder;
use engine::{Door, DoorOrder, FlashSaleId, Order, OrderId, RefundId, Slice, StateChange, Timestamp};
use parking_lot::Mutex;
use tokio::sync::{Notify, mpsc, oneshot};

/// Position of an event in the journal; 0 means "nothing yet".
pub type Seq = u64;

/// What the actors decided and the database must learn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalEvent {
    /// New orders holding units, in placement order.
    OrdersPlaced(Vec<Order>),
    /// Orders that moved state (expired, cancelled), in the order they moved.
    OrdersChanged(Vec<StateChange>),
    /// An order paid, with its capture and credit, all in one transaction.
    OrderPaid(Box<PaidOrder>),
    /// What a settlement actor decided, in one transaction.
    Money(Vec<MoneyEvent>),
    /// Units of a refunded order went back on sale (once per refund).
    Restocked { refund_id: RefundId, order_id: OrderId, units: u32, at: Timestamp },
    /// A sale's live-platform slices and orders moved (see `engine::sale::doors`).
    Doors(Vec<DoorEvent>),
}

/// A change of a sale's door, with the slice as it is after it (stored whole, so that the
/// last event written is the slice recovery finds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorEvent {
    pub flash_sale_id: FlashSaleId,
    pub door: Door,
    pub slice: Slice,
    /// Units leased by this event (0 unless it is a lease): kept with the slice so that a lease
    /// not yet on the platform's stock when the process dies is placed after the restart.
    pub granted: u32,
    /// The platform order recorded or moved, if that is what happened.
    pub order: Option<DoorOrder>,
    pub at: Timestamp,
}

impl JournalEvent {
    /// When the earliest decision in this event was made.
    pub fn decided_at(&self) -> Option<Timestamp> {
        match self {
            JournalEvent::OrdersPlaced(orders) => orders.first().map(|o| o.created_at),
            JournalEvent::OrdersChanged(changes) => changes.first().map(|c| c.at),
            JournalEvent::OrderPaid(paid) => Some(paid.change.at),
            JournalEvent::Money(events) => events.first().map(MoneyEvent::at),
            JournalEvent::Restocked { at, .. } => Some(*at),
            JournalEvent::Doors(events) => events.first().map(|e| e.at),
        }
    }
}

#[derive(Debug)]
enum Entry {
    Event(Seq, JournalEvent),
    /// Sent once by [`Journal::close`]; nothing follows it.
    Close,
}

/// Why an event was not appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendError {
    /// The queue is at capacity: the writer is behind. Shed load.
    Full,
    /// The journal is shutting down or its writer is gone.
    Closed,
}

impl std::fmt::Display for AppendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AppendError::Full => "journal queue full",
            AppendError::Closed => "journal closed",
        })
    }
}

#[derive(Debug)]
struct Sequencer {
    last: Seq,
    closed: bool,
}

/// Who waits for which sequence number to become durable.
#[derive(Debug, Default)]
struct Durability {
    durable: Seq,
    waiters: BTreeMap<Seq, Vec<oneshot::Sender<()>>>,
    writer_gone: bool,
}

#[derive(Debug)]
struct Inner {
    tx: mpsc::Sender<Entry>,
    order: Mutex<Sequencer>,
    durability: Mutex<Durability>,
    /// The watermark again, for reads that need no lock.
    durable: AtomicU64,
    /// The highest sequence number the database holds.
    applied: AtomicU64,
    applied_moved: Notify,
    capacity: usize,
    /// When false, callers are not made to wait for commits (benchmark mode).
    durable_ack: bool,
}

/// The appending side, cloned into every actor.
#[derive(Debug, Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

/// The draining side, owned by the single writer. Dropping it fails every waiter.
#[derive(Debug)]
pub struct JournalReceiver {
    rx: mpsc::Receiver<Entry>,
    inner: Arc<Inner>,
    closed: bool,
}

/// A journal with room for `capacity` uncommitted events. `durable_ack = false` makes
/// [`Journal::wait_durable`] return at once: acknowledgements from memory, for benchmarks only.
pub fn journal(capacity: usize, durable_ack: bool) -> (Journal, JournalReceiver) {
    journal_after(0, capacity, durable_ack)
}

/// [`journal`] numbering its events after `last`: the last sequence number of an earlier run
/// that the database or the order log knows, so that numbers never repeat across restarts.
pub fn journal_after(last: Seq, capacity: usize, durable_ack: bool) -> (Journal, JournalReceiver) {
    assert!(capacity > 0);
    let (tx, rx) = mpsc::channel(capacity);
    let inner = Arc::new(Inner {
        tx,
        order: Mutex::new(Sequencer { last, closed: false }),
        durability: Mutex::new(Durability { durable: last, ..Durability::default() }),
        durable: AtomicU64::new(last),
        applied: AtomicU64::new(last),
        applied_moved: Notify::new(),
        capacity,
        durable_ack,
    });
    (Journal { inner: inner.clone() }, JournalReceiver { rx, inner, closed: false })
}

/// Room for one event, taken before the caller changes any state, so that a change is never
/// made that then cannot be journaled.
#[derive(Debug)]
pub struct Slot<'a> {
    journal: &'a Journal,
    permit: mpsc::Permit<'a, Entry>,
}

impl Slot<'_> {
    /// Appends the event and returns its sequence number.
    pub fn append(self, event: JournalEvent) -> Result<Seq, AppendError> {
        let mut order = self.journal.inner.order.lock();
        if order.closed {
            return Err(AppendError::Closed);
        }
        order.last += 1;
        let seq = order.last;
        self.permit.send(Entry::Event(seq, event));
        Ok(seq)
    }
}

impl Journal {
    /// Takes room for one event, or says why there is none.
    pub fn slot(&self) -> Result<Slot<'_>, AppendError> {
        match self.inner.tx.try_reserve() {
            Ok(permit) => Ok(Slot { journal: self, permit }),
            Err(mpsc::error::TrySendError::Full(())) => Err(AppendError::Full),
            Err(mpsc::error::TrySendError::Closed(())) => Err(AppendError::Closed),
        }
    }

    /// The number of the last event appended so far.
    pub fn last_appended(&self) -> Seq {
        self.inner.order.lock().last
    }

    /// The highest sequence number known to be committed.
    pub fn durable(&self) -> Seq {
        self.inner.durable.load(Ordering::Acquire)
    }

    /// Waits until event `seq` is committed.
    pub async fn wait_durable(&self, seq: Seq) -> Result<(), AppendError> {
        if !self.inner.durable_ack {
            return Ok(());
        }
        let committed = {
            let mut durability = self.inner.durability.lock();
            if durability.durable >= seq {
                return Ok(());
            }
            if durability.writer_gone {
                return Err(AppendError::Closed);
            }
            let (tx, rx) = oneshot::channel();
            durability.waiters.entry(seq).or_default().push(tx);
            rx
        };
        committed.await.map_err(|_| AppendError::Closed)
    }

    /// The highest sequence number the database holds.
    pub fn applied(&self) -> Seq {
        self.inner.applied.load(Ordering::Acquire)
    }

    /// Waits until the database holds every event up to `seq`.
    pub async fn wait_applied(&self, seq: Seq) {
        wait_applied(&self.inner, seq).await
    }

    /// Waits until the database holds everything acknowledged so far: what a read of orders
    /// does first, so that an order answered 201 is never missing from the database. Costs two
    /// atomic loads when the database has caught up, which is nearly always.
    pub async fn caught_up(&self) {
        let durable = self.durable();
        if self.applied() < durable {
            metrics::counter!("flashsale_journal_read_fence_waits_total").increment(1);
            self.wait_applied(durable).await;
        }
    }

    /// Events appended but not yet taken by the writer.
    pub fn depth(&self) -> usize {
        self.inner.capacity - self.inner.tx.capacity()
    }

    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Refuses further appends and tells the writer to finish once it has committed everything
    /// appended before. Wait on the writer's task to know when that is done.
    pub async fn close(&self) {
        {
            let mut order = self.inner.order.lock();
            if order.closed {
                return;
            }
            order.closed = true;
        }
        // Every append happened under the lock before `closed` was set, so Close is last.
        let _ = self.inner.tx.send(Entry::Close).await;
    }
}

impl JournalReceiver {
    /// Waits for events and moves up to `limit` of them into `batch`, in sequence order.
    /// Returns false once the journal is closed and drained (or every appender is gone).
    pub async fn next_batch(&mut self, batch: &mut Vec<(Seq, JournalEvent)>, limit: usize) -> bool {
        if self.closed {
            return false;
        }
        let mut entries = Vec::with_capacity(limit.min(1024));
        if self.rx.recv_many(&mut entries, limit).await == 0 {
            self.closed = true;
            return false;
        }
        self.take(entries, batch);
        true
    }

    /// Moves whatever is already queued (up to `limit`) into `batch` without waiting.
    pub fn drain_ready(&mut self, batch: &mut Vec<(Seq, JournalEvent)>, limit: usize) {
        let mut entries = Vec::new();
        while !self.closed && entries.len() < limit {
            match self.rx.try_recv() {
                Ok(entry) => entries.push(entry),
                Err(_) => break,
            }
        }
        self.take(entries, batch);
    }

    fn take(&mut self, entries: Vec<Entry>, batch: &mut Vec<(Seq, JournalEvent)>) {
        for entry in entries {
            match entry {
                Entry::Event(seq, event) => {
                    assert!(!self.closed, "event {seq} after close");
                    assert!(batch.last().is_none_or(|(last, _)| *last < seq), "journal out of order");
                    batch.push((seq, event));
                }
                Entry::Close => self.closed = true,
            }
        }
    }

    /// Whether the close marker has been seen: nothing more will arrive.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Publishes that every event up to `seq` is committed, releasing exactly its waiters.
    pub fn mark_durable(&self, seq: Seq) {
        self.mark_durable_only(seq);
        self.applied_marker().mark(seq);
    }

    /// The handle that publishes what the database holds, for a writer whose database lags
    /// its durability point (the order log).
    pub fn applied_marker(&self) -> AppliedMarker {
        AppliedMarker { inner: self.inner.clone() }
    }

    /// Waits until the database holds every event up to `seq`.
    pub async fn wait_applied(&self, seq: Seq) {
        wait_applied(&self.inner, seq).await
    }

    /// Publishes that every event up to `seq` survives a crash (it is in the order log),
    /// releasing exactly its waiters; the database is told apart, through [`AppliedMarker`].
    pub fn mark_durable_only(&self, seq: Seq) {
        let released = {
            let mut durability = self.inner.durability.lock();
            assert!(
                seq >= durability.durable,
                "durable watermark went back from {} to {seq}",
                durability.durable
            );
            durability.durable = seq;
            self.inner.durable.store(seq, Ordering::Release);
            let later = durability.waiters.split_off(&(seq + 1));
            std::mem::replace(&mut durability.waiters, later)
        };
        for waiter in released.into_values().flatten() {
            // A waiter that gave up (timed out) has dropped its receiver: nothing to do.
            let _ = waiter.send(());
        }
    }
}

async fn wait_applied(inner: &Inner, seq: Seq) {
    loop {
        let moved = inner.applied_moved.notified();
        if inner.applied.load(Ordering::Acquire) >= seq {
            return;
        }
        moved.await;
    }
}

/// Publishes the *applied* watermark: the database holds every event up to it.
#[derive(Debug, Clone)]
pub struct AppliedMarker {
    inner: Arc<Inner>,
}

impl AppliedMarker {
    pub fn mark(&self, seq: Seq) {
        let before = self.inner.applied.fetch_max(seq, Ordering::AcqRel);
        if seq > before {
            self.inner.applied_moved.notify_waiters();
        }
    }
}

impl Drop for JournalReceiver {
    fn drop(&mut self) {
        let mut durability = self.inner.durability.lock();
        durability.writer_gone = true;
        // Dropping the senders fails every waiter with `Closed` instead of leaving it hanging.
        durability.waiters.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::{OrderId, OrderState};

    fn change(id: i64) -> JournalEvent {
        JournalEvent::OrdersChanged(vec![StateChange {
            order_id: OrderId(id),
            from: OrderState::PendingPayment,
            to: OrderState::Expired,
            at: Timestamp(0),
        }])
    }

    #[tokio::test]
    async fn bounded_ordered_and_waiters_released_by_the_watermark() {
        let (journal, mut receiver) = journal(2, true);
        assert_eq!(journal.slot().unwrap().append(change(1)), Ok(1));
        assert_eq!(journal.slot().unwrap().append(change(2)), Ok(2));
        assert_eq!(journal.slot().unwrap_err(), AppendError::Full);
        assert_eq!(journal.depth(), 2);

        let waiter = tokio::spawn({
            let journal = journal.clone();
            async move { journal.wait_durable(2).await }
        });
        let mut batch = Vec::new();
        assert!(receiver.next_batch(&mut batch, 10).await);
        assert_eq!(batch.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![1, 2]);
        receiver.mark_durable(1);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        receiver.mark_durable(2);
        assert_eq!(waiter.await.unwrap(), Ok(()));
        assert_eq!(journal.durable(), 2);
    }

    #[tokio::test]
    async fn close_drains_then_ends_and_refuses_more() {
        let (journal, mut receiver) = journal(8, true);
        journal.slot().unwrap().append(change(1)).unwrap();
        let slot_before_close = journal.slot().unwrap();
        journal.close().await;
        assert_eq!(slot_before_close.append(change(2)), Err(AppendError::Closed));
        let mut batch = Vec::new();
        assert!(receiver.next_batch(&mut batch, 10).await);
        assert_eq!(batch.len(), 1);
        assert!(receiver.is_closed());
        assert!(!receiver.next_batch(&mut batch, 10).await);
    }

    /// With an order log the database trails durability: a read that must see what was
    /// acknowledged waits for the applied watermark to reach what was durable when it asked,
    /// and not for anything acknowledged after.
    #[tokio::test]
    async fn reads_wait_for_the_database_to_hold_what_was_acknowledged() {
        let (journal, receiver) = journal_after(10, 8, true);
        assert_eq!((journal.durable(), journal.applied(), journal.last_appended()), (10, 10, 10));
        journal.caught_up().await;
        let first = journal.slot().unwrap().append(change(1)).unwrap();
        assert_eq!(first, 11, "numbered after the earlier run");
        receiver.mark_durable_only(first);
        assert_eq!((journal.durable(), journal.applied()), (11, 10));

        let read = tokio::spawn({
            let journal = journal.clone();
            async move { journal.caught_up().await }
        });
        tokio::task::yield_now().await;
        assert!(!read.is_finished(), "the database does not hold order 11 yet");
        // Acknowledged after the read began: the read does not wait for it.
        let second = journal.slot().unwrap().append(change(2)).unwrap();
        receiver.mark_durable_only(second);
        let marker = receiver.applied_marker();
        marker.mark(first);
        read.await.unwrap();
        assert_eq!(journal.applied(), 11);
        // Marks never go back.
        marker.mark(5);
        assert_eq!(journal.applied(), 11);
    }

    #[tokio::test]
    async fn writer_gone_fails_waiters_instead_of_hanging() {
        let (journal, receiver) = journal(8, true);
        let seq = journal.slot().unwrap().append(change(1)).unwrap();
        drop(receiver);
        assert_eq!(journal.wait_durable(seq).await, Err(AppendError::Closed));
    }
}
