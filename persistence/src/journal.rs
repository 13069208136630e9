//! The journal writer: drains the actors' events and commits them in batches (group commit).
//!
//! One writer, one transaction per batch, batches as large as what queued up while the last
//! one was committing (up to `batch_max`). That makes the commit rate adapt to load: one fsync
//! serves every order that arrived meanwhile. A failed commit is retried with backoff, forever:
//! events are never dropped, and waiters stay blocked (their requests time out with 503) until
//! the database is back. Inserts and updates are idempotent, so a retry after an ambiguous
//! commit failure is harmless.
//!
//! With an order log ([`run_writer_with_log`], the default) the durability point of placements
//! and order changes moves in front of the database: a batch is appended to the log and
//! `fdatasync`ed, its waiters are released, and the database learns it behind, in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actors::{JournalEvent, JournalReceiver, Seq};
use engine::books::MoneyEvent;
use engine::notification::Notice;
use engine::payment::PaymentState;
use engine::{Order, StateChange};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, TransactionTrait,
};

use crate::entities::order;
use crate::order_log::{self, OrderLog};
use crate::repo::order_row;
use crate::{money, outbox};
use tokio::sync::{mpsc, oneshot};

/// Tuning of the writer, from configuration.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// Most events in one transaction.
    pub batch_max: usize,
    /// Extra time to wait for more events when a batch is not full; 0 = commit at once.
    pub linger: Duration,
    /// Where the writer reports what it last did.
    pub status: Arc<WriterStatus>,
}

/// What the writer last did, kept in atomics so that health checks read it without a query.
#[derive(Debug)]
pub struct WriterStatus {
    epoch: Instant,
    running: AtomicBool,
    /// Milliseconds after `epoch` of the last commit, plus one (0 = none yet).
    last_commit: AtomicU64,
    failures_in_a_row: AtomicU32,
}

impl Default for WriterStatus {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            running: AtomicBool::new(false),
            last_commit: AtomicU64::new(0),
            failures_in_a_row: AtomicU32::new(0),
        }
    }
}

impl WriterStatus {
    /// Whether the writer task is running (false before it starts and after it stopped,
    /// drained or panicked).
    pub fn running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// How long ago the last batch was committed; `None` before the first.
    pub fn last_commit_age(&self) -> Option<Duration> {
        let stamp = self.last_commit.load(Ordering::Relaxed);
        let at = self.epoch + Duration::from_millis(stamp.checked_sub(1)?);
        Some(at.elapsed())
    }

    /// Commits failed since the last one that succeeded: more than 0 means the database is
    /// refusing or unreachable, and the writer is retrying.
    pub fn failures_in_a_row(&self) -> u32 {
        self.failures_in_a_row.load(Ordering::Relaxed)
    }

    fn committed(&self) {
        let stamp = self.epoch.elapsed().as_millis() as u64 + 1;
        self.last_commit.store(stamp, Ordering::Relaxed);
        self.failures_in_a_row.store(0, Ordering::Relaxed);
    }

    fn failed(&self) {
        self.failures_in_a_row.fetch_add(1, Ordering::Relaxed);
    }
}

/// Marks the writer stopped however it ends, a panic included.
struct Running<'a>(&'a WriterStatus);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Relaxed);
    }
}

/// Rows per INSERT statement: far below SQLite's and Postgres' bind-parameter limits.
const INSERT_CHUNK: usize = 500;

/// Runs until the journal is closed and everything appended before is committed.
pub async fn run_writer(db: DatabaseConnection, mut journal: JournalReceiver, settings: WriterSettings) {
    assert!(settings.batch_max > 0);
    let status = settings.status.clone();
    status.running.store(true, Ordering::Relaxed);
    let _running = Running(&status);
    let mut batch: Vec<(Seq, JournalEvent)> = Vec::with_capacity(settings.batch_max);
    while next_batch(&mut journal, &mut batch, &settings).await {
        let Some(&(last, _)) = batch.last() else { continue };
        metrics::histogram!("flashsale_journal_batch_size").record(batch.len() as f64);
        commit(&db, &batch, None, &status).await;
        journal.mark_durable(last);
        batch.clear();
    }
    tracing::info!("journal writer drained and stopped");
}

/// A batch on its way from the log to the database.
struct ToApply {
    events: Vec<(Seq, JournalEvent)>,
    /// Set for a batch whose durability point is the database commit (it holds an event the
    /// log does not carry): told once it is committed.
    committed: Option<oneshot::Sender<()>>,
}

/// Batches between the log and the database: a bound on how far the database may lag.
const APPLY_QUEUE: usize = 64;
/// How long the database stage gathers batches that are already durable in the log.
const APPLY_LINGER: Duration = Duration::from_millis(5);

/// Runs the journal with `log` as the durability point of placements and order changes, until
/// the journal is closed and everything appended before is in the database.
///
/// Two stages. The log stage, on a thread of its own because `fdatasync` blocks, takes a batch,
/// appends it to the log, waits for `fdatasync`, releases its waiters and hands it on. The
/// database stage commits the batches in the same order, each with the applied mark. A batch
/// holding an event the log does not carry (a payment, money, a restock, a door) is made
/// durable by its commit instead: the log stage waits for that commit before releasing it or
/// anything after it, so the durable watermark never passes an event that is not durable.
/// If the log fails (disk full, an I/O error), every later batch takes that path too: slower,
/// never less safe.
pub async fn run_writer_with_log(
    db: DatabaseConnection,
    journal: JournalReceiver,
    settings: WriterSettings,
    log: OrderLog,
    log_max_bytes: u64,
) {
    assert!(settings.batch_max > 0);
    let status = settings.status.clone();
    status.running.store(true, Ordering::Relaxed);
    let _running = Running(&status);
    let (to_db, from_log) = mpsc::channel::<ToApply>(APPLY_QUEUE);
    let applied = journal.applied_marker();
    let log_stage = {
        let settings = settings.clone();
        std::thread::Builder::new()
            .name("order-log".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build();
                let runtime = runtime.expect("the order log's runtime");
                runtime.block_on(log_stage(journal, settings, log, log_max_bytes, to_db));
            })
            .expect("spawning the order log thread")
    };
    apply_stage(&db, from_log, &settings, &applied).await;
    let _ = tokio::task::spawn_blocking(move || log_stage.join()).await;
    tracing::info!("journal writer drained and stopped");
}

async fn log_stage(
    mut journal: JournalReceiver,
    settings: WriterSettings,
    mut log: OrderLog,
    log_max_bytes: u64,
    to_db: mpsc::Sender<ToApply>,
) {
    let sync_seconds = metrics::histogram!("flashsale_order_log_sync_seconds");
    let batch_size = metrics::histogram!("flashsale_journal_batch_size");
    let mut log_ok = true;
    let mut batch: Vec<(Seq, JournalEvent)> = Vec::with_capacity(settings.batch_max);
    while next_batch(&mut journal, &mut batch, &settings).await {
        let Some(&(last, _)) = batch.last() else { continue };
        batch_size.record(batch.len() as f64);
        let events = std::mem::replace(&mut batch, Vec::with_capacity(settings.batch_max));
        if log_ok && events.iter().all(|(_, event)| order_log::loggable(event)) {
            if log.len() > log_max_bytes {
                // Everything before is handed on: once the database holds it, the log is spare.
                journal.wait_applied(journal_last_handed(&events)).await;
                if let Err(error) = log.clear() {
                    tracing::error!(%error, path = %log.path().display(), "order log could not be emptied");
                }
            }
            let started = Instant::now();
            match log.append(&events) {
                Ok(()) => {
                    sync_seconds.record(started.elapsed().as_secs_f64());
                    journal.mark_durable_only(last);
                    if to_db.send(ToApply { events, committed: None }).await.is_err() {
                        break;
                    }
                    continue;
                }
                Err(error) => {
                    // After a failed fsync nobody can say what the file holds: stop trusting it.
                    // Recovery stays right: what it may replay, the database already applies
                    // idempotently, and the applied mark skips it.
                    log_ok = false;
                    metrics::counter!("flashsale_order_log_failures_total").increment(1);
                    tracing::error!(%error, path = %log.path().display(),
                        "order log append failed: acknowledgements wait for database commits from now on");
                }
            }
        }
        let (committed, done) = oneshot::channel();
        if to_db.send(ToApply { events, committed: Some(committed) }).await.is_err() {
            break;
        }
        if done.await.is_err() {
            break;
        }
        journal.mark_durable_only(last);
    }
}

/// The sequence number just before `events`: everything up to it has been handed on.
fn journal_last_handed(events: &[(Seq, JournalEvent)]) -> Seq {
    events.first().map_or(0, |(seq, _)| seq - 1)
}

async fn apply_stage(
    db: &DatabaseConnection,
    mut from_log: mpsc::Receiver<ToApply>,
    settings: &WriterSettings,
    applied: &actors::AppliedMarker,
) {
    let mut batches = Vec::new();
    while from_log.recv_many(&mut batches, APPLY_QUEUE).await > 0 {
        // Nobody waits for these commits (their batches are durable in the log), so a moment
        // spent gathering more makes fewer, larger transactions: fewer statements, fewer
        // fsyncs of the database, less CPU taken from the requests. Not when a batch in hand
        // waits for its commit to be durable.
        if batches.iter().all(|b| b.committed.is_none()) && batches.len() < APPLY_QUEUE {
            tokio::time::sleep(APPLY_LINGER).await;
            while batches.len() < APPLY_QUEUE
                && let Ok(batch) = from_log.try_recv()
            {
                batches.push(batch);
            }
        }
        // Batches that queued while the last commit ran share the next one, up to `batch_max`
        // events; a batch waiting for its commit to be durable ends a group.
        let mut queued = std::mem::take(&mut batches).into_iter().peekable();
        while let Some(first) = queued.next() {
            let mut group = vec![first];
            while group.last().is_some_and(|b| b.committed.is_none())
                && let Some(next) = queued.peek()
                && group.iter().map(|b| b.events.len()).sum::<usize>() + next.events.len()
                    <= settings.batch_max
            {
                group.push(queued.next().expect("peeked"));
            }
            let events: Vec<(Seq, JournalEvent)> =
                group.iter_mut().flat_map(|b| b.events.drain(..)).collect();
            let Some(&(last, _)) = events.last() else { continue };
            commit(db, &events, Some(last), &settings.status).await;
            applied.mark(last);
            for batch in group {
                if let Some(committed) = batch.committed {
                    let _ = committed.send(());
                }
            }
        }
    }
}

/// Commits `events` (with the applied mark, if given), retrying with backoff until it succeeds:
/// events are never dropped. Reports the commit to `status` and the metrics.
async fn commit(
    db: &DatabaseConnection,
    events: &[(Seq, JournalEvent)],
    applied: Option<Seq>,
    status: &WriterStatus,
) {
    let mut attempt: u32 = 0;
    loop {
        let started = Instant::now();
        match write_batch(db, events, applied).await {
            Ok(()) => {
                if let Some(lag) = oldest_event_age(events) {
                    metrics::histogram!("flashsale_journal_lag_seconds").record(lag.as_secs_f64());
                }
                metrics::histogram!("flashsale_journal_commit_seconds")
                    .record(started.elapsed().as_secs_f64());
                metrics::counter!("flashsale_journal_events_total").increment(events.len() as u64);
                status.committed();
                return;
            }
            Err(error) => {
                attempt += 1;
                status.failed();
                metrics::counter!("flashsale_journal_commit_failures_total").increment(1);
                let backoff = Duration::from_millis(50 * 2u64.pow(attempt.min(6)));
                tracing::error!(%error, attempt, events = events.len(), ?backoff, "journal commit failed, retrying");
                tokio::time::sleep(backoff).await;
            }
        }
    }
}

/// The next batch: what is queued (waiting for at least one event), then, with a `linger`,
/// what arrives meanwhile, up to `batch_max`. False once the journal is closed and drained.
async fn next_batch(
    journal: &mut JournalReceiver,
    batch: &mut Vec<(Seq, JournalEvent)>,
    settings: &WriterSettings,
) -> bool {
    if !journal.next_batch(batch, settings.batch_max).await {
        return false;
    }
    if !settings.linger.is_zero() && batch.len() < settings.batch_max && !journal.is_closed() {
        tokio::time::sleep(settings.linger).await;
        let room = settings.batch_max - batch.len();
        journal.drain_ready(batch, room);
    }
    true
}

/// How long the oldest event of a committed batch waited between its decision in the actor
/// and its commit: the persistence lag an order can see.
fn oldest_event_age(batch: &[(Seq, JournalEvent)]) -> Option<Duration> {
    let decided_at = batch.iter().filter_map(|(_, event)| event.decided_at()).min()?;
    let now_millis =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as i64;
    Some(Duration::from_millis(now_millis.saturating_sub(decided_at.as_millis()).max(0) as u64))
}

/// Commits `batch` in one transaction; with `applied`, records in it that the database holds
/// every event up to that sequence number (what order-log recovery starts from).
pub(crate) async fn write_batch(
    db: &DatabaseConnection,
    batch: &[(Seq, JournalEvent)],
    applied: Option<Seq>,
) -> Result<(), DbErr> {
    let placed: Vec<&Order> = batch
        .iter()
        .filter_map(|(_, event)| match event {
            JournalEvent::OrdersPlaced(orders) => Some(orders),
            _ => None,
        })
        .flatten()
        .collect();
    // With placements the first statement is their INSERT, which takes the write lock itself;
    // a batch without any may read first, so it takes the lock up front (`begin_write`).
    let txn = if placed.is_empty() { crate::db::begin_write(db).await? } else { db.begin().await? };
    // Every order's placement precedes its own changes in the journal, so inserting all
    // placements first and then applying everything else in journal order is equivalent.
    for chunk in placed.chunks(INSERT_CHUNK) {
        order::Entity::insert_many(chunk.iter().map(|o| order_row(o)))
            .on_conflict(OnConflict::column(order::Column::Id).do_nothing().to_owned())
            .exec_without_returning(&txn)
            .await?;
    }
    for (_, event) in batch {
        match event {
            JournalEvent::OrdersPlaced(_) => {}
            JournalEvent::OrdersChanged(changes) => {
                for change in changes {
                    apply_change(&txn, change).await?;
                }
            }
            JournalEvent::OrderPaid(paid) => {
                apply_change(&txn, &paid.change).await?;
                money::insert_capture(&txn, &paid.capture).await?;
                money::insert_entry(&txn, &paid.entry).await?;
                let payment = MoneyEvent::Payment {
                    payment_id: paid.capture.payment_id,
                    state: PaymentState::Credited,
                    transaction_id: Some(paid.capture.transaction_id.clone()),
                    at: paid.change.at,
                };
                money::apply(&txn, &payment).await?;
                // The buyer hears of it through the outbox, committed with the payment or not at all.
                let notice = Notice::order_paid(
                    paid.change.order_id,
                    paid.capture.settlement.gross_fen,
                    paid.change.at,
                );
                outbox::enqueue(&txn, &notice).await?;
            }
            JournalEvent::Money(events) => {
                for event in events {
                    money::apply(&txn, event).await?;
                }
            }
            JournalEvent::Restocked { refund_id, at, .. } => {
                crate::refunds::mark_restocked(&txn, *refund_id, *at).await?;
            }
            JournalEvent::Doors(events) => {
                for event in events {
                    crate::live::apply_door_event(&txn, event).await?;
                }
            }
        }
    }
    if let Some(seq) = applied {
        crate::order_log::set_applied_seq(&txn, seq).await?;
    }
    txn.commit().await
}

/// Moves an order's row from `change.from` to `change.to`; already there is fine (a retried
/// batch), any third state is refused: memory and database disagree.
async fn apply_change(txn: &DatabaseTransaction, change: &StateChange) -> Result<(), DbErr> {
    let updated = order::Entity::update_many()
        .col_expr(order::Column::State, Expr::value(change.to.as_str()))
        .col_expr(order::Column::UpdatedAt, Expr::value(change.at.as_millis()))
        .filter(order::Column::Id.eq(change.order_id.0))
        .filter(order::Column::State.is_in([change.from.as_str(), change.to.as_str()]))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        // Refuse the batch rather than write over it; the retry loop will keep shouting.
        return Err(DbErr::Custom(format!(
            "order {} is not {} in the database",
            change.order_id,
            change.from.as_str()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::{
        BuyerId, Fen, FlashSaleId, IdempotencyKey, MerchantId, OrderId, OrderState, SaleTerms, Timestamp,
    };

    const NOW: Timestamp = Timestamp(1_800_000_000_000);

    async fn database(dir: &std::path::Path) -> (DatabaseConnection, FlashSaleId) {
        let url = format!("sqlite://{}", dir.join("journal.db").display());
        let db = crate::connect(&url, 4, false).await.unwrap();
        let phone = engine::Phone::parse("13800000000").unwrap();
        let merchant = crate::repo::insert_merchant(&db, &phone, "x", "m", NOW).await.unwrap();
        let product = crate::repo::NewProduct {
            title: "p".into(),
            description: String::new(),
            image_url: String::new(),
            price_fen: Fen(990),
            stock: 100,
        };
        let product = crate::repo::insert_product(&db, merchant, product, NOW).await.unwrap();
        let terms = SaleTerms {
            id: FlashSaleId(0),
            merchant_id: merchant,
            product_id: product,
            title: "s".into(),
            price_fen: Fen(990),
            quantity: 100,
            per_buyer_limit: 5,
            starts_at: NOW,
            ends_at: NOW.plus_millis(3_600_000),
            payment_window_secs: 900,
        };
        let sale = crate::repo::create_flash_sale(&db, &terms, NOW, Default::default()).await.unwrap();
        (db, sale)
    }

    fn order(id: i64, sale: FlashSaleId) -> Order {
        Order {
            id: OrderId(id),
            flash_sale_id: sale,
            merchant_id: MerchantId(1),
            buyer_id: BuyerId(id),
            quantity: 1,
            amount_fen: Fen(990),
            state: OrderState::PendingPayment,
            idempotency_key: IdempotencyKey::parse(&format!("k{id}")).unwrap(),
            client_network: None,
            created_at: NOW,
            expires_at: NOW.plus_millis(900_000),
            updated_at: NOW,
        }
    }

    async fn state(db: &DatabaseConnection, id: i64) -> Option<OrderState> {
        crate::repo::order(db, OrderId(id)).await.unwrap().map(|o| o.state)
    }

    /// Placements and changes are durable once in the log and reach the database behind, in
    /// order, with the applied mark; an event the log does not carry is durable only with its
    /// commit and stays out of the log. After a crash, recovery applies what the log holds past
    /// the applied mark, and the next run numbers after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_acknowledges_and_the_database_follows_in_order_and_recovers_from_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.log");
        let (db, sale) = database(dir.path()).await;

        let recovered = order_log::recover(&db, &path).await.unwrap();
        assert_eq!((recovered.last_seq, recovered.replayed), (0, 0));
        let (journal, receiver) = actors::journal::journal_after(recovered.last_seq, 64, true);
        let settings = WriterSettings { batch_max: 64, linger: Duration::ZERO, status: Default::default() };
        let writer =
            tokio::spawn(run_writer_with_log(db.clone(), receiver, settings, recovered.log, 1 << 20));

        let append = |event| journal.slot().unwrap().append(event).unwrap();
        let placed = append(JournalEvent::OrdersPlaced(vec![order(1, sale), order(2, sale)]));
        let change = StateChange {
            order_id: OrderId(1),
            from: OrderState::PendingPayment,
            to: OrderState::Expired,
            at: NOW,
        };
        let changed = append(JournalEvent::OrdersChanged(vec![change]));
        // Durable through the log (a batch holding the next event would go by commit whole).
        journal.wait_durable(changed).await.unwrap();
        let money = append(JournalEvent::Money(Vec::new()));
        assert_eq!((placed, changed, money), (1, 2, 3));
        journal.wait_durable(money).await.unwrap();
        journal.wait_applied(money).await;
        assert_eq!(state(&db, 1).await, Some(OrderState::Expired));
        assert_eq!(state(&db, 2).await, Some(OrderState::PendingPayment));
        assert_eq!(order_log::applied_seq(&db).await.unwrap(), 3);
        journal.close().await;
        writer.await.unwrap();

        // The log holds the placements and the change, not the money event.
        let identity = crate::repo::setting(&db, order_log::IDENTITY_KEY).await.unwrap().unwrap();
        let identity = u64::from_str_radix(&identity, 16).unwrap();
        let (mut log, opened) = OrderLog::open(&path, identity).unwrap();
        assert_eq!(opened.events.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), vec![1, 2]);

        // A crash after order 3 was acknowledged (in the log) and before the database had it.
        log.append(&[(4, JournalEvent::OrdersPlaced(vec![order(3, sale)]))]).unwrap();
        drop(log);
        assert_eq!(state(&db, 3).await, None);
        let recovered = order_log::recover(&db, &path).await.unwrap();
        assert_eq!((recovered.last_seq, recovered.replayed), (4, 1));
        assert!(recovered.log.is_empty());
        assert_eq!(state(&db, 3).await, Some(OrderState::PendingPayment));
        assert_eq!(order_log::applied_seq(&db).await.unwrap(), 4);
        // Orders 1 and 2, applied before, were not applied again: order 1 is still expired.
        assert_eq!(state(&db, 1).await, Some(OrderState::Expired));
    }
}
