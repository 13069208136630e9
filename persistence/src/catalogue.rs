//! The catalogue's storage: products with their specs, SKUs, images and revisions; state
//! changes guarded by the state they expect; SKU stock (a product's `stock` is always the sum
//! of its SKUs', changed in the same transaction); the sold-out rule (a listed product whose
//! stock reaches 0 is delisted as `sold_out`, and listed again when stock comes back); the
//! unsold units of an ended sale given back to its SKU once; and bulk import in chunks.

use std::collections::{BTreeMap, HashMap};

use engine::catalogue::import::ImportProduct;
use engine::catalogue::{DEFAULT_SKU, ProductState, REASON_SOLD_OUT, ReturnShipping, SkuDraft, Spec};
use engine::{Fen, FlashSaleId, MerchantId, ProductId, Timestamp};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;

use crate::entities::{flash_sale, product, product_image, product_revision, product_sku, sale_sku};
use crate::repo::{InsertError, ProductRecord, classify, product_of};

/// A SKU as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SkuRecord {
    pub id: i64,
    pub product_id: i64,
    pub code: String,
    pub values: BTreeMap<String, String>,
    pub price_fen: i64,
    pub stock: i64,
    pub low_stock_threshold: i64,
    pub low_stock: bool,
}

fn sku_of(row: product_sku::Model) -> SkuRecord {
    SkuRecord {
        id: row.id,
        product_id: row.product_id,
        code: row.code,
        values: serde_json::from_str(&row.spec_values).unwrap_or_default(),
        price_fen: row.price_fen,
        stock: row.stock,
        low_stock_threshold: row.low_stock_threshold,
        low_stock: engine::catalogue::is_low(row.stock, row.low_stock_threshold),
    }
}

/// A picture of a product.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageRecord {
    pub id: i64,
    pub product_id: i64,
    pub position: i64,
    #[serde(skip)]
    pub object_key: String,
    #[serde(skip)]
    pub thumb_key: String,
    pub content_type: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
}

fn image_of(row: product_image::Model) -> ImageRecord {
    ImageRecord {
        id: row.id,
        product_id: row.product_id,
        position: row.position,
        object_key: row.object_key,
        thumb_key: row.thumb_key,
        content_type: row.content_type,
        bytes: row.bytes,
        width: row.width,
        height: row.height,
    }
}

/// A product with everything the editor shows.
#[derive(Debug, Clone)]
pub struct ProductDetail {
    pub product: ProductRecord,
    pub code: Option<String>,
    pub specs: Vec<Spec>,
    pub state: ProductState,
    pub state_reason: Option<String>,
    pub no_reason_returns: bool,
    pub return_shipping: ReturnShipping,
    pub revision: i64,
    pub updated_at: Timestamp,
    pub skus: Vec<SkuRecord>,
    pub images: Vec<ImageRecord>,
}

/// A product as a merchant writes it, before it is stored.
#[derive(Debug, Clone)]
pub struct ProductDraft {
    pub code: Option<String>,
    pub title: String,
    pub description: String,
    pub image_url: String,
    pub specs: Vec<Spec>,
    pub skus: Vec<SkuDraft>,
    pub no_reason_returns: bool,
    pub return_shipping: ReturnShipping,
    pub state: ProductState,
    pub state_reason: Option<String>,
}

fn bad(what: String) -> DbErr {
    DbErr::Custom(what)
}

fn state_of(row: &product::Model) -> Result<ProductState, DbErr> {
    ProductState::parse(&row.status).ok_or_else(|| bad(format!("product {} state {}", row.id, row.status)))
}

fn detail_of(
    row: product::Model,
    skus: Vec<SkuRecord>,
    images: Vec<ImageRecord>,
) -> Result<ProductDetail, DbErr> {
    let state = state_of(&row)?;
    let specs: Vec<Spec> =
        serde_json::from_str(&row.specs).map_err(|e| bad(format!("product {} specs: {e}", row.id)))?;
    let return_shipping = ReturnShipping::parse(&row.return_shipping)
        .ok_or_else(|| bad(format!("product {} return_shipping {}", row.id, row.return_shipping)))?;
    Ok(ProductDetail {
        code: row.product_code.clone(),
        specs,
        state,
        state_reason: row.state_reason.clone(),
        no_reason_returns: row.no_reason_returns,
        return_shipping,
        revision: row.revision,
        updated_at: Timestamp(row.updated_at),
        skus,
        images,
        product: product_of(row),
    })
}

fn snapshot(row: &product::Model, skus: &[product_sku::Model]) -> String {
    json!({
        "title": row.title,
        "description": row.description,
        "image_url": row.image_url,
        "product_code": row.product_code,
        "specs": serde_json::from_str::<serde_json::Value>(&row.specs).unwrap_or_default(),
        "no_reason_returns": row.no_reason_returns,
        "return_shipping": row.return_shipping,
        "state": row.status,
        "skus": skus.iter().map(|s| json!({
            "code": s.code,
            "values": serde_json::from_str::<serde_json::Value>(&s.spec_values).unwrap_or_default(),
            "price_fen": s.price_fen,
            "stock": s.stock,
            "low_stock_threshold": s.low_stock_threshold,
        })).collect::<Vec<_>>(),
    })
    .to_string()
}

fn sku_row(
    product_id: i64,
    merchant: i64,
    position: usize,
    sku: &SkuDraft,
    now: Timestamp,
) -> product_sku::ActiveModel {
    product_sku::ActiveModel {
        id: NotSet,
        product_id: Set(product_id),
        merchant_id: Set(merchant),
        code: Set(sku.code.clone()),
        spec_values: Set(serde_json::to_string(&sku.values).expect("a map of strings serializes")),
        price_fen: Set(sku.price_fen),
        stock: Set(sku.stock),
        low_stock_threshold: Set(sku.low_stock_threshold),
        low_stock_warned: Set(false),
        low_stock_warnings: Set(0),
        position: Set(position as i64),
        created_at: Set(now.as_millis()),
    }
}

fn product_row(merchant: MerchantId, draft: &ProductDraft, now: Timestamp) -> product::ActiveModel {
    let stock: i64 = draft.skus.iter().map(|s| s.stock).sum();
    let price = draft.skus.iter().map(|s| s.price_fen).min().unwrap_or(0);
    // A product listed with nothing to allocate is sold out from the start.
    let (state, reason) = if draft.state == ProductState::Listed && stock == 0 {
        (ProductState::Delisted, Some(REASON_SOLD_OUT.to_owned()))
    } else {
        (draft.state, draft.state_reason.clone())
    };
    product::ActiveModel {
        id: NotSet,
        merchant_id: Set(merchant.0),
        title: Set(draft.title.clone()),
        description: Set(draft.description.clone()),
        image_url: Set(draft.image_url.clone()),
        price_fen: Set(price),
        stock: Set(stock),
        status: Set(state.as_str().to_owned()),
        created_at: Set(now.as_millis()),
        no_reason_returns: Set(draft.no_reason_returns),
        product_code: Set(draft.code.clone()),
        specs: Set(serde_json::to_string(&draft.specs).expect("specs serialize")),
        return_shipping: Set(draft.return_shipping.as_str().to_owned()),
        state_reason: Set(reason),
        revision: Set(1),
        updated_at: Set(now.as_millis()),
    }
}

async fn write_revision(
    conn: &impl ConnectionTrait,
    product_id: i64,
    edited_by: &str,
    now: Timestamp,
) -> Result<(), DbErr> {
    let row = product::Entity::find_by_id(product_id)
        .one(conn)
        .await?
        .ok_or_else(|| bad(format!("product {product_id} vanished")))?;
    let skus = product_sku::Entity::find()
        .filter(product_sku::Column::ProductId.eq(product_id))
        .order_by_asc(product_sku::Column::Position)
        .all(conn)
        .await?;
    product_revision::Entity::insert(product_revision::ActiveModel {
        id: NotSet,
        product_id: Set(product_id),
        revision: Set(row.revision),
        snapshot: Set(snapshot(&row, &skus)),
        edited_by: Set(edited_by.to_owned()),
        edited_at: Set(now.as_millis()),
    })
    .exec(conn)
    .await?;
    Ok(())
}

/// Stores a new product, its SKUs and its first revision in one transaction. A product code
/// the merchant already uses is [`InsertError::Duplicate`].
pub async fn insert(
    db: &DatabaseConnection,
    merchant: MerchantId,
    draft: &ProductDraft,
    edited_by: &str,
    now: Timestamp,
) -> Result<ProductId, InsertError> {
    let txn = crate::db::begin_write(db).await?;
    let id = product::Entity::insert(product_row(merchant, draft, now))
        .exec(&txn)
        .await
        .map_err(classify)?
        .last_insert_id;
    let rows: Vec<_> =
        draft.skus.iter().enumerate().map(|(i, s)| sku_row(id, merchant.0, i, s, now)).collect();
    product_sku::Entity::insert_many(rows).exec_without_returning(&txn).await?;
    write_revision(&txn, id, edited_by, now).await?;
    txn.commit().await?;
    Ok(ProductId(id))
}

/// The SKUs of a product, in the merchant's order.
pub async fn skus(db: &impl ConnectionTrait, product_id: ProductId) -> Result<Vec<SkuRecord>, DbErr> {
    Ok(product_sku::Entity::find()
        .filter(product_sku::Column::ProductId.eq(product_id.0))
        .order_by_asc(product_sku::Column::Position)
        .order_by_asc(product_sku::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(sku_of)
        .collect())
}

pub async fn images(db: &impl ConnectionTrait, product_id: ProductId) -> Result<Vec<ImageRecord>, DbErr> {
    Ok(product_image::Entity::find()
        .filter(product_image::Column::ProductId.eq(product_id.0))
        .order_by_asc(product_image::Column::Position)
        .order_by_asc(product_image::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(image_of)
        .collect())
}

/// A product with its SKUs and images.
pub async fn detail(db: &DatabaseConnection, id: ProductId) -> Result<Option<ProductDetail>, DbErr> {
    let Some(row) = product::Entity::find_by_id(id.0).one(db).await? else { return Ok(None) };
    let (skus, images) = (skus(db, id).await?, images(db, id).await?);
    detail_of(row, skus, images).map(Some)
}

/// Every product of the merchant with its SKUs and images, oldest first: three queries (and
/// one per thousand products for the images), not three per product.
pub async fn details_of_merchant(
    db: &DatabaseConnection,
    merchant: MerchantId,
) -> Result<Vec<ProductDetail>, DbErr> {
    let rows = product::Entity::find()
        .filter(product::Column::MerchantId.eq(merchant.0))
        .order_by_asc(product::Column::Id)
        .all(db)
        .await?;
    let mut skus: HashMap<i64, Vec<SkuRecord>> = HashMap::new();
    for sku in product_sku::Entity::find()
        .filter(product_sku::Column::MerchantId.eq(merchant.0))
        .order_by_asc(product_sku::Column::Position)
        .order_by_asc(product_sku::Column::Id)
        .all(db)
        .await?
    {
        skus.entry(sku.product_id).or_default().push(sku_of(sku));
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut images: HashMap<i64, Vec<ImageRecord>> = HashMap::new();
    for chunk in ids.chunks(1_000) {
        for image in product_image::Entity::find()
            .filter(product_image::Column::ProductId.is_in(chunk.iter().copied()))
            .order_by_asc(product_image::Column::Position)
            .order_by_asc(product_image::Column::Id)
            .all(db)
            .await?
        {
            images.entry(image.product_id).or_default().push(image_of(image));
        }
    }
    rows.into_iter()
        .map(|row| {
            let id = row.id;
            detail_of(row, skus.remove(&id).unwrap_or_default(), images.remove(&id).unwrap_or_default())
        })
        .collect()
}

/// The merchant's product, or `None` (no such product, or another merchant's).
pub async fn detail_of_merchant(
    db: &DatabaseConnection,
    merchant: MerchantId,
    id: ProductId,
) -> Result<Option<ProductDetail>, DbErr> {
    Ok(detail(db, id).await?.filter(|d| d.product.merchant_id == merchant))
}

/// What an edit changes; `None` leaves a field as it is. `skus` are upserted by code (a SKU
/// not named stays), `specs` replace the product's.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub image_url: Option<String>,
    pub price_fen: Option<Fen>,
    pub no_reason_returns: Option<bool>,
    pub return_shipping: Option<ReturnShipping>,
    pub specs: Option<Vec<Spec>>,
    pub skus: Vec<SkuDraft>,
    /// The state the edit leaves the product in (a banned word sends a listed one to review).
    pub state: Option<(ProductState, Option<String>)>,
}

/// Why an edit was not stored.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("no such product")]
    NotFound,
    #[error("the product changed meanwhile; read it again")]
    Conflict,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Applies an edit as revision `expected + 1`: guarded by the revision the caller read, so two
/// edits at once cannot both win; the new revision is kept whole.
pub async fn edit(
    db: &DatabaseConnection,
    merchant: MerchantId,
    id: ProductId,
    expected_revision: i64,
    edit: Edit,
    now: Timestamp,
) -> Result<(), EditError> {
    let txn = crate::db::begin_write(db).await?;
    if product::Entity::find_by_id(id.0).one(&txn).await?.filter(|r| r.merchant_id == merchant.0).is_none() {
        return Err(EditError::NotFound);
    }
    let mut update = product::Entity::update_many()
        .col_expr(product::Column::Revision, Expr::col(product::Column::Revision).add(1))
        .col_expr(product::Column::UpdatedAt, Expr::value(now.as_millis()))
        .filter(product::Column::Id.eq(id.0))
        .filter(product::Column::Revision.eq(expected_revision));
    if let Some(title) = edit.title {
        update = update.col_expr(product::Column::Title, Expr::value(title));
    }
    if let Some(description) = edit.description {
        update = update.col_expr(product::Column::Description, Expr::value(description));
    }
    if let Some(url) = edit.image_url {
        update = update.col_expr(product::Column::ImageUrl, Expr::value(url));
    }
    if let Some(no_reason) = edit.no_reason_returns {
        update = update.col_expr(product::Column::NoReasonReturns, Expr::value(no_reason));
    }
    if let Some(shipping) = edit.return_shipping {
        update = update.col_expr(product::Column::ReturnShipping, Expr::value(shipping.as_str()));
    }
    if let Some(specs) = &edit.specs {
        update = update.col_expr(
            product::Column::Specs,
            Expr::value(serde_json::to_string(specs).expect("specs serialize")),
        );
    }
    if let Some((state, reason)) = edit.state {
        update = update
            .col_expr(product::Column::Status, Expr::value(state.as_str()))
            .col_expr(product::Column::StateReason, Expr::value(reason));
    }
    if update.exec(&txn).await?.rows_affected != 1 {
        return Err(EditError::Conflict);
    }
    let existing =
        product_sku::Entity::find().filter(product_sku::Column::ProductId.eq(id.0)).all(&txn).await?;
    // A list price on a product of one SKU is that SKU's price.
    if let Some(price) = edit.price_fen
        && existing.len() == 1
        && edit.skus.is_empty()
    {
        product_sku::Entity::update_many()
            .col_expr(product_sku::Column::PriceFen, Expr::value(price.as_i64()))
            .filter(product_sku::Column::Id.eq(existing[0].id))
            .exec(&txn)
            .await?;
    }
    let mut position = existing.len();
    for sku in &edit.skus {
        match existing.iter().find(|e| e.code == sku.code) {
            Some(found) => {
                product_sku::Entity::update_many()
                    .col_expr(
                        product_sku::Column::SpecValues,
                        Expr::value(serde_json::to_string(&sku.values).expect("values serialize")),
                    )
                    .col_expr(product_sku::Column::PriceFen, Expr::value(sku.price_fen))
                    .col_expr(product_sku::Column::Stock, Expr::value(sku.stock))
                    .col_expr(product_sku::Column::LowStockThreshold, Expr::value(sku.low_stock_threshold))
                    .filter(product_sku::Column::Id.eq(found.id))
                    .exec(&txn)
                    .await?;
            }
            None => {
                product_sku::Entity::insert(sku_row(id.0, merchant.0, position, sku, now)).exec(&txn).await?;
                position += 1;
            }
        }
    }
    recompute(&txn, id.0, now).await?;
    write_revision(&txn, id.0, "merchant", now).await?;
    txn.commit().await?;
    Ok(())
}

/// Sets a product's `stock` to the sum of its SKUs' and `price_fen` to the lowest SKU price,
/// then applies the sold-out rule.
async fn recompute(conn: &impl ConnectionTrait, product_id: i64, now: Timestamp) -> Result<(), DbErr> {
    let skus =
        product_sku::Entity::find().filter(product_sku::Column::ProductId.eq(product_id)).all(conn).await?;
    let stock: i64 = skus.iter().map(|s| s.stock).sum();
    let mut update = product::Entity::update_many().col_expr(product::Column::Stock, Expr::value(stock));
    if let Some(price) = skus.iter().map(|s| s.price_fen).min() {
        update = update.col_expr(product::Column::PriceFen, Expr::value(price));
    }
    update.filter(product::Column::Id.eq(product_id)).exec(conn).await?;
    sold_out_rule(conn, product_id).await?;
    low_stock_rule(conn, product_id, now).await
}

/// How a SKU is named to its merchant: its code, and its spec values if it has any.
fn sku_label(row: &product_sku::Model) -> String {
    let values: BTreeMap<String, String> = serde_json::from_str(&row.spec_values).unwrap_or_default();
    match (row.code.as_str(), values.is_empty()) {
        (DEFAULT_SKU, true) => "默认".to_owned(),
        (code, true) => code.to_owned(),
        (code, false) => format!("{code}（{}）", values.into_values().collect::<Vec<_>>().join("/")),
    }
}

/// The low-stock rule, after a change of the product's SKU stock: a SKU that went above its
/// threshold (or lost it) is armed again; a SKU at or under it that was not warned yet is
/// marked warned, and the merchant's `low_stock` notice goes to the outbox on the same
/// connection (the change's transaction). The mark is a guarded update, so of two changes at
/// once only one warns; a SKU that stays low is not warned again.
pub(crate) async fn low_stock_rule(
    conn: &impl ConnectionTrait,
    product_id: i64,
    now: Timestamp,
) -> Result<(), DbErr> {
    let low = || {
        Expr::col(product_sku::Column::LowStockThreshold)
            .gt(0)
            .and(Expr::col(product_sku::Column::Stock).lte(Expr::col(product_sku::Column::LowStockThreshold)))
    };
    product_sku::Entity::update_many()
        .col_expr(product_sku::Column::LowStockWarned, Expr::value(false))
        .filter(product_sku::Column::ProductId.eq(product_id))
        .filter(product_sku::Column::LowStockWarned.eq(true))
        .filter(low().not())
        .exec(conn)
        .await?;
    let newly_low = product_sku::Entity::find()
        .filter(product_sku::Column::ProductId.eq(product_id))
        .filter(product_sku::Column::LowStockWarned.eq(false))
        .filter(low())
        .order_by_asc(product_sku::Column::Position)
        .all(conn)
        .await?;
    if newly_low.is_empty() {
        return Ok(());
    }
    let Some(product) = product::Entity::find_by_id(product_id).one(conn).await? else { return Ok(()) };
    for sku in newly_low {
        let marked = product_sku::Entity::update_many()
            .col_expr(product_sku::Column::LowStockWarned, Expr::value(true))
            .col_expr(
                product_sku::Column::LowStockWarnings,
                Expr::col(product_sku::Column::LowStockWarnings).add(1),
            )
            .filter(product_sku::Column::Id.eq(sku.id))
            .filter(product_sku::Column::LowStockWarned.eq(false))
            .filter(low())
            .exec(conn)
            .await?;
        if marked.rows_affected != 1 {
            continue;
        }
        let notice = engine::notification::Notice::low_stock(
            MerchantId(sku.merchant_id),
            &product.title,
            &sku_label(&sku),
            sku.stock,
            sku.low_stock_threshold,
            format!("{}.{}", sku.id, sku.low_stock_warnings + 1),
            now,
        );
        crate::outbox::enqueue(conn, &notice).await?;
    }
    Ok(())
}

/// A listed product with no stock left is delisted as sold out; a product delisted as sold out
/// with stock again is listed again. Nothing else moves.
pub(crate) async fn sold_out_rule(conn: &impl ConnectionTrait, product_id: i64) -> Result<(), DbErr> {
    product::Entity::update_many()
        .col_expr(product::Column::Status, Expr::value(ProductState::Delisted.as_str()))
        .col_expr(product::Column::StateReason, Expr::value(REASON_SOLD_OUT))
        .filter(product::Column::Id.eq(product_id))
        .filter(product::Column::Status.eq(ProductState::Listed.as_str()))
        .filter(product::Column::Stock.lte(0))
        .exec(conn)
        .await?;
    product::Entity::update_many()
        .col_expr(product::Column::Status, Expr::value(ProductState::Listed.as_str()))
        .col_expr(product::Column::StateReason, Expr::value(Option::<String>::None))
        .filter(product::Column::Id.eq(product_id))
        .filter(product::Column::Status.eq(ProductState::Delisted.as_str()))
        .filter(product::Column::StateReason.eq(REASON_SOLD_OUT))
        .filter(product::Column::Stock.gt(0))
        .exec(conn)
        .await?;
    Ok(())
}

/// Adds `units` to a SKU and its product, then applies the sold-out and low-stock rules. A negative `units`
/// is guarded by the SKU's stock: `false` when it has fewer, and then the caller must not
/// commit (the product's row was already changed). Rows are changed product first, then SKU,
/// as every writer of the catalogue does, so two transactions never wait on each other.
pub(crate) async fn add_units(
    conn: &impl ConnectionTrait,
    product_id: i64,
    sku_id: i64,
    units: i64,
    now: Timestamp,
) -> Result<bool, DbErr> {
    product::Entity::update_many()
        .col_expr(product::Column::Stock, Expr::col(product::Column::Stock).add(units))
        .filter(product::Column::Id.eq(product_id))
        .exec(conn)
        .await?;
    let mut update = product_sku::Entity::update_many()
        .col_expr(product_sku::Column::Stock, Expr::col(product_sku::Column::Stock).add(units))
        .filter(product_sku::Column::Id.eq(sku_id))
        .filter(product_sku::Column::ProductId.eq(product_id));
    if units < 0 {
        update = update.filter(product_sku::Column::Stock.gte(-units));
    }
    if update.exec(conn).await?.rows_affected != 1 {
        return Ok(false);
    }
    sold_out_rule(conn, product_id).await?;
    low_stock_rule(conn, product_id, now).await?;
    Ok(true)
}

/// The SKU a sale draws on: the one named, or the product's only SKU.
pub(crate) async fn sku_for_sale(
    conn: &impl ConnectionTrait,
    product_id: i64,
    sku_id: Option<i64>,
) -> Result<Result<product_sku::Model, SkuChoice>, DbErr> {
    let skus =
        product_sku::Entity::find().filter(product_sku::Column::ProductId.eq(product_id)).all(conn).await?;
    Ok(match sku_id {
        Some(id) => skus.into_iter().find(|s| s.id == id).ok_or(SkuChoice::NotFound),
        None if skus.len() == 1 => Ok(skus.into_iter().next().expect("one SKU")),
        None => Err(SkuChoice::Required),
    })
}

/// Why no SKU was chosen for a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkuChoice {
    NotFound,
    Required,
}

/// Records which SKU a new sale's units came out of.
pub(crate) async fn link_sale(
    conn: &impl ConnectionTrait,
    sale: i64,
    product_id: i64,
    sku_id: i64,
) -> Result<(), DbErr> {
    sale_sku::Entity::insert(sale_sku::ActiveModel {
        flash_sale_id: Set(sale),
        sku_id: Set(sku_id),
        product_id: Set(product_id),
        unsold_returned: Set(None),
        returned_at: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The SKU of a sale (none for sales opened before SKUs existed).
pub async fn sku_of_sale(
    db: &impl ConnectionTrait,
    sale: FlashSaleId,
) -> Result<Option<(i64, Option<i64>)>, DbErr> {
    Ok(sale_sku::Entity::find_by_id(sale.0).one(db).await?.map(|r| (r.sku_id, r.unsold_returned)))
}

/// Ended sales whose unsold units were not given back yet, oldest end first.
pub async fn sales_due_return(
    db: &DatabaseConnection,
    now: Timestamp,
    limit: u64,
) -> Result<Vec<FlashSaleId>, DbErr> {
    let due: Vec<i64> = sale_sku::Entity::find()
        .select_only()
        .column(sale_sku::Column::FlashSaleId)
        .filter(sale_sku::Column::ReturnedAt.is_null())
        .order_by_asc(sale_sku::Column::FlashSaleId)
        .into_tuple()
        .all(db)
        .await?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let mut ended = Vec::new();
    for chunk in due.chunks(500) {
        let rows: Vec<i64> = flash_sale::Entity::find()
            .select_only()
            .column(flash_sale::Column::Id)
            .filter(flash_sale::Column::Id.is_in(chunk.iter().copied()))
            .filter(flash_sale::Column::EndsAt.lte(now.as_millis()))
            .order_by_asc(flash_sale::Column::EndsAt)
            .into_tuple()
            .all(db)
            .await?;
        ended.extend(rows.into_iter().map(FlashSaleId));
        if ended.len() as u64 >= limit {
            ended.truncate(limit as usize);
            break;
        }
    }
    Ok(ended)
}

/// Gives a settled sale's unsold units back to its SKU, exactly once: the mark and the units
/// are one transaction, and the mark is guarded by its absence. `true` when this call did it.
pub async fn return_unsold(
    db: &DatabaseConnection,
    sale: FlashSaleId,
    units: u32,
    now: Timestamp,
) -> Result<bool, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let Some(link) = sale_sku::Entity::find_by_id(sale.0).one(&txn).await? else { return Ok(false) };
    let marked = sale_sku::Entity::update_many()
        .col_expr(sale_sku::Column::UnsoldReturned, Expr::value(i64::from(units)))
        .col_expr(sale_sku::Column::ReturnedAt, Expr::value(now.as_millis()))
        .filter(sale_sku::Column::FlashSaleId.eq(sale.0))
        .filter(sale_sku::Column::ReturnedAt.is_null())
        .exec(&txn)
        .await?;
    if marked.rows_affected != 1 {
        return Ok(false);
    }
    if units > 0 && !add_units(&txn, link.product_id, link.sku_id, i64::from(units), now).await? {
        return Err(bad(format!("sale {sale}: its SKU {} is gone", link.sku_id)));
    }
    txn.commit().await?;
    Ok(true)
}

/// What a merchant changes of one SKU.
#[derive(Debug, Clone, Copy, Default)]
pub struct SkuPatch {
    pub price_fen: Option<i64>,
    pub stock: Option<i64>,
    pub low_stock_threshold: Option<i64>,
}

/// Changes one SKU of the merchant's product (stock set, not added: a restock names the new
/// count); the product's stock and the sold-out rule follow in the same transaction. The SKU
/// as it is after, or `None`.
pub async fn update_sku(
    db: &DatabaseConnection,
    merchant: MerchantId,
    product_id: ProductId,
    sku_id: i64,
    patch: SkuPatch,
    now: Timestamp,
) -> Result<Option<SkuRecord>, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let Some(sku) = product_sku::Entity::find_by_id(sku_id)
        .filter(product_sku::Column::ProductId.eq(product_id.0))
        .filter(product_sku::Column::MerchantId.eq(merchant.0))
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    let changes = patch.price_fen.is_some() || patch.stock.is_some() || patch.low_stock_threshold.is_some();
    if changes {
        // The product's row first (see `add_units`).
        product::Entity::update_many()
            .col_expr(product::Column::Revision, Expr::col(product::Column::Revision).add(1))
            .col_expr(product::Column::UpdatedAt, Expr::value(now.as_millis()))
            .filter(product::Column::Id.eq(product_id.0))
            .exec(&txn)
            .await?;
    }
    let mut update = product_sku::Entity::update_many().filter(product_sku::Column::Id.eq(sku.id));
    if let Some(price) = patch.price_fen {
        update = update.col_expr(product_sku::Column::PriceFen, Expr::value(price));
    }
    if let Some(stock) = patch.stock {
        update = update.col_expr(product_sku::Column::Stock, Expr::value(stock));
    }
    if let Some(threshold) = patch.low_stock_threshold {
        update = update.col_expr(product_sku::Column::LowStockThreshold, Expr::value(threshold));
    }
    if changes {
        update.exec(&txn).await?;
        recompute(&txn, product_id.0, now).await?;
        write_revision(&txn, product_id.0, "merchant", now).await?;
    }
    let after = product_sku::Entity::find_by_id(sku.id).one(&txn).await?.map(sku_of);
    txn.commit().await?;
    Ok(after)
}

/// Moves a product from one of `from` to `to` (guarded: `false` when it was in another state).
pub async fn set_state(
    db: &impl ConnectionTrait,
    id: ProductId,
    merchant: Option<MerchantId>,
    from: &[ProductState],
    to: ProductState,
    reason: Option<String>,
    now: Timestamp,
) -> Result<bool, DbErr> {
    let mut update = product::Entity::update_many()
        .col_expr(product::Column::Status, Expr::value(to.as_str()))
        .col_expr(product::Column::StateReason, Expr::value(reason))
        .col_expr(product::Column::UpdatedAt, Expr::value(now.as_millis()))
        .filter(product::Column::Id.eq(id.0))
        .filter(product::Column::Status.is_in(from.iter().map(|s| s.as_str())));
    if let Some(merchant) = merchant {
        update = update.filter(product::Column::MerchantId.eq(merchant.0));
    }
    let moved = update.exec(db).await?.rows_affected == 1;
    if moved && to == ProductState::Listed {
        sold_out_rule(db, id.0).await?;
    }
    Ok(moved)
}

/// Products waiting for an operator, oldest first.
pub async fn review_queue(db: &DatabaseConnection, limit: u64) -> Result<Vec<ProductDetail>, DbErr> {
    let rows = product::Entity::find()
        .filter(product::Column::Status.eq(ProductState::UnderReview.as_str()))
        .order_by_asc(product::Column::UpdatedAt)
        .order_by_asc(product::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter().map(|row| detail_of(row, Vec::new(), Vec::new())).collect()
}

/// A product's revisions, newest first.
pub async fn revisions(
    db: &DatabaseConnection,
    id: ProductId,
    limit: u64,
) -> Result<Vec<serde_json::Value>, DbErr> {
    Ok(product_revision::Entity::find()
        .filter(product_revision::Column::ProductId.eq(id.0))
        .order_by_desc(product_revision::Column::Revision)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|r| {
            json!({
                "revision": r.revision,
                "edited_by": r.edited_by,
                "edited_at_ms": r.edited_at,
                "product": serde_json::from_str::<serde_json::Value>(&r.snapshot).unwrap_or_default(),
            })
        })
        .collect())
}

/// The merchant's SKUs at or under their low-stock threshold, with their product's title.
pub async fn low_stock(
    db: &DatabaseConnection,
    merchant: MerchantId,
    limit: u64,
) -> Result<Vec<(String, SkuRecord)>, DbErr> {
    let rows = product_sku::Entity::find()
        .filter(product_sku::Column::MerchantId.eq(merchant.0))
        .filter(product_sku::Column::LowStockThreshold.gt(0))
        .filter(Expr::col(product_sku::Column::Stock).lte(Expr::col(product_sku::Column::LowStockThreshold)))
        .order_by_asc(product_sku::Column::ProductId)
        .order_by_asc(product_sku::Column::Position)
        .limit(limit)
        .all(db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.product_id).collect();
    let titles: HashMap<i64, String> = product::Entity::find()
        .filter(product::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.title))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| (titles.get(&r.product_id).cloned().unwrap_or_default(), sku_of(r)))
        .collect())
}

// ---- images ---------------------------------------------------------------------------------

/// A stored picture to record.
#[derive(Debug, Clone)]
pub struct NewImage {
    pub object_key: String,
    pub thumb_key: String,
    pub content_type: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
}

/// Appends a picture at the end of the product's, if it has fewer than `max`.
pub async fn add_image(
    db: &DatabaseConnection,
    product_id: ProductId,
    image: NewImage,
    max: u64,
    now: Timestamp,
) -> Result<Option<ImageRecord>, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    // The product's row is the lock: two uploads at once take positions one after the other.
    product::Entity::update_many()
        .col_expr(product::Column::UpdatedAt, Expr::value(now.as_millis()))
        .filter(product::Column::Id.eq(product_id.0))
        .exec(&txn)
        .await?;
    let existing = images(&txn, product_id).await?;
    if existing.len() as u64 >= max {
        return Ok(None);
    }
    let position = existing.last().map_or(0, |i| i.position + 1);
    let id = product_image::Entity::insert(product_image::ActiveModel {
        id: NotSet,
        product_id: Set(product_id.0),
        position: Set(position),
        object_key: Set(image.object_key),
        thumb_key: Set(image.thumb_key),
        content_type: Set(image.content_type),
        bytes: Set(image.bytes),
        width: Set(image.width),
        height: Set(image.height),
        created_at: Set(now.as_millis()),
    })
    .exec(&txn)
    .await?
    .last_insert_id;
    let row = product_image::Entity::find_by_id(id).one(&txn).await?.map(image_of);
    txn.commit().await?;
    Ok(row)
}

pub async fn image(db: &DatabaseConnection, id: i64) -> Result<Option<ImageRecord>, DbErr> {
    Ok(product_image::Entity::find_by_id(id).one(db).await?.map(image_of))
}

/// Puts the product's pictures in the order of `ids` (which must name each of them once).
pub async fn reorder_images(
    db: &DatabaseConnection,
    product_id: ProductId,
    ids: &[i64],
) -> Result<bool, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let mut current: Vec<i64> = images(&txn, product_id).await?.into_iter().map(|i| i.id).collect();
    let mut wanted = ids.to_vec();
    current.sort_unstable();
    wanted.sort_unstable();
    if current != wanted {
        return Ok(false);
    }
    for (position, id) in ids.iter().enumerate() {
        product_image::Entity::update_many()
            .col_expr(product_image::Column::Position, Expr::value(position as i64))
            .filter(product_image::Column::Id.eq(*id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// Removes one of the product's pictures (its files stay: keys are content hashes that another
/// product may share).
pub async fn remove_image(db: &DatabaseConnection, product_id: ProductId, id: i64) -> Result<bool, DbErr> {
    let removed = product_image::Entity::delete_many()
        .filter(product_image::Column::Id.eq(id))
        .filter(product_image::Column::ProductId.eq(product_id.0))
        .exec(db)
        .await?;
    Ok(removed.rows_affected == 1)
}

// ---- import ---------------------------------------------------------------------------------

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    pub products_created: u64,
    pub products_updated: u64,
    pub products_unchanged: u64,
    pub skus_created: u64,
    pub skus_updated: u64,
}

/// A product of the file and the state a new one starts in (listed, or under review when a
/// banned word was found).
pub struct ImportItem<'a> {
    pub product: &'a ImportProduct,
    pub state: ProductState,
    pub reason: Option<String>,
}

const IMPORT_CHUNK: usize = 400;

/// Writes the good products of an import, keyed by the merchant's product code and each SKU's
/// code: new ones inserted in batches, changed ones updated (a revision each), unchanged ones
/// left alone, so a second upload of the same file changes nothing. One transaction per chunk
/// of products.
pub async fn import(
    db: &DatabaseConnection,
    merchant: MerchantId,
    items: &[ImportItem<'_>],
    now: Timestamp,
) -> Result<Imported, DbErr> {
    let mut done = Imported::default();
    for chunk in items.chunks(IMPORT_CHUNK) {
        let txn = crate::db::begin_write(db).await?;
        let codes: Vec<String> = chunk.iter().map(|i| i.product.code.clone()).collect();
        let existing: HashMap<String, product::Model> = product::Entity::find()
            .filter(product::Column::MerchantId.eq(merchant.0))
            .filter(product::Column::ProductCode.is_in(codes.clone()))
            .all(&txn)
            .await?
            .into_iter()
            .filter_map(|p| p.product_code.clone().map(|c| (c, p)))
            .collect();
        let mut ids: Vec<i64> = existing.values().map(|p| p.id).collect();
        ids.sort_unstable();
        if !ids.is_empty() {
            // The products' rows first, as every writer of the catalogue takes them.
            product::Entity::update_many()
                .col_expr(product::Column::UpdatedAt, Expr::col(product::Column::UpdatedAt))
                .filter(product::Column::Id.is_in(ids.clone()))
                .exec(&txn)
                .await?;
        }
        let mut existing_skus: HashMap<i64, Vec<product_sku::Model>> = HashMap::new();
        for ids in ids.chunks(1_000) {
            for sku in product_sku::Entity::find()
                .filter(product_sku::Column::ProductId.is_in(ids.iter().copied()))
                .all(&txn)
                .await?
            {
                existing_skus.entry(sku.product_id).or_default().push(sku);
            }
        }
        // New products: one batch, then their ids read back by code.
        let fresh: Vec<&ImportItem> =
            chunk.iter().filter(|i| !existing.contains_key(&i.product.code)).collect();
        if !fresh.is_empty() {
            let rows = fresh.iter().map(|item| {
                let draft = ProductDraft {
                    code: Some(item.product.code.clone()),
                    title: item.product.title.clone(),
                    description: item.product.description.clone(),
                    image_url: String::new(),
                    specs: item.product.specs.clone(),
                    skus: item.product.skus.clone(),
                    no_reason_returns: item.product.no_reason_returns,
                    return_shipping: item.product.return_shipping,
                    state: item.state,
                    state_reason: item.reason.clone(),
                };
                product_row(merchant, &draft, now)
            });
            product::Entity::insert_many(rows).exec_without_returning(&txn).await?;
            let new_ids: HashMap<String, i64> = product::Entity::find()
                .filter(product::Column::MerchantId.eq(merchant.0))
                .filter(product::Column::ProductCode.is_in(fresh.iter().map(|i| i.product.code.clone())))
                .all(&txn)
                .await?
                .into_iter()
                .filter_map(|p| p.product_code.map(|c| (c, p.id)))
                .collect();
            let mut sku_rows = Vec::new();
            let mut revision_rows = Vec::new();
            for item in &fresh {
                let id = new_ids[&item.product.code];
                sku_rows.extend(
                    item.product.skus.iter().enumerate().map(|(i, s)| sku_row(id, merchant.0, i, s, now)),
                );
                revision_rows.push(id);
            }
            done.skus_created += sku_rows.len() as u64;
            let mut rows = sku_rows.into_iter().peekable();
            while rows.peek().is_some() {
                let batch: Vec<_> = rows.by_ref().take(1_000).collect();
                product_sku::Entity::insert_many(batch).exec_without_returning(&txn).await?;
            }
            for id in revision_rows {
                write_revision(&txn, id, "import", now).await?;
            }
            done.products_created += fresh.len() as u64;
        }
        // Known products: changed fields and SKUs only.
        for item in chunk.iter().filter(|i| existing.contains_key(&i.product.code)) {
            let row = &existing[&item.product.code];
            let p = item.product;
            let specs = serde_json::to_string(&p.specs).expect("specs serialize");
            let product_changed = row.title != p.title
                || row.description != p.description
                || row.no_reason_returns != p.no_reason_returns
                || row.return_shipping != p.return_shipping.as_str()
                || row.specs != specs;
            let stored = existing_skus.get(&row.id).map(Vec::as_slice).unwrap_or(&[]);
            let mut skus_changed = false;
            let mut position = stored.len();
            for sku in &p.skus {
                let values = serde_json::to_string(&sku.values).expect("values serialize");
                match stored.iter().find(|s| s.code == sku.code) {
                    Some(s)
                        if s.spec_values == values
                            && s.price_fen == sku.price_fen
                            && s.stock == sku.stock
                            && s.low_stock_threshold == sku.low_stock_threshold => {}
                    Some(s) => {
                        product_sku::Entity::update_many()
                            .col_expr(product_sku::Column::SpecValues, Expr::value(values))
                            .col_expr(product_sku::Column::PriceFen, Expr::value(sku.price_fen))
                            .col_expr(product_sku::Column::Stock, Expr::value(sku.stock))
                            .col_expr(
                                product_sku::Column::LowStockThreshold,
                                Expr::value(sku.low_stock_threshold),
                            )
                            .filter(product_sku::Column::Id.eq(s.id))
                            .exec(&txn)
                            .await?;
                        done.skus_updated += 1;
                        skus_changed = true;
                    }
                    None => {
                        product_sku::Entity::insert(sku_row(row.id, merchant.0, position, sku, now))
                            .exec(&txn)
                            .await?;
                        position += 1;
                        done.skus_created += 1;
                        skus_changed = true;
                    }
                }
            }
            if !product_changed && !skus_changed {
                done.products_unchanged += 1;
                continue;
            }
            let mut update = product::Entity::update_many()
                .col_expr(product::Column::Title, Expr::value(p.title.clone()))
                .col_expr(product::Column::Description, Expr::value(p.description.clone()))
                .col_expr(product::Column::NoReasonReturns, Expr::value(p.no_reason_returns))
                .col_expr(product::Column::ReturnShipping, Expr::value(p.return_shipping.as_str()))
                .col_expr(product::Column::Specs, Expr::value(specs))
                .col_expr(product::Column::Revision, Expr::col(product::Column::Revision).add(1))
                .col_expr(product::Column::UpdatedAt, Expr::value(now.as_millis()))
                .filter(product::Column::Id.eq(row.id));
            if item.state == ProductState::UnderReview && product_changed {
                update = update
                    .col_expr(product::Column::Status, Expr::value(ProductState::UnderReview.as_str()))
                    .col_expr(product::Column::StateReason, Expr::value(item.reason.clone()));
            }
            update.exec(&txn).await?;
            recompute(&txn, row.id, now).await?;
            write_revision(&txn, row.id, "import", now).await?;
            done.products_updated += 1;
        }
        txn.commit().await?;
    }
    Ok(done)
}

/// The default SKU of a product stored through [`crate::repo::insert_product`].
pub(crate) fn default_sku(price_fen: i64, stock: i64) -> SkuDraft {
    SkuDraft {
        code: DEFAULT_SKU.to_owned(),
        values: BTreeMap::new(),
        price_fen,
        stock,
        low_stock_threshold: 0,
    }
}
