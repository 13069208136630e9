//! Verified buyer sessions: `POST /buyers/codes {phone}` sends a one-time code by SMS, and
//! `POST /buyers/sessions {phone, code}` trades the right code for a buyer token. No account,
//! but nobody orders (or reads orders) as a phone number they do not hold.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use engine::buyer_code::{CodeRefusal, IssueRefusal, LoginCode};
use engine::{InputError, Phone};
use serde::Deserialize;
use serde_json::json;
use thiserror::Error;
use workflows::buyer_codes::{IssueError, VerifyError};

use crate::AppState;
use crate::auth::Role;
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::time::rfc3339;

/// What the buyer-session routes answer besides success.
#[derive(Debug, Error)]
pub enum BuyerError {
    #[error(transparent)]
    InvalidPhone(InputError),
    #[error(transparent)]
    InvalidCode(InputError),
    #[error(transparent)]
    Issue(#[from] IssueError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

impl BuyerError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        let too_many = |code| ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message.clone());
        match self {
            Self::InvalidPhone(_) => ApiError::invalid("invalid_phone", message),
            Self::InvalidCode(_) => ApiError::invalid("invalid_code", message),
            Self::Issue(IssueError::Refused(IssueRefusal::TooSoon { retry_after_secs })) => {
                too_many("code_resend_too_soon")
                    .retry_after(u32::try_from(*retry_after_secs).unwrap_or(u32::MAX))
            }
            Self::Issue(IssueError::Refused(IssueRefusal::PhoneDailyCap)) => {
                too_many("phone_daily_limit").retry_after(3_600)
            }
            Self::Issue(IssueError::Refused(IssueRefusal::NetworkDailyCap)) => {
                too_many("network_daily_limit").retry_after(3_600)
            }
            Self::Issue(IssueError::SmsUnavailable) => ApiError::unavailable("sms_unavailable", message, 5),
            Self::Verify(VerifyError::Refused(refusal)) => match refusal {
                CodeRefusal::NoCode => ApiError::unauthorized("no_code", message),
                CodeRefusal::Expired => ApiError::unauthorized("code_expired", message),
                CodeRefusal::Wrong { .. } => ApiError::unauthorized("wrong_code", message),
                CodeRefusal::Locked => too_many("code_locked"),
            },
            Self::Verify(VerifyError::TooManySessions(_)) => too_many("too_many_sessions").retry_after(600),
            Self::Issue(IssueError::Db(_)) | Self::Verify(VerifyError::Db(_)) => ApiError::unexpected(),
        }
    }
}

crate::route_error!(BuyerError);

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewCode {
    phone: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewSession {
    phone: String,
    /// Optional in the shape so that a missing code gets its own clear answer.
    code: Option<String>,
}

/// The unit of the per-network code caps, as every per-address limit sees the client.
fn network(state: &AppState, request: &HttpRequest) -> String {
    crate::client::client_network(request, &state.proxies)
        .map_or_else(|| "unknown".to_owned(), |n| n.to_string())
}

/// Sends a login code to the phone: 202 once the SMS provider took it. The answer never
/// carries the code.
#[utoipa::path(
    post,
    path = "/api/v1/buyers/codes",
    tag = "buyers",
    summary = "Send a login code by SMS to a phone",
    request_body(content = NewCode, example = json!({"phone": "13900000001"})),
    responses(
        (status = 202, description = "sent; when it expires and when another may be asked for", example = json!({"expires_at": "2026-11-26T08:35:00.000Z", "resend_after_secs": 60})),
        (status = 400, description = "malformed request (`bad_request`, `malformed_json`)", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
        (status = 429, description = "`too_soon`, `daily_limit`: a cap on codes per phone or network", body = ErrorBody),
        (status = 503, description = "busy (`overloaded`), with Retry-After", body = ErrorBody),
    ),
)]
#[post("/buyers/codes")]
pub async fn request_code(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<NewCode>,
) -> Result<HttpResponse, BuyerError> {
    let phone = Phone::parse(&body.phone).map_err(BuyerError::InvalidPhone)?;
    let sent =
        state.login_codes.request(&state.db, &phone, &network(&state, &request), state.clock.now()).await?;
    Ok(HttpResponse::Accepted().json(json!({
        "expires_at": rfc3339(sent.expires_at),
        "resend_after_secs": sent.resend_after_secs,
    })))
}

#[utoipa::path(
    post,
    path = "/api/v1/buyers/sessions",
    tag = "buyers",
    summary = "Prove the phone with its code: a buyer token",
    request_body(content = NewSession, example = json!({"phone": "13900000001", "code": "123456"})),
    responses(
        (status = 200, description = "a buyer token", example = json!({"token": "eyJ…", "buyer_id": 1, "expires_at": "2026-11-26T08:30:00.000Z"})),
        (status = 400, description = "malformed request (`bad_request`, `malformed_json`)", body = ErrorBody),
        (status = 401, description = "`invalid_code`: wrong, used or expired code", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
        (status = 429, description = "rate limited (`rate_limited`), with Retry-After", body = ErrorBody),
    ),
)]
#[post("/buyers/sessions")]
pub async fn session(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<NewSession>,
) -> Result<HttpResponse, BuyerError> {
    let phone = Phone::parse(&body.phone).map_err(BuyerError::InvalidPhone)?;
    let code = LoginCode::parse(body.code.as_deref().unwrap_or_default()).map_err(BuyerError::InvalidCode)?;
    let now = state.clock.now();
    let buyer_id =
        state.login_codes.verify(&state.db, &phone, &code, &network(&state, &request), now).await?;
    let ttl = state.settings.auth.buyer_token_ttl_secs;
    let (token, expires_at) = state.tokens.issue(Role::Buyer, buyer_id.0, now, ttl);
    Ok(HttpResponse::Ok().json(json!({
        "token": token,
        "buyer_id": buyer_id,
        "expires_at": rfc3339(expires_at),
    })))
}
