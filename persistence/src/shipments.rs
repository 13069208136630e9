//! Shipments and tracking in storage. Every change of an order's state here is a guarded
//! update (`paid → shipped`, `shipped → completed`) made in one transaction with the outbox
//! notice that reports it ([`crate::outbox::enqueue`]): both are committed, or neither.
//!
//! Tracking events are inserted idempotently (unique per order by time and text), and a
//! shipment is marked delivered once (`delivered_at IS NULL` guards it), so a repeated push
//! changes nothing and enqueues nothing new.

use engine::notification::Notice;
use engine::{MerchantId, OrderId, OrderState, Timestamp};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::entities::{order, shipment, tracking_event};
use crate::outbox;

/// Where a parcel leaves from, as stored with its shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderRecord {
    pub name: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
}

/// A shipment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentRecord {
    pub order_id: OrderId,
    pub merchant_id: MerchantId,
    pub courier: String,
    pub waybill_no: String,
    pub electronic_waybill: bool,
    pub sort_code: Option<String>,
    pub package_center: Option<String>,
    pub sender: Option<SenderRecord>,
    /// The courier protocol's coarse state name (`collected`, `delivered`, …).
    pub tracking_state: String,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
}

/// One scan of a parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingRecord {
    pub at: Timestamp,
    pub description: String,
}

/// What a shipment is made of, before it is stored.
#[derive(Debug, Clone)]
pub struct NewShipment {
    pub courier: String,
    pub waybill_no: String,
    pub electronic_waybill: bool,
    pub sort_code: Option<String>,
    pub package_center: Option<String>,
    pub sender: Option<SenderRecord>,
    /// The state a fresh shipment starts in (`no_trace`).
    pub tracking_state: String,
}

/// Why an order was not moved on.
#[derive(Debug, Error)]
pub enum ShipmentError {
    /// No such order of this merchant or buyer (someone else's order looks the same).
    #[error("order not found")]
    NotFound,
    /// The order is not in the state the change starts from.
    #[error("the order is {}", .0.as_str())]
    WrongState(OrderState),
    /// Another order already ships under this courier's waybill number.
    #[error("the waybill number is already used by another order")]
    WaybillTaken,
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn record_of(row: shipment::Model) -> Result<ShipmentRecord, DbErr> {
    let sender = match row.sender {
        Some(text) => Some(
            serde_json::from_str(&text)
                .map_err(|_| DbErr::Custom(format!("shipment {} sender", row.order_id)))?,
        ),
        None => None,
    };
    Ok(ShipmentRecord {
        order_id: OrderId(row.order_id),
        merchant_id: MerchantId(row.merchant_id),
        courier: row.courier,
        waybill_no: row.waybill_no,
        electronic_waybill: row.electronic_waybill,
        sort_code: row.sort_code,
        package_center: row.package_center,
        sender,
        tracking_state: row.tracking_state,
        created_at: Timestamp(row.created_at),
        delivered_at: row.delivered_at.map(Timestamp),
        completed_at: row.completed_at.map(Timestamp),
    })
}

fn state_of_row(row: &order::Model) -> Result<OrderState, DbErr> {
    OrderState::parse(&row.state).ok_or_else(|| DbErr::Custom(format!("order {} state", row.id)))
}

/// Moves `order_id` (of `merchant`) from `paid` to `shipped`, stores its shipment and enqueues
/// `notice`, in one transaction.
pub async fn ship(
    db: &DatabaseConnection,
    order_id: OrderId,
    merchant: MerchantId,
    new: &NewShipment,
    notice: &Notice,
    now: Timestamp,
) -> Result<ShipmentRecord, ShipmentError> {
    let txn = crate::db::begin_write(db).await?;
    let moved = order::Entity::update_many()
        .col_expr(order::Column::State, Expr::value(OrderState::Shipped.as_str()))
        .col_expr(order::Column::UpdatedAt, Expr::value(now.as_millis()))
        .filter(order::Column::Id.eq(order_id.0))
        .filter(order::Column::MerchantId.eq(merchant.0))
        .filter(order::Column::State.eq(OrderState::Paid.as_str()))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        let row = order::Entity::find_by_id(order_id.0).one(&txn).await?;
        return match row.filter(|r| r.merchant_id == merchant.0) {
            None => Err(ShipmentError::NotFound),
            Some(r) => Err(ShipmentError::WrongState(state_of_row(&r)?)),
        };
    }
    let sender = new.sender.as_ref().map(|s| serde_json::to_string(s).expect("a sender serializes"));
    let row = shipment::ActiveModel {
        order_id: Set(order_id.0),
        merchant_id: Set(merchant.0),
        courier: Set(new.courier.clone()),
        waybill_no: Set(new.waybill_no.clone()),
        electronic_waybill: Set(new.electronic_waybill),
        sort_code: Set(new.sort_code.clone()),
        package_center: Set(new.package_center.clone()),
        sender: Set(sender),
        tracking_state: Set(new.tracking_state.clone()),
        created_at: Set(now.as_millis()),
        updated_at: Set(now.as_millis()),
        delivered_at: Set(None),
        completed_at: Set(None),
    };
    let inserted = shipment::Entity::insert(row).exec_without_returning(&txn).await;
    if let Err(error) = inserted {
        return Err(match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => ShipmentError::WaybillTaken,
            _ => ShipmentError::Db(error),
        });
    }
    outbox::enqueue(&txn, notice).await?;
    txn.commit().await?;
    let stored = shipment::Entity::find_by_id(order_id.0).one(db).await?;
    Ok(record_of(stored.ok_or_else(|| DbErr::Custom("shipment just stored".into()))?)?)
}

/// The shipment of an order, if it shipped.
pub async fn of_order(db: &impl ConnectionTrait, order_id: OrderId) -> Result<Option<ShipmentRecord>, DbErr> {
    shipment::Entity::find_by_id(order_id.0).one(db).await?.map(record_of).transpose()
}

/// The shipments of these orders (at most as many as asked for).
pub async fn of_orders(db: &DatabaseConnection, ids: &[OrderId]) -> Result<Vec<ShipmentRecord>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    shipment::Entity::find()
        .filter(shipment::Column::OrderId.is_in(ids.iter().map(|id| id.0)))
        .all(db)
        .await?
        .into_iter()
        .map(record_of)
        .collect()
}

/// The shipment that ships under `courier`'s `waybill_no`.
pub async fn by_waybill(
    db: &DatabaseConnection,
    courier: &str,
    waybill_no: &str,
) -> Result<Option<ShipmentRecord>, DbErr> {
    shipment::Entity::find()
        .filter(shipment::Column::Courier.eq(courier))
        .filter(shipment::Column::WaybillNo.eq(waybill_no))
        .one(db)
        .await?
        .map(record_of)
        .transpose()
}

/// The scans of an order's parcel, oldest first, at most `limit`.
pub async fn tracking_of(
    db: &DatabaseConnection,
    order_id: OrderId,
    limit: u64,
) -> Result<Vec<TrackingRecord>, DbErr> {
    Ok(tracking_event::Entity::find()
        .filter(tracking_event::Column::OrderId.eq(order_id.0))
        .order_by_asc(tracking_event::Column::At)
        .order_by_asc(tracking_event::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|r| TrackingRecord { at: Timestamp(r.at), description: r.description })
        .collect())
}

/// What a tracking update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackingOutcome {
    /// Scans stored that were not stored before.
    pub new_events: u64,
    /// This update marked the shipment delivered (and enqueued its notice).
    pub delivered_now: bool,
}

/// Stores a tracking update of `order_id`'s shipment: its new scans, its state (when `rank`
/// says it is further than the stored one), and, when `delivered` is the notice of a
/// delivery, `delivered_at` and that notice, in one transaction.
pub async fn record_tracking(
    db: &DatabaseConnection,
    order_id: OrderId,
    state: &str,
    further: impl Fn(&str) -> bool,
    events: &[TrackingRecord],
    delivered: Option<&Notice>,
    now: Timestamp,
) -> Result<TrackingOutcome, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    // Touching the shipment first locks its row (Postgres) or the database (SQLite), so two
    // copies of one push are taken one after the other.
    let touched = shipment::Entity::update_many()
        .col_expr(shipment::Column::UpdatedAt, Expr::value(now.as_millis()))
        .filter(shipment::Column::OrderId.eq(order_id.0))
        .exec(&txn)
        .await?;
    if touched.rows_affected != 1 {
        return Ok(TrackingOutcome::default());
    }
    let current = shipment::Entity::find_by_id(order_id.0)
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::Custom("shipment just touched".into()))?;
    let mut outcome = TrackingOutcome::default();
    if !events.is_empty() {
        let rows = events.iter().map(|e| tracking_event::ActiveModel {
            id: NotSet,
            order_id: Set(order_id.0),
            at: Set(e.at.as_millis()),
            description: Set(e.description.clone()),
            created_at: Set(now.as_millis()),
        });
        outcome.new_events = tracking_event::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    tracking_event::Column::OrderId,
                    tracking_event::Column::At,
                    tracking_event::Column::Description,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    if further(&current.tracking_state) {
        shipment::Entity::update_many()
            .col_expr(shipment::Column::TrackingState, Expr::value(state))
            .filter(shipment::Column::OrderId.eq(order_id.0))
            .exec(&txn)
            .await?;
    }
    if let Some(notice) = delivered {
        let marked = shipment::Entity::update_many()
            .col_expr(shipment::Column::DeliveredAt, Expr::value(now.as_millis()))
            .filter(shipment::Column::OrderId.eq(order_id.0))
            .filter(shipment::Column::DeliveredAt.is_null())
            .exec(&txn)
            .await?;
        if marked.rows_affected == 1 {
            outbox::enqueue(&txn, notice).await?;
            outcome.delivered_now = true;
        }
    }
    txn.commit().await?;
    Ok(outcome)
}

/// Who completes an order.
#[derive(Debug, Clone, Copy)]
pub enum Completer {
    /// Its buyer, confirming receipt.
    Buyer(engine::BuyerId),
    /// The sweep, some days after delivery.
    Sweep,
    /// A live platform, whose buyer confirmed receipt there.
    Platform,
}

/// Moves a shipped order to `completed` (for its buyer, or for the sweep) and records when.
pub async fn complete(
    db: &DatabaseConnection,
    order_id: OrderId,
    by: Completer,
    now: Timestamp,
) -> Result<(), ShipmentError> {
    let txn = crate::db::begin_write(db).await?;
    let mut update = order::Entity::update_many()
        .col_expr(order::Column::State, Expr::value(OrderState::Completed.as_str()))
        .col_expr(order::Column::UpdatedAt, Expr::value(now.as_millis()))
        .filter(order::Column::Id.eq(order_id.0))
        .filter(order::Column::State.eq(OrderState::Shipped.as_str()));
    if let Completer::Buyer(buyer) = by {
        update = update.filter(order::Column::BuyerId.eq(buyer.0));
    }
    let moved = update.exec(&txn).await?;
    if moved.rows_affected != 1 {
        let row = order::Entity::find_by_id(order_id.0).one(&txn).await?;
        let mine = |r: &order::Model| match by {
            Completer::Buyer(buyer) => r.buyer_id == buyer.0,
            Completer::Sweep | Completer::Platform => true,
        };
        return match row.filter(mine) {
            None => Err(ShipmentError::NotFound),
            Some(r) => Err(ShipmentError::WrongState(state_of_row(&r)?)),
        };
    }
    shipment::Entity::update_many()
        .col_expr(shipment::Column::CompletedAt, Expr::value(now.as_millis()))
        .filter(shipment::Column::OrderId.eq(order_id.0))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Shipped orders delivered at or before `delivered_by` and not completed, oldest delivery
/// first, at most `limit`.
pub async fn due_for_completion(
    db: &DatabaseConnection,
    delivered_by: Timestamp,
    limit: u64,
) -> Result<Vec<OrderId>, DbErr> {
    let shipped = Query::select()
        .column(order::Column::Id)
        .from(order::Entity)
        .and_where(order::Column::State.eq(OrderState::Shipped.as_str()))
        .to_owned();
    Ok(shipment::Entity::find()
        .filter(shipment::Column::CompletedAt.is_null())
        .filter(shipment::Column::DeliveredAt.lte(delivered_by.as_millis()))
        .filter(shipment::Column::OrderId.in_subquery(shipped))
        .order_by_asc(shipment::Column::DeliveredAt)
        .order_by_asc(shipment::Column::OrderId)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|r| OrderId(r.order_id))
        .collect())
}

/// The sender of `merchant`'s latest shipment that named one: where its next parcel leaves
/// from unless it says otherwise.
pub async fn last_sender(
    db: &DatabaseConnection,
    merchant: MerchantId,
) -> Result<Option<SenderRecord>, DbErr> {
    let row = shipment::Entity::find()
        .filter(shipment::Column::MerchantId.eq(merchant.0))
        .filter(shipment::Column::Sender.is_not_null())
        .order_by_desc(shipment::Column::CreatedAt)
        .order_by_desc(shipment::Column::OrderId)
        .one(db)
        .await?;
    Ok(row.map(record_of).transpose()?.and_then(|r| r.sender))
}
