//! Payment attempts: one per order and channel, created when a buyer chooses how to pay and
//! moved on by the journal writer (credited, owed back, refunded) or by the active query
//! (closed).

use engine::ledger::Channel;
use engine::payment::PaymentState;
use engine::{BuyerId, Fen, MerchantId, OrderId, PaymentId, Timestamp};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::payment;
use crate::money::{bad, channel_of};

/// A payment attempt about to be offered to a channel.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub order_id: OrderId,
    pub merchant_id: MerchantId,
    pub buyer_id: BuyerId,
    pub channel: Channel,
    pub method: String,
    pub out_trade_no: String,
    pub amount_fen: Fen,
}

/// A payment attempt as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub id: PaymentId,
    pub order_id: OrderId,
    pub merchant_id: MerchantId,
    pub buyer_id: BuyerId,
    pub channel: Channel,
    /// How the buyer pays at the channel (`native`, `jsapi`, `h5`, `precreate`, `wap`).
    pub method: String,
    /// Our number for the trade at the channel.
    pub out_trade_no: String,
    pub amount_fen: Fen,
    pub state: PaymentState,
    /// The channel's number for the trade, once it was paid.
    pub transaction_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn payment_of(row: payment::Model) -> Result<PaymentRecord, DbErr> {
    Ok(PaymentRecord {
        id: PaymentId(row.id),
        order_id: OrderId(row.order_id),
        merchant_id: MerchantId(row.merchant_id),
        buyer_id: BuyerId(row.buyer_id),
        channel: channel_of(&row.channel)?,
        method: row.method,
        out_trade_no: row.out_trade_no,
        amount_fen: Fen(row.amount_fen),
        state: PaymentState::parse(&row.state)
            .ok_or_else(|| bad(format!("payment {}: state {:?}", row.id, row.state)))?,
        transaction_id: row.transaction_id,
        created_at: Timestamp(row.created_at),
        updated_at: Timestamp(row.updated_at),
    })
}

fn payments_of(rows: Vec<payment::Model>) -> Result<Vec<PaymentRecord>, DbErr> {
    rows.into_iter().map(payment_of).collect()
}

/// The order's payment through this channel, created on first call.
pub async fn payment_for(
    db: &DatabaseConnection,
    new: NewPayment,
    now: Timestamp,
) -> Result<PaymentRecord, DbErr> {
    let row = payment::ActiveModel {
        id: NotSet,
        order_id: Set(new.order_id.0),
        merchant_id: Set(new.merchant_id.0),
        buyer_id: Set(new.buyer_id.0),
        channel: Set(new.channel.as_str().to_owned()),
        method: Set(new.method),
        out_trade_no: Set(new.out_trade_no.clone()),
        amount_fen: Set(new.amount_fen.as_i64()),
        state: Set(PaymentState::Created.as_str().to_owned()),
        transaction_id: Set(None),
        created_at: Set(now.as_millis()),
        updated_at: Set(now.as_millis()),
    };
    payment::Entity::insert(row)
        .on_conflict(OnConflict::column(payment::Column::OutTradeNo).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    payment_by_out_trade_no(db, &new.out_trade_no)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("payment".into()))
}

pub async fn payment_by_out_trade_no(
    db: &DatabaseConnection,
    out_trade_no: &str,
) -> Result<Option<PaymentRecord>, DbErr> {
    let row = payment::Entity::find().filter(payment::Column::OutTradeNo.eq(out_trade_no)).one(db).await?;
    row.map(payment_of).transpose()
}

pub async fn payments_of_order(
    db: &DatabaseConnection,
    order_id: OrderId,
) -> Result<Vec<PaymentRecord>, DbErr> {
    let rows = payment::Entity::find()
        .filter(payment::Column::OrderId.eq(order_id.0))
        .order_by_asc(payment::Column::Id)
        .all(db)
        .await?;
    payments_of(rows)
}

/// Payments in `state` created before `before`, with ids above `after_id`, by id: a page of a
/// scan that moves on even when the rows it saw stay in `state`.
pub async fn payments_in_state(
    db: &DatabaseConnection,
    state: PaymentState,
    before: Timestamp,
    after_id: PaymentId,
    limit: u64,
) -> Result<Vec<PaymentRecord>, DbErr> {
    let rows = payment::Entity::find()
        .filter(payment::Column::State.eq(state.as_str()))
        .filter(payment::Column::CreatedAt.lte(before.as_millis()))
        .filter(payment::Column::Id.gt(after_id.0))
        .order_by_asc(payment::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    payments_of(rows)
}

/// `created` → `closed`: the attempt was never paid and can no longer be.
pub async fn close_payment(db: &DatabaseConnection, id: PaymentId, now: Timestamp) -> Result<(), DbErr> {
    payment::Entity::update_many()
        .col_expr(payment::Column::State, Expr::value(PaymentState::Closed.as_str()))
        .col_expr(payment::Column::UpdatedAt, Expr::value(now.as_millis()))
        .filter(payment::Column::Id.eq(id.0))
        .filter(payment::Column::State.eq(PaymentState::Created.as_str()))
        .exec(db)
        .await?;
    Ok(())
}
