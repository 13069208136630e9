//! The live platforms (Douyin shop, Kuaishou shop) through their bundled sandboxes, over real
//! HTTP: a merchant binds both shops through the consent pages (our 302 to the platform, the
//! platform's 302 back to our callback); a forged, reused, expired or cross-platform `state`
//! stores nothing; tokens are sealed at rest; the refresh sweep on a manual clock renews grants
//! before they expire; a grant revoked at the platform makes the shop disconnected.

use std::sync::Arc;

use actors::Clock as _;
use actors::clock::ManualClock;
use engine::Timestamp;
use persistence::live as store;
use serde_json::Value;

use crate::helpers::{Api, Reply, TestApp, TestDb, reply, spawn_app_with_clock, test_settings};

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
