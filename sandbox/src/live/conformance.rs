//! Our Douyin shop and Kuaishou shop code against SDKs nobody here wrote: `doudian` (PyPI) and
//! `kwaixiaodian` + `ks-shop-python-sdk` (PyPI). The SDKs' signers must make our clients'
//! signatures for the same requests, the SDKs must be served by our live sandboxes (tokens,
//! items, stock) and refused there when wrong, and our sandboxes' pushes must open with the
//! SDK's verifier (Douyin) or an independent AES implementation (Kuaishou).
//!
//! Runs `$CONFORMANCE_PYTHON tests/conformance/{doudian,kwaixiaodian}_sdk.py CONFIG.json`
//! against sandboxes served in this process ([`super::serve`]); without that variable it
//! prints a skip line. See tests/conformance/requirements.txt. It lives beside the sandboxes
//! rather than in `tests/it` because it needs neither the platform nor its database, only
//! the sandboxes and our clients (`cargo test --workspace conformance` runs it all the same).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use engine::Timestamp;
use engine::time::Clock;
use providers::live::douyin::protocol as douyin;
use providers::live::douyin::{DouyinShop, DouyinShopConfig};
use providers::live::kuaishou::protocol as kuaishou;
use providers::live::kuaishou::{KuaishouShop, KuaishouShopConfig};
use serde_json::{Value, json};

use super::ShopSettings;
use super::douyin::{DouyinApp, DouyinSandbox};
use super::kuaishou::{KuaishouApp, KuaishouSandbox};

struct Wall;

impl Clock for Wall {
    fn now(&self) -> Timestamp {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Timestamp(since.as_millis() as i64)
    }
}

const DOUYIN_KEY: &str = "7152331588175513100";
const DOUYIN_SECRET: &str = "conformance-douyin-secret";
const KUAISHOU_KEY: &str = "ks700000000000000001";
const KUAISHOU_SECRET: &str = "conformance-kuaishou-app-secret";
const KUAISHOU_SIGN: &str = "conformance-kuaishou-sign-secret";
const KUAISHOU_MESSAGE_KEY: &str = "c2FuZGJveC1tZXNzYWdlLWtleS0zMi1ieXRlcyEhISE=";

fn python() -> Option<String> {
    let python = std::env::var("CONFORMANCE_PYTHON").ok().filter(|p| !p.is_empty());
    if python.is_none() {
        eprintln!(
            "live conformance: skipped, set CONFORMANCE_PYTHON to a Python with tests/conformance/requirements.txt"
        );
    }
    python
}

/// Runs a script on `config`; its output, and the ids it printed on an `IDS ` line.
async fn run(python: String, script: &str, config: Value) -> (bool, String, Value) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), config.to_string()).unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance").join(script);
    let config_path = file.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(&path)
            .arg(&config_path)
            .current_dir(path.parent().unwrap())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            // the doudian SDK stamps requests with local time, meant to be Beijing's
            .env("TZ", "Asia/Shanghai")
            .output()
    })
    .await
    .unwrap()
    .expect("the conformance python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    println!("---- {script}\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let ids = stdout
        .lines()
        .find_map(|l| l.strip_prefix("IDS "))
        .map_or(Value::Null, |l| serde_json::from_str(l).unwrap());
    (output.status.success(), stdout, ids)
}

fn settings() -> ShopSettings {
    ShopSettings { retry_scale: 0.001, ..ShopSettings::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doudian_sdk_signs_like_our_client_and_is_served_by_our_sandbox() {
    let Some(python) = python() else { return };
    let clock = Arc::new(Wall);
    let douyin_sandbox = Arc::new(DouyinSandbox::new(
        DouyinApp {
            app_key: DOUYIN_KEY.into(),
            app_secret: DOUYIN_SECRET.into(),
            service_id: "26".into(),
            redirect_uri: "http://127.0.0.1:9/cb".into(),
        },
        settings(),
        clock.clone(),
    ));
    let kuaishou_sandbox = kuaishou_sandbox();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = super::serve(listener, douyin_sandbox.clone(), kuaishou_sandbox).unwrap();
    let handle = server.handle();
    tokio::spawn(server);

    let client = DouyinShop::new(
        DouyinShopConfig {
            gateway: format!("{base}/sandbox/douyin"),
            authorize_url: format!("{base}/sandbox/douyin/authorize"),
            service_id: "26".into(),
            app_key: DOUYIN_KEY.into(),
            app_secret: DOUYIN_SECRET.into(),
        },
        reqwest::Client::new(),
        clock.clone(),
    )
    .unwrap();
    // Requests our client prepares, at a Beijing midnight and at an ordinary instant.
    let cases: Vec<Value> = [
        ("token.create", json!({"code": "abc", "grant_type": "authorization_code"}), 1_767_196_800_000_i64),
        (
            "sku.syncStock",
            json!({"product_id": "3600000000001", "sku_id": 17, "stock_num": 40, "incremental": true,
                   "idempotent_id": "lease-9", "nested": {"z": [1, {"b": 2, "a": 1}], "a": null}}),
            1_795_651_234_000,
        ),
    ]
    .into_iter()
    .map(|(method, params, at)| {
        let call = client.prepare(method, &params, Some("tok"), Timestamp(at));
        let get = |n: &str| call.query.iter().find(|(k, _)| *k == n).unwrap().1.clone();
        json!({"method": method, "params": params, "param_json": call.body, "timestamp": get("timestamp"), "sign": get("sign")})
    })
    .collect();
    let body = r#"[{"tag":"101","msg_id":"7300000000000000001","data":"{\"p_id\":4900000000000000001,\"shop_id\":100000,\"pay_time\":1795651200,\"order_status\":2}"}]"#;
    let code = douyin_sandbox.shop.consent("SDK 小店");
    let config = json!({
        "gateway": format!("{base}/sandbox/douyin"),
        "app_key": DOUYIN_KEY,
        "app_secret": DOUYIN_SECRET,
        "code": code,
        "shop_id": "100000",
        "sign_cases": cases,
        "push": {"body": body, "event_sign": douyin::push_sign(DOUYIN_KEY, body.as_bytes(), DOUYIN_SECRET)},
        "bad_signature_sub_code": douyin::codes::BAD_SIGNATURE.1,
    });
    let (ok, stdout, ids) = run(python, "doudian_sdk.py", config).await;
    assert!(ok, "doudian_sdk.py failed:\n{stdout}");
    // What the SDK did is what the sandbox holds.
    let item = douyin_sandbox.shop.item(ids["product_id"].as_str().unwrap().parse().unwrap()).unwrap();
    assert_eq!((item.title.as_str(), item.skus[0].stock), ("SDK item", 42));
    handle.stop(true).await;
}

fn kuaishou_sandbox() -> Arc<KuaishouSandbox> {
    Arc::new(
        KuaishouSandbox::new(
            KuaishouApp {
                app_key: KUAISHOU_KEY.into(),
                app_secret: KUAISHOU_SECRET.into(),
                sign_secret: KUAISHOU_SIGN.into(),
                message_key: KUAISHOU_MESSAGE_KEY.into(),
            },
            settings(),
            Arc::new(Wall),
        )
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kuaishou_sdks_sign_like_our_client_and_are_served_by_our_sandbox() {
    let Some(python) = python() else { return };
    let clock = Arc::new(Wall);
    let kuaishou_sandbox = kuaishou_sandbox();
    let douyin_sandbox = Arc::new(DouyinSandbox::new(
        DouyinApp {
            app_key: "x".into(),
            app_secret: "y".into(),
            service_id: "1".into(),
            redirect_uri: String::new(),
        },
        settings(),
        clock.clone(),
    ));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = super::serve(listener, douyin_sandbox, kuaishou_sandbox.clone()).unwrap();
    let handle = server.handle();
    tokio::spawn(server);

    let client = KuaishouShop::new(
        KuaishouShopConfig {
            openapi: format!("{base}/sandbox/kuaishou"),
            authorize_url: format!("{base}/sandbox/kuaishou/oauth/authorize"),
            app_key: KUAISHOU_KEY.into(),
            app_secret: KUAISHOU_SECRET.into(),
            sign_secret: KUAISHOU_SIGN.into(),
            message_key: KUAISHOU_MESSAGE_KEY.into(),
            scopes: vec!["merchant_item".into()],
        },
        reqwest::Client::new(),
        clock.clone(),
    )
    .unwrap();
    let param =
        json!({"kwaiItemId": 100, "skuId": 200, "skuChangeStock": 5, "changeType": 1, "note": "直播"});
    let form: serde_json::Map<String, Value> = client
        .prepare("open.item.sku.stock.update", &param, "ChFvYXV0aC5hY2Nlc3NUb2tlbg", 1_795_651_200_123)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v)))
        .collect();
    let message = json!({
        "eventId": "evt-conformance-1", "bizId": 2_400_000_000_000_001_i64, "userId": 1, "openId": "100000",
        "appKey": KUAISHOU_KEY, "event": kuaishou::events::PAY_SUCCESS,
        "info": json!({"oid": 2_400_000_000_000_001_i64, "status": 30}).to_string(),
        "createTime": 1_795_651_200_000_i64, "test": false,
    });
    let push = kuaishou::encrypt_push(KUAISHOU_MESSAGE_KEY, message.to_string().as_bytes()).unwrap();
    let code = kuaishou_sandbox.shop.consent("SDK 小店");
    let config = json!({
        "openapi": format!("{base}/sandbox/kuaishou"),
        "app_key": KUAISHOU_KEY,
        "app_secret": KUAISHOU_SECRET,
        "sign_secret": KUAISHOU_SIGN,
        "message_key": KUAISHOU_MESSAGE_KEY,
        "code": code,
        "shop_id": "100000",
        "sign_case": {"form": form},
        "push": {"body": push, "event_id": "evt-conformance-1"},
        "bad_signature_result": kuaishou::codes::BAD_SIGNATURE,
    });
    let (ok, stdout, ids) = run(python, "kwaixiaodian_sdk.py", config).await;
    assert!(ok, "kwaixiaodian_sdk.py failed:\n{stdout}");
    let item = kuaishou_sandbox.shop.item(ids["item_id"].as_str().unwrap().parse().unwrap()).unwrap();
    assert_eq!(
        (item.title.as_str(), item.skus[0].stock),
        ("SDK 商品", 10),
        "3 at creation, 7 added by the SDK"
    );
    handle.stop(true).await;
}
