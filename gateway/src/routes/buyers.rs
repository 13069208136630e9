//! Guest buyer sessions: a phone number is enough to order (no registration).

use actix_web::{HttpResponse, post, web};
use engine::Phone;
use persistence::repo;
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::Role;
use crate::error::ApiError;
use crate::time::rfc3339;

#[derive(Deserialize)]
pub struct NewSession {
    phone: String,
}

#[post("/buyers/sessions")]
pub async fn session(
    state: web::Data<AppState>,
    body: web::Json<NewSession>,
) -> Result<HttpResponse, ApiError> {
    let phone = Phone::parse(&body.phone).map_err(|e| ApiError::invalid("invalid_phone", e.to_string()))?;
    let now = state.clock.now();
    let buyer_id = repo::buyer_for_phone(&state.db, &phone, now).await?;
    let ttl = state.settings.auth.buyer_token_ttl_secs;
    let (token, expires_at) = state.tokens.issue(Role::Buyer, buyer_id.0, now, ttl);
    Ok(HttpResponse::Ok().json(json!({
        "token": token,
        "buyer_id": buyer_id,
        "expires_at": rfc3339(expires_at),
    })))
}
