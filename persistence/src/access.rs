//! Access control in storage: operator accounts, the audit log and token versions. Every
//! function returns plain records, never sea-orm models.

use engine::{MerchantId, Timestamp};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::{audit_entry, merchant_token_version, operator};
use crate::repo::{InsertError, classify};

/// An operator account as stored. The role is kept as text: what a role may do is the
/// gateway's policy, not storage's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorAccount {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub token_version: i64,
    pub disabled_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl From<operator::Model> for OperatorAccount {
    fn from(m: operator::Model) -> Self {
        Self {
            id: m.id,
            username: m.username,
            password_hash: m.password_hash,
            role: m.role,
            token_version: m.token_version,
            disabled_at: m.disabled_at.map(Timestamp),
            created_at: Timestamp(m.created_at),
        }
    }
}

pub async fn insert_operator(
    db: &DatabaseConnection,
    username: &str,
    password_hash: &str,
    role: &str,
    now: Timestamp,
) -> Result<i64, InsertError> {
    let row = operator::ActiveModel {
        id: NotSet,
        username: Set(username.to_owned()),
        password_hash: Set(password_hash.to_owned()),
        role: Set(role.to_owned()),
        token_version: Set(0),
        disabled_at: Set(None),
        created_at: Set(now.as_millis()),
    };
    let result = operator::Entity::insert(row).exec(db).await.map_err(classify)?;
    Ok(result.last_insert_id)
}

pub async fn operator_by_username(
    db: &DatabaseConnection,
    username: &str,
) -> Result<Option<OperatorAccount>, DbErr> {
    Ok(operator::Entity::find()
        .filter(operator::Column::Username.eq(username))
        .one(db)
        .await?
        .map(OperatorAccount::from))
}

pub async fn operator_by_id(db: &DatabaseConnection, id: i64) -> Result<Option<OperatorAccount>, DbErr> {
    Ok(operator::Entity::find_by_id(id).one(db).await?.map(OperatorAccount::from))
}

/// Every account, oldest first. Staff lists are small; no paging.
pub async fn operators(db: &DatabaseConnection) -> Result<Vec<OperatorAccount>, DbErr> {
    Ok(operator::Entity::find()
        .order_by_asc(operator::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(OperatorAccount::from)
        .collect())
}

pub async fn operator_count(db: &DatabaseConnection) -> Result<u64, DbErr> {
    operator::Entity::find().count(db).await
}

/// Revokes every token of the operator (and, with `disable_at`, closes the account); the
/// new version, or `None` when there is no such operator.
pub async fn revoke_operator(
    db: &DatabaseConnection,
    id: i64,
    disable_at: Option<Timestamp>,
) -> Result<Option<i64>, DbErr> {
    let mut update = operator::Entity::update_many()
        .col_expr(operator::Column::TokenVersion, Expr::col(operator::Column::TokenVersion).add(1))
        .filter(operator::Column::Id.eq(id));
    if let Some(at) = disable_at {
        update = update.col_expr(operator::Column::DisabledAt, Expr::value(at.as_millis()));
    }
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(None);
    }
    Ok(operator_by_id(db, id).await?.map(|o| o.token_version))
}

/// The version an operator's tokens must carry; `None` for an unknown or disabled account,
/// whose tokens are all invalid.
pub async fn operator_token_version(db: &DatabaseConnection, id: i64) -> Result<Option<i64>, DbErr> {
    Ok(operator_by_id(db, id).await?.filter(|o| o.disabled_at.is_none()).map(|o| o.token_version))
}

/// The version a merchant's tokens must carry (0 until the first "log out everywhere").
pub async fn merchant_token_version(db: &DatabaseConnection, merchant: MerchantId) -> Result<i64, DbErr> {
    let row = merchant_token_version::Entity::find_by_id(merchant.0).one(db).await?;
    Ok(row.map_or(0, |r| r.token_version))
}

/// Revokes every token of the merchant; the new version.
pub async fn revoke_merchant(db: &DatabaseConnection, merchant: MerchantId) -> Result<i64, DbErr> {
    let first = merchant_token_version::ActiveModel { merchant_id: Set(merchant.0), token_version: Set(1) };
    merchant_token_version::Entity::insert(first)
        .on_conflict(
            OnConflict::column(merchant_token_version::Column::MerchantId)
                .value(
                    merchant_token_version::Column::TokenVersion,
                    Expr::col((merchant_token_version::Entity, merchant_token_version::Column::TokenVersion))
                        .add(1),
                )
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    merchant_token_version(db, merchant).await
}

/// One audited operator action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    /// `None` for the command line.
    pub operator_id: Option<i64>,
    pub username: String,
    pub role: String,
    pub action: String,
    pub target: String,
    /// A JSON object.
    pub details: String,
    pub created_at: Timestamp,
}

impl From<audit_entry::Model> for AuditEntry {
    fn from(m: audit_entry::Model) -> Self {
        Self {
            id: m.id,
            operator_id: m.operator_id,
            username: m.username,
            role: m.role,
            action: m.action,
            target: m.target,
            details: m.details,
            created_at: Timestamp(m.created_at),
        }
    }
}

/// Appends `entry` (its `id` is assigned here); the id.
pub async fn insert_audit(db: &DatabaseConnection, entry: &AuditEntry) -> Result<i64, DbErr> {
    let row = audit_entry::ActiveModel {
        id: NotSet,
        operator_id: Set(entry.operator_id),
        username: Set(entry.username.clone()),
        role: Set(entry.role.clone()),
        action: Set(entry.action.clone()),
        target: Set(entry.target.clone()),
        details: Set(entry.details.clone()),
        created_at: Set(entry.created_at.as_millis()),
    };
    Ok(audit_entry::Entity::insert(row).exec(db).await?.last_insert_id)
}

/// Which audit rows to read: newest first, below `before_id`, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub operator_id: Option<i64>,
    pub action: Option<String>,
    pub before_id: Option<i64>,
    pub limit: u64,
}

pub async fn audit_entries(db: &DatabaseConnection, filter: &AuditFilter) -> Result<Vec<AuditEntry>, DbErr> {
    let mut query = audit_entry::Entity::find().order_by_desc(audit_entry::Column::Id).limit(filter.limit);
    if let Some(id) = filter.operator_id {
        query = query.filter(audit_entry::Column::OperatorId.eq(id));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_entry::Column::Action.eq(action.as_str()));
    }
    if let Some(before) = filter.before_id {
        query = query.filter(audit_entry::Column::Id.lt(before));
    }
    Ok(query.all(db).await?.into_iter().map(AuditEntry::from).collect())
}
