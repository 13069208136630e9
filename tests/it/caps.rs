//! Caps against cheap denial of service: unpaid orders per buyer and per client network across
//! all sales (exact under concurrency, freed by payment, cancellation and expiry, rebuilt after
//! a restart), the client network seen through trusted proxies, and flash sales per merchant.

use std::sync::Arc;

use actors::Clock;
use actors::clock::ManualClock;
use engine::ledger::Channel;
use serde_json::{Value, json};

use crate::helpers::{Api, Reply, TestDb, eventually, reply, spawn_app, spawn_app_with_clock, test_settings};
use crate::payments::pay_and_notify;

/// An order from a client behind the proxy at 127.0.0.1, which forwards `forwarded_for`.
async fn order_from(api: &Api, sale: i64, token: &str, key: &str, forwarded_for: &str) -> Reply {
    let response = api
        .client
        .post(api.url(&format!("/api/v1/flash-sales/{sale}/orders")))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .header("X-Forwarded-For", forwarded_for)
        .json(&json!({"quantity": 1}))
        .send()
        .await
        .expect("request sent");
    reply(response).await
}

/// A merchant with `count` live sales of 100 units (a minute to pay), on the app's clock.
async fn sales(api: &Api, phone: &str, count: usize, now_millis: i64) -> Vec<i64> {
    let merchant = api.merchant(phone).await;
    let now = chrono::DateTime::from_timestamp_millis(now_millis).unwrap();
    let mut ids = Vec::new();
    for _ in 0..count {
        let product = api
            .post("/api/v1/products", Some(&merchant), json!({"title": "t", "price_fen": 500, "stock": 100}))
            .await;
        let sale = api
            .post(
                "/api/v1/flash-sales",
                Some(&merchant),
                json!({
                    "product_id": product.body["product_id"], "price_fen": 500, "quantity": 100,
                    "per_buyer_limit": 100, "payment_window_secs": 60,
                    "starts_at": (now - chrono::Duration::seconds(1)).to_rfc3339(),
                    "ends_at": (now + chrono::Duration::hours(1)).to_rfc3339(),
                }),
            )
            .await;
        assert_eq!(sale.status, 201, "{}", sale.body);
        ids.push(sale.body["flash_sale_id"].as_i64().unwrap());
    }
    ids
}

fn order_id(reply: &Reply) -> i64 {
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["order_id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_buyer_firing_100_orders_at_10_sales_holds_exactly_the_cap_until_one_is_settled() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.admission.max_unpaid_orders_per_buyer = 3;
    settings.actors.arbiters = 4;
    let clock = Arc::new(ManualClock::new(actors::SystemClock.now()));
    let app = spawn_app_with_clock(settings.clone(), clock.clone()).await;
    let api = app.api();
    let sale_ids = sales(&api, "13600000001", 10, clock.now().as_millis()).await;
    let buyer = api.buyer("13900000001").await;

    let mut shots = tokio::task::JoinSet::new();
    for n in 0..100 {
        let (api, buyer, sale) = (api.clone(), buyer.clone(), sale_ids[n % 10]);
        shots.spawn(async move { (sale, api.order(sale, &buyer, &format!("k{n}"), 1).await) });
    }
    let mut placed = Vec::new();
    let mut refused = 0;
    while let Some(shot) = shots.join_next().await {
        let (sale, reply) = shot.unwrap();
        match reply.status.as_u16() {
            201 => placed.push((sale, order_id(&reply))),
            429 => {
                assert_eq!(reply.code(), "too_many_unpaid_orders", "{}", reply.body);
                refused += 1;
            }
            other => panic!("{other}: {}", reply.body),
        }
    }
    assert_eq!((placed.len(), refused), (3, 97));
    let holds = app.state.registry.holds();
    assert_eq!(holds.of_buyer(engine::BuyerId(1)), 3);
    // Another buyer is not held back by this one.
    let other = api.buyer("13900000002").await;
    order_id(&api.order(sale_ids[0], &other, "other", 1).await);

    // Cancelling one frees a place, for exactly one more order.
    let (_, cancelled) = placed[0];
    let cancel = api.post(&format!("/api/v1/orders/{cancelled}/cancel"), Some(&buyer), json!({})).await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    order_id(&api.order(sale_ids[5], &buyer, "after-cancel", 1).await);
    assert_eq!(api.order(sale_ids[5], &buyer, "one-more", 1).await.code(), "too_many_unpaid_orders");

    // Paying one frees a place.
    let (_, paid) = placed[1];
    let sandbox = app.state.sandbox.clone().unwrap();
    let payment = api.create_payment(paid, &buyer, "wechat").await;
    pay_and_notify(&api, &sandbox, Channel::Wechat, payment["out_trade_no"].as_str().unwrap()).await;
    order_id(&api.order(sale_ids[6], &buyer, "after-payment", 1).await);
    assert_eq!(api.order(sale_ids[6], &buyer, "one-more", 1).await.code(), "too_many_unpaid_orders");

    // A restart counts the unpaid orders again from the database: still full.
    app.stop().await;
    let app = spawn_app_with_clock(settings, clock.clone()).await;
    let api = app.api();
    assert_eq!(app.state.registry.holds().of_buyer(engine::BuyerId(1)), 3);
    assert_eq!(api.order(sale_ids[7], &buyer, "after-restart", 1).await.code(), "too_many_unpaid_orders");

    // Expiry frees them all.
    clock.advance_millis(61_000);
    app.state.registry.tick_all();
    let holds = app.state.registry.holds().clone();
    eventually("expired holds free the buyer's places", || async { holds.of_buyer(engine::BuyerId(1)) == 0 })
        .await;
    for n in 0..3 {
        order_id(&api.order(sale_ids[8], &buyer, &format!("after-expiry-{n}"), 1).await);
    }
    assert_eq!(api.order(sale_ids[8], &buyer, "one-more", 1).await.code(), "too_many_unpaid_orders");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unpaid_orders_are_capped_per_client_network_behind_a_trusted_proxy() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.admission.max_unpaid_orders_per_network = 4;
    settings.server.trusted_proxies = vec!["127.0.0.1".into()];
    settings.actors.arbiters = 2;
    let app = spawn_app(settings.clone()).await;
    let api = app.api();
    let sale_ids = sales(&api, "13600000002", 3, actors::SystemClock.now().as_millis()).await;
    let buyers = Arc::new(api.buyers(13_900_000_100, 40, 8).await);

    // Twenty buyers of one address at once, over three sales: four get through.
    let mut shots = tokio::task::JoinSet::new();
    for (n, sale) in sale_ids.iter().cycle().take(20).enumerate() {
        let (api, buyers, sale) = (api.clone(), buyers.clone(), *sale);
        shots.spawn(async move { order_from(&api, sale, &buyers[n], "k", "198.51.100.7").await });
    }
    let mut statuses = Vec::new();
    while let Some(shot) = shots.join_next().await {
        let reply = shot.unwrap();
        statuses.push((reply.status.as_u16(), reply.code().to_owned()));
    }
    let accepted = statuses.iter().filter(|(s, _)| *s == 201).count();
    let capped = statuses.iter().filter(|(s, c)| *s == 429 && c == "too_many_unpaid_orders").count();
    assert_eq!((accepted, capped), (4, 16), "{statuses:?}");

    // The client cannot escape by writing another address left of what the proxy saw.
    let forged = order_from(&api, sale_ids[0], &buyers[20], "k", "203.0.113.1, 198.51.100.7").await;
    assert_eq!((forged.status.as_u16(), forged.code()), (429, "too_many_unpaid_orders"));
    // Another address is another network.
    order_id(&order_from(&api, sale_ids[0], &buyers[21], "k", "198.51.100.8").await);

    // IPv6: a /64 is one client, however many addresses it uses; the next /64 is another.
    let v6 = sale_ids[1];
    for (n, address) in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3", "2001:db8:1:2::4"]
        .into_iter()
        .enumerate()
    {
        order_id(&order_from(&api, v6, &buyers[22 + n], "k6", address).await);
    }
    let fifth = order_from(&api, v6, &buyers[26], "k6", "2001:db8:1:2:abcd::5").await;
    assert_eq!(fifth.code(), "too_many_unpaid_orders");
    order_id(&order_from(&api, v6, &buyers[27], "k6", "2001:db8:1:3::1").await);

    // Stored with each order, the network is counted again after a restart.
    app.stop().await;
    let app = spawn_app(settings).await;
    let api = app.api();
    assert_eq!(
        order_from(&api, sale_ids[2], &buyers[28], "k", "198.51.100.7").await.code(),
        "too_many_unpaid_orders"
    );
    assert_eq!(
        order_from(&api, v6, &buyers[29], "k6", "2001:db8:1:2::9").await.code(),
        "too_many_unpaid_orders"
    );
    order_id(&order_from(&api, sale_ids[2], &buyers[30], "k", "198.51.100.9").await);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_merchant_has_at_most_its_caps_of_live_and_scheduled_sales_even_at_once() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.flash_sales.max_live_per_merchant = 3;
    settings.flash_sales.max_scheduled_per_merchant = 2;
    let app = spawn_app(settings).await;
    let api = app.api();
    let merchant = api.merchant("13600000003").await;
    let product = api
        .post("/api/v1/products", Some(&merchant), json!({"title": "t", "price_fen": 500, "stock": 1_000}))
        .await;
    let product = product.body["product_id"].as_i64().unwrap();
    let now = chrono::Utc::now();
    let window = |from_mins: i64, to_mins: i64| -> Value {
        json!({
            "product_id": product, "price_fen": 500, "quantity": 1, "per_buyer_limit": 1,
            "payment_window_secs": 60,
            "starts_at": (now + chrono::Duration::minutes(from_mins)).to_rfc3339(),
            "ends_at": (now + chrono::Duration::minutes(to_mins)).to_rfc3339(),
        })
    };

    // Ten live sales asked for at once: three are created.
    let mut asks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (api, merchant, body) = (api.clone(), merchant.clone(), window(-1, 60));
        asks.spawn(async move { api.post("/api/v1/flash-sales", Some(&merchant), body).await });
    }
    let mut outcomes = Vec::new();
    while let Some(ask) = asks.join_next().await {
        let reply = ask.unwrap();
        outcomes.push((reply.status.as_u16(), reply.code().to_owned()));
    }
    let created = outcomes.iter().filter(|(s, _)| *s == 201).count();
    let refused = outcomes.iter().filter(|(s, c)| *s == 409 && c == "too_many_live_sales").count();
    assert_eq!((created, refused), (3, 7), "{outcomes:?}");

    // Scheduled after the live ones end: two fit, a third is refused.
    for _ in 0..2 {
        assert_eq!(api.post("/api/v1/flash-sales", Some(&merchant), window(120, 180)).await.status, 201);
    }
    let third = api.post("/api/v1/flash-sales", Some(&merchant), window(240, 300)).await;
    assert_eq!((third.status.as_u16(), third.code()), (409, "too_many_scheduled_sales"));

    // Another merchant has caps of its own.
    let (_, _, _) = api.merchant_sale("13600000004", 500, 1, 60).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_switches_the_merchant_caps_off() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.flash_sales.max_live_per_merchant = 0;
    settings.flash_sales.max_scheduled_per_merchant = 0;
    let app = spawn_app(settings).await;
    let api = app.api();
    let ids = sales(&api, "13600000005", 60, actors::SystemClock.now().as_millis()).await;
    assert_eq!(ids.len(), 60, "more than the default cap of 50");
    app.stop().await;
}
