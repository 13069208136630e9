//! Merchant sign-up (free, self-service) and log-in.

use actix_web::{HttpResponse, post, web};
use engine::Phone;
use persistence::repo::{self, InsertError};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::{Role, hash_password, verify_password};
use crate::error::ApiError;
use crate::routes::text_field;
use crate::time::rfc3339;

#[derive(Deserialize)]
pub struct SignUp {
    phone: String,
    password: String,
    display_name: String,
}

fn password_field(raw: &str) -> Result<&str, ApiError> {
    let chars = raw.chars().count();
    if !(8..=128).contains(&chars) {
        return Err(ApiError::invalid("invalid_password", "password must be 8 to 128 characters"));
    }
    Ok(raw)
}

#[post("/merchants")]
pub async fn sign_up(state: web::Data<AppState>, body: web::Json<SignUp>) -> Result<HttpResponse, ApiError> {
    let phone = Phone::parse(&body.phone).map_err(|e| ApiError::invalid("invalid_phone", e.to_string()))?;
    let password = password_field(&body.password)?.to_owned();
    let display_name = text_field(&body.display_name, "display_name", 64)?;
    // Argon2 takes tens of milliseconds of CPU: never on the async workers.
    let hash = web::block(move || hash_password(&password)).await.map_err(ApiError::internal)??;
    match repo::insert_merchant(&state.db, &phone, &hash, &display_name, state.clock.now()).await {
        Ok(id) => Ok(HttpResponse::Created().json(json!({ "merchant_id": id }))),
        Err(InsertError::Duplicate) => {
            Err(ApiError::conflict("phone_taken", "a merchant with this phone already exists"))
        }
        Err(InsertError::Db(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct LogIn {
    phone: String,
    password: String,
}

#[post("/sessions")]
pub async fn log_in(state: web::Data<AppState>, body: web::Json<LogIn>) -> Result<HttpResponse, ApiError> {
    let refused = || ApiError::unauthorized("invalid_credentials", "phone or password is wrong");
    let phone = Phone::parse(&body.phone).map_err(|e| ApiError::invalid("invalid_phone", e.to_string()))?;
    let merchant = repo::merchant_by_phone(&state.db, &phone).await?;
    // An unknown phone costs the same hash as a wrong password, so timing tells nothing.
    let stored = match &merchant {
        Some(m) => m.password_hash.clone(),
        None => dummy_hash().to_owned(),
    };
    let password = body.password.clone();
    let matches =
        web::block(move || verify_password(&password, &stored)).await.map_err(ApiError::internal)?;
    let Some(merchant) = merchant.filter(|_| matches) else { return Err(refused()) };
    let ttl = state.settings.auth.merchant_token_ttl_secs;
    let (token, expires_at) = state.tokens.issue(Role::Merchant, merchant.id.0, state.clock.now(), ttl);
    Ok(HttpResponse::Ok().json(json!({
        "token": token,
        "expires_at": rfc3339(expires_at),
        "merchant_id": merchant.id,
    })))
}

/// An argon2id hash of a password nobody knows, made once.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("no merchant has this password").expect("hashing works"))
}
