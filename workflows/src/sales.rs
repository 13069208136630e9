//! A sale's stock actor, rebuilt from its stored orders: at start, for a new sale, and on
//! demand for a settled one (its actor then answers and leaves again).

use std::sync::Arc;

use actors::{SaleHandle, StockRegistry};
use anyhow::Context as _;
use engine::{FlashSaleId, SaleTerms};
use persistence::{DatabaseConnection, repo};

/// Starts the stock actor of a stored flash sale, rebuilt from its orders.
pub async fn start(
    db: &DatabaseConnection,
    registry: &StockRegistry,
    terms: SaleTerms,
) -> anyhow::Result<Arc<SaleHandle>> {
    let orders = repo::orders_of_sale(db, terms.id).await?;
    let id = terms.id;
    registry.start(terms, orders).with_context(|| format!("flash sale {id} breaks an invariant in storage"))
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
