//! Engine reservation cost, against the cheapest possible "reservation": an atomic
//! check-and-decrement of a counter (no limits, no orders, no idempotency).

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};

use benches::{NOW, key, one, terms};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engine::{BuyerId, FlashSale, OrderId, ReserveRequest};

const UNITS: u32 = 1_000_000;

fn reserve(c: &mut Criterion) {
    let mut group = c.benchmark_group("reserve");
    group.throughput(Throughput::Elements(1));

    group.bench_function("baseline_atomic_decrement", |b| {
        let stock = AtomicU32::new(u32::MAX);
        b.iter(|| black_box(stock.fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| s.checked_sub(1))))
    });

    // Each request is a new buyer with a new key: the full cost of a first order.
    group.bench_function("engine_reserve", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = std::time::Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                let round = (iters - done).min(u64::from(UNITS));
                let mut sale = FlashSale::new(terms(1, UNITS));
                let requests: Vec<ReserveRequest> = (0..round)
                    .map(|n| ReserveRequest {
                        order_id: OrderId(n as i64),
                        buyer_id: BuyerId(n as i64),
                        quantity: one(),
                        idempotency_key: key(n),
                        client_network: None,
                    })
                    .collect();
                let started = std::time::Instant::now();
                for request in requests {
                    black_box(sale.reserve(request, NOW).is_ok());
                }
                elapsed += started.elapsed();
                done += round;
            }
            elapsed
        })
    });
    group.finish();
}

criterion_group!(benches, reserve);
criterion_main!(benches);
