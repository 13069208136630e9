//! Verified buyers: a fan asks for a code, the code goes out by SMS, and only the right code
//! opens a buyer session. The rules are `engine::buyer_code`'s; this joins them to storage,
//! the SMS port and the clock.
//!
//! Codes are stored as HMAC-SHA256 under a server key, never as digits. A bare or salted hash
//! would not do: there are only 10^6 codes, so whoever reads the table could try them all
//! offline in a second. With a key the table alone is useless, and the MAC also binds the code
//! to its phone. The key is derived from the token secret (a configuration secret, or
//! generated once), with a label of its own so that it is never the token-signing key itself.
//!
//! The digits exist in three places only: the SMS request, the fan's phone (the sandbox inbox
//! in demo mode) and the comparison here. They are never logged and never answered.

use std::sync::Arc;

use engine::buyer_code::{CodeRefusal, CodeRules, IssueRefusal, LoginCode, SessionCapReached};
use engine::{BuyerId, Phone, Timestamp};
use hmac::{Hmac, Mac};
use persistence::{DatabaseConnection, DbErr, buyer_codes, repo};
use providers::sms::SmsSender;
use rand::Rng as _;
use sha2::Sha256;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

/// Everything the code flow needs besides the database and the clock.
/// How many networks may be issuing codes at the same moment on one node.
const ISSUE_STRIPES: usize = 64;

pub struct LoginCodes {
    pub rules: CodeRules,
    key: [u8; 32],
    sms: Arc<dyn SmsSender>,
    template_id: String,
    /// Issuing is store, count, maybe withdraw: on one node, requests from one network run it
    /// one at a time, so that a burst of racers from a network can neither all withdraw (none
    /// gets a code below the cap) nor all count each other. Striped by network so that fans on
    /// different networks do not queue behind each other. Across nodes (and for one phone on
    /// two networks) the store-then-count rule alone still never goes over a cap. Held only
    /// around the database steps, never while the SMS is sent.
    issuing: Box<[tokio::sync::Mutex<()>]>,
}

/// Why no code went out.
#[derive(Debug, Error)]
pub enum IssueError {
    #[error(transparent)]
    Refused(IssueRefusal),
    /// Not sent means not issued: it neither counts against a cap nor opens a session.
    #[error("the code could not be sent, try again")]
    SmsUnavailable,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Why a presented code opened no session.
#[derive(Debug, Error)]
pub enum VerifyError {
    #[error(transparent)]
    Refused(CodeRefusal),
    #[error(transparent)]
    TooManySessions(SessionCapReached),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// A code that went out.
pub struct CodeSent {
    pub expires_at: Timestamp,
    pub resend_after_secs: u64,
}

impl LoginCodes {
    pub fn new(rules: CodeRules, token_secret: &str, sms: Arc<dyn SmsSender>, template_id: String) -> Self {
        let mut derive =
            HmacSha256::new_from_slice(token_secret.as_bytes()).expect("HMAC takes keys of any length");
        derive.update(b"flashsale buyer login codes v1");
        Self {
            rules,
            key: derive.finalize().into_bytes().into(),
            sms,
            template_id,
            issuing: (0..ISSUE_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    fn mac(&self, phone: &Phone, code: &LoginCode) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(phone.as_str().as_bytes());
        mac.update(b":");
        mac.update(code.expose().as_bytes());
        mac
    }

    /// Whether `code` is the one stored as `stored_hex` for `phone`, compared in constant time.
    fn matches(&self, phone: &Phone, code: &LoginCode, stored_hex: &str) -> bool {
        hex::decode(stored_hex).is_ok_and(|stored| self.mac(phone, code).verify_slice(&stored).is_ok())
    }

    /// Issues a code for `phone`, asked for from `network`, and sends it.
    pub async fn request(
        &self,
        db: &DatabaseConnection,
        phone: &Phone,
        network: &str,
        now: Timestamp,
    ) -> Result<CodeSent, IssueError> {
        let code = LoginCode::from_number(rand::rng().random_range(0..1_000_000));
        let state = self.rules.issue(now);
        let mac = hex::encode(self.mac(phone, &code).finalize().into_bytes());
        // Stored first, then counted with itself: see the module doc of engine::buyer_code.
        let stripe = {
            use std::hash::{BuildHasher as _, BuildHasherDefault, DefaultHasher};
            BuildHasherDefault::<DefaultHasher>::default().hash_one(network) as usize % self.issuing.len()
        };
        let issuing = self.issuing[stripe].lock().await;
        let id = buyer_codes::insert(db, phone, &mac, network, &state).await?;
        let counts = buyer_codes::issue_counts(db, phone, network, now, &self.rules).await?;
        if let Err(refusal) = self.rules.check_issue(counts, now) {
            buyer_codes::withdraw(db, id).await?;
            return Err(IssueError::Refused(refusal));
        }
        drop(issuing);
        let minutes = (self.rules.ttl_ms / 60_000).max(1).to_string();
        let params = [code.expose().to_owned(), minutes];
        if let Err(error) = self.sms.send(phone, &self.template_id, &params).await {
            // Not sent means not issued: it neither counts against a cap nor opens a session.
            buyer_codes::withdraw(db, id).await?;
            tracing::warn!(%error, "login code not sent");
            metrics::counter!("flashsale_login_codes_total", "outcome" => "sms_failed").increment(1);
            return Err(IssueError::SmsUnavailable);
        }
        metrics::counter!("flashsale_login_codes_total", "outcome" => "sent").increment(1);
        Ok(CodeSent {
            expires_at: state.expires_at,
            resend_after_secs: (self.rules.resend_after_ms / 1_000) as u64,
        })
    }

    /// Opens a session for `phone` if `code` is its pending code; the buyer it is for.
    pub async fn verify(
        &self,
        db: &DatabaseConnection,
        phone: &Phone,
        code: &LoginCode,
        network: &str,
        now: Timestamp,
    ) -> Result<BuyerId, VerifyError> {
        let stored = buyer_codes::newest(db, phone).await?;
        let matches = stored.as_ref().is_some_and(|s| self.matches(phone, code, &s.code_mac));
        let max = self.rules.max_wrong_attempts;
        let refused = |refusal: CodeRefusal| {
            metrics::counter!("flashsale_login_code_refusals_total").increment(1);
            VerifyError::Refused(refusal)
        };
        match self.rules.check_code(stored.as_ref().map(|s| &s.state), matches, now) {
            Ok(()) => {}
            Err(wrong @ CodeRefusal::Wrong { .. }) => {
                let stored = stored.as_ref().expect("a wrong try is a try on a stored code");
                // Counted in the database: a try that lost a race to the last one is a lock.
                return Err(if buyer_codes::record_wrong_attempt(db, stored.id, max).await? {
                    refused(wrong)
                } else {
                    refused(CodeRefusal::Locked)
                });
            }
            Err(other) => return Err(refused(other)),
        }
        let stored = stored.expect("an accepted code is stored");
        if !buyer_codes::mark_used(db, stored.id, now, network, max).await? {
            // Another request used it (or locked or outlived it) in the meantime.
            return Err(refused(CodeRefusal::NoCode));
        }
        if self.rules.network_hourly_sessions > 0 {
            let this_hour = buyer_codes::sessions_of_network_this_hour(db, network, now).await?;
            if let Err(cap) = self.rules.check_session(this_hour) {
                buyer_codes::unmark_used(db, stored.id).await?;
                return Err(VerifyError::TooManySessions(cap));
            }
        }
        Ok(repo::buyer_for_phone(db, phone, now).await?)
    }
}
