//! The bearer tokens that merchants, operators and buyers carry: HS256, signed with a secret
//! that outlives the process. Merchant and operator tokens also carry their holder's token
//! version (see [`super::versions`]), so that a revocation takes effect without a query per
//! request; buyer tokens are checked from the token alone.

use engine::{MerchantId, Timestamp};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[cfg(test)]
use super::roles::OperatorRole;
use super::roles::Staff;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Merchant,
    Buyer,
    /// The platform's own staff: AML review, withdrawals, KYC, reconciliation.
    Operator,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: i64,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    /// The holder's token version when issued (merchants, operators); absent = 0.
    #[serde(default)]
    pub ver: i64,
    /// Operators: role and name, so that the role check and the audit row need no query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<Staff>,
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

    /// The claims of `token` if its signature holds and it has not expired; its version is
    /// the caller's to check against the holder's current one.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|data| data.claims)
    }
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
