//! Exactness under a storm: 20,000 buyers hit a 1,000-unit sale through real HTTP with more
//! than 1,000 requests in flight. Exactly 1,000 units end up held, nobody is over the limit,
//! replays get the same order, and the counters, the actor and the database all agree.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::helpers::{
    Api, ChildServer, Reply, Rng, TestDb, client, code_caps_off_env, spawn_app, stored_orders, test_settings,
};

const QUANTITY: i64 = 1_000;
const BUYERS: u64 = 20_000;
const LIMIT: i64 = 2;
const IN_FLIGHT: usize = 1_200;

/// One request of the storm.
#[derive(Clone)]
struct Shot {
    buyer: usize,
    key: String,
    quantity: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn storm_sells_exactly_the_quantity_and_respects_every_limit() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.admission.per_buyer_per_sec = 2;
    settings.admission.per_buyer_burst = 10;
    let app = spawn_app(settings).await;
    let api = app.api();
    let sale = api.live_sale(QUANTITY, LIMIT, 600).await;
    let tokens = Arc::new(api.buyers(13_000_000_000, BUYERS, 256).await);

    // Every buyer gets a plan: most ask within the limit, some over it, some twice, some
    // replay their key, some reuse a key with another quantity.
    let mut rng = Rng::from_env_or_time("storm");
    let mut shots = Vec::new();
    for buyer in 0..BUYERS as usize {
        let key = |n: u32| format!("b{buyer}-k{n}");
        match rng.below(10) {
            0..=4 => shots.push(Shot { buyer, key: key(1), quantity: 1 }),
            5 | 6 => shots.push(Shot { buyer, key: key(1), quantity: 2 }),
            7 => shots.push(Shot { buyer, key: key(1), quantity: 3 }),
            8 => {
                for n in 1..=3 {
                    shots.push(Shot { buyer, key: key(n), quantity: 1 });
                }
            }
            _ => {
                shots.push(Shot { buyer, key: key(1), quantity: 2 });
                shots.push(Shot { buyer, key: key(1), quantity: 2 });
                shots.push(Shot { buyer, key: key(1), quantity: 1 });
            }
        }
    }
    rng.shuffle(&mut shots);
    let total_shots = shots.len();

    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    for shot in shots {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (api, tokens, in_flight, peak) = (api.clone(), tokens.clone(), in_flight.clone(), peak.clone());
        let sale_id = sale.flash_sale_id;
        tasks.spawn(async move {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let reply = api.order(sale_id, &tokens[shot.buyer], &shot.key, shot.quantity).await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            (shot, reply)
        });
    }
    let mut results: Vec<(Shot, Reply)> = Vec::with_capacity(total_shots);
    while let Some(done) = tasks.join_next().await {
        results.push(done.unwrap());
    }
    assert_eq!(results.len(), total_shots);
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak >= 1_000, "only {peak} requests were ever in flight at once");

    // --- what the buyers were told ---------------------------------------------------------
    let mut orders: HashMap<i64, (usize, i64)> = HashMap::new(); // order id → (buyer, quantity)
    let mut created_by_key: HashMap<(usize, String), Vec<Vec<u8>>> = HashMap::new();
    let mut outcomes: HashMap<String, usize> = HashMap::new();
    for (shot, reply) in &results {
        let outcome = match reply.status.as_u16() {
            201 => {
                let id = reply.body["order_id"].as_i64().unwrap();
                assert_eq!(reply.body["state"], "pending_payment");
                assert_eq!(reply.body["quantity"].as_i64().unwrap(), shot.quantity);
                assert_eq!(reply.body["amount_fen"].as_i64().unwrap(), 990 * shot.quantity);
                let previous = orders.insert(id, (shot.buyer, shot.quantity));
                assert!(previous.is_none_or(|p| p == (shot.buyer, shot.quantity)), "order {id} given twice");
                created_by_key.entry((shot.buyer, shot.key.clone())).or_default().push(reply.bytes.clone());
                "created".to_owned()
            }
            409 | 422 | 429 => reply.code().to_owned(),
            other => panic!("unexpected {other} for {}: {}", shot.key, reply.body),
        };
        *outcomes.entry(outcome).or_default() += 1;
        if shot.quantity > LIMIT {
            assert_eq!((reply.status.as_u16(), reply.code()), (429, "limit_exceeded"));
        }
    }
    eprintln!("storm: {total_shots} requests, peak {peak} in flight, outcomes {outcomes:?}");
    let allowed: HashSet<&str> =
        ["created", "sold_out", "insufficient_stock", "limit_exceeded", "idempotency_key_reused"].into();
    assert!(outcomes.keys().all(|k| allowed.contains(k.as_str())), "{outcomes:?}");

    let held: i64 = orders.values().map(|(_, q)| q).sum();
    assert_eq!(held, QUANTITY, "units held by acknowledged orders");
    let mut per_buyer: HashMap<usize, i64> = HashMap::new();
    for (buyer, quantity) in orders.values() {
        *per_buyer.entry(*buyer).or_default() += quantity;
    }
    assert!(per_buyer.values().all(|q| *q <= LIMIT), "a buyer holds more than {LIMIT}");
    for (key, bodies) in &created_by_key {
        assert!(bodies.windows(2).all(|w| w[0] == w[1]), "replays of {key:?} differ");
    }
    let replayed = created_by_key.values().filter(|b| b.len() > 1).count();
    assert!(replayed > 0, "the storm replayed no key successfully");

    // --- what the platform says ------------------------------------------------------------
    assert_eq!(api.counts(sale.flash_sale_id).await, (0, QUANTITY, 0, QUANTITY));
    let handle = app.state.registry.get(engine::FlashSaleId(sale.flash_sale_id)).unwrap();
    let (counts, verified) = handle.verify().await.unwrap();
    assert_eq!(verified, Ok(()));
    assert_eq!((counts.available, counts.reserved, counts.sold), (0, QUANTITY as u32, 0));

    // Every acknowledged order is in the database (acks wait for the order log; the read of the
    // counts above waited for the database to catch up with it), and nothing else.
    let stored = stored_orders(&db.connect().await, sale.flash_sale_id).await;
    assert_eq!(stored.get("pending_payment"), Some(&(QUANTITY, orders.len() as i64)), "{stored:?}");
    assert_eq!(stored.len(), 1, "{stored:?}");

    // And each is readable by its buyer.
    let sample: Vec<(i64, usize)> = orders.iter().take(200).map(|(id, (b, _))| (*id, *b)).collect();
    for (id, buyer) in sample {
        let got = api.get(&format!("/api/v1/orders/{id}"), Some(&tokens[buyer])).await;
        assert_eq!(got.status, 200, "{}", got.body);
    }
    assert_server_healthy(&api).await;
    app.stop().await;
}

pub async fn assert_server_healthy(api: &Api) {
    let health = api.get("/healthz", None).await;
    assert_eq!(health.status, 200, "{}", health.body);
}

/// The order route's counters count its answers exactly, by reason: the commonest refusals
/// through handles made once, a rarer one looked up. A child server has a metrics recorder
/// of its own, so no other test's orders are in its counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_counters_count_each_answer_once() {
    let db = TestDb::new().await;
    let mut env = vec![
        ("FLASHSALE__DATABASE__URL", db.url.clone()),
        ("FLASHSALE__DEMO__SEED", "false".to_owned()),
        ("FLASHSALE__ADMISSION__PER_IP_PER_SEC", "0".to_owned()),
        ("FLASHSALE__LOG__LEVEL", "warn".to_owned()),
    ];
    env.extend(code_caps_off_env());
    let server = ChildServer::start(db.dir(), &env);
    let api = Api { base: server.base.clone(), client: client() };
    let (_, _, sale) = api.merchant_sale("13700000031", 990, 3, 900).await;
    let fans = api.buyers(13_600_000_100, 5, 5).await;
    let mut statuses = Vec::new();
    for (n, fan) in fans.iter().enumerate() {
        statuses.push(api.order(sale, fan, &format!("counted-{n}"), 1).await.status.as_u16());
    }
    assert_eq!(statuses, [201, 201, 201, 409, 409]);
    // The first fan's key again with another quantity: refused as a reused key.
    assert_eq!(api.order(sale, &fans[0], "counted-0", 2).await.code(), "idempotency_key_reused");

    let text = api.client.get(api.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let value = |series: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("{series} is not in /metrics"))
            .to_owned()
    };
    assert_eq!(value("flashsale_orders_accepted_total"), "3");
    assert_eq!(value("flashsale_orders_rejected_total{reason=\"sold_out\"}"), "2");
    assert_eq!(value("flashsale_orders_rejected_total{reason=\"idempotency_key_reused\"}"), "1");
}

/// After a sale sells out, the gateway refuses a fan who never ordered without asking the
/// actor, and a fan who did gets the first answer to their key again, from the actor: the
/// same body, the same order; the same key with another quantity is a reused key.
#[tokio::test]
async fn a_key_answered_before_the_sell_out_replays_after_it() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let (_, _, sale) = api.merchant_sale("13700000041", 990, 2, 900).await;
    let fans = api.buyers(13_600_000_200, 3, 3).await;
    let first = api.order(sale, &fans[0], "first", 1).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(api.order(sale, &fans[1], "second", 1).await.status, 201);
    let stranger = api.order(sale, &fans[2], "third", 1).await;
    assert_eq!((stranger.status.as_u16(), stranger.code()), (409, "sold_out"));

    let handle = app.state.registry.get(engine::FlashSaleId(sale)).expect("the sale's actor");
    let buyer = |token: &str| engine::BuyerId(app.state.tokens.verify(token).expect("a buyer token").sub);
    assert!(!handle.may_have_ordered(buyer(&fans[2])));
    assert!(handle.may_have_ordered(buyer(&fans[0])) && handle.may_have_ordered(buyer(&fans[1])));
    let again = api.order(sale, &fans[0], "first", 1).await;
    assert_eq!((again.status.as_u16(), &again.body), (201, &first.body));
    let reused = api.order(sale, &fans[0], "first", 2).await;
    assert_eq!((reused.status.as_u16(), reused.code()), (422, "idempotency_key_reused"), "{}", reused.body);
    assert_eq!(api.counts(sale).await, (0, 2, 0, 2));
    app.stop().await;
}
