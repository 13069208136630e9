//! After-sales refunds end to end: the buyer asks, the merchant decides, the money goes back
//! through the channel sandbox and the ledger is reversed by the engine's proportional rule.
//! Every expected fen is computed here, written out apart from the server's code.

use std::collections::BTreeMap;

use engine::ledger::Channel;
use engine::{Fen, OrderId, RefundId};
use sea_orm::EntityTrait;
use serde_json::json;

use crate::helpers::{Api, ChildServer, TestDb, by_channel, client, spawn_app, test_settings};
use crate::payments::pay_and_notify;

/// 20 bps, half up.
fn fee(gross: i64) -> i64 {
    (gross * 20 + 5_000) / 10_000
}

/// `(fee, merchant, partner)` of a capture with a partner share of `bps`, floored.
fn capture(gross: i64, bps: i64) -> (i64, i64, i64) {
    let fee = fee(gross);
    let partner = (gross - fee) * bps / 10_000;
    (fee, gross - fee - partner, partner)
}

/// What `refunded` fen of `gross` took back of a part, floored (the merchant takes the rest).
fn back(part: i64, refunded: i64, gross: i64) -> i64 {
    part * refunded / gross
}

async fn paid_order(
    api: &Api,
    sandbox: &std::sync::Arc<sandbox::Sandbox>,
    sale: i64,
    buyer: &str,
    key: &str,
    units: i64,
    channel: Channel,
) -> (i64, String) {
    let placed = api.order(sale, buyer, key, units).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let order = placed.body["order_id"].as_i64().unwrap();
    let payment = api.create_payment(order, buyer, channel.as_str()).await;
    let trade = payment["out_trade_no"].as_str().unwrap().to_owned();
    pay_and_notify(api, sandbox, channel, &trade).await;
    (order, trade)
}

async fn partner_owed(db: &sea_orm::DatabaseConnection, partner: i64) -> i64 {
    use sea_orm::{ColumnTrait, QueryFilter};
    let lines = persistence::entities::posting_line::Entity::find()
        .filter(
            persistence::entities::posting_line::Column::Account.eq(format!("partner_available:{partner}")),
        )
        .all(db)
        .await
        .unwrap();
    -lines.iter().map(|l| l.amount_fen).sum::<i64>()
}

/// The kinds of the outbox messages about an order, with their counts.
async fn notices(db: &sea_orm::DatabaseConnection, order: i64) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for message in persistence::outbox::of_order(db, OrderId(order)).await.unwrap() {
        *kinds.entry(message.kind.as_str().to_owned()).or_default() += 1;
    }
    kinds
}

/// Runs the refund worker until nothing approved is left unpaid (WeChat Pay answers
/// PROCESSING first), at most a few passes.
async fn run_refunds(api: &Api, operator: &str) {
    for _ in 0..3 {
        let run = api.post("/api/v1/operator/refunds/run", Some(operator), json!({})).await;
        assert_eq!(run.status, 200, "{}", run.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_full_and_partial_with_an_mcn_split_agree_to_the_fen() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let first_day = engine::BeijingDay::of(app.state.clock.now());
    let api = app.api();
    let sandbox = app.state.sandbox.clone().expect("the bundled sandbox is on");
    let operator = api.operator().await;
    // 33.33 yuan a unit, 10 units; the MCN takes 30% of the net.
    let (merchant, merchant_id, sale) = api.merchant_sale("13600000001", 3_333, 10, 3_600).await;
    let mcn = api.post("/api/v1/operator/partners", Some(&operator), json!({"name": "星光 MCN"})).await;
    let mcn = mcn.body["partner_id"].as_i64().unwrap();
    let split = api
        .put_json(
            &format!("/api/v1/operator/merchants/{merchant_id}/split"),
            &operator,
            json!({"partners": [{"partner_id": mcn, "bps": 3_000}]}),
        )
        .await;
    assert_eq!(split.status, 200, "{}", split.body);
    let (fan, other, third) =
        (api.buyer("13900000001").await, api.buyer("13900000002").await, api.buyer("13900000003").await);

    // Three units at 33.33 by WeChat Pay, one by Alipay, one more by WeChat Pay that stays paid.
    let (three, three_trade) = paid_order(&api, &sandbox, sale, &fan, "three", 3, Channel::Wechat).await;
    let (one, one_trade) = paid_order(&api, &sandbox, sale, &other, "one", 1, Channel::Alipay).await;
    let (kept, _) = paid_order(&api, &sandbox, sale, &third, "kept", 1, Channel::Wechat).await;
    let (f3, m3, p3) = capture(9_999, 3_000);
    let (f1, m1, p1) = capture(3_333, 3_000);
    assert_eq!((f3, m3, p3), (20, 6_986, 2_993));
    assert_eq!((f1, m1, p1), (7, 2_329, 997));
    assert_eq!(api.balance(&merchant).await, (m3 + 2 * m1, 0, 0));
    assert_eq!(api.counts(sale).await, (5, 0, 5, 10));

    // Not the buyer's order, not a positive amount, both at once: refused.
    let refunds = |order: i64| format!("/api/v1/orders/{order}/refunds");
    let foreign = api.post(&refunds(three), Some(&other), json!({"reason": "x"})).await;
    assert_eq!((foreign.status.as_u16(), foreign.code()), (404, "order_not_found"));
    let zero = api.post(&refunds(three), Some(&fan), json!({"amount_fen": 0, "reason": "x"})).await;
    assert_eq!((zero.status.as_u16(), zero.code()), (422, "invalid_amount"));
    let both =
        api.post(&refunds(three), Some(&fan), json!({"amount_fen": 1, "quantity": 1, "reason": "x"})).await;
    assert_eq!((both.status.as_u16(), both.code()), (422, "invalid_amount"));

    // One unit of three back, before shipping, and on sale again.
    let asked = api.post(&refunds(three), Some(&fan), json!({"quantity": 1, "reason": "拍多了"})).await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    assert_eq!(
        (asked.body["amount_fen"].as_i64(), asked.body["state"].as_str()),
        (Some(3_333), Some("requested"))
    );
    let first = asked.body["refund_id"].as_i64().unwrap();
    let too_much = api.post(&refunds(three), Some(&fan), json!({"amount_fen": 6_667, "reason": "x"})).await;
    assert_eq!((too_much.status.as_u16(), too_much.code()), (409, "exceeds_refundable"), "{}", too_much.body);
    let listed = api.get("/api/v1/merchants/me/refunds?state=requested", Some(&merchant)).await;
    assert_eq!(listed.body["refunds"].as_array().unwrap().len(), 1, "{}", listed.body);
    let approve = |id: i64| format!("/api/v1/merchants/me/refunds/{id}/approve");
    let approved = api.post(&approve(first), Some(&merchant), json!({"restock": "sale"})).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["state"], "approved");
    assert_eq!(api.counts(sale).await, (6, 0, 4, 10), "the unit is on sale again");
    // A second approval, by the route and by the worker's retry of the restock: nothing moves.
    let again = api.post(&approve(first), Some(&merchant), json!({"restock": "sale"})).await;
    assert_eq!((again.status.as_u16(), again.code()), (409, "already_decided"));
    let handle = app.state.sale(engine::FlashSaleId(sale)).await.unwrap().unwrap();
    let retried = handle.try_restock(RefundId(first), OrderId(three), 1).unwrap().await.unwrap();
    assert!(retried.is_ok(), "{retried:?}");
    run_refunds(&api, &operator).await;
    assert_eq!(api.counts(sale).await, (6, 0, 4, 10), "restocked exactly once");

    let (fee_back, partner_back) = (back(f3, 3_333, 9_999), back(p3, 3_333, 9_999));
    let merchant_back = 3_333 - fee_back - partner_back;
    assert_eq!((fee_back, partner_back, merchant_back), (6, 997, 2_330));
    assert_eq!(api.balance(&merchant).await, (m3 - merchant_back + 2 * m1, 0, 0));
    assert_eq!(partner_owed(&app.state.db, mcn).await, p3 - partner_back + 2 * p1);
    let trade = sandbox.trade(Channel::Wechat, &three_trade).unwrap();
    assert_eq!(trade.refunded(), Fen(3_333));
    assert_eq!(
        trade.refunds.iter().map(|r| r.out_refund_no.clone()).collect::<Vec<_>>(),
        [format!("A{first}")]
    );
    let order_now = api.get(&format!("/api/v1/orders/{three}"), Some(&fan)).await;
    assert_eq!(order_now.body["state"], "paid");

    // The rest of it: the order is refunded, the capture reversed to the fen.
    let rest = api.post(&refunds(three), Some(&fan), json!({"reason": "不想要了"})).await;
    assert_eq!(rest.status, 201, "{}", rest.body);
    assert_eq!((rest.body["amount_fen"].as_i64(), rest.body["quantity"].as_i64()), (Some(6_666), Some(2)));
    let second = rest.body["refund_id"].as_i64().unwrap();
    let approved = api.post(&approve(second), Some(&merchant), json!({"restock": "none"})).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    run_refunds(&api, &operator).await;
    assert_eq!(api.counts(sale).await, (6, 0, 4, 10), "units kept by the merchant stay sold");
    assert_eq!(sandbox.trade(Channel::Wechat, &three_trade).unwrap().refunded(), Fen(9_999));
    assert_eq!(api.get(&format!("/api/v1/orders/{three}"), Some(&fan)).await.body["state"], "refunded");
    assert_eq!(api.balance(&merchant).await, (2 * m1, 0, 0));
    assert_eq!(partner_owed(&app.state.db, mcn).await, 2 * p1);
    let nothing_left = api.post(&refunds(three), Some(&fan), json!({"reason": "x"})).await;
    assert_eq!((nothing_left.status.as_u16(), nothing_left.code()), (409, "not_refundable"));
    assert_eq!(
        notices(&app.state.db, three).await.get("refund_approved"),
        Some(&4),
        "two refunds × two channels"
    );

    // Rejected: no money moves, the buyer is told; asked again and approved to the product.
    let whole = api.post(&refunds(one), Some(&other), json!({"reason": "质量问题"})).await;
    let whole_id = whole.body["refund_id"].as_i64().unwrap();
    let rejected = api
        .post(
            &format!("/api/v1/merchants/me/refunds/{whole_id}/reject"),
            Some(&merchant),
            json!({"reason": "商品无质量问题"}),
        )
        .await;
    assert_eq!(
        (rejected.status.as_u16(), rejected.body["state"].as_str()),
        (200, Some("rejected")),
        "{}",
        rejected.body
    );
    let late = api.post(&approve(whole_id), Some(&merchant), json!({"restock": "none"})).await;
    assert_eq!((late.status.as_u16(), late.code()), (409, "already_decided"));
    run_refunds(&api, &operator).await;
    assert_eq!(sandbox.trade(Channel::Alipay, &one_trade).unwrap().refunded(), Fen(0));
    assert_eq!(api.balance(&merchant).await, (2 * m1, 0, 0));
    assert_eq!(notices(&app.state.db, one).await.get("refund_rejected"), Some(&2));
    // …and the buyers read the decisions on their phones.
    let inbox = app.state.sms_sandbox.clone().unwrap();
    let texts =
        |phone: &'static str| inbox.messages(Some(phone), 50).into_iter().map(|m| m.text).collect::<Vec<_>>();
    let told = |phone: &'static str, text: String| {
        let texts = &texts;
        async move { texts(phone).iter().filter(|t| t.ends_with(&text)).count() == 1 }
    };
    crate::helpers::eventually("the rejection reached the buyer", || {
        told("13900000002", format!("您的订单{one}退款申请未通过：商品无质量问题"))
    })
    .await;
    crate::helpers::eventually("both approvals reached the buyer", || async {
        told("13900000001", format!("您的订单{three}退款33.33元已同意，将原路退回。")).await
            && told("13900000001", format!("您的订单{three}退款66.66元已同意，将原路退回。")).await
    })
    .await;
    let terms = persistence::entities::flash_sale::Entity::find_by_id(sale).one(&app.state.db).await.unwrap();
    let product_id = terms.unwrap().product_id;
    let stock = || async {
        persistence::entities::product::Entity::find_by_id(product_id)
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap()
            .stock
    };
    let stock_before = stock().await;
    let again = api.post(&refunds(one), Some(&other), json!({"reason": "还是想退"})).await;
    let again_id = again.body["refund_id"].as_i64().unwrap();
    let approved = api.post(&approve(again_id), Some(&merchant), json!({"restock": "product"})).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(stock().await, stock_before + 1);
    run_refunds(&api, &operator).await;
    assert_eq!(sandbox.trade(Channel::Alipay, &one_trade).unwrap().refunded(), Fen(3_333));
    assert_eq!(api.balance(&merchant).await, (m1, 0, 0), "only the kept order's share is left");
    assert_eq!(partner_owed(&app.state.db, mcn).await, p1);
    assert_eq!(api.get(&format!("/api/v1/orders/{kept}"), Some(&third)).await.body["state"], "paid");

    // The channels' bills, the ledger and the books agree to the fen.
    let today = engine::BeijingDay::of(app.state.clock.now());
    let refunded =
        by_channel(&api.reconcile_days(&operator, first_day, today).await, "/statement/refunded_fen");
    assert_eq!(refunded, BTreeMap::from([("alipay".to_owned(), 3_333), ("wechat".to_owned(), 9_999)]));
    let check = api.get("/api/v1/operator/ledger/check", Some(&operator)).await;
    assert_eq!(check.body["balanced"], true, "{}", check.body);
    let books = app.state.payments.settlement_of(engine::MerchantId(merchant_id)).await.unwrap();
    let (balances, verified) = books.verify().await.unwrap();
    assert_eq!(verified, Ok(()));
    assert_eq!(balances.available.as_i64(), m1);
    let (counts, verified) = handle.verify().await.unwrap();
    assert_eq!(verified, Ok(()));
    assert_eq!((counts.available, counts.sold), (6, 4));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restocked_units_stay_on_sale_across_a_restart() {
    let db = TestDb::new().await;
    let settings = test_settings(&db);
    let app = spawn_app(settings.clone()).await;
    let api = app.api();
    let sandbox = app.state.sandbox.clone().unwrap();
    let (merchant, _, sale) = api.merchant_sale("13600000002", 1_000, 4, 3_600).await;
    let fan = api.buyer("13900000011").await;
    let (order, _) = paid_order(&api, &sandbox, sale, &fan, "two", 2, Channel::Alipay).await;
    let asked = api
        .post(&format!("/api/v1/orders/{order}/refunds"), Some(&fan), json!({"quantity": 2, "reason": "x"}))
        .await;
    let id = asked.body["refund_id"].as_i64().unwrap();
    let approved = api
        .post(
            &format!("/api/v1/merchants/me/refunds/{id}/approve"),
            Some(&merchant),
            json!({"restock": "sale"}),
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(api.counts(sale).await, (4, 0, 0, 4));
    app.stop().await;

    let app = spawn_app(settings).await;
    let api = app.api();
    assert_eq!(api.counts(sale).await, (4, 0, 0, 4), "rebuilt with the restock, once");
    let handle = app.state.sale(engine::FlashSaleId(sale)).await.unwrap().unwrap();
    assert!(handle.try_restock(RefundId(id), OrderId(order), 2).unwrap().await.unwrap().is_ok());
    assert_eq!(api.counts(sale).await, (4, 0, 0, 4));
    let (_, verified) = handle.verify().await.unwrap();
    assert_eq!(verified, Ok(()));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_list_and_replay_dead_letters_within_their_role_and_on_the_record() {
    use persistence::entities::outbox_message;
    use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};

    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let sandbox = app.state.sandbox.clone().unwrap();
    let admin = api.operator().await;
    let finance = api.operator_with_role("fina", "finance").await;
    let reviewer = api.operator_with_role("revi", "reviewer").await;
    let (_, _, sale) = api.merchant_sale("13600000003", 1_000, 4, 3_600).await;
    let fan = api.buyer("13900000021").await;
    let (order, _) = paid_order(&api, &sandbox, sale, &fan, "dead", 1, Channel::Wechat).await;
    let sms_key = format!("order_paid:{order}:sms");
    let state_of = |key: String| {
        let db = app.state.db.clone();
        async move { persistence::outbox::by_key(&db, &key).await.unwrap().map(|m| m.state.as_str()) }
    };
    crate::helpers::eventually("the paid notice went out", || async {
        state_of(sms_key.clone()).await == Some("delivered")
    })
    .await;
    let inbox = app.state.sms_sandbox.clone().unwrap();
    let paid_texts = || {
        inbox.messages(Some("13900000021"), 50).into_iter().filter(|m| m.session_context == sms_key).count()
    };
    assert_eq!(paid_texts(), 1);
    // As if the provider had refused them until the worker gave up.
    outbox_message::Entity::update_many()
        .col_expr(outbox_message::Column::State, Expr::value("dead"))
        .filter(outbox_message::Column::OrderId.eq(order))
        .exec(&app.state.db)
        .await
        .unwrap();

    let list = "/api/v1/operator/notifications/dead-letters";
    let refused = api.get(list, Some(&reviewer)).await;
    assert_eq!((refused.status.as_u16(), refused.code()), (403, "forbidden"));
    let all = api.get(list, Some(&finance)).await;
    assert_eq!(all.status, 200, "{}", all.body);
    let keys: Vec<&str> = all.body["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["dedupe_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, [sms_key.as_str(), &format!("order_paid:{order}:wechat_mp")]);
    let first = api.get(&format!("{list}?limit=1"), Some(&finance)).await;
    assert_eq!(first.body["dead_letters"].as_array().unwrap().len(), 1);
    let after = first.body["next_after_id"].as_i64().unwrap();
    let second = api.get(&format!("{list}?after_id={after}&limit=1"), Some(&finance)).await;
    assert_eq!(second.body["dead_letters"][0]["dedupe_key"], format!("order_paid:{order}:wechat_mp"));

    let sms_id = all.body["dead_letters"][0]["id"].as_i64().unwrap();
    let replay = format!("/api/v1/operator/notifications/{sms_id}/replay");
    let refused = api.post(&replay, Some(&reviewer), json!({})).await;
    assert_eq!(refused.status, 403);
    let replayed = api.post(&replay, Some(&finance), json!({})).await;
    assert_eq!(
        (replayed.status.as_u16(), replayed.body["state"].as_str()),
        (200, Some("pending")),
        "{}",
        replayed.body
    );
    let again = api.post(&replay, Some(&finance), json!({})).await;
    assert_eq!((again.status.as_u16(), again.code()), (409, "not_a_dead_letter"));
    crate::helpers::eventually("the replayed notice went out", || async {
        state_of(sms_key.clone()).await == Some("delivered")
    })
    .await;
    assert_eq!(paid_texts(), 2, "a replay sends the message again");
    let left = api.get(list, Some(&admin)).await;
    assert_eq!(left.body["dead_letters"].as_array().unwrap().len(), 1);
    let audit = api.get("/api/v1/operator/audit?action=notification.replay", Some(&admin)).await;
    let entries = audit.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", audit.body);
    assert_eq!(
        (entries[0]["username"].as_str(), entries[0]["target"].as_str()),
        (Some("fina"), Some(format!("outbox:{sms_id}").as_str()))
    );
    app.stop().await;
}

/// The buyer's session, its login code read from the SMS provider at `sms`.
async fn session(api: &Api, sms: &Api, phone: &str) -> String {
    let sent = api.post("/api/v1/buyers/codes", None, json!({"phone": phone})).await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    let code = sms.sms_code(phone).await;
    let session = api.post("/api/v1/buyers/sessions", None, json!({"phone": phone, "code": code})).await;
    assert_eq!(session.status, 200, "{}", session.body);
    session.body["token"].as_str().unwrap().to_owned()
}

/// A POST that may meet a killed server: `None` when nothing answered.
async fn try_post(
    api: &Api,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: serde_json::Value,
) -> Option<(u16, serde_json::Value)> {
    let mut request = api.client.post(api.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or_default()))
}

/// Places, and pays at the server's own WeChat Pay sandbox, up to `orders` orders one after
/// another; stops at the first refusal (the server was killed). How many were paid at the
/// sandbox.
async fn buy_and_pay(api: Api, buyer: String, sale: i64, orders: usize, tag: usize) -> usize {
    let mut paid = 0;
    for n in 0..orders {
        let key = format!("crash-{tag}-{n}");
        let orders_path = format!("/api/v1/flash-sales/{sale}/orders");
        let Some((201, placed)) =
            try_post(&api, &orders_path, Some(&buyer), Some(&key), json!({"quantity": 1})).await
        else {
            break;
        };
        let order = placed["order_id"].as_i64().unwrap();
        let address = api
            .client
            .put(api.url(&format!("/api/v1/orders/{order}/address")))
            .bearer_auth(&buyer)
            .json(&crate::helpers::test_address())
            .send()
            .await;
        if !address.is_ok_and(|a| a.status() == 200) {
            break;
        }
        let payments = format!("/api/v1/orders/{order}/payments");
        let Some((201, payment)) =
            try_post(&api, &payments, Some(&buyer), None, json!({"channel": "wechat"})).await
        else {
            break;
        };
        let trade = payment["out_trade_no"].clone();
        let Some((200, _)) =
            try_post(&api, "/sandbox/wechat/pay", None, None, json!({"out_trade_no": trade})).await
        else {
            break;
        };
        paid += 1;
    }
    paid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_while_notices_go_out_delivers_every_paid_notice_once() {
    use persistence::entities::{order, outbox_message};
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};

    const ORDERS: usize = 1_000;
    const BUYERS: usize = 20;
    const KILL_AFTER_DELIVERED: usize = 300;
    let db = TestDb::new().await;

    // The SMS provider lives in this process, outside the one that is killed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sms_base = format!("http://{}", listener.local_addr().unwrap());
    let (secret_id, secret_key) = sandbox::sms::generate_keys();
    let mut provider_settings = gateway::Settings::default().sms_sandbox(&secret_id, &secret_key);
    provider_settings.inbox_capacity = 4 * ORDERS;
    let provider = std::sync::Arc::new(sandbox::sms::SmsSandbox::new(
        provider_settings,
        std::sync::Arc::new(actors::SystemClock),
    ));
    let sms_server = sandbox::sms::serve(listener, provider.clone()).unwrap();
    let sms_handle = sms_server.handle();
    tokio::spawn(sms_server);
    let paid_notices = || {
        let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
        for message in provider.messages(None, 8 * ORDERS) {
            if message.session_context.starts_with("order_paid:") {
                *per_key.entry(message.session_context).or_default() += 1;
            }
        }
        per_key
    };

    let mut env: Vec<(&str, String)> = vec![
        ("FLASHSALE__DATABASE__URL", db.url.clone()),
        ("FLASHSALE__DEMO__SEED", "false".into()),
        ("FLASHSALE__ADMISSION__PER_IP_PER_SEC", "0".into()),
        ("FLASHSALE__ADMISSION__MAX_UNPAID_ORDERS_PER_NETWORK", "0".into()),
        ("FLASHSALE__ADMISSION__PER_BUYER_PER_SEC", "0".into()),
        ("FLASHSALE__SERVER__WORKERS", "2".into()),
        ("FLASHSALE__LOG__LEVEL", "warn".into()),
        ("FLASHSALE__SMS__PROVIDER_URL", format!("{sms_base}/sandbox/sms")),
        ("FLASHSALE__SMS__SECRET_ID", secret_id.clone()),
        ("FLASHSALE__SMS__SECRET_KEY", secret_key.clone()),
        // A message claimed by the killed worker is taken again this soon after the restart.
        ("FLASHSALE__NOTIFICATIONS__LEASE_MS", "10000".into()),
        ("FLASHSALE__NOTIFICATIONS__POLL_INTERVAL_MS", "100".into()),
    ];
    env.extend(crate::helpers::code_caps_off_env());
    let mut server = ChildServer::start(db.dir(), &env);
    let api = Api { base: server.base.clone(), client: client() };
    let sms = Api { base: sms_base.clone(), client: client() };
    let (_, _, sale) = api.merchant_sale("13600000009", 100, ORDERS as i64, 3_600).await;
    let mut buyers = Vec::new();
    for b in 0..BUYERS {
        buyers.push(session(&api, &sms, &format!("139100000{b:02}")).await);
    }

    // Buyers pay while the worker sends; the server is killed once some notices went out.
    let mut tasks = tokio::task::JoinSet::new();
    for (b, buyer) in buyers.into_iter().enumerate() {
        tasks.spawn(buy_and_pay(api.clone(), buyer, sale, ORDERS / BUYERS, b));
    }
    // Not a timed assertion: a slow machine only makes the wait longer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while paid_notices().len() < KILL_AFTER_DELIVERED {
        assert!(std::time::Instant::now() < deadline, "{} notices out", paid_notices().len());
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    server.kill_9();
    let delivered_before_kill = paid_notices().len();
    let mut paid_at_sandbox = 0;
    while let Some(done) = tasks.join_next().await {
        paid_at_sandbox += done.unwrap();
    }

    // Restarted on the same database: every durable payment's notice goes out.
    let server = ChildServer::start(db.dir(), &env);
    let conn = db.connect().await;
    let paid: Vec<i64> = order::Entity::find()
        .filter(order::Column::State.eq("paid"))
        .all(&conn)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert!(
        paid.len() >= KILL_AFTER_DELIVERED && paid.len() <= paid_at_sandbox,
        "{} paid of {paid_at_sandbox}",
        paid.len()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let delivered = outbox_message::Entity::find()
            .filter(outbox_message::Column::Kind.eq("order_paid"))
            .filter(outbox_message::Column::Channel.eq("sms"))
            .filter(outbox_message::Column::State.eq("delivered"))
            .count(&conn)
            .await
            .unwrap();
        if delivered as usize == paid.len() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{delivered} of {} paid notices delivered", paid.len());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Counted at the provider by dedupe key (Tencent's SessionContext): each paid order's
    // notice arrived; none for an order that is not paid.
    let per_key = paid_notices();
    let expected: std::collections::BTreeSet<String> =
        paid.iter().map(|id| format!("order_paid:{id}:sms")).collect();
    let arrived: std::collections::BTreeSet<String> = per_key.keys().cloned().collect();
    assert_eq!(arrived, expected);
    // None twice: the message in flight at the kill (if the provider took it before the worker
    // could mark it) is found among the number's receipts by its SessionContext on restart.
    let copies: usize = per_key.values().map(|n| n - 1).sum();
    println!(
        "{} paid orders, {delivered_before_kill} notices out before the kill, {copies} sent twice",
        paid.len()
    );
    assert!(
        copies == 0,
        "{copies} notices arrived twice: {:?}",
        per_key.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    drop(server);
    sms_handle.stop(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_refund_input_changes_nothing_and_of_two_racing_approvals_one_wins() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let sandbox = app.state.sandbox.clone().unwrap();
    let (merchant, _, sale) = api.merchant_sale("13600000004", 500, 6, 3_600).await;
    let (stranger, _, _) = api.merchant_sale("13600000005", 500, 6, 3_600).await;
    let fan = api.buyer("13900000031").await;
    let (order, _) = paid_order(&api, &sandbox, sale, &fan, "paid", 2, Channel::Alipay).await;
    let unpaid = api.order(sale, &fan, "unpaid", 1).await.body["order_id"].as_i64().unwrap();
    let asked = api
        .post(&format!("/api/v1/orders/{order}/refunds"), Some(&fan), json!({"quantity": 2, "reason": "x"}))
        .await;
    let id = asked.body["refund_id"].as_i64().unwrap();
    let approve = format!("/api/v1/merchants/me/refunds/{id}/approve");
    let reject = format!("/api/v1/merchants/me/refunds/{id}/reject");
    let before = api.counts(sale).await;

    let cases: Vec<(&str, Option<&str>, serde_json::Value, u16, &str)> = vec![
        ("/api/v1/orders/{unpaid}/refunds", Some(&fan), json!({"reason": "x"}), 409, "not_refundable"),
        ("/api/v1/orders/999999/refunds", Some(&fan), json!({"reason": "x"}), 404, "order_not_found"),
        ("/api/v1/orders/{order}/refunds", Some(&fan), json!({"reason": " "}), 422, "invalid_field"),
        (
            "/api/v1/orders/{order}/refunds",
            Some(&fan),
            json!({"quantity": -1, "reason": "x"}),
            422,
            "invalid_amount",
        ),
        ("/api/v1/orders/{order}/refunds", Some(&fan), json!({"reason": "x"}), 409, "exceeds_refundable"),
        ("/api/v1/orders/{order}/refunds", None, json!({"reason": "x"}), 401, "unauthorized"),
        (approve.as_str(), Some(&merchant), json!({"restock": "shelf"}), 422, "invalid_restock"),
        (approve.as_str(), Some(&stranger), json!({"restock": "none"}), 404, "refund_not_found"),
        (reject.as_str(), Some(&merchant), json!({"reason": ""}), 422, "invalid_field"),
        (
            "/api/v1/merchants/me/refunds/999999/approve",
            Some(&merchant),
            json!({"restock": "none"}),
            404,
            "refund_not_found",
        ),
    ];
    for (path, token, body, status, code) in cases {
        let path = path.replace("{unpaid}", &unpaid.to_string()).replace("{order}", &order.to_string());
        let answer = api.post(&path, token, body.clone()).await;
        assert_eq!((answer.status.as_u16(), answer.code()), (status, code), "{path} {body}: {}", answer.body);
    }
    let listed = api.get("/api/v1/merchants/me/refunds?state=bogus", Some(&merchant)).await;
    assert_eq!((listed.status.as_u16(), listed.code()), (422, "invalid_query"));
    let theirs = api.get("/api/v1/merchants/me/refunds", Some(&stranger)).await;
    assert_eq!(theirs.body["refunds"].as_array().unwrap().len(), 0, "another merchant sees none");
    assert_eq!(api.counts(sale).await, before);
    let stored = persistence::refunds::of_order(&app.state.db, OrderId(order)).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].state, engine::aftersales::RefundState::Requested);

    // The merchant double-clicks: both approvals race; one wins, the units go back once.
    let (first, second) = tokio::join!(
        api.post(&approve, Some(&merchant), json!({"restock": "sale"})),
        api.post(&approve, Some(&merchant), json!({"restock": "sale"})),
    );
    let mut statuses = [first.status.as_u16(), second.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", first.body, second.body);
    let (available, reserved, sold, quantity) = before;
    assert_eq!(api.counts(sale).await, (available + 2, reserved, sold - 2, quantity));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_put_back_on_an_ended_sale_count_once_read_from_the_database() {
    use actors::Clock as _;
    use actors::clock::ManualClock;

    let db = TestDb::new().await;
    let clock = std::sync::Arc::new(ManualClock::new(actors::SystemClock.now()));
    let app = crate::helpers::spawn_app_with_clock(test_settings(&db), clock.clone()).await;
    let api = app.api();
    let sandbox = app.state.sandbox.clone().unwrap();
    let registry = app.state.registry.clone();
    let merchant = api.merchant("13600000006").await;
    let product = api
        .post("/api/v1/products", Some(&merchant), json!({"title": "t", "price_fen": 800, "stock": 5}))
        .await;
    let now = chrono::DateTime::from_timestamp_millis(clock.now().as_millis()).unwrap();
    let sale = api
        .post(
            "/api/v1/flash-sales",
            Some(&merchant),
            json!({
                "product_id": product.body["product_id"], "price_fen": 800, "quantity": 5,
                "per_buyer_limit": 5, "payment_window_secs": 30,
                "starts_at": (now - chrono::Duration::seconds(1)).to_rfc3339(),
                "ends_at": (now + chrono::Duration::seconds(60)).to_rfc3339(),
            }),
        )
        .await;
    let sale = sale.body["flash_sale_id"].as_i64().unwrap();
    let fan = api.buyer("13900000041").await;
    let (order, _) = paid_order(&api, &sandbox, sale, &fan, "two", 2, Channel::Wechat).await;
    let asked = api
        .post(&format!("/api/v1/orders/{order}/refunds"), Some(&fan), json!({"quantity": 1, "reason": "x"}))
        .await;
    let id = asked.body["refund_id"].as_i64().unwrap();

    // The sale ends and, with nothing held, its actor leaves: counts come from the database.
    clock.advance_millis(120_000);
    registry.tick_all();
    crate::helpers::eventually("the settled sale's actor left", || async { registry.is_empty() }).await;
    assert_eq!(api.counts(sale).await, (3, 0, 2, 5));
    // Approved back to the sale: its actor is started for it, restocks once, and leaves again.
    let approved = api
        .post(
            &format!("/api/v1/merchants/me/refunds/{id}/approve"),
            Some(&merchant),
            json!({"restock": "sale"}),
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    registry.tick_all();
    crate::helpers::eventually("the actor left again", || async { registry.is_empty() }).await;
    assert_eq!(api.counts(sale).await, (4, 0, 1, 5), "read from the database, the restock counted once");
    let stored =
        persistence::refunds::restocks_of_sale(&app.state.db, engine::FlashSaleId(sale)).await.unwrap();
    assert_eq!(stored, [(RefundId(id), OrderId(order), 1)]);
    app.stop().await;
}
