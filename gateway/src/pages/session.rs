//! Pages carry the buyer's, the merchant's or the operator's token in a cookie the page's
//! script cannot read (`HttpOnly`, `SameSite=Lax`), and state-changing calls from pages carry a
//! CSRF token.
//!
//! The Bearer API stays as it is: [`cookie_bearer`] wraps `/api/v1` and, for a request that has
//! no `Authorization` header but a page cookie, lends the cookie's token to the request as a
//! Bearer token: the buyer's, or the one its `X-Session` header names (`merchant`, `operator`,
//! sent by the consoles' script). A state-changing request (anything but GET/HEAD) gets it only when its
//! `X-CSRF-Token` header equals the page's CSRF cookie (double submit; both are set by the
//! page, and another site can neither read the cookie nor send the header without a CORS
//! preflight this server never grants). `POST /s/session` trades a login code for the cookie,
//! under the same check.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use engine::Phone;
use engine::buyer_code::LoginCode;
use rand::Rng as _;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq as _;

use crate::AppState;
use crate::auth::Role;
use crate::error::ApiError;
use crate::routes::buyers::BuyerError;
use crate::time::rfc3339;

/// The buyer's token, for pages.
pub const BUYER_COOKIE: &str = "fs_buyer";
/// The merchant console's token.
pub const MERCHANT_COOKIE: &str = "fs_merchant";
/// The operator console's token.
pub const OPERATOR_COOKIE: &str = "fs_operator";
/// Which page cookie a console's API call lends: `merchant` or `operator`.
pub const SESSION_HEADER: &str = "X-Session";
/// The double-submit CSRF token.
pub const CSRF_COOKIE: &str = "fs_csrf";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// The page's CSRF token: the request's, or a fresh one to set with [`csrf_cookie`].
pub fn csrf_token(request: &HttpRequest) -> (String, bool) {
    match request.cookie(CSRF_COOKIE).map(|c| c.value().to_owned()).filter(|v| is_token(v)) {
        Some(existing) => (existing, false),
        None => {
            let fresh: [u8; 16] = rand::rng().random();
            (hex::encode(fresh), true)
        }
    }
}

fn is_token(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

fn secure(state: &AppState) -> bool {
    state.base_url.starts_with("https://")
}

pub fn csrf_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(CSRF_COOKIE, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(state))
        .finish()
}

fn buyer_cookie(state: &AppState, token: String, ttl_secs: u64) -> Cookie<'static> {
    session_cookie(state, BUYER_COOKIE, token, ttl_secs)
}

/// A page session cookie (`name` is one of the cookies above) living as long as its token.
pub fn session_cookie(state: &AppState, name: &'static str, token: String, ttl_secs: u64) -> Cookie<'static> {
    Cookie::build(name, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(state))
        .max_age(CookieDuration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX)))
        .finish()
}

/// The cookie that ends a page session.
pub fn ended_cookie(state: &AppState, name: &'static str) -> Cookie<'static> {
    let mut cookie = session_cookie(state, name, String::new(), 0);
    cookie.make_removal();
    cookie
}

/// Whether the request's `X-CSRF-Token` matches its CSRF cookie.
pub fn csrf_ok(request: &HttpRequest) -> bool {
    let cookie = request.cookie(CSRF_COOKIE);
    let sent = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match (cookie, sent) {
        (Some(cookie), Some(sent)) if is_token(cookie.value()) => {
            bool::from(cookie.value().as_bytes().ct_eq(sent.as_bytes()))
        }
        _ => false,
    }
}

pub fn csrf_refused() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "reload the page: this request lacks the page's X-CSRF-Token",
    )
}

/// Middleware over `/api/v1`: the page cookie as a Bearer token (see the module doc).
pub async fn cookie_bearer(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let cookie = match req.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()) {
        Some("merchant") => MERCHANT_COOKIE,
        Some("operator") => OPERATOR_COOKIE,
        _ => BUYER_COOKIE,
    };
    let lent = match req.request().cookie(cookie) {
        Some(cookie) if !req.headers().contains_key(header::AUTHORIZATION) => Some(cookie.value().to_owned()),
        _ => None,
    };
    if let Some(token) = lent {
        let safe = matches!(*req.method(), Method::GET | Method::HEAD);
        if !safe && !csrf_ok(req.request()) {
            let refusal = csrf_refused().error_response();
            return Ok(req.into_response(refusal).map_into_right_body());
        }
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
            req.headers_mut().insert(header::AUTHORIZATION, value);
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[derive(Deserialize)]
pub struct NewPageSession {
    phone: String,
    code: Option<String>,
}

/// `POST /s/session {phone, code}`: the verified-buyer flow of `POST /api/v1/buyers/sessions`,
/// answered with the token in the HttpOnly cookie instead of the body.
pub async fn create(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<NewPageSession>,
) -> Result<HttpResponse, actix_web::Error> {
    if !csrf_ok(&request) {
        return Err(csrf_refused().into());
    }
    let phone = Phone::parse(&body.phone).map_err(BuyerError::InvalidPhone)?;
    let code = LoginCode::parse(body.code.as_deref().unwrap_or_default()).map_err(BuyerError::InvalidCode)?;
    let network = crate::client::client_network(&request, &state.proxies)
        .map_or_else(|| "unknown".to_owned(), |n| n.to_string());
    let now = state.clock.now();
    let buyer_id =
        state.login_codes.verify(&state.db, &phone, &code, &network, now).await.map_err(BuyerError::from)?;
    let ttl = state.settings.auth.buyer_token_ttl_secs;
    let (token, expires_at) = state.tokens.issue(Role::Buyer, buyer_id.0, now, ttl);
    Ok(HttpResponse::Ok()
        .cookie(buyer_cookie(&state, token, ttl))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "buyer_id": buyer_id, "expires_at": rfc3339(expires_at) })))
}
