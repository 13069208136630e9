//! The live platforms (Douyin shop, Kuaishou shop) through their bundled sandboxes, over real
//! HTTP: a merchant binds both shops through the consent pages (our 302 to the platform, the
//! platform's 302 back to our callback); a forged, reused, expired or cross-platform `state`
//! stores nothing; tokens are sealed at rest; the refresh sweep on a manual clock renews grants
//! before they expire; a grant revoked at the platform makes the shop disconnected.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actors::Clock as _;
use actors::clock::ManualClock;
use engine::Timestamp;
use persistence::live as store;
use serde_json::{Value, json};

use crate::helpers::{Api, Reply, TestApp, TestDb, reply, spawn_app, spawn_app_with_clock, test_settings};

const DAY_MS: i64 = 86_400_000;

fn manual_clock() -> Arc<ManualClock> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    Arc::new(ManualClock::new(Timestamp(now)))
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of `attribute="…"` after `from` in `html`.
fn attribute(html: &str, from: usize, attribute: &str) -> Option<(String, usize)> {
    let needle = format!("{attribute}=\"");
    let start = html[from..].find(&needle)? + from + needle.len();
    let end = html[start..].find('"')? + start;
    Some((unescape(&html[start..end]), end))
}

/// The consent page's form: where it posts and its hidden fields.
fn consent_form(html: &str) -> (String, Vec<(String, String)>) {
    let form = html.find("<form").expect("a form on the consent page");
    let (action, _) = attribute(html, form, "action").expect("the form's action");
    let mut fields = Vec::new();
    let mut at = form;
    while let Some(found) = html[at..].find(r#"<input type="hidden""#) {
        let input = at + found;
        let (name, after) = attribute(html, input, "name").unwrap();
        let (value, after) = attribute(html, after, "value").unwrap();
        fields.push((name, value));
        at = after;
    }
    (action, fields)
}

/// A client that does not follow redirects, to look at each hop.
fn hop_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Starts binding `platform` for the merchant `token`: our 302, then the consent page it
/// leads to, consented as `shop_name`; the platform's 302 back to our callback (not followed).
async fn consent(app: &TestApp, token: &str, platform: &str, shop_name: &str) -> String {
    consent_at(&app.base, &app.base, token, platform, shop_name).await
}

/// [`consent`] with the platform's sandbox served at `sandbox_base`.
async fn consent_at(base: &str, sandbox_base: &str, token: &str, platform: &str, shop_name: &str) -> String {
    let hops = hop_client();
    let ours = hops
        .get(format!("{base}/api/v1/merchants/me/platforms/{platform}/authorize"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(ours.status(), 302, "{platform}: our authorize answers a redirect");
    let to_platform = ours.headers()["location"].to_str().unwrap().to_owned();
    assert!(to_platform.starts_with(&format!("{sandbox_base}/sandbox/{platform}/")), "{to_platform}");
    assert!(to_platform.contains("state="), "{to_platform}");
    let page = hops.get(&to_platform).send().await.unwrap();
    assert_eq!(page.status(), 200, "{platform}: the consent page");
    let html = page.text().await.unwrap();
    let (action, mut fields) = consent_form(&html);
    fields.push(("shop_name".into(), shop_name.into()));
    let back = hops.post(format!("{sandbox_base}{action}")).form(&fields).send().await.unwrap();
    assert_eq!(back.status(), 302, "{platform}: consent sends the merchant back");
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&format!("{base}/api/v1/platforms/{platform}/callback?")), "{callback}");
    callback
}

async fn get(url: &str) -> Reply {
    reply(hop_client().get(url).send().await.unwrap()).await
}

async fn shops(api: &Api, token: &str) -> Vec<Value> {
    let listed = api.get("/api/v1/merchants/me/platforms", Some(token)).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    listed.body["shops"].as_array().unwrap().clone()
}

fn shop<'a>(list: &'a [Value], platform: &str) -> &'a Value {
    list.iter().find(|s| s["platform"] == platform).unwrap_or_else(|| panic!("{platform} in {list:?}"))
}

async fn stored_shops(app: &TestApp) -> Vec<store::ShopRecord> {
    let mut all = Vec::new();
    for id in 1..=10 {
        all.extend(store::shop(&app.state.db, id).await.unwrap());
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_shops_bind_through_the_consent_pages_and_bad_states_store_nothing() {
    let db = TestDb::new().await;
    let clock = manual_clock();
    let app = spawn_app_with_clock(test_settings(&db), clock.clone()).await;
    let api = app.api();
    let token = api.merchant("13600000001").await;
    assert!(shops(&api, &token).await.is_empty());

    // Forged states change nothing, before and after a real round trip.
    let forged = "A".repeat(43);
    for (url, why) in [
        (format!("{}/api/v1/platforms/douyin/callback?code=c&state={forged}", app.base), "forged"),
        (format!("{}/api/v1/platforms/kuaishou/callback?code=c&state=short", app.base), "malformed"),
        (format!("{}/api/v1/platforms/douyin/callback?code=c", app.base), "missing"),
    ] {
        let refused = get(&url).await;
        assert_eq!(
            (refused.status.as_u16(), refused.code()),
            (400, "invalid_state"),
            "{why}: {}",
            refused.body
        );
    }
    assert!(stored_shops(&app).await.is_empty());

    // A state issued for Douyin does not bind on Kuaishou's callback, and is used up by trying.
    let douyin_back = consent(&app, &token, "douyin", "抖店旗舰店").await;
    let crossed = douyin_back.replace("/platforms/douyin/callback", "/platforms/kuaishou/callback");
    let refused = get(&crossed).await;
    assert_eq!((refused.status.as_u16(), refused.code()), (400, "invalid_state"), "{}", refused.body);
    let refused = get(&douyin_back).await;
    assert_eq!(
        (refused.status.as_u16(), refused.code()),
        (400, "invalid_state"),
        "used up: {}",
        refused.body
    );
    assert!(stored_shops(&app).await.is_empty());

    // An expired state binds nothing.
    let late = consent(&app, &token, "kuaishou", "快手小店").await;
    clock.advance_millis(601_000);
    let refused = get(&late).await;
    assert_eq!((refused.status.as_u16(), refused.code()), (400, "invalid_state"), "{}", refused.body);
    assert!(stored_shops(&app).await.is_empty());

    // The real round trips bind both shops; the same callback again is refused.
    for (platform, name) in [("douyin", "抖店旗舰店"), ("kuaishou", "快手小店")] {
        let back = consent(&app, &token, platform, name).await;
        let bound = get(&back).await;
        assert_eq!(bound.status, 200, "{platform}: {}", bound.body);
        assert_eq!(bound.body["state"], "connected");
        // Kuaishou's token answer names the seller by `open_id` only; Douyin's names the shop.
        let expected_name = if platform == "douyin" { name } else { "" };
        assert_eq!(bound.body["shop_name"], expected_name, "{}", bound.body);
        let replayed = get(&back).await;
        assert_eq!(
            (replayed.status.as_u16(), replayed.code()),
            (400, "invalid_state"),
            "{platform} replayed"
        );
    }
    let list = shops(&api, &token).await;
    assert_eq!(list.len(), 2, "{list:?}");
    for platform in ["douyin", "kuaishou"] {
        assert_eq!(shop(&list, platform)["state"], "connected");
    }
    // Tokens are sealed at rest and open to the platform's tokens.
    let stored = stored_shops(&app).await;
    assert_eq!(stored.len(), 2);
    for record in &stored {
        assert!(
            !record.access_token_sealed.contains("act.") && !record.refresh_token_sealed.contains("rft.")
        );
        let grant = app.state.live.grant_of(record).unwrap();
        assert!(
            grant.access_token.starts_with("act.") && grant.refresh_token.starts_with("rft."),
            "{grant:?}"
        );
    }
    // Kuaishou's access token lives 2 days, Douyin's refresh token 14 days.
    let now = clock.now().as_millis();
    let kuaishou = stored.iter().find(|r| r.platform == "kuaishou").unwrap();
    assert_eq!(kuaishou.access_expires_at.as_millis() - now, 2 * DAY_MS);
    let douyin = stored.iter().find(|r| r.platform == "douyin").unwrap();
    assert_eq!(douyin.refresh_expires_at.as_millis() - now, 14 * DAY_MS);

    // Another merchant cannot take a bound shop.
    let other = api.merchant("13600000002").await;
    let back = consent(&app, &other, "douyin", "抖店旗舰店").await;
    let taken = get(&back).await;
    assert_eq!((taken.status.as_u16(), taken.code()), (409, "shop_taken"), "{}", taken.body);
    assert!(shops(&api, &other).await.is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_refreshed_before_expiry_and_a_revoked_grant_disconnects_the_shop() {
    let db = TestDb::new().await;
    let clock = manual_clock();
    let app = spawn_app_with_clock(test_settings(&db), clock.clone()).await;
    let api = app.api();
    let token = api.merchant("13600000001").await;
    for (platform, name) in [("douyin", "抖店旗舰店"), ("kuaishou", "快手小店")] {
        let back = consent(&app, &token, platform, name).await;
        assert_eq!(get(&back).await.status, 200);
    }
    let live = &app.state.live;
    let first = stored_shops(&app).await;

    // Nothing is due yet.
    assert_eq!(live.refresh_due().await.unwrap(), workflows::live::RefreshReport::default());
    // Kuaishou's access token (2 days) comes within the 1-day margin first.
    clock.advance_millis(DAY_MS + 1_000);
    let report = live.refresh_due().await.unwrap();
    assert_eq!((report.refreshed, report.disconnected, report.failed), (1, 0, 0), "{report:?}");
    let after = stored_shops(&app).await;
    let (before_k, after_k) = (
        first.iter().find(|r| r.platform == "kuaishou").unwrap(),
        after.iter().find(|r| r.platform == "kuaishou").unwrap(),
    );
    assert_eq!(
        after_k.access_expires_at.as_millis(),
        clock.now().as_millis() + 2 * DAY_MS,
        "a fresh 2-day token"
    );
    assert_eq!(after_k.refresh_expires_at, before_k.refresh_expires_at, "Kuaishou keeps the 180-day expiry");
    assert_ne!(live.grant_of(after_k).unwrap().refresh_token, live.grant_of(before_k).unwrap().refresh_token);
    assert!(after_k.refreshed_at.is_some());

    // Six days on, Douyin's 7-day access token is due; Kuaishou's again; both refresh, and the
    // rotated tokens work (the next refresh uses them).
    clock.advance_millis(5 * DAY_MS);
    let report = live.refresh_due().await.unwrap();
    assert_eq!((report.refreshed, report.disconnected, report.failed), (2, 0, 0), "{report:?}");
    clock.advance_millis(DAY_MS + 1_000);
    let report = live.refresh_due().await.unwrap();
    assert_eq!(
        (report.refreshed, report.disconnected, report.failed),
        (1, 0, 0),
        "kuaishou again: {report:?}"
    );

    // The merchant revokes the Douyin grant at the platform: the next refresh finds out.
    let revoked = app
        .client
        .post(format!("{}/sandbox/douyin/grants/revoke", app.base))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    clock.advance_millis(6 * DAY_MS);
    let report = live.refresh_due().await.unwrap();
    assert_eq!((report.refreshed, report.disconnected, report.failed), (1, 1, 0), "{report:?}");
    let list = shops(&api, &token).await;
    let douyin = shop(&list, "douyin");
    assert_eq!(douyin["state"], "disconnected", "{douyin}");
    assert!(douyin["disconnected_at"].is_string() && douyin["disconnected_reason"].is_string(), "{douyin}");
    assert_eq!(shop(&list, "kuaishou")["state"], "connected");
    // The merchant is told by text, once, through the outbox.
    let texts = || async {
        let inbox = api.get("/sandbox/sms/messages?phone=13600000001", None).await;
        inbox.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["template_id"] == "2100106")
            .filter_map(|m| m["text"].as_str().map(str::to_owned))
            .collect::<Vec<String>>()
    };
    crate::helpers::eventually("the merchant's text about the disconnection", || async {
        !texts().await.is_empty()
    })
    .await;
    let sent = texts().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains("抖店") && sent[0].contains("抖店旗舰店") && sent[0].contains("重新授权"),
        "{}",
        sent[0]
    );
    // A disconnected shop is not refreshed again.
    clock.advance_millis(DAY_MS + 1_000);
    let report = live.refresh_due().await.unwrap();
    assert_eq!((report.refreshed, report.disconnected, report.failed), (1, 0, 0), "{report:?}");

    // Binding again connects it again.
    let back = consent(&app, &token, "douyin", "抖店旗舰店").await;
    assert_eq!(get(&back).await.body["state"], "connected");
    assert_eq!(shop(&shops(&api, &token).await, "douyin")["state"], "connected");
    assert_eq!(texts().await.len(), 1, "told once");
    app.stop().await;
}

/// Binds both of `token`'s shops through the consent pages.
async fn bind_both(app: &TestApp, token: &str) {
    for (platform, name) in [("douyin", "抖店旗舰店"), ("kuaishou", "快手小店")] {
        let back = consent(app, token, platform, name).await;
        let bound = get(&back).await;
        assert_eq!(bound.status, 200, "{platform}: {}", bound.body);
    }
}

/// Sells `sale` through `platform` too; the platform's item id.
async fn bind_sale(api: &Api, token: &str, sale: i64, platform: &str, leased: u64) -> String {
    let bound = api
        .post(&format!("/api/v1/flash-sales/{sale}/platforms"), Some(token), json!({"platform": platform}))
        .await;
    assert_eq!(bound.status, 201, "{platform}: {}", bound.body);
    assert_eq!(bound.body["leased"], leased, "{platform}: {}", bound.body);
    bound.body["item_id"].as_str().unwrap().to_owned()
}

fn live_settings(db: &TestDb, slice_units: u32, top_up_below: u32) -> gateway::Settings {
    let mut settings = test_settings(db);
    settings.live.slice_units = slice_units;
    settings.live.top_up_below = top_up_below;
    // The test polls and rebalances when it wants to.
    settings.live.poll_interval_secs = 3_600;
    settings.live.rebalance_interval_ms = 3_600_000;
    settings.live.poll_max_pages = 50;
    settings
}

/// A fan buys one unit on the platform's sandbox: whether it sold.
async fn platform_buy(client: &reqwest::Client, base: &str, platform: &str, item: &str) -> bool {
    let answer = client
        .post(format!("{base}/sandbox/{platform}/items/{item}/buy"))
        .json(&json!({"quantity": 1}))
        .send()
        .await
        .unwrap();
    match answer.status().as_u16() {
        201 => true,
        409 => false,
        other => panic!("{platform} buy answered {other}: {}", answer.text().await.unwrap()),
    }
}

async fn slice(app: &TestApp, sale: i64, door: engine::Door) -> (engine::Slice, engine::StockCounts) {
    app.state.sale(engine::FlashSaleId(sale)).await.unwrap().unwrap().slice(door).await.unwrap()
}

/// Three doors at once: a 1,000-unit sale on our page and in both shops, buyers hammering all
/// three until nothing is left anywhere. Exactly 1,000 units are sold in total, no platform
/// sells more than was leased to it, every platform order is one order of ours, and the
/// counters agree with the database and the platforms.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_doors_sell_exactly_the_quantity_and_no_platform_passes_its_slice() {
    const QUANTITY: i64 = 1_000;
    let db = TestDb::new().await;
    let app = spawn_app(live_settings(&db, 50, 20)).await;
    let api = app.api();
    let (token, _, sale) = api.merchant_sale("13600000001", 990, QUANTITY, 600).await;
    bind_both(&app, &token).await;
    let douyin_item = bind_sale(&api, &token, sale, "douyin", 50).await;
    let kuaishou_item = bind_sale(&api, &token, sale, "kuaishou", 50).await;
    let buyers = Arc::new(api.buyers(13_100_000_000, 20, 8).await);

    let ours = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    // Our page: 20 buyers, 75 orders each, 128 at a time.
    let gate = Arc::new(tokio::sync::Semaphore::new(128));
    for n in 0..1_500usize {
        let (api, buyers, ours, gate) = (api.clone(), buyers.clone(), ours.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            let placed = api.order(sale, &buyers[n % 20], &format!("k{n}"), 1).await;
            match placed.status.as_u16() {
                201 => {
                    ours.fetch_add(1, Ordering::SeqCst);
                }
                409 => assert_eq!(placed.code(), "sold_out", "{}", placed.body),
                other => panic!("our page answered {other}: {}", placed.body),
            }
        });
    }
    // Each platform: 16 fans buying until the platform is sold out and nothing is leased to it
    // any more (its sales are all known and no free unit is left to top it up).
    let sold_at = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    for (platform, item, door) in [
        ("douyin", douyin_item.clone(), engine::Door::Douyin),
        ("kuaishou", kuaishou_item.clone(), engine::Door::Kuaishou),
    ] {
        for _ in 0..16 {
            let (client, base, item, sold_at) =
                (app.client.clone(), app.base.clone(), item.clone(), sold_at.clone());
            let state = app.state.clone();
            tasks.spawn(async move {
                for _ in 0..20_000 {
                    if platform_buy(&client, &base, platform, &item).await {
                        sold_at[door.index()].fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    let handle = state.registry.get(engine::FlashSaleId(sale)).unwrap();
                    let (slice, counts) = handle.slice(door).await.unwrap();
                    if slice.leased == 0 && counts.available == 0 {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                panic!("{platform} never ran dry");
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    // Pushes are all in; the backstop finds nothing new.
    let polled = app.state.live.poll_once().await.unwrap();
    assert_eq!(polled.failed, 0, "{polled:?}");

    let ours = ours.load(Ordering::SeqCst);
    let douyin_sold = sold_at[0].load(Ordering::SeqCst);
    let kuaishou_sold = sold_at[1].load(Ordering::SeqCst);
    assert_eq!(
        ours + douyin_sold + kuaishou_sold,
        QUANTITY as u64,
        "ours {ours}, douyin {douyin_sold}, kuaishou {kuaishou_sold}"
    );
    assert!(douyin_sold >= 50 && kuaishou_sold >= 50, "each platform sold its first slice at least");

    let (_, counts) = slice(&app, sale, engine::Door::Douyin).await;
    assert_eq!(counts.available, 0);
    assert_eq!(counts.leased, 0);
    assert_eq!(u64::from(counts.reserved), ours, "our page's orders hold their units");
    assert_eq!(u64::from(counts.sold), douyin_sold + kuaishou_sold);
    let handle = app.state.registry.get(engine::FlashSaleId(sale)).unwrap();
    assert_eq!(handle.verify().await.unwrap().1, Ok(()));

    // Every platform order is one order of ours, once; each platform's item stock is empty
    // and never went past its slice.
    let stored =
        persistence::live::orders_of_sale(&app.state.db, engine::FlashSaleId(sale), 10_000).await.unwrap();
    for (platform, item, door, sold) in [
        ("douyin", &douyin_item, engine::Door::Douyin, douyin_sold),
        ("kuaishou", &kuaishou_item, engine::Door::Kuaishou, kuaishou_sold),
    ] {
        let at_platform: std::collections::BTreeSet<String> = match platform {
            "douyin" => app.state.douyin_sandbox.as_ref().unwrap().shop.all_orders(),
            _ => app.state.kuaishou_sandbox.as_ref().unwrap().shop.all_orders(),
        }
        .into_iter()
        .filter(|o| o.item_id.to_string() == *item)
        .map(|o| o.order_id.to_string())
        .collect();
        let ours: Vec<&engine::DoorOrder> = stored.iter().filter(|o| o.door == door).collect();
        assert_eq!(at_platform.len() as u64, sold, "{platform}");
        assert_eq!(ours.len(), at_platform.len(), "{platform}: each platform order once");
        let ours_ids: std::collections::BTreeSet<String> =
            ours.iter().map(|o| o.platform_order_id.clone()).collect();
        assert_eq!(ours_ids, at_platform, "{platform}");
        assert!(ours.iter().all(|o| o.units == engine::DoorUnits::Sold && o.quantity == 1));
        let (slice, _) = slice(&app, sale, door).await;
        assert_eq!(u64::from(slice.sold), sold, "{platform}");
        let stock = match platform {
            "douyin" => app.state.douyin_sandbox.as_ref().unwrap().shop.item(item.parse().unwrap()),
            _ => app.state.kuaishou_sandbox.as_ref().unwrap().shop.item(item.parse().unwrap()),
        }
        .unwrap()
        .skus[0]
            .stock;
        assert_eq!(stock, 0, "{platform}: nothing left on the platform");
    }
    let (reserved, sold) =
        persistence::repo::sale_units(&app.state.db, engine::FlashSaleId(sale)).await.unwrap();
    assert_eq!((u64::from(reserved), sold), (ours, 0), "our own orders in the database");
    app.stop().await;
}

/// Pushes duplicated, shuffled, dropped, forged, stale and malformed: each real event is
/// applied once, refused ones change nothing, and polling brings the dropped one; a refund
/// gives units back to the sale; a restart rebuilds slices and platform orders exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_chaos_applies_each_real_event_once_and_refused_pushes_change_nothing() {
    let db = TestDb::new().await;
    let clock = manual_clock();
    let app = spawn_app_with_clock(live_settings(&db, 10, 3), clock.clone()).await;
    let api = app.api();
    let (token, _, sale) = api.merchant_sale("13600000001", 990, 100, 600).await;
    bind_both(&app, &token).await;
    let douyin_item = bind_sale(&api, &token, sale, "douyin", 10).await;
    let kuaishou_item = bind_sale(&api, &token, sale, "kuaishou", 10).await;
    let douyin = app.state.douyin_sandbox.clone().unwrap();
    let kuaishou = app.state.kuaishou_sandbox.clone().unwrap();
    // The platforms push nothing themselves: this test is the platform's network.
    douyin.shop.set_push_url(None);
    kuaishou.shop.set_push_url(None);
    for _ in 0..4 {
        assert!(platform_buy(&app.client, &app.base, "douyin", &douyin_item).await);
    }
    assert!(platform_buy(&app.client, &app.base, "kuaishou", &kuaishou_item).await);
    let mut orders: Vec<_> = douyin.shop.all_orders().into_iter().map(|o| (o.order_id, o.shop_id)).collect();
    orders.sort();
    let now_secs = chrono::Utc::now().timestamp();
    let douyin_push_tagged = |tag: &str, order: u64, shop: &str, msg: &str, at_secs: i64, secret: &str| {
        let data = json!({"p_id": order, "s_ids": [order], "shop_id": shop.parse::<i64>().unwrap(),
            "order_status": 2, "create_time": at_secs, "update_time": at_secs, "pay_time": at_secs});
        let body = json!([{"tag": tag, "msg_id": msg, "data": data.to_string()}]).to_string();
        let sign = providers::live::douyin::protocol::push_sign(&douyin.app.app_key, body.as_bytes(), secret);
        (body, sign)
    };
    let douyin_push = |order: u64, shop: &str, msg: &str, at_secs: i64, secret: &str| {
        douyin_push_tagged("101", order, shop, msg, at_secs, secret)
    };
    let send = |platform: &'static str, body: String, sign: Option<String>| {
        let (client, base, app_key) = (app.client.clone(), app.base.clone(), douyin.app.app_key.clone());
        async move {
            let mut request = client.post(format!("{base}/api/v1/platforms/{platform}/notify")).body(body);
            if let Some(sign) = sign {
                request = request.header("app-id", app_key).header("event-sign", sign);
            }
            reply(request.send().await.unwrap()).await
        }
    };
    let secret = douyin.app.app_secret.clone();
    let real: Vec<(String, String)> = orders
        .iter()
        .take(3)
        .enumerate()
        .map(|(i, (order, shop))| douyin_push(*order, shop, &format!("m-{i}"), now_secs, &secret))
        .collect();
    // Duplicated and shuffled; the fourth order's push is lost.
    for i in [0, 2, 1, 0, 2, 1, 0] {
        let answer = send("douyin", real[i].0.clone(), Some(real[i].1.clone())).await;
        assert_eq!((answer.status.as_u16(), answer.body["code"].clone()), (200, json!(0)), "{}", answer.body);
    }
    let door_orders = || async {
        persistence::live::orders_of_sale(&app.state.db, engine::FlashSaleId(sale), 100).await.unwrap()
    };
    assert_eq!(door_orders().await.len(), 3);
    let (slice_after_real, counts_after_real) = slice(&app, sale, engine::Door::Douyin).await;
    assert_eq!(slice_after_real.sold, 3);

    // Forged (another secret), stale (two days old), malformed (not the platform's array):
    // refused in Douyin's shape, nothing changes.
    let (fourth, shop) = &orders[3];
    let forged = douyin_push(*fourth, shop, "m-forged", now_secs, "not-the-secret");
    let stale = douyin_push(*fourth, shop, "m-stale", now_secs - 2 * 86_400, &secret);
    let malformed_body = "{\"tag\":1}".to_owned();
    let malformed_sign =
        providers::live::douyin::protocol::push_sign(&douyin.app.app_key, malformed_body.as_bytes(), &secret);
    for (why, body, sign) in [
        ("forged", forged.0, Some(forged.1)),
        ("stale", stale.0, Some(stale.1)),
        ("malformed", malformed_body, Some(malformed_sign)),
        ("unsigned", real[0].0.clone(), None),
    ] {
        let answer = send("douyin", body, sign).await;
        assert_eq!(answer.status.as_u16(), 400, "{why}: {}", answer.body);
        assert_ne!(answer.body["code"], json!(0), "{why}: never acknowledged");
    }
    // Kuaishou: a push sealed under another key is forged.
    let foreign = providers::live::kuaishou::protocol::encrypt_push(
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        b"{}",
    )
    .unwrap();
    let answer = send("kuaishou", foreign, None).await;
    assert_eq!((answer.status.as_u16(), answer.body["result"].clone()), (400, json!(0)), "{}", answer.body);
    assert_eq!(door_orders().await.len(), 3, "refused pushes recorded nothing");
    assert_eq!(slice(&app, sale, engine::Door::Douyin).await, (slice_after_real, counts_after_real));

    // Polling brings the lost one (and Kuaishou's, never pushed), once each however often.
    for _ in 0..2 {
        let polled = app.state.live.poll_once().await.unwrap();
        assert_eq!(polled.failed, 0, "{polled:?}");
    }
    let stored = door_orders().await;
    assert_eq!(stored.len(), 5, "{stored:?}");
    assert_eq!(stored.iter().filter(|o| o.door == engine::Door::Douyin).count(), 4);
    let (douyin_slice, counts) = slice(&app, sale, engine::Door::Douyin).await;
    let (kuaishou_slice, _) = slice(&app, sale, engine::Door::Kuaishou).await;
    assert_eq!((douyin_slice.sold, kuaishou_slice.sold), (4, 1));
    // Douyin sold 4 of its 10, Kuaishou 1 of its 10: neither fell below 3, no top-up.
    assert_eq!((douyin_slice.leased, kuaishou_slice.leased), (6, 9));
    assert_eq!(
        counts,
        engine::StockCounts { quantity: 100, available: 80, reserved: 0, sold: 5, leased: 6 + 9 }
    );

    // A cancellation before payment gives the unit back to the platform's slice; a refund
    // agreed after payment gives it back to the sale.
    let order = douyin.shop.all_orders().into_iter().map(|o| o.order_id).min().unwrap();
    let refunded = app
        .client
        .post(format!("{}/sandbox/douyin/orders/{order}/refund/agree", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(refunded.status(), 201);
    // Five platform orders credited at 9.90 less the platform's 5% (50 fen): 940 fen each.
    assert_eq!(api.balance(&token).await, (5 * 940, 0, 0));
    // The refund's push arrives three times, then polling reads the order again: the credit
    // is reversed once.
    let shop = douyin.shop.all_orders().into_iter().find(|o| o.order_id == order).unwrap().shop_id;
    let refund_push = douyin_push_tagged("201", order, &shop, "m-refund", now_secs, &secret);
    for _ in 0..3 {
        let answer = send("douyin", refund_push.0.clone(), Some(refund_push.1.clone())).await;
        assert_eq!((answer.status.as_u16(), answer.body["code"].clone()), (200, json!(0)), "{}", answer.body);
    }
    app.state.live.poll_once().await.unwrap();
    let (douyin_slice, counts) = slice(&app, sale, engine::Door::Douyin).await;
    assert_eq!((douyin_slice.sold, douyin_slice.leased, counts.available), (3, 6, 81));
    assert_eq!(api.balance(&token).await, (4 * 940, 0, 0));
    let link = persistence::live_orders::link_of_platform_order(&app.state.db, "douyin", &order.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        persistence::repo::order(&app.state.db, link.order_id).await.unwrap().unwrap().state,
        engine::OrderState::Refunded
    );
    let handle = app.state.registry.get(engine::FlashSaleId(sale)).unwrap();
    assert_eq!(handle.verify().await.unwrap().1, Ok(()));
    drop(handle);

    // Nothing is taken back while the sale runs; once it has ended, what each platform still
    // holds comes back: its stock is lowered first, then the units return to the sale.
    assert_eq!(app.state.live.take_back_ended().await.unwrap(), 0);
    clock.advance_millis(2 * 3_600_000);
    assert_eq!(app.state.live.take_back_ended().await.unwrap(), 6 + 9);
    assert_eq!(douyin.shop.item(douyin_item.parse().unwrap()).unwrap().skus[0].stock, 0);
    assert_eq!(kuaishou.shop.item(kuaishou_item.parse().unwrap()).unwrap().skus[0].stock, 0);
    let (douyin_slice, counts) = slice(&app, sale, engine::Door::Douyin).await;
    assert_eq!((douyin_slice.leased, douyin_slice.sold), (0, 3));
    assert_eq!(counts, engine::StockCounts { quantity: 100, available: 96, reserved: 0, sold: 4, leased: 0 });
    assert_eq!(app.state.live.take_back_ended().await.unwrap(), 0, "nothing left to take back");
    let before =
        (slice(&app, sale, engine::Door::Douyin).await, slice(&app, sale, engine::Door::Kuaishou).await.0);
    app.stop().await;

    // A restart rebuilds the sale from the journal exactly: slices, platform orders, counts.
    let app = spawn_app(live_settings(&db, 10, 3)).await;
    let after =
        (slice(&app, sale, engine::Door::Douyin).await, slice(&app, sale, engine::Door::Kuaishou).await.0);
    assert_eq!(after, before);
    let handle = app.state.registry.get(engine::FlashSaleId(sale)).unwrap();
    assert_eq!(handle.verify().await.unwrap().1, Ok(()));
    drop(handle);
    app.stop().await;
}

/// The orders of ours made from the sale's platform orders: `(order id, platform, platform
/// order id, waybill attempts, sent)`.
async fn platform_links(app: &TestApp, sale: i64) -> Vec<persistence::live_orders::PlatformOrderLink> {
    persistence::live_orders::links_of_sale(&app.state.db, engine::FlashSaleId(sale), 1_000).await.unwrap()
}

/// `(channel, state)` of each payment of an order.
async fn payments_of(app: &TestApp, order: i64) -> Vec<(String, String)> {
    persistence::payments::payments_of_order(&app.state.db, engine::OrderId(order))
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.channel.as_str().to_owned(), p.state.as_str().to_owned()))
        .collect()
}

/// Platform orders become orders of ours: paid on the platform's channel, credited at once
/// with the platform's fee and the MCN's share, listed to the merchant with the receiver, once
/// per platform order however often they are applied, across a restart too. Shipped from our
/// side, each waybill reaches its platform once; one the platform refuses is retried on a
/// doubling backoff, a bounded number of times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_orders_are_credited_once_listed_and_their_waybills_reach_the_platforms() {
    let db = TestDb::new().await;
    let clock = manual_clock();
    let mut settings = live_settings(&db, 10, 3);
    settings.live.waybill_max_attempts = 3;
    let app = spawn_app_with_clock(settings.clone(), clock.clone()).await;
    let api = app.api();
    let operator = api.operator().await;
    let (token, merchant_id, sale) = api.merchant_sale("13600000001", 990, 100, 600).await;
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
    bind_both(&app, &token).await;
    let douyin_item = bind_sale(&api, &token, sale, "douyin", 10).await;
    let kuaishou_item = bind_sale(&api, &token, sale, "kuaishou", 10).await;
    let douyin = app.state.douyin_sandbox.clone().unwrap();
    let kuaishou = app.state.kuaishou_sandbox.clone().unwrap();
    douyin.shop.set_push_url(None);
    kuaishou.shop.set_push_url(None);
    for _ in 0..3 {
        assert!(platform_buy(&app.client, &app.base, "douyin", &douyin_item).await);
    }
    for _ in 0..2 {
        assert!(platform_buy(&app.client, &app.base, "kuaishou", &kuaishou_item).await);
    }
    // Applied twice: each platform order once.
    for _ in 0..2 {
        let polled = app.state.live.poll_once().await.unwrap();
        assert_eq!(polled.failed, 0, "{polled:?}");
    }
    let links = platform_links(&app, sale).await;
    assert_eq!(links.len(), 5, "{links:?}");
    let mut at_platforms: Vec<(String, String)> = douyin
        .shop
        .all_orders()
        .into_iter()
        .map(|o| ("douyin".to_owned(), o.order_id.to_string()))
        .chain(
            kuaishou.shop.all_orders().into_iter().map(|o| ("kuaishou".to_owned(), o.order_id.to_string())),
        )
        .collect();
    at_platforms.sort();
    let mut ours: Vec<(String, String)> =
        links.iter().map(|l| (l.platform.clone(), l.platform_order_id.clone())).collect();
    ours.sort();
    assert_eq!(ours, at_platforms, "every platform order is one order of ours");
    for link in &links {
        assert_eq!(
            payments_of(&app, link.order_id.0).await,
            vec![(link.platform.clone(), "credited".to_owned())]
        );
    }

    // 9.90 yuan each: the platform keeps 5% (49.5 → 50 fen), the MCN 30% of the 940 left
    // (282), the merchant 658; credited at once, nothing pending.
    assert_eq!(api.balance(&token).await, (5 * 658, 0, 0));
    let books = app.state.payments.settlement_of(engine::MerchantId(merchant_id)).await.unwrap();
    assert_eq!(books.verify().await.unwrap().1, Ok(()));

    // The merchant's list shows them to ship, with the receiver the platform gave.
    let to_ship = api.get("/api/v1/merchants/me/orders?state=to_ship", Some(&token)).await;
    assert_eq!(to_ship.status, 200, "{}", to_ship.body);
    let rows = to_ship.body["orders"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{}", to_ship.body);
    assert!(rows.iter().all(|r| r["state"] == "paid" && r["amount_fen"] == 990), "{}", to_ship.body);
    let first_douyin = links.iter().find(|l| l.platform == "douyin").unwrap().order_id.0;
    let row = rows.iter().find(|r| r["id"] == first_douyin).unwrap();
    assert_eq!(
        (row["address"]["phone"].as_str(), row["address"]["district"].as_str()),
        (Some("13800138000"), Some("南山区")),
        "{row}"
    );
    // Both platforms send the receiver encrypted: what the merchant sees was decrypted.
    let first_kuaishou = links.iter().find(|l| l.platform == "kuaishou").unwrap();
    let row = rows.iter().find(|r| r["id"] == first_kuaishou.order_id.0).unwrap();
    let expected_detail =
        format!("文三路{}号", first_kuaishou.platform_order_id.parse::<u64>().unwrap() % 1000);
    assert_eq!(
        (
            row["address"]["name"].as_str(),
            row["address"]["phone"].as_str(),
            row["address"]["detail"].as_str()
        ),
        (Some("快手买家"), Some("13900139000"), Some(expected_detail.as_str())),
        "{row}"
    );
    // Our own page's counts are not touched by them; the slices count them.
    let (reserved, sold) =
        persistence::repo::sale_units(&app.state.db, engine::FlashSaleId(sale)).await.unwrap();
    assert_eq!((reserved, sold), (0, 0));
    let (_, counts) = slice(&app, sale, engine::Door::Douyin).await;
    assert_eq!(counts.sold, 5);

    // Shipped from our console: the waybill reaches the platform once.
    let links = platform_links(&app, sale).await;
    let (d, k) = (
        links.iter().find(|l| l.platform == "douyin").unwrap().clone(),
        links.iter().find(|l| l.platform == "kuaishou").unwrap().clone(),
    );
    for (link, waybill) in [(&d, "SF1407285902613"), (&k, "SF1407285902614")] {
        let shipped = api
            .post(
                &format!("/api/v1/orders/{}/shipments", link.order_id.0),
                Some(&token),
                json!({"courier": "SF", "waybill_no": waybill}),
            )
            .await;
        assert_eq!(shipped.status, 201, "{}", shipped.body);
    }
    let sent = app.state.live.send_waybills().await.unwrap();
    assert_eq!((sent.sent, sent.failed), (2, 0));
    assert_eq!(app.state.live.send_waybills().await.unwrap(), workflows::live::WaybillReport::default());
    let at_douyin = douyin
        .shop
        .order(&douyin.shop.all_orders()[0].shop_id, d.platform_order_id.parse().unwrap())
        .unwrap();
    assert_eq!(at_douyin.waybill, Some(("shunfeng".to_owned(), "SF1407285902613".to_owned())));
    let at_kuaishou = kuaishou
        .shop
        .order(&kuaishou.shop.all_orders()[0].shop_id, k.platform_order_id.parse().unwrap())
        .unwrap();
    // 顺丰速运 is 4 in Kuaishou's courier table.
    assert_eq!(at_kuaishou.waybill, Some(("4".to_owned(), "SF1407285902614".to_owned())));
    let links = platform_links(&app, sale).await;
    for link in links.iter().filter(|l| l.order_id == d.order_id || l.order_id == k.order_id) {
        assert_eq!((link.waybill_attempts, link.waybill_sent_at.is_some()), (1, true), "{link:?}");
    }

    // The platform refunded an order that the merchant then ships from our side: the platform
    // refuses its waybill; it is tried again after 30 s, 60 s, then no more.
    let refunded = links.iter().find(|l| l.platform == "douyin" && l.order_id != d.order_id).unwrap().clone();
    let agreed = app
        .client
        .post(format!("{}/sandbox/douyin/orders/{}/refund/agree", app.base, refunded.platform_order_id))
        .send()
        .await
        .unwrap();
    assert_eq!(agreed.status(), 201);
    let shipped = api
        .post(
            &format!("/api/v1/orders/{}/shipments", refunded.order_id.0),
            Some(&token),
            json!({"courier": "SF", "waybill_no": "SF1407285902615"}),
        )
        .await;
    assert_eq!(shipped.status, 201, "{}", shipped.body);
    let attempts = || async {
        persistence::live_orders::link_of_order(&app.state.db, refunded.order_id).await.unwrap().unwrap()
    };
    for (advance, expected) in [(0, 1), (29_000, 1), (2_000, 2), (59_000, 2), (2_000, 3), (600_000, 3)] {
        clock.advance_millis(advance);
        app.state.live.send_waybills().await.unwrap();
        let link = attempts().await;
        assert_eq!(link.waybill_attempts, expected, "after +{advance} ms: {link:?}");
        assert!(link.waybill_sent_at.is_none() && link.waybill_error.is_some());
    }

    // What the platforms do next moves ours: the refund agreed on Douyin above (our order was
    // shipped meanwhile), a Kuaishou order refunded before shipping, and the Douyin order
    // shipped from our side completed there by its buyer.
    let k_refunded =
        links.iter().find(|l| l.platform == "kuaishou" && l.order_id != k.order_id).unwrap().clone();
    let agreed = app
        .client
        .post(format!("{}/sandbox/kuaishou/orders/{}/refund/agree", app.base, k_refunded.platform_order_id))
        .send()
        .await
        .unwrap();
    assert_eq!(agreed.status(), 201);
    let completed = app
        .client
        .post(format!("{}/sandbox/douyin/orders/{}/complete", app.base, d.platform_order_id))
        .send()
        .await
        .unwrap();
    assert!(completed.status().is_success(), "{}", completed.status());
    // The third Douyin order is shipped by the merchant in Douyin's own console.
    let d_console = links
        .iter()
        .find(|l| l.platform == "douyin" && l.order_id != d.order_id && l.order_id != refunded.order_id)
        .unwrap()
        .clone();
    let in_console = app
        .client
        .post(format!("{}/sandbox/douyin/orders/{}/ship", app.base, d_console.platform_order_id))
        .json(&json!({"company": "zhongtong", "waybill": "731234567890"}))
        .send()
        .await
        .unwrap();
    assert_eq!(in_console.status(), 201);
    let state_of = |id: engine::OrderId| {
        let db = app.state.db.clone();
        async move { persistence::repo::order(&db, id).await.unwrap().unwrap().state }
    };
    // Applied twice: each refund reversed once.
    for _ in 0..2 {
        let polled = app.state.live.poll_once().await.unwrap();
        assert_eq!(polled.failed, 0, "{polled:?}");
    }
    assert_eq!(state_of(refunded.order_id).await, engine::OrderState::Refunded);
    assert_eq!(state_of(k_refunded.order_id).await, engine::OrderState::Refunded);
    assert_eq!(state_of(d.order_id).await, engine::OrderState::Completed);
    assert_eq!(state_of(k.order_id).await, engine::OrderState::Shipped);
    // Shipped there, shipped here: with the platform's courier and waybill, and nothing for
    // the waybill sweep to send.
    assert_eq!(state_of(d_console.order_id).await, engine::OrderState::Shipped);
    let shipment =
        persistence::shipments::of_order(&app.state.db, d_console.order_id).await.unwrap().unwrap();
    assert_eq!((shipment.courier.as_str(), shipment.waybill_no.as_str()), ("ZTO", "731234567890"));
    let link =
        persistence::live_orders::link_of_order(&app.state.db, d_console.order_id).await.unwrap().unwrap();
    assert!(link.waybill_sent_at.is_some() && link.waybill_error.is_none(), "{link:?}");
    assert_eq!(
        payments_of(&app, refunded.order_id.0).await,
        vec![("douyin".to_owned(), "refunded".to_owned())]
    );
    assert_eq!(
        payments_of(&app, k_refunded.order_id.0).await,
        vec![("kuaishou".to_owned(), "refunded".to_owned())]
    );
    // Fee and the MCN's share reversed with the merchant's: three orders' credit left.
    assert_eq!(api.balance(&token).await, (3 * 658, 0, 0));
    assert_eq!(books.verify().await.unwrap().1, Ok(()));
    let stored = persistence::money::books(&app.state.db, engine::MerchantId(merchant_id)).await.unwrap();
    let refunds: Vec<&engine::ledger::Posting> =
        stored.postings.iter().filter(|p| p.op.0.starts_with("platform-refund:")).collect();
    assert_eq!(refunds.len(), 2, "{refunds:?}");
    // The refunded units are free again for the sale; a refunded order's waybill is not retried.
    let (_, counts) = slice(&app, sale, engine::Door::Douyin).await;
    assert_eq!(counts.sold, 3);
    clock.advance_millis(600_000);
    app.state.live.send_waybills().await.unwrap();
    assert_eq!(attempts().await.waybill_attempts, 3);
    app.stop().await;

    // A restart (the bundled sandboxes start empty): nothing is credited twice, the orders stay,
    // and the sale's actor is rebuilt without the platform orders (their units are the slices').
    let app = spawn_app_with_clock(settings, clock.clone()).await;
    assert_eq!(platform_links(&app, sale).await.len(), 5);
    assert_eq!(app.api().balance(&token).await, (3 * 658, 0, 0));
    let (_, counts) = slice(&app, sale, engine::Door::Douyin).await;
    assert_eq!((counts.sold, counts.reserved), (3, 0));
    let handle = app.state.registry.get(engine::FlashSaleId(sale)).unwrap();
    assert_eq!(handle.verify().await.unwrap().1, Ok(()));
    drop(handle);
    app.stop().await;
}

/// Our own page ran out while both platforms hold units: half of each slice comes back, the
/// platform's stock lowered first; while the page has units nothing is taken; and a top-up then
/// leases at most half of what the page has left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_page_takes_half_of_the_slices_back_when_it_runs_out() {
    let db = TestDb::new().await;
    let app = spawn_app(live_settings(&db, 10, 3)).await;
    let api = app.api();
    let (token, _, sale) = api.merchant_sale("13600000001", 990, 40, 600).await;
    bind_both(&app, &token).await;
    let douyin_item = bind_sale(&api, &token, sale, "douyin", 10).await;
    let kuaishou_item = bind_sale(&api, &token, sale, "kuaishou", 10).await;
    let douyin = app.state.douyin_sandbox.clone().unwrap();
    let kuaishou = app.state.kuaishou_sandbox.clone().unwrap();
    douyin.shop.set_push_url(None);
    kuaishou.shop.set_push_url(None);
    let stock = |platform: &str| match platform {
        "douyin" => douyin.shop.item(douyin_item.parse().unwrap()).unwrap().skus[0].stock,
        _ => kuaishou.shop.item(kuaishou_item.parse().unwrap()).unwrap().skus[0].stock,
    };

    // 20 units left on our page: nothing to take back.
    assert_eq!(app.state.live.rebalance().await.unwrap(), 0);
    let buyers = api.buyers(13_300_000_000, 20, 8).await;
    for (n, buyer) in buyers.iter().enumerate() {
        let placed = api.order(sale, buyer, &format!("r{n}"), 1).await;
        assert_eq!(placed.status, 201, "{}", placed.body);
    }
    let sold_out = api.order(sale, &buyers[0], "r-more", 1).await;
    assert_eq!((sold_out.status.as_u16(), sold_out.code()), (409, "sold_out"), "{}", sold_out.body);

    // Sold out on our page: half of each platform's 10 comes back.
    assert_eq!(app.state.live.rebalance().await.unwrap(), 10);
    for (platform, door) in [("douyin", engine::Door::Douyin), ("kuaishou", engine::Door::Kuaishou)] {
        let (slice, counts) = slice(&app, sale, door).await;
        assert_eq!((slice.leased, counts.available, counts.reserved), (5, 10, 20), "{platform}");
        assert_eq!(stock(platform), 5, "{platform}: the platform's stock was lowered");
    }
    assert_eq!(app.state.live.rebalance().await.unwrap(), 0, "our page has units again");
    let placed = api.order(sale, &buyers[0], "r-again", 1).await;
    assert_eq!(placed.status, 201, "{}", placed.body);

    // Three sold on Douyin: 2 left, under 3, topped up by at most half of our page's 9.
    for _ in 0..3 {
        assert!(platform_buy(&app.client, &app.base, "douyin", &douyin_item).await);
    }
    let polled = app.state.live.poll_once().await.unwrap();
    assert_eq!(polled.failed, 0, "{polled:?}");
    let (slice_now, counts) = slice(&app, sale, engine::Door::Douyin).await;
    assert_eq!((slice_now.sold, slice_now.leased, counts.available), (3, 7, 4));
    assert_eq!(stock("douyin"), 7);
    let handle = app.state.registry.get(engine::FlashSaleId(sale)).unwrap();
    assert_eq!(handle.verify().await.unwrap().1, Ok(()));
    drop(handle);
    app.stop().await;
}

/// Units taken back from a platform while the sale runs: the platform's stock is lowered
/// first, only what it gave up returns, and the door is not topped up again until the sale is
/// bound there again. A lease whose stock call failed is tried again on its backoff under the
/// same key, a bounded number of times, and never raises the platform past its slice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_come_back_from_a_platform_mid_sale_and_a_failed_lease_is_retried() {
    let db = TestDb::new().await;
    let clock = manual_clock();
    let mut settings = live_settings(&db, 10, 3);
    settings.live.lease_retries = 3;
    settings.live.lease_retry_base_ms = 1_000;
    let app = spawn_app_with_clock(settings, clock.clone()).await;
    let api = app.api();
    let (token, _, sale) = api.merchant_sale("13600000001", 990, 100, 600).await;
    bind_both(&app, &token).await;
    let douyin_item = bind_sale(&api, &token, sale, "douyin", 10).await;
    let kuaishou_item = bind_sale(&api, &token, sale, "kuaishou", 10).await;
    let douyin = app.state.douyin_sandbox.clone().unwrap();
    let kuaishou = app.state.kuaishou_sandbox.clone().unwrap();
    douyin.shop.set_push_url(None);
    kuaishou.shop.set_push_url(None);
    let stock = |platform: &str, item: &str| match platform {
        "douyin" => douyin.shop.item(item.parse().unwrap()).unwrap().skus[0].stock,
        _ => kuaishou.shop.item(item.parse().unwrap()).unwrap().skus[0].stock,
    };

    // Douyin sells 2 of its 10; we have heard of none yet. Taking 6 back lowers its stock to
    // 2 and returns 6; taking everything asks for 4, finds 2 left, and settles for them.
    for _ in 0..2 {
        assert!(platform_buy(&app.client, &app.base, "douyin", &douyin_item).await);
    }
    let path = format!("/api/v1/flash-sales/{sale}/platforms/douyin/take-back");
    let taken = api.post(&path, Some(&token), json!({"units": 6})).await;
    assert_eq!(taken.status, 200, "{}", taken.body);
    assert_eq!((taken.body["returned"].clone(), taken.body["leased"].clone()), (json!(6), json!(4)));
    assert_eq!(stock("douyin", &douyin_item), 2);
    let all = api.post(&path, Some(&token), json!({})).await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!((all.body["returned"].clone(), all.body["leased"].clone()), (json!(2), json!(2)));
    assert_eq!(stock("douyin", &douyin_item), 0);
    // The two sold come in and are backed by what is left of the slice; no top-up follows.
    app.state.live.poll_once().await.unwrap();
    let (douyin_slice, counts) = slice(&app, sale, engine::Door::Douyin).await;
    assert_eq!((douyin_slice.leased, douyin_slice.sold), (0, 2));
    assert_eq!(
        counts,
        engine::StockCounts { quantity: 100, available: 88, reserved: 0, sold: 2, leased: 10 }
    );
    assert_eq!(stock("douyin", &douyin_item), 0, "a paused door is not topped up");
    // Refusals: another merchant's sale, a platform the sale is not sold on.
    let other = api.merchant("13600000002").await;
    assert_eq!(api.post(&path, Some(&other), json!({})).await.status, 404);
    let (third, _, unbound) = api.merchant_sale("13600000003", 990, 10, 600).await;
    let refused = api
        .post(&format!("/api/v1/flash-sales/{unbound}/platforms/douyin/take-back"), Some(&third), json!({}))
        .await;
    assert_eq!((refused.status.as_u16(), refused.code()), (404, "not_bound"), "{}", refused.body);
    // Bound again, the door resumes: a fresh slice of 10.
    bind_sale(&api, &token, sale, "douyin", 10).await;
    assert_eq!(stock("douyin", &douyin_item), 10);

    // Kuaishou's stock API goes down; 8 sold there bring its slice under 3, the top-up leases
    // 8 units (durable) whose stock call fails. Retried after 1 s, 2 s, 4 s: the third retry
    // (the platform is back) puts them on sale, once.
    for _ in 0..8 {
        assert!(platform_buy(&app.client, &app.base, "kuaishou", &kuaishou_item).await);
    }
    kuaishou.shop.set_down(Some("stock"));
    app.state.live.poll_once().await.unwrap();
    let (kuaishou_slice, _) = slice(&app, sale, engine::Door::Kuaishou).await;
    assert_eq!((kuaishou_slice.leased, kuaishou_slice.sold), (10, 8), "leased before the platform's word");
    assert_eq!(stock("kuaishou", &kuaishou_item), 2, "the raise failed: fewer on sale, never more");
    assert_eq!(app.state.live.failed_leases(), 1);
    assert_eq!(app.state.live.retry_leases().await.unwrap(), 0, "not due yet");
    clock.advance_millis(1_000);
    assert_eq!(app.state.live.retry_leases().await.unwrap(), 0, "still down");
    clock.advance_millis(2_000);
    assert_eq!(app.state.live.retry_leases().await.unwrap(), 0, "still down");
    kuaishou.shop.set_down(None);
    clock.advance_millis(3_000);
    assert_eq!(app.state.live.retry_leases().await.unwrap(), 0, "backoff of 4 s not over");
    clock.advance_millis(1_000);
    assert_eq!(app.state.live.retry_leases().await.unwrap(), 1);
    assert_eq!(stock("kuaishou", &kuaishou_item), 10);
    assert_eq!(app.state.live.failed_leases(), 0);
    assert_eq!(app.state.live.retry_leases().await.unwrap(), 0, "once");
    assert_eq!(stock("kuaishou", &kuaishou_item), 10);

    // A lease that keeps failing is given up after its retries: the units stay leased, unsold.
    for _ in 0..8 {
        assert!(platform_buy(&app.client, &app.base, "kuaishou", &kuaishou_item).await);
    }
    kuaishou.shop.set_down(Some("stock"));
    app.state.live.poll_once().await.unwrap();
    assert_eq!(app.state.live.failed_leases(), 1);
    for _ in 0..4 {
        clock.advance_millis(10_000);
        assert_eq!(app.state.live.retry_leases().await.unwrap(), 0);
    }
    assert_eq!(app.state.live.failed_leases(), 0, "given up");
    kuaishou.shop.set_down(None);
    assert_eq!(stock("kuaishou", &kuaishou_item), 2);
    let (kuaishou_slice, counts) = slice(&app, sale, engine::Door::Kuaishou).await;
    assert_eq!((kuaishou_slice.leased, kuaishou_slice.sold), (10, 16));
    assert_eq!(counts.available + counts.leased + counts.sold, 100);
    let handle = app.state.registry.get(engine::FlashSaleId(sale)).unwrap();
    assert_eq!(handle.verify().await.unwrap().1, Ok(()));
    drop(handle);
    app.stop().await;
}

/// Signs the merchant `phone` in to the console as a page does: `Cookie:` to send afterwards.
async fn console_cookies(app: &TestApp, phone: &str) -> String {
    let hops = hop_client();
    let login = hops.get(format!("{}/console/login", app.base)).send().await.unwrap();
    let csrf = login
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| h.split(';').next()?.trim().strip_prefix("fs_csrf=").map(str::to_owned))
        .expect("the CSRF cookie");
    let signed_in = hops
        .post(format!("{}/console/session", app.base))
        .header(reqwest::header::COOKIE, format!("fs_csrf={csrf}"))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"phone": phone, "password": "password-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let session = signed_in
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| h.split(';').next()?.trim().strip_prefix("fs_merchant=").map(str::to_owned))
        .expect("the session cookie");
    format!("fs_csrf={csrf}; fs_merchant={session}")
}

async fn console_page(app: &TestApp, path: &str, cookies: &str) -> (u16, String, Option<String>) {
    let answer = hop_client()
        .get(format!("{}{path}", app.base))
        .header(reqwest::header::COOKIE, cookies)
        .send()
        .await
        .unwrap();
    let location = answer.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
    (answer.status().as_u16(), answer.text().await.unwrap(), location)
}

/// The console connects a shop (its button starts the round trip at the platform's consent
/// page), lists the shops with their state, shows a sale's platforms with their slices; the
/// fan's page previews the merchant's next sale in its live rooms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_connects_shops_and_shows_slices_and_the_fan_page_previews_the_next_stream() {
    let db = TestDb::new().await;
    let app = spawn_app(live_settings(&db, 10, 3)).await;
    let api = app.api();
    let (token, _, sale) = api.merchant_sale("13600000001", 990, 100, 600).await;
    let cookies = console_cookies(&app, "13600000001").await;

    let (status, empty, _) = console_page(&app, "/console/platforms", &cookies).await;
    assert_eq!(status, 200);
    assert!(empty.contains("no-shops") && empty.contains("/console/platforms/douyin/connect"), "{empty}");
    // The button's link starts the round trip: 302 to the platform's consent page.
    let (status, _, location) = console_page(&app, "/console/platforms/kuaishou/connect", &cookies).await;
    assert_eq!(status, 302);
    let location = location.unwrap();
    assert!(
        location.starts_with(&format!("{}/sandbox/kuaishou/", app.base)) && location.contains("state="),
        "{location}"
    );
    let (status, _, location) = console_page(&app, "/console/platforms/douyin/connect", "").await;
    assert_eq!((status, location.as_deref()), (303, Some("/console/login")), "signed out");

    bind_both(&app, &token).await;
    let (_, listed, _) = console_page(&app, "/console/platforms", &cookies).await;
    assert_eq!(listed.matches("data-state=\"connected\"").count(), 2, "{listed}");
    assert!(listed.contains("抖店旗舰店"), "{listed}");

    // The sale's page: nothing bound yet, both shops offered; then Douyin's slice.
    let path = format!("/console/sales/{sale}/platforms");
    let (status, before, _) = console_page(&app, &path, &cookies).await;
    assert_eq!(status, 200);
    assert!(
        before.contains("no-doors")
            && before.contains("value=\"douyin\"")
            && before.contains("value=\"kuaishou\""),
        "{before}"
    );
    bind_sale(&api, &token, sale, "douyin", 10).await;
    let (_, after, _) = console_page(&app, &path, &cookies).await;
    assert!(after.contains("data-platform=\"douyin\"") && after.contains("take-back"), "{after}");
    assert!(!after.contains("value=\"douyin\""), "a bound platform is not offered again: {after}");
    assert_eq!(console_page(&app, "/console/sales/999999/platforms", &cookies).await.0, 404);

    // The fan's page of this sale previews the merchant's next sale bound to its live rooms.
    let share = api.get(&format!("/api/v1/flash-sales/{sale}/share"), Some(&token)).await;
    let code = share.body["code"].as_str().unwrap().to_owned();
    let fan_page = |code: String| {
        let client = app.client.clone();
        let base = app.base.clone();
        async move { client.get(format!("{base}/s/{code}")).send().await.unwrap().text().await.unwrap() }
    };
    assert!(!fan_page(code.clone()).await.contains("next-stream"), "nothing scheduled yet");
    let product = api
        .post("/api/v1/products", Some(&token), json!({"title": "明晚专场", "price_fen": 1990, "stock": 50}))
        .await;
    let starts = chrono::Utc::now() + chrono::Duration::days(1);
    let next = api
        .post(
            "/api/v1/flash-sales",
            Some(&token),
            json!({
                "product_id": product.body["product_id"], "price_fen": 1990, "quantity": 50,
                "per_buyer_limit": 2, "starts_at": starts.to_rfc3339(),
                "ends_at": (starts + chrono::Duration::hours(1)).to_rfc3339(), "payment_window_secs": 600,
            }),
        )
        .await;
    assert_eq!(next.status, 201, "{}", next.body);
    let next_sale = next.body["flash_sale_id"].as_i64().unwrap();
    bind_sale(&api, &token, next_sale, "kuaishou", 10).await;
    // Facts are kept 30 s: a sale not viewed yet shows it at once; this one is read afresh by a
    // new app.
    app.stop().await;
    let app = spawn_app(live_settings(&db, 10, 3)).await;
    let page = {
        let client = app.client.clone();
        client.get(format!("{}/s/{code}", app.base)).send().await.unwrap().text().await.unwrap()
    };
    assert!(
        page.contains("next-stream") && page.contains("下一场直播预告") && page.contains("快手直播间"),
        "{page}"
    );
    app.stop().await;
}

/// The three-door storm with the server killed (`kill -9`) in the middle. The platforms'
/// sandboxes live in this process, outside the killed one: their fans keep buying while our
/// server is dead, and their pushes are retried until it answers again. After the restart the
/// storm goes on until nothing is left anywhere: exactly the quantity is sold, every platform
/// order is one order of ours, once, and every order our page acknowledged before the kill is
/// there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_three_door_storm_sells_exactly_the_quantity_and_loses_no_order() {
    use crate::helpers::{ChildServer, client, code_caps_off_env};
    const QUANTITY: i64 = 1_000;
    let db = TestDb::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sandbox_base = format!("http://{}", listener.local_addr().unwrap());
    let clock: Arc<dyn actors::Clock> = Arc::new(actors::SystemClock);
    let shop_settings = |platform: &str| sandbox::live::ShopSettings {
        push_url: Some(format!("{base}/api/v1/platforms/{platform}/notify")),
        // Minutes of retries become tenths of a second.
        retry_scale: 0.001,
        ..sandbox::live::ShopSettings::default()
    };
    let douyin_app = sandbox::live::douyin::DouyinApp::generate(
        "svc",
        &format!("{base}/api/v1/platforms/douyin/callback"),
    );
    let kuaishou_app = sandbox::live::kuaishou::KuaishouApp::generate();
    let douyin = Arc::new(sandbox::live::douyin::DouyinSandbox::new(
        douyin_app.clone(),
        shop_settings("douyin"),
        clock.clone(),
    ));
    let kuaishou = Arc::new(
        sandbox::live::kuaishou::KuaishouSandbox::new(kuaishou_app.clone(), shop_settings("kuaishou"), clock)
            .unwrap(),
    );
    let served = sandbox::live::serve(listener, douyin.clone(), kuaishou.clone()).unwrap();
    let served_handle = served.handle();
    tokio::spawn(served);

    let mut env: Vec<(&'static str, String)> = vec![
        ("FLASHSALE__SERVER__BIND", format!("127.0.0.1:{port}")),
        ("FLASHSALE__DATABASE__URL", db.url.clone()),
        ("FLASHSALE__DEMO__SEED", "false".into()),
        ("FLASHSALE__ADMISSION__PER_IP_PER_SEC", "0".into()),
        ("FLASHSALE__ADMISSION__MAX_UNPAID_ORDERS_PER_NETWORK", "0".into()),
        ("FLASHSALE__ADMISSION__MAX_UNPAID_ORDERS_PER_BUYER", "0".into()),
        ("FLASHSALE__ADMISSION__PER_BUYER_PER_SEC", "0".into()),
        ("FLASHSALE__SERVER__WORKERS", "2".into()),
        ("FLASHSALE__LOG__LEVEL", "warn".into()),
        ("FLASHSALE__LIVE__SLICE_UNITS", "50".into()),
        ("FLASHSALE__LIVE__TOP_UP_BELOW", "20".into()),
        ("FLASHSALE__LIVE__POLL_INTERVAL_SECS", "1".into()),
        ("FLASHSALE__LIVE__POLL_MAX_PAGES", "100".into()),
        ("FLASHSALE__LIVE__DOUYIN__API_URL", format!("{sandbox_base}/sandbox/douyin")),
        ("FLASHSALE__LIVE__DOUYIN__AUTHORIZE_URL", format!("{sandbox_base}/sandbox/douyin/authorize")),
        ("FLASHSALE__LIVE__DOUYIN__SERVICE_ID", douyin_app.service_id.clone()),
        ("FLASHSALE__LIVE__DOUYIN__APP_KEY", douyin_app.app_key.clone()),
        ("FLASHSALE__LIVE__DOUYIN__APP_SECRET", douyin_app.app_secret.clone()),
        ("FLASHSALE__LIVE__KUAISHOU__API_URL", format!("{sandbox_base}/sandbox/kuaishou")),
        (
            "FLASHSALE__LIVE__KUAISHOU__AUTHORIZE_URL",
            format!("{sandbox_base}/sandbox/kuaishou/oauth/authorize"),
        ),
        ("FLASHSALE__LIVE__KUAISHOU__APP_KEY", kuaishou_app.app_key.clone()),
        ("FLASHSALE__LIVE__KUAISHOU__APP_SECRET", kuaishou_app.app_secret.clone()),
        ("FLASHSALE__LIVE__KUAISHOU__SIGN_SECRET", kuaishou_app.sign_secret.clone()),
        ("FLASHSALE__LIVE__KUAISHOU__MESSAGE_KEY", kuaishou_app.message_key.clone()),
    ];
    env.extend(code_caps_off_env());
    let mut server = ChildServer::start(db.dir(), &env);
    assert_eq!(server.base, base);
    let api = Api { base: base.clone(), client: client() };
    let (token, _, sale) = api.merchant_sale("13600000001", 990, QUANTITY, 600).await;
    for (platform, name) in [("douyin", "抖店旗舰店"), ("kuaishou", "快手小店")] {
        let back = consent_at(&base, &sandbox_base, &token, platform, name).await;
        let bound = get(&back).await;
        assert_eq!(bound.status, 200, "{platform}: {}", bound.body);
    }
    let douyin_item = bind_sale(&api, &token, sale, "douyin", 50).await;
    let kuaishou_item = bind_sale(&api, &token, sale, "kuaishou", 50).await;
    let buyers = Arc::new(api.buyers(13_200_000_000, 20, 8).await);

    // What a platform can still sell of the sale.
    let stock_left = {
        let (douyin, kuaishou) = (douyin.clone(), kuaishou.clone());
        let (douyin_item, kuaishou_item) = (douyin_item.clone(), kuaishou_item.clone());
        Arc::new(move |platform: &str| match platform {
            "douyin" => douyin.shop.item(douyin_item.parse().unwrap()).unwrap().skus[0].stock,
            _ => kuaishou.shop.item(kuaishou_item.parse().unwrap()).unwrap().skus[0].stock,
        })
    };
    // The platforms' fans: buying until nothing is free to top their platform up and nothing
    // is leased (as our server tells; it may be dead for a while: they wait), and its stock is
    // gone. `available` alone is not enough: a top-up takes its units out of `available`
    // before it raises the platform's stock, so a fan who saw both at 0 in between would
    // leave units on the platform that no one buys.
    let sold_at = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let mut fans = tokio::task::JoinSet::new();
    for (i, (platform, item)) in
        [("douyin", douyin_item.clone()), ("kuaishou", kuaishou_item.clone())].into_iter().enumerate()
    {
        for _ in 0..8 {
            let (http, sandbox_base, item, sold_at, api, stock_left) = (
                client(),
                sandbox_base.clone(),
                item.clone(),
                sold_at.clone(),
                api.clone(),
                stock_left.clone(),
            );
            fans.spawn(async move {
                for _ in 0..50_000 {
                    if platform_buy(&http, &sandbox_base, platform, &item).await {
                        sold_at[i].fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    let sale_now =
                        api.client.get(api.url(&format!("/api/v1/flash-sales/{sale}"))).send().await;
                    if let Ok(answer) = sale_now
                        && let Ok(body) = answer.json::<Value>().await
                        && body["available"] == 0
                        && body["leased"] == 0
                        && stock_left(platform) == 0
                    {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                panic!("{platform} never ran dry");
            });
        }
    }

    // Our page, until 150 orders are acknowledged; then kill -9.
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<(usize, i64)>::new()));
    let mut ours = tokio::task::JoinSet::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    for n in 0..600usize {
        let (api, buyers, acknowledged, gate) =
            (api.clone(), buyers.clone(), acknowledged.clone(), gate.clone());
        ours.spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            let Ok(answer) = api
                .client
                .post(api.url(&format!("/api/v1/flash-sales/{sale}/orders")))
                .bearer_auth(&buyers[n % 20])
                .header("Idempotency-Key", format!("before-{n}"))
                .json(&json!({"quantity": 1}))
                .send()
                .await
            else {
                return;
            };
            if answer.status() == 201
                && let Ok(body) = answer.json::<Value>().await
            {
                acknowledged.lock().unwrap().push((n % 20, body["order_id"].as_i64().unwrap()));
            }
        });
    }
    while acknowledged.lock().unwrap().len() < 150 && !ours.is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    server.kill_9();
    while ours.join_next().await.is_some() {}
    let before_kill = acknowledged.lock().unwrap().clone();
    assert!(before_kill.len() >= 150, "{}", before_kill.len());
    // The platforms sell on while we are dead.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let server = ChildServer::start(db.dir(), &env);
    // Our page again, until it is sold out.
    let mut n = 0usize;
    loop {
        let placed = api.order(sale, &buyers[n % 20], &format!("after-{n}"), 1).await;
        match placed.status.as_u16() {
            201 => {}
            409 => {
                assert_eq!(placed.code(), "sold_out", "{}", placed.body);
                let counts = api.get(&format!("/api/v1/flash-sales/{sale}"), None).await.body;
                if counts["available"] == 0
                    && counts["leased"] == 0
                    && stock_left("douyin") == 0
                    && stock_left("kuaishou") == 0
                {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            other => panic!("our page answered {other}: {}", placed.body),
        }
        n += 1;
        assert!(n < 100_000, "never sold out");
    }
    while let Some(done) = fans.join_next().await {
        done.unwrap();
    }

    // Every platform order comes in (pushes retried, polling), once.
    let conn = db.connect().await;
    let at_platform = |platform: &str| -> std::collections::BTreeSet<String> {
        match platform {
            "douyin" => douyin.shop.all_orders(),
            _ => kuaishou.shop.all_orders(),
        }
        .into_iter()
        .map(|o| o.order_id.to_string())
        .collect()
    };
    let door_orders = || async {
        persistence::live::orders_of_sale(&conn, engine::FlashSaleId(sale), 10_000).await.unwrap()
    };
    let links = || async {
        persistence::live_orders::links_of_sale(&conn, engine::FlashSaleId(sale), 10_000).await.unwrap()
    };
    let platform_total = sold_at[0].load(Ordering::SeqCst) + sold_at[1].load(Ordering::SeqCst);
    crate::helpers::eventually("every platform order is in", || async {
        door_orders().await.len() as u64 == platform_total && links().await.len() as u64 == platform_total
    })
    .await;
    for (door, platform) in [(engine::Door::Douyin, "douyin"), (engine::Door::Kuaishou, "kuaishou")] {
        let stored: Vec<String> =
            door_orders().await.into_iter().filter(|o| o.door == door).map(|o| o.platform_order_id).collect();
        let unique: std::collections::BTreeSet<String> = stored.iter().cloned().collect();
        assert_eq!(unique.len(), stored.len(), "{platform}: each once");
        assert_eq!(unique, at_platform(platform), "{platform}");
        let linked: std::collections::BTreeSet<String> = links()
            .await
            .into_iter()
            .filter(|l| l.platform == platform)
            .map(|l| l.platform_order_id)
            .collect();
        assert_eq!(linked, unique, "{platform}: every platform order is one order of ours");
    }

    // Exactly the quantity: our page's orders plus the platforms' units.
    crate::helpers::eventually("every slice is accounted for", || async {
        api.get(&format!("/api/v1/flash-sales/{sale}"), None).await.body["leased"] == 0
    })
    .await;
    let counts = api.get(&format!("/api/v1/flash-sales/{sale}"), None).await.body;
    assert_eq!((counts["available"].clone(), counts["leased"].clone()), (json!(0), json!(0)), "{counts}");
    let (reserved, ours_sold) =
        persistence::repo::sale_units(&conn, engine::FlashSaleId(sale)).await.unwrap();
    assert_eq!(ours_sold, 0);
    assert_eq!(
        i64::from(reserved) + platform_total as i64,
        QUANTITY,
        "ours {reserved}, platforms {platform_total}"
    );
    assert_eq!(counts["reserved"], json!(reserved));
    assert_eq!(counts["sold"], json!(platform_total));
    assert_eq!((stock_left("douyin"), stock_left("kuaishou")), (0, 0), "the platforms hold nothing");

    // Every order acknowledged before the kill survived.
    for (buyer, order) in &before_kill {
        let got = api.get(&format!("/api/v1/orders/{order}"), Some(&buyers[*buyer])).await;
        assert_eq!(got.status, 200, "acknowledged order {order} lost: {}", got.body);
    }
    eprintln!(
        "three doors with kill -9: ours {reserved} ({} acknowledged before the kill), douyin {}, kuaishou {}",
        before_kill.len(),
        sold_at[0].load(Ordering::SeqCst),
        sold_at[1].load(Ordering::SeqCst)
    );
    drop(server);
    served_handle.stop(false).await;
}
