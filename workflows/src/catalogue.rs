//! The catalogue's use cases: products with specs and SKUs written and edited through the
//! banned-word check ([`engine::content::BannedWords`], the seed dictionary plus configured
//! words), state moves, the operators' review queue, pictures ([`images`]), bulk import
//! ([`import`]), and the sweep that gives an ended sale's unsold units back to its SKU.

pub mod images;
pub mod import;

use std::sync::Arc;

use actors::StockRegistry;
use engine::catalogue::{ProductState, Spec, texts_to_check};
use engine::content::{BannedWords, DictionaryError};
use engine::time::Clock;
use engine::{FlashSale, FlashSaleId, MerchantId, ProductId, Timestamp};
use persistence::catalogue::{self as stored, Edit, EditError, ProductDraft};
use persistence::repo::InsertError;
use persistence::{DatabaseConnection, DbErr, repo};
use serde::{Deserialize, Serialize};

use crate::merchants::store::ObjectStore;

/// What a banned word does to a product about to be listed (`[catalogue]
/// banned_words_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BannedAction {
    /// The product waits in `under_review` for an operator.
    #[default]
    Review,
    /// The request is refused: 422 `banned_words`, naming them.
    Reject,
}

/// `[catalogue]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogueSettings {
    pub banned_words_action: BannedAction,
    /// Words banned on top of the seed dictionary (the Advertising Law's absolute terms).
    pub extra_banned_words: Vec<String>,
    /// Where product pictures are kept (an `FsStore` root).
    pub images_dir: String,
    pub image_max_bytes: usize,
    /// Longest side, in pixels, a picture may have.
    pub image_max_side: u32,
    pub images_per_product: u64,
    /// The longest side of a thumbnail.
    pub thumbnail_side: u32,
    pub import_max_bytes: usize,
    pub import_max_rows: usize,
    /// How often ended sales are looked at for unsold units to give back.
    pub unsold_return_interval_ms: u64,
    /// How long after its end a sale is first looked at: orders placed in its last instant
    /// are durable by then.
    pub unsold_return_grace_ms: u64,
}

impl Default for CatalogueSettings {
    fn default() -> Self {
        Self {
            banned_words_action: BannedAction::Review,
            extra_banned_words: Vec::new(),
            images_dir: "data/products".into(),
            image_max_bytes: 5 * 1024 * 1024,
            image_max_side: 6_000,
            images_per_product: 9,
            thumbnail_side: 240,
            import_max_bytes: 16 * 1024 * 1024,
            import_max_rows: 20_000,
            unsold_return_interval_ms: 1_000,
            unsold_return_grace_ms: 5_000,
        }
    }
}

impl CatalogueSettings {
    /// The dictionary these settings make.
    pub fn dictionary(&self) -> Result<BannedWords, DictionaryError> {
        BannedWords::new(
            engine::content::SEED_WORDS
                .iter()
                .copied()
                .chain(self.extra_banned_words.iter().map(String::as_str)),
        )
    }

    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = self.dictionary() {
            problems.push(format!("catalogue.extra_banned_words: {e}"));
        }
        if self.images_per_product == 0 || self.thumbnail_side == 0 || self.image_max_side == 0 {
            problems.push(
                "catalogue: images_per_product, thumbnail_side and image_max_side must be above 0".into(),
            );
        }
        if self.unsold_return_interval_ms == 0 {
            problems.push("catalogue.unsold_return_interval_ms must be above 0".into());
        }
        problems
    }
}

/// Why a catalogue request was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("banned words: {}", .0.join(", "))]
    BannedWords(Vec<String>),
    #[error("no such product")]
    NotFound,
    #[error("a product cannot go from {from} to {to}")]
    Transition { from: &'static str, to: &'static str },
    #[error("the product code is already used by another of your products")]
    DuplicateCode,
    #[error("the product changed meanwhile; read it again")]
    Conflict,
    #[error("an operator delisted the product ({0}); it cannot be listed again by its merchant")]
    HeldBack(String),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// The catalogue workflow.
pub struct Catalogue {
    pub db: DatabaseConnection,
    pub registry: Arc<StockRegistry>,
    pub clock: Arc<dyn Clock>,
    pub words: BannedWords,
    pub settings: CatalogueSettings,
    pub store: Arc<dyn ObjectStore>,
}

/// Where a product goes when it asks to be listed: listed, or under review naming the words.
pub enum Verdict {
    Clean,
    Banned(Vec<String>),
}

impl Catalogue {
    /// The banned words of a product's texts, distinct, in order.
    pub fn banned_in(&self, texts: &[&str]) -> Vec<String> {
        let mut words: Vec<String> = Vec::new();
        for text in texts {
            for word in self.words.words_in(text) {
                if !words.contains(&word) {
                    words.push(word);
                }
            }
        }
        words
    }

    /// The state a product asking to be listed gets, or the refusal the settings call for.
    fn listing(&self, texts: &[&str]) -> Result<(ProductState, Option<String>), CatalogueError> {
        let words = self.banned_in(texts);
        if words.is_empty() {
            return Ok((ProductState::Listed, None));
        }
        match self.settings.banned_words_action {
            BannedAction::Reject => Err(CatalogueError::BannedWords(words)),
            BannedAction::Review => {
                Ok((ProductState::UnderReview, Some(format!("banned words: {}", words.join(", ")))))
            }
        }
    }

    /// Stores a new product: a draft as it is, anything else through the banned-word check.
    pub async fn create(
        &self,
        merchant: MerchantId,
        mut draft: ProductDraft,
    ) -> Result<ProductId, CatalogueError> {
        if draft.state != ProductState::Draft {
            let (state, reason) =
                self.listing(&texts_to_check(&draft.title, &draft.description, &draft.specs))?;
            draft.state = state;
            draft.state_reason = reason;
        }
        stored::insert(&self.db, merchant, &draft, "merchant", self.clock.now()).await.map_err(|e| match e {
            InsertError::Duplicate => CatalogueError::DuplicateCode,
            InsertError::Db(e) => CatalogueError::Db(e),
        })
    }

    /// Edits a product. Text that is not a draft's is checked again: a banned word in a listed
    /// product sends it to review (or refuses the edit).
    pub async fn edit(
        &self,
        merchant: MerchantId,
        id: ProductId,
        mut edit: Edit,
    ) -> Result<(), CatalogueError> {
        let current =
            stored::detail_of_merchant(&self.db, merchant, id).await?.ok_or(CatalogueError::NotFound)?;
        let texts_changed = edit.title.is_some() || edit.description.is_some() || edit.specs.is_some();
        if texts_changed && current.state != ProductState::Draft {
            let title = edit.title.as_deref().unwrap_or(&current.product.title);
            let description = edit.description.as_deref().unwrap_or(&current.product.description);
            let specs: &[Spec] = edit.specs.as_deref().unwrap_or(&current.specs);
            let (state, reason) = self.listing(&texts_to_check(title, description, specs))?;
            if state == ProductState::UnderReview {
                edit.state = Some((state, reason));
            }
        }
        stored::edit(&self.db, merchant, id, current.revision, edit, self.clock.now()).await.map_err(|e| {
            match e {
                EditError::NotFound => CatalogueError::NotFound,
                EditError::Conflict => CatalogueError::Conflict,
                EditError::Db(e) => CatalogueError::Db(e),
            }
        })
    }

    /// A merchant's move of its product (list, delist, back to draft). Listing passes the
    /// banned-word check and may land in review instead. The state it is in after.
    pub async fn move_to(
        &self,
        merchant: MerchantId,
        id: ProductId,
        to: ProductState,
    ) -> Result<ProductState, CatalogueError> {
        let current =
            stored::detail_of_merchant(&self.db, merchant, id).await?.ok_or(CatalogueError::NotFound)?;
        if !current.state.merchant_may_move(to) {
            return Err(CatalogueError::Transition { from: current.state.as_str(), to: to.as_str() });
        }
        // A product an operator delisted (a ban, a takedown) comes back only by the operator.
        if to == ProductState::Listed
            && let Some(held) = persistence::trust::product_suspension(&self.db, id).await?
        {
            return Err(CatalogueError::HeldBack(held));
        }
        let (target, reason) = match to {
            ProductState::Listed => self.listing(&texts_to_check(
                &current.product.title,
                &current.product.description,
                &current.specs,
            ))?,
            ProductState::Delisted => (to, Some(engine::catalogue::REASON_MERCHANT.to_owned())),
            _ => (to, None),
        };
        let moved = stored::set_state(
            &self.db,
            id,
            Some(merchant),
            &[current.state],
            target,
            reason,
            self.clock.now(),
        )
        .await?;
        if !moved {
            return Err(CatalogueError::Conflict);
        }
        let after = stored::detail(&self.db, id).await?.ok_or(CatalogueError::NotFound)?;
        Ok(after.state)
    }

    /// An operator's decision on a product under review: approved → listed (or sold out),
    /// rejected → delisted with the reason. `false` when it was not under review.
    pub async fn decide(
        &self,
        id: ProductId,
        approve: bool,
        reason: Option<String>,
    ) -> Result<bool, CatalogueError> {
        let (to, reason) = if approve {
            (ProductState::Listed, None)
        } else {
            (ProductState::Delisted, Some(format!("rejected: {}", reason.unwrap_or_default())))
        };
        Ok(stored::set_state(&self.db, id, None, &[ProductState::UnderReview], to, reason, self.clock.now())
            .await?)
    }

    /// Gives back the unsold units of every ended, settled sale not yet done, at most `limit`.
    /// How many sales it did. Safe to run anywhere at any time: each sale's units move once
    /// ([`stored::return_unsold`]).
    pub async fn return_unsold_due(&self, limit: u64) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let grace = i64::try_from(self.settings.unsold_return_grace_ms).unwrap_or(i64::MAX);
        let due = stored::sales_due_return(&self.db, Timestamp(now.as_millis().saturating_sub(grace)), limit)
            .await?;
        let mut done = 0;
        for sale in due {
            if let Some(units) = self.unsold_units(sale, now).await?
                && stored::return_unsold(&self.db, sale, units, now).await?
            {
                tracing::info!(flash_sale_id = sale.0, units, "unsold units given back to the SKU");
                metrics::counter!("flashsale_unsold_units_returned_total").increment(u64::from(units));
                done += 1;
            }
        }
        Ok(done)
    }

    /// A settled sale's unsold units, from its stored orders, restocks and platform slices as
    /// its actor would be rebuilt; `None` while it can still change (a hold unpaid, units
    /// leased to a live platform, its actor still holding units).
    async fn unsold_units(&self, sale: FlashSaleId, now: Timestamp) -> anyhow::Result<Option<u32>> {
        if let Some(running) = self.registry.get(sale)
            && running.gauge.counts().reserved > 0
        {
            return Ok(None);
        }
        let Some(terms) = repo::flash_sale(&self.db, sale).await? else { return Ok(None) };
        let orders = repo::orders_of_sale(&self.db, sale).await?;
        let restocks = persistence::refunds::restocks_of_sale(&self.db, sale).await?;
        let doors = persistence::live::doors_of_sale(&self.db, sale).await?;
        let mut ledger =
            FlashSale::restore(terms, orders).map_err(|e| anyhow::anyhow!("sale {sale}: {e:?}"))?;
        ledger.restore_restocks(restocks).map_err(|e| anyhow::anyhow!("sale {sale}: {e:?}"))?;
        ledger
            .restore_doors(doors.slices, doors.orders)
            .map_err(|e| anyhow::anyhow!("sale {sale}: {e:?}"))?;
        if !ledger.is_settled(now) {
            return Ok(None);
        }
        Ok(Some(ledger.counts().available))
    }

    /// Runs [`Catalogue::return_unsold_due`] every `unsold_return_interval_ms`.
    pub fn spawn_sweep(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let every = std::time::Duration::from_millis(self.settings.unsold_return_interval_ms.max(1));
            loop {
                if let Err(error) = self.return_unsold_due(500).await {
                    tracing::warn!(%error, "giving back unsold units failed; will retry");
                }
                tokio::time::sleep(every).await;
            }
        })
    }
}
