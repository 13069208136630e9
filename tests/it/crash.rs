//! Crash: the real binary is killed with SIGKILL in the middle of a storm and restarted on the
//! same database. Every order that was acknowledged is there for its buyer, the counters are
//! exact, and no unit is ever sold twice, before or after the crash.
//!
//! Acknowledgements wait for the order log's `fdatasync`, not for the database, so the restart
//! also proves recovery: what the log holds and the database lacked is applied before the stock
//! actor is rebuilt. Before the restart the log's tail is torn the way a crash in the middle of
//! an append tears it (a record written up to a random byte): it must be dropped whole.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::helpers::{Api, ChildServer, Rng, TestDb, client, code_caps_off_env, stored_orders};

const QUANTITY: i64 = 600;
const BUYERS: u64 = 2_000;
const LIMIT: i64 = 2;

fn env(db: &TestDb) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("FLASHSALE__DATABASE__URL", db.url.clone()),
        ("FLASHSALE__DEMO__SEED", "false".into()),
        ("FLASHSALE__ADMISSION__PER_IP_PER_SEC", "0".into()),
        // Every buyer of these tests orders from 127.0.0.1.
        ("FLASHSALE__ADMISSION__MAX_UNPAID_ORDERS_PER_NETWORK", "0".into()),
        ("FLASHSALE__ADMISSION__PER_BUYER_PER_SEC", "0".into()),
        ("FLASHSALE__SERVER__WORKERS", "2".into()),
        ("FLASHSALE__LOG__LEVEL", "warn".into()),
    ];
    env.extend(code_caps_off_env());
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_storm_loses_no_acknowledged_order() {
    let db = TestDb::new().await;
    let mut server = ChildServer::start(db.dir(), &env(&db));
    let api = Api { base: server.base.clone(), client: client() };
    let sale = api.live_sale(QUANTITY, LIMIT, 600).await;
    let id = sale.flash_sale_id;
    let tokens = Arc::new(api.buyers(13_400_000_000, BUYERS, 128).await);

    // The storm: every buyer asks for 1 or 2 units; kill -9 once 150 orders were acknowledged.
    let mut rng = Rng::from_env_or_time("crash");
    let plan: Vec<(usize, i64)> = (0..BUYERS as usize).map(|b| (b, 1 + rng.below(2) as i64)).collect();
    let acked = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (buyer, quantity) in plan.clone() {
        let (api, tokens, acked) = (api.clone(), tokens.clone(), acked.clone());
        tasks.spawn(async move {
            let response = api
                .client
                .post(api.url(&format!("/api/v1/flash-sales/{id}/orders")))
                .bearer_auth(&tokens[buyer])
                .header("Idempotency-Key", format!("crash-{buyer}"))
                .json(&serde_json::json!({ "quantity": quantity }))
                .send()
                .await;
            // A connection cut by the kill is an unknown fate, not an acknowledgement.
            let Ok(response) = response else { return None };
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.ok()?;
            if status == 201 {
                acked.fetch_add(1, Ordering::SeqCst);
                return Some((buyer, body));
            }
            None
        });
    }
    while acked.load(Ordering::SeqCst) < 150 && !tasks.is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    server.kill_9();
    let mut acknowledged: HashMap<usize, serde_json::Value> = HashMap::new();
    while let Some(done) = tasks.join_next().await {
        if let Some((buyer, body)) = done.unwrap() {
            acknowledged.insert(buyer, body);
        }
    }
    eprintln!("crash: {} orders acknowledged before the kill", acknowledged.len());
    assert!(acknowledged.len() >= 150);
    let torn_order = tear_the_log(&db.dir().join("data/orders.log"), id, &mut rng);

    // Restart on the same database.
    let server = ChildServer::start(db.dir(), &env(&db));
    let api = Api { base: server.base.clone(), client: client() };

    // Every acknowledged order is there, for its buyer, with its token from before the crash.
    for (buyer, body) in &acknowledged {
        let order_id = body["order_id"].as_i64().unwrap();
        let got = api.get(&format!("/api/v1/orders/{order_id}"), Some(&tokens[*buyer])).await;
        assert_eq!(got.status, 200, "acknowledged order {order_id} lost: {}", got.body);
        assert_eq!(got.body["quantity"], body["quantity"]);
        assert_eq!(got.body["amount_fen"], body["amount_fen"]);
        assert_eq!(got.body["state"], "pending_payment");
        // …and the key still names it.
        let replay = api
            .order(id, &tokens[*buyer], &format!("crash-{buyer}"), body["quantity"].as_i64().unwrap())
            .await;
        assert_eq!(replay.status, 201);
        assert_eq!(replay.body["order_id"], body["order_id"]);
    }

    // The torn record was dropped whole: its order is nowhere, and the log was cut and emptied.
    let torn = persistence::repo::order(&db.connect().await, torn_order).await.unwrap();
    assert!(torn.is_none(), "an order of the torn record was applied: {torn:?}");

    // The rebuilt actor agrees with the database, to the unit.
    let stored = stored_orders(&db.connect().await, id).await;
    let held_in_db = stored.get("pending_payment").map_or(0, |s| s.0);
    let (available, reserved, sold, quantity) = api.counts(id).await;
    assert_eq!((reserved, sold, quantity), (held_in_db, 0, QUANTITY));
    assert_eq!(available + reserved + sold, QUANTITY);
    let acked_units: i64 = acknowledged.values().map(|b| b["quantity"].as_i64().unwrap()).sum();
    assert!(held_in_db >= acked_units, "db holds {held_in_db}, {acked_units} were acknowledged");

    // Sell out after the restart: exactly the quantity is ever held, no unit twice.
    let mut rng = Rng::from_env_or_time("crash-after");
    for round in 0..3 {
        for (buyer, token) in tokens.iter().enumerate() {
            let quantity = 1 + rng.below(2) as i64;
            let placed = api.order(id, token, &format!("after-{round}-{buyer}"), quantity).await;
            assert!(
                matches!(placed.status.as_u16(), 201 | 409 | 429),
                "unexpected {}: {}",
                placed.status,
                placed.body
            );
        }
        if api.counts(id).await.0 == 0 {
            break;
        }
    }
    assert_eq!(api.counts(id).await, (0, QUANTITY, 0, QUANTITY));
    let stored = stored_orders(&db.connect().await, id).await;
    assert_eq!(stored.get("pending_payment").map(|s| s.0), Some(QUANTITY), "{stored:?}");

    // Nobody is over the limit, counting orders from before and after the crash.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let rows = persistence::entities::order::Entity::find()
        .filter(persistence::entities::order::Column::FlashSaleId.eq(id))
        .filter(persistence::entities::order::Column::State.eq("pending_payment"))
        .all(&db.connect().await)
        .await
        .unwrap();
    let mut per_buyer: HashMap<i64, i64> = HashMap::new();
    for row in rows {
        *per_buyer.entry(row.buyer_id).or_default() += row.quantity;
    }
    assert!(per_buyer.values().all(|q| *q <= LIMIT), "a buyer is over the limit after the restart");
}

/// Appends to the log at `path` a record of one order of `sale`, written only up to a random
/// byte, as a crash in the middle of an append leaves it. Returns the order's id.
fn tear_the_log(path: &std::path::Path, sale: i64, rng: &mut Rng) -> engine::OrderId {
    use std::io::Write;
    let whole = std::fs::metadata(path).expect("the order log exists").len();
    assert!(whole >= 16, "the log has its header");
    let id = engine::OrderId(9_000_000_000_000 + rng.below(1_000) as i64);
    let order = engine::Order {
        id,
        flash_sale_id: engine::FlashSaleId(sale),
        merchant_id: engine::MerchantId(1),
        buyer_id: engine::BuyerId(1),
        quantity: 1,
        amount_fen: engine::Fen(100),
        state: engine::OrderState::PendingPayment,
        idempotency_key: engine::IdempotencyKey::parse("torn-record").unwrap(),
        client_network: None,
        created_at: engine::Timestamp(0),
        expires_at: engine::Timestamp(i64::MAX / 2),
        updated_at: engine::Timestamp(0),
    };
    let mut record = Vec::new();
    persistence::order_log::encode(
        &[(u64::MAX / 2, actors::JournalEvent::OrdersPlaced(vec![order]))],
        &mut record,
    );
    let cut = rng.below(record.len() as u64) as usize;
    eprintln!("crash: log of {whole} bytes, a record of {} bytes torn after byte {cut}", record.len());
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(&record[..cut]).unwrap();
    id
}
