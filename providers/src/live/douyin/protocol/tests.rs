//! Vectors computed apart from this code, with Python's `json`, `hmac` and `hashlib`:
//!
//! ```python
//! pj = json.dumps(params, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
//! pat = sec + "app_key" + ak + "method" + "sku.syncStock" + "param_json" + pj + "timestamp" + ts + "v2" + sec
//! hmac.new(sec.encode(), pat.encode(), hashlib.sha256).hexdigest()
//! hashlib.md5(pat.encode()).hexdigest()
//! hashlib.md5((ak + body + sec).encode()).hexdigest()   # event-sign
//! ```

use serde_json::json;

use super::*;

const APP_KEY: &str = "7152331588175513100";
const APP_SECRET: &str = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
const TIMESTAMP: &str = "2026-11-26 08:00:00";
const PUSH_BODY: &str = r#"[{"tag":"101","msg_id":"7000000000000000001","data":"{\"p_id\":4900000000000000001,\"shop_id\":12345,\"pay_time\":1764115200,\"order_status\":105}"}]"#;
const PUSH_SIGN: &str = "425ec2298950f7766c5d31fd84adc537";
/// 2025-11-26 00:00:00 UTC, the push's `pay_time`.
const PAID_AT_MS: i64 = 1_764_115_200_000;

fn params() -> Value {
    json!({"sku_id": 123, "product_id": "3600000000000", "stock_num": 50, "incremental": false,
           "idempotent_id": "lease-1", "extra": {"b": 1, "a": "直播/秒杀"}})
}

#[test]
fn param_json_sorts_keys_at_every_depth_and_escapes_nothing_needless() {
    assert_eq!(
        param_json(&params()),
        r#"{"extra":{"a":"直播/秒杀","b":1},"idempotent_id":"lease-1","incremental":false,"product_id":"3600000000000","sku_id":123,"stock_num":50}"#
    );
    assert_eq!(
        param_json(&json!([{"z": 1, "a": [{"y": null, "b": "<&>"}]}])),
        r#"[{"a":[{"b":"<&>","y":null}],"z":1}]"#
    );
}

#[test]
fn the_signature_matches_the_independent_vector() {
    let pj = param_json(&params());
    assert_eq!(
        sign(APP_KEY, APP_SECRET, "sku.syncStock", &pj, TIMESTAMP),
        "49342e1d1ea014114f857677a11a97daac50f8c5a123c8a53c9498e60b5656bc"
    );
    assert_eq!(
        sign_md5(APP_KEY, APP_SECRET, "sku.syncStock", &pj, TIMESTAMP),
        "85ca0ac94776344e6a1158cf0c32d734"
    );
}

#[test]
fn timestamps_are_beijing_time_and_unix_seconds_are_read_too() {
    let at = parse_timestamp(TIMESTAMP).unwrap();
    assert_eq!(at, Timestamp(1_795_651_200_000));
    assert_eq!(beijing_time(at), TIMESTAMP);
    assert_eq!(parse_timestamp("1795651200"), Some(at));
    assert_eq!(parse_timestamp("2026-11-26T08:00:00"), None);
    assert_eq!(method_path("order.searchList"), "/order/searchList");
}

fn query_of(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
}

#[test]
fn a_call_verifies_only_with_the_right_key_time_and_bytes() {
    let pj = param_json(&params());
    let now = parse_timestamp(TIMESTAMP).unwrap();
    let query = signed_query(APP_KEY, APP_SECRET, "sku.syncStock", &pj, TIMESTAMP, Some("tok"));
    let verified = verify_call(&query_of(query.clone()), &pj, APP_KEY, APP_SECRET, now).unwrap();
    assert_eq!(verified, VerifiedCall { method: "sku.syncStock".into(), access_token: Some("tok".into()) });

    // the same parameters serialised another way (non-ASCII escaped) are other bytes: refused
    let escaped = pj.replace("直播", "\\u76f4\\u64ad");
    assert_eq!(serde_json::from_str::<Value>(&escaped).unwrap(), params());
    let refused = |r: Result<VerifiedCall, ApiError>| r.unwrap_err().sub_code;
    assert_eq!(
        refused(verify_call(&query_of(query.clone()), &escaped, APP_KEY, APP_SECRET, now)),
        codes::BAD_SIGNATURE.1
    );
    assert_eq!(
        refused(verify_call(&query_of(query.clone()), &pj, APP_KEY, "other", now)),
        codes::BAD_SIGNATURE.1
    );
    assert_eq!(
        refused(verify_call(&query_of(query.clone()), &pj, "other", APP_SECRET, now)),
        codes::UNKNOWN_APP.1
    );
    let late = now.plus_millis(MAX_SKEW_SECS * 1_000 + 1_000);
    assert_eq!(
        refused(verify_call(&query_of(query.clone()), &pj, APP_KEY, APP_SECRET, late)),
        codes::STALE.1
    );
    // another method under the same signature
    let mut swapped = query;
    swapped[1].1 = "order.logisticsAdd".into();
    assert_eq!(
        refused(verify_call(&query_of(swapped), &pj, APP_KEY, APP_SECRET, now)),
        codes::BAD_SIGNATURE.1
    );
}

fn headers(app_id: &str, sign: &str) -> impl Fn(&str) -> Option<String> {
    let (app_id, sign) = (app_id.to_owned(), sign.to_owned());
    move |name: &str| match name {
        "app-id" => Some(app_id.clone()),
        "event-sign" => Some(sign.clone()),
        _ => None,
    }
}

#[test]
fn a_genuine_push_opens_into_its_events() {
    assert_eq!(push_sign(APP_KEY, PUSH_BODY.as_bytes(), APP_SECRET), PUSH_SIGN);
    let now = Timestamp(PAID_AT_MS + 60_000);
    let push =
        open_push(APP_KEY, APP_SECRET, &headers(APP_KEY, PUSH_SIGN), PUSH_BODY.as_bytes(), now, 3_600_000);
    assert_eq!(
        push.unwrap(),
        Push::Events(vec![PushEvent {
            message_id: "7000000000000000001".into(),
            kind: PushKind::OrderPaid,
            order_id: "4900000000000000001".into(),
            shop_id: "12345".into(),
            occurred_at: Timestamp(PAID_AT_MS),
        }])
    );
}

#[test]
fn forged_stale_and_malformed_pushes_are_refused() {
    let now = Timestamp(PAID_AT_MS + 60_000);
    let open = |app_id: &str, sign: &str, body: &str, now: Timestamp| {
        open_push(APP_KEY, APP_SECRET, &headers(app_id, sign), body.as_bytes(), now, 3_600_000)
    };
    let tampered = PUSH_BODY.replace("4900000000000000001", "4900000000000000002");
    assert_eq!(open(APP_KEY, PUSH_SIGN, &tampered, now), Err(PushRefused::Forged));
    assert_eq!(open("someone-else", PUSH_SIGN, PUSH_BODY, now), Err(PushRefused::Forged));
    assert_eq!(open(APP_KEY, "", PUSH_BODY, now), Err(PushRefused::Forged));
    let later = Timestamp(PAID_AT_MS + 3_600_001);
    assert!(matches!(open(APP_KEY, PUSH_SIGN, PUSH_BODY, later), Err(PushRefused::Stale(_))));
    for body in [
        "{}",
        "[]",
        r#"[{"tag":"101","msg_id":"1","data":"{}"}]"#,
        r#"[{"tag":"101","msg_id":"","data":"{\"p_id\":1,\"shop_id\":2,\"pay_time\":1764115200}"}]"#,
    ] {
        let signed = push_sign(APP_KEY, body.as_bytes(), APP_SECRET);
        assert!(matches!(open(APP_KEY, &signed, body, now), Err(PushRefused::Malformed(_))), "{body}");
    }
    let ping = r#"[{"tag":"0","msg_id":"0","data":"{}"}]"#;
    assert_eq!(
        open(APP_KEY, &push_sign(APP_KEY, ping.as_bytes(), APP_SECRET), ping, now),
        Ok(Push::Heartbeat)
    );
}

#[test]
fn the_answer_envelope_carries_both_code_styles() {
    let ok = answer_json(&Ok(json!({"a": 1})), "log");
    assert_eq!(
        (ok["code"].as_i64(), ok["err_no"].as_i64(), ok["data"]["a"].as_i64()),
        (Some(CODE_OK), Some(0), Some(1))
    );
    let refused = answer_json(&Err(ApiError::new(codes::BAD_SIGNATURE, "no")), "log");
    assert_eq!(refused["sub_code"], codes::BAD_SIGNATURE.1);
    assert_ne!(refused["err_no"], 0);
}

/// An order detail as `order.orderDetail` gives it once the receiver is encrypted (the field
/// names of the Go SDK's `order_orderDetail` response): the ciphers are what is sent to
/// `order.batchDecrypt`, and the receiver is whole only when every cipher was decrypted.
#[test]
fn an_encrypted_receiver_is_read_through_its_decryption() {
    let detail = json!({
        "order_id": "6920000000000000001", "shop_id": 12345, "order_status": 2,
        "create_time": 1_764_115_200, "pay_time": 1_764_115_260, "update_time": 1_764_115_260,
        "pay_amount": 990,
        "sku_order_list": [{"order_id": "6920000000000000001", "product_id": "3600000000000000001",
            "sku_id": "1700000000000000001", "item_num": 1, "pay_amount": 990}],
        "post_receiver": "张*", "encrypt_post_receiver": "#c2FtcGxlLW5hbWU=#",
        "post_tel": "138****8000", "encrypt_post_tel": "$c2FtcGxlLXRlbA==$",
        "post_addr": {"province": {"name": "广东省", "id": "44"}, "city": {"name": "深圳市", "id": "4403"},
            "town": {"name": "南山区", "id": "440305"}, "street": {"name": "粤海街道", "id": "440305001"},
            "detail": "科技园***", "encrypt_detail": "~c2FtcGxlLWRldGFpbA==~"},
        "mask_post_receiver": "张*", "mask_post_tel": "138****8000",
    });
    let wire: OrderWire = serde_json::from_value(detail).unwrap();
    assert_eq!(wire.ciphers(), ["#c2FtcGxlLW5hbWU=#", "$c2FtcGxlLXRlbA==$", "~c2FtcGxlLWRldGFpbA==~"]);
    let plain = |cipher: &str| {
        Some(
            match cipher {
                "#c2FtcGxlLW5hbWU=#" => "张三",
                "$c2FtcGxlLXRlbA==$" => "13800138000",
                "~c2FtcGxlLWRldGFpbA==~" => "科技园南区1栋101",
                _ => return None,
            }
            .to_owned(),
        )
    };
    let receiver = wire.to_order(&plain).unwrap().receiver.unwrap();
    assert_eq!(
        (
            receiver.name.as_str(),
            receiver.phone.as_str(),
            receiver.district.as_str(),
            receiver.detail.as_str()
        ),
        ("张三", "13800138000", "南山区", "科技园南区1栋101")
    );
    // A cipher the platform would not decrypt: no receiver rather than a masked one.
    let partly = |cipher: &str| plain(cipher).filter(|_| !cipher.starts_with('$'));
    assert_eq!(wire.to_order(&partly).unwrap().receiver, None);
    // The decryption answer, as the SDK's response struct names it.
    let answer: Vec<DecryptInfo> = serde_json::from_value(json!([{"auth_id": "6920000000000000001",
        "cipher_text": "$c2FtcGxlLXRlbA==$", "decrypt_text": "13800138000", "err_no": 0, "err_msg": "",
        "data_type": 3, "is_virtual_tel": false, "expire_time": 0, "phone_no_a": "", "phone_no_b": ""}]))
    .unwrap();
    assert_eq!((answer[0].err_no, answer[0].decrypt_text.as_str()), (0, "13800138000"));
    assert_eq!(wire.to_order(&plain).unwrap().shipment, None, "not shipped yet");

    // Shipped in Douyin's console: the first package of `logistics_info`.
    let mut shipped = serde_json::to_value(&wire).unwrap();
    shipped["order_status"] = json!(3);
    shipped["logistics_info"] = json!([{"tracking_no": "731234567890", "company": "zhongtong",
        "company_name": "中通快递", "delivery_id": "d1", "ship_time": 1_764_200_000, "product_info": []}]);
    let order = serde_json::from_value::<OrderWire>(shipped).unwrap().to_order(&plain).unwrap();
    assert_eq!(
        order.shipment,
        Some(crate::live::PlatformShipment {
            company_code: "zhongtong".into(),
            waybill_no: "731234567890".into()
        })
    );
    assert_eq!(crate::live::our_courier(crate::live::Platform::Douyin, "zhongtong"), Some("ZTO"));
}
