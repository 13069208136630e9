//! What every Tencent Cloud API 3.0 product shares: the TC3-HMAC-SHA256 signature ([`tc3`])
//! and the answer envelope, `{"Response":{…,"RequestId"}}` or `{"Response":{"Error":{"Code",
//! "Message"},"RequestId"}}`, read by [`parse_answer`].

pub mod tc3;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use tc3::ApiError;

/// An API 3.0 answer: the action's `Response`, or its refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiAnswer<T> {
    Ok(T),
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

/// Reads an answer body; `Err` says what is wrong with it.
pub fn parse_answer<T: DeserializeOwned>(body: &[u8]) -> Result<ApiAnswer<T>, String> {
    let envelope: Envelope<serde_json::Value> =
        serde_json::from_slice(body).map_err(|e| format!("not an API 3.0 answer: {e}"))?;
    if envelope.response.get("Error").is_some() {
        let refused: ErrorResponse =
            serde_json::from_value(envelope.response).map_err(|e| format!("malformed Error answer: {e}"))?;
        return Ok(ApiAnswer::Refused { error: refused.error, request_id: refused.request_id });
    }
    serde_json::from_value(envelope.response).map(ApiAnswer::Ok).map_err(|e| format!("malformed answer: {e}"))
}

/// The body of an answer: `{"Response": response}`.
pub fn answer_json<T: Serialize>(response: &T) -> serde_json::Value {
    serde_json::to_value(Envelope { response }).expect("answers serialize")
}

/// The body of a refusal.
pub fn refusal_json(error: &ApiError, request_id: &str) -> serde_json::Value {
    serde_json::to_value(Envelope {
        response: ErrorResponse { error: error.clone(), request_id: request_id.to_owned() },
    })
    .expect("answers serialize")
}
