//! Payments end to end: the real server, the bundled sandboxes speaking the real protocols,
//! notifications delivered by the test (duplicated, shuffled, dropped, forged, altered, stale),
//! and every expected fen computed here, independently of the server's code.

use std::collections::HashMap;
use std::sync::Arc;

use engine::Fen;
use engine::ledger::Channel;
use providers::crypto::ChannelKeys;
use reqwest::StatusCode;
use sandbox::{Notification, Sandbox};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::helpers::{Api, Rng, TestDb, by_channel, spawn_app, test_settings};

/// The settlement rules, written out again: fee half up at 20 bps, partner share floored.
fn expected_shares(gross: i64, partner_bps: i64) -> (i64, i64, i64) {
    let fee = (gross * 20 + 5_000) / 10_000;
    let net = gross - fee;
    let partner = net * partner_bps / 10_000;
    (fee, net - partner, partner)
}

fn channel_name(channel: Channel) -> &'static str {
    channel.as_str()
}

async fn captures(db: &sea_orm::DatabaseConnection) -> u64 {
    persistence::entities::capture::Entity::find().count(db).await.unwrap()
}

async fn partner_owed(db: &sea_orm::DatabaseConnection, partner: i64) -> i64 {
    use persistence::entities::posting_line;
    let lines = posting_line::Entity::find()
        .filter(posting_line::Column::Account.eq(format!("partner_available:{partner}")))
        .all(db)
        .await
        .unwrap();
    -lines.iter().map(|l| l.amount_fen).sum::<i64>()
}

/// One paid trade of the chaos test.
struct Paid {
    channel: Channel,
    out_trade_no: String,
    order_id: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notification_chaos_credits_each_genuine_payment_exactly_once() {
    const MERCHANTS: usize = 50;
    const ORDERS_PER_MERCHANT: usize = 40;
    let mut rng = Rng::from_env_or_time("notification_chaos");
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let sandbox = app.state.sandbox.clone().expect("the bundled sandbox is on");
    let operator = api.operator().await;
    // Bills are by Beijing day: a run across Beijing midnight (16:00 UTC) spans two.
    let first_day = engine::BeijingDay::of(app.state.clock.now());
    let mcn = api.post("/api/v1/operator/partners", Some(&operator), json!({"name": "星光 MCN"})).await;
    assert_eq!(mcn.status, 201, "{}", mcn.body);
    let mcn = mcn.body["partner_id"].as_i64().unwrap();

    // 50 merchants with prices that exercise the rounding; every fifth shares 10% with the MCN.
    let mut merchants = Vec::new();
    for m in 0..MERCHANTS {
        let price = 250 + 37 * m as i64 + 1_000 * (m as i64 % 7);
        let (token, merchant_id, sale) =
            api.merchant_sale(&format!("135{m:08}"), price, ORDERS_PER_MERCHANT as i64, 3_600).await;
        let bps = if m % 5 == 0 { 1_000 } else { 0 };
        if bps > 0 {
            let split = api
                .put_json(
                    &format!("/api/v1/operator/merchants/{merchant_id}/split"),
                    &operator,
                    json!({"partners": [{"partner_id": mcn, "bps": bps}]}),
                )
                .await;
            assert_eq!(split.status, 200, "{}", split.body);
            // Answered once durable: the settlement actor journaled it.
            let stored = persistence::money::split_rule(&app.state.db, engine::MerchantId(merchant_id));
            let stored = stored.await.unwrap();
            assert_eq!(stored.partners(), [(engine::ledger::PartnerId(mcn), 1_000)]);
        }
        merchants.push((token, sale, price, bps));
    }
    let buyers = api.buyers(13_700_000_000, ORDERS_PER_MERCHANT as u64, 16).await;

    // 2,000 orders, each with a payment at the channel, paid by its buyer at the sandbox.
    let mut tasks = tokio::task::JoinSet::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(32));
    for (m, (_, sale, _, _)) in merchants.iter().enumerate() {
        for (b, buyer) in buyers.iter().enumerate() {
            let (api, buyer, sale, sandbox) = (api.clone(), buyer.clone(), *sale, sandbox.clone());
            let permit = limit.clone().acquire_owned().await.unwrap();
            let channel = if (m + b) % 2 == 0 { Channel::Wechat } else { Channel::Alipay };
            tasks.spawn(async move {
                let placed = api.order(sale, &buyer, &format!("chaos-{m}-{b}"), 1).await;
                assert_eq!(placed.status, 201, "{}", placed.body);
                let order_id = placed.body["order_id"].as_i64().unwrap();
                let payment = api.create_payment(order_id, &buyer, channel_name(channel)).await;
                assert_eq!(payment["channel"], channel_name(channel), "{payment}");
                let out_trade_no = payment["out_trade_no"].as_str().unwrap().to_owned();
                sandbox.pay(channel, &out_trade_no).expect("the sandbox takes the payment");
                drop(permit);
                (m, Paid { channel, out_trade_no, order_id })
            });
        }
    }
    let mut paid: Vec<(usize, Paid)> = Vec::new();
    while let Some(done) = tasks.join_next().await {
        paid.push(done.unwrap());
    }
    paid.sort_by_key(|(_, p)| p.order_id);
    assert_eq!(paid.len(), MERCHANTS * ORDERS_PER_MERCHANT);

    // The bad ones: 5% forged (another key), 2% correctly signed with a wrong amount, 2% stale
    // (WeChat's signed timestamp more than five minutes old).
    let impostor = Sandbox::new(Arc::new(ChannelKeys::generate()), sandbox.settings.clone());
    let now_secs = chrono::Utc::now().timestamp();
    let mut bad: Vec<(Notification, &'static str)> = Vec::new();
    for (_, p) in &paid {
        let trade = sandbox.trade(p.channel, &p.out_trade_no).unwrap();
        let roll = rng.below(100);
        let wrong = Fen(trade.amount.as_i64() + 1 + rng.below(500) as i64);
        let notification = match (roll, p.channel) {
            (0..5, Channel::Wechat) => {
                (impostor.wechat_notification(&trade, trade.amount, now_secs), "forged")
            }
            (0..5, Channel::Alipay) => (impostor.alipay_notification(&trade, trade.amount), "forged"),
            (5..7, Channel::Wechat) => (sandbox.wechat_notification(&trade, wrong, now_secs), "amount"),
            (5..7, Channel::Alipay) => (sandbox.alipay_notification(&trade, wrong), "amount"),
            (7..9, Channel::Wechat) => {
                let age = 301 + rng.below(3_000) as i64;
                (sandbox.wechat_notification(&trade, trade.amount, now_secs - age), "stale")
            }
            _ => continue,
        };
        bad.push(notification);
    }
    assert!(bad.len() > 100, "{} bad notifications", bad.len());
    let connection = db.connect().await;

    // First the bad ones alone: every one refused, nothing credited anywhere.
    rng.shuffle(&mut bad);
    for (notification, kind) in &bad {
        let (status, body) = api.deliver(notification).await;
        assert!(!status.is_success(), "a {kind} notification was accepted: {status} {body}");
    }
    assert_eq!(captures(&connection).await, 0);
    for (token, _, _, _) in &merchants {
        assert_eq!(api.balance(token).await, (0, 0, 0));
    }

    // Then the genuine ones: 10% never arrive, the others 1 to 5 times each, shuffled, with the
    // bad ones again in between, many at once.
    let mut deliveries: Vec<(Notification, bool)> = Vec::new();
    let mut dropped = 0u32;
    for (_, p) in &paid {
        if rng.below(100) < 10 {
            dropped += 1;
            continue;
        }
        for _ in 0..1 + rng.below(5) {
            deliveries.push((sandbox.notification(p.channel, &p.out_trade_no).unwrap(), true));
        }
    }
    deliveries.extend(bad.iter().map(|(n, _)| (n.clone(), false)));
    rng.shuffle(&mut deliveries);
    let total_deliveries = deliveries.len();
    let mut tasks = tokio::task::JoinSet::new();
    for (notification, genuine) in deliveries {
        let api = api.clone();
        let permit = limit.clone().acquire_owned().await.unwrap();
        tasks.spawn(async move {
            // A 5xx asks the channel to come back later (the server was busy); channels do.
            let mut answer = api.deliver(&notification).await;
            for _ in 0..20 {
                if !answer.0.is_server_error() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                answer = api.deliver(&notification).await;
            }
            let (status, body) = answer;
            drop(permit);
            assert_eq!(status.is_success(), genuine, "{status} {body}");
            assert!(status.is_success() || status.is_client_error(), "{status} {body}");
            if genuine && notification.content_type.starts_with("application/x-www-form-urlencoded") {
                assert_eq!(body, "success");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    eprintln!("delivered {total_deliveries} notifications; {dropped} payments never notified");
    assert_eq!(captures(&connection).await, (paid.len() as u64) - u64::from(dropped));

    // The active query finds exactly the payments whose notifications never came.
    let sweep = api.post("/api/v1/operator/payments/query", Some(&operator), json!({})).await;
    assert_eq!(sweep.status, 200, "{}", sweep.body);
    assert_eq!(sweep.body["found_paid"].as_u64().unwrap(), u64::from(dropped), "{}", sweep.body);
    assert_eq!(sweep.body["failed"].as_u64().unwrap(), 0, "{}", sweep.body);
    let again = api.post("/api/v1/operator/payments/query", Some(&operator), json!({})).await;
    assert_eq!(again.body["queried"].as_u64().unwrap(), 0, "nothing is left to ask about: {}", again.body);
    assert_eq!(captures(&connection).await, paid.len() as u64);
    // Each paid order's notice was committed with its payment, once per channel, whatever the
    // duplicates and retries.
    for (_, p) in &paid {
        let messages = persistence::outbox::of_order(&connection, engine::OrderId(p.order_id)).await.unwrap();
        let keys: Vec<String> = messages.into_iter().map(|m| m.dedupe_key).collect();
        let expected =
            [format!("order_paid:{}:sms", p.order_id), format!("order_paid:{}:wechat_mp", p.order_id)];
        assert_eq!(keys, expected);
    }
    // The server's own worker delivers them: one text per paid order, carrying its dedupe key
    // (the buyers have no WeChat openid: those are skipped, not sent).
    let sms = app.state.sms_sandbox.clone().expect("the SMS sandbox is mounted");
    let paid_texts = || -> Vec<String> {
        let mut keys: Vec<String> = sms
            .messages(None, usize::MAX)
            .into_iter()
            .filter(|m| m.template_id == "2100101")
            .map(|m| m.session_context)
            .collect();
        keys.sort();
        keys
    };
    let mut expected: Vec<String> =
        paid.iter().map(|(_, p)| format!("order_paid:{}:sms", p.order_id)).collect();
    expected.sort();
    for _ in 0..600 {
        if paid_texts().len() >= expected.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(paid_texts(), expected, "each paid order's text sent exactly once");
    let pending = persistence::outbox::count(&connection, engine::notification::OutboxState::Pending).await;
    assert_eq!(pending.unwrap(), 0, "nothing left waiting");

    // Every genuine payment credited exactly once, to the fen.
    let mut expected_mcn = 0;
    for (m, (token, sale, price, bps)) in merchants.iter().enumerate() {
        let (_, merchant_share, partner_share) = expected_shares(*price, *bps);
        let orders = paid.iter().filter(|(pm, _)| *pm == m).count() as i64;
        assert_eq!(api.balance(token).await, (merchant_share * orders, 0, 0), "merchant {m}");
        expected_mcn += partner_share * orders;
        assert_eq!(api.counts(*sale).await, (0, 0, ORDERS_PER_MERCHANT as i64, ORDERS_PER_MERCHANT as i64));
    }
    assert_eq!(partner_owed(&connection, mcn).await, expected_mcn);
    for (_, p) in paid.iter().step_by(97) {
        let order = api.get(&format!("/api/v1/orders/{}", p.order_id), Some(&operator)).await;
        assert_eq!(order.body["state"], "paid", "{}", order.body);
    }
    let check = api.get("/api/v1/operator/ledger/check", Some(&operator)).await;
    assert_eq!(check.body["balanced"], true, "{}", check.body);
    assert_eq!(check.body["postings"].as_u64().unwrap(), paid.len() as u64);
    let days = api.reconcile_days(&operator, first_day, engine::BeijingDay::of(app.state.clock.now())).await;
    assert_eq!(by_channel(&days, "/ledger/lines").values().sum::<i64>(), 2_000);

    // The settlement actors' own books agree with the database.
    for (token, _, _, _) in merchants.iter().take(5) {
        let id =
            api.get("/api/v1/merchants/me/balance", Some(token)).await.body["merchant_id"].as_i64().unwrap();
        let books = app.state.payments.settlements.get(engine::MerchantId(id)).unwrap();
        let (balances, verified) = books.verify().await.unwrap();
        assert_eq!(verified, Ok(()));
        assert_eq!(balances.available.as_i64(), api.balance(token).await.0);
    }
    app.stop().await;
}

/// A sale of one merchant with `quantity` units at `price`, and a buyer.
async fn shop(api: &Api, phone: &str, price: i64, quantity: i64, window_secs: i64) -> (String, i64, String) {
    let (merchant, _, sale) = api.merchant_sale(phone, price, quantity, window_secs).await;
    let buyer = api.buyer(&format!("1{}", &phone[1..])).await;
    (merchant, sale, buyer)
}

async fn order(api: &Api, sale: i64, buyer: &str, key: &str) -> i64 {
    let placed = api.order(sale, buyer, key, 1).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    placed.body["order_id"].as_i64().unwrap()
}

pub(crate) async fn pay_and_notify(
    api: &Api,
    sandbox: &Arc<Sandbox>,
    channel: Channel,
    out_trade_no: &str,
) -> StatusCode {
    sandbox.pay(channel, out_trade_no).unwrap();
    let notification = sandbox.notification(channel, out_trade_no).unwrap();
    let mut answer = api.deliver(&notification).await;
    // A 5xx (busy) is retried, as the channel would.
    for _ in 0..20 {
        if !answer.0.is_server_error() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        answer = api.deliver(&notification).await;
    }
    let (status, body) = answer;
    assert!(status.is_success(), "{status} {body}");
    status
}

pub(crate) async fn payment_states(api: &Api, order_id: i64, token: &str) -> HashMap<String, String> {
    let list = api.get(&format!("/api/v1/orders/{order_id}/payments"), Some(token)).await;
    list.body["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["channel"].as_str().unwrap().to_owned(), p["state"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_and_double_payments_are_refunded_and_the_stock_stays_whole() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let first_day = engine::BeijingDay::of(app.state.clock.now());
    let api = app.api();
    let sandbox = app.state.sandbox.clone().unwrap();
    let operator = api.operator().await;
    let (merchant, sale, buyer) = shop(&api, "13500000001", 1_000, 5, 1).await;

    // Late: the payment window is 1 s; the buyer pays after it.
    let late = order(&api, sale, &buyer, "late").await;
    let payment = api.create_payment(late, &buyer, "wechat").await;
    let late_no = payment["out_trade_no"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    pay_and_notify(&api, &sandbox, Channel::Wechat, &late_no).await;
    // Owed back at once; the refund worker, woken by it, may already have sent it.
    let owed = ["refund_pending", "refunded"];
    assert!(owed.contains(&payment_states(&api, late, &buyer).await["wechat"].as_str()));
    let order_now = api.get(&format!("/api/v1/orders/{late}"), Some(&buyer)).await;
    assert_eq!(order_now.body["state"], "expired");
    assert_eq!(api.counts(sale).await, (5, 0, 0, 5), "the late payment sold nothing");

    // Double: the buyer pays the same order through both channels.
    let double = order(&api, sale, &buyer, "double").await;
    let w = api.create_payment(double, &buyer, "wechat").await["out_trade_no"].as_str().unwrap().to_owned();
    let a = api.create_payment(double, &buyer, "alipay").await["out_trade_no"].as_str().unwrap().to_owned();
    pay_and_notify(&api, &sandbox, Channel::Alipay, &a).await;
    pay_and_notify(&api, &sandbox, Channel::Wechat, &w).await;
    // …and the notifications come again.
    pay_and_notify(&api, &sandbox, Channel::Wechat, &w).await;
    pay_and_notify(&api, &sandbox, Channel::Alipay, &a).await;
    let states = payment_states(&api, double, &buyer).await;
    assert_eq!(states["alipay"], "credited");
    assert!(owed.contains(&states["wechat"].as_str()), "{states:?}");
    let (_, merchant_share, _) = expected_shares(1_000, 0);
    assert_eq!(api.balance(&merchant).await, (merchant_share, 0, 0));
    assert_eq!(api.counts(sale).await, (4, 0, 1, 5));

    // The refund worker pays both back at the channel, once, however often it runs.
    for _ in 0..3 {
        let run = api.post("/api/v1/operator/refunds/run", Some(&operator), json!({})).await;
        assert_eq!(run.status, 200, "{}", run.body);
    }
    assert_eq!(sandbox.trade(Channel::Wechat, &late_no).unwrap().refunded(), Fen(1_000));
    assert_eq!(sandbox.trade(Channel::Wechat, &w).unwrap().refunded(), Fen(1_000));
    assert_eq!(sandbox.trade(Channel::Alipay, &a).unwrap().refunded(), Fen(0));
    // WeChat Pay answered each refund PROCESSING first; the worker came back for the result
    // instead of asking again, so each payment has exactly one refund, settled.
    for no in [&late_no, &w] {
        let refunds = sandbox.trade(Channel::Wechat, no).unwrap().refunds;
        assert_eq!(refunds.len(), 1, "{refunds:?}");
        assert_eq!(refunds[0].status, sandbox::RefundStatus::Success);
    }
    assert_eq!(payment_states(&api, late, &buyer).await["wechat"], "refunded");
    assert_eq!(payment_states(&api, double, &buyer).await["wechat"], "refunded");
    assert_eq!(api.balance(&merchant).await, (merchant_share, 0, 0));
    let order_now = api.get(&format!("/api/v1/orders/{double}"), Some(&buyer)).await;
    assert_eq!(order_now.body["state"], "paid");

    let days = api.reconcile_days(&operator, first_day, engine::BeijingDay::of(app.state.clock.now())).await;
    assert_eq!(by_channel(&days, "/statement/refunded_fen")["wechat"], 2_000);
    let check = api.get("/api/v1/operator/ledger/check", Some(&operator)).await;
    assert_eq!(check.body["balanced"], true, "{}", check.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_60000_yuan_order_waits_for_review_and_is_credited_only_on_approval() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let first_day = engine::BeijingDay::of(app.state.clock.now());
    let api = app.api();
    let sandbox = app.state.sandbox.clone().unwrap();
    let operator = api.operator().await;
    let (merchant, sale, buyer) = shop(&api, "13500000002", 6_000_000, 2, 900).await;
    let (fee, merchant_share, _) = expected_shares(6_000_000, 0);

    let approved = order(&api, sale, &buyer, "a").await;
    let no =
        api.create_payment(approved, &buyer, "wechat").await["out_trade_no"].as_str().unwrap().to_owned();
    pay_and_notify(&api, &sandbox, Channel::Wechat, &no).await;
    assert_eq!(api.balance(&merchant).await, (0, 6_000_000 - fee, 0), "held, not available");
    let queue = api.get("/api/v1/operator/reviews", Some(&operator)).await;
    assert_eq!(queue.body["reviews"].as_array().unwrap().len(), 1, "{}", queue.body);
    assert_eq!(queue.body["reviews"][0]["order_id"], approved);
    // A withdrawal cannot touch held money.
    api.put_json(
        &format!("/api/v1/operator/merchants/{}/kyc", merchant_id(&api, &merchant).await),
        &operator,
        json!({"verified": true}),
    )
    .await;
    let early =
        api.post("/api/v1/merchants/me/withdrawals", Some(&merchant), json!({"amount_fen": 100})).await;
    assert_eq!((early.status.as_u16(), early.code()), (409, "insufficient_funds"), "{}", early.body);

    let decided =
        api.post(&format!("/api/v1/operator/reviews/{approved}/approve"), Some(&operator), json!({})).await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    assert_eq!(api.balance(&merchant).await, (merchant_share, 0, 0));
    let twice =
        api.post(&format!("/api/v1/operator/reviews/{approved}/approve"), Some(&operator), json!({})).await;
    assert_eq!((twice.status.as_u16(), twice.code()), (409, "not_under_review"));

    // A second one is rejected: nothing credited, the buyer refunded, the order refunded.
    let rejected = order(&api, sale, &buyer, "b").await;
    let no =
        api.create_payment(rejected, &buyer, "alipay").await["out_trade_no"].as_str().unwrap().to_owned();
    pay_and_notify(&api, &sandbox, Channel::Alipay, &no).await;
    assert_eq!(api.balance(&merchant).await, (merchant_share, 6_000_000 - fee, 0));
    let decided =
        api.post(&format!("/api/v1/operator/reviews/{rejected}/reject"), Some(&operator), json!({})).await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    api.post("/api/v1/operator/refunds/run", Some(&operator), json!({})).await;
    assert_eq!(api.balance(&merchant).await, (merchant_share, 0, 0));
    assert_eq!(sandbox.trade(Channel::Alipay, &no).unwrap().refunded(), Fen(6_000_000));
    let order_now = api.get(&format!("/api/v1/orders/{rejected}"), Some(&buyer)).await;
    assert_eq!(order_now.body["state"], "refunded");
    let check = api.get("/api/v1/operator/ledger/check", Some(&operator)).await;
    assert_eq!(check.body["balanced"], true, "{}", check.body);
    api.reconcile_days(&operator, first_day, engine::BeijingDay::of(app.state.clock.now())).await;
    app.stop().await;
}

async fn merchant_id(api: &Api, token: &str) -> i64 {
    api.get("/api/v1/merchants/me/balance", Some(token)).await.body["merchant_id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawals_need_kyc_hold_funds_and_the_statement_exports() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let sandbox = app.state.sandbox.clone().unwrap();
    let operator = api.operator().await;
    let (merchant, sale, buyer) = shop(&api, "13500000003", 10_000, 3, 900).await;
    for key in ["1", "2", "3"] {
        let id = order(&api, sale, &buyer, key).await;
        let no = api.create_payment(id, &buyer, "wechat").await["out_trade_no"].as_str().unwrap().to_owned();
        pay_and_notify(&api, &sandbox, Channel::Wechat, &no).await;
    }
    let (_, share, _) = expected_shares(10_000, 0);
    assert_eq!(api.balance(&merchant).await, (3 * share, 0, 0));

    let no_kyc =
        api.post("/api/v1/merchants/me/withdrawals", Some(&merchant), json!({"amount_fen": 5_000})).await;
    assert_eq!((no_kyc.status.as_u16(), no_kyc.code()), (403, "kyc_required"), "{}", no_kyc.body);
    let id = merchant_id(&api, &merchant).await;
    let kyc = api
        .put_json(&format!("/api/v1/operator/merchants/{id}/kyc"), &operator, json!({"verified": true}))
        .await;
    assert_eq!(kyc.status, 200, "{}", kyc.body);
    let stored = persistence::money::books(&app.state.db, engine::MerchantId(id)).await.unwrap();
    assert!(stored.kyc_verified, "answered once the settlement actor's decision is durable");
    for (amount, status, code) in
        [(0, 422, "invalid_amount"), (50, 422, "below_minimum"), (3 * share + 1, 409, "insufficient_funds")]
    {
        let refused = api
            .post("/api/v1/merchants/me/withdrawals", Some(&merchant), json!({"amount_fen": amount}))
            .await;
        assert_eq!((refused.status.as_u16(), refused.code()), (status, code), "{}", refused.body);
    }
    let first =
        api.post("/api/v1/merchants/me/withdrawals", Some(&merchant), json!({"amount_fen": 12_000})).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let second =
        api.post("/api/v1/merchants/me/withdrawals", Some(&merchant), json!({"amount_fen": 5_000})).await;
    assert_eq!(second.status, 201, "{}", second.body);
    assert_eq!(api.balance(&merchant).await, (3 * share - 17_000, 0, 17_000));
    let queue = api.get("/api/v1/operator/withdrawals?state=requested", Some(&operator)).await;
    assert_eq!(queue.body["withdrawals"].as_array().unwrap().len(), 2);
    let (first_id, second_id) =
        (first.body["withdrawal_id"].as_i64().unwrap(), second.body["withdrawal_id"].as_i64().unwrap());
    let paid =
        api.post(&format!("/api/v1/operator/withdrawals/{first_id}/pay"), Some(&operator), json!({})).await;
    assert_eq!(paid.body["state"], "paid", "{}", paid.body);
    let rejected = api
        .post(
            &format!("/api/v1/operator/withdrawals/{second_id}/reject"),
            Some(&operator),
            json!({"reason": "card closed"}),
        )
        .await;
    assert_eq!(rejected.body["state"], "rejected", "{}", rejected.body);
    let again = api
        .post(&format!("/api/v1/operator/withdrawals/{first_id}/reject"), Some(&operator), json!({}))
        .await;
    assert_eq!((again.status.as_u16(), again.code()), (409, "not_pending"));
    assert_eq!(api.balance(&merchant).await, (3 * share - 12_000, 0, 0));

    // Entries: paged, filtered, and the same lines as CSV.
    let page = api.get("/api/v1/merchants/me/ledger?per_page=2&page=1", Some(&merchant)).await;
    // Lines on the merchant's accounts: 3 payments, 2 requests (available → withdrawing, two
    // lines each), 1 paid out (withdrawing), 1 returned (two lines).
    assert_eq!(page.body["total"], 10, "{}", page.body);
    assert_eq!(page.body["entries"].as_array().unwrap().len(), 2);
    let payments = api.get("/api/v1/merchants/me/ledger?kind=payment", Some(&merchant)).await;
    assert_eq!(payments.body["total"], 3);
    let sum: i64 =
        payments.body["entries"].as_array().unwrap().iter().map(|e| e["amount_fen"].as_i64().unwrap()).sum();
    assert_eq!(sum, 3 * share);
    let available =
        api.get("/api/v1/merchants/me/ledger?account=available&per_page=500", Some(&merchant)).await;
    let folded: i64 =
        available.body["entries"].as_array().unwrap().iter().map(|e| e["amount_fen"].as_i64().unwrap()).sum();
    assert_eq!(folded, api.balance(&merchant).await.0, "the balance is the fold of its entries");
    let bad = api.get("/api/v1/merchants/me/ledger?account=savings", Some(&merchant)).await;
    assert_eq!((bad.status.as_u16(), bad.code()), (422, "invalid_query"));
    let csv = api
        .client
        .get(api.url("/api/v1/merchants/me/ledger.csv"))
        .bearer_auth(&merchant)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "created_at,op_id,kind,order_id,account,amount_fen,amount_cny");
    assert_eq!(rows.len(), 1 + 10);
    // Buyers and other merchants see none of it.
    let as_buyer = api.get("/api/v1/merchants/me/balance", Some(&buyer)).await;
    assert_eq!(as_buyer.status, 403);
    let not_operator = api.get("/api/v1/operator/reviews", Some(&merchant)).await;
    assert_eq!(not_operator.status, 403);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_channel_is_skipped_and_the_other_one_offered() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.payments.failover_cooldown_secs = 2;
    let app = spawn_app(settings).await;
    let api = app.api();
    let (_, sale, buyer) = shop(&api, "13500000004", 990, 3, 900).await;
    let outage = |channel: &'static str, down: bool| {
        let api = api.clone();
        async move {
            let r = api.post(&format!("/sandbox/{channel}/outage"), None, json!({"down": down})).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
    };
    outage("wechat", true).await;
    let first = order(&api, sale, &buyer, "1").await;
    let offered = api.create_payment(first, &buyer, "wechat").await;
    assert_eq!((offered["channel"].as_str(), offered["failover"].as_bool()), (Some("alipay"), Some(true)));
    assert_eq!(offered["method"], "precreate");
    assert!(offered["qr_code"].as_str().is_some(), "{offered}");
    // Known down: the next buyer is offered Alipay without waiting on WeChat first.
    let second = order(&api, sale, &buyer, "2").await;
    assert_eq!(api.create_payment(second, &buyer, "wechat").await["channel"], "alipay");
    outage("alipay", true).await;
    let third = order(&api, sale, &buyer, "3").await;
    // No address yet: nothing is created at any channel.
    let homeless = api
        .post(&format!("/api/v1/orders/{third}/payments"), Some(&buyer), json!({"channel": "alipay"}))
        .await;
    assert_eq!((homeless.status.as_u16(), homeless.code()), (409, "address_required"), "{}", homeless.body);
    let listed = api.get(&format!("/api/v1/orders/{third}/payments"), Some(&buyer)).await;
    assert_eq!(listed.body["payments"].as_array().map(Vec::len), Some(0), "{}", listed.body);
    api.set_address(third, &buyer).await;
    let none = api
        .post(&format!("/api/v1/orders/{third}/payments"), Some(&buyer), json!({"channel": "alipay"}))
        .await;
    assert_eq!((none.status.as_u16(), none.code()), (503, "payment_channels_unavailable"), "{}", none.body);
    outage("wechat", false).await;
    outage("alipay", false).await;
    // Once the cool-down is over, WeChat is tried first again.
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let healed = api
        .post(&format!("/api/v1/orders/{third}/payments"), Some(&buyer), json!({"channel": "alipay"}))
        .await;
    assert_eq!(healed.status, 201, "{}", healed.body);
    assert_eq!(healed.body["channel"], "alipay");
    // Bad requests.
    for (body, code) in [
        (json!({"channel": "paypal"}), "invalid_channel"),
        (json!({"channel": "wechat", "method": "wap"}), "invalid_method"),
        (json!({"channel": "wechat", "method": "jsapi"}), "openid_required"),
        (
            json!({"channel": "alipay", "method": "wap", "return_url": "https://evil.example/s/x"}),
            "invalid_return_url",
        ),
        (
            json!({"channel": "alipay", "method": "wap", "return_url": format!("{}.evil.example/", api.base)}),
            "invalid_return_url",
        ),
    ] {
        let refused = api.post(&format!("/api/v1/orders/{third}/payments"), Some(&buyer), body).await;
        assert_eq!((refused.status.as_u16(), refused.code()), (422, code), "{}", refused.body);
    }
    let jsapi = api
        .post(
            &format!("/api/v1/orders/{third}/payments"),
            Some(&buyer),
            json!({"channel": "wechat", "method": "jsapi", "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}),
        )
        .await;
    assert_eq!(jsapi.status, 201, "{}", jsapi.body);
    assert!(jsapi.body["package"].as_str().unwrap().starts_with("prepay_id="), "{}", jsapi.body);
    assert_eq!(jsapi.body["signType"], "RSA");
    let other = api.buyer("13999999999").await;
    let foreign = api
        .post(&format!("/api/v1/orders/{third}/payments"), Some(&other), json!({"channel": "wechat"}))
        .await;
    assert_eq!(foreign.status, 404);
    app.stop().await;
}

/// The channels live apart from the platform here (their sandbox runs in this test process),
/// so they keep their trades and keep retrying their notifications while the platform is dead.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_between_payment_and_credit_credits_each_payment_exactly_once() {
    const ORDERS: usize = 300;
    // The child server runs on the system clock.
    let beijing_today = || engine::BeijingDay::of(actors::clock::Clock::now(&actors::SystemClock));
    let first_day = beijing_today();
    let db = TestDb::new().await;
    let keys = Arc::new(ChannelKeys::generate());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sandbox_base = format!("http://{}", listener.local_addr().unwrap());
    let defaults = gateway::Settings::default().payments;
    let sandbox = Arc::new(Sandbox::new(
        keys.clone(),
        sandbox::SandboxSettings {
            wechat_mchid: defaults.wechat.mchid,
            wechat_appid: defaults.wechat.appid,
            wechat_merchant_serial: defaults.wechat.merchant_serial_no,
            wechat_platform_serial: defaults.wechat.platform_serial,
            alipay_app_id: defaults.alipay.app_id,
            public_url: sandbox_base.clone(),
            notify: true,
            // WeChat's 15 s, 15 s, 30 s, 3 min… become 15 ms, 15 ms, 30 ms, 180 ms…
            retry_scale: 0.001,
        },
    ));
    let sandbox_server = sandbox::serve(listener, sandbox.clone()).unwrap();
    let sandbox_handle = sandbox_server.handle();
    tokio::spawn(sandbox_server);

    // The platform on a fixed port, so that the notifications find it again after the restart.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut env: Vec<(&'static str, String)> = vec![
        ("FLASHSALE__SERVER__BIND", format!("127.0.0.1:{port}")),
        ("FLASHSALE__DATABASE__URL", db.url.clone()),
        ("FLASHSALE__DEMO__SEED", "false".into()),
        ("FLASHSALE__ADMISSION__PER_IP_PER_SEC", "0".into()),
        // Every buyer of these tests orders from 127.0.0.1.
        ("FLASHSALE__ADMISSION__MAX_UNPAID_ORDERS_PER_NETWORK", "0".into()),
        ("FLASHSALE__ADMISSION__PER_BUYER_PER_SEC", "0".into()),
        ("FLASHSALE__SERVER__WORKERS", "2".into()),
        ("FLASHSALE__LOG__LEVEL", "warn".into()),
        ("FLASHSALE__OPERATOR__PASSWORD", crate::helpers::OPERATOR_PASSWORD.into()),
        ("FLASHSALE__PAYMENTS__QUERY_INTERVAL_MS", "500".into()),
        ("FLASHSALE__PAYMENTS__QUERY_AFTER_MS", "2000".into()),
    ];
    // The platform's own sandboxes stay mounted for the SMS sandbox that verifies buyers; its
    // payment channels are configured to the ones in this process and never reach its own.
    env.extend(crate::helpers::code_caps_off_env());
    let platform_env = keys.platform_env(&sandbox_base);
    let leaked: Vec<(&'static str, String)> =
        platform_env.into_iter().map(|(k, v)| (&*Box::leak(k.into_boxed_str()), v)).collect();
    env.extend(leaked);
    let mut server = crate::helpers::ChildServer::start(db.dir(), &env);
    let api = Api { base: server.base.clone(), client: crate::helpers::client() };
    let (merchant, sale, _) = shop(&api, "13500000009", 1_990, ORDERS as i64, 900).await;
    let buyers = api.buyers(13_800_000_000, ORDERS as u64, 32).await;
    let mut trades = Vec::new();
    for (i, buyer) in buyers.iter().enumerate() {
        let id = order(&api, sale, buyer, "crash-pay").await;
        let channel = if i % 2 == 0 { Channel::Wechat } else { Channel::Alipay };
        let created = api.create_payment(id, buyer, channel_name(channel)).await;
        trades.push((channel, created["out_trade_no"].as_str().unwrap().to_owned()));
    }

    // Every buyer pays; the sandbox starts notifying at once. Kill -9 while the credits are
    // landing: some payments are credited, some notified but not yet, some not even notified.
    // Half pay now; the other half pay at the channel while the platform is dead.
    let (first, second) = trades.split_at(ORDERS / 2);
    for (channel, no) in first {
        sandbox.pay(*channel, no).unwrap();
    }
    let acknowledged = || sandbox.trades().iter().filter(|t| t.acknowledged).count();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while acknowledged() < ORDERS / 8 {
        assert!(std::time::Instant::now() < deadline, "notifications are not landing");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    server.kill_9();
    for (channel, no) in second {
        sandbox.pay(*channel, no).unwrap();
    }
    let at_kill = acknowledged();
    eprintln!("killed with {at_kill} of {ORDERS} payments acknowledged to the channel");
    assert!(at_kill < ORDERS, "the kill came too late to test anything");

    // Restart on the same database and port: retries and the active query finish the job.
    let server = crate::helpers::ChildServer::start(db.dir(), &env);
    let api = Api { base: server.base.clone(), client: crate::helpers::client() };
    let (_, share, _) = expected_shares(1_990, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let (available, _, _) = api.balance(&merchant).await;
        if available == share * ORDERS as i64 {
            break;
        }
        assert!(available < share * ORDERS as i64, "credited more than once: {available}");
        assert!(std::time::Instant::now() < deadline, "only {available} fen credited");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Let every retry and query that is still under way land, then count again.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let connection = db.connect().await;
    assert_eq!(captures(&connection).await, ORDERS as u64);
    assert_eq!(api.balance(&merchant).await, (share * ORDERS as i64, 0, 0));
    assert_eq!(api.counts(sale).await, (0, 0, ORDERS as i64, ORDERS as i64));
    let operator = api.operator().await;
    let check = api.get("/api/v1/operator/ledger/check", Some(&operator)).await;
    assert_eq!(check.body["balanced"], true, "{}", check.body);
    assert_eq!(check.body["postings"].as_u64().unwrap(), ORDERS as u64);
    api.reconcile_days(&operator, first_day, beijing_today()).await;
    drop(server);
    sandbox_handle.stop(false).await;
}

/// The active query closes, at the channel, the payment of an order that can no longer be
/// paid. WeChat answers a close with a signed 204 and no body; before the sandbox signed it,
/// our client (rightly) refused the answer, so the trade was closed at the channel but stayed
/// `created` here and every sweep asked about it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_cancelled_orders_wechat_payment_marks_it_closed_and_the_next_sweep_asks_nothing() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let operator = api.operator().await;
    let (_, sale, buyer) = shop(&api, "13500000031", 1_000, 2, 600).await;
    let order_id = order(&api, sale, &buyer, "cancelled").await;
    let payment = api.create_payment(order_id, &buyer, "wechat").await;
    let out_trade_no = payment["out_trade_no"].as_str().unwrap().to_owned();
    let cancelled = api.post(&format!("/api/v1/orders/{order_id}/cancel"), Some(&buyer), json!({})).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);

    let sweep = api.post("/api/v1/operator/payments/query", Some(&operator), json!({})).await;
    assert_eq!(sweep.status, 200, "{}", sweep.body);
    assert_eq!(
        (&sweep.body["queried"], &sweep.body["closed"], &sweep.body["failed"]),
        (&json!(1), &json!(1), &json!(0)),
        "{}",
        sweep.body
    );
    assert_eq!(payment_states(&api, order_id, &buyer).await["wechat"], "closed");
    let at_channel = api.get(&format!("/sandbox/wechat/trades/{out_trade_no}"), None).await;
    assert_eq!(at_channel.body["state"], "CLOSED", "{}", at_channel.body);

    let second = api.post("/api/v1/operator/payments/query", Some(&operator), json!({})).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.body["queried"], 0, "nothing left to ask: {}", second.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_for_one_buyer_leaves_the_channel_offered_and_an_outage_still_fails_over() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.payments.failover_cooldown_secs = 600;
    let app = spawn_app(settings).await;
    let api = app.api();
    // 60 Chinese characters: 180 bytes, past WeChat's string(127) description.
    let title = "限时秒杀网红同款口红".repeat(6);
    let (_, sale, _) = api.merchant_sale_titled("13500000006", &title, 990, 4, 900).await;
    let first_buyer = api.buyer("13600000006").await;
    let next_buyer = api.buyer("13600000007").await;

    // A mistyped openid: WeChat answers 400 to this payment only. The buyer is offered Alipay
    // instead, and WeChat is not marked down for anyone.
    let first = order(&api, sale, &first_buyer, "1").await;
    api.set_address(first, &first_buyer).await;
    let offered = api
        .post(
            &format!("/api/v1/orders/{first}/payments"),
            Some(&first_buyer),
            json!({"channel": "wechat", "method": "jsapi", "openid": "typed-by-hand"}),
        )
        .await;
    assert_eq!(offered.status, 201, "{}", offered.body);
    assert_eq!(
        (offered.body["channel"].as_str(), offered.body["failover"].as_bool()),
        (Some("alipay"), Some(true))
    );
    assert!(!app.state.payments.channels.is_down(Channel::Wechat), "a 400 for one buyer is no outage");

    // The next buyer gets WeChat, and the long title was cut to fit, not refused.
    let second = order(&api, sale, &next_buyer, "2").await;
    let wechat = api.create_payment(second, &next_buyer, "wechat").await;
    assert_eq!(
        (wechat["channel"].as_str(), wechat["failover"].as_bool()),
        (Some("wechat"), Some(false)),
        "{wechat}"
    );
    let sandbox = app.state.sandbox.clone().unwrap();
    let trade = sandbox.trade(Channel::Wechat, wechat["out_trade_no"].as_str().unwrap()).unwrap();
    assert!(
        trade.description.len() <= 127 && title.starts_with(&trade.description),
        "{:?}",
        trade.description
    );
    assert_eq!(trade.description.chars().count(), 42);

    // A 5xx is an outage: failed over, and the channel skipped for the next buyer too.
    let r = api.post("/sandbox/wechat/outage", None, json!({"down": true})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let third = order(&api, sale, &next_buyer, "3").await;
    let failed_over = api.create_payment(third, &next_buyer, "wechat").await;
    assert_eq!(
        (failed_over["channel"].as_str(), failed_over["failover"].as_bool()),
        (Some("alipay"), Some(true))
    );
    assert!(app.state.payments.channels.is_down(Channel::Wechat));
    app.stop().await;
}
