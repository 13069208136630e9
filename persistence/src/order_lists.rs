//! A merchant's orders as lists read them: filtered by state, sale and creation time, newest
//! first, paged by a keyset cursor `(created_at, id)` so that a page costs the same however
//! deep it is and a row added meanwhile neither repeats nor skips one.

use engine::{FlashSaleId, MerchantId, Order, OrderState, Timestamp};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use crate::entities::order;
use crate::repo::order_of;

/// Which orders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub state: Option<OrderState>,
    pub flash_sale_id: Option<FlashSaleId>,
    /// Created at or after.
    pub from: Option<Timestamp>,
    /// Created before.
    pub to: Option<Timestamp>,
}

/// Where a page starts: just after the last row of the page before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: Timestamp,
    pub id: i64,
}

fn filtered(merchant: MerchantId, filter: &OrderFilter) -> Select<order::Entity> {
    let mut query = order::Entity::find().filter(order::Column::MerchantId.eq(merchant.0));
    if let Some(state) = filter.state {
        query = query.filter(order::Column::State.eq(state.as_str()));
    }
    if let Some(sale) = filter.flash_sale_id {
        query = query.filter(order::Column::FlashSaleId.eq(sale.0));
    }
    if let Some(from) = filter.from {
        query = query.filter(order::Column::CreatedAt.gte(from.as_millis()));
    }
    if let Some(to) = filter.to {
        query = query.filter(order::Column::CreatedAt.lt(to.as_millis()));
    }
    query
}

/// The merchant's orders matching `filter`, newest first, after `cursor`, at most `limit`.
pub async fn merchant_orders(
    db: &DatabaseConnection,
    merchant: MerchantId,
    filter: &OrderFilter,
    cursor: Option<Cursor>,
    limit: u64,
) -> Result<Vec<Order>, DbErr> {
    let mut query = filtered(merchant, filter);
    if let Some(cursor) = cursor {
        query = query.filter(
            Condition::any().add(order::Column::CreatedAt.lt(cursor.created_at.as_millis())).add(
                Condition::all()
                    .add(order::Column::CreatedAt.eq(cursor.created_at.as_millis()))
                    .add(order::Column::Id.lt(cursor.id)),
            ),
        );
    }
    query
        .order_by_desc(order::Column::CreatedAt)
        .order_by_desc(order::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(order_of)
        .collect()
}

/// How many of the merchant's orders match `filter`.
pub async fn count(
    db: &DatabaseConnection,
    merchant: MerchantId,
    filter: &OrderFilter,
) -> Result<u64, DbErr> {
    filtered(merchant, filter).count(db).await
}
