//! Merchant sign-up (free, self-service), log-in and log-out everywhere.

use std::time::Instant;

use actix_web::{HttpResponse, post, web};
use engine::{InputError, Phone};
use persistence::repo::{self, InsertError};
use persistence::{DbErr, access};
use serde::Deserialize;
use serde_json::json;
use thiserror::Error;
use workflows::accounts::login::{self, Throttled, WorkError};
use workflows::accounts::passwords::{self, HashError};
use workflows::accounts::versions::{Current, Holder};

use crate::AppState;
use crate::auth::{self, MerchantAuth, hash_password};
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::routes::{text_field, throttled, work_error};
use crate::time::rfc3339;

/// What the merchant account routes answer besides success.
#[derive(Debug, Error)]
pub enum MerchantError {
    #[error(transparent)]
    InvalidPhone(InputError),
    #[error("a merchant with this phone already exists")]
    PhoneTaken,
    #[error("phone or password is wrong")]
    InvalidCredentials,
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error(transparent)]
    Work(#[from] WorkError),
    /// A check shared with other groups (fields, token versions).
    #[error(transparent)]
    Shared(#[from] ApiError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("a merchant's tokens are never closed")]
    TokensClosed,
    #[error("this merchant is banned: {0}")]
    Banned(String),
    #[error("database: {0}")]
    Internal(#[from] DbErr),
}

impl MerchantError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Self::InvalidPhone(_) => ApiError::invalid("invalid_phone", message),
            Self::PhoneTaken => ApiError::conflict("phone_taken", message),
            Self::InvalidCredentials => ApiError::unauthorized("invalid_credentials", message),
            Self::Throttled(e) => throttled(e),
            Self::Work(e) => work_error(e),
            Self::Shared(api) => api.clone(),
            Self::Banned(_) => {
                ApiError::new(actix_web::http::StatusCode::FORBIDDEN, "merchant_banned", message)
            }
            Self::Hash(_) | Self::TokensClosed | Self::Internal(_) => ApiError::unexpected(),
        }
    }
}

crate::route_error!(MerchantError);

impl From<InsertError> for MerchantError {
    fn from(error: InsertError) -> Self {
        match error {
            InsertError::Duplicate => Self::PhoneTaken,
            InsertError::Db(e) => Self::Internal(e),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignUp {
    phone: String,
    password: String,
    display_name: String,
}

pub(crate) fn password_field(raw: &str) -> Result<&str, ApiError> {
    passwords::acceptable(raw).map_err(|e| ApiError::invalid("invalid_password", e.to_string()))
}

#[utoipa::path(
    post,
    path = "/api/v1/merchants",
    tag = "merchants",
    summary = "Sign up as a merchant (free)",
    request_body(content = SignUp, example = json!({"phone": "13700000001", "password": "s3cret-pass", "display_name": "小美直播间"})),
    responses(
        (status = 201, description = "the merchant", example = json!({"merchant_id": 1})),
        (status = 400, description = "malformed request (`bad_request`, `malformed_json`)", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
        (status = 409, description = "`phone_taken`: this phone has an account", body = ErrorBody),
    ),
)]
#[post("/merchants")]
pub async fn sign_up(
    state: web::Data<AppState>,
    body: web::Json<SignUp>,
) -> Result<HttpResponse, MerchantError> {
    let phone = Phone::parse(&body.phone).map_err(MerchantError::InvalidPhone)?;
    let password = password_field(&body.password)?.to_owned();
    let display_name = text_field(&body.display_name, "display_name", 64)?;
    // Argon2 takes tens of milliseconds of CPU and ~19 MiB: never on the async workers, and
    // never more at once than the gate allows.
    let hash = state.passwords.run(move || hash_password(&password)).await??;
    let id = repo::insert_merchant(&state.db, &phone, &hash, &display_name, state.clock.now()).await?;
    Ok(HttpResponse::Created().json(json!({ "merchant_id": id })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LogIn {
    phone: String,
    password: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions",
    tag = "merchants",
    summary = "Log in as a merchant",
    request_body(content = LogIn, example = json!({"phone": "13700000001", "password": "s3cret-pass"})),
    responses(
        (status = 200, description = "a bearer token", example = json!({"token": "eyJ…", "expires_at": "2026-11-26T08:30:00.000Z", "merchant_id": 1})),
        (status = 400, description = "malformed request (`bad_request`, `malformed_json`)", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 403, description = "`merchant_banned`", body = ErrorBody),
        (status = 429, description = "`login_throttled` after failed log-ins, with Retry-After", body = ErrorBody),
        (status = 503, description = "busy (`overloaded`), with Retry-After", body = ErrorBody),
    ),
)]
#[post("/sessions")]
pub async fn log_in(
    state: web::Data<AppState>,
    body: web::Json<LogIn>,
) -> Result<HttpResponse, MerchantError> {
    let (token, expires_at, merchant_id) = issue_token(&state, &body.phone, &body.password).await?;
    Ok(HttpResponse::Ok().json(json!({
        "token": token,
        "expires_at": rfc3339(expires_at),
        "merchant_id": merchant_id,
    })))
}

/// A merchant's token for a phone and password: the log-in of the API and of the console's
/// cookie alike.
pub(crate) async fn issue_token(
    state: &AppState,
    phone: &str,
    password: &str,
) -> Result<(String, engine::Timestamp, engine::MerchantId), MerchantError> {
    let phone = Phone::parse(phone).map_err(MerchantError::InvalidPhone)?;
    let throttle_key = format!("merchant:{}", phone.as_str());
    state.logins.admit(&throttle_key, Instant::now())?;
    let merchant = repo::merchant_by_phone(&state.db, &phone).await?;
    // An unknown phone costs the same hash as a wrong password, so timing tells nothing.
    let stored = merchant.as_ref().map(|a| a.password_hash.clone());
    let matches =
        login::judge(&state.passwords, &state.logins, &throttle_key, stored, password.to_owned()).await?;
    let Some(merchant) = merchant.filter(|_| matches) else {
        return Err(MerchantError::InvalidCredentials);
    };
    if let Some(ban) = persistence::qualification::active_ban(&state.db, merchant.id).await? {
        return Err(MerchantError::Banned(ban.reason));
    }
    // Read, not remembered: a token must carry the version as stored now, or a bump made on
    // another node would revoke it as soon as this node learns of it.
    let Current::Version(version) = auth::stored_version(state, Holder::Merchant(merchant.id.0)).await?
    else {
        return Err(MerchantError::TokensClosed);
    };
    let ttl = state.settings.auth.merchant_token_ttl_secs;
    let (token, expires_at) = state.tokens.issue_merchant(merchant.id, version, state.clock.now(), ttl);
    Ok((token, expires_at, merchant.id))
}

/// Log out everywhere: every token of this merchant stops working, this one included.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/revoke",
    tag = "merchants",
    summary = "Log out everywhere (every token of this merchant stops working)",
    responses(
        (status = 200, description = "the new token version"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[post("/sessions/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
) -> Result<HttpResponse, MerchantError> {
    let version = access::revoke_merchant(&state.db, merchant.0).await?;
    state.token_versions.remember(Holder::Merchant(merchant.0.0), Current::Version(version), Instant::now());
    Ok(HttpResponse::Ok().json(json!({ "merchant_id": merchant.0, "token_version": version })))
}
