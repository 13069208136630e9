//! Login codes in storage. Every change is one guarded statement (`UPDATE … WHERE` the state
//! it expects), so concurrent tries on one code count each wrong try once and let at most one
//! right try through, on SQLite and Postgres alike. The digits are never stored, only their
//! keyed hash.

use engine::buyer_code::{CodeRules, CodeState, DAY_MS, HOUR_MS, IssueCounts};
use engine::{Phone, Timestamp};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::buyer_code::{self, Column, Entity};

/// A stored code: its row, its keyed hash and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    pub id: i64,
    pub code_mac: String,
    pub state: CodeState,
}

fn state_of(row: &buyer_code::Model) -> CodeState {
    CodeState {
        issued_at: Timestamp(row.issued_at),
        expires_at: Timestamp(row.expires_at),
        wrong_attempts: u32::try_from(row.wrong_attempts).unwrap_or(u32::MAX),
        used: row.used_at.is_some(),
    }
}

/// Stores a code just issued; its row id.
pub async fn insert(
    db: &DatabaseConnection,
    phone: &Phone,
    code_mac: &str,
    network: &str,
    state: &CodeState,
) -> Result<i64, DbErr> {
    let row = buyer_code::ActiveModel {
        id: NotSet,
        phone: Set(phone.as_str().to_owned()),
        code_mac: Set(code_mac.to_owned()),
        network: Set(network.to_owned()),
        issued_at: Set(state.issued_at.as_millis()),
        expires_at: Set(state.expires_at.as_millis()),
        wrong_attempts: Set(0),
        used_at: Set(None),
        used_network: Set(None),
    };
    Ok(Entity::insert(row).exec(db).await?.last_insert_id)
}

/// Takes back a code that went over a cap or could not be sent: it never counted.
pub async fn withdraw(db: &DatabaseConnection, id: i64) -> Result<(), DbErr> {
    Entity::delete_by_id(id).exec(db).await.map(drop)
}

/// The counts the rules need to judge the code just stored (itself included). A cap that is
/// off costs no query.
pub async fn issue_counts(
    db: &DatabaseConnection,
    phone: &Phone,
    network: &str,
    now: Timestamp,
    rules: &CodeRules,
) -> Result<IssueCounts, DbErr> {
    let of_phone = || Entity::find().filter(Column::Phone.eq(phone.as_str()));
    let mut counts = IssueCounts { phone_recent: 0, phone_recent_first: now, phone_day: 0, network_day: 0 };
    if rules.resend_after_ms > 0 {
        let recent: Vec<i64> = of_phone()
            .filter(Column::IssuedAt.gt(rules.resend_window_start(now).as_millis()))
            .select_only()
            .column(Column::IssuedAt)
            .into_tuple()
            .all(db)
            .await?;
        counts.phone_recent = recent.len() as u64;
        counts.phone_recent_first = recent.iter().min().copied().map_or(now, Timestamp);
    }
    let day_start = now.plus_millis(-DAY_MS).as_millis();
    if rules.phone_daily_cap > 0 {
        counts.phone_day = of_phone().filter(Column::IssuedAt.gt(day_start)).count(db).await?;
    }
    if rules.network_daily_cap > 0 {
        counts.network_day = Entity::find()
            .filter(Column::Network.eq(network))
            .filter(Column::IssuedAt.gt(day_start))
            .count(db)
            .await?;
    }
    Ok(counts)
}

/// The newest code of a phone: the only one that can open a session (a new code replaces the
/// ones before it).
pub async fn newest(db: &DatabaseConnection, phone: &Phone) -> Result<Option<StoredCode>, DbErr> {
    let row = Entity::find()
        .filter(Column::Phone.eq(phone.as_str()))
        .order_by_desc(Column::IssuedAt)
        .order_by_desc(Column::Id)
        .one(db)
        .await?;
    Ok(row.map(|row| StoredCode { id: row.id, code_mac: row.code_mac.clone(), state: state_of(&row) }))
}

/// Counts one wrong try, unless the code is used or its tries are already spent. Whether it
/// was counted.
pub async fn record_wrong_attempt(
    db: &DatabaseConnection,
    id: i64,
    max_wrong_attempts: u32,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::WrongAttempts, Expr::col(Column::WrongAttempts).add(1))
        .filter(Column::Id.eq(id))
        .filter(Column::UsedAt.is_null())
        .filter(Column::WrongAttempts.lt(i64::from(max_wrong_attempts)))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Uses the code for a session opened from `network`, if it is still pending, unlocked and
/// unexpired at `now`. Exactly one of concurrent right tries gets `true`.
pub async fn mark_used(
    db: &DatabaseConnection,
    id: i64,
    now: Timestamp,
    network: &str,
    max_wrong_attempts: u32,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now.as_millis()))
        .col_expr(Column::UsedNetwork, Expr::value(network))
        .filter(Column::Id.eq(id))
        .filter(Column::UsedAt.is_null())
        .filter(Column::WrongAttempts.lt(i64::from(max_wrong_attempts)))
        .filter(Column::ExpiresAt.gt(now.as_millis()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Puts a used code back to pending: its session was over the network's cap and not opened.
pub async fn unmark_used(db: &DatabaseConnection, id: i64) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(Option::<i64>::None))
        .col_expr(Column::UsedNetwork, Expr::value(Option::<String>::None))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await
        .map(drop)
}

/// Sessions opened from `network` in the hour before `now` (codes used from it).
pub async fn sessions_of_network_this_hour(
    db: &DatabaseConnection,
    network: &str,
    now: Timestamp,
) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::UsedNetwork.eq(network))
        .filter(Column::UsedAt.gt(now.plus_millis(-HOUR_MS).as_millis()))
        .count(db)
        .await
}
