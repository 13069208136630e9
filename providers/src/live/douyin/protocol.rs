//! The Douyin shop open platform (抖店, op.jinritemai.com) on the wire: request signing, the
//! answer envelope, the token methods' data and the message push (`event-sign`).
//!
//! Confirmed against the `doudian` Python SDK 0.6 (PyPI, `core.py`) and the PHP SDK
//! `westng/doudian-sdk` (`SignUtil.php`, `DoudianOpClient.php`):
//! - `sign` = lowercase hex HMAC-SHA256, key = app_secret, over
//!   `app_secret + "app_key" + k + "method" + m + "param_json" + p + "timestamp" + t + "v" + "2" + app_secret`
//!   (`access_token` and `sign_method` are not signed); md5 over the same string is the older way;
//! - `param_json`: keys sorted recursively, compact; the PHP SDK writes unicode and slashes
//!   unescaped, the Python SDK escapes non-ASCII (`\uXXXX`): the signature covers whatever
//!   string is sent, so a verifier must check the received string, never a re-serialisation;
//! - the path is the method with `.` → `/`; the system parameters ride in the query string
//!   (`app_key, method, v=2, sign, timestamp, access_token, sign_method=hmac-sha256`) and
//!   `param_json` is the POST body (the Python SDK also puts it in the query for `token.*`);
//! - `timestamp`: the Python SDK sends `yyyy-MM-dd HH:mm:ss` (local time, meant to be
//!   Beijing), the PHP SDK unix seconds: both are accepted here;
//! - `token.create {code, grant_type: "authorization_code"}` and `token.refresh {refresh_token,
//!   grant_type: "refresh_token"}` answer `data {access_token, expires_in, refresh_token, scope,
//!   shop_id, shop_name}`; the authorize URL is `https://fuwu.jinritemai.com/authorize?service_id&state`;
//! - a push is verified by `app-id` = app_key and `event-sign` = hex md5(app_key + body + app_secret);
//! - the answer envelope `{code, msg, sub_code, sub_msg, data, log_id}`, `code` 10000 on success
//!   (the Go SDK `zsmhub/doudian-sdk`); the older `err_no` (0) and `message` are sent as well
//!   because the Python SDK reads those.
//!
//! Not confirmed (chosen, and kept in one place here): the error `code`/`sub_code` values for a
//! bad signature, a bad parameter and a dead token; the push body shape `[{tag, msg_id, data}]`,
//! the tag numbers (100 created, 101 paid, 102 shipped, 103 completed, 105/106 cancelled, 200
//! refund requested, 201 refund agreed) and the time fields of `data`; the allowed clock skew
//! (10 minutes here); the refresh token's 14 days restarting at each refresh.
//!
//! The receiver of an order comes encrypted: `encrypt_post_receiver`, `encrypt_post_tel` and
//! `post_addr.encrypt_detail` beside masked plain fields, decrypted by `order.batchDecrypt`
//! (`cipher_infos [{auth_id: order id, cipher_text}]`, at most 50 per call, answered with
//! `decrypt_infos [{auth_id, cipher_text, decrypt_text, err_no, err_msg, is_virtual_tel}]` and
//! `custom_err`), as the Go SDK `zsmhub/doudian-sdk` (`order_orderDetail`, `order_batchDecrypt`)
//! has them. An order without the encrypted fields is read from its plain ones. Not confirmed:
//! the ciphertext's format (opaque here) and the `err_no` of a refused cipher.
//!
//! A shipped order lists its packages in `logistics_info [{tracking_no, company, company_name,
//! delivery_id, ship_time}]` (the same SDK, detail and list alike); that `company` holds the
//! logistics company code (`zhongtong`) rather than a name is not confirmed.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use engine::Timestamp;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::live::{OrderStatus, Push, PushEvent, PushKind, PushRefused, check_fresh};

pub const GATEWAY: &str = "https://openapi-fxg.jinritemai.com";
pub const AUTHORIZE_URL: &str = "https://fuwu.jinritemai.com/authorize";
pub const VERSION: &str = "2";
pub const SIGN_METHOD: &str = "hmac-sha256";
pub const SIGN_METHOD_MD5: &str = "md5";
/// The body that acknowledges a push; anything else is retried.
pub const PUSH_ACK: &str = r#"{"code":0,"msg":"success"}"#;
/// `code` of a successful answer.
pub const CODE_OK: i64 = 10_000;
/// How far a request's timestamp may be from the platform's clock (not confirmed).
pub const MAX_SKEW_SECS: i64 = 600;
/// A refresh token lives 14 days.
pub const REFRESH_TOKEN_SECS: i64 = 14 * 86_400;
/// What the sandbox gives an access token: 7 days.
pub const ACCESS_TOKEN_SECS: i64 = 7 * 86_400;

/// Error codes (not confirmed: chosen in the platform's style, used by client and sandbox).
pub mod codes {
    pub const BAD_SIGNATURE: (i64, &str) = (40_004, "isv.signature-invalid");
    pub const BAD_PARAMETER: (i64, &str) = (40_001, "isv.parameter-invalid");
    pub const STALE: (i64, &str) = (40_005, "isv.timestamp-expired");
    pub const UNKNOWN_APP: (i64, &str) = (40_003, "isv.app-key-invalid");
    /// The access token is expired or unknown: refresh.
    pub const ACCESS_TOKEN: (i64, &str) = (30_001, "isv.access-token-expired");
    /// The grant is gone (revoked, refresh token dead or unknown, code used or expired).
    pub const GRANT_REVOKED: (i64, &str) = (30_002, "isv.authorization-revoked");
    pub const BUSINESS: (i64, &str) = (50_002, "isv.business-failed");
}

/// Push tags.
pub mod tags {
    pub const CREATED: i64 = 100;
    pub const PAID: i64 = 101;
    pub const SHIPPED: i64 = 102;
    pub const COMPLETED: i64 = 103;
    pub const CANCELLED: [i64; 2] = [105, 106];
    pub const REFUND_REQUESTED: i64 = 200;
    pub const REFUND_AGREED: i64 = 201;
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3_600).expect("+08:00 is a valid offset")
}

/// `yyyy-MM-dd HH:mm:ss` in Beijing time.
pub fn beijing_time(at: Timestamp) -> String {
    let utc = DateTime::from_timestamp_millis(at.as_millis()).unwrap_or_default();
    utc.with_timezone(&beijing()).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A request's `timestamp`: Beijing `yyyy-MM-dd HH:mm:ss` or unix seconds.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    if let Ok(secs) = text.parse::<i64>() {
        return Some(Timestamp(secs.checked_mul(1_000)?));
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()?;
    let local = beijing().from_local_datetime(&naive).single()?;
    Some(Timestamp(local.timestamp_millis()))
}

/// `method` → URL path: `order.searchList` → `/order/searchList`.
pub fn method_path(method: &str) -> String {
    format!("/{}", method.replace('.', "/"))
}

/// The business parameters as the signature wants them: compact JSON, object keys sorted at
/// every depth, unicode and slashes written as they are.
pub fn param_json(value: &Value) -> String {
    let mut out = String::new();
    write_sorted(value, &mut out);
    out
}

fn write_sorted(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).expect("a string serializes"));
                out.push(':');
                write_sorted(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn sign_pattern(app_key: &str, app_secret: &str, method: &str, param_json: &str, timestamp: &str) -> String {
    format!(
        "{app_secret}app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v{VERSION}{app_secret}"
    )
}

/// The `hmac-sha256` signature: lowercase hex.
pub fn sign(app_key: &str, app_secret: &str, method: &str, param_json: &str, timestamp: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC takes any key");
    mac.update(sign_pattern(app_key, app_secret, method, param_json, timestamp).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The older `md5` signature over the same string.
pub fn sign_md5(app_key: &str, app_secret: &str, method: &str, param_json: &str, timestamp: &str) -> String {
    hex::encode(Md5::digest(sign_pattern(app_key, app_secret, method, param_json, timestamp).as_bytes()))
}

/// The query string's system parameters of a signed call, in the order the SDKs send them.
pub fn signed_query(
    app_key: &str,
    app_secret: &str,
    method: &str,
    param_json: &str,
    timestamp: &str,
    access_token: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut query = vec![
        ("app_key", app_key.to_owned()),
        ("method", method.to_owned()),
        ("v", VERSION.to_owned()),
        ("sign", sign(app_key, app_secret, method, param_json, timestamp)),
        ("timestamp", timestamp.to_owned()),
    ];
    if let Some(token) = access_token {
        query.push(("access_token", token.to_owned()));
    }
    query.push(("sign_method", SIGN_METHOD.to_owned()));
    query
}

/// A refusal in the platform's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: i64,
    pub sub_code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: (i64, &str), message: impl Into<String>) -> Self {
        Self { code: code.0, sub_code: code.1.to_owned(), message: message.into() }
    }
}

/// What a verified call asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCall {
    pub method: String,
    pub access_token: Option<String>,
}

/// Checks a received call the platform's way: `app_key` ours, `v=2`, a known `sign_method`,
/// the timestamp within [`MAX_SKEW_SECS`] of `now`, and the signature over the received
/// `param_json` (compared in constant time).
pub fn verify_call(
    query: &dyn Fn(&str) -> Option<String>,
    param_json: &str,
    app_key: &str,
    app_secret: &str,
    now: Timestamp,
) -> Result<VerifiedCall, ApiError> {
    let get = |name: &str| query(name).filter(|v| !v.is_empty());
    let missing = |name: &str| ApiError::new(codes::BAD_PARAMETER, format!("missing parameter {name}"));
    let key = get("app_key").ok_or_else(|| missing("app_key"))?;
    if key != app_key {
        return Err(ApiError::new(codes::UNKNOWN_APP, "app_key does not exist"));
    }
    let method = get("method").ok_or_else(|| missing("method"))?;
    if get("v").as_deref() != Some(VERSION) {
        return Err(ApiError::new(codes::BAD_PARAMETER, "v must be 2"));
    }
    let timestamp = get("timestamp").ok_or_else(|| missing("timestamp"))?;
    let at = parse_timestamp(&timestamp)
        .ok_or_else(|| ApiError::new(codes::BAD_PARAMETER, "timestamp is not yyyy-MM-dd HH:mm:ss"))?;
    if (now.as_millis() - at.as_millis()).abs() > MAX_SKEW_SECS * 1_000 {
        return Err(ApiError::new(codes::STALE, "timestamp is too far from the server time"));
    }
    let claimed = get("sign").ok_or_else(|| missing("sign"))?;
    let expected = match get("sign_method").as_deref().unwrap_or(SIGN_METHOD_MD5) {
        SIGN_METHOD => sign(app_key, app_secret, &method, param_json, &timestamp),
        SIGN_METHOD_MD5 => sign_md5(app_key, app_secret, &method, param_json, &timestamp),
        other => return Err(ApiError::new(codes::BAD_PARAMETER, format!("unknown sign_method {other}"))),
    };
    if !bool::from(expected.as_bytes().ct_eq(claimed.to_ascii_lowercase().as_bytes())) {
        return Err(ApiError::new(codes::BAD_SIGNATURE, "sign does not verify"));
    }
    Ok(VerifiedCall { method, access_token: get("access_token") })
}

/// An answer: `data` on success, or an [`ApiError`].
pub fn answer_json(outcome: &Result<Value, ApiError>, log_id: &str) -> Value {
    match outcome {
        Ok(data) => serde_json::json!({
            "code": CODE_OK, "msg": "success", "sub_code": "", "sub_msg": "",
            "data": data, "log_id": log_id, "err_no": 0, "message": "success",
        }),
        Err(e) => serde_json::json!({
            "code": e.code, "msg": e.message, "sub_code": e.sub_code, "sub_msg": e.message,
            "data": {}, "log_id": log_id, "err_no": e.code, "message": e.message,
        }),
    }
}

/// The envelope as a client reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    pub code: i64,
    #[serde(default)]
    pub msg: String,
    #[serde(default)]
    pub sub_code: String,
    #[serde(default)]
    pub sub_msg: String,
    #[serde(default)]
    pub data: Value,
}

/// `token.create` / `token.refresh` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenData {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
    #[serde(default)]
    pub scope: String,
    #[serde(deserialize_with = "string_or_number")]
    pub shop_id: String,
    #[serde(default)]
    pub shop_name: String,
}

/// Ids arrive as JSON numbers or strings depending on the method: read both.
pub fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("expected an id, got {other}"))),
    }
}

/// An order's `order_status` → ours: 1 unpaid, 105 paid, 2 preparing (paid), 101 partly
/// shipped, 3 shipped, 4 cancelled, 5 completed.
pub fn order_status(code: i64) -> Option<OrderStatus> {
    Some(match code {
        1 => OrderStatus::Unpaid,
        2 | 105 => OrderStatus::Paid,
        3 | 101 => OrderStatus::Shipped,
        4 => OrderStatus::Cancelled,
        5 => OrderStatus::Completed,
        _ => return None,
    })
}

/// One order as `order.searchList` and `order.orderDetail` give it (the fields read here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderWire {
    pub order_id: String,
    #[serde(deserialize_with = "string_or_number")]
    pub shop_id: String,
    pub order_status: i64,
    /// Unix seconds.
    pub create_time: i64,
    #[serde(default)]
    pub pay_time: i64,
    pub update_time: i64,
    /// Fen.
    pub pay_amount: i64,
    pub sku_order_list: Vec<SkuOrderWire>,
    /// The receiver (`post_receiver`, `post_tel`, `post_addr`), when the order has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_receiver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_tel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_addr: Option<PostAddrWire>,
    /// The receiver's name and phone encrypted (then `post_receiver` and `post_tel` are masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypt_post_receiver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypt_post_tel: Option<String>,
    /// Its packages once shipped (one per package; ours ship in one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logistics_info: Vec<LogisticsWire>,
}

/// A package of `logistics_info`: the courier (`company`, read as the code of
/// `order.logisticsCompanyList`, e.g. `zhongtong`) and `tracking_no`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogisticsWire {
    #[serde(default)]
    pub tracking_no: String,
    #[serde(default)]
    pub company: String,
    #[serde(default)]
    pub company_name: String,
}

/// `post_addr`: `province`, `city`, `town` (the district), each `{name, id}`, and `detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostAddrWire {
    pub province: NamedWire,
    pub city: NamedWire,
    pub town: NamedWire,
    #[serde(default)]
    pub detail: String,
    /// The detail encrypted (then `detail` is masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypt_detail: Option<String>,
}

/// Ciphers decrypted per `order.batchDecrypt` call, at most.
pub const DECRYPT_BATCH: usize = 50;

/// One cipher to decrypt: the order it belongs to (`auth_id`) and the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CipherInfo {
    pub auth_id: String,
    pub cipher_text: String,
}

/// One answer of `order.batchDecrypt`: `err_no` 0 and the plain `decrypt_text`, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecryptInfo {
    pub auth_id: String,
    pub cipher_text: String,
    #[serde(default)]
    pub decrypt_text: String,
    #[serde(default)]
    pub err_no: i64,
    #[serde(default)]
    pub err_msg: String,
    /// A virtual number (`phone_no_a-phone_no_b`) instead of the buyer's own.
    #[serde(default)]
    pub is_virtual_tel: bool,
}

/// A field that is encrypted when its cipher is there and not empty.
fn sealed(cipher: Option<&String>) -> Option<&str> {
    cipher.map(String::as_str).filter(|c| !c.is_empty())
}

/// A region of `post_addr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedWire {
    pub name: String,
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: String,
}

/// A sub-order: one SKU of the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuOrderWire {
    pub order_id: String,
    #[serde(deserialize_with = "string_or_number")]
    pub product_id: String,
    #[serde(deserialize_with = "string_or_number")]
    pub sku_id: String,
    pub item_num: u32,
    pub pay_amount: i64,
}

impl OrderWire {
    /// The receiver's encrypted fields, to decrypt through `order.batchDecrypt`.
    pub fn ciphers(&self) -> Vec<&str> {
        let detail = self.post_addr.as_ref().and_then(|a| sealed(a.encrypt_detail.as_ref()));
        [sealed(self.encrypt_post_receiver.as_ref()), sealed(self.encrypt_post_tel.as_ref()), detail]
            .into_iter()
            .flatten()
            .collect()
    }

    /// The receiver, each encrypted field read through `plain` (what the platform decrypted);
    /// `None` when a field is missing or was not decrypted.
    fn receiver(&self, plain: &dyn Fn(&str) -> Option<String>) -> Option<crate::live::Receiver> {
        let field = |cipher: Option<&String>, shown: Option<&String>| match sealed(cipher) {
            Some(cipher) => plain(cipher),
            None => shown.cloned(),
        };
        let addr = self.post_addr.as_ref()?;
        Some(crate::live::Receiver {
            name: field(self.encrypt_post_receiver.as_ref(), self.post_receiver.as_ref())?,
            phone: field(self.encrypt_post_tel.as_ref(), self.post_tel.as_ref())?,
            province: addr.province.name.clone(),
            city: addr.city.name.clone(),
            district: addr.town.name.clone(),
            detail: field(addr.encrypt_detail.as_ref(), Some(&addr.detail))?,
        })
    }

    /// Ours, or what is wrong with it (one SKU per order: what our items sell); encrypted
    /// receiver fields are read through `plain`.
    pub fn to_order(
        &self,
        plain: &dyn Fn(&str) -> Option<String>,
    ) -> Result<crate::live::PlatformOrder, String> {
        let status =
            order_status(self.order_status).ok_or_else(|| format!("order_status {}", self.order_status))?;
        let [sku] = self.sku_order_list.as_slice() else {
            return Err(format!("order {} has {} sub-orders", self.order_id, self.sku_order_list.len()));
        };
        Ok(crate::live::PlatformOrder {
            order_id: self.order_id.clone(),
            shop_id: self.shop_id.clone(),
            status,
            item_id: sku.product_id.clone(),
            sku_id: sku.sku_id.clone(),
            quantity: sku.item_num,
            amount_fen: engine::Fen(self.pay_amount),
            created_at: Timestamp(self.create_time.saturating_mul(1_000)),
            paid_at: (self.pay_time > 0).then(|| Timestamp(self.pay_time.saturating_mul(1_000))),
            updated_at: Timestamp(self.update_time.saturating_mul(1_000)),
            receiver: self.receiver(plain),
            shipment: self
                .logistics_info
                .iter()
                .find(|l| !l.tracking_no.is_empty() && !l.company.is_empty())
                .map(|l| crate::live::PlatformShipment {
                    company_code: l.company.clone(),
                    waybill_no: l.tracking_no.clone(),
                }),
        })
    }
}

/// The `event-sign` of a push body: hex md5(app_key + body + app_secret).
pub fn push_sign(app_key: &str, body: &[u8], app_secret: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(app_key.as_bytes());
    md5.update(body);
    md5.update(app_secret.as_bytes());
    hex::encode(md5.finalize())
}

/// One message of a push body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushMessage {
    pub tag: String,
    pub msg_id: String,
    /// A JSON object as a string.
    pub data: String,
}

/// The fields of a message's `data` read here.
#[derive(Debug, Clone, Deserialize)]
struct PushData {
    #[serde(deserialize_with = "string_or_number")]
    p_id: String,
    #[serde(deserialize_with = "string_or_number")]
    shop_id: String,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

/// The event time of a message: the first of its time fields present (unix seconds).
const TIME_FIELDS: [&str; 6] =
    ["update_time", "pay_time", "create_time", "cancel_time", "complete_time", "apply_time"];

fn kind_of(tag: i64) -> Option<PushKind> {
    Some(match tag {
        tags::CREATED => PushKind::OrderCreated,
        tags::PAID => PushKind::OrderPaid,
        tags::SHIPPED => PushKind::OrderShipped,
        tags::COMPLETED => PushKind::OrderCompleted,
        t if tags::CANCELLED.contains(&t) => PushKind::OrderCancelled,
        tags::REFUND_REQUESTED => PushKind::RefundRequested,
        tags::REFUND_AGREED => PushKind::RefundAgreed,
        _ => return None,
    })
}

/// Verifies and decodes a push. The `app-id` header must be ours and `event-sign` must match
/// (constant time) before the body is even parsed; every known message must carry its order,
/// shop and a time within `max_age_ms` of `now`. Tag `0` (the console's verification ping) is
/// a heartbeat; unknown tags are skipped.
pub fn open_push(
    app_key: &str,
    app_secret: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    now: Timestamp,
    max_age_ms: i64,
) -> Result<Push, PushRefused> {
    if header("app-id").as_deref() != Some(app_key) {
        return Err(PushRefused::Forged);
    }
    let claimed = header("event-sign").ok_or(PushRefused::Forged)?;
    let expected = push_sign(app_key, body, app_secret);
    if !bool::from(expected.as_bytes().ct_eq(claimed.trim().to_ascii_lowercase().as_bytes())) {
        return Err(PushRefused::Forged);
    }
    let messages: Vec<PushMessage> = serde_json::from_slice(body)
        .map_err(|e| PushRefused::Malformed(format!("not a message array: {e}")))?;
    if messages.is_empty() {
        return Err(PushRefused::Malformed("no message".into()));
    }
    if messages.iter().all(|m| m.tag == "0") {
        return Ok(Push::Heartbeat);
    }
    let mut events = Vec::with_capacity(messages.len());
    for message in messages {
        let tag: i64 =
            message.tag.parse().map_err(|_| PushRefused::Malformed(format!("tag {:?}", message.tag)))?;
        let Some(kind) = kind_of(tag) else { continue };
        if message.msg_id.is_empty() {
            return Err(PushRefused::Malformed("empty msg_id".into()));
        }
        let data: PushData = serde_json::from_str(&message.data)
            .map_err(|e| PushRefused::Malformed(format!("data of {}: {e}", message.msg_id)))?;
        let secs = TIME_FIELDS
            .iter()
            .find_map(|f| data.rest.get(*f).and_then(Value::as_i64))
            .ok_or_else(|| PushRefused::Malformed(format!("no event time in {}", message.msg_id)))?;
        let occurred_at = Timestamp(secs.saturating_mul(1_000));
        check_fresh(occurred_at, now, max_age_ms)?;
        events.push(PushEvent {
            message_id: message.msg_id,
            kind,
            order_id: data.p_id,
            shop_id: data.shop_id,
            occurred_at,
        });
    }
    Ok(Push::Events(events))
}

#[cfg(test)]
mod tests;
