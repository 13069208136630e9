//! Sale lifecycle: a settled sale (ended, every hold paid, expired or cancelled) has no actor
//! and no timer, is not started at boot, is read from the database, and is started on demand
//! only for what needs its word (a late payment, which is still refunded).

use std::sync::Arc;

use actors::Clock;
use actors::clock::ManualClock;
use engine::ledger::Channel;
use engine::{ClientNetwork, FlashSaleId, Phone, Timestamp};
use persistence::entities::{flash_sale, order};
use persistence::repo::{self, NewProduct};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::helpers::{TestApp, TestDb, eventually, spawn_app, spawn_app_with_clock, test_settings};
use crate::payments::{pay_and_notify, payment_states};

const SETTLED: i64 = 10_000;
/// Settled sales that still held a hold at the crash: its deadline passed while down.
const EXPIRED_WHILE_DOWN: i64 = 100;
const LIVE: i64 = 3;

fn now_millis() -> i64 {
    actors::SystemClock.now().as_millis()
}

fn sale_row(merchant: i64, product: i64, starts_at: i64, ends_at: i64) -> flash_sale::ActiveModel {
    flash_sale::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        merchant_id: Set(merchant),
        product_id: Set(product),
        title: Set("settled".into()),
        price_fen: Set(990),
        quantity: Set(10),
        per_buyer_limit: Set(5),
        starts_at: Set(starts_at),
        ends_at: Set(ends_at),
        payment_window_secs: Set(600),
        created_at: Set(starts_at),
    }
}

#[allow(clippy::too_many_arguments)]
fn order_row(
    id: i64,
    sale: i64,
    merchant: i64,
    buyer: i64,
    state: &str,
    created_at: i64,
    expires_at: i64,
    network: &str,
) -> order::ActiveModel {
    order::ActiveModel {
        id: Set(id),
        flash_sale_id: Set(sale),
        merchant_id: Set(merchant),
        buyer_id: Set(buyer),
        quantity: Set(1),
        amount_fen: Set(990),
        state: Set(state.into()),
        idempotency_key: Set("k".into()),
        client_network: Set(Some(network.into())),
        created_at: Set(created_at),
        expires_at: Set(expires_at),
        updated_at: Set(created_at),
    }
}

/// What the seeding made: the first settled sale and the buyer of its paid order.
struct Seeded {
    first_settled: i64,
    paid_order: i64,
    buyer_phone: &'static str,
}

/// Ten thousand sales that ended an hour ago, each with a paid, an expired and a cancelled
/// order; a hundred of them also with a hold whose deadline passed while the server was down;
/// and three live sales holding one unpaid order each, all from one network.
async fn seed(db: &TestDb) -> Seeded {
    let conn = persistence::connect(&db.url, 4, false).await.unwrap();
    let now = now_millis();
    let phone = Phone::parse("13700000001").unwrap();
    let merchant = repo::insert_merchant(&conn, &phone, "x", "settled shop", Timestamp(now)).await.unwrap();
    let product = NewProduct {
        title: "t".into(),
        description: String::new(),
        image_url: String::new(),
        price_fen: engine::Fen(990),
        stock: 1_000_000,
    };
    let product = repo::insert_product(&conn, merchant, product, Timestamp(now)).await.unwrap();
    let buyer_phone = "13900000001";
    let buyer =
        repo::buyer_for_phone(&conn, &Phone::parse(buyer_phone).unwrap(), Timestamp(now)).await.unwrap();

    let (ended_from, ended_at) = (now - 7_200_000, now - 3_600_000);
    let rows: Vec<_> = (0..SETTLED).map(|_| sale_row(merchant.0, product.0, ended_from, ended_at)).collect();
    for chunk in rows.chunks(500) {
        flash_sale::Entity::insert_many(chunk.to_vec()).exec_without_returning(&conn).await.unwrap();
    }
    let live: Vec<_> =
        (0..LIVE).map(|_| sale_row(merchant.0, product.0, now - 60_000, now + 3_600_000)).collect();
    flash_sale::Entity::insert_many(live).exec_without_returning(&conn).await.unwrap();
    let ids: Vec<i64> = flash_sale::Entity::find()
        .all(&conn)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(ids.len() as i64, SETTLED + LIVE);

    let mut orders = Vec::new();
    let mut next_id = 0;
    let mut id = || {
        next_id += 1;
        next_id
    };
    let m = merchant.0;
    for (n, sale) in ids[..SETTLED as usize].iter().enumerate() {
        let (created, deadline) = (ended_from + 1_000, ended_from + 601_000);
        let paid_buyer = if n == 0 { buyer.0 } else { 10_000_000 + n as i64 };
        orders.push(order_row(id(), *sale, m, paid_buyer, "paid", created, deadline, "198.51.100.1"));
        orders.push(order_row(
            id(),
            *sale,
            m,
            20_000_000 + n as i64,
            "expired",
            created,
            deadline,
            "198.51.100.2",
        ));
        orders.push(order_row(
            id(),
            *sale,
            m,
            30_000_000 + n as i64,
            "cancelled",
            created,
            deadline,
            "198.51.100.3",
        ));
        if (n as i64) < EXPIRED_WHILE_DOWN {
            let held = order_row(
                id(),
                *sale,
                m,
                40_000_000 + n as i64,
                "pending_payment",
                created,
                deadline,
                "198.51.100.4",
            );
            orders.push(held);
        }
    }
    for (n, sale) in ids[SETTLED as usize..].iter().enumerate() {
        let held = order_row(
            id(),
            *sale,
            m,
            50_000_000 + n as i64,
            "pending_payment",
            now,
            now + 600_000,
            "203.0.113.9",
        );
        orders.push(held);
    }
    for chunk in orders.chunks(500) {
        order::Entity::insert_many(chunk.to_vec()).exec_without_returning(&conn).await.unwrap();
    }
    conn.close().await.ok();
    // The first order written is the paid one of the first sale.
    Seeded { first_settled: ids[0], paid_order: 1, buyer_phone }
}

async fn pending_orders(db: &TestDb) -> u64 {
    order::Entity::find()
        .filter(order::Column::State.eq("pending_payment"))
        .count(&db.connect().await)
        .await
        .unwrap()
}

fn settings_with_default_caps(db: &TestDb) -> gateway::Settings {
    let mut settings = test_settings(db);
    settings.admission.max_unpaid_orders_per_buyer = 10;
    settings.admission.max_unpaid_orders_per_network = 100;
    settings
}

async fn settles_to_the_live_sales(app: &TestApp) {
    let registry = &app.state.registry;
    eventually("settled sales left and only the live ones run", || async {
        (registry.len(), registry.running_actors(), registry.armed_timers()) == (3, 3, 3)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_settled_sales_leave_no_actor_and_no_timer_across_restarts() {
    let db = TestDb::new().await;
    let seeded = seed(&db).await;
    let app = spawn_app(settings_with_default_caps(&db)).await;
    let registry = app.state.registry.clone();
    // Boot started only what could still change: the live sales and those holding a hold.
    assert!(registry.len() as i64 <= LIVE + EXPIRED_WHILE_DOWN, "{} actors at boot", registry.len());
    // The holds that ran out while down expire; then those sales are settled and leave.
    settles_to_the_live_sales(&app).await;
    assert_eq!(pending_orders(&db).await, LIVE as u64);
    let holds = registry.holds();
    let network = |raw: &str| ClientNetwork::parse(raw).unwrap();
    assert_eq!((holds.of_network(network("203.0.113.9")), holds.of_network(network("198.51.100.4"))), (3, 0));
    assert_eq!(holds.entries(), (3, 1), "only clients with something unpaid are kept");

    // Reading a settled sale answers from the database and starts nothing.
    let api = app.api();
    let got = api.get(&format!("/api/v1/flash-sales/{}", seeded.first_settled), None).await;
    assert_eq!(got.status, 200, "{}", got.body);
    let counts = ["available", "reserved", "sold", "quantity"].map(|k| got.body[k].as_i64().unwrap());
    assert_eq!((counts, got.body["state"].as_str()), ([9, 0, 1, 10], Some("ended")));
    // Ordering from it: a stored key replays its order, anything else has ended.
    let buyer = api.buyer(seeded.buyer_phone).await;
    let replay = api.order(seeded.first_settled, &buyer, "k", 1).await;
    assert_eq!((replay.status.as_u16(), replay.body["order_id"].as_i64()), (201, Some(seeded.paid_order)));
    assert_eq!(api.order(seeded.first_settled, &buyer, "k", 2).await.code(), "idempotency_key_reused");
    assert_eq!(api.order(seeded.first_settled, &buyer, "new", 1).await.code(), "ended");
    assert_eq!(api.get("/api/v1/flash-sales/99999999", None).await.code(), "flash_sale_not_found");
    assert_eq!((registry.len(), registry.running_actors(), registry.armed_timers()), (3, 3, 3));
    app.stop().await;

    // A restart loads the three live sales and nothing else, and counts their unpaid orders.
    let app = spawn_app(settings_with_default_caps(&db)).await;
    let registry = &app.state.registry;
    assert_eq!(registry.len(), 3, "boot started settled sales");
    settles_to_the_live_sales(&app).await;
    assert_eq!(registry.holds().of_network(network("203.0.113.9")), 3);
    assert!(registry.get(FlashSaleId(seeded.first_settled)).is_none());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_that_ends_lets_its_actor_go_and_a_late_payment_is_still_refunded() {
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(actors::SystemClock.now()));
    let app = spawn_app_with_clock(test_settings(&db), clock.clone()).await;
    let api = app.api();
    let sandbox = app.state.sandbox.clone().unwrap();
    let registry = app.state.registry.clone();

    // A sale that ends in a minute, with a minute to pay.
    let merchant = api.merchant("13600000009").await;
    let product = api
        .post("/api/v1/products", Some(&merchant), json!({"title": "t", "price_fen": 1_000, "stock": 5}))
        .await;
    // Times on the app's clock, which stands still unless moved.
    let now = chrono::DateTime::from_timestamp_millis(clock.now().as_millis()).unwrap();
    let sale = api
        .post(
            "/api/v1/flash-sales",
            Some(&merchant),
            json!({
                "product_id": product.body["product_id"], "price_fen": 1_000, "quantity": 5,
                "per_buyer_limit": 5, "payment_window_secs": 60,
                "starts_at": (now - chrono::Duration::seconds(1)).to_rfc3339(),
                "ends_at": (now + chrono::Duration::seconds(60)).to_rfc3339(),
            }),
        )
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    let sale = sale.body["flash_sale_id"].as_i64().unwrap();
    assert_eq!((registry.len(), registry.armed_timers()), (1, 0), "no hold, no timer");

    let buyer = api.buyer("13900000009").await;
    let placed = api.order(sale, &buyer, "paid", 1).await;
    let paid = placed.body["order_id"].as_i64().unwrap_or_else(|| panic!("{}", placed.body));
    let late = api.order(sale, &buyer, "late", 2).await.body["order_id"].as_i64().unwrap();
    assert_eq!(registry.armed_timers(), 1, "one timer for the sale's holds");
    let paid_no =
        api.create_payment(paid, &buyer, "wechat").await["out_trade_no"].as_str().unwrap().to_owned();
    let late_no =
        api.create_payment(late, &buyer, "wechat").await["out_trade_no"].as_str().unwrap().to_owned();
    pay_and_notify(&api, &sandbox, Channel::Wechat, &paid_no).await;
    assert_eq!(payment_states(&api, paid, &buyer).await["wechat"], "credited");

    // Two minutes later the sale has ended and the unpaid hold has run out. (The manual clock
    // moved; the actors are told to look, as the timer in real time would be a minute away.)
    clock.advance_millis(120_000);
    registry.tick_all();
    eventually("the settled sale's actor left and stopped", || async {
        (registry.len(), registry.running_actors(), registry.armed_timers()) == (0, 0, 0)
    })
    .await;
    assert_eq!(api.counts(sale).await, (4, 0, 1, 5), "read from the database");
    assert!(registry.is_empty(), "a read started nothing");
    assert_eq!(api.get(&format!("/api/v1/orders/{late}"), Some(&buyer)).await.body["state"], "expired");
    let cancel = api.post(&format!("/api/v1/orders/{late}/cancel"), Some(&buyer), json!({})).await;
    assert_eq!((cancel.status.as_u16(), cancel.code()), (409, "not_cancellable"));

    // The buyer pays the expired order anyway: the settled sale is asked on demand, says the
    // order is not payable, and the money is owed back, as before the sale ended.
    pay_and_notify(&api, &sandbox, Channel::Wechat, &late_no).await;
    let owed = ["refund_pending", "refunded"];
    assert!(owed.contains(&payment_states(&api, late, &buyer).await["wechat"].as_str()));
    assert_eq!(api.counts(sale).await, (4, 0, 1, 5), "the late payment sold nothing");
    eventually("the actor started for the payment left again", || async {
        (registry.len(), registry.running_actors(), registry.armed_timers()) == (0, 0, 0)
    })
    .await;
    app.stop().await;
}
