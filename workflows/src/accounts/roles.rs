//! Who the platform's own staff are and what each may do.
//!
//! The whole policy is [`OperatorRole::may`]:
//!
//! | duty | reviewer | finance | admin |
//! |---|---|---|---|
//! | [`DutyKind::AmlReview`]: payments held for anti-money-laundering review | ✓ | | ✓ |
//! | [`DutyKind::Kyc`]: a merchant's identity verification | ✓ | | ✓ |
//! | [`DutyKind::ContentReview`]: products held for banned words | ✓ | | ✓ |
//! | [`DutyKind::Finance`]: withdrawals, reconciliation, the ledger check, active query and refunds, notification dead letters | | ✓ | ✓ |
//! | [`DutyKind::Partners`]: MCN partners and who shares a merchant's sales | | | ✓ |
//! | [`DutyKind::Admin`]: operator accounts, revocation, reading the audit log | | | ✓ |
//!
//! Partners and splits are the admin's alone: they decide where a merchant's money goes, and
//! the one who pays money out (finance) must not also be able to redirect it.

use persistence::access::AuditEntry;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
            (Self::Admin, _) | (Self::Reviewer, AmlReview | Kyc | ContentReview) | (Self::Finance, Finance)
        )
    }
}

/// The duties of [`OperatorRole::may`]'s table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DutyKind {
    AmlReview,
    Kyc,
    ContentReview,
    Finance,
    Partners,
    Admin,
}

/// Who an operator token speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staff {
    pub id: i64,
    pub username: String,
    pub role: OperatorRole,
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

/// A username outside the rule of [`username`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("username must be 3 to 32 of a-z, 0-9, '.', '_', '-', starting with a letter")]
pub struct InvalidUsername;

/// An operator username: 3 to 32 of `a-z 0-9 . _ -`, starting with a letter.
pub fn username(raw: &str) -> Result<String, InvalidUsername> {
    let name = raw.trim();
    let valid = (3..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !valid {
        return Err(InvalidUsername);
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
