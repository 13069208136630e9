//! Conformance with client SDKs nobody here wrote: the real server, its bundled WeChat Pay and
//! Alipay sandboxes and its notification endpoints, driven by `wechatpayv3` and
//! `python-alipay-sdk` from PyPI (the scripts in `tests/conformance/`).
//!
//! The scripts need Python with the pinned SDKs (`tests/conformance/requirements.txt`); the
//! interpreter comes from `CONFORMANCE_PYTHON`, which `.ci/run` sets after making a venv. Unset,
//! the test says it is skipped and passes, so `cargo test` works on a machine without them.
//!
//! What the scripts need is written here: the sandbox's keys (generated on first start and
//! kept in the database) as PEM files, the merchant ids and serials, and payments of the
//! platform's own (created through its API) for the notifications they send.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{Api, TestDb, spawn_app, test_settings};

const PYTHON: &str = "CONFORMANCE_PYTHON";

/// A payment of the platform's own: what a channel's notification is about.
async fn payment(api: &Api, sale: i64, buyer: &str, key: &str, channel: &str) -> (i64, Value) {
    let placed = api.order(sale, buyer, key, 1).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let order_id = placed.body["order_id"].as_i64().unwrap();
    let created = api.create_payment(order_id, buyer, channel).await;
    // Our own client against our own sandbox: a failover here means the sandbox refused what
    // the client sent (a time_expire with milliseconds, say).
    assert_eq!(
        (created["channel"].as_str(), &created["failover"]),
        (Some(channel), &json!(false)),
        "{created}"
    );
    (order_id, json!({"out_trade_no": created["out_trade_no"], "amount_fen": created["amount_fen"]}))
}

/// Runs one script to the end; its output is printed whatever happens.
fn run_script(python: &str, script: &str, config: &Path) -> bool {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance").join(script);
    let started = std::time::Instant::now();
    let output = Command::new(python)
        .arg(&path)
        .arg(config)
        .current_dir(path.parent().unwrap())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("running {python} {}: {e}", path.display()));
    println!("---- {script} ({:.1} s)", started.elapsed().as_secs_f64());
    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    output.status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_sdks_accept_our_sandboxes_and_notification_endpoints() {
    let Some(python) = std::env::var(PYTHON).ok().filter(|p| !p.is_empty()) else {
        eprintln!("conformance: skipped ({PYTHON} is not set; .ci/run sets it after installing the SDKs)");
        return;
    };
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    // The sandboxes notify the scripts' own notify endpoints, at once.
    settings.sandbox.notify = true;
    let app = spawn_app(settings).await;
    let api = app.api();
    let sandbox = app.state.sandbox.clone().expect("the bundled sandbox is on");

    let (_merchant, _, sale) = api.merchant_sale("13700000001", 1_980, 10, 600).await;
    let buyer = api.buyer("13700000002").await;
    let (wechat_order, wechat_payment) = payment(&api, sale, &buyer, "w1", "wechat").await;
    let (wechat_mismatch_order, wechat_mismatch) = payment(&api, sale, &buyer, "w2", "wechat").await;
    let (alipay_order, alipay_payment) = payment(&api, sale, &buyer, "a1", "alipay").await;
    let (alipay_mismatch_order, alipay_mismatch) = payment(&api, sale, &buyer, "a2", "alipay").await;

    let dir = db.dir().join("conformance");
    std::fs::create_dir_all(&dir).unwrap();
    let pems = sandbox.keys.to_pems();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let s = &sandbox.settings;
    let config = json!({
        "platform_url": app.base,
        "sandbox_url": format!("{}/sandbox", app.base),
        "wechat": {
            "base_url": format!("{}/sandbox/wechat", app.base),
            "mchid": s.wechat_mchid,
            "appid": s.wechat_appid,
            "merchant_serial": s.wechat_merchant_serial,
            "platform_serial": s.wechat_platform_serial,
            "merchant_private_key_file": write("wechat_merchant.pem", &pems.wechat_merchant),
            // The channel's own key: the scripts sign notifications as WeChat Pay does.
            "platform_private_key_file": write("wechat_platform.pem", &pems.wechat_platform),
            "api_v3_key": pems.wechat_api_v3_key,
            "notify_url": format!("{}/api/v1/payments/wechat/notify", app.base),
            "payment": wechat_payment,
            "mismatch_payment": wechat_mismatch,
        },
        "alipay": {
            "gateway_url": format!("{}/sandbox/alipay/gateway.do", app.base),
            "app_id": s.alipay_app_id,
            "app_private_key_file": write("alipay_app.pem", &pems.alipay_app),
            "platform_private_key_file": write("alipay_platform.pem", &pems.alipay_platform),
            "notify_url": format!("{}/api/v1/payments/alipay/notify", app.base),
            "payment": alipay_payment,
            "mismatch_payment": alipay_mismatch,
        },
    });
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();

    let passed = tokio::task::spawn_blocking(move || {
        let wechat = run_script(&python, "wechat_sdk.py", &config_path);
        let alipay = run_script(&python, "alipay_sdk.py", &config_path);
        [("wechat_sdk.py", wechat), ("alipay_sdk.py", alipay)]
    })
    .await
    .unwrap();

    // What the notifications did, seen through the platform's own API.
    let state_of = |order: i64, channel: &'static str| {
        let api = api.clone();
        let buyer = buyer.clone();
        async move {
            let listed = api.get(&format!("/api/v1/orders/{order}/payments"), Some(&buyer)).await;
            listed.body["payments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["channel"] == channel)
                .map(|p| p["state"].as_str().unwrap().to_owned())
                .unwrap()
        }
    };
    let states = [
        ("wechat genuine", state_of(wechat_order, "wechat").await, "credited"),
        ("wechat wrong amount", state_of(wechat_mismatch_order, "wechat").await, "created"),
        ("alipay genuine", state_of(alipay_order, "alipay").await, "credited"),
        ("alipay wrong amount", state_of(alipay_mismatch_order, "alipay").await, "created"),
    ];
    app.stop().await;
    for (script, ok) in passed {
        assert!(ok, "{script} found mismatches (its output is above)");
    }
    for (what, state, expected) in states {
        assert_eq!(state, expected, "{what}");
    }
}
