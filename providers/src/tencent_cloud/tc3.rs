//! Tencent Cloud API 3.0's request signature, TC3-HMAC-SHA256, as every Tencent product we
//! speak uses it (SMS, FaceID, OCR): the canonical request, the string to sign, the derived key,
//! the `Authorization` header, and its verification with the ±5 minute window and API 3.0's
//! error codes, for the bundled sandboxes.
//!
//! Pure functions: the timestamp is passed in. Tested against Tencent's published worked
//! example (in `sms/tencent/protocol/tests.rs`, where it was first needed).

use chrono::DateTime;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";
/// API 3.0 refuses a request whose `X-TC-Timestamp` is further than this from its clock.
pub const MAX_SKEW_SECS: i64 = 300;
/// Every signature must cover at least these two headers.
pub const REQUIRED_SIGNED_HEADERS: [&str; 2] = ["content-type", "host"];

/// The UTC calendar date of a unix timestamp, `yyyy-mm-dd`: the credential scope's date. It
/// is UTC on purpose (a Beijing-time date breaks every request between 00:00 and 08:00).
pub fn utc_date(timestamp_secs: i64) -> String {
    DateTime::from_timestamp(timestamp_secs, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "1970-01-01".to_owned())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn hmac(key: &[u8], message: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac
}

/// The headers a signature covers: names lowercased, values trimmed and lowercased, sorted by
/// name, as `CanonicalHeaders` and `SignedHeaders` want them.
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut lowered: Vec<(String, String)> =
        headers.iter().map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_lowercase())).collect();
    lowered.sort();
    let canonical = lowered.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed = lowered.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");
    (canonical, signed)
}

/// `CanonicalRequest`: method, URI (always `/` in API 3.0), query (empty for POST), the
/// canonical headers, the signed header names and the payload's SHA-256.
pub fn canonical_request(method: &str, query: &str, headers: &[(&str, &str)], payload: &[u8]) -> String {
    let (canonical, signed) = canonical_headers(headers);
    format!("{method}\n/\n{query}\n{canonical}\n{signed}\n{}", sha256_hex(payload))
}

pub fn credential_scope(date: &str, service: &str) -> String {
    format!("{date}/{service}/tc3_request")
}

/// `StringToSign`: algorithm, timestamp, credential scope, hash of the canonical request.
pub fn string_to_sign(timestamp_secs: i64, service: &str, canonical_request: &str) -> String {
    let scope = credential_scope(&utc_date(timestamp_secs), service);
    format!("{ALGORITHM}\n{timestamp_secs}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// The derived key: HMAC chain over `"TC3" + SecretKey`, the date, the service and
/// `tc3_request`. It changes daily, so a leaked derived key is worth one day of one service.
fn signing_key(secret_key: &str, date: &str, service: &str) -> [u8; 32] {
    let date_key = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes()).finalize().into_bytes();
    let service_key = hmac(&date_key, service.as_bytes()).finalize().into_bytes();
    hmac(&service_key, b"tc3_request").finalize().into_bytes().into()
}

/// The hex signature of `string_to_sign` with the key derived for `date` and `service`.
pub fn signature(secret_key: &str, date: &str, service: &str, string_to_sign: &str) -> String {
    let key = signing_key(secret_key, date, service);
    hex::encode(hmac(&key, string_to_sign.as_bytes()).finalize().into_bytes())
}

/// What a request is signed over: a POST to `/` with these headers and this body.
#[derive(Debug, Clone, Copy)]
pub struct Signable<'a> {
    pub method: &'a str,
    pub query: &'a str,
    /// The signed headers, e.g. `[("content-type", …), ("host", …)]`.
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a [u8],
    pub timestamp_secs: i64,
    pub service: &'a str,
}

/// The `Authorization` header value for `request` signed with this key pair.
pub fn authorization(secret_id: &str, secret_key: &str, request: &Signable<'_>) -> String {
    let canonical = canonical_request(request.method, request.query, request.headers, request.payload);
    let to_sign = string_to_sign(request.timestamp_secs, request.service, &canonical);
    let date = utc_date(request.timestamp_secs);
    let signature = signature(secret_key, &date, request.service, &to_sign);
    let (_, signed) = canonical_headers(request.headers);
    let scope = credential_scope(&date, request.service);
    format!("{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed}, Signature={signature}")
}

/// A parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub secret_id: String,
    pub date: String,
    pub service: String,
    /// Lowercase header names, in the order given.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    /// Parses `TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=a;b,
    /// Signature=HEX`; `None` if it is not of that shape.
    pub fn parse(header: &str) -> Option<Self> {
        let rest = header.trim().strip_prefix(ALGORITHM)?.trim_start();
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (name, value) = part.trim().split_once('=')?;
            match name {
                "Credential" => credential = Some(value),
                "SignedHeaders" => signed = Some(value),
                "Signature" => signature = Some(value),
                _ => return None,
            }
        }
        let mut scope = credential?.split('/');
        let (secret_id, date, service, terminator) =
            (scope.next()?, scope.next()?, scope.next()?, scope.next()?);
        if terminator != "tc3_request" || scope.next().is_some() || secret_id.is_empty() {
            return None;
        }
        let signed_headers: Vec<String> = signed?.split(';').map(str::to_owned).collect();
        let signature = signature?;
        let hex_ok = signature.len() == 64 && signature.bytes().all(|b| b.is_ascii_hexdigit());
        hex_ok.then(|| Self {
            secret_id: secret_id.to_owned(),
            date: date.to_owned(),
            service: service.to_owned(),
            signed_headers,
            signature: signature.to_ascii_lowercase(),
        })
    }
}

/// API 3.0's `{"Code","Message"}`: a refusal of the whole request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_owned(), message: message.into() }
    }
}

/// A received request as the verifier needs it. `header` looks a header up by its lowercase
/// name and returns its value as received.
pub struct Received<'a> {
    pub method: &'a str,
    pub query: &'a str,
    pub header: &'a dyn Fn(&str) -> Option<String>,
    pub payload: &'a [u8],
}

/// Checks a request's TC3 signature the way API 3.0 does, with its error codes: the header is
/// well formed, the timestamp within ±5 minutes of `now_secs`, the key known (`secret_key_of`),
/// the scope's date that of the timestamp and its service `service`, `content-type` and `host`
/// signed, and the signature recomputed over the received headers and body matches
/// (compared in constant time). Returns the caller's SecretId.
pub fn verify(
    received: &Received<'_>,
    service: &str,
    now_secs: i64,
    secret_key_of: impl Fn(&str) -> Option<String>,
) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::new("AuthFailure.InvalidAuthorization", "Authorization in the request header is invalid")
    };
    let auth =
        (received.header)("authorization").and_then(|h| Authorization::parse(&h)).ok_or_else(invalid)?;
    let timestamp: i64 =
        (received.header)("x-tc-timestamp").and_then(|t| t.trim().parse().ok()).ok_or_else(|| {
            ApiError::new("MissingParameter", "the request is missing the X-TC-Timestamp header")
        })?;
    if (now_secs - timestamp).abs() > MAX_SKEW_SECS {
        return Err(ApiError::new(
            "AuthFailure.SignatureExpire",
            format!(
                "signature expired: timestamp {timestamp} is more than five minutes from server time {now_secs}"
            ),
        ));
    }
    let secret_key = secret_key_of(&auth.secret_id)
        .ok_or_else(|| ApiError::new("AuthFailure.SecretIdNotFound", "the SecretId is not found"))?;
    let covers_required = REQUIRED_SIGNED_HEADERS.iter().all(|h| auth.signed_headers.iter().any(|s| s == h));
    if auth.service != service || auth.date != utc_date(timestamp) || !covers_required {
        return Err(invalid());
    }
    let values: Vec<(String, String)> = auth
        .signed_headers
        .iter()
        .map(|name| (name.clone(), (received.header)(name).unwrap_or_default()))
        .collect();
    let headers: Vec<(&str, &str)> = values.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let canonical = canonical_request(received.method, received.query, &headers, received.payload);
    let to_sign = string_to_sign(timestamp, service, &canonical);
    let key = signing_key(&secret_key, &auth.date, service);
    let claimed = hex::decode(&auth.signature).map_err(|_| invalid())?;
    hmac(&key, to_sign.as_bytes()).verify_slice(&claimed).map_err(|_| {
        ApiError::new(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        )
    })?;
    Ok(auth.secret_id)
}
