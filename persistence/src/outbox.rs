//! The notification outbox. A notice is written by [`enqueue`] on the same connection or
//! transaction as the change it reports (the journal writer's batch for a paid order;
//! [`change_and_enqueue`] for a change made here), one row per channel, unique by its dedupe
//! key: a retried batch or a repeated request writes nothing twice, and a rolled-back change
//! leaves no message.
//!
//! Delivery is at least once. A worker reads due rows ([`due`]) and takes each with a guarded
//! update ([`claim`]) that moves its next attempt time to the end of a lease: of two workers
//! that read the same row, one claims it; a worker that dies holding it leaves it to be taken
//! again when the lease ends. The outcome is a guarded update too ([`mark_delivered`],
//! [`record_failure`], [`mark_skipped`]). A claim stamps `in_flight_since` and every outcome
//! clears it, so a message taken again with the stamp still there is one whose worker died
//! mid-attempt: the worker asks the provider's receipts before sending it again (SMS), and
//! only a provider without receipts (or one that is slow to report) can get it twice.

use std::collections::BTreeMap;

use engine::notification::{AfterFailure, Notice, NoticeChannel, NoticeKind, OutboxState};
use engine::{BuyerId, OrderId, Phone, Timestamp};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::outbox_message::{self, Column, Entity};
use crate::entities::{buyer, order};

/// Longest error text kept on a row.
const ERROR_MAX_CHARS: usize = 500;

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: i64,
    pub dedupe_key: String,
    pub channel: NoticeChannel,
    pub kind: NoticeKind,
    pub order_id: OrderId,
    pub params: BTreeMap<String, String>,
    pub state: OutboxState,
    /// Attempts made so far.
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    /// Set while an attempt is under way. Found set by [`claim`]'s caller, it means the last
    /// attempt was cut short (its worker died) and the provider may have the message already.
    pub in_flight_since: Option<Timestamp>,
}

fn message_of(row: outbox_message::Model) -> Result<OutboxMessage, DbErr> {
    let bad = |what: &str| DbErr::Custom(format!("outbox message {}: bad {what}", row.id));
    Ok(OutboxMessage {
        id: row.id,
        channel: NoticeChannel::parse(&row.channel).ok_or_else(|| bad("channel"))?,
        kind: NoticeKind::parse(&row.kind).ok_or_else(|| bad("kind"))?,
        order_id: OrderId(row.order_id),
        params: serde_json::from_str(&row.params).map_err(|_| bad("params"))?,
        state: OutboxState::parse(&row.state).ok_or_else(|| bad("state"))?,
        attempts: u32::try_from(row.attempts).map_err(|_| bad("attempts"))?,
        next_attempt_at: Timestamp(row.next_attempt_at),
        last_error: row.last_error,
        created_at: Timestamp(row.created_at),
        delivered_at: row.delivered_at.map(Timestamp),
        in_flight_since: row.in_flight_since.map(Timestamp),
        dedupe_key: row.dedupe_key,
    })
}

/// Writes `notice` for every channel on `conn` (a transaction, to share the fate of the
/// change); how many rows were new (a key already there is left as it is).
pub async fn enqueue(conn: &impl ConnectionTrait, notice: &Notice) -> Result<u64, DbErr> {
    let params = serde_json::to_string(&notice.params).expect("a map of strings serializes");
    let rows = NoticeChannel::ALL.map(|channel| outbox_message::ActiveModel {
        id: NotSet,
        dedupe_key: Set(notice.dedupe_key(channel)),
        channel: Set(channel.as_str().to_owned()),
        kind: Set(notice.kind.as_str().to_owned()),
        order_id: Set(notice.order_id.0),
        params: Set(params.clone()),
        state: Set(OutboxState::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(notice.at.as_millis()),
        last_error: Set(None),
        created_at: Set(notice.at.as_millis()),
        updated_at: Set(notice.at.as_millis()),
        delivered_at: Set(None),
        in_flight_since: Set(None),
    });
    Entity::insert_many(rows)
        .on_conflict(OnConflict::column(Column::DedupeKey).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await
}

/// Runs `change` in a transaction and writes the notices it returns in the same one: both
/// are committed, or neither.
pub async fn change_and_enqueue<T, E, F>(db: &DatabaseConnection, change: F) -> Result<T, E>
where
    F: AsyncFnOnce(&DatabaseTransaction) -> Result<(T, Vec<Notice>), E>,
    E: From<DbErr>,
{
    let txn = crate::db::begin_write(db).await?;
    let (value, notices) = change(&txn).await?;
    for notice in &notices {
        enqueue(&txn, notice).await?;
    }
    txn.commit().await?;
    Ok(value)
}

/// Pending messages whose time has come, oldest due first, at most `limit`.
pub async fn due(db: &DatabaseConnection, now: Timestamp, limit: u64) -> Result<Vec<OutboxMessage>, DbErr> {
    Entity::find()
        .filter(Column::State.eq(OutboxState::Pending.as_str()))
        .filter(Column::NextAttemptAt.lte(now.as_millis()))
        .order_by_asc(Column::NextAttemptAt)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(message_of)
        .collect()
}

/// Takes `message` as read by [`due`] until `lease_until`; false if another worker took it
/// (or it changed) since.
pub async fn claim(
    db: &DatabaseConnection,
    message: &OutboxMessage,
    lease_until: Timestamp,
    now: Timestamp,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::NextAttemptAt, Expr::value(lease_until.as_millis()))
        .col_expr(Column::UpdatedAt, Expr::value(now.as_millis()))
        .col_expr(Column::InFlightSince, Expr::value(now.as_millis()))
        .filter(Column::Id.eq(message.id))
        .filter(Column::State.eq(OutboxState::Pending.as_str()))
        .filter(Column::NextAttemptAt.eq(message.next_attempt_at.as_millis()))
        .filter(Column::Attempts.eq(i64::from(message.attempts)))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// The provider accepted it.
pub async fn mark_delivered(db: &DatabaseConnection, id: i64, now: Timestamp) -> Result<bool, DbErr> {
    finish(db, id, OutboxState::Delivered, None, now).await
}

/// Not to be sent (no recipient on the channel, no template for the kind), and why.
pub async fn mark_skipped(
    db: &DatabaseConnection,
    id: i64,
    reason: &str,
    now: Timestamp,
) -> Result<bool, DbErr> {
    finish(db, id, OutboxState::Skipped, Some(reason), now).await
}

async fn finish(
    db: &DatabaseConnection,
    id: i64,
    state: OutboxState,
    reason: Option<&str>,
    now: Timestamp,
) -> Result<bool, DbErr> {
    let mut update = Entity::update_many()
        .col_expr(Column::State, Expr::value(state.as_str()))
        .col_expr(Column::UpdatedAt, Expr::value(now.as_millis()))
        .col_expr(Column::InFlightSince, Expr::value(Option::<i64>::None));
    if state == OutboxState::Delivered {
        update = update.col_expr(Column::DeliveredAt, Expr::value(now.as_millis()));
    }
    if let Some(reason) = reason {
        update = update.col_expr(Column::LastError, Expr::value(cut(reason)));
    }
    let updated = update
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(OutboxState::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

fn cut(error: &str) -> String {
    error.chars().take(ERROR_MAX_CHARS).collect()
}

/// A failed attempt that made `attempts` in all: retried at the time the rules chose, or a
/// dead letter.
pub async fn record_failure(
    db: &DatabaseConnection,
    id: i64,
    attempts: u32,
    outcome: AfterFailure,
    error: &str,
    now: Timestamp,
) -> Result<bool, DbErr> {
    let (state, next) = match outcome {
        AfterFailure::RetryAt(at) => (OutboxState::Pending, at),
        AfterFailure::Dead => (OutboxState::Dead, now),
    };
    let updated = Entity::update_many()
        .col_expr(Column::State, Expr::value(state.as_str()))
        .col_expr(Column::Attempts, Expr::value(i64::from(attempts)))
        .col_expr(Column::NextAttemptAt, Expr::value(next.as_millis()))
        .col_expr(Column::LastError, Expr::value(cut(error)))
        .col_expr(Column::UpdatedAt, Expr::value(now.as_millis()))
        .col_expr(Column::InFlightSince, Expr::value(Option::<i64>::None))
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(OutboxState::Pending.as_str()))
        .filter(Column::Attempts.eq(i64::from(attempts.saturating_sub(1))))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Dead letters after `after_id`, oldest first, at most `limit`: what operators see.
pub async fn dead_letters(
    db: &DatabaseConnection,
    after_id: i64,
    limit: u64,
) -> Result<Vec<OutboxMessage>, DbErr> {
    Entity::find()
        .filter(Column::State.eq(OutboxState::Dead.as_str()))
        .filter(Column::Id.gt(after_id))
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(message_of)
        .collect()
}

/// Gives a dead letter its attempts back, due now; false if it is not a dead letter.
pub async fn replay(db: &DatabaseConnection, id: i64, now: Timestamp) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::State, Expr::value(OutboxState::Pending.as_str()))
        .col_expr(Column::Attempts, Expr::value(0))
        .col_expr(Column::NextAttemptAt, Expr::value(now.as_millis()))
        .col_expr(Column::UpdatedAt, Expr::value(now.as_millis()))
        .col_expr(Column::InFlightSince, Expr::value(Option::<i64>::None))
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(OutboxState::Dead.as_str()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// The messages about one order, oldest first.
pub async fn of_order(db: &DatabaseConnection, order_id: OrderId) -> Result<Vec<OutboxMessage>, DbErr> {
    Entity::find()
        .filter(Column::OrderId.eq(order_id.0))
        .order_by_asc(Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(message_of)
        .collect()
}

pub async fn by_key(db: &DatabaseConnection, dedupe_key: &str) -> Result<Option<OutboxMessage>, DbErr> {
    Entity::find().filter(Column::DedupeKey.eq(dedupe_key)).one(db).await?.map(message_of).transpose()
}

/// How many messages are in `state`.
pub async fn count(db: &DatabaseConnection, state: OutboxState) -> Result<u64, DbErr> {
    Entity::find().filter(Column::State.eq(state.as_str())).count(db).await
}

/// Who hears of an order: its buyer, by phone and (once the mini program told us) openid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub buyer_id: BuyerId,
    pub phone: Phone,
    pub wechat_openid: Option<String>,
}

pub async fn recipient_of_order(
    db: &DatabaseConnection,
    order_id: OrderId,
) -> Result<Option<Recipient>, DbErr> {
    let Some(order) = order::Entity::find_by_id(order_id.0).one(db).await? else { return Ok(None) };
    let Some(buyer) = buyer::Entity::find_by_id(order.buyer_id).one(db).await? else { return Ok(None) };
    let phone = Phone::parse(&buyer.phone).map_err(|_| DbErr::Custom(format!("buyer {} phone", buyer.id)))?;
    Ok(Some(Recipient { buyer_id: BuyerId(buyer.id), phone, wechat_openid: buyer.wechat_openid }))
}

/// Who hears of a merchant's notice: the merchant, by the phone it signed up with (no openid).
pub async fn recipient_of_merchant(
    db: &DatabaseConnection,
    merchant_id: engine::MerchantId,
) -> Result<Option<Recipient>, DbErr> {
    let Some(row) = crate::entities::merchant::Entity::find_by_id(merchant_id.0).one(db).await? else {
        return Ok(None);
    };
    let phone = Phone::parse(&row.phone).map_err(|_| DbErr::Custom(format!("merchant {} phone", row.id)))?;
    Ok(Some(Recipient { buyer_id: BuyerId(0), phone, wechat_openid: None }))
}

/// Records the buyer's openid in the platform's mini program (or forgets it); whether the
/// buyer exists.
pub async fn set_wechat_openid(
    db: &DatabaseConnection,
    buyer: BuyerId,
    openid: Option<&str>,
) -> Result<bool, DbErr> {
    let updated = buyer::Entity::update_many()
        .col_expr(buyer::Column::WechatOpenid, Expr::value(openid.map(str::to_owned)))
        .filter(buyer::Column::Id.eq(buyer.0))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}
