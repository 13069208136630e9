//! Operator accounts, created and revoked from the operator console or from the command line
//! (`flashsale operator …`, the only door before the first account exists): each change is
//! written with its audit row, by whoever made it (`None`: the command line).

use engine::Timestamp;
use persistence::DbErr;
use persistence::access;
use persistence::repo::InsertError;
use serde_json::json;

use super::roles::{OperatorRole, Staff, entry};

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("an operator named {0} already exists")]
    Duplicate(String),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// A new account named `username` (already checked by [`super::roles::username`]) with the
/// password hash `hash`; its id.
pub async fn create(
    db: &persistence::DatabaseConnection,
    by: Option<&Staff>,
    username: &str,
    role: OperatorRole,
    hash: &str,
    now: Timestamp,
) -> Result<i64, CreateError> {
    let id = match access::insert_operator(db, username, hash, role.as_str(), now).await {
        Ok(id) => id,
        Err(InsertError::Duplicate) => return Err(CreateError::Duplicate(username.to_owned())),
        Err(InsertError::Db(e)) => return Err(e.into()),
    };
    let details = json!({ "username": username, "role": role.as_str() });
    access::insert_audit(db, &entry(by, "operator.create", format!("operator:{id}"), details, now)).await?;
    Ok(id)
}

/// Every token of operator `id` stops working (its token version is bumped); with `disable`
/// the account can no longer log in. The new version, or `None` for no such operator.
pub async fn revoke(
    db: &persistence::DatabaseConnection,
    by: Option<&Staff>,
    id: i64,
    disable: bool,
    now: Timestamp,
) -> Result<Option<i64>, DbErr> {
    let Some(version) = access::revoke_operator(db, id, disable.then_some(now)).await? else {
        return Ok(None);
    };
    let details = json!({ "token_version": version, "disabled": disable });
    access::insert_audit(db, &entry(by, "operator.revoke", format!("operator:{id}"), details, now)).await?;
    Ok(Some(version))
}
