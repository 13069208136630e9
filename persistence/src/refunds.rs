//! After-sales refund requests as stored. A buyer's request is inserted here; every later
//! change is a journaled decision of the merchant's settlement actor (applied in
//! [`crate::money::apply`]) or of the sale's stock actor (a restock, in the journal writer),
//! so that the decision, its money, its notice and its units are one transaction each.

use engine::aftersales::{DecidedRefund, RefundRequest, RefundState, Restock, Taken};
use engine::{BuyerId, Fen, FlashSaleId, MerchantId, OrderId, PaymentId, ProductId, RefundId, Timestamp};
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::refund_request::{self, Column, Entity};
use crate::entities::{flash_sale, product};
use crate::money::bad;

/// A request as the buyer made it.
#[derive(Debug, Clone)]
pub struct NewRefund {
    pub order_id: OrderId,
    pub flash_sale_id: FlashSaleId,
    pub merchant_id: MerchantId,
    pub buyer_id: BuyerId,
    pub payment_id: PaymentId,
    pub amount_fen: Fen,
    pub units: u32,
    pub reason: String,
    pub note: String,
}

fn request_of(row: refund_request::Model) -> Result<RefundRequest, DbErr> {
    let state = RefundState::parse(&row.state).ok_or_else(|| bad(format!("refund {}: state", row.id)))?;
    let restock = match &row.restock {
        None => None,
        Some(raw) => Some(Restock::parse(raw).ok_or_else(|| bad(format!("refund {}: restock", row.id)))?),
    };
    Ok(RefundRequest {
        id: RefundId(row.id),
        order_id: OrderId(row.order_id),
        merchant_id: MerchantId(row.merchant_id),
        buyer_id: BuyerId(row.buyer_id),
        payment_id: PaymentId(row.payment_id),
        amount_fen: Fen(row.amount_fen),
        units: u32::try_from(row.units).map_err(|_| bad(format!("refund {}: units", row.id)))?,
        reason: row.reason,
        note: row.note,
        state,
        restock,
        decision_reason: row.decision_reason,
        restocked_at: row.restocked_at.map(Timestamp),
        created_at: Timestamp(row.created_at),
        updated_at: Timestamp(row.updated_at),
    })
}

fn requests_of(rows: Vec<refund_request::Model>) -> Result<Vec<RefundRequest>, DbErr> {
    rows.into_iter().map(request_of).collect()
}

pub async fn insert(
    db: &impl ConnectionTrait,
    new: NewRefund,
    now: Timestamp,
) -> Result<RefundRequest, DbErr> {
    let row = refund_request::ActiveModel {
        id: NotSet,
        order_id: Set(new.order_id.0),
        flash_sale_id: Set(new.flash_sale_id.0),
        merchant_id: Set(new.merchant_id.0),
        buyer_id: Set(new.buyer_id.0),
        payment_id: Set(new.payment_id.0),
        amount_fen: Set(new.amount_fen.as_i64()),
        units: Set(i32::try_from(new.units).map_err(|_| bad("refund units out of range".into()))?),
        reason: Set(new.reason),
        note: Set(new.note),
        state: Set(RefundState::Requested.as_str().to_owned()),
        restock: Set(None),
        decision_reason: Set(String::new()),
        restocked_at: Set(None),
        created_at: Set(now.as_millis()),
        updated_at: Set(now.as_millis()),
    };
    let id = Entity::insert(row).exec(db).await?.last_insert_id;
    by_id(db, RefundId(id)).await?.ok_or_else(|| bad(format!("refund {id} vanished")))
}

pub async fn by_id(db: &impl ConnectionTrait, id: RefundId) -> Result<Option<RefundRequest>, DbErr> {
    Entity::find_by_id(id.0).one(db).await?.map(request_of).transpose()
}

/// An order's requests, oldest first.
pub async fn of_order(db: &impl ConnectionTrait, order_id: OrderId) -> Result<Vec<RefundRequest>, DbErr> {
    requests_of(Entity::find().filter(Column::OrderId.eq(order_id.0)).order_by_asc(Column::Id).all(db).await?)
}

/// What the order's requests that are not rejected ask or took back.
pub async fn taken(db: &impl ConnectionTrait, order_id: OrderId) -> Result<Taken, DbErr> {
    let mut taken = Taken::default();
    for request in of_order(db, order_id).await? {
        if request.state != RefundState::Rejected {
            taken.amount = Fen(taken.amount.as_i64() + request.amount_fen.as_i64());
            taken.units += request.units;
        }
    }
    Ok(taken)
}

/// A merchant's requests after `after_id`, by id (stable paging), optionally in one state, at
/// most `limit`.
pub async fn of_merchant(
    db: &DatabaseConnection,
    merchant_id: MerchantId,
    state: Option<RefundState>,
    after_id: RefundId,
    limit: u64,
) -> Result<Vec<RefundRequest>, DbErr> {
    let mut query =
        Entity::find().filter(Column::MerchantId.eq(merchant_id.0)).filter(Column::Id.gt(after_id.0));
    if let Some(state) = state {
        query = query.filter(Column::State.eq(state.as_str()));
    }
    requests_of(query.order_by_asc(Column::Id).limit(limit).all(db).await?)
}

/// Requests in `state` after `after_id`, by id, at most `limit` (the refund worker's scan).
pub async fn in_state(
    db: &DatabaseConnection,
    state: RefundState,
    after_id: RefundId,
    limit: u64,
) -> Result<Vec<RefundRequest>, DbErr> {
    let rows = Entity::find()
        .filter(Column::State.eq(state.as_str()))
        .filter(Column::Id.gt(after_id.0))
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    requests_of(rows)
}

/// Approved requests whose units go back to the sale and have not yet, after `after_id`.
pub async fn restocks_due(
    db: &DatabaseConnection,
    after_id: RefundId,
    limit: u64,
) -> Result<Vec<(RefundRequest, FlashSaleId)>, DbErr> {
    let rows = Entity::find()
        .filter(Column::State.is_in([RefundState::Approved.as_str(), RefundState::Refunded.as_str()]))
        .filter(Column::Restock.eq(Restock::Sale.as_str()))
        .filter(Column::RestockedAt.is_null())
        .filter(Column::Units.gt(0))
        .filter(Column::Id.gt(after_id.0))
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            let sale = FlashSaleId(row.flash_sale_id);
            request_of(row).map(|r| (r, sale))
        })
        .collect()
}

/// The refunds whose units went back on a sale: `(refund, order, units)`, to restore its actor.
pub async fn restocks_of_sale(
    db: &impl ConnectionTrait,
    flash_sale_id: FlashSaleId,
) -> Result<Vec<(RefundId, OrderId, u32)>, DbErr> {
    let rows = Entity::find()
        .filter(Column::FlashSaleId.eq(flash_sale_id.0))
        .filter(Column::RestockedAt.is_not_null())
        .order_by_asc(Column::Id)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            let units = u32::try_from(row.units).map_err(|_| bad(format!("refund {}: units", row.id)))?;
            Ok((RefundId(row.id), OrderId(row.order_id), units))
        })
        .collect()
}

/// The decided requests of a merchant, for its settlement actor.
pub(crate) async fn decided_of_merchant(
    db: &DatabaseConnection,
    merchant_id: MerchantId,
) -> Result<Vec<DecidedRefund>, DbErr> {
    let rows = Entity::find()
        .filter(Column::MerchantId.eq(merchant_id.0))
        .filter(Column::State.ne(RefundState::Requested.as_str()))
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            let approved = row.state != RefundState::Rejected.as_str();
            Ok(DecidedRefund {
                id: RefundId(row.id),
                order_id: OrderId(row.order_id),
                amount_fen: Fen(row.amount_fen),
                approved,
            })
        })
        .collect()
}

/// Whether the product of a sale takes no-reason returns after delivery.
pub async fn no_reason_returns(db: &DatabaseConnection, product_id: ProductId) -> Result<bool, DbErr> {
    Ok(product::Entity::find_by_id(product_id.0).one(db).await?.is_none_or(|p| p.no_reason_returns))
}

/// Records a merchant's decision on a request still `requested`; an approval that sends the
/// units to the product puts them back in its stock here, in the same transaction (guarded by
/// the state change, so a retried batch adds them once).
pub(crate) async fn apply_decision(
    db: &impl ConnectionTrait,
    decision: &engine::aftersales::RefundDecision,
) -> Result<(), DbErr> {
    let (state, restock) = match decision.approved {
        Some(restock) => (RefundState::Approved, Some(restock.as_str().to_owned())),
        None => (RefundState::Rejected, None),
    };
    let updated = Entity::update_many()
        .col_expr(Column::State, Expr::value(state.as_str()))
        .col_expr(Column::Restock, Expr::value(restock))
        .col_expr(Column::DecisionReason, Expr::value(decision.reason.clone()))
        .col_expr(Column::UpdatedAt, Expr::value(decision.at.as_millis()))
        .filter(Column::Id.eq(decision.refund_id.0))
        .filter(Column::State.eq(RefundState::Requested.as_str()))
        .exec(db)
        .await?;
    if updated.rows_affected == 1 && decision.approved == Some(Restock::Product) && decision.units > 0 {
        let row = Entity::find_by_id(decision.refund_id.0).one(db).await?;
        let sale_id = row.map(|r| r.flash_sale_id).ok_or_else(|| bad("refund vanished".into()))?;
        let sale = flash_sale::Entity::find_by_id(sale_id).one(db).await?;
        let product_id = sale.map(|s| s.product_id).ok_or_else(|| bad(format!("sale {sale_id} vanished")))?;
        // To the SKU the sale drew on; a sale from before SKUs gives to the product's first.
        let sku_id = match crate::catalogue::sku_of_sale(db, FlashSaleId(sale_id)).await? {
            Some((sku_id, _)) => Some(sku_id),
            None => crate::catalogue::skus(db, ProductId(product_id)).await?.first().map(|s| s.id),
        };
        match sku_id {
            Some(sku_id) => {
                crate::catalogue::add_units(db, product_id, sku_id, i64::from(decision.units), decision.at)
                    .await?;
            }
            None => {
                product::Entity::update_many()
                    .col_expr(
                        product::Column::Stock,
                        Expr::col(product::Column::Stock).add(i64::from(decision.units)),
                    )
                    .filter(product::Column::Id.eq(product_id))
                    .exec(db)
                    .await?;
            }
        }
    }
    Ok(())
}

/// `approved` → `refunded`: the channel paid it back.
pub(crate) async fn mark_refunded(
    db: &impl ConnectionTrait,
    id: RefundId,
    at: Timestamp,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::State, Expr::value(RefundState::Refunded.as_str()))
        .col_expr(Column::UpdatedAt, Expr::value(at.as_millis()))
        .filter(Column::Id.eq(id.0))
        .filter(Column::State.eq(RefundState::Approved.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// The units of a refund went back on sale (once: a retried batch finds it set).
pub(crate) async fn mark_restocked(
    db: &impl ConnectionTrait,
    id: RefundId,
    at: Timestamp,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::RestockedAt, Expr::value(at.as_millis()))
        .filter(Column::Id.eq(id.0))
        .filter(Column::RestockedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Units of a sale put back on sale by refunds (for a settled sale's counts).
pub async fn restocked_units_of_sale(
    db: &impl ConnectionTrait,
    flash_sale_id: FlashSaleId,
) -> Result<u32, DbErr> {
    Ok(restocks_of_sale(db, flash_sale_id).await?.iter().map(|(_, _, units)| units).sum())
}
