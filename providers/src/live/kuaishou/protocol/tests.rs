//! Vectors computed apart from this code with Python's `hmac`, `hashlib`, `base64` and the
//! `cryptography` package (AES-CBC, zero IV, PKCS#7 padder):
//!
//! ```python
//! s = "&".join(f"{k}={params[k]}" for k in sorted(params)) + "&signSecret=" + secret
//! base64.b64encode(hmac.new(secret.encode(), s.encode(), hashlib.sha256).digest())
//! Cipher(algorithms.AES(key), modes.CBC(b"\0" * 16)).encryptor()   # over the padded message
//! ```

use super::*;

const SECRET: &str = "sign-secret-0123";
const PARAM: &str = r#"{"changeType":1,"kwaiItemId":100,"skuChangeStock":5,"skuId":200}"#;
const TOKEN: &str = "ChFvYXV0aC5hY2Nlc3NUb2tlbg";
const NOW_MS: i64 = 1_795_651_200_000;
const MESSAGE: &str = r#"{"eventId":"evt-0001","bizId":2400000000000001,"userId":1001,"openId":"f0a1b2c3","appKey":"ks123456789","event":"kwaishop_order_paySuccess","info":"{\"oid\":2400000000000001,\"status\":30,\"updateTime\":1795651200000}","createTime":1795651200000,"test":false}"#;
const KEY_16: &str = "MDEyMzQ1Njc4OWFiY2RlZg==";
const SEALED_16: &str = "xNZ4RNlsksRmK8ulPE9M6GAhZFNVMwxNFX8NbDsh+wiGeglyCcd8kY4BrHrLsNO4Caon2Q8wO6ykZHZQPRXJ+sKk0LcOefHY1DIoDq3Hn2i3twSHljh5jELD5LfD+8lTMt7tBq/kGvuk+NHqgXGWFzd7f87MOA3w1FpeA7CUw8xlqdcyPqVrY9c/IMF0eL6PxbqHsdqaC0yDo3VGmdvWTK4PlfOtGkjFAOn/iChBnfI4b+CAJjBgej6OYli+SIEKtMYVFiXG3YIK5YCuFsl2SbdeQJlQt3771mxURSZagsWUXQraSm+oN3+8FkUTl32Z13bC//tz/N6IkDsVhr8cTKDHvn9zt4xn28rhpZ8QlvA=";
const KEY_32: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const SEALED_32: &str = "t4ZkLhmkU+beBuXghihPFzL3ioGYDXo90GHOZMe8scYwldv097La8dE6gg4fpf8B9VbOlzeWKa6Fl8+o8ewgrsELtT1wPN8VCoPBymcYzgZ//op/QbAvwRJVgoJ4iSQPP5kkn4lz4dUTKNXWNjyqMRY7s5qbugw9tlfwXM9UUoLmifKjF/p5J94OzGJdXyORhedo3Qp7ZR7HJixpMcuK9z+P8DBaivvleB9WAf3h1KMz6XyKl6ODEQ7+84S7KVYiDIJqVMwDglhC9TomuE956JpZ0P3VJKGH/ZYsXbcreVxQV/vpD0yIQfbfMQxNbZqCT+HvSO4lrgn/0JvvNXXXaQHWvzgQ3o7ImGnZYMOedtg=";

#[test]
fn the_signature_matches_the_independent_vector() {
    let params = signed_params("ks123456789", SECRET, "open.item.sku.stock.update", TOKEN, PARAM, NOW_MS);
    let signed = params.iter().find(|(k, _)| *k == "sign").unwrap();
    assert_eq!(signed.1, "XUyfEjYQ2AjD04aEIxP9SbOjGj0DM1oVeg5jCBldto8=");
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        sign_string(&borrowed, SECRET),
        format!(
            "access_token={TOKEN}&appkey=ks123456789&method=open.item.sku.stock.update&param={PARAM}&signMethod=HMAC_SHA256&timestamp={NOW_MS}&version=1&signSecret={SECRET}"
        )
    );
    let md5: Vec<(&str, &str)> = borrowed
        .iter()
        .filter(|(k, _)| *k != "sign")
        .map(|(k, v)| if *k == "signMethod" { (*k, "MD5") } else { (*k, *v) })
        .collect();
    assert_eq!(sign(&md5, SECRET, SIGN_METHOD_MD5).unwrap(), "c90e72c78c9117a7593d4cd0466bb6f5");
    assert_eq!(method_path("open.item.sku.stock.update"), "/open/item/sku/stock/update");
}

fn owned(params: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[test]
fn a_call_verifies_only_with_the_right_secret_time_and_parameters() {
    let params =
        owned(signed_params("ks123456789", SECRET, "open.item.sku.stock.update", TOKEN, PARAM, NOW_MS));
    let verified = verify_call(&params, "ks123456789", SECRET, Timestamp(NOW_MS)).unwrap();
    assert_eq!(
        (verified.method.as_str(), verified.access_token.as_str()),
        ("open.item.sku.stock.update", TOKEN)
    );
    assert_eq!(verified.param["skuChangeStock"], 5);

    let result = |r: Result<VerifiedCall, ApiError>| r.unwrap_err().result;
    assert_eq!(result(verify_call(&params, "ks123456789", "other", Timestamp(NOW_MS))), codes::BAD_SIGNATURE);
    assert_eq!(result(verify_call(&params, "ks-other", SECRET, Timestamp(NOW_MS))), codes::UNKNOWN_APP);
    assert_eq!(
        result(verify_call(&params, "ks123456789", SECRET, Timestamp(NOW_MS + MAX_SKEW_MS + 1))),
        codes::STALE
    );
    let mut tampered = params.clone();
    tampered[3].1 = PARAM.replace("\"skuChangeStock\":5", "\"skuChangeStock\":500");
    assert_eq!(
        result(verify_call(&tampered, "ks123456789", SECRET, Timestamp(NOW_MS))),
        codes::BAD_SIGNATURE
    );
}

#[test]
fn pushes_decrypt_with_a_16_or_32_byte_key_and_encrypt_back_to_the_vector() {
    assert_eq!(decrypt_push(KEY_16, SEALED_16.as_bytes()).unwrap(), MESSAGE.as_bytes());
    assert_eq!(decrypt_push(KEY_32, SEALED_32.as_bytes()).unwrap(), MESSAGE.as_bytes());
    assert_eq!(encrypt_push(KEY_16, MESSAGE.as_bytes()).unwrap(), SEALED_16);
    assert_eq!(encrypt_push(KEY_32, MESSAGE.as_bytes()).unwrap(), SEALED_32);
}

#[test]
fn a_genuine_push_opens_into_its_event() {
    let push =
        open_push("ks123456789", KEY_16, SEALED_16.as_bytes(), Timestamp(NOW_MS + 1_000), 3_600_000).unwrap();
    assert_eq!(
        push,
        Push::Events(vec![PushEvent {
            message_id: "evt-0001".into(),
            kind: PushKind::OrderPaid,
            order_id: "2400000000000001".into(),
            shop_id: "f0a1b2c3".into(),
            occurred_at: Timestamp(NOW_MS),
        }])
    );
}

#[test]
fn forged_stale_malformed_and_foreign_pushes_are_refused_and_tests_are_heartbeats() {
    let now = Timestamp(NOW_MS + 1_000);
    let open = |key: &str, body: &str, now: Timestamp| {
        open_push("ks123456789", key, body.as_bytes(), now, 3_600_000)
    };
    // another app's key, bytes flipped, not base64, not blocks
    assert_eq!(open(KEY_32, SEALED_16, now), Err(PushRefused::Forged));
    let mut flipped = BASE64.decode(SEALED_16).unwrap();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x55;
    assert_eq!(open(KEY_16, &BASE64.encode(&flipped), now), Err(PushRefused::Forged));
    assert_eq!(open(KEY_16, "{\"eventId\":\"x\"}", now), Err(PushRefused::Forged));
    assert_eq!(open(KEY_16, "AAAA", now), Err(PushRefused::Forged));
    // genuine but old
    assert!(matches!(open(KEY_16, SEALED_16, Timestamp(NOW_MS + 3_600_001)), Err(PushRefused::Stale(_))));
    // sealed with our key but not a message, or for another app
    let sealed = |text: &str| encrypt_push(KEY_16, text.as_bytes()).unwrap();
    assert!(matches!(open(KEY_16, &sealed("[1,2]"), now), Err(PushRefused::Malformed(_))));
    let foreign = MESSAGE.replace("ks123456789", "ks999");
    assert_eq!(open(KEY_16, &sealed(&foreign), now), Err(PushRefused::Forged));
    let test = MESSAGE.replace("\"test\":false", "\"test\":true");
    assert_eq!(open(KEY_16, &sealed(&test), now), Ok(Push::Heartbeat));
    // a status change we do not follow carries no event
    let unfollowed = MESSAGE.replace("kwaishop_order_paySuccess", "kwaishop_order_orderStatusChange");
    assert_eq!(open(KEY_16, &sealed(&unfollowed), now), Ok(Push::Events(vec![])));
}

/// `orderAddress` once encrypted (the plain fields null, `desensitise…` masked) and the batch
/// decryption's answer, in both places the list may sit.
#[test]
fn an_encrypted_order_address_is_read_through_its_decryption() {
    let detail = serde_json::json!({
        "orderBaseInfo": {"oid": 2_400_000_000_001_i64, "sellerOpenId": "f1", "status": 30,
            "createTime": NOW_MS, "payTime": NOW_MS, "updateTime": NOW_MS, "totalFee": 990},
        "orderItemInfo": {"itemId": 100, "skuId": 200, "num": 1},
        "orderAddress": {"consignee": null, "mobile": null, "address": null,
            "desensitiseConsignee": "李*", "desensitiseMobile": "139****9000", "desensitiseAddress": "文三路***",
            "encryptedConsignee": "enc-name", "encryptedMobile": "enc-mobile", "encryptedAddress": "enc-address",
            "province": "浙江省", "provinceCode": 330000, "city": "杭州市", "cityCode": 330100,
            "district": "西湖区", "districtCode": 330106},
    });
    let wire: OrderWire = serde_json::from_value(detail).unwrap();
    assert_eq!(wire.ciphers(), ["enc-name", "enc-mobile", "enc-address"]);
    let plain = |c: &str| {
        Some(match c {
            "enc-name" => "李四".to_owned(),
            "enc-mobile" => "13900139000".to_owned(),
            "enc-address" => "文三路1号".to_owned(),
            _ => return None,
        })
    };
    let receiver = wire.to_order(&plain).unwrap().receiver.unwrap();
    assert_eq!((receiver.name.as_str(), receiver.phone.as_str()), ("李四", "13900139000"));
    assert_eq!((receiver.district.as_str(), receiver.detail.as_str()), ("西湖区", "文三路1号"));
    assert_eq!(wire.to_order(&|_| None).unwrap().receiver, None, "never the masked text");

    // Shipped: `orderLogisticsInfo`, its code a number or a numeric string.
    for code in [serde_json::json!(9), serde_json::json!("9")] {
        let mut shipped = serde_json::to_value(&wire).unwrap();
        shipped["orderLogisticsInfo"] =
            serde_json::json!([{"expressNo": "731234567890", "expressCode": code, "logisticsId": 1}]);
        let order = serde_json::from_value::<OrderWire>(shipped).unwrap().to_order(&plain).unwrap();
        let package = order.shipment.unwrap();
        assert_eq!((package.company_code.as_str(), package.waybill_no.as_str()), ("9", "731234567890"));
        assert_eq!(crate::live::our_courier(crate::live::Platform::Kuaishou, "9"), Some("ZTO"));
    }
    assert_eq!(crate::live::our_courier(crate::live::Platform::Kuaishou, "109"), Some("JTSD"));

    let item = serde_json::json!({"bizId": "2400000000001", "encryptedData": "enc-mobile",
        "decryptedData": "13900139000", "errorCode": 1, "errorMsg": ""});
    for data in [serde_json::json!({"batchDecryptResultList": [item.clone()]}), serde_json::json!([item])] {
        let results = decrypt_results(&data).unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(
            (results[0].error_code, results[0].decrypted_data.as_deref()),
            (DECRYPTED, Some("13900139000"))
        );
    }
}
