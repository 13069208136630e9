//! Alipay (open platform, RSA2), the wire protocol: signing request parameters, verifying
//! asynchronous notifications, and times as Alipay writes them.
//!
//! The signed content is every parameter except `sign` (and, for notifications, `sign_type`),
//! with empty values left out, sorted by key, joined as `k=v` with `&`, values as received
//! (URL-decoded, not re-encoded). The signature is SHA256withRSA, base64. Amounts travel as
//! yuan strings with up to two decimals (`"19.80"`), parsed into fen exactly by
//! [`crate::payments::yuan`] (clients may also send them as JSON numbers). A notification is
//! acknowledged with the plain body `success`.
//!
//! The gateway (`gateway.do`) takes its parameters from the query string and from a form
//! body alike: python-alipay-sdk GETs with everything in the query string, Alipay's Java SDK
//! POSTs the system parameters in the query string and `biz_content` in the body. Every answer
//! carries a `code` and its fixed English `msg` ([`gateway_msg`]), and for a failure a
//! `sub_code` and a Chinese `sub_msg`.

use std::collections::BTreeMap;

use chrono::TimeZone as _;
use engine::{Fen, Timestamp};
use rsa::{RsaPrivateKey, RsaPublicKey};
use thiserror::Error;

use crate::crypto::{rsa_sign, rsa_verify};
use crate::payments::beijing;
use crate::payments::yuan::parse_yuan;

pub const SIGN_TYPE: &str = "RSA2";
/// The body that tells Alipay a notification was handled; anything else makes it retry.
pub const ACK: &str = "success";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error("missing parameter {0}")]
    Missing(&'static str),
    #[error("sign_type must be RSA2")]
    SignType,
    #[error("signature does not verify")]
    BadSignature,
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// The content a signature covers.
pub fn sign_content(params: &BTreeMap<String, String>, include_sign_type: bool) -> String {
    params
        .iter()
        .filter(|(k, v)| {
            !v.is_empty() && k.as_str() != "sign" && (include_sign_type || k.as_str() != "sign_type")
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Signs request parameters (the adapter) or a notification (the sandbox); adds `sign`.
pub fn sign(key: &RsaPrivateKey, params: &mut BTreeMap<String, String>, include_sign_type: bool) {
    params.insert("sign_type".into(), SIGN_TYPE.into());
    let signature = rsa_sign(key, sign_content(params, include_sign_type).as_bytes());
    params.insert("sign".into(), signature);
}

/// Checks a signed parameter set (request parameters when `include_sign_type`, a
/// notification otherwise).
pub fn verify(
    key: &RsaPublicKey,
    params: &BTreeMap<String, String>,
    include_sign_type: bool,
) -> Result<(), VerifyError> {
    let signature = params.get("sign").ok_or(VerifyError::Missing("sign"))?;
    if params.get("sign_type").map(String::as_str) != Some(SIGN_TYPE) {
        return Err(VerifyError::SignType);
    }
    if rsa_verify(key, sign_content(params, include_sign_type).as_bytes(), signature) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// What a verified trade notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeNotification {
    pub notify_id: String,
    pub out_trade_no: String,
    pub trade_no: String,
    /// `TRADE_SUCCESS`, `TRADE_FINISHED`, `WAIT_BUYER_PAY`, `TRADE_CLOSED`.
    pub trade_status: String,
    pub total_amount: Fen,
    pub app_id: String,
    /// `yyyy-MM-dd HH:mm:ss`, Beijing time, as sent.
    pub notify_time: String,
}

impl TradeNotification {
    pub fn is_paid(&self) -> bool {
        matches!(self.trade_status.as_str(), "TRADE_SUCCESS" | "TRADE_FINISHED")
    }
}

/// Verifies a notification's signature and reads its trade.
pub fn open_notification(
    key: &RsaPublicKey,
    params: &BTreeMap<String, String>,
) -> Result<TradeNotification, VerifyError> {
    verify(key, params, false)?;
    let take = |name: &'static str| params.get(name).cloned().ok_or(VerifyError::Missing(name));
    Ok(TradeNotification {
        notify_id: take("notify_id")?,
        out_trade_no: take("out_trade_no")?,
        trade_no: take("trade_no")?,
        trade_status: take("trade_status")?,
        total_amount: parse_yuan(&take("total_amount")?).ok_or(VerifyError::Malformed("total_amount"))?,
        app_id: take("app_id")?,
        notify_time: take("notify_time")?,
    })
}

/// Every parameter of a gateway request: the query string's, then the form body's (a name in
/// both is the body's). `None` when either is not URL-encoded pairs.
pub fn gateway_params(query: &str, form_body: &str) -> Option<BTreeMap<String, String>> {
    let mut params: BTreeMap<String, String> = serde_urlencoded::from_str(query).ok()?;
    params.extend(serde_urlencoded::from_str::<BTreeMap<String, String>>(form_body).ok()?);
    Some(params)
}

/// The system parameters of a request, for the query string, and its `biz_content`, for the
/// form body: the split Alipay's Java SDK makes. Each part URL-encoded.
pub fn split_for_post(params: &BTreeMap<String, String>) -> (String, String) {
    let encode = |pairs: Vec<(&String, &String)>| {
        serde_urlencoded::to_string(pairs).expect("string pairs always URL-encode")
    };
    let (biz, system): (Vec<_>, Vec<_>) = params.iter().partition(|(k, _)| k.as_str() == "biz_content");
    (encode(system), encode(biz))
}

/// The gateway's `msg` for a `code`, as Alipay writes it on the wire.
pub fn gateway_msg(code: &str) -> &'static str {
    match code {
        "10000" => "Success",
        "20000" => "Service Currently Unavailable",
        "20001" => "Insufficient Token Permissions",
        "40001" => "Missing Required Arguments",
        "40002" => "Invalid Arguments",
        "40004" => "Business Failed",
        "40006" => "Insufficient Permissions",
        _ => "Unknown Error",
    }
}

/// `yyyy-MM-dd HH:mm:ss` in Beijing time, as Alipay writes times.
pub fn alipay_time(at: Timestamp) -> String {
    beijing()
        .timestamp_millis_opt(at.as_millis())
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_keys as keys;

    fn notification() -> BTreeMap<String, String> {
        [
            ("notify_time", "2026-11-25 16:30:00"),
            ("notify_type", "trade_status_sync"),
            ("notify_id", "ac05099524730693a8b330c5ecf72da9786"),
            ("app_id", "2021000000000001"),
            ("charset", "utf-8"),
            ("version", "1.0"),
            ("trade_no", "2026112522001400000000000001"),
            ("out_trade_no", "fs7354764816543744"),
            ("trade_status", "TRADE_SUCCESS"),
            ("total_amount", "19.80"),
            ("subject", "口红 秒杀"),
            ("buyer_logon_id", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn content_is_sorted_without_sign_and_empty_values() {
        let mut params = notification();
        params.insert("sign_type".into(), "RSA2".into());
        params.insert("sign".into(), "xyz".into());
        let content = sign_content(&params, false);
        assert!(content.starts_with("app_id=2021000000000001&charset=utf-8&notify_id="));
        assert!(!content.contains("sign") && !content.contains("buyer_logon_id"));
        assert!(sign_content(&params, true).contains("sign_type=RSA2"));
    }

    #[test]
    fn a_genuine_notification_opens_and_a_forged_or_altered_one_does_not() {
        let mut params = notification();
        sign(&keys().0, &mut params, false);
        let alipay = keys().0.to_public_key();
        let trade = open_notification(&alipay, &params).unwrap();
        assert!(trade.is_paid());
        assert_eq!(trade.total_amount, Fen(1_980));

        let mut forged = notification();
        sign(&keys().1, &mut forged, false);
        assert_eq!(open_notification(&alipay, &forged), Err(VerifyError::BadSignature));

        let mut altered = params.clone();
        altered.insert("total_amount".into(), "0.01".into());
        assert_eq!(open_notification(&alipay, &altered), Err(VerifyError::BadSignature));

        let mut rsa1 = params.clone();
        rsa1.insert("sign_type".into(), "RSA".into());
        assert_eq!(open_notification(&alipay, &rsa1), Err(VerifyError::SignType));
    }

    #[test]
    fn gateway_parameters_come_from_the_query_string_and_the_body() {
        let params =
            gateway_params("app_id=2021&method=alipay.trade.query&sign=a%2Bb", "biz_content=%7B%7D").unwrap();
        assert_eq!(params["sign"], "a+b");
        assert_eq!(params["biz_content"], "{}");
        assert_eq!(gateway_params("method=x", "method=y").unwrap()["method"], "y");
        let (query, body) = split_for_post(&params);
        assert_eq!(gateway_params(&query, &body).unwrap(), params);
        assert!(!query.contains("biz_content") && body.starts_with("biz_content="));
        assert_eq!(gateway_msg("40002"), "Invalid Arguments");
    }
}
