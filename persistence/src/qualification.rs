//! Merchant qualification in storage: the submitted qualification and its review, document
//! records, bans and the numbers they bar. Functions answer in records of engine types, never
//! sea-orm models.
//!
//! Each submission raises the row's `revision`; a review result is written only for the
//! revision it reviewed and only from the state it expected (a guarded `UPDATE`), so a slow
//! review of an older submission can never overwrite the verdict on a newer one, and an
//! operator's decision never races the automated review.

use engine::qualification::{EntityType, FieldReason, Permit, Qualification, ReviewState};
use engine::{MerchantId, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::access::AuditEntry;
use crate::entities::{audit_entry, banned_number, merchant_ban, merchant_document, merchant_qualification};
use crate::repo::{InsertError, classify};

/// A qualification as stored, with its review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualificationRecord {
    pub merchant_id: MerchantId,
    pub revision: i64,
    pub entity_type: EntityType,
    pub business_name: Option<String>,
    pub licence_number: Option<String>,
    pub legal_person_name: String,
    pub legal_person_id_no: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub categories: Vec<String>,
    pub permits: Vec<Permit>,
    pub review_state: ReviewState,
    pub review_reasons: Vec<FieldReason>,
    pub submitted_at: Timestamp,
    pub reviewed_at: Option<Timestamp>,
}

fn corrupt(what: &str, merchant_id: i64) -> DbErr {
    DbErr::Custom(format!("merchant {merchant_id}: stored {what} is not readable"))
}

impl TryFrom<merchant_qualification::Model> for QualificationRecord {
    type Error = DbErr;
    fn try_from(m: merchant_qualification::Model) -> Result<Self, DbErr> {
        let id = m.merchant_id;
        Ok(Self {
            merchant_id: MerchantId(id),
            revision: m.revision,
            entity_type: EntityType::parse(&m.entity_type).ok_or_else(|| corrupt("entity type", id))?,
            business_name: m.business_name,
            licence_number: m.licence_number,
            legal_person_name: m.legal_person_name,
            legal_person_id_no: m.legal_person_id_no,
            contact_name: m.contact_name,
            contact_phone: m.contact_phone,
            categories: serde_json::from_str(&m.categories).map_err(|_| corrupt("categories", id))?,
            permits: serde_json::from_str(&m.permits).map_err(|_| corrupt("permits", id))?,
            review_state: ReviewState::parse(&m.review_state).ok_or_else(|| corrupt("review state", id))?,
            review_reasons: serde_json::from_str(&m.review_reasons).map_err(|_| corrupt("reasons", id))?,
            submitted_at: Timestamp(m.submitted_at),
            reviewed_at: m.reviewed_at.map(Timestamp),
        })
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain values serialize")
}

/// Stores a checked qualification as the merchant's current one, `pending` review, replacing
/// any earlier one; its revision.
pub async fn submit(
    db: &DatabaseConnection,
    merchant: MerchantId,
    qualification: &Qualification,
    now: Timestamp,
) -> Result<i64, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    // Write first: the transaction takes the write lock (SQLite waits for it; a read first
    // could not be upgraded while the journal writer commits) and the row's lock (Postgres).
    merchant_qualification::Entity::update_many()
        .col_expr(
            merchant_qualification::Column::Revision,
            Expr::col(merchant_qualification::Column::Revision),
        )
        .filter(merchant_qualification::Column::MerchantId.eq(merchant.0))
        .exec(&txn)
        .await?;
    let current: Option<i64> = merchant_qualification::Entity::find_by_id(merchant.0)
        .select_only()
        .column(merchant_qualification::Column::Revision)
        .into_tuple()
        .one(&txn)
        .await?;
    let revision = current.unwrap_or(0) + 1;
    let row = merchant_qualification::ActiveModel {
        merchant_id: Set(merchant.0),
        revision: Set(revision),
        entity_type: Set(qualification.entity_type.as_str().to_owned()),
        business_name: Set(qualification.business_name.clone()),
        licence_number: Set(qualification.licence_number.as_ref().map(|c| c.as_str().to_owned())),
        legal_person_name: Set(qualification.legal_person_name.clone()),
        legal_person_id_no: Set(qualification.legal_person_id.as_str().to_owned()),
        contact_name: Set(qualification.contact_name.clone()),
        contact_phone: Set(qualification.contact_phone.as_str().to_owned()),
        categories: Set(json(&qualification.categories)),
        permits: Set(json(&qualification.permits)),
        review_state: Set(ReviewState::Pending.as_str().to_owned()),
        review_reasons: Set("[]".to_owned()),
        submitted_at: Set(now.as_millis()),
        reviewed_at: Set(None),
    };
    match current {
        None => {
            merchant_qualification::Entity::insert(row).exec(&txn).await?;
        }
        Some(previous) => {
            // Guarded by the revision read: of two submissions at once, one fails here and
            // the merchant retries, rather than both believing they are current.
            let updated = merchant_qualification::Entity::update_many()
                .set(row)
                .filter(merchant_qualification::Column::MerchantId.eq(merchant.0))
                .filter(merchant_qualification::Column::Revision.eq(previous))
                .exec(&txn)
                .await?;
            if updated.rows_affected != 1 {
                return Err(DbErr::Custom("qualification submitted twice at once".into()));
            }
        }
    }
    txn.commit().await?;
    Ok(revision)
}

pub async fn qualification(
    db: &DatabaseConnection,
    merchant: MerchantId,
) -> Result<Option<QualificationRecord>, DbErr> {
    merchant_qualification::Entity::find_by_id(merchant.0)
        .one(db)
        .await?
        .map(QualificationRecord::try_from)
        .transpose()
}

/// The review state and reasons the merchant sees (`none` and no reasons before a submission).
pub async fn review_of(
    db: &DatabaseConnection,
    merchant: MerchantId,
) -> Result<(ReviewState, Vec<FieldReason>), DbErr> {
    Ok(qualification(db, merchant)
        .await?
        .map_or((ReviewState::None, Vec::new()), |q| (q.review_state, q.review_reasons)))
}

/// Writes a review's outcome for `revision`, if the qualification is still that revision and
/// in one of `from`. Whether it was written.
pub async fn record_review(
    db: &DatabaseConnection,
    merchant: MerchantId,
    revision: i64,
    from: &[ReviewState],
    to: ReviewState,
    reasons: &[FieldReason],
    now: Timestamp,
) -> Result<bool, DbErr> {
    let updated = merchant_qualification::Entity::update_many()
        .col_expr(merchant_qualification::Column::ReviewState, Expr::value(to.as_str()))
        .col_expr(merchant_qualification::Column::ReviewReasons, Expr::value(json(&reasons)))
        .col_expr(merchant_qualification::Column::ReviewedAt, Expr::value(now.as_millis()))
        .filter(merchant_qualification::Column::MerchantId.eq(merchant.0))
        .filter(merchant_qualification::Column::Revision.eq(revision))
        .filter(merchant_qualification::Column::ReviewState.is_in(from.iter().map(|s| s.as_str())))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Qualifications in `state`, oldest submission first, at most `limit` (the operators' queue,
/// or `pending` ones left by a crash).
pub async fn in_state(
    db: &DatabaseConnection,
    state: ReviewState,
    submitted_before: Timestamp,
    limit: u64,
) -> Result<Vec<QualificationRecord>, DbErr> {
    merchant_qualification::Entity::find()
        .filter(merchant_qualification::Column::ReviewState.eq(state.as_str()))
        .filter(merchant_qualification::Column::SubmittedAt.lt(submitted_before.as_millis()))
        .order_by_asc(merchant_qualification::Column::SubmittedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(QualificationRecord::try_from)
        .collect()
}

/// The kinds of number a ban bars, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    LicenceNumber,
    IdNo,
}

impl NumberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LicenceNumber => "licence_number",
            Self::IdNo => "id_no",
        }
    }
}

/// Whether another merchant's approved (or awaiting a person) qualification holds `number`.
pub async fn number_held_by_another(
    db: &DatabaseConnection,
    kind: NumberKind,
    number: &str,
    except: MerchantId,
) -> Result<bool, DbErr> {
    let column = match kind {
        NumberKind::LicenceNumber => merchant_qualification::Column::LicenceNumber,
        NumberKind::IdNo => merchant_qualification::Column::LegalPersonIdNo,
    };
    let held = merchant_qualification::Entity::find()
        .filter(column.eq(number))
        .filter(merchant_qualification::Column::MerchantId.ne(except.0))
        .filter(
            merchant_qualification::Column::ReviewState
                .is_in([ReviewState::Approved.as_str(), ReviewState::Manual.as_str()]),
        )
        .select_only()
        .column(merchant_qualification::Column::MerchantId)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(held.is_some())
}

// ---- documents ------------------------------------------------------------------------------

/// A document image as stored: where it is in the object store and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRecord {
    pub id: i64,
    pub merchant_id: MerchantId,
    pub kind: String,
    pub path: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub width: u32,
    pub height: u32,
    pub sha256: String,
    pub uploaded_at: Timestamp,
}

impl From<merchant_document::Model> for DocumentRecord {
    fn from(m: merchant_document::Model) -> Self {
        Self {
            id: m.id,
            merchant_id: MerchantId(m.merchant_id),
            kind: m.kind,
            path: m.path,
            content_type: m.content_type,
            size_bytes: u64::try_from(m.size_bytes).unwrap_or(0),
            width: u32::try_from(m.width).unwrap_or(0),
            height: u32::try_from(m.height).unwrap_or(0),
            sha256: m.sha256,
            uploaded_at: Timestamp(m.uploaded_at),
        }
    }
}

/// Stores `document` (its `id` is assigned here); the id.
pub async fn insert_document(db: &DatabaseConnection, document: &DocumentRecord) -> Result<i64, DbErr> {
    let row = merchant_document::ActiveModel {
        id: NotSet,
        merchant_id: Set(document.merchant_id.0),
        kind: Set(document.kind.clone()),
        path: Set(document.path.clone()),
        content_type: Set(document.content_type.clone()),
        size_bytes: Set(i64::try_from(document.size_bytes).unwrap_or(i64::MAX)),
        width: Set(i32::try_from(document.width).unwrap_or(i32::MAX)),
        height: Set(i32::try_from(document.height).unwrap_or(i32::MAX)),
        sha256: Set(document.sha256.clone()),
        uploaded_at: Set(document.uploaded_at.as_millis()),
    };
    Ok(merchant_document::Entity::insert(row).exec(db).await?.last_insert_id)
}

/// A merchant's documents, newest first, at most `limit`.
pub async fn documents_of(
    db: &DatabaseConnection,
    merchant: MerchantId,
    limit: u64,
) -> Result<Vec<DocumentRecord>, DbErr> {
    Ok(merchant_document::Entity::find()
        .filter(merchant_document::Column::MerchantId.eq(merchant.0))
        .order_by_desc(merchant_document::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(DocumentRecord::from)
        .collect())
}

/// How many documents a merchant has (to bound uploads).
pub async fn document_count(db: &DatabaseConnection, merchant: MerchantId) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait as _;
    merchant_document::Entity::find()
        .filter(merchant_document::Column::MerchantId.eq(merchant.0))
        .count(db)
        .await
}

// ---- bans -----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanRecord {
    pub id: i64,
    pub merchant_id: MerchantId,
    pub reason: String,
    pub banned_by: String,
    pub banned_at: Timestamp,
    pub lifted_at: Option<Timestamp>,
    pub lifted_by: Option<String>,
    pub lift_reason: Option<String>,
}

impl From<merchant_ban::Model> for BanRecord {
    fn from(m: merchant_ban::Model) -> Self {
        Self {
            id: m.id,
            merchant_id: MerchantId(m.merchant_id),
            reason: m.reason,
            banned_by: m.banned_by,
            banned_at: Timestamp(m.banned_at),
            lifted_at: m.lifted_at.map(Timestamp),
            lifted_by: m.lifted_by,
            lift_reason: m.lift_reason,
        }
    }
}

pub(crate) async fn audit(conn: &impl ConnectionTrait, entry: &AuditEntry) -> Result<(), DbErr> {
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
    audit_entry::Entity::insert(row).exec(conn).await.map(drop)
}

/// Takes the write lock first (SQLite waits for it, where a read could not be upgraded while
/// the journal writer commits) and the locks of the merchant's ban rows (Postgres).
async fn lock_bans(conn: &impl ConnectionTrait, merchant: MerchantId) -> Result<(), DbErr> {
    merchant_ban::Entity::update_many()
        .col_expr(merchant_ban::Column::MerchantId, Expr::col(merchant_ban::Column::MerchantId))
        .filter(merchant_ban::Column::MerchantId.eq(merchant.0))
        .exec(conn)
        .await
        .map(drop)
}

/// The merchant's ban in force, if any.
pub async fn active_ban(db: &impl ConnectionTrait, merchant: MerchantId) -> Result<Option<BanRecord>, DbErr> {
    Ok(merchant_ban::Entity::find()
        .filter(merchant_ban::Column::MerchantId.eq(merchant.0))
        .filter(merchant_ban::Column::LiftedAt.is_null())
        .one(db)
        .await?
        .map(BanRecord::from))
}

/// Bans a merchant with `reason`, barring `numbers` from signing up again, and writes `audit`
/// and the merchant's `merchant_banned` notice, all in one transaction; the ban's id. `Duplicate` if a ban is already in force.
pub async fn ban(
    db: &DatabaseConnection,
    merchant: MerchantId,
    reason: &str,
    numbers: &[(NumberKind, String)],
    entry: &AuditEntry,
    now: Timestamp,
) -> Result<i64, InsertError> {
    let txn = crate::db::begin_write(db).await?;
    lock_bans(&txn, merchant).await?;
    if active_ban(&txn, merchant).await?.is_some() {
        return Err(InsertError::Duplicate);
    }
    let row = merchant_ban::ActiveModel {
        id: NotSet,
        merchant_id: Set(merchant.0),
        reason: Set(reason.to_owned()),
        banned_by: Set(entry.username.clone()),
        banned_at: Set(now.as_millis()),
        lifted_at: Set(None),
        lifted_by: Set(None),
        lift_reason: Set(None),
    };
    let ban_id = merchant_ban::Entity::insert(row).exec(&txn).await.map_err(classify)?.last_insert_id;
    for (kind, number) in numbers {
        let row = banned_number::ActiveModel {
            id: NotSet,
            ban_id: Set(ban_id),
            kind: Set(kind.as_str().to_owned()),
            number: Set(number.clone()),
        };
        banned_number::Entity::insert(row).exec(&txn).await?;
    }
    audit(&txn, entry).await?;
    let notice = engine::notification::Notice::merchant_banned(merchant, reason, ban_id, now);
    crate::outbox::enqueue(&txn, &notice).await?;
    txn.commit().await?;
    Ok(ban_id)
}

/// Lifts the merchant's ban in force and writes `audit`, in one transaction; the lifted ban's
/// id, `None` if there was none (nothing written then).
pub async fn lift_ban(
    db: &DatabaseConnection,
    merchant: MerchantId,
    reason: &str,
    entry: &AuditEntry,
    now: Timestamp,
) -> Result<Option<i64>, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    lock_bans(&txn, merchant).await?;
    let Some(current) = active_ban(&txn, merchant).await? else { return Ok(None) };
    let updated = merchant_ban::Entity::update_many()
        .col_expr(merchant_ban::Column::LiftedAt, Expr::value(now.as_millis()))
        .col_expr(merchant_ban::Column::LiftedBy, Expr::value(entry.username.clone()))
        .col_expr(merchant_ban::Column::LiftReason, Expr::value(reason.to_owned()))
        .filter(merchant_ban::Column::Id.eq(current.id))
        .filter(merchant_ban::Column::LiftedAt.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(None);
    }
    audit(&txn, entry).await?;
    txn.commit().await?;
    Ok(Some(current.id))
}

/// Whether `number` is barred by a ban in force.
pub async fn number_is_banned(
    db: &DatabaseConnection,
    kind: NumberKind,
    number: &str,
) -> Result<bool, DbErr> {
    let ban_ids: Vec<i64> = banned_number::Entity::find()
        .filter(banned_number::Column::Kind.eq(kind.as_str()))
        .filter(banned_number::Column::Number.eq(number))
        .select_only()
        .column(banned_number::Column::BanId)
        .into_tuple()
        .all(db)
        .await?;
    if ban_ids.is_empty() {
        return Ok(false);
    }
    let in_force = merchant_ban::Entity::find()
        .filter(merchant_ban::Column::Id.is_in(ban_ids))
        .filter(merchant_ban::Column::LiftedAt.is_null())
        .select_only()
        .column(merchant_ban::Column::Id)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(in_force.is_some())
}

/// A merchant's bans, newest first (in force or lifted), at most `limit`.
pub async fn bans_of(
    db: &DatabaseConnection,
    merchant: MerchantId,
    limit: u64,
) -> Result<Vec<BanRecord>, DbErr> {
    Ok(merchant_ban::Entity::find()
        .filter(merchant_ban::Column::MerchantId.eq(merchant.0))
        .order_by_desc(merchant_ban::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(BanRecord::from)
        .collect())
}

#[cfg(test)]
mod tests;
