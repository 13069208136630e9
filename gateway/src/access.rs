//! What each operator role may do, and the audit log of what operators did.
//!
//! A route names the duty it needs in its signature (`OperatorAuth<Finance>`), so a route
//! without a role check does not compile. The whole policy is [`OperatorRole::may`]:
//!
//! | duty | reviewer | finance | admin |
//! |---|---|---|---|
//! | [`AmlReview`]: payments held for anti-money-laundering review | ✓ | | ✓ |
//! | [`Kyc`]: a merchant's identity verification | ✓ | | ✓ |
//! | [`Finance`]: withdrawals, reconciliation, the ledger check, active query and refunds | | ✓ | ✓ |
//! | [`Partners`]: MCN partners and who shares a merchant's sales | | | ✓ |
//! | [`Admin`]: operator accounts, revocation, reading the audit log | | | ✓ |
//!
//! Partners and splits are the admin's alone: they decide where a merchant's money goes, and
//! the one who pays money out (finance) must not also be able to redirect it.

use std::marker::PhantomData;

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use persistence::access::{self, AuditEntry};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::AppState;
use crate::auth::{self, Staff};
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OperatorRole {
    /// Reviews held payments and merchants' identities.
    Reviewer,
    /// Pays out withdrawals and keeps the books.
    Finance,
    /// Everything, and the operator accounts.
    Admin,
}

impl OperatorRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reviewer => "reviewer",
            Self::Finance => "finance",
            Self::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "reviewer" => Some(Self::Reviewer),
            "finance" => Some(Self::Finance),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn may(self, duty: DutyKind) -> bool {
        use DutyKind::*;
        matches!(
            (self, duty),
            (Self::Admin, _) | (Self::Reviewer, AmlReview | Kyc) | (Self::Finance, Finance)
        )
    }
}

/// The duties of [`OperatorRole::may`]'s table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DutyKind {
    AmlReview,
    Kyc,
    Finance,
    Partners,
    Admin,
}

/// A duty as a type, for [`OperatorAuth`].
pub trait Duty {
    const KIND: DutyKind;
    /// Who may, for the 403 message.
    const ROLES: &'static str;
}

macro_rules! duty {
    ($name:ident, $roles:literal) => {
        pub struct $name;
        impl Duty for $name {
            const KIND: DutyKind = DutyKind::$name;
            const ROLES: &'static str = $roles;
        }
    };
}

duty!(AmlReview, "reviewer or admin");
duty!(Kyc, "reviewer or admin");
duty!(Finance, "finance or admin");
duty!(Partners, "admin");
duty!(Admin, "admin");

/// A request by an operator whose role may do `D`; others get 403.
pub struct OperatorAuth<D> {
    pub staff: Staff,
    duty: PhantomData<D>,
}

impl<D: Duty + 'static> FromRequest for OperatorAuth<D> {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let staff = auth::operator(req);
        Box::pin(async move {
            let staff = staff.await?;
            if !staff.role.may(D::KIND) {
                return Err(ApiError::forbidden(format!("this needs the {} role", D::ROLES)));
            }
            Ok(OperatorAuth { staff, duty: PhantomData })
        })
    }
}

impl<D> OperatorAuth<D> {
    /// Writes the audit row of an action that was done. A failure to write it is an error
    /// answer (logged with the action), so an unrecorded action never looks like success.
    pub async fn audit(
        &self,
        state: &AppState,
        action: &str,
        target: impl Into<String>,
        details: Value,
    ) -> Result<(), ApiError> {
        record(state, Some(&self.staff), action, target.into(), details).await
    }
}

/// Appends one audit row; `staff` is `None` for the command line.
pub async fn record(
    state: &AppState,
    staff: Option<&Staff>,
    action: &str,
    target: String,
    details: Value,
) -> Result<(), ApiError> {
    let entry = entry(staff, action, target, details, state.clock.now());
    access::insert_audit(&state.db, &entry).await.map_err(|error| {
        tracing::error!(%error, action, target = %entry.target, "audit row not written");
        ApiError::internal(format!("audit log: {error}"))
    })?;
    Ok(())
}

/// The row for `action`, before it has an id.
pub fn entry(
    staff: Option<&Staff>,
    action: &str,
    target: String,
    details: Value,
    now: engine::Timestamp,
) -> AuditEntry {
    AuditEntry {
        id: 0,
        operator_id: staff.map(|s| s.id),
        username: staff.map_or("cli".into(), |s| s.username.clone()),
        role: staff.map_or("cli", |s| s.role.as_str()).into(),
        action: action.into(),
        target,
        details: details.to_string(),
        created_at: now,
    }
}

/// An operator username: 3 to 32 of `a-z 0-9 . _ -`, starting with a letter.
pub fn username(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let valid = (3..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !valid {
        return Err(ApiError::invalid(
            "invalid_username",
            "username must be 3 to 32 of a-z, 0-9, '.', '_', '-', starting with a letter",
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_table() {
        use DutyKind::*;
        let duties = [AmlReview, Kyc, Finance, Partners, Admin];
        let allowed =
            |role: OperatorRole| duties.iter().filter(|d| role.may(**d)).copied().collect::<Vec<_>>();
        assert_eq!(allowed(OperatorRole::Reviewer), [AmlReview, Kyc]);
        assert_eq!(allowed(OperatorRole::Finance), [Finance]);
        assert_eq!(allowed(OperatorRole::Admin), duties);
        for role in [OperatorRole::Reviewer, OperatorRole::Finance, OperatorRole::Admin] {
            assert_eq!(OperatorRole::parse(role.as_str()), Some(role));
        }
    }

    #[test]
    fn usernames() {
        assert_eq!(username(" li.na ").unwrap(), "li.na");
        for bad in ["ab", "Admin", "1abc", "a b c", "名字名字", &"a".repeat(33)] {
            assert!(username(bad).is_err(), "{bad}");
        }
    }
}
