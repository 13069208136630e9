//! Who is calling: merchants and operators log in with a password (argon2id), buyers get a
//! guest identity by phone. All carry an HS256 bearer token whose secret outlives the process.
//! Merchant and operator tokens also carry their holder's token version, checked against a
//! bounded memory of versions ([`crate::versions`]) so that a revocation takes effect without
//! a query per request; buyer tokens are checked from the token alone.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use engine::{BuyerId, MerchantId, Timestamp};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use persistence::access;

use crate::AppState;
use crate::access::OperatorRole;
use crate::error::ApiError;
pub use workflows::accounts::passwords::{hash_password, verify_password};
use workflows::accounts::versions::{Current, Holder};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Merchant,
    Buyer,
    /// The platform's own staff: AML review, withdrawals, KYC, reconciliation.
    Operator,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    sub: i64,
    role: Role,
    iat: i64,
    exp: i64,
    /// The holder's token version when issued (merchants, operators); absent = 0.
    #[serde(default)]
    ver: i64,
    /// Operators: role and name, so that the role check and the audit row need no query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    staff: Option<Staff>,
}

/// Who an operator token speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staff {
    pub id: i64,
    pub username: String,
    pub role: OperatorRole,
}

/// Signing and checking tokens.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Tokens {
    pub fn new(secret: &[u8]) -> Self {
        assert!(secret.len() >= 16, "token secret too short");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.validate_exp = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A token for `subject` in `role` at version 0, valid `ttl_secs` from `now`; and when
    /// it expires. Buyers' tokens are these.
    pub fn issue(&self, role: Role, subject: i64, now: Timestamp, ttl_secs: u64) -> (String, Timestamp) {
        self.sign(role, subject, 0, None, now, ttl_secs)
    }

    /// A merchant's token at its current version.
    pub fn issue_merchant(
        &self,
        merchant: MerchantId,
        version: i64,
        now: Timestamp,
        ttl_secs: u64,
    ) -> (String, Timestamp) {
        self.sign(Role::Merchant, merchant.0, version, None, now, ttl_secs)
    }

    /// An operator's token at their current version.
    pub fn issue_operator(
        &self,
        staff: Staff,
        version: i64,
        now: Timestamp,
        ttl_secs: u64,
    ) -> (String, Timestamp) {
        self.sign(Role::Operator, staff.id, version, Some(staff), now, ttl_secs)
    }

    fn sign(
        &self,
        role: Role,
        sub: i64,
        ver: i64,
        staff: Option<Staff>,
        now: Timestamp,
        ttl_secs: u64,
    ) -> (String, Timestamp) {
        let iat = now.as_millis() / 1_000;
        let exp = iat.saturating_add(ttl_secs as i64);
        let claims = Claims { sub, role, iat, exp, ver, staff };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing does not fail");
        (token, Timestamp(exp * 1_000))
    }

    fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|data| data.claims)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let tokens = Tokens::new(b"0123456789abcdef0123456789abcdef");
        let now = Timestamp(1_800_000_000_000);
        let (token, expires_at) = tokens.issue(Role::Buyer, 42, Timestamp(i64::MAX / 2_000), 60);
        let claims = tokens.verify(&token).unwrap();
        assert_eq!((claims.role, claims.sub, claims.ver, claims.staff), (Role::Buyer, 42, 0, None));
        assert!(expires_at.as_millis() > now.as_millis());
        let other = Tokens::new(b"another-secret-another-secret!!!");
        assert!(other.verify(&token).is_none());
        let mut forged = token.clone();
        forged.pop();
        assert!(tokens.verify(&forged).is_none());
        let (expired, _) = tokens.issue(Role::Merchant, 1, Timestamp(1_000_000), 60);
        assert!(tokens.verify(&expired).is_none());
        let staff = Staff { id: 7, username: "li.na".into(), role: OperatorRole::Finance };
        let (token, _) = tokens.issue_operator(staff.clone(), 3, Timestamp(i64::MAX / 2_000), 60);
        let claims = tokens.verify(&token).unwrap();
        assert_eq!((claims.role, claims.sub, claims.ver, claims.staff), (Role::Operator, 7, 3, Some(staff)));
    }
}
