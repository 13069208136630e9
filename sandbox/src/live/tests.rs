//! Our `providers::live` clients against the live sandboxes over real HTTP: consent round
//! trip, tokens on a manual clock, revocation, items and stock, fans buying never past the
//! platform's stock, pushes verified and deduplicated by message id, polling, shipping.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use engine::time::Clock;
use engine::{Fen, Timestamp};
use providers::live::douyin::{DouyinShop, DouyinShopConfig};
use providers::live::kuaishou::{KuaishouShop, KuaishouShopConfig};
use providers::live::{
    GrantState, ItemSpec, LiveError, LivePlatform, OrderStatus, Push, PushKind, Shipment, SkuSpec,
    StockChange, StockMove,
};

use super::douyin::{DouyinApp, DouyinSandbox};
use super::kuaishou::{KuaishouApp, KuaishouSandbox};
use super::{ShopSettings, serve};

struct Manual(AtomicI64);

impl Clock for Manual {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

impl Manual {
    fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1_000, Ordering::SeqCst);
    }
}

/// What the receiving end saw: every event, and the message ids it applied once.
#[derive(Default)]
struct Received {
    events: Vec<(String, PushKind, String)>,
    applied: HashSet<String>,
    refused: usize,
}

struct Receiver {
    platform: Arc<dyn LivePlatform>,
    clock: Arc<Manual>,
    seen: Mutex<Received>,
}

async fn notify(receiver: web::Data<Receiver>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    match receiver.platform.open_push(&header, &body, receiver.clock.now()) {
        Ok(Push::Events(events)) => {
            let mut seen = receiver.seen.lock().unwrap();
            for event in events {
                if seen.applied.insert(event.message_id.clone()) {
                    seen.events.push((event.order_id, event.kind, event.message_id));
                }
            }
            HttpResponse::Ok().body(receiver.platform.push_ack())
        }
        Ok(Push::Heartbeat) => HttpResponse::Ok().body(receiver.platform.push_ack()),
        Err(_) => {
            receiver.seen.lock().unwrap().refused += 1;
            HttpResponse::BadRequest().body("refused")
        }
    }
}

fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

fn receiver_server(receiver: Arc<Receiver>) -> String {
    let (l, url) = listener();
    let data = web::Data::from(receiver);
    let server =
        HttpServer::new(move || App::new().app_data(data.clone()).route("/notify", web::post().to(notify)))
            .workers(1)
            .disable_signals()
            .listen(l)
            .unwrap()
            .run();
    actix_web::rt::spawn(server);
    format!("{url}/notify")
}

fn settings() -> ShopSettings {
    ShopSettings { retry_scale: 0.0005, duplicate_probability: 1.0, ..ShopSettings::default() }
}

/// Consent through the sandbox's page: the form's POST answers a 302 carrying code and state.
async fn consent(http: &reqwest::Client, authorize_url: &str, state: &str) -> String {
    let page = http.get(authorize_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("授权"), "{html}");
    let action_start = html.find("action=\"").unwrap() + 8;
    let action = &html[action_start..action_start + html[action_start..].find('"').unwrap()];
    let mut form: Vec<(String, String)> = Vec::new();
    for chunk in html.split("<input type=\"hidden\" ").skip(1) {
        let value = |attr: &str| {
            let start = chunk.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2;
            chunk[start..start + chunk[start..].find('"').unwrap()]
                .replace("&amp;", "&")
                .replace("&quot;", "\"")
        };
        form.push((value("name"), value("value")));
    }
    form.push(("shop_name".into(), "测试小店".into()));
    let origin = &authorize_url[..authorize_url.find("/sandbox").unwrap()];
    let answer = http.post(format!("{origin}{action}")).form(&form).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    let query = &location[location.find('?').unwrap() + 1..];
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let get = |n: &str| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(get("state"), state);
    get("code")
}

fn spec(stock: u32) -> ItemSpec {
    ItemSpec {
        out_item_id: 9_001,
        title: "秒杀 T 恤".into(),
        description: "直播间专享".into(),
        skus: vec![SkuSpec { out_sku_id: 1, name: "白色".into(), price_fen: Fen(990), stock }],
    }
}

/// The whole round on one platform; `buy_url(item_id)` is the sandbox's fan endpoint.
async fn round_trip(
    platform: Arc<dyn LivePlatform>,
    clock: Arc<Manual>,
    receiver: Arc<Receiver>,
    authorize_url: String,
    buy_url: impl Fn(&str) -> String,
    revoke_url: String,
    stats: &super::PushStats,
) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let code = consent(&http, &authorize_url, "state-1").await;
    let grant = platform.exchange_code(&code).await.unwrap();
    assert_eq!(grant.state(clock.now(), 3_600_000), GrantState::Fresh);
    assert!(platform.exchange_code(&code).await.unwrap_err().is_revoked(), "a code is used once");

    let item = platform.create_item(&grant.access_token, &spec(5)).await.unwrap();
    let again = platform.create_item(&grant.access_token, &spec(5)).await.unwrap();
    assert_eq!(item, again, "the same out_item_id is the same item");
    let sku_id = item.sku_id(1).unwrap().to_owned();
    let change = |stock: StockMove, key: &str| StockChange {
        item_id: item.item_id.clone(),
        sku_id: sku_id.clone(),
        change: stock,
        idempotency_key: key.into(),
    };
    platform.change_stock(&grant.access_token, &change(StockMove::Set(3), "set-3")).await.unwrap();
    platform.change_stock(&grant.access_token, &change(StockMove::By(2), "lease-2")).await.unwrap();
    let took_too_much =
        platform.change_stock(&grant.access_token, &change(StockMove::By(-50), "back-50")).await;
    assert!(matches!(took_too_much, Err(LiveError::Refused { .. })), "{took_too_much:?}");
    platform.update_item(&grant.access_token, &item, &spec(0)).await.unwrap();

    // Twenty fans at once for five units: exactly five orders.
    let buys = (0..20).map(|_| {
        let (http, url) = (http.clone(), buy_url(&item.item_id));
        async move {
            http.post(url).json(&serde_json::json!({"quantity": 1})).send().await.unwrap().status().as_u16()
        }
    });
    let statuses = futures_join(buys).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 15, "{statuses:?}");

    // Pushes: five created and five paid, each applied once whatever was repeated.
    events_seen(&receiver, 10).await;
    let orders: HashSet<String> = {
        let seen = receiver.seen.lock().unwrap();
        assert_eq!(seen.events.len(), 10, "{:?}", seen.events);
        assert_eq!(seen.events.iter().filter(|e| e.1 == PushKind::OrderPaid).count(), 5);
        assert_eq!(seen.refused, 0);
        seen.events.iter().map(|e| e.0.clone()).collect()
    };
    assert_eq!(orders.len(), 5);

    // Polling finds the same five, paid.
    let since = Timestamp(clock.now().0 - 60_000);
    let page = platform.orders(&grant.access_token, since, clock.now(), None).await.unwrap();
    assert_eq!(page.next, None);
    assert_eq!(page.orders.iter().map(|o| o.order_id.clone()).collect::<HashSet<_>>(), orders);
    assert!(
        page.orders
            .iter()
            .all(|o| o.status == OrderStatus::Paid && o.amount_fen == Fen(990) && o.sku_id == sku_id)
    );

    // The receivers come encrypted and masked; each is read whole through the platform's
    // batch decryption.
    for order in &page.orders {
        let r = order.receiver.as_ref().unwrap_or_else(|| panic!("{order:?} has no receiver"));
        assert!(r.phone.len() == 11 && r.phone.bytes().all(|b| b.is_ascii_digit()), "decrypted phone: {r:?}");
        assert!(![&r.name, &r.detail].iter().any(|t| t.contains('*') || t.starts_with('#')), "{r:?}");
    }

    let first = page.orders[0].order_id.clone();
    let shipment =
        Shipment { order_id: first.clone(), company_code: "12".into(), waybill_no: "SF100".into() };
    platform.ship(&grant.access_token, &shipment).await.unwrap();
    assert_eq!(platform.order(&grant.access_token, &first).await.unwrap().status, OrderStatus::Shipped);
    // After-sales and receipt on the platform, each pushed.
    let second = page.orders[1].order_id.clone();
    let origin = buy_url("0");
    let origin = &origin[..origin.find("/items/").unwrap()];
    for path in [
        format!("orders/{second}/refund"),
        format!("orders/{second}/refund/agree"),
        format!("orders/{first}/complete"),
    ] {
        let answer = http.post(format!("{origin}/{path}")).send().await.unwrap();
        assert_eq!(answer.status(), 201, "{path}");
    }
    let refunded = http.post(format!("{origin}/orders/{second}/refund")).send().await.unwrap();
    assert_eq!(refunded.status(), 409, "a closed order is not refunded again");
    assert_eq!(platform.order(&grant.access_token, &second).await.unwrap().status, OrderStatus::Cancelled);
    // (before the clock jumps: a push about an event days old is stale and refused, so every
    // push and every duplicate copy must have arrived by then)
    events_seen(&receiver, 14).await;
    duplicates_sent(stats, 14).await;
    {
        let seen = receiver.seen.lock().unwrap();
        let kinds: Vec<PushKind> = seen.events[10..].iter().map(|e| e.1).collect();
        assert_eq!(
            kinds,
            [
                PushKind::OrderShipped,
                PushKind::RefundRequested,
                PushKind::RefundAgreed,
                PushKind::OrderCompleted
            ]
        );
    }

    // The access token runs out on the manual clock: refused as such, then refreshed.
    clock.advance_secs(grant.access_expires_at.as_millis() / 1_000 - clock.now().0 / 1_000 + 1);
    assert_eq!(grant.state(clock.now(), 0), GrantState::RefreshDue);
    assert!(matches!(platform.order(&grant.access_token, &first).await, Err(LiveError::Unauthorized { .. })));
    let refreshed = platform.refresh(&grant).await.unwrap();
    assert_ne!(refreshed.access_token, grant.access_token);
    assert_eq!(
        platform.refresh(&grant).await.unwrap(),
        refreshed,
        "a retried refresh within the grace gets the same pair"
    );
    platform.order(&refreshed.access_token, &first).await.unwrap();

    // The merchant cancels the authorisation: every call and refresh says so.
    http.post(revoke_url).json(&serde_json::json!({})).send().await.unwrap();
    assert!(platform.order(&refreshed.access_token, &first).await.unwrap_err().is_revoked());
    assert!(platform.refresh(&refreshed).await.unwrap_err().is_revoked());

    // Every push was delivered twice; the second copies changed nothing (the last ones may
    // still be on their way on a loaded machine).
    events_seen(&receiver, 14).await;
    let seen = receiver.seen.lock().unwrap();
    assert_eq!(
        seen.events.len(),
        14,
        "five created, five paid, shipped, refund asked and agreed, completed: {:?}",
        seen.events
    );
    assert_eq!(
        seen.events.iter().filter(|e| e.1 == PushKind::OrderShipped).map(|e| &e.0).collect::<Vec<_>>(),
        [&first]
    );
}

async fn events_seen(receiver: &Receiver, expected: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while receiver.seen.lock().unwrap().events.len() < expected && std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the sandbox has sent every duplicate it means to.
async fn duplicates_sent(stats: &super::PushStats, expected: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while stats.duplicates.load(Ordering::Relaxed) < expected && std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stats.duplicates.load(Ordering::Relaxed), expected);
}

async fn futures_join<F: std::future::Future<Output = u16> + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(actix_web::rt::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

fn servers(
    clock: &Arc<Manual>,
    douyin_push: Option<String>,
    kuaishou_push: Option<String>,
    redirect: &str,
) -> (String, Arc<DouyinSandbox>, Arc<KuaishouSandbox>) {
    let douyin = Arc::new(DouyinSandbox::new(
        DouyinApp {
            app_key: "dy-app".into(),
            app_secret: "dy-secret".into(),
            service_id: "26".into(),
            redirect_uri: redirect.into(),
        },
        ShopSettings { push_url: douyin_push, ..settings() },
        clock.clone(),
    ));
    let kuaishou = Arc::new(
        KuaishouSandbox::new(
            KuaishouApp {
                app_key: "ks-app".into(),
                app_secret: "ks-secret".into(),
                sign_secret: "ks-sign".into(),
                message_key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into(),
            },
            ShopSettings { push_url: kuaishou_push, ..settings() },
            clock.clone(),
        )
        .unwrap(),
    );
    let (l, url) = listener();
    actix_web::rt::spawn(serve(l, douyin.clone(), kuaishou.clone()).unwrap());
    (url, douyin, kuaishou)
}

fn now_clock() -> Arc<Manual> {
    let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    Arc::new(Manual(AtomicI64::new(wall)))
}

#[actix_web::test]
async fn douyin_round_trip_through_our_client() {
    let clock = now_clock();
    let config = |url: &str| DouyinShopConfig {
        gateway: format!("{url}/sandbox/douyin"),
        authorize_url: format!("{url}/sandbox/douyin/authorize"),
        service_id: "26".into(),
        app_key: "dy-app".into(),
        app_secret: "dy-secret".into(),
    };
    let decoder: Arc<dyn LivePlatform> = Arc::new(
        DouyinShop::new(config("http://127.0.0.1:9"), reqwest::Client::new(), clock.clone()).unwrap(),
    );
    let receiver = Arc::new(Receiver { platform: decoder, clock: clock.clone(), seen: Mutex::default() });
    let push_url = receiver_server(receiver.clone());
    let (url, douyin, _) = servers(&clock, Some(push_url), None, "http://127.0.0.1:9/cb");
    let platform: Arc<dyn LivePlatform> =
        Arc::new(DouyinShop::new(config(&url), reqwest::Client::new(), clock.clone()).unwrap());
    let authorize = platform.authorize_url("state-1", "unused");
    round_trip(
        platform,
        clock,
        receiver,
        authorize,
        |item| format!("{url}/sandbox/douyin/items/{item}/buy"),
        format!("{url}/sandbox/douyin/grants/revoke"),
        &douyin.shop.stats,
    )
    .await;
    assert_eq!(douyin.shop.all_orders().len(), 5);
    duplicates_sent(&douyin.shop.stats, 14).await;
}

#[actix_web::test]
async fn kuaishou_round_trip_through_our_client() {
    let clock = now_clock();
    let config = |url: &str| KuaishouShopConfig {
        openapi: format!("{url}/sandbox/kuaishou"),
        authorize_url: format!("{url}/sandbox/kuaishou/oauth/authorize"),
        app_key: "ks-app".into(),
        app_secret: "ks-secret".into(),
        sign_secret: "ks-sign".into(),
        message_key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into(),
        scopes: vec!["merchant_item".into(), "merchant_order".into()],
    };
    let decoder: Arc<dyn LivePlatform> = Arc::new(
        KuaishouShop::new(config("http://127.0.0.1:9"), reqwest::Client::new(), clock.clone()).unwrap(),
    );
    let receiver = Arc::new(Receiver { platform: decoder, clock: clock.clone(), seen: Mutex::default() });
    let push_url = receiver_server(receiver.clone());
    let (url, _, kuaishou) = servers(&clock, None, Some(push_url), "http://127.0.0.1:9/cb");
    let platform: Arc<dyn LivePlatform> =
        Arc::new(KuaishouShop::new(config(&url), reqwest::Client::new(), clock.clone()).unwrap());
    let authorize = platform.authorize_url("state-1", "http://127.0.0.1:9/cb");
    round_trip(
        platform,
        clock,
        receiver.clone(),
        authorize,
        |item| format!("{url}/sandbox/kuaishou/items/{item}/buy"),
        format!("{url}/sandbox/kuaishou/grants/revoke"),
        &kuaishou.shop.stats,
    )
    .await;
    // A heartbeat is acknowledged and carries no event; the receiver refused nothing.
    let receiver_after = receiver;
    assert_eq!(kuaishou.shop.heartbeat().await, Some(true));
    assert_eq!(kuaishou.shop.all_orders().len(), 5);
    duplicates_sent(&kuaishou.shop.stats, 14).await;
    events_seen(&receiver_after, 14).await;
    let seen = receiver_after.seen.lock().unwrap();
    assert_eq!((seen.events.len(), seen.refused), (14, 0));
}

#[actix_web::test]
async fn bad_signatures_are_refused_in_each_platforms_shape() {
    let clock = now_clock();
    let (url, _, _) = servers(&clock, None, None, "http://127.0.0.1:9/cb");
    let http = reqwest::Client::new();
    let dy: serde_json::Value = http
        .post(format!("{url}/sandbox/douyin/token/create?app_key=dy-app&method=token.create&v=2&sign=00&timestamp={}&sign_method=hmac-sha256", clock.now().0 / 1_000))
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dy["sub_code"], providers::live::douyin::protocol::codes::BAD_SIGNATURE.1, "{dy}");
    let ks: serde_json::Value = http
        .post(format!("{url}/sandbox/kuaishou/open/item/sku/list/get"))
        .form(&[
            ("appkey", "ks-app"),
            ("method", "open.item.sku.list.get"),
            ("version", "1"),
            ("timestamp", &clock.now().0.to_string()),
            ("signMethod", "HMAC_SHA256"),
            ("access_token", "x"),
            ("sign", "AAAA"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ks["result"], providers::live::kuaishou::protocol::codes::BAD_SIGNATURE, "{ks}");
    // a fan's malformed buy is a 400 in the JSON error shape, and sells nothing
    for platform in ["douyin", "kuaishou"] {
        let answer = http
            .post(format!("{url}/sandbox/{platform}/items/1/buy"))
            .header("Content-Type", "application/json")
            .body("{\"quantity\": -1}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400);
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_json", "{body}");
    }
}

#[test]
fn generated_apps_have_the_platforms_shapes_and_a_usable_message_key() {
    let douyin = DouyinApp::generate("26", "http://127.0.0.1:9/cb");
    assert_eq!(douyin.app_key.len(), 19);
    assert_ne!(DouyinApp::generate("26", "x").app_secret, douyin.app_secret);
    let kuaishou = KuaishouApp::generate();
    assert!(kuaishou.app_key.starts_with("ks") && kuaishou.app_key.len() == 20);
    providers::live::kuaishou::protocol::encrypt_push(&kuaishou.message_key, b"{}").unwrap();
}

#[actix_web::test]
async fn lost_pushes_are_never_sent_and_counted() {
    let clock = now_clock();
    let app = DouyinApp::generate("26", "http://127.0.0.1:9/cb");
    let settings = ShopSettings {
        push_url: Some("http://127.0.0.1:9/notify".into()),
        drop_probability: 1.0,
        ..settings()
    };
    let douyin = DouyinSandbox::new(app, settings, clock);
    let item = super::Item {
        item_id: 0,
        shop_id: "100000".into(),
        out_item_id: 1,
        title: "t".into(),
        description: String::new(),
        skus: vec![super::Sku { sku_id: 0, out_sku_id: 1, name: "s".into(), price_fen: Fen(100), stock: 2 }],
    };
    let item = douyin.shop.create_item(item).unwrap();
    douyin.shop.buy(item.item_id, None, 2, true).unwrap();
    assert!(douyin.shop.buy(item.item_id, None, 1, true).is_err(), "two units, two sold");
    assert_eq!(douyin.shop.stats.dropped.load(Ordering::Relaxed), 2);
    assert_eq!(douyin.shop.stats.attempts.load(Ordering::Relaxed), 0);
}

#[test]
fn a_cipher_opens_only_for_its_own_order() {
    let ciphers = super::Ciphers::default();
    let name = ciphers.seal(7, "name", "抖音买家");
    assert_eq!(ciphers.seal(7, "name", "抖音买家"), name, "the same field keeps its cipher");
    let phone = ciphers.seal(7, "tel", "13800138000");
    assert_ne!(name, phone);
    assert_eq!(ciphers.open(7, &name).as_deref(), Some("抖音买家"));
    assert_eq!(ciphers.open(7, &phone).as_deref(), Some("13800138000"));
    assert_eq!(ciphers.open(8, &name), None, "presented for another order");
    assert_eq!(ciphers.open(7, "#not-a-cipher#"), None);
}
