//! After the sale, through the real server: an order gets its address, is paid at the
//! sandbox, waits in the merchant's "to ship" list, leaves with an e-waybill from the bundled
//! KDNiao sandbox, its label is a PDF whose barcode reads back as the waybill number, the
//! courier's signed pushes move it to delivered, and seven days later on the manual clock it
//! completes by itself; the buyer's phone got the paid, shipped and delivered texts once each.
//! Bad input on every new route is refused and changes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use actors::clock::ManualClock;
use engine::ledger::Channel;
use engine::notification::{NoticeChannel, OutboxState};
use engine::time::Clock;
use engine::{OrderId, Timestamp};
use providers::couriers::kdniao::protocol::{self, Form, PushData};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Api, TestApp, TestDb, eventually, reply, spawn_app_with_clock, test_address, test_settings,
};
use crate::payments::pay_and_notify;

const DAY_MS: i64 = 24 * 3_600_000;

fn sender() -> Value {
    json!({"name": "小美直播间", "phone": "13900139000", "province": "浙江省", "city": "杭州市",
           "district": "余杭区", "detail": "文一西路969号3号楼"})
}

/// A shop with a live sale, a verified buyer, and the app on a manual clock.
struct Shop {
    app: TestApp,
    api: Api,
    clock: Arc<ManualClock>,
    merchant: String,
    sale: i64,
    buyer: String,
}

async fn shop(db: &TestDb, configure: impl FnOnce(&mut gateway::Settings)) -> Shop {
    let clock = Arc::new(ManualClock::new(actors::SystemClock.now()));
    let mut settings = test_settings(db);
    // The sweep runs when the test says, so that it sees each instant the test sets.
    settings.fulfilment.sweep_interval_secs = 3_600;
    configure(&mut settings);
    let app = spawn_app_with_clock(settings, clock.clone()).await;
    let api = app.api();
    let (merchant, _, sale) = api.merchant_sale_titled("13500000031", "玻尿酸保湿面膜", 1_990, 20, 900).await;
    let buyer = api.buyer("13600000031").await;
    // The sale opened a second before the wall clock's now; the manual clock catches up.
    let behind = actors::SystemClock.now().as_millis() - clock.now().as_millis();
    clock.advance_millis(behind.max(0) + 1_000);
    Shop { app, api, clock, merchant, sale, buyer }
}

impl Shop {
    async fn order(&self, key: &str, quantity: i64) -> i64 {
        let placed = self.api.order(self.sale, &self.buyer, key, quantity).await;
        assert_eq!(placed.status, 201, "{}", placed.body);
        placed.body["order_id"].as_i64().unwrap()
    }

    /// Pays `order` (its address already set) at the WeChat sandbox and waits until it is paid.
    async fn pay(&self, order: i64) {
        let created = self
            .api
            .post(
                &format!("/api/v1/orders/{order}/payments"),
                Some(&self.buyer),
                json!({"channel": "wechat"}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let sandbox = self.app.state.sandbox.clone().unwrap();
        let trade = created.body["out_trade_no"].as_str().unwrap().to_owned();
        pay_and_notify(&self.api, &sandbox, Channel::Wechat, &trade).await;
        eventually("the order is paid", || async { self.state(order).await == "paid" }).await;
    }

    async fn state(&self, order: i64) -> String {
        let stored = persistence::repo::order(&self.app.state.db, OrderId(order)).await.unwrap().unwrap();
        stored.state.as_str().to_owned()
    }

    async fn buyer_view(&self, order: i64) -> Value {
        let got = self.api.get(&format!("/api/v1/orders/{order}"), Some(&self.buyer)).await;
        assert_eq!(got.status, 200, "{}", got.body);
        got.body
    }

    async fn ship(&self, order: i64, body: Value) -> Value {
        let shipped =
            self.api.post(&format!("/api/v1/orders/{order}/shipments"), Some(&self.merchant), body).await;
        assert_eq!(shipped.status, 201, "{}", shipped.body);
        shipped.body
    }

    /// `(kind, channel)` of every outbox row of an order, counted.
    async fn outbox(&self, order: i64) -> BTreeMap<(String, String), usize> {
        let mut counted = BTreeMap::new();
        for message in persistence::outbox::of_order(&self.app.state.db, OrderId(order)).await.unwrap() {
            *counted
                .entry((message.kind.as_str().to_owned(), message.channel.as_str().to_owned()))
                .or_default() += 1;
        }
        counted
    }
}

/// Code 128 read back from the label's vector bars: independent of the renderer's layout
/// code, it only knows the symbology (the pattern table taken from `barcoders`' encoder).
fn decode_code128(modules: &[u8]) -> Option<String> {
    use barcoders::sym::code128::Code128;
    let encode = |data: String| Code128::new(data).unwrap().encode();
    // Set C encodes values 0..=99 as two digits: the pattern of every value a number holds.
    let mut table: Vec<Vec<u8>> = (0..100).map(|v| encode(format!("Ć{v:02}"))[11..22].to_vec()).collect();
    // Values 100..=102 (code switches and FNC1) never stand for a waybill's characters, but
    // the check symbol (the weighted sum mod 103) takes them: their patterns from the check
    // symbols of numbers whose sums make them (105 + 98, 105 + 99, 105 + 0 + 2 × 50).
    table.push(encode("Ć98".into())[22..33].to_vec());
    table.push(encode("Ć99".into())[22..33].to_vec());
    table.push(encode("Ć0050".into())[33..44].to_vec());
    let start_b = encode("Ɓ0".into())[..11].to_vec();
    let start_c = encode("Ć00".into())[..11].to_vec();
    let stop = encode("Ć00".into()).split_off(33);
    if modules.len() < 11 + 11 + 13 || modules[modules.len() - 13..] != stop[..] {
        return None;
    }
    let (start_value, set_c) = if modules[..11] == start_b[..] {
        (104, false)
    } else if modules[..11] == start_c[..] {
        (105, true)
    } else {
        return None;
    };
    let body = &modules[11..modules.len() - 13];
    if !body.len().is_multiple_of(11) {
        return None;
    }
    let values: Vec<usize> =
        body.chunks(11).map(|chunk| table.iter().position(|p| p == chunk)).collect::<Option<_>>()?;
    let (checksum, data) = values.split_last()?;
    if data.iter().any(|&v| v >= 100) {
        return None;
    }
    let sum: usize = start_value + data.iter().enumerate().map(|(i, v)| (i + 1) * v).sum::<usize>();
    if sum % 103 != *checksum {
        return None;
    }
    Some(
        data.iter()
            .map(|&v| if set_c { format!("{v:02}") } else { char::from(b' ' + v as u8).to_string() })
            .collect(),
    )
}

/// The bars (`re` of the barcode's height) of each page, as modules.
fn barcodes_of(pdf: &[u8]) -> Vec<String> {
    let document = lopdf::Document::load_mem(pdf).expect("a pdf");
    let mut found = Vec::new();
    for (_, page) in document.get_pages() {
        let content = lopdf::content::Content::decode(&document.get_page_content(page)).unwrap();
        let mut bars: Vec<(f32, f32)> = content
            .operations
            .iter()
            .filter(|op| op.operator == "re" && op.operands.len() == 4)
            .filter_map(|op| {
                let n: Vec<f32> = op.operands.iter().filter_map(|o| o.as_float().ok()).collect();
                // 19 mm tall: the barcode's bars (the rules are under a point).
                ((n[3] - 53.86).abs() < 0.5).then_some((n[0], n[2]))
            })
            .collect();
        bars.sort_by(|a, b| a.0.total_cmp(&b.0));
        let module = bars.iter().map(|b| b.1).fold(f32::MAX, f32::min);
        let mut modules = Vec::new();
        let mut at = bars.first().map_or(0.0, |b| b.0);
        for (x, width) in bars {
            modules.extend(std::iter::repeat_n(0u8, ((x - at) / module).round() as usize));
            modules.extend(std::iter::repeat_n(1u8, (width / module).round() as usize));
            at = x + width;
        }
        found.push(decode_code128(&modules).unwrap_or_else(|| format!("undecodable: {modules:?}")));
    }
    found
}

fn page_texts(pdf: &[u8]) -> Vec<String> {
    let document = lopdf::Document::load_mem(pdf).expect("a pdf");
    document.get_pages().keys().map(|&n| document.extract_text(&[n]).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_goes_from_address_to_completed_through_the_courier_sandbox() {
    let db = TestDb::new().await;
    let shop = shop(&db, |_| {}).await;
    let api = &shop.api;
    let order = shop.order("e2e-1", 2).await;

    // No address, no payment.
    let early = api
        .post(&format!("/api/v1/orders/{order}/payments"), Some(&shop.buyer), json!({"channel": "wechat"}))
        .await;
    assert_eq!((early.status.as_u16(), early.code()), (409, "address_required"), "{}", early.body);

    // A saved address, listed masked, then given to the order.
    let saved = api.post("/api/v1/buyers/me/addresses", Some(&shop.buyer), test_address()).await;
    assert_eq!(saved.status, 201, "{}", saved.body);
    let listed = api.get("/api/v1/buyers/me/addresses", Some(&shop.buyer)).await;
    let first = &listed.body["addresses"][0];
    assert_eq!(
        (first["name"].as_str(), first["phone"].as_str()),
        (Some("张*"), Some("138****8000")),
        "{}",
        listed.body
    );
    assert_eq!(first["is_default"], true);
    let set = api
        .put_json(
            &format!("/api/v1/orders/{order}/address"),
            &shop.buyer,
            json!({"address_id": saved.body["id"]}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["address"]["detail"], "科技园南区…");
    shop.pay(order).await;
    // Paid: the address is fixed.
    let late = api.put_json(&format!("/api/v1/orders/{order}/address"), &shop.buyer, test_address()).await;
    assert_eq!((late.status.as_u16(), late.code()), (409, "address_fixed"), "{}", late.body);

    // The merchant sees it under "to ship", with the whole address.
    let to_ship = api.get("/api/v1/merchants/me/orders?state=to_ship", Some(&shop.merchant)).await;
    assert_eq!(to_ship.status, 200, "{}", to_ship.body);
    let rows = to_ship.body["orders"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", to_ship.body);
    assert_eq!(rows[0]["id"], order);
    assert_eq!(rows[0]["address"]["phone"], "13800138000");
    assert_eq!(rows[0]["address"]["detail"], "科技园南区1栋101");
    // The buyer's own view of it is masked: only the merchant sees it whole.
    assert_eq!(shop.buyer_view(order).await["address"]["phone"], "138****8000");

    // An e-waybill from the courier sandbox.
    let shipped = shop.ship(order, json!({"courier": "ZTO", "sender": sender()})).await;
    let waybill = shipped["waybill_no"].as_str().unwrap().to_owned();
    assert!(waybill.starts_with("73") && waybill.len() == 12, "{shipped}");
    assert_eq!(
        (shipped["electronic_waybill"].as_bool(), shipped["state"].as_str()),
        (Some(true), Some("shipped"))
    );
    let listed = api.get("/api/v1/merchants/me/orders?state=to_ship", Some(&shop.merchant)).await;
    assert_eq!(listed.body["orders"].as_array().unwrap().len(), 0, "{}", listed.body);

    // The label: one 100×150 mm page holding the number, whose barcode decodes to it.
    let label = shop
        .app
        .client
        .get(api.url(&format!("/api/v1/orders/{order}/label.pdf")))
        .bearer_auth(&shop.merchant);
    let label = reply(label.send().await.unwrap()).await;
    assert_eq!(label.status, 200);
    assert!(label.bytes.starts_with(b"%PDF"), "not a pdf");
    let texts = page_texts(&label.bytes);
    assert_eq!(texts.len(), 1);
    for expected in
        [waybill.as_str(), "中通快递", "张三", "13800138000", "小美直播间", &format!("订单号：{order}")]
    {
        assert!(texts[0].contains(expected), "{expected:?} not on the label: {}", texts[0]);
    }
    assert_eq!(barcodes_of(&label.bytes), vec![waybill.clone()]);

    // A second order, shipped under a number the merchant typed; both labels in one PDF.
    let second = shop.order("e2e-2", 1).await;
    api.set_address(second, &shop.buyer).await;
    shop.pay(second).await;
    let typed = shop.ship(second, json!({"courier": "SF", "waybill_no": "SF1407285902613"})).await;
    assert_eq!(typed["electronic_waybill"], false);
    let batch = shop
        .app
        .client
        .post(api.url("/api/v1/merchants/me/labels"))
        .bearer_auth(&shop.merchant)
        .json(&json!({"order_ids": [order, second]}))
        .send()
        .await
        .unwrap();
    let batch = reply(batch).await;
    assert_eq!(batch.status, 200, "{}", String::from_utf8_lossy(&batch.bytes));
    assert_eq!(barcodes_of(&batch.bytes), vec![waybill.clone(), "SF1407285902613".to_owned()]);

    // The courier collects it, then delivers it: each push verified and stored.
    let advance = |to: &'static str| {
        let (api, waybill) = (api.clone(), waybill.clone());
        async move {
            let moved = api
                .post(&format!("/sandbox/courier/waybills/{waybill}/advance"), None, json!({"to": to}))
                .await;
            assert_eq!(moved.status, 200, "{}", moved.body);
        }
    };
    advance("collected").await;
    eventually("collected is pushed", || async {
        shop.buyer_view(order).await["shipment"]["tracking_state"] == "collected"
    })
    .await;
    advance("delivered").await;
    eventually("delivered is pushed", || async {
        shop.buyer_view(order).await["shipment"]["tracking_state"] == "delivered"
    })
    .await;
    let view = shop.buyer_view(order).await;
    assert_eq!(view["state"], "shipped", "delivered, not completed yet");
    assert_eq!(view["shipment"]["tracking_state_name"], "已签收");
    assert!(view["shipment"]["delivered_at"].is_string(), "{view}");
    let scans: Vec<&str> = view["shipment"]["tracking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["description"].as_str().unwrap())
        .collect();
    assert_eq!(scans.len(), 3, "collected, in transit, delivered: {scans:?}");
    assert!(scans[2].contains("签收"), "{scans:?}");
    let record = api.get(&format!("/sandbox/courier/waybills/{waybill}"), None).await;
    assert_eq!(record.body["pushes_acknowledged"], 2, "{}", record.body);
    // The fan's order page is there for it.
    let share = api.get(&format!("/api/v1/flash-sales/{}/share", shop.sale), Some(&shop.merchant)).await;
    let page =
        shop.app.client.get(format!("{}/o/{order}", share.body["short_url"].as_str().unwrap())).send().await;
    let page = page.unwrap().text().await.unwrap();
    assert!(
        page.contains("id=\"shipment\"") && page.contains("确认收货"),
        "the order page has its shipment card"
    );

    // The same push again: taken, and nothing new stored or sent.
    let courier = shop.app.state.courier_sandbox.clone().unwrap();
    let again = api
        .client
        .post(api.url("/api/v1/couriers/kdniao/push"))
        .header("Content-Type", protocol::FORM_CONTENT_TYPE)
        .body(courier.push_body(&waybill).unwrap())
        .send()
        .await
        .unwrap();
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["Success"], true, "{again}");
    assert_eq!(shop.buyer_view(order).await["shipment"]["tracking"].as_array().unwrap().len(), 3);

    // Paid, shipped and delivered were each written once per channel, with their changes.
    let outbox = shop.outbox(order).await;
    for kind in ["order_paid", "order_shipped", "order_delivered"] {
        for channel in ["sms", "wechat_mp"] {
            assert_eq!(
                outbox.get(&(kind.to_owned(), channel.to_owned())),
                Some(&1),
                "{kind} {channel}: {outbox:?}"
            );
        }
    }

    // The server's worker texted the buyer's phone that it was paid, shipped and delivered:
    // each exactly once.
    let db = shop.app.state.db.clone();
    eventually("every text message of the order is sent", || async {
        let messages = persistence::outbox::of_order(&db, OrderId(order)).await.unwrap();
        messages.iter().filter(|m| m.channel == NoticeChannel::Sms).all(|m| m.state == OutboxState::Delivered)
    })
    .await;
    let templates = gateway::Settings::default().notifications;
    let inbox = api.get("/sandbox/sms/messages?phone=13600000031", None).await;
    let order_text = order.to_string();
    for (what, template) in [
        ("paid", &templates.order_paid),
        ("shipped", &templates.order_shipped),
        ("delivered", &templates.order_delivered),
    ] {
        let sent: Vec<&str> = inbox.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["template_id"] == template.sms_template_id.as_str())
            .filter_map(|m| m["text"].as_str())
            .filter(|text| text.contains(&order_text))
            .collect();
        assert_eq!(sent.len(), 1, "{what}: {sent:?}");
        if what == "shipped" {
            assert!(sent[0].contains("中通快递") && sent[0].contains(&waybill), "{}", sent[0]);
        }
    }

    // Seven days after delivery, to the millisecond.
    shop.clock.advance_millis(7 * DAY_MS - 1);
    assert_eq!(shop.app.state.fulfilment.complete_due().await.unwrap(), 0);
    assert_eq!(shop.state(order).await, "shipped");
    shop.clock.advance_millis(1);
    assert_eq!(shop.app.state.fulfilment.complete_due().await.unwrap(), 1);
    assert_eq!(shop.state(order).await, "completed");
    assert_eq!(shop.app.state.fulfilment.complete_due().await.unwrap(), 0, "completed once");
    // The second order was never delivered: it waits for its buyer.
    assert_eq!(shop.state(second).await, "shipped");
    // Seven days on, the buyer signs in again and sees it completed.
    let buyer = api.buyer("13600000031").await;
    let seen = api.get(&format!("/api/v1/orders/{order}"), Some(&buyer)).await;
    assert_eq!(seen.body["state"], "completed", "{}", seen.body);
    assert!(seen.body["shipment"]["completed_at"].is_string());
    // A delivered order's label is no longer printed, nor its address shown whole.
    let merchant =
        api.post("/api/v1/sessions", None, json!({"phone": "13500000031", "password": "password-123"})).await;
    let merchant = merchant.body["token"].as_str().unwrap().to_owned();
    let gone = api.get(&format!("/api/v1/merchants/me/orders/{order}"), Some(&merchant)).await;
    assert_eq!(gone.body["address"]["masked"], true, "{}", gone.body);
    let label = api.get(&format!("/api/v1/orders/{order}/label.pdf"), Some(&merchant)).await;
    assert_eq!((label.status.as_u16(), label.code()), (409, "already_delivered"), "{}", label.body);
    shop.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buyer_confirms_receipt_once() {
    let db = TestDb::new().await;
    let shop = shop(&db, |_| {}).await;
    let api = &shop.api;
    let order = shop.order("receipt-1", 1).await;
    api.set_address(order, &shop.buyer).await;
    let receipt = format!("/api/v1/orders/{order}/receipt");
    shop.pay(order).await;
    let early = api.post(&receipt, Some(&shop.buyer), json!({})).await;
    assert_eq!((early.status.as_u16(), early.code()), (409, "not_shipped"), "{}", early.body);
    shop.ship(order, json!({"courier": "YTO", "sender": sender()})).await;
    let received = api.post(&receipt, Some(&shop.buyer), json!({})).await;
    assert_eq!(received.status, 200, "{}", received.body);
    assert_eq!(received.body["state"], "completed");
    let again = api.post(&receipt, Some(&shop.buyer), json!({})).await;
    assert_eq!((again.status.as_u16(), again.code()), (409, "not_shipped"), "{}", again.body);
    let other = api.buyer("13600000032").await;
    let foreign = api.post(&receipt, Some(&other), json!({})).await;
    assert_eq!((foreign.status.as_u16(), foreign.code()), (404, "order_not_found"));
    shop.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merchants_list_filter_page_and_export_their_orders() {
    let db = TestDb::new().await;
    let shop = shop(&db, |s| {
        s.fulfilment.export_direct_max_rows = 3;
        s.fulfilment.export_max_jobs = 1;
    })
    .await;
    let api = &shop.api;
    let mut orders = Vec::new();
    for n in 0..5 {
        let order = shop.order(&format!("list-{n}"), 1).await;
        api.set_address(order, &shop.buyer).await;
        orders.push(order);
        // Distinct creation times, so that the newest-first order is known.
        shop.clock.advance_millis(1_000);
    }
    shop.pay(orders[1]).await;
    shop.pay(orders[3]).await;
    let list = |query: &str| {
        let api = api.clone();
        let token = shop.merchant.clone();
        let query = query.to_owned();
        async move { api.get(&format!("/api/v1/merchants/me/orders{query}"), Some(&token)).await }
    };
    let ids = |reply: &crate::helpers::Reply| -> Vec<i64> {
        reply.body["orders"].as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect()
    };

    // Pages of two, newest first, each order once.
    let first = list("?limit=2").await;
    assert_eq!(ids(&first), vec![orders[4], orders[3]]);
    let next = first.body["next"].as_str().unwrap().to_owned();
    let second = list(&format!("?limit=2&cursor={next}")).await;
    assert_eq!(ids(&second), vec![orders[2], orders[1]]);
    let next = second.body["next"].as_str().unwrap().to_owned();
    let last = list(&format!("?limit=2&cursor={next}")).await;
    assert_eq!(ids(&last), vec![orders[0]]);
    assert!(last.body["next"].is_null());
    // Filters: to ship, pending, by sale, by time.
    assert_eq!(ids(&list("?state=to_ship").await), vec![orders[3], orders[1]]);
    assert_eq!(ids(&list("?state=pending_payment").await).len(), 3);
    assert_eq!(ids(&list(&format!("?flash_sale_id={}", shop.sale + 1000)).await).len(), 0);
    let created = |order: i64| {
        let db = shop.app.state.db.clone();
        async move { persistence::repo::order(&db, OrderId(order)).await.unwrap().unwrap().created_at }
    };
    let from = workflows::time::rfc3339(created(orders[1]).await);
    let to = workflows::time::rfc3339(created(orders[3]).await);
    assert_eq!(ids(&list(&format!("?from={from}&to={to}")).await), vec![orders[2], orders[1]]);
    // Unpaid orders' addresses are masked even to their merchant; paid ones are whole.
    let rows = list("").await;
    for row in rows.body["orders"].as_array().unwrap() {
        let paid = row["state"] == "paid";
        assert_eq!(row["address"]["masked"], !paid, "{row}");
    }
    // One order's detail; another merchant's is not found.
    let one = api.get(&format!("/api/v1/merchants/me/orders/{}", orders[3]), Some(&shop.merchant)).await;
    assert_eq!((one.status.as_u16(), one.body["address"]["phone"].as_str()), (200, Some("13800138000")));
    let stranger = api.merchant("13500000039").await;
    let hidden = api.get(&format!("/api/v1/merchants/me/orders/{}", orders[3]), Some(&stranger)).await;
    assert_eq!((hidden.status.as_u16(), hidden.code()), (404, "order_not_found"));

    // Small: the file at once. Two paid orders, a header line and a byte-order mark.
    let csv = api
        .client
        .get(api.url("/api/v1/merchants/me/orders/export?state=to_ship"))
        .bearer_auth(&shop.merchant);
    let csv = reply(csv.send().await.unwrap()).await;
    assert_eq!(csv.status, 200);
    let text = String::from_utf8(csv.bytes.clone()).unwrap();
    let lines: Vec<&str> = text.trim_end().lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("\u{feff}订单号"), "{text}");
    assert!(lines[1].starts_with(&orders[3].to_string()) && lines[1].contains("13800138000"), "{text}");
    let xlsx = api.client.get(api.url("/api/v1/merchants/me/orders/export?format=xlsx&state=to_ship"));
    let xlsx = xlsx.bearer_auth(&shop.merchant).send().await.unwrap();
    assert_eq!(xlsx.headers()["x-export-rows"], "2");
    assert!(xlsx.bytes().await.unwrap().starts_with(b"PK\x03\x04"), "an xlsx is a zip");

    // Large (more than 3): a job, fetched by its link; one job at a time here.
    let job = api.get("/api/v1/merchants/me/orders/export", Some(&shop.merchant)).await;
    assert_eq!(job.status, 202, "{}", job.body);
    let busy = api.get("/api/v1/merchants/me/orders/export?format=xlsx", Some(&shop.merchant)).await;
    assert_eq!((busy.status.as_u16(), busy.code()), (429, "exports_busy"));
    let status_url = job.body["status_url"].as_str().unwrap().to_owned();
    let path = status_url.strip_prefix(&api.base).unwrap().to_owned();
    eventually("the export is ready", || async {
        api.get(&path, Some(&shop.merchant)).await.body["state"] == "ready"
    })
    .await;
    assert_eq!(api.get(&path, Some(&stranger)).await.status, 404, "another merchant's job is not found");
    let file = api.client.get(job.body["download_url"].as_str().unwrap()).bearer_auth(&shop.merchant);
    let file = reply(file.send().await.unwrap()).await;
    assert_eq!(file.status, 200);
    assert_eq!(
        String::from_utf8(file.bytes).unwrap().trim_end().lines().count(),
        6,
        "a header and five orders"
    );
    // After its time to live the job and its file are gone.
    shop.clock.advance_millis(3_600_000);
    assert_eq!(shop.app.state.exports.clean_up(), 1);
    assert_eq!(api.get(&path, Some(&shop.merchant)).await.status, 404);
    shop.app.stop().await;
}

/// One case of the bad-input table: name, method, path, token, body, status, `error.code`.
type Row<'a> = (&'a str, Method, String, Option<&'a str>, Value, u16, &'a str);

/// A push as KDNiao would send it about `waybill`, at `push_time`, signed with `key`.
fn push(ebusiness_id: &str, key: &str, genuine: &str, push_time: Timestamp) -> String {
    let form = Form::decode(genuine.as_bytes()).unwrap();
    let mut data: PushData = serde_json::from_str(&form.request_data).unwrap();
    data.push_time = protocol::beijing_time(push_time);
    data.ebusiness_id = ebusiness_id.to_owned();
    let mut signed = Form::signed("", key, protocol::TRACK_PUSH, serde_json::to_string(&data).unwrap());
    signed.data_type = protocol::DATA_TYPE_JSON.to_owned();
    signed.encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fulfilment_input_is_refused_and_changes_nothing() {
    let db = TestDb::new().await;
    let shop = shop(&db, |_| {}).await;
    let api = &shop.api;
    let unpaid = shop.order("bad-1", 1).await;
    let paid = shop.order("bad-2", 1).await;
    api.set_address(paid, &shop.buyer).await;
    shop.pay(paid).await;
    let shipped = shop.order("bad-3", 1).await;
    api.set_address(shipped, &shop.buyer).await;
    shop.pay(shipped).await;
    let waybill = shop.ship(shipped, json!({"courier": "STO", "sender": sender()})).await["waybill_no"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = api.merchant("13500000038").await;
    let m = Some(shop.merchant.as_str());
    let b = Some(shop.buyer.as_str());
    let mut bad_district = test_address();
    bad_district["district"] = json!("朝阳区");
    let mut bad_phone = test_address();
    bad_phone["phone"] = json!("1380013800");

    let cases: Vec<Row<'_>> = vec![
        (
            "unknown courier",
            Method::POST,
            format!("/api/v1/orders/{paid}/shipments"),
            m,
            json!({"courier": "UPS", "waybill_no": "1Z999AA10123456784"}),
            422,
            "unknown_courier",
        ),
        (
            "a lowercase courier code",
            Method::POST,
            format!("/api/v1/orders/{paid}/shipments"),
            m,
            json!({"courier": "sf"}),
            422,
            "unknown_courier",
        ),
        (
            "a waybill number with spaces",
            Method::POST,
            format!("/api/v1/orders/{paid}/shipments"),
            m,
            json!({"courier": "SF", "waybill_no": "SF 1234 5678"}),
            422,
            "invalid_waybill_no",
        ),
        (
            "a malformed sender",
            Method::POST,
            format!("/api/v1/orders/{paid}/shipments"),
            m,
            json!({"courier": "SF", "sender": bad_phone.clone()}),
            422,
            "invalid_phone",
        ),
        (
            "shipping someone else's order",
            Method::POST,
            format!("/api/v1/orders/{paid}/shipments"),
            Some(other.as_str()),
            json!({"courier": "SF", "waybill_no": "SF1234567890123"}),
            404,
            "order_not_found",
        ),
        (
            "shipping an unpaid order",
            Method::POST,
            format!("/api/v1/orders/{unpaid}/shipments"),
            m,
            json!({"courier": "SF", "waybill_no": "SF1234567890123"}),
            409,
            "not_paid",
        ),
        (
            "shipping twice",
            Method::POST,
            format!("/api/v1/orders/{shipped}/shipments"),
            m,
            json!({"courier": "SF", "waybill_no": "SF1234567890123"}),
            409,
            "not_paid",
        ),
        (
            "another order's waybill number",
            Method::POST,
            format!("/api/v1/orders/{paid}/shipments"),
            m,
            json!({"courier": "STO", "waybill_no": waybill.clone()}),
            409,
            "waybill_taken",
        ),
        (
            "a buyer shipping",
            Method::POST,
            format!("/api/v1/orders/{paid}/shipments"),
            b,
            json!({"courier": "SF"}),
            403,
            "forbidden",
        ),
        (
            "the label of an order not yours",
            Method::GET,
            format!("/api/v1/orders/{shipped}/label.pdf"),
            Some(other.as_str()),
            Value::Null,
            404,
            "order_not_found",
        ),
        (
            "the label of an order not shipped",
            Method::GET,
            format!("/api/v1/orders/{paid}/label.pdf"),
            m,
            Value::Null,
            409,
            "not_shipped",
        ),
        (
            "labels of nothing",
            Method::POST,
            "/api/v1/merchants/me/labels".into(),
            m,
            json!({"order_ids": []}),
            422,
            "invalid_order_ids",
        ),
        (
            "labels with an order not yours",
            Method::POST,
            "/api/v1/merchants/me/labels".into(),
            Some(other.as_str()),
            json!({"order_ids": [shipped]}),
            404,
            "order_not_found",
        ),
        (
            "a district not in the city",
            Method::PUT,
            format!("/api/v1/orders/{unpaid}/address"),
            b,
            bad_district.clone(),
            422,
            "invalid_district",
        ),
        (
            "a short phone",
            Method::POST,
            "/api/v1/buyers/me/addresses".into(),
            b,
            bad_phone.clone(),
            422,
            "invalid_phone",
        ),
        (
            "no detail",
            Method::POST,
            "/api/v1/buyers/me/addresses".into(),
            b,
            json!({"name": "张三", "phone": "13800138000", "province": "广东省", "city": "深圳市", "district": "南山区"}),
            422,
            "invalid_detail",
        ),
        (
            "a saved address that does not exist",
            Method::PUT,
            format!("/api/v1/orders/{unpaid}/address"),
            b,
            json!({"address_id": 999_999}),
            404,
            "address_not_found",
        ),
        (
            "the address of a paid order",
            Method::PUT,
            format!("/api/v1/orders/{paid}/address"),
            b,
            test_address(),
            409,
            "address_fixed",
        ),
        (
            "an unknown order state",
            Method::GET,
            "/api/v1/merchants/me/orders?state=lost".into(),
            m,
            Value::Null,
            422,
            "invalid_state",
        ),
        (
            "a forged cursor",
            Method::GET,
            "/api/v1/merchants/me/orders?cursor=x".into(),
            m,
            Value::Null,
            422,
            "invalid_cursor",
        ),
        (
            "an unknown export format",
            Method::GET,
            "/api/v1/merchants/me/orders/export?format=pdf".into(),
            m,
            Value::Null,
            422,
            "invalid_format",
        ),
    ];
    let before = (shop.outbox(paid).await, shop.outbox(shipped).await, shop.buyer_view(shipped).await);
    for (name, method, path, token, body, status, code) in &cases {
        let mut request = api.client.request(method.clone(), api.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if !body.is_null() {
            request = request.json(body);
        }
        let got = reply(request.send().await.unwrap()).await;
        assert_eq!((got.status.as_u16(), got.code()), (*status, *code), "{name}: {}", got.body);
    }

    // Forged and stale pushes: answered the protocol's way, Success false.
    let keys: Value = serde_json::from_str(
        &persistence::repo::setting(&shop.app.state.db, "courier_sandbox_keys").await.unwrap().unwrap(),
    )
    .unwrap();
    let (id, key) = (keys["ebusiness_id"].as_str().unwrap(), keys["app_key"].as_str().unwrap());
    let courier = shop.app.state.courier_sandbox.clone().unwrap();
    courier
        .advance(&waybill, Some(providers::couriers::TrackingState::Delivered))
        .unwrap_or_else(|e| panic!("{e}"));
    eventually("the genuine push is taken", || async {
        shop.buyer_view(shipped).await["shipment"]["tracking_state"] == "delivered"
    })
    .await;
    let delivered = (shop.outbox(shipped).await, shop.buyer_view(shipped).await);
    let genuine = courier.push_body(&waybill).unwrap();
    let now = shop.clock.now();
    let pushes = [
        (
            "forged (another key)",
            push(id, "not-the-app-key", &genuine, now),
            "push signature does not verify",
        ),
        ("another account", push("1234567", key, &genuine, now), "push is for another account"),
        ("stale (six minutes old)", push(id, key, &genuine, now.plus_millis(-360_000)), "push is stale"),
        (
            "signed, not JSON",
            Form::signed("", key, protocol::TRACK_PUSH, "{".into()).encode(),
            "malformed push",
        ),
    ];
    for (name, body, reason) in pushes {
        let answer = api
            .client
            .post(api.url("/api/v1/couriers/kdniao/push"))
            .header("Content-Type", protocol::FORM_CONTENT_TYPE)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{name}");
        let answer: Value = answer.json().await.unwrap();
        assert_eq!(answer["Success"], false, "{name}: {answer}");
        assert!(answer["Reason"].as_str().unwrap().starts_with(reason), "{name}: {answer}");
        assert_eq!(answer["EBusinessID"], id, "{name}");
    }

    // Nothing changed: states, shipments, scans, notices.
    assert_eq!(shop.state(unpaid).await, "pending_payment");
    assert_eq!(shop.state(paid).await, "paid");
    assert_eq!(shop.outbox(paid).await, before.0);
    assert_eq!(before.1.len(), 4, "paid and shipped, per channel: {:?}", before.1);
    assert_eq!((shop.outbox(shipped).await, shop.buyer_view(shipped).await), delivered);
    assert!(shop.buyer_view(paid).await["shipment"].is_null());
    assert!(api.get("/api/v1/buyers/me/addresses", b).await.body["addresses"].as_array().unwrap().is_empty());
    shop.app.stop().await;
}

/// After delivery, a no-reason return is taken until seven days after the delivered scan and
/// refused from then on; a shipped unit cannot go back on sale; the part refunded goes back
/// through the channel and the books still agree with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivered_order_is_refunded_within_seven_days_of_delivery_and_not_after() {
    let db = TestDb::new().await;
    let shop = shop(&db, |_| {}).await;
    let first_day = engine::BeijingDay::of(shop.app.state.clock.now());
    let api = &shop.api;
    let operator = api.operator().await;
    let order = shop.order("after-delivery-1", 2).await;
    api.set_address(order, &shop.buyer).await;
    shop.pay(order).await;
    let shipped = shop.ship(order, json!({"courier": "ZTO", "sender": sender()})).await;
    let waybill = shipped["waybill_no"].as_str().unwrap().to_owned();
    for to in ["collected", "delivered"] {
        let moved =
            api.post(&format!("/sandbox/courier/waybills/{waybill}/advance"), None, json!({"to": to})).await;
        assert_eq!(moved.status, 200, "{}", moved.body);
    }
    eventually("delivered is pushed", || async {
        shop.buyer_view(order).await["shipment"]["tracking_state"] == "delivered"
    })
    .await;
    let shipment = persistence::shipments::of_order(&shop.app.state.db, OrderId(order)).await.unwrap();
    let delivered_at = shipment.unwrap().delivered_at.expect("delivered");
    let balance_before = api.balance(&shop.merchant).await.0;

    // Delivered: one unit of two back, with no reason. (The channel is asked on the wall
    // clock's day: its sandbox checks request times against its own clock.)
    let refunds = format!("/api/v1/orders/{order}/refunds");
    let asked = api.post(&refunds, Some(&shop.buyer), json!({"quantity": 1, "reason": "七天无理由"})).await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    assert_eq!(asked.body["amount_fen"], 1_990);
    let id = asked.body["refund_id"].as_i64().unwrap();
    let approve = format!("/api/v1/merchants/me/refunds/{id}/approve");
    let on_sale = api.post(&approve, Some(&shop.merchant), json!({"restock": "sale"})).await;
    assert_eq!((on_sale.status.as_u16(), on_sale.code()), (409, "shipped_units"), "{}", on_sale.body);
    let approved = api.post(&approve, Some(&shop.merchant), json!({"restock": "none"})).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    let run = api.post("/api/v1/operator/refunds/run", Some(&operator), json!({})).await;
    assert_eq!(run.status, 200, "{}", run.body);

    let sandbox = shop.app.state.sandbox.clone().unwrap();
    let trade = api.get(&format!("/api/v1/orders/{order}/payments"), Some(&shop.buyer)).await;
    let out_trade_no = trade.body["payments"][0]["out_trade_no"].as_str().unwrap().to_owned();
    assert_eq!(sandbox.trade(Channel::Wechat, &out_trade_no).unwrap().refunded(), engine::Fen(1_990));
    // The merchant gives back its share of the unit: the unit's price less its part of the fee.
    let given_back = balance_before - api.balance(&shop.merchant).await.0;
    assert!(given_back > 1_900 && given_back < 1_990, "{given_back}");
    let check = api.get("/api/v1/operator/ledger/check", Some(&operator)).await;
    assert_eq!(check.body["balanced"], true, "{}", check.body);
    api.reconcile_days(&operator, first_day, engine::BeijingDay::of(shop.app.state.clock.now())).await;
    assert_eq!(shop.buyer_view(order).await["state"], "shipped", "one unit of two: still the buyer's");

    // A millisecond before seven days after the delivered scan: still taken (then rejected).
    let closes = delivered_at.as_millis() + 7 * DAY_MS;
    shop.clock.advance_millis(closes - 1 - shop.clock.now().as_millis());
    let last_day =
        api.post(&refunds, Some(&shop.buyer), json!({"quantity": 1, "reason": "七天无理由"})).await;
    assert_eq!(last_day.status, 201, "{}", last_day.body);
    let rejected = api
        .post(
            &format!("/api/v1/merchants/me/refunds/{}/reject", last_day.body["refund_id"]),
            Some(&shop.merchant),
            json!({"reason": "已超出退货条件"}),
        )
        .await;
    assert_eq!(rejected.status, 200, "{}", rejected.body);
    // At seven days to the millisecond: closed, and nothing is written.
    shop.clock.advance_millis(1);
    let late = api.post(&refunds, Some(&shop.buyer), json!({"quantity": 1, "reason": "七天无理由"})).await;
    assert_eq!((late.status.as_u16(), late.code()), (409, "not_refundable"), "{}", late.body);
    let listed = api.get(&refunds, Some(&shop.buyer)).await;
    assert_eq!(listed.body["refunds"].as_array().map(Vec::len), Some(2), "{}", listed.body);
    shop.app.stop().await;
}

/// The label test's decoder reads every number a label can carry: its check symbol takes all of
/// 0..=102, and a waybill number drawn at random once made one of the three highest.
#[test]
fn the_barcode_decoder_reads_every_check_symbol() {
    let mut checks = std::collections::BTreeSet::new();
    for n in 0..3_000u64 {
        for number in [format!("7368{n:08}"), format!("SF{n:07}")] {
            let modules = workflows::fulfilment::label::barcode_modules(&number).unwrap();
            assert_eq!(decode_code128(&modules).as_deref(), Some(number.as_str()));
            checks.insert(modules[modules.len() - 24..modules.len() - 13].to_vec());
        }
    }
    assert_eq!(checks.len(), 103, "every check symbol was met");
}
