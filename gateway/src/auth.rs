//! Who is calling: the bearer token of a request checked ([`workflows::accounts::tokens`]),
//! and for merchants and operators its version against the holder's current one (remembered
//! in a bounded memory, [`workflows::accounts::versions`], read from the database once when
//! not), so that a revocation takes effect without a query per request.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use engine::{BuyerId, MerchantId};
use persistence::access;

use crate::AppState;
use crate::error::ApiError;
pub use workflows::accounts::passwords::hash_password;
pub use workflows::accounts::roles::Staff;
pub use workflows::accounts::tokens::{Claims, Role, Tokens};
use workflows::accounts::versions::{Current, Holder};

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Merchant(MerchantId),
    Buyer(BuyerId),
    Operator,
}

/// A verified token: signature, expiry and, for merchants and operators, version.
enum Verified {
    Merchant(MerchantId),
    Buyer(BuyerId),
    Operator(Staff),
}

fn state_of(req: &HttpRequest) -> web::Data<AppState> {
    req.app_data::<web::Data<AppState>>().expect("app state is registered").clone()
}

/// The bearer token's claims, checked for signature and expiry only.
fn claims(req: &HttpRequest, state: &AppState) -> Result<Claims, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("unauthorized", "missing Authorization: Bearer token"))?;
    let token =
        value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).ok_or_else(|| {
            ApiError::unauthorized("invalid_token", "Authorization must be 'Bearer <token>'")
        })?;
    state
        .tokens
        .verify(token.trim())
        .ok_or_else(|| ApiError::unauthorized("invalid_token", "token is invalid or expired"))
}

/// The holder's current token version: remembered, or read once and remembered.
pub async fn current_version(state: &AppState, holder: Holder) -> Result<Current, ApiError> {
    match state.token_versions.get(holder, std::time::Instant::now()) {
        Some(current) => Ok(current),
        None => stored_version(state, holder).await,
    }
}

/// The holder's token version as stored (then remembered).
pub async fn stored_version(state: &AppState, holder: Holder) -> Result<Current, ApiError> {
    let now = std::time::Instant::now();
    let read = match holder {
        Holder::Merchant(id) => {
            Current::Version(access::merchant_token_version(&state.db, MerchantId(id)).await?)
        }
        Holder::Operator(id) => {
            access::operator_token_version(&state.db, id).await?.map_or(Current::Closed, Current::Version)
        }
    };
    state.token_versions.remember(holder, read, now);
    Ok(state.token_versions.get(holder, now).unwrap_or(read))
}

async fn verified(state: &AppState, claims: Claims) -> Result<Verified, ApiError> {
    let (holder, verified) = match (claims.role, claims.staff) {
        (Role::Buyer, _) => return Ok(Verified::Buyer(BuyerId(claims.sub))),
        (Role::Merchant, _) => (Holder::Merchant(claims.sub), Verified::Merchant(MerchantId(claims.sub))),
        (Role::Operator, Some(staff)) if staff.id == claims.sub => {
            (Holder::Operator(claims.sub), Verified::Operator(staff))
        }
        // The single shared operator identity of old: no account, no role.
        (Role::Operator, _) => {
            return Err(ApiError::unauthorized("invalid_token", "token is invalid or expired"));
        }
    };
    let current = match current_version(state, holder).await? {
        // A token newer than what this node remembers was issued after a bump made elsewhere:
        // what is remembered is stale, not the token.
        Current::Version(version) if claims.ver > version => stored_version(state, holder).await?,
        current => current,
    };
    match current {
        Current::Version(version) if version == claims.ver => Ok(verified),
        _ => Err(ApiError::unauthorized("token_revoked", "this token was revoked; log in again")),
    }
}

type Checked<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

fn check<T: 'static>(
    req: &HttpRequest,
    pick: impl FnOnce(Verified) -> Result<T, ApiError> + 'static,
) -> Checked<T> {
    let state = state_of(req);
    let claims = claims(req, &state);
    Box::pin(async move { pick(verified(&state, claims?).await?) })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Checked<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        check(req, |v| {
            Ok(match v {
                Verified::Merchant(id) => Caller::Merchant(id),
                Verified::Buyer(id) => Caller::Buyer(id),
                Verified::Operator(_) => Caller::Operator,
            })
        })
    }
}

/// The merchant a page's session token speaks for (the console's cookie): the same checks as
/// a Bearer token (signature, expiry, version).
pub async fn merchant_of_token(state: &AppState, token: &str) -> Result<MerchantId, ApiError> {
    let claims = state
        .tokens
        .verify(token)
        .ok_or_else(|| ApiError::unauthorized("invalid_token", "token is invalid or expired"))?;
    match verified(state, claims).await? {
        Verified::Merchant(id) => Ok(id),
        _ => Err(ApiError::forbidden("this page is for merchants")),
    }
}

/// The operator a page's session token speaks for (the operator console's cookie).
pub async fn staff_of_token(state: &AppState, token: &str) -> Result<Staff, ApiError> {
    let claims = state
        .tokens
        .verify(token)
        .ok_or_else(|| ApiError::unauthorized("invalid_token", "token is invalid or expired"))?;
    match verified(state, claims).await? {
        Verified::Operator(staff) => Ok(staff),
        _ => Err(ApiError::forbidden("this page is for operators")),
    }
}

/// A request made with a merchant token.
#[derive(Debug, Clone, Copy)]
pub struct MerchantAuth(pub MerchantId);

impl FromRequest for MerchantAuth {
    type Error = ApiError;
    type Future = Checked<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        check(req, |v| match v {
            Verified::Merchant(id) => Ok(MerchantAuth(id)),
            _ => Err(ApiError::forbidden("this route is for merchants")),
        })
    }
}

/// A request made with a buyer token. Checked from the token alone: the order hot path never
/// waits for anything else.
#[derive(Debug, Clone, Copy)]
pub struct BuyerAuth(pub BuyerId);

impl FromRequest for BuyerAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state_of(req);
        ready(claims(req, &state).and_then(|c| match c.role {
            Role::Buyer => Ok(BuyerAuth(BuyerId(c.sub))),
            _ => Err(ApiError::forbidden("this route is for buyers")),
        }))
    }
}

/// A request made with a valid operator token, whatever the role; [`crate::access`] checks
/// the role a route needs.
pub(crate) fn operator(req: &HttpRequest) -> Checked<Staff> {
    check(req, |v| match v {
        Verified::Operator(staff) => Ok(staff),
        _ => Err(ApiError::forbidden("this route is for operators")),
    })
}
