//! What operators do to keep sellers honest: bans and takedowns, each taking effect at once
//! in the sales' stock actors as well as in storage.
//!
//! A ban: the ban row, the numbers it bars from signing up again and its audit row (one
//! transaction); then every sale of the merchant is held back — in storage (`ban: …`, so it
//! stays held back across a restart) and in its running actor, whose answer comes after every
//! order it accepted before; the answer waits until those are durable too, so no order is
//! accepted after the ban's answer. Unpaid orders are honoured or released as configured.
//! Its products are delisted, its tokens revoked (log-ins are refused while the ban is in
//! force, and so are withdrawals). An unban gives back the sales and products the ban held
//! back (not what a takedown did), never the tokens.
//!
//! A takedown decides a fan's report: the sale is held back (`takedown: …`) and the product
//! delisted, with the audit row, in one transaction; then the sale's actor.

use std::sync::Arc;

use actors::{Journal, Seq, StockRegistry};
use engine::{FlashSaleId, MerchantId, Timestamp};
use persistence::access::{self, AuditEntry};
use persistence::qualification::{self as stored, NumberKind};
use persistence::repo::InsertError;
use persistence::trust::{self, BY_BAN, FanReport};
use persistence::{DatabaseConnection, DbErr};
use thiserror::Error;

/// What a ban or a takedown needs.
pub struct Trust {
    db: DatabaseConnection,
    registry: Arc<StockRegistry>,
    journal: Journal,
    /// A ban or takedown cancels the unpaid orders of the sales it holds back.
    release_holds: bool,
}

#[derive(Debug, Error)]
pub enum TrustError {
    #[error("the merchant is already banned")]
    AlreadyBanned,
    #[error("the merchant is not banned")]
    NotBanned,
    #[error("the report was decided already")]
    AlreadyDecided,
    #[error("the journal could not make the held-back sales' orders durable")]
    Journal,
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// What a ban did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banned {
    pub ban_id: i64,
    pub sales_suspended: Vec<FlashSaleId>,
    pub products_delisted: u64,
    /// The merchant's new token version (every older token is refused).
    pub token_version: i64,
}

/// What an unban gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unbanned {
    pub ban_id: i64,
    pub sales_resumed: Vec<FlashSaleId>,
    pub products_relisted: u64,
}

impl Trust {
    pub fn new(
        db: DatabaseConnection,
        registry: Arc<StockRegistry>,
        journal: Journal,
        release_holds: bool,
    ) -> Self {
        Self { db, registry, journal, release_holds }
    }

    /// Holds back (or gives back) the running actors of `sales`; waits until everything they
    /// accepted before is durable.
    async fn tell_actors(&self, sales: &[FlashSaleId], suspended: bool) -> Result<(), TrustError> {
        let mut last: Option<Seq> = None;
        for id in sales {
            if let Some(handle) = self.registry.get(*id) {
                let release = suspended && self.release_holds;
                if let Some(seq) = handle.suspend(suspended, release).await {
                    last = Some(last.map_or(seq, |l| l.max(seq)));
                }
            }
        }
        if let Some(seq) = last {
            self.journal.wait_durable(seq).await.map_err(|_| TrustError::Journal)?;
        }
        Ok(())
    }

    /// Bans `merchant` for `reason`, writing `entry` with the ban. A second ban while one is in
    /// force is `AlreadyBanned`, after making sure its sales are held back.
    pub async fn ban(
        &self,
        merchant: MerchantId,
        reason: &str,
        entry: &AuditEntry,
        now: Timestamp,
    ) -> Result<Banned, TrustError> {
        let mut numbers = Vec::new();
        if let Some(q) = stored::qualification(&self.db, merchant).await? {
            numbers.push((NumberKind::IdNo, q.legal_person_id_no.clone()));
            if let Some(licence) = q.licence_number {
                numbers.push((NumberKind::LicenceNumber, licence));
            }
        }
        let held = format!("{BY_BAN}{reason}");
        let ban_id = match stored::ban(&self.db, merchant, reason, &numbers, entry, now).await {
            Ok(id) => Some(id),
            Err(InsertError::Duplicate) => None,
            Err(InsertError::Db(e)) => return Err(e.into()),
        };
        trust::suspend_merchant_sales(&self.db, merchant, &held).await?;
        // Every sale of the merchant held back in storage (by this ban or before) is held
        // back in its actor too.
        let sales: Vec<FlashSaleId> = trust::suspended_sales_of(&self.db, merchant, 10_000)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        self.tell_actors(&sales, true).await?;
        let products_delisted = trust::delist_merchant_products(&self.db, merchant, &held).await?;
        let token_version = access::revoke_merchant(&self.db, merchant).await?;
        let Some(ban_id) = ban_id else { return Err(TrustError::AlreadyBanned) };
        tracing::info!(merchant = merchant.0, ban_id, sales = sales.len(), "merchant banned");
        Ok(Banned { ban_id, sales_suspended: sales, products_delisted, token_version })
    }

    /// Lifts the merchant's ban, writing `entry`; gives back what the ban held back.
    pub async fn unban(
        &self,
        merchant: MerchantId,
        reason: &str,
        entry: &AuditEntry,
        now: Timestamp,
    ) -> Result<Unbanned, TrustError> {
        let ban_id =
            stored::lift_ban(&self.db, merchant, reason, entry, now).await?.ok_or(TrustError::NotBanned)?;
        let sales_resumed = trust::resume_banned_sales(&self.db, merchant).await?;
        self.tell_actors(&sales_resumed, false).await?;
        let products_relisted = trust::relist_banned_products(&self.db, merchant).await?;
        tracing::info!(merchant = merchant.0, ban_id, "merchant unbanned");
        Ok(Unbanned { ban_id, sales_resumed, products_relisted })
    }

    /// Takes down what `report` names (or dismisses it): see the module's doc.
    pub async fn decide_report(
        &self,
        report: &FanReport,
        take_down: bool,
        decision: &str,
        entry: &AuditEntry,
        now: Timestamp,
    ) -> Result<(), TrustError> {
        if !trust::decide_report(&self.db, report, take_down, decision, entry, now).await? {
            return Err(TrustError::AlreadyDecided);
        }
        if take_down && let Some(sale) = report.flash_sale_id {
            self.tell_actors(&[sale], true).await?;
        }
        Ok(())
    }
}
