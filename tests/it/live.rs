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
    let hops = hop_client();
    let ours = hops
        .get(format!("{}/api/v1/merchants/me/platforms/{platform}/authorize", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(ours.status(), 302, "{platform}: our authorize answers a redirect");
    let to_platform = ours.headers()["location"].to_str().unwrap().to_owned();
    assert!(to_platform.starts_with(&format!("{}/sandbox/{platform}/", app.base)), "{to_platform}");
    assert!(to_platform.contains("state="), "{to_platform}");
    let page = hops.get(&to_platform).send().await.unwrap();
    assert_eq!(page.status(), 200, "{platform}: the consent page");
    let html = page.text().await.unwrap();
    let (action, mut fields) = consent_form(&html);
    fields.push(("shop_name".into(), shop_name.into()));
    let back = hops.post(format!("{}{action}", app.base)).form(&fields).send().await.unwrap();
    assert_eq!(back.status(), 302, "{platform}: consent sends the merchant back");
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        callback.starts_with(&format!("{}/api/v1/platforms/{platform}/callback?", app.base)),
        "{callback}"
    );
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
    // A disconnected shop is not refreshed again.
    clock.advance_millis(DAY_MS + 1_000);
    let report = live.refresh_due().await.unwrap();
    assert_eq!((report.refreshed, report.disconnected, report.failed), (1, 0, 0), "{report:?}");

    // Binding again connects it again.
    let back = consent(&app, &token, "douyin", "抖店旗舰店").await;
    assert_eq!(get(&back).await.body["state"], "connected");
    assert_eq!(shop(&shops(&api, &token).await, "douyin")["state"], "connected");
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
    // The test polls when it wants to.
    settings.live.poll_interval_secs = 3_600;
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
    let douyin_push = |order: u64, shop: &str, msg: &str, at_secs: i64, secret: &str| {
        let data = json!({"p_id": order, "s_ids": [order], "shop_id": shop.parse::<i64>().unwrap(),
            "order_status": 2, "create_time": at_secs, "update_time": at_secs, "pay_time": at_secs});
        let body = json!([{"tag": "101", "msg_id": msg, "data": data.to_string()}]).to_string();
        let sign = providers::live::douyin::protocol::push_sign(&douyin.app.app_key, body.as_bytes(), secret);
        (body, sign)
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
    app.state.live.poll_once().await.unwrap();
    let (douyin_slice, counts) = slice(&app, sale, engine::Door::Douyin).await;
    assert_eq!((douyin_slice.sold, douyin_slice.leased, counts.available), (3, 6, 81));
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
