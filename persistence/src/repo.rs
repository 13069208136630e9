//! Repositories: every query the rest of the system makes, as plain async functions that take
//! and return domain types (engine types, or the plain records below), never sea-orm models.

use engine::{
    BuyerId, ClientNetwork, Fen, FlashSaleId, IdempotencyKey, MerchantId, Order, OrderId, OrderState, Phone,
    ProductId, SaleTerms, Timestamp,
};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use thiserror::Error;

use crate::entities::{buyer, flash_sale, merchant, order, product, setting};

/// A unique constraint said no.
#[derive(Debug, Error)]
pub enum InsertError {
    #[error("already exists")]
    Duplicate,
    #[error(transparent)]
    Db(#[from] DbErr),
}

pub(crate) fn classify(err: DbErr) -> InsertError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => InsertError::Duplicate,
        _ => InsertError::Db(err),
    }
}

// ---- merchants ------------------------------------------------------------------------------

/// A merchant's account, as its sign-in reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantAccount {
    pub id: MerchantId,
    pub phone: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub display_name: String,
    /// Identity verified by an operator (KYC): required to withdraw.
    pub kyc_verified: bool,
    pub created_at: Timestamp,
}

pub async fn insert_merchant(
    db: &DatabaseConnection,
    phone: &Phone,
    password_hash: &str,
    display_name: &str,
    now: Timestamp,
) -> Result<MerchantId, InsertError> {
    let row = merchant::ActiveModel {
        id: NotSet,
        phone: Set(phone.as_str().to_owned()),
        password_hash: Set(password_hash.to_owned()),
        display_name: Set(display_name.to_owned()),
        created_at: Set(now.as_millis()),
        kyc_verified: Set(false),
    };
    let result = merchant::Entity::insert(row).exec(db).await.map_err(classify)?;
    Ok(MerchantId(result.last_insert_id))
}

pub async fn merchant_by_phone(
    db: &DatabaseConnection,
    phone: &Phone,
) -> Result<Option<MerchantAccount>, DbErr> {
    let row = merchant::Entity::find().filter(merchant::Column::Phone.eq(phone.as_str())).one(db).await?;
    Ok(row.map(|m| MerchantAccount {
        id: MerchantId(m.id),
        phone: m.phone,
        password_hash: m.password_hash,
        display_name: m.display_name,
        kyc_verified: m.kyc_verified,
        created_at: Timestamp(m.created_at),
    }))
}

/// The shop name a merchant shows to fans.
pub async fn merchant_display_name(db: &DatabaseConnection, id: MerchantId) -> Result<Option<String>, DbErr> {
    Ok(merchant::Entity::find_by_id(id.0).one(db).await?.map(|m| m.display_name))
}

/// A merchant's name and phone, as a parcel's sender prints them.
pub async fn merchant_contact(
    db: &DatabaseConnection,
    id: MerchantId,
) -> Result<Option<(String, String)>, DbErr> {
    Ok(merchant::Entity::find_by_id(id.0).one(db).await?.map(|m| (m.display_name, m.phone)))
}

pub async fn merchant_count(db: &DatabaseConnection) -> Result<u64, DbErr> {
    merchant::Entity::find().count(db).await
}

// ---- products -------------------------------------------------------------------------------

/// A product as a merchant lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub title: String,
    pub description: String,
    pub image_url: String,
    pub price_fen: Fen,
    pub stock: i64,
}

/// A product as stored: what is left of its stock to allocate to flash sales.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRecord {
    pub id: ProductId,
    pub merchant_id: MerchantId,
    pub title: String,
    pub description: String,
    pub image_url: String,
    pub price_fen: Fen,
    pub stock: i64,
    /// `draft`, `under_review`, `listed` or `delisted` (`engine::catalogue::ProductState`).
    pub status: String,
    pub created_at: Timestamp,
}

pub(crate) fn product_of(row: product::Model) -> ProductRecord {
    ProductRecord {
        id: ProductId(row.id),
        merchant_id: MerchantId(row.merchant_id),
        title: row.title,
        description: row.description,
        image_url: row.image_url,
        price_fen: Fen(row.price_fen),
        stock: row.stock,
        status: row.status,
        created_at: Timestamp(row.created_at),
    }
}

/// Stores a product without specs: one default SKU holding its price and stock, listed.
pub async fn insert_product(
    db: &DatabaseConnection,
    merchant_id: MerchantId,
    product: NewProduct,
    now: Timestamp,
) -> Result<ProductId, DbErr> {
    let draft = crate::catalogue::ProductDraft {
        code: None,
        title: product.title,
        description: product.description,
        image_url: product.image_url,
        specs: Vec::new(),
        skus: vec![crate::catalogue::default_sku(product.price_fen.as_i64(), product.stock)],
        no_reason_returns: true,
        return_shipping: engine::catalogue::ReturnShipping::Buyer,
        state: engine::catalogue::ProductState::Listed,
        state_reason: None,
    };
    crate::catalogue::insert(db, merchant_id, &draft, "merchant", now).await.map_err(|e| match e {
        InsertError::Duplicate => DbErr::Custom("product code taken".into()),
        InsertError::Db(e) => e,
    })
}

pub async fn product(db: &DatabaseConnection, id: ProductId) -> Result<Option<ProductRecord>, DbErr> {
    Ok(product::Entity::find_by_id(id.0).one(db).await?.map(product_of))
}

pub async fn products_of_merchant(
    db: &DatabaseConnection,
    merchant_id: MerchantId,
) -> Result<Vec<ProductRecord>, DbErr> {
    let rows = product::Entity::find()
        .filter(product::Column::MerchantId.eq(merchant_id.0))
        .order_by_asc(product::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(product_of).collect())
}

// ---- flash sales ----------------------------------------------------------------------------

/// How many sales one merchant may have open; `0` switches a cap off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaleCaps {
    /// Sales live at the same instant. Checked conservatively: a new sale is refused when this
    /// many of the merchant's sales that have not ended overlap its window, which bounds the
    /// live ones at every instant whatever starts when.
    pub max_live: u32,
    /// Sales that have not started yet.
    pub max_scheduled: u32,
}

/// Why a flash sale could not be created.
#[derive(Debug, Error)]
pub enum CreateSaleError {
    #[error("no such product")]
    ProductNotFound,
    #[error("no such SKU of this product")]
    SkuNotFound,
    #[error("the product has several SKUs: name one (sku_id)")]
    SkuRequired,
    #[error("the product is not listed")]
    NotListed,
    #[error("the SKU has only {stock} units left to allocate")]
    InsufficientStock { stock: i64 },
    #[error("at most {max} flash sales may be live at once")]
    TooManyLive { max: u32 },
    #[error("at most {max} flash sales may be scheduled")]
    TooManyScheduled { max: u32 },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Creates a flash sale and moves its units out of the product's stock, in one transaction,
/// within the merchant's caps. `terms.id` is ignored: the database assigns it.
pub async fn create_flash_sale(
    db: &DatabaseConnection,
    terms: &SaleTerms,
    now: Timestamp,
    caps: SaleCaps,
) -> Result<FlashSaleId, CreateSaleError> {
    create_flash_sale_on(db, terms, None, now, caps).await
}

/// [`create_flash_sale`] on one SKU of the product (`None`: its only SKU). The units come out
/// of that SKU's stock (and so the product's), and the sale remembers the SKU so that its
/// unsold units go back there once it settles. The product must be listed.
pub async fn create_flash_sale_on(
    db: &DatabaseConnection,
    terms: &SaleTerms,
    sku_id: Option<i64>,
    now: Timestamp,
    caps: SaleCaps,
) -> Result<FlashSaleId, CreateSaleError> {
    let txn = crate::db::begin_write(db).await?;
    if caps.max_live > 0 || caps.max_scheduled > 0 {
        check_sale_caps(&txn, terms, now, caps).await?;
    }
    let quantity = i64::from(terms.quantity);
    let found = product::Entity::find_by_id(terms.product_id.0)
        .filter(product::Column::MerchantId.eq(terms.merchant_id.0))
        .one(&txn)
        .await?
        .ok_or(CreateSaleError::ProductNotFound)?;
    // A product sold out answers as short of stock, as it always did.
    let sold_out = found.state_reason.as_deref() == Some(engine::catalogue::REASON_SOLD_OUT);
    if found.status != engine::catalogue::ProductState::Listed.as_str() && !sold_out {
        return Err(CreateSaleError::NotListed);
    }
    let sku =
        crate::catalogue::sku_for_sale(&txn, found.id, sku_id).await?.map_err(|choice| match choice {
            crate::catalogue::SkuChoice::NotFound => CreateSaleError::SkuNotFound,
            crate::catalogue::SkuChoice::Required => CreateSaleError::SkuRequired,
        })?;
    // A guarded decrement: the stock check and the update are one statement, so two
    // concurrent sales of one SKU cannot both take the last units.
    if !crate::catalogue::add_units(&txn, found.id, sku.id, -quantity, now).await? {
        let left = crate::catalogue::skus(&txn, ProductId(found.id)).await?;
        let stock = left.iter().find(|s| s.id == sku.id).map_or(0, |s| s.stock);
        return Err(CreateSaleError::InsufficientStock { stock });
    }
    let row = flash_sale::ActiveModel {
        id: NotSet,
        merchant_id: Set(terms.merchant_id.0),
        product_id: Set(terms.product_id.0),
        title: Set(terms.title.clone()),
        price_fen: Set(terms.price_fen.as_i64()),
        quantity: Set(quantity),
        per_buyer_limit: Set(i64::from(terms.per_buyer_limit)),
        starts_at: Set(terms.starts_at.as_millis()),
        ends_at: Set(terms.ends_at.as_millis()),
        payment_window_secs: Set(i64::from(terms.payment_window_secs)),
        created_at: Set(now.as_millis()),
    };
    let id = flash_sale::Entity::insert(row).exec(&txn).await?.last_insert_id;
    crate::catalogue::link_sale(&txn, id, found.id, sku.id).await?;
    txn.commit().await?;
    Ok(FlashSaleId(id))
}

/// The caps of [`SaleCaps`], counted under a lock on the merchant's row so that two creations
/// at once cannot both take the last place: the first statement is a write, which on Postgres
/// locks the row until commit and on SQLite takes the database's write lock.
async fn check_sale_caps(
    txn: &sea_orm::DatabaseTransaction,
    terms: &SaleTerms,
    now: Timestamp,
    caps: SaleCaps,
) -> Result<(), CreateSaleError> {
    merchant::Entity::update_many()
        .col_expr(merchant::Column::CreatedAt, Expr::col(merchant::Column::CreatedAt))
        .filter(merchant::Column::Id.eq(terms.merchant_id.0))
        .exec(txn)
        .await?;
    let open = || {
        flash_sale::Entity::find()
            .filter(flash_sale::Column::MerchantId.eq(terms.merchant_id.0))
            .filter(flash_sale::Column::EndsAt.gt(Ord::max(now.as_millis(), terms.starts_at.as_millis())))
    };
    if caps.max_live > 0 {
        let overlapping =
            open().filter(flash_sale::Column::StartsAt.lt(terms.ends_at.as_millis())).count(txn).await?;
        if overlapping >= u64::from(caps.max_live) {
            return Err(CreateSaleError::TooManyLive { max: caps.max_live });
        }
    }
    if caps.max_scheduled > 0 && terms.starts_at > now {
        let scheduled = flash_sale::Entity::find()
            .filter(flash_sale::Column::MerchantId.eq(terms.merchant_id.0))
            .filter(flash_sale::Column::StartsAt.gt(now.as_millis()))
            .count(txn)
            .await?;
        if scheduled >= u64::from(caps.max_scheduled) {
            return Err(CreateSaleError::TooManyScheduled { max: caps.max_scheduled });
        }
    }
    Ok(())
}

pub(crate) fn terms_of(row: flash_sale::Model) -> Result<SaleTerms, DbErr> {
    let narrow = |v: i64, what: &str| {
        u32::try_from(v).map_err(|_| DbErr::Custom(format!("flash sale {} {what} {v}", row.id)))
    };
    let terms = SaleTerms {
        id: FlashSaleId(row.id),
        merchant_id: MerchantId(row.merchant_id),
        product_id: ProductId(row.product_id),
        title: row.title.clone(),
        price_fen: Fen(row.price_fen),
        quantity: narrow(row.quantity, "quantity")?,
        per_buyer_limit: narrow(row.per_buyer_limit, "per_buyer_limit")?,
        starts_at: Timestamp(row.starts_at),
        ends_at: Timestamp(row.ends_at),
        payment_window_secs: narrow(row.payment_window_secs, "payment_window_secs")?,
    };
    terms.check().map_err(|e| DbErr::Custom(format!("flash sale {}: {e}", row.id)))?;
    Ok(terms)
}

pub async fn flash_sale(db: &DatabaseConnection, id: FlashSaleId) -> Result<Option<SaleTerms>, DbErr> {
    flash_sale::Entity::find_by_id(id.0).one(db).await?.map(terms_of).transpose()
}

/// The sales that can still change at `now`: not ended, or holding a pending order. What boot
/// starts actors for; every other sale is settled and is read from the database.
pub async fn flash_sales_that_can_change(
    db: &DatabaseConnection,
    now: Timestamp,
) -> Result<Vec<SaleTerms>, DbErr> {
    let pending = Query::select()
        .column(order::Column::FlashSaleId)
        .from(order::Entity)
        .and_where(order::Column::State.eq(OrderState::PendingPayment.as_str()))
        .to_owned();
    flash_sale::Entity::find()
        .filter(
            Condition::any()
                .add(flash_sale::Column::EndsAt.gt(now.as_millis()))
                .add(flash_sale::Column::Id.in_subquery(pending)),
        )
        .order_by_asc(flash_sale::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(terms_of)
        .collect()
}

/// Units of a sale held and sold, from its orders: `(reserved, sold)`. For sales without an
/// actor, which are settled and durable (see `actors::registry`), so this is exact.
pub async fn sale_units(db: &DatabaseConnection, flash_sale_id: FlashSaleId) -> Result<(u32, u32), DbErr> {
    let rows: Vec<(String, Option<i64>)> = order::Entity::find()
        .select_only()
        .column(order::Column::State)
        // As a BIGINT: Postgres widens a sum of BIGINTs to NUMERIC.
        .column_as(Expr::col(order::Column::Quantity).sum().cast_as("BIGINT"), "units")
        .filter(order::Column::FlashSaleId.eq(flash_sale_id.0))
        // A platform's orders are counted by the door's slice.
        .filter(order::Column::BuyerId.ne(engine::PLATFORM_BUYER.0))
        .group_by(order::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let (mut reserved, mut sold) = (0u32, 0u32);
    for (state, units) in rows {
        let state = OrderState::parse(&state).ok_or_else(|| DbErr::Custom(format!("order state {state}")))?;
        let units = u32::try_from(units.unwrap_or(0)).map_err(|_| {
            DbErr::Custom(format!("flash sale {flash_sale_id}: {state:?} units out of range"))
        })?;
        if state.holds_units() {
            reserved += units;
        } else if state.sold_units() {
            sold += units;
        }
    }
    // Units of refunded orders put back on sale are available again.
    let restocked = crate::refunds::restocked_units_of_sale(db, flash_sale_id).await?;
    Ok((reserved, sold.saturating_sub(restocked)))
}

// ---- buyers ---------------------------------------------------------------------------------

/// The buyer id of a phone number, creating the guest identity on first sight.
pub async fn buyer_for_phone(
    db: &DatabaseConnection,
    phone: &Phone,
    now: Timestamp,
) -> Result<BuyerId, DbErr> {
    let find = || buyer::Entity::find().filter(buyer::Column::Phone.eq(phone.as_str()));
    if let Some(found) = find().one(db).await? {
        return Ok(BuyerId(found.id));
    }
    let row = buyer::ActiveModel {
        id: NotSet,
        phone: Set(phone.as_str().to_owned()),
        created_at: Set(now.as_millis()),
        wechat_openid: NotSet,
    };
    // Two first sessions of one phone at once: one insert wins, both read the same row.
    buyer::Entity::insert(row)
        .on_conflict(OnConflict::column(buyer::Column::Phone).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    let row = find().one(db).await?.ok_or_else(|| DbErr::RecordNotFound("buyer".into()))?;
    Ok(BuyerId(row.id))
}

// ---- orders ---------------------------------------------------------------------------------

/// The row of an order, as the journal writer inserts it.
pub fn order_row(order: &Order) -> order::ActiveModel {
    order::ActiveModel {
        id: Set(order.id.0),
        flash_sale_id: Set(order.flash_sale_id.0),
        merchant_id: Set(order.merchant_id.0),
        buyer_id: Set(order.buyer_id.0),
        quantity: Set(i64::from(order.quantity)),
        amount_fen: Set(order.amount_fen.as_i64()),
        state: Set(order.state.as_str().to_owned()),
        idempotency_key: Set(order.idempotency_key.as_str().to_owned()),
        client_network: Set(order.client_network.map(|n| n.to_string())),
        created_at: Set(order.created_at.as_millis()),
        expires_at: Set(order.expires_at.as_millis()),
        updated_at: Set(order.updated_at.as_millis()),
    }
}

pub(crate) fn order_of(row: order::Model) -> Result<Order, DbErr> {
    let bad = |what: &str| DbErr::Custom(format!("order {}: bad {what}", row.id));
    Ok(Order {
        id: OrderId(row.id),
        flash_sale_id: FlashSaleId(row.flash_sale_id),
        merchant_id: MerchantId(row.merchant_id),
        buyer_id: BuyerId(row.buyer_id),
        quantity: u32::try_from(row.quantity).map_err(|_| bad("quantity"))?,
        amount_fen: Fen(row.amount_fen),
        state: OrderState::parse(&row.state).ok_or_else(|| bad("state"))?,
        idempotency_key: IdempotencyKey::parse(&row.idempotency_key).map_err(|_| bad("idempotency key"))?,
        client_network: match row.client_network.as_deref() {
            Some(raw) => Some(ClientNetwork::parse(raw).ok_or_else(|| bad("client network"))?),
            None => None,
        },
        created_at: Timestamp(row.created_at),
        expires_at: Timestamp(row.expires_at),
        updated_at: Timestamp(row.updated_at),
    })
}

pub async fn order(db: &DatabaseConnection, id: OrderId) -> Result<Option<Order>, DbErr> {
    order::Entity::find_by_id(id.0).one(db).await?.map(order_of).transpose()
}

/// The order a buyer placed with this key in this sale, if any.
pub async fn order_by_key(
    db: &DatabaseConnection,
    flash_sale_id: FlashSaleId,
    buyer_id: BuyerId,
    key: &IdempotencyKey,
) -> Result<Option<Order>, DbErr> {
    order::Entity::find()
        .filter(order::Column::FlashSaleId.eq(flash_sale_id.0))
        .filter(order::Column::BuyerId.eq(buyer_id.0))
        .filter(order::Column::IdempotencyKey.eq(key.as_str()))
        .one(db)
        .await?
        .map(order_of)
        .transpose()
}

/// A sale's orders placed through the engine (not those made from a live platform's orders).
pub async fn orders_of_sale(
    db: &DatabaseConnection,
    flash_sale_id: FlashSaleId,
) -> Result<Vec<Order>, DbErr> {
    order::Entity::find()
        .filter(order::Column::FlashSaleId.eq(flash_sale_id.0))
        // A platform's orders are counted by the door's slice, not placed through the engine.
        .filter(order::Column::BuyerId.ne(engine::PLATFORM_BUYER.0))
        .order_by_asc(order::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(order_of)
        .collect()
}

pub async fn largest_order_id(db: &DatabaseConnection) -> Result<Option<OrderId>, DbErr> {
    let max: Option<Option<i64>> = order::Entity::find()
        .select_only()
        .column_as(order::Column::Id.max(), "max_id")
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().map(OrderId))
}

// ---- settings -------------------------------------------------------------------------------

/// The stored value of `key`, storing `fresh` first if there is none. Concurrent callers all
/// get the one value that won.
pub async fn setting_or_insert(db: &DatabaseConnection, key: &str, fresh: String) -> Result<String, DbErr> {
    let row = setting::ActiveModel { key: Set(key.to_owned()), value: Set(fresh) };
    setting::Entity::insert(row)
        .on_conflict(OnConflict::column(setting::Column::Key).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    let stored = setting::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("setting {key}")))?;
    Ok(stored.value)
}

/// The stored value of `key`, if any.
pub async fn setting(db: &DatabaseConnection, key: &str) -> Result<Option<String>, DbErr> {
    Ok(setting::Entity::find_by_id(key.to_owned()).one(db).await?.map(|s| s.value))
}

/// Checks that the connection answers (readiness).
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}
