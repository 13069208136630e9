//! WeChat Pay API v3, the wire protocol: request authorization, response and notification
//! signatures, and the AES-256-GCM encryption of notification resources.
//!
//! - Requests to WeChat carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",
//!   nonce_str="…",signature="…",timestamp="…",serial_no="…"`, the signature being
//!   SHA256withRSA (PKCS#1 v1.5) over `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n` with the
//!   merchant's key.
//! - Responses and notifications from WeChat carry `Wechatpay-Timestamp`, `Wechatpay-Nonce`,
//!   `Wechatpay-Serial` and `Wechatpay-Signature`: SHA256withRSA over
//!   `TIMESTAMP\nNONCE\nBODY\n` with the platform key named by the serial. A timestamp more
//!   than five minutes away from now is refused. They also carry `Wechatpay-Signature-Type`
//!   (the algorithm; the `wechatpayv3` SDK refuses an answer without it) and `Request-ID`
//!   (WeChat's Java validator refuses a 2xx without it); every 2xx is signed, a `204` with
//!   no body included.
//! - Times are RFC 3339 in whole seconds with the zone, `yyyy-MM-DDTHH:mm:ss+TIMEZONE`.
//! - A notification's `resource` is AES-256-GCM with the APIv3 key, the 12-character `nonce`
//!   and `associated_data` as AAD; `ciphertext` is base64 of ciphertext plus the 16-byte tag.
//!
//! Both directions are here: the client signs requests and verifies what comes back; the
//! bundled sandbox verifies requests and signs what it sends.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::TimeZone as _;
use engine::Timestamp;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::crypto::{rsa_sign, rsa_verify};
use crate::payments::beijing;

pub const SCHEMA: &str = "WECHATPAY2-SHA256-RSA2048";
/// The header naming the answer's request at WeChat Pay, which its support asks for.
pub const REQUEST_ID: &str = "Request-ID";
/// Largest accepted distance between a signed timestamp and now.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a signed message from the other side was refused. Any of these changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("no platform key has serial {0}")]
    UnknownSerial(String),
    #[error("timestamp {0} is more than five minutes away from now")]
    Stale(i64),
    #[error("signature does not verify")]
    BadSignature,
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("resource does not decrypt with the APIv3 key")]
    Decrypt,
}

/// RFC 3339 in Beijing time and whole seconds, as WeChat Pay documents its times
/// (`2018-06-08T10:34:56+08:00`); the milliseconds of `at` are dropped.
pub fn wechat_time(at: Timestamp) -> String {
    beijing()
        .timestamp_millis_opt(at.as_millis())
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
        .unwrap_or_default()
}

/// Whether `raw` is a time as WeChat Pay documents them: RFC 3339, whole seconds, a zone
/// offset (not `Z`).
pub fn is_wechat_time(raw: &str) -> bool {
    raw.len() == "2018-06-08T10:34:56+08:00".len()
        && matches!(raw.as_bytes()[19], b'+' | b'-')
        && chrono::DateTime::parse_from_rfc3339(raw).is_ok()
}

/// The string a request signature covers.
pub fn request_message(
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &str,
) -> String {
    format!("{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body}\n")
}

/// The `Authorization` header of a request to WeChat Pay.
pub struct RequestSigner<'a> {
    pub mchid: &'a str,
    pub serial_no: &'a str,
    pub key: &'a RsaPrivateKey,
}

impl RequestSigner<'_> {
    pub fn authorization(
        &self,
        method: &str,
        path_and_query: &str,
        timestamp: i64,
        nonce: &str,
        body: &str,
    ) -> String {
        let signature =
            rsa_sign(self.key, request_message(method, path_and_query, timestamp, nonce, body).as_bytes());
        format!(
            r#"{SCHEMA} mchid="{}",nonce_str="{nonce}",signature="{signature}",timestamp="{timestamp}",serial_no="{}""#,
            self.mchid, self.serial_no
        )
    }
}

/// The parts of an `Authorization` header, as the receiving side reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub mchid: String,
    pub nonce: String,
    pub signature: String,
    pub timestamp: i64,
    pub serial_no: String,
}

pub fn parse_authorization(header: &str) -> Result<Authorization, VerifyError> {
    let rest = header
        .strip_prefix(SCHEMA)
        .ok_or_else(|| VerifyError::Malformed("authorization schema".into()))?
        .trim();
    let mut fields: HashMap<&str, &str> = HashMap::new();
    for part in rest.split(',') {
        let (key, value) =
            part.split_once('=').ok_or_else(|| VerifyError::Malformed("authorization field".into()))?;
        fields.insert(key.trim(), value.trim().trim_matches('"'));
    }
    let field =
        |name: &'static str| fields.get(name).map(|v| (*v).to_owned()).ok_or(VerifyError::Missing(name));
    Ok(Authorization {
        mchid: field("mchid")?,
        nonce: field("nonce_str")?,
        signature: field("signature")?,
        timestamp: field("timestamp")?.parse().map_err(|_| VerifyError::Malformed("timestamp".into()))?,
        serial_no: field("serial_no")?,
    })
}

/// Checks a request's `Authorization` against the merchant's public key.
pub fn verify_request(
    key: &RsaPublicKey,
    auth: &Authorization,
    method: &str,
    path_and_query: &str,
    body: &str,
    now_secs: i64,
) -> Result<(), VerifyError> {
    if (now_secs - auth.timestamp).abs() > MAX_SKEW_SECS {
        return Err(VerifyError::Stale(auth.timestamp));
    }
    let message = request_message(method, path_and_query, auth.timestamp, &auth.nonce, body);
    if rsa_verify(key, message.as_bytes(), &auth.signature) { Ok(()) } else { Err(VerifyError::BadSignature) }
}

/// The `Wechatpay-*` headers of a response or notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub timestamp: String,
    pub nonce: String,
    pub serial: String,
    pub signature: String,
    /// `Wechatpay-Signature-Type`; [`SCHEMA`] when absent, the only algorithm we verify.
    pub signature_type: String,
}

impl SignedHeaders {
    pub const TIMESTAMP: &'static str = "Wechatpay-Timestamp";
    pub const NONCE: &'static str = "Wechatpay-Nonce";
    pub const SERIAL: &'static str = "Wechatpay-Serial";
    pub const SIGNATURE: &'static str = "Wechatpay-Signature";
    pub const SIGNATURE_TYPE: &'static str = "Wechatpay-Signature-Type";

    /// Reads the headers through a lookup function (so any HTTP library's map will do).
    pub fn from_lookup<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, VerifyError> {
        let take = |name: &'static str| get(name).map(str::to_owned).ok_or(VerifyError::Missing(name));
        Ok(Self {
            timestamp: take(Self::TIMESTAMP)?,
            nonce: take(Self::NONCE)?,
            serial: take(Self::SERIAL)?,
            signature: take(Self::SIGNATURE)?,
            signature_type: get(Self::SIGNATURE_TYPE).unwrap_or(SCHEMA).to_owned(),
        })
    }

    pub fn pairs(&self) -> [(&'static str, &str); 5] {
        [
            (Self::TIMESTAMP, &self.timestamp),
            (Self::NONCE, &self.nonce),
            (Self::SERIAL, &self.serial),
            (Self::SIGNATURE, &self.signature),
            (Self::SIGNATURE_TYPE, &self.signature_type),
        ]
    }
}

/// Signs a body as the platform does (used by the sandbox).
pub fn sign_body(
    key: &RsaPrivateKey,
    serial: &str,
    body: &str,
    timestamp: i64,
    nonce: &str,
) -> SignedHeaders {
    let signature = rsa_sign(key, format!("{timestamp}\n{nonce}\n{body}\n").as_bytes());
    SignedHeaders {
        timestamp: timestamp.to_string(),
        nonce: nonce.to_owned(),
        serial: serial.to_owned(),
        signature,
        signature_type: SCHEMA.to_owned(),
    }
}

/// The platform's public keys by certificate serial; more than one during key rotation.
#[derive(Debug, Clone, Default)]
pub struct PlatformKeys {
    by_serial: HashMap<String, RsaPublicKey>,
}

impl PlatformKeys {
    pub fn insert(&mut self, serial: impl Into<String>, key: RsaPublicKey) {
        self.by_serial.insert(serial.into(), key);
    }

    /// Checks the serial, the timestamp window and the signature of a body.
    pub fn verify(&self, headers: &SignedHeaders, body: &str, now_secs: i64) -> Result<(), VerifyError> {
        if headers.signature_type != SCHEMA {
            return Err(VerifyError::Malformed(format!(
                "Wechatpay-Signature-Type {} (only {SCHEMA} is verified)",
                headers.signature_type
            )));
        }
        let key = self
            .by_serial
            .get(&headers.serial)
            .ok_or_else(|| VerifyError::UnknownSerial(headers.serial.clone()))?;
        let timestamp: i64 = headers
            .timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::Malformed("Wechatpay-Timestamp".into()))?;
        if (now_secs - timestamp).abs() > MAX_SKEW_SECS {
            return Err(VerifyError::Stale(timestamp));
        }
        let message = format!("{}\n{}\n{body}\n", headers.timestamp, headers.nonce);
        if rsa_verify(key, message.as_bytes(), &headers.signature) {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }
}

/// A notification as WeChat Pay posts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub create_time: String,
    pub resource_type: String,
    pub event_type: String,
    #[serde(default)]
    pub summary: String,
    pub resource: EncryptedResource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedResource {
    pub original_type: String,
    pub algorithm: String,
    pub ciphertext: String,
    #[serde(default)]
    pub associated_data: String,
    pub nonce: String,
}

/// The decrypted `transaction` resource (and the body of an order query).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub mchid: String,
    pub appid: String,
    pub out_trade_no: String,
    // What the channel has not decided yet is left out, not sent empty (an unpaid trade has
    // no transaction_id and no success_time).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub transaction_id: String,
    /// `NATIVE`, `JSAPI`, `MWEB` (H5), `APP`, …: how the trade was created.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trade_type: String,
    /// `SUCCESS`, `NOTPAY`, `CLOSED`, `REFUND`, …
    pub trade_state: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trade_state_desc: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub success_time: String,
    pub amount: TransactionAmount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionAmount {
    /// Fen.
    pub total: i64,
    /// What the payer paid; absent until paid.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub payer_total: i64,
    #[serde(default = "cny")]
    pub currency: String,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn cny() -> String {
    "CNY".into()
}

pub const ALGORITHM: &str = "AEAD_AES_256_GCM";

/// Encrypts a resource as the platform does (used by the sandbox). `nonce` is 12 characters.
pub fn encrypt_resource(
    api_v3_key: &[u8; 32],
    original_type: &str,
    plaintext: &[u8],
    associated_data: &str,
    nonce: &str,
) -> EncryptedResource {
    let nonce_bytes: [u8; 12] = nonce.as_bytes().try_into().expect("the GCM nonce is 12 bytes");
    let cipher = Aes256Gcm::new(api_v3_key.into());
    let sealed = cipher
        .encrypt(&Nonce::from(nonce_bytes), Payload { msg: plaintext, aad: associated_data.as_bytes() })
        .expect("AES-GCM encryption of a bounded message does not fail");
    EncryptedResource {
        original_type: original_type.to_owned(),
        algorithm: ALGORITHM.to_owned(),
        ciphertext: BASE64.encode(sealed),
        associated_data: associated_data.to_owned(),
        nonce: nonce.to_owned(),
    }
}

pub fn decrypt_resource(api_v3_key: &[u8; 32], resource: &EncryptedResource) -> Result<Vec<u8>, VerifyError> {
    if resource.algorithm != ALGORITHM {
        return Err(VerifyError::Malformed(format!("algorithm {}", resource.algorithm)));
    }
    let nonce: [u8; 12] =
        resource.nonce.as_bytes().try_into().map_err(|_| VerifyError::Malformed("nonce".into()))?;
    let sealed =
        BASE64.decode(resource.ciphertext.trim()).map_err(|_| VerifyError::Malformed("ciphertext".into()))?;
    Aes256Gcm::new(api_v3_key.into())
        .decrypt(&Nonce::from(nonce), Payload { msg: &sealed, aad: resource.associated_data.as_bytes() })
        .map_err(|_| VerifyError::Decrypt)
}

/// Verifies a notification's signature and time, then decrypts its transaction.
pub fn open_notification(
    keys: &PlatformKeys,
    api_v3_key: &[u8; 32],
    headers: &SignedHeaders,
    body: &str,
    now_secs: i64,
) -> Result<(Notification, Transaction), VerifyError> {
    keys.verify(headers, body, now_secs)?;
    let notification: Notification =
        serde_json::from_str(body).map_err(|e| VerifyError::Malformed(format!("notification: {e}")))?;
    let plaintext = decrypt_resource(api_v3_key, &notification.resource)?;
    let transaction: Transaction = serde_json::from_slice(&plaintext)
        .map_err(|e| VerifyError::Malformed(format!("transaction: {e}")))?;
    Ok((notification, transaction))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_keys as keys;

    const API_V3_KEY: &[u8; 32] = b"0123456789abcdef0123456789ABCDEF";
    const NOW: i64 = 1_795_000_000;

    fn transaction() -> Transaction {
        Transaction {
            mchid: "1900000109".into(),
            appid: "wxd678efh567hg6787".into(),
            out_trade_no: "fs7354764816543744".into(),
            transaction_id: "4200001234202611250000000001".into(),
            trade_type: "JSAPI".into(),
            trade_state: "SUCCESS".into(),
            trade_state_desc: "支付成功".into(),
            success_time: "2026-11-25T16:30:00+08:00".into(),
            amount: TransactionAmount { total: 1_980, payer_total: 1_980, currency: "CNY".into() },
        }
    }

    fn notification_body() -> String {
        let plaintext = serde_json::to_vec(&transaction()).unwrap();
        let notification = Notification {
            id: "EV-2026112500001".into(),
            create_time: "2026-11-25T16:30:01+08:00".into(),
            resource_type: "encrypt-resource".into(),
            event_type: "TRANSACTION.SUCCESS".into(),
            summary: "支付成功".into(),
            resource: encrypt_resource(API_V3_KEY, "transaction", &plaintext, "transaction", "fGcGvXdxmTs7"),
        };
        serde_json::to_string(&notification).unwrap()
    }

    fn platform() -> PlatformKeys {
        let mut platform = PlatformKeys::default();
        platform.insert("5157F09EFDC096DE15EBE81A47057A7232F1B8E1", keys().0.to_public_key());
        platform
    }

    #[test]
    fn a_genuine_notification_opens() {
        let body = notification_body();
        let headers = sign_body(&keys().0, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", &body, NOW, "n0nce");
        let (notification, opened) =
            open_notification(&platform(), API_V3_KEY, &headers, &body, NOW + 299).unwrap();
        assert_eq!(notification.event_type, "TRANSACTION.SUCCESS");
        assert_eq!(opened, transaction());
    }

    #[test]
    fn forged_stale_tampered_or_unknown_notifications_are_refused() {
        let serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
        let body = notification_body();
        let genuine = sign_body(&keys().0, serial, &body, NOW, "n0nce");
        let open = |headers: &SignedHeaders, body: &str, now| {
            open_notification(&platform(), API_V3_KEY, headers, body, now)
        };

        let forged = sign_body(&keys().1, serial, &body, NOW, "n0nce");
        assert_eq!(open(&forged, &body, NOW).unwrap_err(), VerifyError::BadSignature);
        assert_eq!(open(&genuine, &body, NOW + 301).unwrap_err(), VerifyError::Stale(NOW));
        assert_eq!(open(&genuine, &body, NOW - 301).unwrap_err(), VerifyError::Stale(NOW));
        let tampered = body.replacen("TRANSACTION.SUCCESS", "TRANSACTION.SUCCESX", 1);
        assert_eq!(open(&genuine, &tampered, NOW).unwrap_err(), VerifyError::BadSignature);
        let unknown = SignedHeaders { serial: "OTHER".into(), ..genuine.clone() };
        assert_eq!(open(&unknown, &body, NOW).unwrap_err(), VerifyError::UnknownSerial("OTHER".into()));
        // correctly signed, but the resource was not encrypted with our APIv3 key
        let mut wrong_key = serde_json::from_str::<Notification>(&body).unwrap();
        wrong_key.resource = encrypt_resource(
            b"ffffffffffffffffffffffffffffffff",
            "transaction",
            b"{}",
            "transaction",
            "fGcGvXdxmTs7",
        );
        let wrong_key = serde_json::to_string(&wrong_key).unwrap();
        let signed = sign_body(&keys().0, serial, &wrong_key, NOW, "n0nce");
        assert_eq!(open(&signed, &wrong_key, NOW).unwrap_err(), VerifyError::Decrypt);
    }

    #[test]
    fn request_authorization_round_trips() {
        let signer = RequestSigner { mchid: "1900000109", serial_no: "MERCHANT-SERIAL", key: &keys().1 };
        let body = r#"{"out_trade_no":"fs1","amount":{"total":100}}"#;
        let header = signer.authorization("POST", "/v3/pay/transactions/jsapi", NOW, "abc", body);
        assert!(header.starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\""));
        let auth = parse_authorization(&header).unwrap();
        let merchant_key = keys().1.to_public_key();
        assert_eq!(
            verify_request(&merchant_key, &auth, "POST", "/v3/pay/transactions/jsapi", body, NOW),
            Ok(())
        );
        assert_eq!(
            verify_request(&merchant_key, &auth, "POST", "/v3/pay/transactions/native", body, NOW),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_request(&merchant_key, &auth, "POST", "/v3/pay/transactions/jsapi", body, NOW + 400),
            Err(VerifyError::Stale(NOW))
        );
    }

    #[test]
    fn times_are_whole_seconds_in_beijing_time() {
        // 2026-11-26T04:24:40.289+08:00: the milliseconds are dropped, never rounded up.
        let at = Timestamp(1_795_638_280_289);
        assert_eq!(wechat_time(at), "2026-11-26T04:24:40+08:00");
        assert!(is_wechat_time(&wechat_time(at)));
        for bad in ["2026-11-26T04:24:40.289+08:00", "2026-11-25T20:24:40Z", "2026-11-26 04:24:40", ""] {
            assert!(!is_wechat_time(bad), "{bad:?}");
        }
    }

    #[test]
    fn an_unknown_signature_type_is_refused_and_an_absent_one_is_the_rsa_schema() {
        let serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
        let body = notification_body();
        let signed = sign_body(&keys().0, serial, &body, NOW, "n0nce");
        assert_eq!(signed.pairs()[4], ("Wechatpay-Signature-Type", SCHEMA));
        let sm2 = SignedHeaders { signature_type: "WECHATPAY2-SM2-WITH-SM3".into(), ..signed.clone() };
        assert!(matches!(platform().verify(&sm2, &body, NOW), Err(VerifyError::Malformed(_))));
        let pairs = signed.pairs();
        let without_type = SignedHeaders::from_lookup(|name| {
            pairs.iter().take(4).find(|(k, _)| *k == name).map(|(_, v)| *v)
        })
        .unwrap();
        assert_eq!(platform().verify(&without_type, &body, NOW), Ok(()));
    }
}
