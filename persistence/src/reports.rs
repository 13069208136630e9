//! What the consoles read in aggregate: a sale's order figures (its live board), a merchant's
//! orders of a period grouped by sale and by the ship-to province (its dashboard), the lists
//! of its sales, of merchants and of partners. Every answer is a handful of grouped rows or a
//! bounded list, never one row per order.

use engine::{FlashSaleId, MerchantId, OrderState, SaleTerms, Timestamp};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entities::{flash_sale, merchant, order, order_address, partner};
use crate::repo::MerchantAccount;

/// Placed orders (pending or paid and after; not expired or cancelled) of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderFigures {
    pub orders: u64,
    pub units: u64,
    pub amount_fen: i64,
    pub paid_orders: u64,
    pub paid_units: u64,
    pub paid_fen: i64,
}

impl OrderFigures {
    /// Adds another group's figures.
    pub fn absorb(&mut self, other: &OrderFigures) {
        self.orders += other.orders;
        self.units += other.units;
        self.amount_fen += other.amount_fen;
        self.paid_orders += other.paid_orders;
        self.paid_units += other.paid_units;
        self.paid_fen += other.paid_fen;
    }

    fn add(&mut self, state: OrderState, orders: i64, units: i64, amount_fen: i64) {
        if !(state.holds_units() || state.sold_units()) {
            return;
        }
        let (orders, units) = (count(orders), count(units));
        self.orders += orders;
        self.units += units;
        self.amount_fen += amount_fen;
        if state.sold_units() {
            self.paid_orders += orders;
            self.paid_units += units;
            self.paid_fen += amount_fen;
        }
    }
}

/// A count as read (never negative).
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn state_of(raw: &str) -> Result<OrderState, DbErr> {
    OrderState::parse(raw).ok_or_else(|| DbErr::Custom(format!("order state {raw}")))
}

/// The states whose orders count as placed.
fn placed_states() -> Vec<&'static str> {
    [
        OrderState::PendingPayment,
        OrderState::Paid,
        OrderState::Shipped,
        OrderState::Completed,
        OrderState::Refunded,
    ]
    .iter()
    .map(|s| s.as_str())
    .collect()
}

/// A sale's placed orders and how many buyers placed them: two grouped reads.
pub async fn sale_figures(db: &DatabaseConnection, sale: FlashSaleId) -> Result<(OrderFigures, u64), DbErr> {
    let rows: Vec<(String, i64, Option<i64>, Option<i64>)> = order::Entity::find()
        .select_only()
        .column(order::Column::State)
        .column_as(order::Column::Id.count(), "orders")
        // As BIGINT: Postgres widens a sum of BIGINTs to NUMERIC.
        .column_as(Expr::col(order::Column::Quantity).sum().cast_as("BIGINT"), "units")
        .column_as(Expr::col(order::Column::AmountFen).sum().cast_as("BIGINT"), "amount")
        .filter(order::Column::FlashSaleId.eq(sale.0))
        .group_by(order::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let mut figures = OrderFigures::default();
    for (state, orders, units, amount) in rows {
        figures.add(state_of(&state)?, orders, units.unwrap_or(0), amount.unwrap_or(0));
    }
    let buyers: Option<i64> = order::Entity::find()
        .select_only()
        .column_as(Expr::expr(Func::count_distinct(Expr::col(order::Column::BuyerId))), "buyers")
        .filter(order::Column::FlashSaleId.eq(sale.0))
        .filter(order::Column::State.is_in(placed_states()))
        .into_tuple()
        .one(db)
        .await?;
    Ok((figures, count(buyers.unwrap_or(0))))
}

/// `(sale, state, orders, units, amount_fen)` as grouped.
type SaleStateRow = (i64, String, i64, Option<i64>, Option<i64>);

/// A merchant's placed orders created in `[from, to)`, per sale.
pub async fn merchant_figures_by_sale(
    db: &DatabaseConnection,
    merchant: MerchantId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<(FlashSaleId, OrderFigures)>, DbErr> {
    let rows: Vec<SaleStateRow> = order::Entity::find()
        .select_only()
        .column(order::Column::FlashSaleId)
        .column(order::Column::State)
        .column_as(order::Column::Id.count(), "orders")
        .column_as(Expr::col(order::Column::Quantity).sum().cast_as("BIGINT"), "units")
        .column_as(Expr::col(order::Column::AmountFen).sum().cast_as("BIGINT"), "amount")
        .filter(order::Column::MerchantId.eq(merchant.0))
        .filter(order::Column::CreatedAt.gte(from.as_millis()))
        .filter(order::Column::CreatedAt.lt(to.as_millis()))
        .group_by(order::Column::FlashSaleId)
        .group_by(order::Column::State)
        .order_by_asc(order::Column::FlashSaleId)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: Vec<(FlashSaleId, OrderFigures)> = Vec::new();
    for (sale, state, orders, units, amount) in rows {
        let sale = FlashSaleId(sale);
        if out.last().is_none_or(|(last, _)| *last != sale) {
            out.push((sale, OrderFigures::default()));
        }
        let figures = &mut out.last_mut().expect("pushed above").1;
        figures.add(state_of(&state)?, orders, units.unwrap_or(0), amount.unwrap_or(0));
    }
    out.retain(|(_, f)| f.orders > 0);
    Ok(out)
}

fn merchant_placed(merchant: MerchantId, from: Timestamp, to: Timestamp) -> sea_orm::Select<order::Entity> {
    order::Entity::find()
        .filter(order::Column::MerchantId.eq(merchant.0))
        .filter(order::Column::CreatedAt.gte(from.as_millis()))
        .filter(order::Column::CreatedAt.lt(to.as_millis()))
        .filter(order::Column::State.is_in(placed_states()))
}

/// How many buyers placed a merchant's orders created in `[from, to)`.
pub async fn merchant_buyers(
    db: &DatabaseConnection,
    merchant: MerchantId,
    from: Timestamp,
    to: Timestamp,
) -> Result<u64, DbErr> {
    let buyers: Option<i64> = merchant_placed(merchant, from, to)
        .select_only()
        .column_as(Expr::expr(Func::count_distinct(Expr::col(order::Column::BuyerId))), "buyers")
        .into_tuple()
        .one(db)
        .await?;
    Ok(count(buyers.unwrap_or(0)))
}

/// A merchant's placed orders created in `[from, to)` that carry a shipping address, per
/// province: `(province, orders, amount_fen)`, most orders first.
pub async fn merchant_regions(
    db: &DatabaseConnection,
    merchant: MerchantId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<(String, u64, i64)>, DbErr> {
    let mut orders = Query::select();
    orders
        .column(order::Column::Id)
        .from(order::Entity)
        .and_where(order::Column::MerchantId.eq(merchant.0))
        .and_where(order::Column::CreatedAt.gte(from.as_millis()))
        .and_where(order::Column::CreatedAt.lt(to.as_millis()))
        .and_where(order::Column::State.is_in(placed_states()));
    let provinces: Vec<(String, i64)> = order_address::Entity::find()
        .select_only()
        .column(order_address::Column::Province)
        .column_as(order_address::Column::OrderId.count(), "orders")
        .filter(order_address::Column::OrderId.in_subquery(orders.to_owned()))
        .group_by(order_address::Column::Province)
        .into_tuple()
        .all(db)
        .await?;
    // The amounts per province: the orders' own, summed in a second grouped read.
    let mut out: Vec<(String, u64, i64)> = Vec::with_capacity(provinces.len());
    for (province, orders_of) in provinces {
        let mut of_province = Query::select();
        of_province
            .column(order_address::Column::OrderId)
            .from(order_address::Entity)
            .and_where(order_address::Column::Province.eq(province.clone()));
        let amount: Option<i64> = merchant_placed(merchant, from, to)
            .select_only()
            .column_as(Expr::col(order::Column::AmountFen).sum().cast_as("BIGINT"), "amount")
            .filter(order::Column::Id.in_subquery(of_province.to_owned()))
            .into_tuple()
            .one(db)
            .await?;
        out.push((province, count(orders_of), amount.unwrap_or(0)));
    }
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

/// A merchant's flash sales, newest first, at most `limit`.
pub async fn sales_of_merchant(
    db: &DatabaseConnection,
    merchant: MerchantId,
    limit: u64,
) -> Result<Vec<SaleTerms>, DbErr> {
    let rows = flash_sale::Entity::find()
        .filter(flash_sale::Column::MerchantId.eq(merchant.0))
        .order_by_desc(flash_sale::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter().map(crate::repo::terms_of).collect()
}

/// Merchants, newest first, at most `limit` (the operator console's list).
pub async fn merchants(db: &DatabaseConnection, limit: u64) -> Result<Vec<MerchantAccount>, DbErr> {
    let rows = merchant::Entity::find().order_by_desc(merchant::Column::Id).limit(limit).all(db).await?;
    Ok(rows
        .into_iter()
        .map(|m| MerchantAccount {
            id: MerchantId(m.id),
            phone: m.phone,
            password_hash: String::new(),
            display_name: m.display_name,
            kyc_verified: m.kyc_verified,
            created_at: Timestamp(m.created_at),
        })
        .collect())
}

/// Partners (MCNs), oldest first, at most `limit`: `(id, name)`.
pub async fn partners(db: &DatabaseConnection, limit: u64) -> Result<Vec<(i64, String)>, DbErr> {
    let rows = partner::Entity::find().order_by_asc(partner::Column::Id).limit(limit).all(db).await?;
    Ok(rows.into_iter().map(|p| (p.id, p.name)).collect())
}
