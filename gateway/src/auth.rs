//! Who is calling: merchants log in with phone and password (argon2id), buyers get a guest
//! identity by phone. Both carry an HS256 bearer token whose secret outlives the process.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use engine::{BuyerId, MerchantId, Timestamp};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Merchant,
    Buyer,
    /// The platform's own staff: AML review, withdrawals, KYC, reconciliation.
    Operator,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: i64,
    role: Role,
    iat: i64,
    exp: i64,
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

    /// A token for `subject` in `role`, valid `ttl_secs` from `now`; and when it expires.
    pub fn issue(&self, role: Role, subject: i64, now: Timestamp, ttl_secs: u64) -> (String, Timestamp) {
        let iat = now.as_millis() / 1_000;
        let exp = iat.saturating_add(ttl_secs as i64);
        let claims = Claims { sub: subject, role, iat, exp };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing does not fail");
        (token, Timestamp(exp * 1_000))
    }

    fn verify(&self, token: &str) -> Option<(Role, i64)> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| (data.claims.role, data.claims.sub))
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Merchant(MerchantId),
    Buyer(BuyerId),
    Operator,
}

fn caller(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().expect("app state is registered");
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("unauthorized", "missing Authorization: Bearer token"))?;
    let token =
        value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).ok_or_else(|| {
            ApiError::unauthorized("invalid_token", "Authorization must be 'Bearer <token>'")
        })?;
    match state.tokens.verify(token.trim()) {
        Some((Role::Merchant, id)) => Ok(Caller::Merchant(MerchantId(id))),
        Some((Role::Buyer, id)) => Ok(Caller::Buyer(BuyerId(id))),
        Some((Role::Operator, _)) => Ok(Caller::Operator),
        None => Err(ApiError::unauthorized("invalid_token", "token is invalid or expired")),
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(req))
    }
}

/// A request made with a merchant token.
#[derive(Debug, Clone, Copy)]
pub struct MerchantAuth(pub MerchantId);

impl FromRequest for MerchantAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(req).and_then(|c| match c {
            Caller::Merchant(id) => Ok(MerchantAuth(id)),
            _ => Err(ApiError::forbidden("this route is for merchants")),
        }))
    }
}

/// A request made with a buyer token.
#[derive(Debug, Clone, Copy)]
pub struct BuyerAuth(pub BuyerId);

impl FromRequest for BuyerAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(req).and_then(|c| match c {
            Caller::Buyer(id) => Ok(BuyerAuth(id)),
            _ => Err(ApiError::forbidden("this route is for buyers")),
        }))
    }
}

/// A request made with an operator token.
#[derive(Debug, Clone, Copy)]
pub struct OperatorAuth;

impl FromRequest for OperatorAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(req).and_then(|c| match c {
            Caller::Operator => Ok(OperatorAuth),
            _ => Err(ApiError::forbidden("this route is for operators")),
        }))
    }
}

/// Argon2id hash of a password, as a PHC string. CPU-heavy: call from a blocking thread.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

/// Whether `password` matches the stored hash. CPU-heavy: call from a blocking thread.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let tokens = Tokens::new(b"0123456789abcdef0123456789abcdef");
        let now = Timestamp(1_800_000_000_000);
        let (token, expires_at) = tokens.issue(Role::Buyer, 42, Timestamp(i64::MAX / 2_000), 60);
        assert_eq!(tokens.verify(&token), Some((Role::Buyer, 42)));
        assert!(expires_at.as_millis() > now.as_millis());
        let other = Tokens::new(b"another-secret-another-secret!!!");
        assert_eq!(other.verify(&token), None);
        let mut forged = token.clone();
        forged.pop();
        assert_eq!(tokens.verify(&forged), None);
        let (expired, _) = tokens.issue(Role::Merchant, 1, Timestamp(1_000_000), 60);
        assert_eq!(tokens.verify(&expired), None);
    }

    #[test]
    fn passwords() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}
