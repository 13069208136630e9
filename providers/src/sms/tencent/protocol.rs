//! Tencent Cloud SMS (version 2021-01-11): `SendSms` — the JSON shapes of the request and of
//! both answers (`{"Response":{"SendStatusSet":…}}` and `{"Response":{"Error":…}}`) — and
//! `PullSmsSendStatusByPhoneNumber`, the delivery receipts of one number (each carrying the
//! sender's `SessionContext`), signed with API 3.0's TC3-HMAC-SHA256
//! ([`crate::tencent_cloud::tc3`], re-exported here).
//!
//! Pure functions: the timestamp is passed in. Shared by the client, the bundled sandbox and the
//! tests, so that both sides of the wire run the same code and an independent signer (the
//! published worked example, the Python SDK) checks it.

use serde::{Deserialize, Serialize};

pub use crate::tencent_cloud::tc3::*;

/// The service name in the credential scope and in the endpoint `sms.tencentcloudapi.com`.
pub const SERVICE: &str = "sms";
pub const VERSION: &str = "2021-01-11";
pub const SEND_SMS: &str = "SendSms";
pub const PULL_STATUS_BY_PHONE: &str = "PullSmsSendStatusByPhoneNumber";
/// Most receipts one `PullSmsSendStatusByPhoneNumber` returns (its `Limit` caps at 100).
pub const PULL_LIMIT_MAX: u32 = 100;

/// `SendSms` request body. Phone numbers are E.164 (`+8613800000000`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendSmsRequest {
    pub phone_number_set: Vec<String>,
    pub sms_sdk_app_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sign_name: String,
    pub template_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub template_param_set: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_context: Option<String>,
}

/// The fate of one number in a `SendSms` answer; `code` is `Ok` when it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendStatus {
    pub serial_no: String,
    pub phone_number: String,
    pub fee: u32,
    pub session_context: String,
    pub code: String,
    pub message: String,
    pub iso_code: String,
}

impl SendStatus {
    pub const OK: &'static str = "Ok";
}

/// `PullSmsSendStatusByPhoneNumber` request body: receipts of `phone_number` (E.164) sent
/// from `begin_time` (Unix seconds, at most 7 days back) to `end_time`; `offset` is fixed at 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PullStatusByPhoneRequest {
    pub begin_time: i64,
    pub offset: u32,
    pub limit: u32,
    pub phone_number: String,
    pub sms_sdk_app_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
}

/// One delivery receipt: `report_status` `SUCCESS` or `FAIL`, and the `SessionContext` the
/// message was sent with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PullSendStatus {
    /// When the phone received it (Unix seconds); null until the carrier reported.
    pub user_receive_time: Option<i64>,
    pub country_code: String,
    pub subscriber_number: String,
    pub phone_number: String,
    pub serial_no: String,
    pub report_status: String,
    pub description: String,
    #[serde(default)]
    pub session_context: String,
}

/// The accepted answer of `PullSmsSendStatusByPhoneNumber`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PullStatusResponse {
    pub pull_sms_send_status_set: Vec<PullSendStatus>,
    pub request_id: String,
}

/// Reads a `PullSmsSendStatusByPhoneNumber` answer: the receipts, or the refusal.
pub fn parse_pull_answer(body: &[u8]) -> Result<Result<PullStatusResponse, ApiError>, String> {
    let envelope: Envelope<serde_json::Value> =
        serde_json::from_slice(body).map_err(|e| format!("not an API 3.0 answer: {e}"))?;
    if envelope.response.get("Error").is_some() {
        let refused: ErrorResponse =
            serde_json::from_value(envelope.response).map_err(|e| format!("malformed Error answer: {e}"))?;
        return Ok(Err(refused.error));
    }
    serde_json::from_value(envelope.response)
        .map(Ok)
        .map_err(|e| format!("malformed PullSmsSendStatusByPhoneNumber answer: {e}"))
}

/// The JSON body of a `PullSmsSendStatusByPhoneNumber` answer.
pub fn pull_answer_json(answer: &PullStatusResponse) -> serde_json::Value {
    serde_json::to_value(Envelope { response: answer }).expect("answers serialize")
}

/// The JSON body of a refusal of any action.
pub fn error_json(error: &ApiError, request_id: &str) -> serde_json::Value {
    serde_json::to_value(Envelope {
        response: ErrorResponse { error: error.clone(), request_id: request_id.to_owned() },
    })
    .expect("answers serialize")
}

/// The answer's `Response` when the request was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendSmsResponse {
    pub send_status_set: Vec<SendStatus>,
    pub request_id: String,
}

/// An API 3.0 answer: accepted (`SendStatusSet`) or refused (`Error`), both in `Response`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Sent(SendSmsResponse),
    Refused { error: ApiError, request_id: String },
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    #[serde(rename = "Response")]
    response: T,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorResponse {
    error: ApiError,
    request_id: String,
}

impl Answer {
    /// Reads an answer body; `Err` says what is wrong with it.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let envelope: Envelope<serde_json::Value> =
            serde_json::from_slice(body).map_err(|e| format!("not an API 3.0 answer: {e}"))?;
        if envelope.response.get("Error").is_some() {
            let refused: ErrorResponse = serde_json::from_value(envelope.response)
                .map_err(|e| format!("malformed Error answer: {e}"))?;
            return Ok(Self::Refused { error: refused.error, request_id: refused.request_id });
        }
        serde_json::from_value(envelope.response)
            .map(Self::Sent)
            .map_err(|e| format!("malformed SendSms answer: {e}"))
    }

    /// The JSON body of this answer.
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            Self::Sent(sent) => serde_json::to_value(Envelope { response: sent }),
            Self::Refused { error, request_id } => serde_json::to_value(Envelope {
                response: ErrorResponse { error: error.clone(), request_id: request_id.clone() },
            }),
        };
        value.expect("answers serialize")
    }
}

#[cfg(test)]
mod tests;
