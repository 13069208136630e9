//! What a fan's page shows of a sale besides its live figures: the terms, the product (title,
//! picture, description, original price) and the shop's name. Read from the database once per
//! sale and kept for a short while, so that ten thousand fans opening the same link cost one
//! read; the live figures come from the sale's actor ([`live_counts`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engine::{Fen, FlashSaleId, SaleTerms, StockCounts};
use tokio::sync::OnceCell;

use crate::AppState;

/// How long a product edit may take to show on the page.
const FRESH_FOR: Duration = Duration::from_secs(30);
/// Sales remembered at once; past it the map is emptied (every sale pays one read again).
const CAPACITY: usize = 4_096;

/// A sale as its page shows it.
pub struct SaleFacts {
    pub terms: Arc<SaleTerms>,
    pub product_title: String,
    pub description: String,
    pub image_url: String,
    /// The product's list price, against which the flash price is shown.
    pub original_price_fen: Fen,
    pub shop_name: String,
    /// The merchant's next sale in its live rooms, if one is scheduled.
    pub next_stream: Option<super::preview::NextStream>,
    /// The final figures of a settled sale (no actor), read once.
    settled: OnceCell<StockCounts>,
}

struct Entry {
    loaded: Instant,
    cell: Arc<OnceCell<Option<Arc<SaleFacts>>>>,
}

/// The bounded memory of [`SaleFacts`]; concurrent first views of a sale share one read.
#[derive(Default)]
pub struct Catalog {
    entries: Mutex<HashMap<FlashSaleId, Entry>>,
}

impl Catalog {
    /// The sale's facts, `None` when there is no such sale.
    pub async fn facts(&self, state: &AppState, id: FlashSaleId) -> anyhow::Result<Option<Arc<SaleFacts>>> {
        let cell = {
            let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let stale = entries.get(&id).is_none_or(|e| now.duration_since(e.loaded) > FRESH_FOR);
            if stale {
                if entries.len() >= CAPACITY {
                    entries.clear();
                }
                entries.insert(id, Entry { loaded: now, cell: Arc::new(OnceCell::new()) });
            }
            entries[&id].cell.clone()
        };
        let facts = cell.get_or_try_init(|| load(state, id)).await?;
        Ok(facts.clone())
    }
}

async fn load(state: &AppState, id: FlashSaleId) -> anyhow::Result<Option<Arc<SaleFacts>>> {
    let terms = match state.registry.get(id) {
        Some(sale) => sale.terms.clone(),
        None => match persistence::repo::flash_sale(&state.db, id).await? {
            Some(terms) => Arc::new(terms),
            None => return Ok(None),
        },
    };
    let product = persistence::repo::product(&state.db, terms.product_id).await?;
    let shop_name =
        persistence::repo::merchant_display_name(&state.db, terms.merchant_id).await?.unwrap_or_default();
    let (product_title, description, image_url, original_price_fen) = match product {
        Some(p) => (p.title, p.description, p.image_url, p.price_fen),
        None => (terms.title.clone(), String::new(), String::new(), terms.price_fen),
    };
    let next_stream = super::preview::load(state, &terms).await?;
    Ok(Some(Arc::new(SaleFacts {
        next_stream,
        terms,
        product_title,
        description,
        image_url,
        original_price_fen,
        shop_name,
        settled: OnceCell::new(),
    })))
}

/// The sale's figures now: its actor's gauge (memory), or for a settled sale the sums of its
/// stored orders, read once (they no longer change).
pub async fn live_counts(state: &AppState, facts: &SaleFacts) -> anyhow::Result<StockCounts> {
    if let Some(sale) = state.registry.get(facts.terms.id) {
        return Ok(sale.gauge.counts());
    }
    let counts = facts
        .settled
        .get_or_try_init(|| async {
            let (reserved, ours) = persistence::repo::sale_units(&state.db, facts.terms.id).await?;
            let (door_sold, leased) = persistence::live::sale_door_units(&state.db, facts.terms.id).await?;
            let (quantity, sold) = (facts.terms.quantity, ours + door_sold);
            let available = quantity.saturating_sub(reserved + sold + leased);
            anyhow::Ok(StockCounts { quantity, available, reserved, sold, leased })
        })
        .await?;
    Ok(*counts)
}

/// The sale's phase, as `GET /api/v1/flash-sales/{id}` names it.
pub fn phase(terms: &SaleTerms, counts: &StockCounts, now: engine::Timestamp) -> &'static str {
    if now < terms.starts_at {
        "scheduled"
    } else if now >= terms.ends_at {
        "ended"
    } else if counts.available == 0 {
        "sold_out"
    } else {
        "live"
    }
}
