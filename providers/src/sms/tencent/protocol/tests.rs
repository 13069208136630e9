//! The signer against Tencent's published worked example (signature v3, CVM
//! `DescribeInstances` in ap-guangzhou at 1551113065), and the verifier against tampering.

use super::*;

/// The example's body, byte for byte as the documentation prints it: the Chinese instance
/// name 未命名 escaped as `\u672a\u547d\u540d` inside the JSON text.
const EXAMPLE_PAYLOAD: &str =
    r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
const EXAMPLE_HOST: &str = "cvm.tencentcloudapi.com";
const EXAMPLE_TIMESTAMP: i64 = 1_551_113_065;

fn example(secret_id: &str, secret_key: &str) -> String {
    authorization(
        secret_id,
        secret_key,
        &Signable {
            method: "POST",
            query: "",
            headers: &[("Content-Type", CONTENT_TYPE), ("Host", EXAMPLE_HOST)],
            payload: EXAMPLE_PAYLOAD.as_bytes(),
            timestamp_secs: EXAMPLE_TIMESTAMP,
            service: "cvm",
        },
    )
}

#[test]
fn every_intermediate_value_of_the_published_example() {
    assert_eq!(
        sha256_hex(EXAMPLE_PAYLOAD.as_bytes()),
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    );
    let canonical = canonical_request(
        "POST",
        "",
        &[("content-type", CONTENT_TYPE), ("host", EXAMPLE_HOST)],
        EXAMPLE_PAYLOAD.as_bytes(),
    );
    assert_eq!(
        canonical,
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n\
         content-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    );
    assert_eq!(
        string_to_sign(EXAMPLE_TIMESTAMP, "cvm", &canonical),
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
         5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    );
}

/// The current documentation's keys and final signature.
#[test]
fn the_published_example_signature() {
    assert_eq!(
        example("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"),
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
         SignedHeaders=content-type;host, \
         Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    );
}

/// An earlier revision of the same page masked the keys with asterisks and printed the
/// signature for those literal keys: a second, independent vector.
#[test]
fn the_earlier_revision_of_the_example() {
    assert!(
        example("AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", "Gu5t9xGARNpq86cd98joQYCN3*******")
            .ends_with("Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c")
    );
}

/// 1551113065 is 2019-02-26 00:44:25 in Beijing: the scope's date must still be the UTC one.
#[test]
fn the_scope_date_is_utc() {
    assert_eq!(utc_date(EXAMPLE_TIMESTAMP), "2019-02-25");
    assert_eq!(utc_date(0), "1970-01-01");
}

fn received_headers(auth: String, timestamp: i64, host: &str) -> impl Fn(&str) -> Option<String> {
    let host = host.to_owned();
    move |name: &str| match name {
        "authorization" => Some(auth.clone()),
        "x-tc-timestamp" => Some(timestamp.to_string()),
        "content-type" => Some(CONTENT_TYPE.to_owned()),
        "host" => Some(host.clone()),
        _ => None,
    }
}

fn check(auth: String, timestamp: i64, host: &str, payload: &[u8], now: i64) -> Result<String, ApiError> {
    let header = received_headers(auth, timestamp, host);
    let received = Received { method: "POST", query: "", header: &header, payload };
    verify(&received, "cvm", now, |id| {
        (id == "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE").then(|| "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE".to_owned())
    })
}

#[test]
fn the_verifier_accepts_the_example_and_refuses_every_change() {
    let good = example("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE");
    let payload = EXAMPLE_PAYLOAD.as_bytes();
    let code = |r: Result<String, ApiError>| r.map_err(|e| e.code).err().unwrap_or_else(|| "accepted".into());

    assert_eq!(
        check(good.clone(), EXAMPLE_TIMESTAMP, EXAMPLE_HOST, payload, EXAMPLE_TIMESTAMP).unwrap(),
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
    );
    // Five minutes either way is still on time; a second more is not.
    assert_eq!(
        code(check(good.clone(), EXAMPLE_TIMESTAMP, EXAMPLE_HOST, payload, EXAMPLE_TIMESTAMP + 300)),
        "accepted"
    );
    assert_eq!(
        code(check(good.clone(), EXAMPLE_TIMESTAMP, EXAMPLE_HOST, payload, EXAMPLE_TIMESTAMP - 300)),
        "accepted"
    );
    assert_eq!(
        code(check(good.clone(), EXAMPLE_TIMESTAMP, EXAMPLE_HOST, payload, EXAMPLE_TIMESTAMP + 301)),
        "AuthFailure.SignatureExpire"
    );
    let tampered =
        r#"{"Limit": 2, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    assert_eq!(
        code(check(good.clone(), EXAMPLE_TIMESTAMP, EXAMPLE_HOST, tampered.as_bytes(), EXAMPLE_TIMESTAMP)),
        "AuthFailure.SignatureFailure"
    );
    assert_eq!(
        code(check(good.clone(), EXAMPLE_TIMESTAMP, "evil.example", payload, EXAMPLE_TIMESTAMP)),
        "AuthFailure.SignatureFailure"
    );
    // Another timestamp in the header than the one signed (same UTC day).
    assert_eq!(
        code(check(good.clone(), EXAMPLE_TIMESTAMP + 1, EXAMPLE_HOST, payload, EXAMPLE_TIMESTAMP)),
        "AuthFailure.SignatureFailure"
    );
    let other_key = example("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "another-secret-key");
    assert_eq!(
        code(check(other_key, EXAMPLE_TIMESTAMP, EXAMPLE_HOST, payload, EXAMPLE_TIMESTAMP)),
        "AuthFailure.SignatureFailure"
    );
    let unknown = example("AKIDunknown", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE");
    assert_eq!(
        code(check(unknown, EXAMPLE_TIMESTAMP, EXAMPLE_HOST, payload, EXAMPLE_TIMESTAMP)),
        "AuthFailure.SecretIdNotFound"
    );
    for broken in [
        "".to_owned(),
        "Bearer abc".to_owned(),
        good.replace("tc3_request", "tc4_request"),
        good.replace("SignedHeaders=content-type;host", "SignedHeaders=content-type"),
        good.replace("/cvm/", "/sms/"),
        good.replace("2019-02-25", "2019-02-24"),
        good.replace("Signature=72e4", "Signature=zz"),
    ] {
        assert_eq!(
            code(check(broken.clone(), EXAMPLE_TIMESTAMP, EXAMPLE_HOST, payload, EXAMPLE_TIMESTAMP)),
            "AuthFailure.InvalidAuthorization",
            "{broken}"
        );
    }
}

#[test]
fn answers_round_trip_in_both_shapes() {
    let sent = Answer::Sent(SendSmsResponse {
        send_status_set: vec![SendStatus {
            serial_no: "5000:104571066915705365784949619".into(),
            phone_number: "+8613800000000".into(),
            fee: 1,
            session_context: String::new(),
            code: SendStatus::OK.into(),
            message: "send success".into(),
            iso_code: "CN".into(),
        }],
        request_id: "a0aabda6-cf91-4f3e-a2cf-c9a2f1a4a1ef".into(),
    });
    let json = sent.to_json();
    assert_eq!(json["Response"]["SendStatusSet"][0]["Code"], "Ok");
    assert_eq!(json["Response"]["SendStatusSet"][0]["SerialNo"], "5000:104571066915705365784949619");
    assert_eq!(Answer::parse(json.to_string().as_bytes()).unwrap(), sent);

    let refused = Answer::Refused {
        error: ApiError::new("AuthFailure.SignatureFailure", "bad"),
        request_id: "r-1".into(),
    };
    let json = refused.to_json();
    assert_eq!(json["Response"]["Error"]["Code"], "AuthFailure.SignatureFailure");
    assert_eq!(json["Response"]["RequestId"], "r-1");
    assert_eq!(Answer::parse(json.to_string().as_bytes()).unwrap(), refused);
    assert!(Answer::parse(b"{\"nope\":1}").is_err());
}

#[test]
fn the_request_body_uses_the_api_field_names() {
    let request = SendSmsRequest {
        phone_number_set: vec!["+8613800000000".into()],
        sms_sdk_app_id: "1400000001".into(),
        sign_name: "直播秒杀".into(),
        template_id: "2000001".into(),
        template_param_set: vec!["123456".into(), "5".into()],
        session_context: None,
    };
    let json = serde_json::to_value(&request).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "PhoneNumberSet": ["+8613800000000"],
            "SmsSdkAppId": "1400000001",
            "SignName": "直播秒杀",
            "TemplateId": "2000001",
            "TemplateParamSet": ["123456", "5"],
        })
    );
}
