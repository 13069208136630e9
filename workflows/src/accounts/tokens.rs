//! The bearer tokens that merchants, operators and buyers carry: HS256, signed with a secret
//! that outlives the process. Merchant and operator tokens also carry their holder's token
//! version (see [`super::versions`]), so that a revocation takes effect without a query per
//! request; buyer tokens are checked from the token alone.
//!
//! A fan sends the same token with every request of a storm, so a token whose signature held
//! is remembered: the next request with it compares the whole token and checks its expiry
//! again, without base64, JSON or HMAC.

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

/// Seconds of clock difference forgiven at expiry, as when the signature is checked.
const LEEWAY_SECS: u64 = 5;

/// Tokens remembered as checked: a live room's storm of fans, each sending their own token
/// many times within seconds. Each costs about its length plus its claims, some 300 bytes.
const CHECKED_TOKENS: usize = 65_536;

/// Signing and checking tokens.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Tokens whose signature held, with their claims. Bounded; which ones stay is the
    /// cache's choice (scan-resistant, so one pass of many new tokens does not push out the
    /// ones in use). A hit compares the whole token; the hash is seeded at random.
    checked: Checked,
}

type Checked =
    quick_cache::sync::Cache<Box<str>, Claims, quick_cache::UnitWeighter, foldhash::fast::RandomState>;

fn checked(capacity: usize) -> Checked {
    Checked::with(
        capacity,
        capacity as u64,
        quick_cache::UnitWeighter,
        foldhash::fast::RandomState::default(),
        Default::default(),
    )
}

/// Not expired at `now` (seconds, by the clock the signature check reads), by its rule.
fn unexpired(claims: &Claims, now: u64) -> bool {
    u64::try_from(claims.exp).is_ok_and(|exp| exp.saturating_add(LEEWAY_SECS) >= now)
}

impl Tokens {
    pub fn new(secret: &[u8]) -> Self {
        assert!(secret.len() >= 16, "token secret too short");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            checked: checked(CHECKED_TOKENS),
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
        if let Some(claims) = self.checked.get(token) {
            return unexpired(&claims, jsonwebtoken::get_current_timestamp()).then_some(claims);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?.claims;
        self.checked.insert(token.into(), claims.clone());
        Some(claims)
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

    #[test]
    fn a_remembered_token_is_compared_whole_and_still_expires() {
        let tokens = Tokens::new(b"0123456789abcdef0123456789abcdef");
        let (token, _) = tokens.issue(Role::Buyer, 42, Timestamp(i64::MAX / 2_000), 60);
        assert_eq!(tokens.verify(&token).map(|c| c.sub), Some(42));
        assert!(tokens.checked.get(token.as_str()).is_some(), "a checked token is remembered");
        assert_eq!(tokens.verify(&token).map(|c| c.sub), Some(42));
        // A token that differs in its last byte (its signature) is not the remembered one.
        let mut forged = token.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        assert!(tokens.verify(&forged).is_none());
        assert!(tokens.checked.get(forged.as_str()).is_none(), "a refused token is not remembered");

        // Remembered claims whose expiry has passed are refused on the next request.
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let (soon, _) = tokens.issue(Role::Buyer, 43, Timestamp(now * 1_000), 60);
        let mut claims = tokens.verify(&soon).unwrap();
        claims.exp = now - 6;
        tokens.checked.insert(soon.as_str().into(), claims.clone());
        assert!(tokens.verify(&soon).is_none());
        claims.exp = now - 4;
        tokens.checked.insert(soon.as_str().into(), claims);
        assert!(tokens.verify(&soon).is_some(), "within the leeway");
    }
}
