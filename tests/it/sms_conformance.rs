//! Our Tencent SMS code against Tencent's own Python SDK (`tencentcloud-sdk-python-sms`), an
//! implementation we did not write: the SDK's signer must produce our client's signature for
//! the same request, and the SDK's client must be accepted by our sandbox (and refused with
//! Tencent's codes when wrong). Runs `$CONFORMANCE_PYTHON tests/conformance/sms_sdk.py`; without
//! that variable it prints a skip line. See tests/conformance/requirements.txt.

use std::process::Command;
use std::sync::Arc;

use engine::Phone;
use providers::sms::tencent::{TencentSms, TencentSmsConfig};

use crate::helpers::{TestDb, sms_sandbox_keys, spawn_app, test_settings};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance/sms_sdk.py");

fn python() -> Option<String> {
    let python = std::env::var("CONFORMANCE_PYTHON").ok().filter(|p| !p.is_empty());
    if python.is_none() {
        eprintln!(
            "sms conformance: skipped, set CONFORMANCE_PYTHON to a Python with tests/conformance/requirements.txt"
        );
    }
    python
}

async fn run(python: String, args: Vec<String>) -> serde_json::Value {
    let output = tokio::task::spawn_blocking(move || Command::new(python).arg(SCRIPT).args(args).output())
        .await
        .unwrap()
        .expect("the conformance python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "sms_sdk.py failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[tokio::test]
async fn the_sdks_signer_makes_our_clients_signature() {
    let Some(python) = python() else { return };
    let client = TencentSms::new(
        TencentSmsConfig {
            url: "http://sms.example.test:8443/sandbox/sms".into(),
            region: "ap-guangzhou".into(),
            secret_id: "AKIDconformance0000000000000000000000".into(),
            secret_key: "conformance-secret-key-0123456789".into(),
            sdk_app_id: "1400000001".into(),
            sign_name: "直播秒杀".into(),
        },
        reqwest::Client::new(),
        Arc::new(actors::SystemClock),
    )
    .unwrap();
    let phone = Phone::parse("13800138000").unwrap();
    // The published example's instant, and one second before a UTC midnight.
    for timestamp in [1_551_113_065_i64, 1_767_225_599] {
        let prepared = client.prepare(&phone, "2000001", &["402913".into(), "5".into()], timestamp);
        let header = |name: &str| prepared.headers.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        let body = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(body.path(), &prepared.body).unwrap();
        let sdk = run(
            python.clone(),
            vec![
                "sign".into(),
                "--secret-id".into(),
                "AKIDconformance0000000000000000000000".into(),
                "--secret-key".into(),
                "conformance-secret-key-0123456789".into(),
                "--host".into(),
                header("Host"),
                "--content-type".into(),
                header("Content-Type"),
                "--timestamp".into(),
                header("X-TC-Timestamp"),
                "--body-file".into(),
                body.path().display().to_string(),
            ],
        )
        .await;
        let ours = header("Authorization");
        let scope = format!("/{}/sms/tc3_request,", sdk["date"].as_str().unwrap());
        assert!(ours.contains(&scope), "{ours} vs {sdk}");
        assert!(
            ours.ends_with(&format!("Signature={}", sdk["signature"].as_str().unwrap())),
            "{ours} vs {sdk}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_is_served_by_our_sandbox() {
    let Some(python) = python() else { return };
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let (secret_id, secret_key) = sms_sandbox_keys(&app).await;
    let sms = &app.state.settings.sms;
    let endpoint = format!("{}/sandbox/sms", app.base.trim_start_matches("http://"));
    let results = run(
        python,
        vec![
            "drive".into(),
            "--endpoint".into(),
            endpoint,
            "--secret-id".into(),
            secret_id,
            "--secret-key".into(),
            secret_key,
            "--sdk-app-id".into(),
            sms.sdk_app_id.clone(),
            "--sign-name".into(),
            sms.sign_name.clone(),
            "--template-id".into(),
            sms.template_id_login.clone(),
            "--phone".into(),
            "13800138001".into(),
            "--code".into(),
            "731904".into(),
        ],
    )
    .await;
    eprintln!("sms conformance: {results}");
    for check in [
        "accepted",
        "receipts",
        "wrong_key",
        "unknown_secret_id",
        "unapproved_template",
        "unapproved_signature",
        "unsupported_region",
    ] {
        assert_eq!(results[check]["ok"], true, "{check}: {results}");
    }
    // Exactly the accepted request reached the phone, rendered from the approved template.
    let delivered = app.state.sms_sandbox.as_ref().unwrap().messages(None, 10);
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0].phone, "+8613800138001");
    assert_eq!(
        delivered[0].text,
        "【直播秒杀】您的验证码为731904，5分钟内有效。如非本人操作，请忽略本短信。"
    );
    app.stop().await;
}
