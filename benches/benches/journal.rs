//! Journal commit throughput by batch size, on SQLite (the embedded default, `synchronous =
//! FULL`) and, when `TEST_DATABASE_URL` is set, on Postgres.
//!
//! Baseline in the same run: the bare insert loop, one autocommitted INSERT per order, which
//! is what persisting without a journal would cost.

use std::time::{Duration, Instant};

use actors::JournalEvent;
use benches::order;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use persistence::entities::order as order_entity;
use persistence::{DatabaseConnection, WriterSettings, repo::order_row as row};
use sea_orm::{ConnectionTrait, EntityTrait};

const ORDERS: usize = 512;

struct Target {
    name: &'static str,
    db: DatabaseConnection,
    _dir: tempfile::TempDir,
    drop_after: Option<(String, String)>,
}

async fn targets() -> Vec<Target> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}/bench.db", dir.path().display());
    let sqlite = persistence::connect(&sqlite_url, 4, true).await.unwrap();
    let mut targets = vec![Target { name: "sqlite", db: sqlite, _dir: dir, drop_after: None }];
    if let Some(admin_url) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        let name = format!("flashsale_bench_{}", std::process::id());
        let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}")).await.unwrap();
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
        let base = admin_url.rsplit_once('/').unwrap().0;
        let db = persistence::connect(&format!("{base}/{name}"), 4, true).await.unwrap();
        targets.push(Target {
            name: "postgres",
            db,
            _dir: tempfile::tempdir().unwrap(),
            drop_after: Some((admin_url, name)),
        });
    }
    for target in &targets {
        // Orders need their flash sale (foreign key): one merchant, product and sale.
        seed(&target.db).await;
    }
    targets
}

async fn seed(db: &DatabaseConnection) {
    let phone = engine::Phone::parse("13800000000").unwrap();
    let merchant = persistence::repo::insert_merchant(db, &phone, "x", "bench", benches::NOW).await.unwrap();
    let product = persistence::repo::insert_product(
        db,
        merchant,
        persistence::repo::NewProduct {
            title: "bench".into(),
            description: String::new(),
            image_url: String::new(),
            price_fen: engine::Fen(990),
            stock: 10_000_000,
        },
        benches::NOW,
    )
    .await
    .unwrap();
    let terms =
        engine::SaleTerms { merchant_id: merchant, product_id: product, ..benches::terms(0, 10_000_000) };
    let sale =
        persistence::repo::create_flash_sale(db, &terms, benches::NOW, Default::default()).await.unwrap();
    assert_eq!(sale.0, 1);
}

/// Orders with ids never used before in this process.
fn fresh_orders(next_id: &mut i64, count: usize) -> Vec<engine::Order> {
    (0..count)
        .map(|_| {
            *next_id += 1;
            order(*next_id, 1)
        })
        .collect()
}

async fn through_journal(db: &DatabaseConnection, orders: Vec<engine::Order>, batch_max: usize) -> Duration {
    let (journal, receiver) = actors::journal::journal(orders.len() + 1, true);
    for o in orders {
        journal.slot().unwrap().append(JournalEvent::OrdersPlaced(vec![o])).unwrap();
    }
    let last = journal.last_appended();
    let started = Instant::now();
    let writer = tokio::spawn(persistence::run_writer(
        db.clone(),
        receiver,
        WriterSettings { batch_max, linger: Duration::ZERO, status: Default::default() },
    ));
    journal.wait_durable(last).await.unwrap();
    let elapsed = started.elapsed();
    journal.close().await;
    writer.await.unwrap();
    elapsed
}

async fn bare_inserts(db: &DatabaseConnection, orders: Vec<engine::Order>) -> Duration {
    let started = Instant::now();
    for o in &orders {
        order_entity::Entity::insert(row(o)).exec_without_returning(db).await.unwrap();
    }
    started.elapsed()
}

fn journal_commit(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let targets = runtime.block_on(targets());
    let mut next_id = 0i64;
    for target in &targets {
        let mut group = c.benchmark_group(format!("journal_{}", target.name));
        group.throughput(Throughput::Elements(ORDERS as u64));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(10));
        group.bench_function("baseline_bare_insert_loop", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| runtime.block_on(bare_inserts(&target.db, fresh_orders(&mut next_id, ORDERS))))
                    .sum()
            })
        });
        for batch_max in [1usize, 16, 128, 512] {
            group.bench_with_input(
                BenchmarkId::new("group_commit_batch", batch_max),
                &batch_max,
                |b, &batch_max| {
                    b.iter_custom(|iters| {
                        (0..iters)
                            .map(|_| {
                                let orders = fresh_orders(&mut next_id, ORDERS);
                                runtime.block_on(through_journal(&target.db, orders, batch_max))
                            })
                            .sum()
                    })
                },
            );
        }
        group.finish();
    }
    for target in targets {
        if let Some((admin_url, name)) = target.drop_after {
            runtime.block_on(async {
                target.db.close().await.ok();
                let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .unwrap();
            });
        }
    }
}

criterion_group!(benches, journal_commit);
criterion_main!(benches);
