//! Expiry: unpaid holds run out at their deadline, their units go back on sale and sell again,
//! and the counters stay exact throughout.

use std::sync::Arc;

use actors::clock::ManualClock;
use engine::Timestamp;

use crate::helpers::{TestDb, spawn_app, spawn_app_with_clock, stored_orders, test_settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaid_holds_expire_and_their_units_sell_again() {
    let db = TestDb::new().await;
    // Time moves only when the test says so: no waiting on the wall clock.
    let clock = Arc::new(ManualClock::new(Timestamp(chrono::Utc::now().timestamp_millis())));
    let app = spawn_app_with_clock(test_settings(&db), clock.clone()).await;
    let api = app.api();
    let sale = api.live_sale(10, 2, 1).await;
    let id = sale.flash_sale_id;
    // The sale's window is set from the wall clock: bring the manual clock up to it.
    let behind = chrono::Utc::now().timestamp_millis() - actors::Clock::now(clock.as_ref()).as_millis();
    clock.advance_millis(behind.max(0));

    let first = api.buyers(13_100_000_000, 5, 5).await;
    let mut first_orders = Vec::new();
    for (i, token) in first.iter().enumerate() {
        let placed = api.order(id, token, &format!("first-{i}"), 2).await;
        assert_eq!(placed.status, 201, "{}", placed.body);
        first_orders.push(placed.body["order_id"].as_i64().unwrap());
    }
    assert_eq!(api.counts(id).await, (0, 10, 0, 10));
    let late = api.buyer("13199999999").await;
    assert_eq!(api.order(id, &late, "late-1", 1).await.code(), "sold_out");

    // A millisecond before the one-second payment window closes nothing expires; at the
    // deadline every hold does. The sale's actor is asked to look at the clock, and the read
    // of its own counters (a message behind the tick) waits until it has.
    let handle = app.state.registry.get(engine::FlashSaleId(id)).expect("the sale's actor runs");
    clock.advance_millis(999);
    app.state.registry.tick_all();
    handle.verify().await.expect("the actor answers").1.expect("invariants hold");
    assert_eq!(api.counts(id).await, (0, 10, 0, 10), "nothing is due before the deadline");
    clock.advance_millis(1);
    app.state.registry.tick_all();
    handle.verify().await.expect("the actor answers").1.expect("invariants hold");
    assert_eq!(api.counts(id).await, (10, 0, 0, 10), "every hold expired at its deadline");

    // The freed units sell again, exactly ten of them.
    let second = api.buyers(13_200_000_000, 6, 6).await;
    let mut sold_again = 0;
    for (i, token) in second.iter().enumerate() {
        let placed = api.order(id, token, &format!("second-{i}"), 2).await;
        match placed.status.as_u16() {
            201 => sold_again += 2,
            409 => assert_eq!(placed.code(), "sold_out"),
            other => panic!("unexpected {other}: {}", placed.body),
        }
    }
    assert_eq!(sold_again, 10);
    assert_eq!(api.counts(id).await, (0, 10, 0, 10));

    // The expired orders say so, to their buyers, and the database agrees.
    for (token, order) in first.iter().zip(&first_orders) {
        let got = api.get(&format!("/api/v1/orders/{order}"), Some(token)).await;
        assert_eq!(got.body["state"], "expired", "{}", got.body);
    }
    let stored = stored_orders(&db.connect().await, id).await;
    assert_eq!(stored.get("expired"), Some(&(10, 5)), "{stored:?}");
    assert_eq!(stored.get("pending_payment"), Some(&(10, 5)), "{stored:?}");

    // Replaying the expired order's key answers with the original order, not a new one.
    let replay = api.order(id, &first[0], "first-0", 2).await;
    assert_eq!((replay.status.as_u16(), replay.body["order_id"].as_i64()), (201, Some(first_orders[0])));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_order_returns_its_units_at_once() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let sale = api.live_sale(3, 3, 600).await;
    let buyer = api.buyer("13300000001").await;
    let other = api.buyer("13300000002").await;
    let placed = api.order(sale.flash_sale_id, &buyer, "k", 3).await;
    assert_eq!(placed.status, 201);
    let order = placed.body["order_id"].as_i64().unwrap();

    let stranger =
        api.post(&format!("/api/v1/orders/{order}/cancel"), Some(&other), serde_json::json!({})).await;
    assert_eq!((stranger.status.as_u16(), stranger.code()), (404, "order_not_found"));
    assert_eq!(api.counts(sale.flash_sale_id).await, (0, 3, 0, 3));

    let cancelled =
        api.post(&format!("/api/v1/orders/{order}/cancel"), Some(&buyer), serde_json::json!({})).await;
    assert_eq!((cancelled.status.as_u16(), &cancelled.body["state"]), (200, &serde_json::json!("cancelled")));
    assert_eq!(api.counts(sale.flash_sale_id).await, (3, 0, 0, 3));
    let again =
        api.post(&format!("/api/v1/orders/{order}/cancel"), Some(&buyer), serde_json::json!({})).await;
    assert_eq!((again.status.as_u16(), again.code()), (409, "not_cancellable"));
    assert_eq!(api.get(&format!("/api/v1/orders/{order}"), Some(&buyer)).await.body["state"], "cancelled");
    app.stop().await;
}
