//! The wire of WeChat's server API as subscription messages use it, shared by the client, the
//! sandbox and the tests.
//!
//! - `GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…` answers
//!   `{"access_token","expires_in"}` (seconds, "目前是7200秒之内的值"), or `{"errcode","errmsg"}`.
//!   Fetching a new token retires the previous one after a short overlap (5 minutes, as the
//!   official access-token guide says).
//! - `POST /cgi-bin/message/subscribe/send?access_token=…` with `{touser, template_id, page,
//!   data: {key: {value}}, miniprogram_state, lang}` answers `{"errcode":0,"errmsg":"ok"}` or
//!   an error: 40003 bad openid, 40037 bad template, 43101 the user refused (or cancelled
//!   the subscription), 47003 a value breaks its key's rule (errmsg names it), 41030 bad page;
//!   40001 / 42001 / 40014 the token is invalid, expired or not the latest.
//!
//! Every answer comes with HTTP 200; errors are told by `errcode` alone. The value rules of
//! [`check_value`] are the published table (thing ≤ 20 characters, character_string ≤ 32,
//! phrase ≤ 5 Chinese characters, amount = a currency sign and ≤ 10 digits…); the exact
//! acceptance of `time`/`date` formats is not reproduced, only their length and characters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const TOKEN_PATH: &str = "/cgi-bin/token";
pub const SEND_PATH: &str = "/cgi-bin/message/subscribe/send";
/// How long a replaced token still works.
pub const TOKEN_OVERLAP_SECS: i64 = 300;

pub const OK: i64 = 0;
pub const SYSTEM_BUSY: i64 = -1;
pub const INVALID_CREDENTIAL: i64 = 40001;
pub const INVALID_GRANT_TYPE: i64 = 40002;
pub const INVALID_OPENID: i64 = 40003;
pub const INVALID_APPID: i64 = 40013;
pub const INVALID_ACCESS_TOKEN: i64 = 40014;
pub const INVALID_TEMPLATE_ID: i64 = 40037;
pub const INVALID_APPSECRET: i64 = 40125;
pub const ACCESS_TOKEN_MISSING: i64 = 41001;
pub const INVALID_PAGE: i64 = 41030;
pub const ACCESS_TOKEN_EXPIRED: i64 = 42001;
pub const USER_REFUSED: i64 = 43101;
pub const DAILY_QUOTA: i64 = 45009;
pub const ARGUMENT_INVALID: i64 = 47003;

/// `{"errcode","errmsg"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAnswer {
    pub errcode: i64,
    pub errmsg: String,
}

impl ErrorAnswer {
    pub fn new(errcode: i64, errmsg: impl Into<String>) -> Self {
        Self { errcode, errmsg: errmsg.into() }
    }
}

/// A token as `/cgi-bin/token` hands it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub expires_in: i64,
}

/// One keyword's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataValue {
    pub value: String,
}

/// The body of `subscribeMessage.send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeMessage {
    pub touser: String,
    pub template_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    pub data: BTreeMap<String, DataValue>,
    /// `developer`, `trial` or `formal` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miniprogram_state: Option<String>,
    /// `zh_CN` (the default), `en_US`, `zh_HK`, `zh_TW`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

pub const MINIPROGRAM_STATES: [&str; 3] = ["developer", "trial", "formal"];
pub const LANGS: [&str; 4] = ["zh_CN", "en_US", "zh_HK", "zh_TW"];

/// Reads a token answer: the token, or the error.
pub fn parse_token(body: &[u8]) -> Result<Result<TokenAnswer, ErrorAnswer>, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("not json: {e}"))?;
    if value.get("access_token").is_some() {
        serde_json::from_value(value).map(Ok).map_err(|e| format!("token answer: {e}"))
    } else {
        serde_json::from_value(value).map(Err).map_err(|e| format!("error answer: {e}"))
    }
}

/// Reads a send answer (`errcode` 0 is success).
pub fn parse_send(body: &[u8]) -> Result<ErrorAnswer, String> {
    serde_json::from_slice(body).map_err(|e| format!("send answer: {e}"))
}

/// The token is stale: fetch a new one and try once more.
pub fn token_is_stale(errcode: i64) -> bool {
    matches!(errcode, INVALID_CREDENTIAL | INVALID_ACCESS_TOKEN | ACCESS_TOKEN_EXPIRED)
}

/// The message can never be sent as it is: retrying would only repeat the refusal.
pub fn is_permanent(errcode: i64) -> bool {
    matches!(errcode, INVALID_OPENID | INVALID_TEMPLATE_ID | USER_REFUSED | ARGUMENT_INVALID | INVALID_PAGE)
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

fn is_symbol(c: char) -> bool {
    c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_whitespace() && !c.is_control() && !is_han(c))
}

/// The keyword's type: its name without the trailing digits (`thing3` → `thing`).
pub fn key_type(key: &str) -> &str {
    key.trim_end_matches(|c: char| c.is_ascii_digit())
}

/// Whether `value` obeys the rule of the key's type; the reason if not.
pub fn check_value(key: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("data.{key}.value is empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("data.{key}.value has a control character"));
    }
    let chars = value.chars().count();
    let ok = match key_type(key) {
        "thing" => chars <= 20,
        "number" => {
            let digits = value.strip_prefix('-').unwrap_or(value);
            chars <= 32
                && digits.split('.').count() <= 2
                && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        }
        "letter" => chars <= 32 && value.chars().all(|c| c.is_ascii_alphabetic()),
        "symbol" => chars <= 5 && value.chars().all(is_symbol),
        "character_string" => chars <= 32 && value.chars().all(|c| c.is_ascii_graphic()),
        "phrase" => chars <= 5 && value.chars().all(is_han),
        "amount" => {
            let rest = value.strip_suffix('元').unwrap_or(value);
            let rest = rest.trim_start_matches(|c: char| !c.is_ascii_digit());
            let digits = rest.chars().filter(char::is_ascii_digit).count();
            !rest.is_empty()
                && digits <= 10
                && rest.split('.').count() <= 2
                && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
                && value.chars().take_while(|c| !c.is_ascii_digit()).count() <= 1
        }
        "phone_number" => chars <= 17 && value.chars().all(|c| c.is_ascii_digit() || is_symbol(c)),
        "car_number" => chars <= 8,
        "name" => {
            if value.chars().any(is_han) {
                chars <= 10
            } else {
                chars <= 20
            }
        }
        "time" | "date" => chars <= 40,
        _ => chars <= 20,
    };
    if ok { Ok(()) } else { Err(format!("argument invalid! data.{key}.value invalid")) }
}

/// `value` made to fit its key where cutting keeps the meaning (`thing`, `character_string`,
/// `name`); other types are left to [`check_value`].
pub fn fit_value(key: &str, value: &str) -> String {
    let max = match key_type(key) {
        "thing" => 20,
        "character_string" => 32,
        "name" => 10,
        _ => return value.to_owned(),
    };
    if value.chars().count() <= max {
        value.to_owned()
    } else {
        let mut cut: String = value.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_documented_shape() {
        let message = SubscribeMessage {
            touser: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into(),
            template_id: "tpl-paid".into(),
            page: Some("pages/order/detail?id=42".into()),
            data: BTreeMap::from([("thing1".to_owned(), DataValue { value: "订单已付款".into() })]),
            miniprogram_state: Some("formal".into()),
            lang: Some("zh_CN".into()),
        };
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "touser": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                "template_id": "tpl-paid",
                "page": "pages/order/detail?id=42",
                "data": {"thing1": {"value": "订单已付款"}},
                "miniprogram_state": "formal",
                "lang": "zh_CN"
            })
        );
    }

    #[test]
    fn both_token_answers_are_read() {
        let token = parse_token(br#"{"access_token":"ACCESS_TOKEN","expires_in":7200}"#).unwrap();
        assert_eq!(token, Ok(TokenAnswer { access_token: "ACCESS_TOKEN".into(), expires_in: 7200 }));
        let error = parse_token(br#"{"errcode":40013,"errmsg":"invalid appid"}"#).unwrap();
        assert_eq!(error, Err(ErrorAnswer::new(INVALID_APPID, "invalid appid")));
        assert!(parse_token(b"<html>").is_err());
    }

    #[test]
    fn values_follow_their_key_types() {
        let cases = [
            ("thing1", "一二三四五六七八九十一二三四五六七八九十", true),
            ("thing1", "一二三四五六七八九十一二三四五六七八九十一", false),
            ("character_string2", "202611250001", true),
            ("character_string2", "订单202611250001", false),
            ("character_string2", &"9".repeat(33), false),
            ("amount3", "¥19.90", true),
            ("amount3", "19.90元", true),
            ("amount3", "¥12345678901", false),
            ("amount3", "十元", false),
            ("phrase4", "已发货", true),
            ("phrase4", "shipped", false),
            ("phrase4", "已经发货了哦", false),
            ("number5", "3.5", true),
            ("number5", "3.5.1", false),
            ("thing6", "", false),
            ("thing6", "a\nb", false),
            ("time7", "2026年11月25日 15:01", true),
            ("name8", "张三", true),
            ("name8", "张三李四王五赵六钱七孙", false),
        ];
        for (key, value, ok) in cases {
            assert_eq!(check_value(key, value).is_ok(), ok, "{key} {value:?}");
        }
        assert_eq!(fit_value("thing1", &"货".repeat(25)).chars().count(), 20);
        assert!(check_value("thing1", &fit_value("thing1", &"货".repeat(25))).is_ok());
        assert_eq!(fit_value("amount2", "¥1.00"), "¥1.00");
    }

    #[test]
    fn errcodes_sort_into_stale_tokens_and_permanent_refusals() {
        for code in [INVALID_CREDENTIAL, ACCESS_TOKEN_EXPIRED, INVALID_ACCESS_TOKEN] {
            assert!(token_is_stale(code) && !is_permanent(code));
        }
        for code in [USER_REFUSED, INVALID_OPENID, INVALID_TEMPLATE_ID, ARGUMENT_INVALID, INVALID_PAGE] {
            assert!(is_permanent(code) && !token_is_stale(code));
        }
        for code in [SYSTEM_BUSY, DAILY_QUOTA] {
            assert!(!is_permanent(code) && !token_is_stale(code));
        }
    }
}
