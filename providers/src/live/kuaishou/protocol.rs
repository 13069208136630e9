//! The Kuaishou shop open platform (快手小店, open.kwaixiaodian.com) on the wire: API signing,
//! the OAuth token answers, the answer envelope and the encrypted message push.
//!
//! Confirmed against independent SDKs: `ks-shop-python-sdk` 0.3.0 (PyPI: `utils.py` token
//! calls — `GET /oauth2/access_token?app_id&app_secret&code&grant_type=code`, `POST
//! /oauth2/refresh_token` form `{app_id, app_secret, refresh_token, grant_type=refresh_token}`;
//! `base.py` — the system parameters `appkey, version, method, timestamp (ms), access_token,
//! signMethod, param (JSON)`, the path the method with `.` → `/`); `kwaixiaodian` 1.0.3 (PyPI:
//! `auth/signature.py` — parameters sorted by name, `k=v` joined by `&`, then
//! `&signSecret=<secret>`; `HMAC_SHA256` keyed with the sign secret, Base64, or `MD5` hex);
//! `WyntersN/go-kwai` (`core/c.go`: the same HMAC string; `core/d.go`: a push body is
//! Base64 of AES/CBC/PKCS5Padding with key = Base64-decode(message secret) and a zero IV).
//! The token answer `{result, access_token, expires_in, refresh_token,
//! refresh_token_expires_in, open_id, scopes}` with `error`/`error_msg` on failure is from a
//! public TypeScript client's types.
//!
//! Not confirmed (chosen, kept here): the API's error `result` values (a bad signature, an
//! expired token, a cancelled grant), the `error` value of a dead grant (`invalid_grant`);
//! the allowed clock skew (10 minutes); the events' `info` fields (`oid`, `status`,
//! `updateTime`) and the after-sales event names; the order wire shape (`orderBaseInfo`,
//! `orderItemInfo`); whether the message key is 16 or 32 bytes (both are taken).
//!
//! The receiver: `orderAddress` carries `encryptedConsignee`, `encryptedMobile` and
//! `encryptedAddress` (the plain `consignee`, `mobile`, `address` null, `desensitise…` masked),
//! with plain region names; `open.order.decrypt.batch` takes `batchDecryptList [{bizId,
//! encryptedData}]`, at most 100 (the `kwaixiaodian` SDK's order models, the official Java
//! SDK's `DecryptBaseMetaInfo`, `whalesky-labs/kwaishop-php-sdk`). Its answer items
//! `{encryptedData, decryptedData, errorCode, errorMsg}` with `errorCode` 1 for success are from
//! the Java SDK's `DecryptResultMetaInfo`; where the list sits in `data` is not confirmed:
//! `batchDecryptResultList` is read, or `data` itself when it is the list.
//!
//! A shipped order lists its packages in `orderLogisticsInfo [{expressNo, expressCode,
//! logisticsId}]` beside `orderBaseInfo` (Go SDKs' order detail and list types agree; not
//! `orderBaseInfo.expressCode`).

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use engine::{Fen, Timestamp};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::live::douyin::protocol::string_or_number;
use crate::live::{OrderStatus, PlatformOrder, Push, PushEvent, PushKind, PushRefused, check_fresh};

pub const OPENAPI: &str = "https://openapi.kwaixiaodian.com";
pub const AUTHORIZE_URL: &str = "https://open.kwaixiaodian.com/oauth/authorize";
pub const VERSION: &str = "1";
pub const SIGN_METHOD: &str = "HMAC_SHA256";
pub const SIGN_METHOD_MD5: &str = "MD5";
/// The body that acknowledges a push (within 3 s), HTTP 200.
pub const PUSH_ACK: &str = r#"{"result":1}"#;
/// `result` of a successful answer.
pub const RESULT_OK: i64 = 1;
/// An access token lives 2 days, a refresh token 180 days (kept across refreshes).
pub const ACCESS_TOKEN_SECS: i64 = 172_800;
pub const REFRESH_TOKEN_SECS: i64 = 180 * 86_400;
/// How far a call's timestamp may be from the platform's clock (not confirmed).
pub const MAX_SKEW_MS: i64 = 600_000;

/// API `result` codes other than 1 (not confirmed: chosen, used by client and sandbox).
pub mod codes {
    pub const BAD_PARAMETER: i64 = 22;
    pub const UNKNOWN_APP: i64 = 23;
    /// The access token is expired or unknown: refresh.
    pub const ACCESS_TOKEN: i64 = 24;
    /// The merchant cancelled the grant: authorise again.
    pub const GRANT_REVOKED: i64 = 25;
    pub const STALE: i64 = 26;
    pub const BAD_SIGNATURE: i64 = 27;
    pub const BUSINESS: i64 = 803_000;
    /// `error` of a token answer whose code or refresh token is dead.
    pub const INVALID_GRANT: &str = "invalid_grant";
}

/// Push events.
pub mod events {
    pub const ADD_ORDER: &str = "kwaishop_order_addOrder";
    pub const PAY_SUCCESS: &str = "kwaishop_order_paySuccess";
    pub const STATUS_CHANGE: &str = "kwaishop_order_orderStatusChange";
    pub const ADD_REFUND: &str = "kwaishop_aftersales_addRefund";
    pub const REFUND_SUCCESS: &str = "kwaishop_aftersales_refundSuccess";
}

/// `open.item.sku.list.get` → URL path `/open/item/sku/list/get`.
pub fn method_path(method: &str) -> String {
    format!("/{}", method.replace('.', "/"))
}

/// The string signed: parameters (without `sign`) sorted by name as `k=v&…`, then `&signSecret=…`.
pub fn sign_string(params: &[(&str, &str)], sign_secret: &str) -> String {
    let mut sorted: Vec<&(&str, &str)> = params.iter().filter(|(k, _)| *k != "sign").collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let joined: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}&signSecret={sign_secret}", joined.join("&"))
}

/// `sign` for `sign_method`: HMAC_SHA256 → Base64, MD5 → lowercase hex; `None` for another method.
pub fn sign(params: &[(&str, &str)], sign_secret: &str, sign_method: &str) -> Option<String> {
    let text = sign_string(params, sign_secret);
    match sign_method {
        SIGN_METHOD => {
            let mut mac = Hmac::<Sha256>::new_from_slice(sign_secret.as_bytes()).expect("HMAC takes any key");
            mac.update(text.as_bytes());
            Some(BASE64.encode(mac.finalize().into_bytes()))
        }
        SIGN_METHOD_MD5 => Some(hex::encode(Md5::digest(text.as_bytes()))),
        _ => None,
    }
}

/// The form of a signed call: system parameters, `param`, `sign`.
pub fn signed_params(
    app_key: &str,
    sign_secret: &str,
    method: &str,
    access_token: &str,
    param: &str,
    timestamp_ms: i64,
) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("appkey", app_key.to_owned()),
        ("method", method.to_owned()),
        ("version", VERSION.to_owned()),
        ("param", param.to_owned()),
        ("access_token", access_token.to_owned()),
        ("timestamp", timestamp_ms.to_string()),
        ("signMethod", SIGN_METHOD.to_owned()),
    ];
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sign = sign(&borrowed, sign_secret, SIGN_METHOD).expect("HMAC_SHA256 is known");
    params.push(("sign", sign));
    params
}

/// A refusal in the platform's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub result: i64,
    pub message: String,
}

impl ApiError {
    pub fn new(result: i64, message: impl Into<String>) -> Self {
        Self { result, message: message.into() }
    }
}

/// What a verified call asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCall {
    pub method: String,
    pub access_token: String,
    /// The business parameters (`param`), `{}` when absent.
    pub param: Value,
}

/// Checks a received call: `appkey` ours, `version=1`, a known `signMethod`, the timestamp
/// within [`MAX_SKEW_MS`] of `now`, the signature over every received parameter but `sign`
/// (constant time), `param` a JSON object.
pub fn verify_call(
    params: &[(String, String)],
    app_key: &str,
    sign_secret: &str,
    now: Timestamp,
) -> Result<VerifiedCall, ApiError> {
    let get = |name: &str| {
        params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    };
    let missing = |name: &str| ApiError::new(codes::BAD_PARAMETER, format!("缺少参数 {name}"));
    if get("appkey").ok_or_else(|| missing("appkey"))? != app_key {
        return Err(ApiError::new(codes::UNKNOWN_APP, "appkey 不存在"));
    }
    let method = get("method").ok_or_else(|| missing("method"))?;
    if get("version") != Some(VERSION) {
        return Err(ApiError::new(codes::BAD_PARAMETER, "version 必须为 1"));
    }
    let timestamp: i64 = get("timestamp")
        .ok_or_else(|| missing("timestamp"))?
        .parse()
        .map_err(|_| ApiError::new(codes::BAD_PARAMETER, "timestamp 必须为毫秒数"))?;
    if (now.as_millis() - timestamp).abs() > MAX_SKEW_MS {
        return Err(ApiError::new(codes::STALE, "timestamp 与服务器时间相差过大"));
    }
    let claimed = get("sign").ok_or_else(|| missing("sign"))?;
    let sign_method = get("signMethod").unwrap_or(SIGN_METHOD_MD5);
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let expected = sign(&borrowed, sign_secret, sign_method)
        .ok_or_else(|| ApiError::new(codes::BAD_PARAMETER, format!("不支持的 signMethod {sign_method}")))?;
    if !bool::from(expected.as_bytes().ct_eq(claimed.as_bytes())) {
        return Err(ApiError::new(codes::BAD_SIGNATURE, "签名校验失败"));
    }
    let param = match get("param") {
        None => Value::Object(Default::default()),
        Some(text) => serde_json::from_str::<Value>(text)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| ApiError::new(codes::BAD_PARAMETER, "param 不是 JSON 对象"))?,
    };
    let access_token = get("access_token").unwrap_or_default().to_owned();
    Ok(VerifiedCall { method: method.to_owned(), access_token, param })
}

/// An API answer: `{"result":1,"data":…}` or `{"result":n,"error_msg":…}`.
pub fn answer_json(outcome: &Result<Value, ApiError>) -> Value {
    match outcome {
        Ok(data) => serde_json::json!({"result": RESULT_OK, "data": data, "error_msg": ""}),
        Err(e) => {
            serde_json::json!({"result": e.result, "error_msg": e.message, "code": e.result.to_string()})
        }
    }
}

/// The envelope as a client reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    pub result: i64,
    #[serde(default)]
    pub error_msg: String,
    #[serde(default)]
    pub data: Value,
}

/// `/oauth2/access_token` and `/oauth2/refresh_token` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenAnswer {
    pub result: i64,
    #[serde(default)]
    pub access_token: String,
    #[serde(default)]
    pub expires_in: i64,
    #[serde(default)]
    pub refresh_token: String,
    #[serde(default)]
    pub refresh_token_expires_in: i64,
    #[serde(default)]
    pub open_id: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error_msg: String,
}

/// An order's `status` → ours: 10 unpaid, 30 paid, 40 shipped, 50 received, 70 succeeded,
/// 80 closed.
pub fn order_status(code: i64) -> Option<OrderStatus> {
    Some(match code {
        10 => OrderStatus::Unpaid,
        30 => OrderStatus::Paid,
        40 => OrderStatus::Shipped,
        50 | 70 => OrderStatus::Completed,
        80 => OrderStatus::Cancelled,
        _ => return None,
    })
}

/// An order as `open.order.cursor.list` and `open.order.detail` give it (fields read here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderWire {
    pub order_base_info: OrderBaseWire,
    pub order_item_info: OrderItemWire,
    /// The receiver, when the order has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_address: Option<OrderAddressWire>,
    /// Its packages once shipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_logistics_info: Vec<LogisticsWire>,
}

/// A package of `orderLogisticsInfo`: `expressCode` (Kuaishou's courier number, sent as a
/// number or a numeric string) and `expressNo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogisticsWire {
    #[serde(default)]
    pub express_no: String,
    #[serde(default, deserialize_with = "string_or_number")]
    pub express_code: String,
}

/// `orderAddress`: region names, and `consignee`, `mobile`, `address` (the detail) plain or,
/// as the platform sends them, encrypted (`encrypted…`; the plain ones null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderAddressWire {
    #[serde(default)]
    pub consignee: Option<String>,
    #[serde(default)]
    pub mobile: Option<String>,
    pub province: String,
    pub city: String,
    pub district: String,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_consignee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_mobile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_address: Option<String>,
}

/// Ciphers decrypted per `open.order.decrypt.batch` call, at most.
pub const DECRYPT_BATCH: usize = 100;

/// An answer item of `open.order.decrypt.batch` with `errorCode` 1 is decrypted.
pub const DECRYPTED: i64 = 1;

/// One cipher to decrypt: the order it belongs to (`bizId`) and the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecryptItem {
    #[serde(deserialize_with = "string_or_number")]
    pub biz_id: String,
    pub encrypted_data: String,
}

/// One answer of `open.order.decrypt.batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecryptResult {
    pub encrypted_data: String,
    #[serde(default)]
    pub decrypted_data: Option<String>,
    #[serde(default)]
    pub error_code: i64,
    #[serde(default)]
    pub error_msg: Option<String>,
}

/// The answer items of `open.order.decrypt.batch`: `data.batchDecryptResultList`, or `data`
/// when it is the list itself.
pub fn decrypt_results(data: &Value) -> Result<Vec<DecryptResult>, serde_json::Error> {
    let list = data.get("batchDecryptResultList").filter(|v| v.is_array()).unwrap_or(data);
    serde_json::from_value(list.clone())
}

fn sealed(cipher: Option<&String>) -> Option<&str> {
    cipher.map(String::as_str).filter(|c| !c.is_empty())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderBaseWire {
    pub oid: i64,
    pub seller_open_id: String,
    pub status: i64,
    /// Unix ms.
    pub create_time: i64,
    #[serde(default)]
    pub pay_time: i64,
    pub update_time: i64,
    /// Fen.
    pub total_fee: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItemWire {
    pub item_id: i64,
    pub sku_id: i64,
    pub num: u32,
}

impl OrderWire {
    /// The receiver's encrypted fields, to decrypt through `open.order.decrypt.batch`.
    pub fn ciphers(&self) -> Vec<&str> {
        let Some(a) = &self.order_address else { return Vec::new() };
        [
            sealed(a.encrypted_consignee.as_ref()),
            sealed(a.encrypted_mobile.as_ref()),
            sealed(a.encrypted_address.as_ref()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The receiver, each encrypted field read through `plain`; `None` when a field is
    /// missing or was not decrypted.
    fn receiver(&self, plain: &dyn Fn(&str) -> Option<String>) -> Option<crate::live::Receiver> {
        let a = self.order_address.as_ref()?;
        let field = |cipher: Option<&String>, shown: Option<&String>| match sealed(cipher) {
            Some(cipher) => plain(cipher),
            None => shown.filter(|s| !s.is_empty()).cloned(),
        };
        Some(crate::live::Receiver {
            name: field(a.encrypted_consignee.as_ref(), a.consignee.as_ref())?,
            phone: field(a.encrypted_mobile.as_ref(), a.mobile.as_ref())?,
            province: a.province.clone(),
            city: a.city.clone(),
            district: a.district.clone(),
            detail: field(a.encrypted_address.as_ref(), a.address.as_ref())?,
        })
    }

    /// Ours, or what is wrong with it; encrypted receiver fields are read through `plain`.
    pub fn to_order(&self, plain: &dyn Fn(&str) -> Option<String>) -> Result<PlatformOrder, String> {
        let base = &self.order_base_info;
        let status = order_status(base.status).ok_or_else(|| format!("status {}", base.status))?;
        Ok(PlatformOrder {
            order_id: base.oid.to_string(),
            shop_id: base.seller_open_id.clone(),
            status,
            item_id: self.order_item_info.item_id.to_string(),
            sku_id: self.order_item_info.sku_id.to_string(),
            quantity: self.order_item_info.num,
            amount_fen: Fen(base.total_fee),
            created_at: Timestamp(base.create_time),
            paid_at: (base.pay_time > 0).then_some(Timestamp(base.pay_time)),
            updated_at: Timestamp(base.update_time),
            receiver: self.receiver(plain),
            shipment: self
                .order_logistics_info
                .iter()
                .find(|l| !l.express_no.is_empty() && !l.express_code.is_empty())
                .map(|l| crate::live::PlatformShipment {
                    company_code: l.express_code.clone(),
                    waybill_no: l.express_no.clone(),
                }),
        })
    }
}

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;
type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

const ZERO_IV: [u8; 16] = [0; 16];

fn message_key(message_key_b64: &str) -> Result<Vec<u8>, String> {
    let key = BASE64.decode(message_key_b64.trim()).map_err(|e| format!("message key is not base64: {e}"))?;
    match key.len() {
        16 | 32 => Ok(key),
        n => Err(format!("message key decodes to {n} bytes, not 16 or 32")),
    }
}

/// A push body: Base64(AES-CBC-PKCS#5(plaintext)) with the app's message key and a zero IV.
pub fn encrypt_push(message_key_b64: &str, plaintext: &[u8]) -> Result<String, String> {
    let key = message_key(message_key_b64)?;
    let sealed = match key.len() {
        16 => Aes128CbcEnc::new_from_slices(&key, &ZERO_IV)
            .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(plaintext)),
        _ => Aes256CbcEnc::new_from_slices(&key, &ZERO_IV)
            .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(plaintext)),
    }
    .map_err(|e| e.to_string())?;
    Ok(BASE64.encode(sealed))
}

/// The plaintext of a push body; a body that does not decrypt under the key (wrong key, not
/// Base64, bad padding) is [`PushRefused::Forged`]: without the key nobody makes one that does.
pub fn decrypt_push(message_key_b64: &str, body: &[u8]) -> Result<Vec<u8>, PushRefused> {
    let key = message_key(message_key_b64).map_err(PushRefused::Malformed)?;
    let text = std::str::from_utf8(body).map_err(|_| PushRefused::Forged)?;
    let sealed = BASE64.decode(text.trim()).map_err(|_| PushRefused::Forged)?;
    if sealed.is_empty() || sealed.len() % 16 != 0 {
        return Err(PushRefused::Forged);
    }
    let opened = match key.len() {
        16 => Aes128CbcDec::new_from_slices(&key, &ZERO_IV)
            .ok()
            .and_then(|c| c.decrypt_padded_vec_mut::<Pkcs7>(&sealed).ok()),
        _ => Aes256CbcDec::new_from_slices(&key, &ZERO_IV)
            .ok()
            .and_then(|c| c.decrypt_padded_vec_mut::<Pkcs7>(&sealed).ok()),
    };
    opened.ok_or(PushRefused::Forged)
}

/// A decrypted push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushMessage {
    pub event_id: String,
    #[serde(deserialize_with = "string_or_number")]
    pub biz_id: String,
    #[serde(default)]
    pub user_id: i64,
    pub open_id: String,
    pub app_key: String,
    pub event: String,
    /// A JSON object as a string.
    pub info: String,
    /// Unix ms.
    pub create_time: i64,
    #[serde(default)]
    pub test: bool,
}

fn kind_of(event: &str, status: Option<i64>) -> Option<PushKind> {
    Some(match (event, status) {
        (events::ADD_ORDER, _) => PushKind::OrderCreated,
        (events::PAY_SUCCESS, _) => PushKind::OrderPaid,
        (events::STATUS_CHANGE, Some(40)) => PushKind::OrderShipped,
        (events::STATUS_CHANGE, Some(50 | 70)) => PushKind::OrderCompleted,
        (events::STATUS_CHANGE, Some(80)) => PushKind::OrderCancelled,
        (events::ADD_REFUND, _) => PushKind::RefundRequested,
        (events::REFUND_SUCCESS, _) => PushKind::RefundAgreed,
        _ => return None,
    })
}

/// Decrypts and decodes a push: it must open under the message key, name our app, carry an
/// event id and a `createTime` within `max_age_ms` of `now`. `test: true` is a heartbeat;
/// events not about orders, and status changes we do not follow, carry no event.
pub fn open_push(
    app_key: &str,
    message_key_b64: &str,
    body: &[u8],
    now: Timestamp,
    max_age_ms: i64,
) -> Result<Push, PushRefused> {
    let plaintext = decrypt_push(message_key_b64, body)?;
    let message: PushMessage = serde_json::from_slice(&plaintext)
        .map_err(|e| PushRefused::Malformed(format!("not a push message: {e}")))?;
    if message.app_key != app_key {
        return Err(PushRefused::Forged);
    }
    if message.test {
        return Ok(Push::Heartbeat);
    }
    if message.event_id.is_empty() {
        return Err(PushRefused::Malformed("empty eventId".into()));
    }
    let occurred_at = Timestamp(message.create_time);
    check_fresh(occurred_at, now, max_age_ms)?;
    let info: serde_json::Map<String, Value> = serde_json::from_str(&message.info)
        .map_err(|e| PushRefused::Malformed(format!("info of {}: {e}", message.event_id)))?;
    let Some(kind) = kind_of(&message.event, info.get("status").and_then(Value::as_i64)) else {
        return Ok(Push::Events(Vec::new()));
    };
    let order_id = match info.get("oid") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => message.biz_id.clone(),
    };
    Ok(Push::Events(vec![PushEvent {
        message_id: message.event_id,
        kind,
        order_id,
        shop_id: message.open_id,
        occurred_at,
    }]))
}

#[cfg(test)]
mod tests;
