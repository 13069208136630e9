//! Verified buyer sessions: `POST /buyers/codes {phone}` sends a one-time code by SMS, and
//! `POST /buyers/sessions {phone, code}` trades the right code for a buyer token. No account,
//! but nobody orders (or reads orders) as a phone number they do not hold.

use actix_web::{HttpRequest, HttpResponse, post, web};
use engine::Phone;
use engine::buyer_code::LoginCode;
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::Role;
use crate::error::ApiError;
use crate::time::rfc3339;

#[derive(Deserialize)]
pub struct NewCode {
    phone: String,
}

#[derive(Deserialize)]
pub struct NewSession {
    phone: String,
    /// Optional in the shape so that a missing code gets its own clear answer.
    code: Option<String>,
}

fn phone_of(raw: &str) -> Result<Phone, ApiError> {
    Phone::parse(raw).map_err(|e| ApiError::invalid("invalid_phone", e.to_string()))
}

/// The unit of the per-network code caps, as every per-address limit sees the client.
fn network(state: &AppState, request: &HttpRequest) -> String {
    state.admission.client_network(request).map_or_else(|| "unknown".to_owned(), |n| n.to_string())
}

/// Sends a login code to the phone: 202 once the SMS provider took it. The answer never
/// carries the code.
#[post("/buyers/codes")]
pub async fn request_code(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<NewCode>,
) -> Result<HttpResponse, ApiError> {
    let phone = phone_of(&body.phone)?;
    let sent =
        state.login_codes.request(&state.db, &phone, &network(&state, &request), state.clock.now()).await?;
    Ok(HttpResponse::Accepted().json(json!({
        "expires_at": rfc3339(sent.expires_at),
        "resend_after_secs": sent.resend_after_secs,
    })))
}

#[post("/buyers/sessions")]
pub async fn session(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<NewSession>,
) -> Result<HttpResponse, ApiError> {
    let phone = phone_of(&body.phone)?;
    let code = LoginCode::parse(body.code.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::invalid("invalid_code", e.to_string()))?;
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
