//! A sale's stock actor, rebuilt from its stored orders: at start, for a new sale, and on
//! demand for a settled one (its actor then answers and leaves again).

use std::sync::Arc;

use actors::{SaleHandle, StockRegistry};
use anyhow::Context as _;
use engine::{Fen, FlashSaleId, MerchantId, ProductId, SaleTerms, TermsError, Timestamp};
use persistence::repo::{CreateSaleError, SaleCaps};
use persistence::{DatabaseConnection, DbErr, repo};

/// What a merchant asks for when it opens a sale; the product's title is the sale's.
#[derive(Debug, Clone)]
pub struct Opening {
    pub product_id: ProductId,
    /// The SKU whose stock the units come out of; `None`: the product's only SKU.
    pub sku_id: Option<i64>,
    pub price_fen: Fen,
    pub quantity: u32,
    pub per_buyer_limit: u32,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub payment_window_secs: u32,
}

/// Why a sale was not opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Terms(#[from] TermsError),
    /// No such product, or not the merchant's.
    #[error("no such product in your catalogue")]
    ProductNotFound,
    /// The product's stock, or the merchant's caps on live and scheduled sales.
    #[error(transparent)]
    Refused(CreateSaleError),
    #[error(transparent)]
    Start(anyhow::Error),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// Opens a flash sale of `merchant` on one of its products, within `caps`, and starts its
/// stock actor.
pub async fn open(
    db: &DatabaseConnection,
    registry: &StockRegistry,
    merchant: MerchantId,
    opening: Opening,
    caps: SaleCaps,
    now: Timestamp,
) -> Result<FlashSaleId, OpenError> {
    let product = repo::product(db, opening.product_id)
        .await?
        .filter(|p| p.merchant_id == merchant)
        .ok_or(OpenError::ProductNotFound)?;
    // A sale of one SKU of several is titled with its spec values (纯棉T恤 白 M).
    let skus = persistence::catalogue::skus(db, product.id).await?;
    let title = match opening.sku_id.and_then(|id| skus.iter().find(|s| s.id == id)) {
        Some(sku) if skus.len() > 1 && !sku.values.is_empty() => {
            let values: Vec<&str> = sku.values.values().map(String::as_str).collect();
            let full = format!("{} {}", product.title, values.join(" "));
            if full.chars().count() <= 200 { full } else { product.title }
        }
        _ => product.title,
    };
    let terms = SaleTerms {
        id: FlashSaleId(0),
        merchant_id: merchant,
        product_id: product.id,
        title,
        price_fen: opening.price_fen,
        quantity: opening.quantity,
        per_buyer_limit: opening.per_buyer_limit,
        starts_at: opening.starts_at,
        ends_at: opening.ends_at,
        payment_window_secs: opening.payment_window_secs,
    };
    terms.check_new(now)?;
    let id =
        repo::create_flash_sale_on(db, &terms, opening.sku_id, now, caps).await.map_err(|e| match e {
            CreateSaleError::ProductNotFound => OpenError::ProductNotFound,
            CreateSaleError::Db(e) => OpenError::Db(e),
            refused => OpenError::Refused(refused),
        })?;
    start(db, registry, SaleTerms { id, ..terms }).await.map_err(OpenError::Start)?;
    Ok(id)
}

/// Starts the stock actor of a stored flash sale, rebuilt from its orders.
pub async fn start(
    db: &DatabaseConnection,
    registry: &StockRegistry,
    terms: SaleTerms,
) -> anyhow::Result<Arc<SaleHandle>> {
    let orders = repo::orders_of_sale(db, terms.id).await?;
    let restocks = persistence::refunds::restocks_of_sale(db, terms.id).await?;
    let doors = persistence::live::doors_of_sale(db, terms.id).await?;
    let suspended = persistence::trust::sale_suspension(db, terms.id).await?.is_some();
    let id = terms.id;
    let handle = registry
        .start_restored(terms, orders, restocks, doors)
        .with_context(|| format!("flash sale {id} breaks an invariant in storage"))?;
    // Held back by an operator (a ban, a takedown): so it stays across a restart. Its holds
    // were dealt with when it was held back.
    if suspended && !handle.gauge.is_suspended() {
        handle.suspend(true, false).await;
    }
    Ok(handle)
}

/// The stock actor of a sale, started on demand from the database when none is running (the
/// sale is then settled: the actor answers and leaves again); `None` when there is no such
/// sale. For what needs the actor's word on a settled sale (a late payment, a cancellation);
/// reads of a settled sale go to the database instead.
pub async fn running_or_started(
    db: &DatabaseConnection,
    registry: &StockRegistry,
    id: FlashSaleId,
) -> anyhow::Result<Option<Arc<SaleHandle>>> {
    if let Some(running) = registry.get(id) {
        return Ok(Some(running));
    }
    let Some(terms) = repo::flash_sale(db, id).await? else { return Ok(None) };
    metrics::counter!("flashsale_stock_actors_started_on_demand_total").increment(1);
    start(db, registry, terms).await.map(Some)
}
