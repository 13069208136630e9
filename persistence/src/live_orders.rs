//! A live platform's paid order as an order of ours (migration `m0016_live_platform_orders`):
//! the journal writer inserts the order, its payment on the platform's channel, the capture,
//! the posting, the address it ships to and the link to the platform's order in the batch's
//! one transaction, once per platform order (a link found → nothing is written). And the
//! waybills of shipped platform orders still to be sent to the platform, with their attempts.

use engine::payment::PaymentState;
use engine::payment::PlatformOrderPaid;
use engine::{FlashSaleId, OrderId, Timestamp};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::{live_door_pause, live_order_link, order, order_address, payment, shipment};

/// Writes a platform's paid order as ours; a second time writes nothing.
pub(crate) async fn insert_platform_order(
    db: &impl ConnectionTrait,
    paid: &PlatformOrderPaid,
) -> Result<(), DbErr> {
    let platform = paid.door.as_str();
    let linked = live_order_link::Entity::find()
        .filter(live_order_link::Column::Platform.eq(platform))
        .filter(live_order_link::Column::PlatformOrderId.eq(paid.platform_order_id.as_str()))
        .one(db)
        .await?;
    if linked.is_some() {
        return Ok(());
    }
    let o = &paid.order;
    order::Entity::insert(crate::repo::order_row(o))
        .on_conflict(OnConflict::column(order::Column::Id).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    let at = paid.capture.at.as_millis();
    let inserted = payment::Entity::insert(payment::ActiveModel {
        id: NotSet,
        order_id: Set(o.id.0),
        merchant_id: Set(o.merchant_id.0),
        buyer_id: Set(o.buyer_id.0),
        channel: Set(paid.capture.settlement.channel.as_str().to_owned()),
        method: Set("platform".to_owned()),
        out_trade_no: Set(format!("{platform}-{}", paid.platform_order_id)),
        amount_fen: Set(o.amount_fen.as_i64()),
        state: Set(PaymentState::Credited.as_str().to_owned()),
        transaction_id: Set(Some(paid.platform_order_id.clone())),
        created_at: Set(at),
        updated_at: Set(at),
    })
    .exec(db)
    .await?;
    let mut capture = paid.capture.clone();
    capture.payment_id = engine::PaymentId(inserted.last_insert_id);
    crate::money::insert_capture(db, &capture).await?;
    crate::money::insert_entry(db, &paid.entry).await?;
    if let Some(to) = &paid.receiver {
        order_address::Entity::insert(order_address::ActiveModel {
            order_id: Set(o.id.0),
            buyer_id: Set(o.buyer_id.0),
            name: Set(to.name.clone()),
            phone: Set(to.phone.as_str().to_owned()),
            district_code: Set(to.district_code as i32),
            province: Set(to.province.clone()),
            city: Set(to.city.clone()),
            district: Set(to.district.clone()),
            detail: Set(to.detail.clone()),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .on_conflict(OnConflict::column(order_address::Column::OrderId).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    }
    live_order_link::Entity::insert(live_order_link::ActiveModel {
        order_id: Set(o.id.0),
        flash_sale_id: Set(o.flash_sale_id.0),
        merchant_id: Set(o.merchant_id.0),
        platform: Set(platform.to_owned()),
        platform_order_id: Set(paid.platform_order_id.clone()),
        created_at: Set(at),
        waybill_attempts: Set(0),
        waybill_next_at: Set(None),
        waybill_error: Set(None),
        waybill_sent_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A platform refunded a platform order credited as ours: the reversal posted, its payment and
/// the order marked refunded (the order only from a state a refund may follow), in the batch's
/// transaction. Written again, it changes nothing.
pub(crate) async fn refund_platform_order(
    db: &impl ConnectionTrait,
    order_id: OrderId,
    platform_order_id: &str,
    entry: &engine::books::Entry,
) -> Result<(), DbErr> {
    let at = entry.posting.at.as_millis();
    crate::money::insert_entry(db, entry).await?;
    payment::Entity::update_many()
        .col_expr(payment::Column::State, Expr::value(PaymentState::Refunded.as_str()))
        .col_expr(payment::Column::UpdatedAt, Expr::value(at))
        .filter(payment::Column::OrderId.eq(order_id.0))
        .filter(payment::Column::TransactionId.eq(platform_order_id))
        .exec(db)
        .await?;
    crate::money::refund_order(db, order_id, entry.posting.at).await
}

/// The order of ours made from a platform's order, if one was.
pub async fn link_of_platform_order(
    db: &DatabaseConnection,
    platform: &str,
    platform_order_id: &str,
) -> Result<Option<PlatformOrderLink>, DbErr> {
    Ok(live_order_link::Entity::find()
        .filter(live_order_link::Column::Platform.eq(platform))
        .filter(live_order_link::Column::PlatformOrderId.eq(platform_order_id))
        .one(db)
        .await?
        .map(link))
}

/// An order of ours made from a platform order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformOrderLink {
    pub order_id: OrderId,
    pub flash_sale_id: FlashSaleId,
    pub merchant_id: i64,
    pub platform: String,
    pub platform_order_id: String,
    pub waybill_attempts: u32,
    pub waybill_error: Option<String>,
    pub waybill_sent_at: Option<Timestamp>,
}

fn link(row: live_order_link::Model) -> PlatformOrderLink {
    PlatformOrderLink {
        order_id: OrderId(row.order_id),
        flash_sale_id: FlashSaleId(row.flash_sale_id),
        merchant_id: row.merchant_id,
        platform: row.platform,
        platform_order_id: row.platform_order_id,
        waybill_attempts: u32::try_from(row.waybill_attempts).unwrap_or(0),
        waybill_error: row.waybill_error,
        waybill_sent_at: row.waybill_sent_at.map(Timestamp),
    }
}

/// The orders of ours made from a sale's platform orders, at most `limit`, oldest first.
pub async fn links_of_sale(
    db: &DatabaseConnection,
    sale: FlashSaleId,
    limit: u64,
) -> Result<Vec<PlatformOrderLink>, DbErr> {
    Ok(live_order_link::Entity::find()
        .filter(live_order_link::Column::FlashSaleId.eq(sale.0))
        .order_by_asc(live_order_link::Column::OrderId)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(link)
        .collect())
}

/// The platform order an order of ours was made from, if it was.
pub async fn link_of_order(
    db: &DatabaseConnection,
    order_id: OrderId,
) -> Result<Option<PlatformOrderLink>, DbErr> {
    Ok(live_order_link::Entity::find_by_id(order_id.0).one(db).await?.map(link))
}

/// A shipped platform order whose waybill the platform has not taken yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaybillDue {
    pub link: PlatformOrderLink,
    /// Our courier code (KDNiao's `ShipperCode`) and the waybill number.
    pub courier: String,
    pub waybill_no: String,
}

/// Shipped platform orders whose waybill is due at `now` (never sent, fewer than
/// `max_attempts` tries, and past the backoff of the last failure), at most `limit`.
pub async fn waybills_due(
    db: &DatabaseConnection,
    now: Timestamp,
    max_attempts: u32,
    limit: u64,
) -> Result<Vec<WaybillDue>, DbErr> {
    let links = live_order_link::Entity::find()
        .filter(live_order_link::Column::WaybillSentAt.is_null())
        .filter(live_order_link::Column::WaybillAttempts.lt(max_attempts as i32))
        .filter(
            sea_orm::Condition::any()
                .add(live_order_link::Column::WaybillNextAt.is_null())
                .add(live_order_link::Column::WaybillNextAt.lte(now.as_millis())),
        )
        .filter(
            live_order_link::Column::OrderId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(shipment::Column::OrderId)
                    .from(shipment::Entity)
                    .to_owned(),
            ),
        )
        .order_by_asc(live_order_link::Column::OrderId)
        .limit(limit)
        .all(db)
        .await?;
    let mut due = Vec::with_capacity(links.len());
    for row in links {
        let Some(shipped) = shipment::Entity::find_by_id(row.order_id).one(db).await? else { continue };
        due.push(WaybillDue { link: link(row), courier: shipped.courier, waybill_no: shipped.waybill_no });
    }
    Ok(due)
}

/// The platform took the waybill: set once.
pub async fn mark_waybill_sent(
    db: &DatabaseConnection,
    order_id: OrderId,
    now: Timestamp,
) -> Result<(), DbErr> {
    live_order_link::Entity::update_many()
        .col_expr(live_order_link::Column::WaybillSentAt, Expr::value(now.as_millis()))
        .col_expr(
            live_order_link::Column::WaybillAttempts,
            Expr::col(live_order_link::Column::WaybillAttempts).add(1),
        )
        .col_expr(live_order_link::Column::WaybillError, Expr::value(Option::<String>::None))
        .filter(live_order_link::Column::OrderId.eq(order_id.0))
        .filter(live_order_link::Column::WaybillSentAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// An attempt failed: counted, with the error and when the next may be made.
pub async fn record_waybill_failure(
    db: &DatabaseConnection,
    order_id: OrderId,
    next_at: Timestamp,
    error: &str,
) -> Result<(), DbErr> {
    live_order_link::Entity::update_many()
        .col_expr(
            live_order_link::Column::WaybillAttempts,
            Expr::col(live_order_link::Column::WaybillAttempts).add(1),
        )
        .col_expr(live_order_link::Column::WaybillNextAt, Expr::value(next_at.as_millis()))
        .col_expr(
            live_order_link::Column::WaybillError,
            Expr::value(error.chars().take(500).collect::<String>()),
        )
        .filter(live_order_link::Column::OrderId.eq(order_id.0))
        .filter(live_order_link::Column::WaybillSentAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Stops top-ups of a sale's door (the merchant took its units back).
pub async fn pause_door(
    db: &DatabaseConnection,
    sale: FlashSaleId,
    platform: &str,
    now: Timestamp,
) -> Result<(), DbErr> {
    live_door_pause::Entity::insert(live_door_pause::ActiveModel {
        flash_sale_id: Set(sale.0),
        platform: Set(platform.to_owned()),
        paused_at: Set(now.as_millis()),
    })
    .on_conflict(
        OnConflict::columns([live_door_pause::Column::FlashSaleId, live_door_pause::Column::Platform])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Lets a sale's door be topped up again.
pub async fn resume_door(db: &DatabaseConnection, sale: FlashSaleId, platform: &str) -> Result<(), DbErr> {
    live_door_pause::Entity::delete_many()
        .filter(live_door_pause::Column::FlashSaleId.eq(sale.0))
        .filter(live_door_pause::Column::Platform.eq(platform))
        .exec(db)
        .await?;
    Ok(())
}

/// Whether a sale's door is paused.
pub async fn door_paused(db: &DatabaseConnection, sale: FlashSaleId, platform: &str) -> Result<bool, DbErr> {
    Ok(live_door_pause::Entity::find_by_id((sale.0, platform.to_owned())).one(db).await?.is_some())
}

/// A merchant's next scheduled sale sold in its live rooms: the soonest to start after `now`
/// (other than `except`) that is bound to a platform, with the platforms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextBoundSale {
    pub flash_sale_id: FlashSaleId,
    pub title: String,
    pub starts_at: Timestamp,
    pub platforms: Vec<String>,
}

pub async fn next_bound_sale(
    db: &DatabaseConnection,
    merchant: engine::MerchantId,
    now: Timestamp,
    except: FlashSaleId,
) -> Result<Option<NextBoundSale>, DbErr> {
    use crate::entities::{flash_sale, live_sale_binding};
    let bound = sea_orm::sea_query::Query::select()
        .column(live_sale_binding::Column::FlashSaleId)
        .from(live_sale_binding::Entity)
        .to_owned();
    let Some(sale) = flash_sale::Entity::find()
        .filter(flash_sale::Column::MerchantId.eq(merchant.0))
        .filter(flash_sale::Column::StartsAt.gt(now.as_millis()))
        .filter(flash_sale::Column::Id.ne(except.0))
        .filter(flash_sale::Column::Id.in_subquery(bound))
        .order_by_asc(flash_sale::Column::StartsAt)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let platforms = live_sale_binding::Entity::find()
        .filter(live_sale_binding::Column::FlashSaleId.eq(sale.id))
        .order_by_asc(live_sale_binding::Column::Platform)
        .all(db)
        .await?
        .into_iter()
        .map(|b| b.platform)
        .collect();
    Ok(Some(NextBoundSale {
        flash_sale_id: FlashSaleId(sale.id),
        title: sale.title,
        starts_at: Timestamp(sale.starts_at),
        platforms,
    }))
}
