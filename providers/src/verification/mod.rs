//! Identity and enterprise verification: asking an authority whether a person's name and ID
//! number belong together, and whether a business licence, its name and its legal person do.
//! The [`Verifier`] port, and its adapter for Tencent Cloud ([`tencent`]): FaceID
//! `IdCardVerification` for people and OCR `VerifyEnterpriseFourFactors` for enterprises,
//! both signed with TC3-HMAC-SHA256.
//!
//! An answer is a [`Verdict`]: the facts match, some named fields do not, or the service
//! cannot say (no record, its own outage, a daily limit). A failure to get an answer at all is
//! a [`VerificationError`]; the review treats it like "cannot say" and hands the merchant to a
//! person, never approves.

pub mod tencent;

use std::future::Future;
use std::pin::Pin;

use thiserror::Error;

/// A fact the service checks, named as in the qualification form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    BusinessName,
    LicenceNumber,
    LegalPersonName,
    LegalPersonIdNo,
}

impl Field {
    /// The form's field name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BusinessName => "business_name",
            Self::LicenceNumber => "licence_number",
            Self::LegalPersonName => "legal_person_name",
            Self::LegalPersonIdNo => "legal_person_id_no",
        }
    }
}

/// What the service said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every fact asked about belongs together.
    Match,
    /// These facts do not match the authority's records; `detail` is the service's words.
    Mismatch { fields: Vec<Field>, detail: String },
    /// The service could not decide (no record, its source down, a limit reached).
    Unsure { detail: String },
}

/// A person: name and resident ID number, as on the card.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonCheck {
    pub name: String,
    pub id_no: String,
}

/// An enterprise: its registered name and credit code, and its legal person.
#[derive(Clone, PartialEq, Eq)]
pub struct EnterpriseCheck {
    pub business_name: String,
    pub licence_number: String,
    pub legal_person_name: String,
    pub legal_person_id_no: String,
}

/// Why no verdict came back. Never carries the ID number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerificationError {
    /// Unreachable, timed out, or a 5xx, after every retry.
    #[error("verification service unreachable: {0}")]
    Transport(String),
    /// The service refused the request (keys, signature, parameters, not activated).
    #[error("verification service refused the request: {code}: {message}")]
    Refused { code: String, message: String },
    /// The answer was not what the protocol promises.
    #[error("verification service answered something unexpected: {0}")]
    BadAnswer(String),
}

pub type VerifyFuture<'a> = Pin<Box<dyn Future<Output = Result<Verdict, VerificationError>> + Send + 'a>>;

/// Asks an authority. Each call may be billed by the provider: callers ask once per submission.
pub trait Verifier: Send + Sync {
    fn person<'a>(&'a self, check: &'a PersonCheck) -> VerifyFuture<'a>;
    fn enterprise<'a>(&'a self, check: &'a EnterpriseCheck) -> VerifyFuture<'a>;
}
