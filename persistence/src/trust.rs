//! What operators hold back, and what fans report. A sale or product held back carries why in
//! `suspended_reason` (`ban: …` by a merchant's ban, `takedown: …` by a report's takedown); an
//! unban gives back only what the ban took. Fans' reports queue in `fan_reports`; a takedown
//! decides the report, holds back the sale and delists the product, and writes its audit row
//! and the merchant's notice, in one transaction.

use engine::{BuyerId, FlashSaleId, MerchantId, ProductId, Timestamp};
use sea_orm::sea_query::{Alias, Expr, ExprTrait};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::access::AuditEntry;
use crate::entities::{fan_report, flash_sale, product};
use crate::qualification::audit;

/// The prefix of what a ban holds back; an unban gives back these only.
pub const BY_BAN: &str = "ban: ";
/// The prefix of what a takedown holds back.
pub const BY_TAKEDOWN: &str = "takedown: ";

fn reason_col() -> Alias {
    Alias::new("suspended_reason")
}

/// Holds back every sale of `merchant` not held back already, with `reason`; the sales now
/// held back by this call.
pub async fn suspend_merchant_sales(
    conn: &impl ConnectionTrait,
    merchant: MerchantId,
    reason: &str,
) -> Result<Vec<FlashSaleId>, DbErr> {
    let ids: Vec<i64> = flash_sale::Entity::find()
        .select_only()
        .column(flash_sale::Column::Id)
        .filter(flash_sale::Column::MerchantId.eq(merchant.0))
        .filter(Expr::col(reason_col()).is_null())
        .into_tuple()
        .all(conn)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    flash_sale::Entity::update_many()
        .col_expr(reason_col(), Expr::value(reason.to_owned()))
        .filter(flash_sale::Column::Id.is_in(ids.clone()))
        .filter(Expr::col(reason_col()).is_null())
        .exec(conn)
        .await?;
    Ok(ids.into_iter().map(FlashSaleId).collect())
}

/// Gives back the sales of `merchant` that its ban held back; which.
pub async fn resume_banned_sales(
    conn: &impl ConnectionTrait,
    merchant: MerchantId,
) -> Result<Vec<FlashSaleId>, DbErr> {
    let pattern = format!("{BY_BAN}%");
    let ids: Vec<i64> = flash_sale::Entity::find()
        .select_only()
        .column(flash_sale::Column::Id)
        .filter(flash_sale::Column::MerchantId.eq(merchant.0))
        .filter(Expr::col(reason_col()).like(pattern.clone()))
        .into_tuple()
        .all(conn)
        .await?;
    flash_sale::Entity::update_many()
        .col_expr(reason_col(), Expr::value(Option::<String>::None))
        .filter(flash_sale::Column::MerchantId.eq(merchant.0))
        .filter(Expr::col(reason_col()).like(pattern))
        .exec(conn)
        .await?;
    Ok(ids.into_iter().map(FlashSaleId).collect())
}

/// Why the sale is held back, if it is.
pub async fn sale_suspension(
    conn: &impl ConnectionTrait,
    sale: FlashSaleId,
) -> Result<Option<String>, DbErr> {
    let reason: Option<Option<String>> = flash_sale::Entity::find_by_id(sale.0)
        .select_only()
        .expr_as(Expr::col(reason_col()), "suspended_reason")
        .into_tuple()
        .one(conn)
        .await?;
    Ok(reason.flatten())
}

/// The merchant's sales held back and why, newest first, at most `limit`.
pub async fn suspended_sales_of(
    conn: &impl ConnectionTrait,
    merchant: MerchantId,
    limit: u64,
) -> Result<Vec<(FlashSaleId, String)>, DbErr> {
    let rows: Vec<(i64, Option<String>)> = flash_sale::Entity::find()
        .select_only()
        .column(flash_sale::Column::Id)
        .expr_as(Expr::col(reason_col()), "suspended_reason")
        .filter(flash_sale::Column::MerchantId.eq(merchant.0))
        .filter(Expr::col(reason_col()).is_not_null())
        .order_by_desc(flash_sale::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().filter_map(|(id, reason)| Some((FlashSaleId(id), reason?))).collect())
}

/// Delists every listed product of `merchant` with `reason`; how many.
pub async fn delist_merchant_products(
    conn: &impl ConnectionTrait,
    merchant: MerchantId,
    reason: &str,
) -> Result<u64, DbErr> {
    let updated = product::Entity::update_many()
        .col_expr(product::Column::Status, Expr::value("delisted"))
        .col_expr(reason_col(), Expr::value(reason.to_owned()))
        .filter(product::Column::MerchantId.eq(merchant.0))
        .filter(product::Column::Status.eq("listed"))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected)
}

/// Lists again the products of `merchant` that its ban delisted; how many.
pub async fn relist_banned_products(conn: &impl ConnectionTrait, merchant: MerchantId) -> Result<u64, DbErr> {
    let updated = product::Entity::update_many()
        .col_expr(product::Column::Status, Expr::value("listed"))
        .col_expr(reason_col(), Expr::value(Option::<String>::None))
        .filter(product::Column::MerchantId.eq(merchant.0))
        .filter(Expr::col(reason_col()).like(format!("{BY_BAN}%")))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected)
}

/// Why a product is delisted by an operator, if it is.
pub async fn product_suspension(conn: &impl ConnectionTrait, id: ProductId) -> Result<Option<String>, DbErr> {
    let reason: Option<Option<String>> = product::Entity::find_by_id(id.0)
        .select_only()
        .expr_as(Expr::col(reason_col()), "suspended_reason")
        .into_tuple()
        .one(conn)
        .await?;
    Ok(reason.flatten())
}

/// Bans in force, newest first, at most `limit` (the operators' list).
pub async fn bans_in_force(
    db: &DatabaseConnection,
    limit: u64,
) -> Result<Vec<crate::qualification::BanRecord>, DbErr> {
    use crate::entities::merchant_ban;
    Ok(merchant_ban::Entity::find()
        .filter(merchant_ban::Column::LiftedAt.is_null())
        .order_by_desc(merchant_ban::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(crate::qualification::BanRecord::from)
        .collect())
}

/// Whether the merchant of withdrawal `id` is banned (its withdrawals are frozen then); `None`
/// for no such withdrawal.
pub async fn withdrawal_frozen(db: &DatabaseConnection, id: i64) -> Result<Option<bool>, DbErr> {
    use crate::entities::withdrawal;
    let merchant: Option<i64> = withdrawal::Entity::find_by_id(id)
        .select_only()
        .column(withdrawal::Column::MerchantId)
        .into_tuple()
        .one(db)
        .await?;
    let Some(merchant) = merchant else { return Ok(None) };
    Ok(Some(crate::qualification::active_ban(db, MerchantId(merchant)).await?.is_some()))
}

// ---- fans' reports --------------------------------------------------------------------------

/// What a report can say is wrong, a fixed list.
pub const REPORT_REASONS: [&str; 6] =
    ["counterfeit", "false_advertising", "prohibited_goods", "price_fraud", "offensive_content", "other"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanReport {
    pub id: i64,
    pub buyer_id: BuyerId,
    pub merchant_id: MerchantId,
    pub flash_sale_id: Option<FlashSaleId>,
    pub product_id: ProductId,
    pub reason: String,
    pub text: String,
    /// `open`, `taken_down` or `dismissed`.
    pub state: String,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
    pub decision: Option<String>,
}

impl From<fan_report::Model> for FanReport {
    fn from(m: fan_report::Model) -> Self {
        Self {
            id: m.id,
            buyer_id: BuyerId(m.buyer_id),
            merchant_id: MerchantId(m.merchant_id),
            flash_sale_id: m.flash_sale_id.map(FlashSaleId),
            product_id: ProductId(m.product_id),
            reason: m.reason,
            text: m.text,
            state: m.state,
            created_at: Timestamp(m.created_at),
            decided_at: m.decided_at.map(Timestamp),
            decided_by: m.decided_by,
            decision: m.decision,
        }
    }
}

/// How many reports `buyer` filed at or after `since`.
pub async fn reports_since(db: &DatabaseConnection, buyer: BuyerId, since: Timestamp) -> Result<u64, DbErr> {
    fan_report::Entity::find()
        .filter(fan_report::Column::BuyerId.eq(buyer.0))
        .filter(fan_report::Column::CreatedAt.gte(since.as_millis()))
        .count(db)
        .await
}

/// Files a report (`open`); its id.
pub async fn insert_report(db: &DatabaseConnection, report: &FanReport) -> Result<i64, DbErr> {
    let row = fan_report::ActiveModel {
        id: NotSet,
        buyer_id: Set(report.buyer_id.0),
        merchant_id: Set(report.merchant_id.0),
        flash_sale_id: Set(report.flash_sale_id.map(|s| s.0)),
        product_id: Set(report.product_id.0),
        reason: Set(report.reason.clone()),
        text: Set(report.text.clone()),
        state: Set("open".into()),
        created_at: Set(report.created_at.as_millis()),
        decided_at: Set(None),
        decided_by: Set(None),
        decision: Set(None),
    };
    Ok(fan_report::Entity::insert(row).exec(db).await?.last_insert_id)
}

/// Reports in `state`, oldest first, after id `after`, at most `limit`.
pub async fn reports_in_state(
    db: &DatabaseConnection,
    state: &str,
    after: i64,
    limit: u64,
) -> Result<Vec<FanReport>, DbErr> {
    Ok(fan_report::Entity::find()
        .filter(fan_report::Column::State.eq(state))
        .filter(fan_report::Column::Id.gt(after))
        .order_by_asc(fan_report::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(FanReport::from)
        .collect())
}

pub async fn report(db: &DatabaseConnection, id: i64) -> Result<Option<FanReport>, DbErr> {
    Ok(fan_report::Entity::find_by_id(id).one(db).await?.map(FanReport::from))
}

/// Decides an open report: `taken_down` also holds back its sale (if any), delists its
/// product with `reason` and writes the merchant's `sale_taken_down` notice; `dismissed`
/// changes nothing else. The audit row goes in the same transaction. `false` if the report was not open (nothing written).
pub async fn decide_report(
    db: &DatabaseConnection,
    report: &FanReport,
    take_down: bool,
    decision: &str,
    entry: &AuditEntry,
    now: Timestamp,
) -> Result<bool, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let state = if take_down { "taken_down" } else { "dismissed" };
    let updated = fan_report::Entity::update_many()
        .col_expr(fan_report::Column::State, Expr::value(state))
        .col_expr(fan_report::Column::DecidedAt, Expr::value(now.as_millis()))
        .col_expr(fan_report::Column::DecidedBy, Expr::value(entry.username.clone()))
        .col_expr(fan_report::Column::Decision, Expr::value(decision.to_owned()))
        .filter(fan_report::Column::Id.eq(report.id))
        .filter(fan_report::Column::State.eq("open"))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(false);
    }
    if take_down {
        let reason = format!("{BY_TAKEDOWN}{decision}");
        if let Some(sale) = report.flash_sale_id {
            flash_sale::Entity::update_many()
                .col_expr(reason_col(), Expr::value(reason.clone()))
                .filter(flash_sale::Column::Id.eq(sale.0))
                .exec(&txn)
                .await?;
        }
        product::Entity::update_many()
            .col_expr(product::Column::Status, Expr::value("delisted"))
            .col_expr(reason_col(), Expr::value(reason))
            .filter(product::Column::Id.eq(report.product_id.0))
            .exec(&txn)
            .await?;
        // The merchant is told why, with the takedown.
        let title: Option<String> = product::Entity::find_by_id(report.product_id.0)
            .select_only()
            .column(product::Column::Title)
            .into_tuple()
            .one(&txn)
            .await?;
        let notice = engine::notification::Notice::sale_taken_down(
            report.merchant_id,
            &title.unwrap_or_default(),
            report.flash_sale_id,
            decision,
            report.id,
            now,
        );
        crate::outbox::enqueue(&txn, &notice).await?;
    }
    audit(&txn, entry).await?;
    txn.commit().await?;
    Ok(true)
}
