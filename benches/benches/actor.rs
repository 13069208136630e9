//! Reservations through the stock actors (message, engine, the set of buyers who ordered,
//! journal append), one message per order and in batches, for one hot sale and spread over
//! 1,000 sales. The journal is drained by a task that marks events durable at once: this
//! measures the actor path, not the database (see the `journal` bench for that).
//!
//! Baseline in the same run: an atomic check-and-decrement.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use actors::{ActorSettings, OrderIds, PlaceRequest, SaleHandle, StockRegistry, journal};
use benches::{NOW, key, one, terms};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engine::BuyerId;

const BATCH: usize = 1_024;
/// Messages in flight at once: below the mailbox capacity, so no send is refused.
const WINDOW: usize = 4_096;

fn registry() -> StockRegistry {
    let (journal, mut receiver) = journal::journal(1 << 20, false);
    actix_rt::spawn(async move {
        let mut batch = Vec::new();
        while receiver.next_batch(&mut batch, 65_536).await {
            if let Some((last, _)) = batch.last() {
                receiver.mark_durable(*last);
            }
            batch.clear();
        }
    });
    let settings = ActorSettings {
        arbiters: 1,
        mailbox_capacity: 2 * WINDOW,
        expiry_retry: Duration::from_millis(100),
        expiry_batch: 1_024,
    };
    // The sales open at NOW, a fixed instant; the bench clock must be inside their window.
    let clock = Arc::new(actors::clock::ManualClock::new(NOW));
    StockRegistry::new(settings, journal, clock, Arc::new(OrderIds::new(NOW, None)))
}

fn requests(from: u64, count: u64) -> Vec<PlaceRequest> {
    (from..from + count)
        .map(|n| PlaceRequest {
            buyer_id: BuyerId(n as i64),
            quantity: one(),
            idempotency_key: key(n),
            client_network: None,
        })
        .collect()
}

/// Sends `requests` one message each, spread round-robin over `sales`, `WINDOW` at a time.
async fn one_by_one(sales: &[Arc<SaleHandle>], requests: Vec<PlaceRequest>) {
    let mut pending = Vec::with_capacity(WINDOW);
    for (i, r) in requests.into_iter().enumerate() {
        let sale = &sales[i % sales.len()];
        pending
            .push(sale.try_place(r.buyer_id, r.quantity, r.idempotency_key, None).expect("mailbox has room"));
        if pending.len() == WINDOW {
            for answer in pending.drain(..) {
                assert!(answer.await.unwrap().is_ok());
            }
        }
    }
    for answer in pending {
        assert!(answer.await.unwrap().is_ok());
    }
}

/// Sends `requests` in batches of `BATCH`, each batch to one sale, round-robin.
async fn batched(sales: &[Arc<SaleHandle>], requests: Vec<PlaceRequest>) {
    let mut pending = Vec::new();
    let mut requests = requests.into_iter().peekable();
    let mut i = 0;
    while requests.peek().is_some() {
        let batch: Vec<PlaceRequest> = requests.by_ref().take(BATCH).collect();
        pending.push(sales[i % sales.len()].try_place_batch(batch).expect("mailbox has room"));
        i += 1;
        if pending.len() == WINDOW / BATCH {
            for answer in pending.drain(..) {
                assert!(answer.await.unwrap().iter().all(Result::is_ok));
            }
        }
    }
    for answer in pending {
        assert!(answer.await.unwrap().iter().all(Result::is_ok));
    }
}

fn run(iters: u64, sale_count: usize, batches: bool) -> Duration {
    let system = actix_rt::System::new();
    system.block_on(async move {
        let registry = registry();
        // Enough units that nothing is refused: round-robin of single orders, or whole batches
        // landing on one sale.
        let per_sale = (iters / sale_count as u64 + 2 * BATCH as u64).min(10_000_000) as u32;
        let sales: Vec<Arc<SaleHandle>> = (0..sale_count)
            .map(|s| registry.start(terms(s as i64 + 1, per_sale), Vec::new()).unwrap())
            .collect();
        // Every actor has started (and made its timer) before the clock runs and before the
        // arbiters are stopped at the end.
        for sale in &sales {
            let (_, verified) = sale.verify().await.expect("actor is running");
            assert_eq!(verified, Ok(()));
        }
        let work = requests(0, iters);
        let started = Instant::now();
        if batches {
            batched(&sales, work).await;
        } else {
            one_by_one(&sales, work).await;
        }
        let elapsed = started.elapsed();
        registry.shutdown();
        elapsed
    })
}

fn actor_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("actor");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.bench_function("baseline_atomic_decrement", |b| {
        let stock = AtomicU32::new(u32::MAX);
        b.iter(|| black_box(stock.fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| s.checked_sub(1))))
    });
    group.bench_function("hot_sale_one_message_per_order", |b| b.iter_custom(|n| run(n, 1, false)));
    group.bench_function("hot_sale_batches_of_1024", |b| b.iter_custom(|n| run(n, 1, true)));
    group.bench_function("1000_sales_one_message_per_order", |b| b.iter_custom(|n| run(n, 1_000, false)));
    group.bench_function("1000_sales_batches_of_1024", |b| b.iter_custom(|n| run(n, 1_000, true)));
    group.finish();
}

criterion_group!(benches, actor_path);
criterion_main!(benches);
