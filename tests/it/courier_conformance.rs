//! Our courier code against tools we did not write. The shipping label is rendered by PDFium
//! and its barcode decoded by ZXing (`tests/conformance/label_decode.py`); our KDNiao courier
//! sandbox serves the `kdniao` SDK from PyPI, whose signer must also agree with ours
//! (`tests/conformance/kdniao_sdk.py`). Both need `$CONFORMANCE_PYTHON`; without it they print
//! a skip line. See tests/conformance/requirements.txt.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use engine::Timestamp;
use engine::time::Clock;
use providers::couriers::kdniao::protocol;
use providers::couriers::{Courier, Party, TrackingState};
use sandbox::courier::{CourierSandbox, CourierSandboxSettings};
use workflows::fulfilment::label::{self, Label, LabelFont};

const LABEL_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance/label_decode.py");
const SDK_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance/kdniao_sdk.py");

fn python(what: &str) -> Option<String> {
    let python = std::env::var("CONFORMANCE_PYTHON").ok().filter(|p| !p.is_empty());
    if python.is_none() {
        eprintln!(
            "{what} conformance: skipped, set CONFORMANCE_PYTHON to a Python with tests/conformance/requirements.txt"
        );
    }
    python
}

async fn run(python: String, script: &'static str, args: Vec<String>) -> serde_json::Value {
    let output = tokio::task::spawn_blocking(move || Command::new(python).arg(script).args(args).output())
        .await
        .unwrap()
        .expect("the conformance python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{script} failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn party(name: &str, phone: &str, city: &str, detail: &str) -> Party {
    Party {
        name: name.into(),
        phone: phone.into(),
        province: "广东省".into(),
        city: city.into(),
        district: "天河区".into(),
        detail: detail.into(),
    }
}

#[tokio::test]
async fn the_label_barcode_decodes_to_the_waybill_number() {
    let Some(python) = python("label") else { return };
    let font =
        LabelFont::load(Path::new(label::DEFAULT_FONT_PATH), 0).expect("fonts-wqy-microhei is installed");
    // Set B with letters, set C (an even run of digits), and an odd run of digits.
    let numbers = [("SF", "SF1407285902613"), ("ZTO", "731234567890"), ("STO", "77300000001")];
    let labels: Vec<Label> = numbers
        .iter()
        .enumerate()
        .map(|(n, (courier, number))| Label {
            courier: Courier::parse(courier).unwrap(),
            waybill_no: (*number).into(),
            sort_code: (n == 0).then(|| "广东-天河区 020".into()),
            package_center: None,
            order_no: format!("91000{n}"),
            sender: party("直播小店", "0755-86000000", "深圳市", "科技园路1号"),
            receiver: party("李四", "13800000000", "广州市", "天河路385号太古汇一座2801室"),
        })
        .collect();
    let pdf = label::render(&labels, &font).unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &pdf).unwrap();
    let read = run(python, LABEL_SCRIPT, vec![file.path().display().to_string()]).await;
    let pages = read["pages"].as_array().unwrap();
    assert_eq!(pages.len(), labels.len(), "{read}");
    for (page, label) in pages.iter().zip(&labels) {
        assert_eq!(page["width_mm"], 100.0, "{page}");
        assert_eq!(page["height_mm"], 150.0, "{page}");
        let barcodes = page["barcodes"].as_array().unwrap();
        assert_eq!(barcodes.len(), 1, "one barcode per label: {page}");
        assert_eq!(barcodes[0]["format"].as_str().unwrap().replace(' ', ""), "Code128", "{page}");
        assert_eq!(barcodes[0]["text"], label.waybill_no.as_str(), "{page}");
        let text = page["text"].as_str().unwrap();
        for expected in
            [label.courier.name, "李四", "13800000000", "广东省广州市天河区天河路385号", &label.order_no]
        {
            assert!(text.replace(['\r', '\n'], "").contains(expected), "{expected:?} not in {text:?}");
        }
    }
}

struct Stopped;

impl Clock for Stopped {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(1_700_000_000_000)
    }
}

#[actix_web::test]
async fn the_kdniao_sdk_is_served_by_our_courier_sandbox_and_signs_as_we_do() {
    let Some(python) = python("kdniao") else { return };
    let (ebusiness_id, app_key) = sandbox::courier::generate_keys();
    let sandbox = Arc::new(CourierSandbox::new(
        CourierSandboxSettings {
            ebusiness_id: ebusiness_id.clone(),
            app_key: app_key.clone(),
            callback_url: None,
            retry_scale: 0.001,
            capacity: 100,
        },
        Arc::new(Stopped),
    ));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/sandbox/courier", listener.local_addr().unwrap());
    actix_web::rt::spawn(sandbox::courier::serve(listener, sandbox.clone()).unwrap());

    let results = run(
        python.clone(),
        SDK_SCRIPT,
        vec![
            "drive".into(),
            "--base".into(),
            base,
            "--ebusiness-id".into(),
            ebusiness_id.clone(),
            "--app-key".into(),
            app_key.clone(),
        ],
    )
    .await;
    eprintln!("kdniao conformance: {results}");
    let first = &results["first"];
    assert_eq!(first["Success"], true, "{results}");
    assert_eq!(first["ResultCode"], "100", "{results}");
    let number = first["Order"]["LogisticCode"].as_str().unwrap().to_owned();
    assert!(number.starts_with("SF") && number.len() == 15, "{number}");
    assert_eq!(first["Order"]["OrderCode"], "CONF-1");
    assert_eq!(results["again"]["Order"]["LogisticCode"], number.as_str(), "same order, same waybill");
    assert_eq!(results["again"]["ResultCode"], "106");
    assert_ne!(results["other"]["Order"]["LogisticCode"], number.as_str());
    assert_eq!(results["follow"]["Success"], true, "{results}");
    assert_eq!(results["forged"]["Success"], false, "{results}");
    assert_eq!(results["forged"]["ResultCode"], "105", "{results}");
    assert_eq!(results["unknown"]["Success"], false, "{results}");
    // The SDK sent Chinese as \u escapes (json.dumps with sort_keys): the sandbox read them.
    assert!(sandbox.waybill(&number).unwrap().subscribed);

    // Signatures: the SDK's signer on a request of ours, and the SDK verifying a sandbox push.
    let moved = sandbox.advance(&number, Some(TrackingState::Delivered)).unwrap();
    assert_eq!(moved.traces.len(), 3);
    let push = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(push.path(), sandbox.push_body(&number).unwrap()).unwrap();
    let data = r#"{"LogisticCode":"SF1407285902613","ShipperCode":"SF","OrderCode":"订单-1"}"#;
    let signed = run(
        python,
        SDK_SCRIPT,
        vec![
            "sign".into(),
            "--ebusiness-id".into(),
            ebusiness_id,
            "--app-key".into(),
            app_key.clone(),
            "--data".into(),
            data.into(),
            "--push-file".into(),
            push.path().display().to_string(),
        ],
    )
    .await;
    assert_eq!(signed["sign"], protocol::data_sign(data, &app_key).as_str(), "{signed}");
    assert_eq!(signed["push_verifies"], true, "{signed}");
    assert_eq!(signed["push_request_type"], protocol::TRACK_PUSH, "{signed}");
    assert_eq!(signed["push_under_wrong_key"], false, "{signed}");
}
