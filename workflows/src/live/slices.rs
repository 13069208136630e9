//! A platform's slice while the sale runs: units taken back (the merchant's action, or
//! [`Live::rebalance`] when our own page has run out), and leases whose platform stock call
//! failed, tried again.
//!
//! Taking back follows the one order that keeps the doors within the quantity: the platform's
//! stock is lowered first (refused by the platform when it has fewer left, atomically with its
//! own sales; then by halves, down to one unit), and only what it gave up returns to the sale.
//! The door is paused at the same time, so that no top-up leases the units out again; binding
//! the sale to the platform again resumes it.
//!
//! A lease is journaled before the platform's stock is raised, so a failed raise leaves units
//! leased that the platform cannot sell (fewer sold, never more). The raise is tried again
//! under the lease's own key (the platform applies one key once) after `lease_retry_base_ms`,
//! doubling, at most `lease_retries` times, and never for a paused door or an ended sale;
//! after that, the units wait for the sale's end, when they are taken back. The backoff is
//! kept in memory; which lease is still to be placed is durable (`live_slices.placed_seq`
//! behind `lease_seq`): after a restart, leases journaled and not placed — the process died
//! between the lease and its stock call — are tried again like failed ones.

use actors::SaleHandle;
use engine::{Door, FlashSaleId, MerchantId, Timestamp};
use persistence::live::{self as store, SaleBinding, ShopRecord};
use providers::live::{LiveError, Platform, StockChange, StockMove};

use super::Live;
use super::doors::{ApplyError, MAX_BINDINGS, SaleBindError, SaleDoor, busy, door_of};

/// A lease whose platform stock call failed.
#[derive(Debug, Clone)]
pub struct FailedLease {
    pub binding: SaleBinding,
    /// The same move under the same key.
    pub change: StockChange,
    /// The lease's sequence number, recorded as placed once the platform took it.
    pub lease_seq: u64,
    pub attempts: u32,
    pub next_at: Timestamp,
}

/// What a take-back did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenBack {
    pub door: SaleDoor,
    /// Units returned to the sale.
    pub returned: u32,
}

impl Live {
    /// Lowers the platform's stock by up to `want` units of the slice (by halves when the
    /// platform has fewer left) and returns what it gave up to the sale. Call under `top_ups`.
    pub(super) async fn lower_and_return(
        &self,
        binding: &SaleBinding,
        shop: &ShopRecord,
        handle: &SaleHandle,
        want: u32,
    ) -> Result<u32, ApplyError> {
        let platform = Platform::parse(&binding.platform).ok_or(ApplyError::NotOffered)?;
        let client = self.client(platform).ok_or(ApplyError::NotOffered)?;
        let door = door_of(platform);
        let Some((slice, _)) = handle.slice(door).await else { return Err(ApplyError::Busy) };
        let mut want = want.min(slice.leased);
        if want == 0 {
            return Ok(0);
        }
        let grant = self.grant_of(shop).map_err(|e| ApplyError::Internal(anyhow::anyhow!("{e}")))?;
        while want > 0 {
            let change = StockChange {
                item_id: binding.item_id.clone(),
                sku_id: binding.sku_id.clone(),
                change: StockMove::By(-i64::from(want)),
                // A key of its own per attempt: a refused attempt must never make a later
                // one look done. A lost answer retried lowers the stock twice: fewer sold,
                // never more.
                idempotency_key: format!(
                    "unlease-{}-{}-{}-{want}",
                    binding.flash_sale_id,
                    door.as_str(),
                    self.clock.now().as_millis()
                ),
            };
            match client.change_stock(&grant.access_token, &change).await {
                Ok(()) => break,
                // Fewer left than asked: the platform sold some we have not heard of.
                Err(LiveError::Refused { .. }) => want /= 2,
                Err(error) => return Err(ApplyError::Platform(error)),
            }
        }
        if want == 0 {
            return Ok(0);
        }
        let changed = handle
            .try_unlease(door, want)
            .map_err(busy)?
            .await
            .map_err(busy)?
            .map_err(|e| ApplyError::Internal(anyhow::anyhow!("unlease refused: {e:?}")))?;
        self.durable(changed).await?;
        Ok(want)
    }

    /// Units back from the platforms for our own page: for each running sale whose page has
    /// no free unit left, every platform slice holding at least two gives half of it back (the platform's stock lowered first, as for every take-back). With top-ups
    /// leasing at most half of what the page has left, the doors converge on sharing the last
    /// units. Paused doors and suspended sales are left alone. Reads the gauges first and
    /// asks an actor only when its page is empty; bounded by the held slices.
    pub async fn rebalance(&self) -> Result<u32, ApplyError> {
        let now = self.clock.now();
        let mut returned = 0;
        // Whether each sale's page was empty when the sweep first looked: every door of such a
        // sale gives half, not only the first one taken from.
        let mut empty = std::collections::HashMap::new();
        for (sale, platform) in store::held_slices(&self.db, MAX_BINDINGS).await? {
            let Some(handle) = self.registry.get(sale) else { continue };
            let page_empty = *empty.entry(sale).or_insert_with(|| {
                now < handle.terms.ends_at
                    && handle.gauge.counts().available == 0
                    && !handle.gauge.is_suspended()
            });
            if !page_empty {
                continue;
            }
            let Some(platform) = Platform::parse(&platform) else { continue };
            if self.client(platform).is_none()
                || persistence::live_orders::door_paused(&self.db, sale, platform.as_str()).await?
            {
                continue;
            }
            let Some(binding) = store::binding_of_sale(&self.db, sale, platform.as_str()).await? else {
                continue;
            };
            let Some(shop) =
                store::shop(&self.db, binding.live_shop_id).await?.filter(|s| s.status == store::CONNECTED)
            else {
                continue;
            };
            let _turn = self.top_ups.lock().await;
            let Some((slice, _)) = handle.slice(door_of(platform)).await else { continue };
            if slice.leased < 2 {
                continue;
            }
            match self.lower_and_return(&binding, &shop, &handle, slice.leased / 2).await {
                Ok(units) => {
                    returned += units;
                    metrics::counter!("flashsale_live_units_rebalanced_total", "platform" => platform.as_str())
                        .increment(u64::from(units));
                }
                Err(error) => {
                    tracing::warn!(%sale, platform = platform.as_str(), %error, "taking units back for our page failed")
                }
            }
        }
        Ok(returned)
    }

    /// The merchant takes up to `units` (all it holds when `None`) back from the platform's
    /// slice of a running sale; the door is not topped up again until the sale is bound to the
    /// platform again.
    pub async fn take_back(
        &self,
        merchant: MerchantId,
        sale: FlashSaleId,
        platform: Platform,
        units: Option<u32>,
    ) -> Result<TakenBack, SaleBindError> {
        self.client(platform).ok_or(SaleBindError::NotOffered)?;
        let terms = persistence::repo::flash_sale(&self.db, sale).await?.ok_or(SaleBindError::NotFound)?;
        if terms.merchant_id != merchant {
            return Err(SaleBindError::NotFound);
        }
        let binding = store::binding_of_sale(&self.db, sale, platform.as_str())
            .await?
            .ok_or(SaleBindError::NotBound)?;
        let shop = store::shop(&self.db, binding.live_shop_id)
            .await?
            .filter(|s| s.status == store::CONNECTED)
            .ok_or(SaleBindError::NoShop)?;
        let handle = self.handle(sale).await.map_err(applied)?;
        let _turn = self.top_ups.lock().await;
        persistence::live_orders::pause_door(&self.db, sale, platform.as_str(), self.clock.now()).await?;
        self.failed_leases.lock().remove(&(sale, door_of(platform)));
        let want = units.unwrap_or(u32::MAX);
        let returned = self.lower_and_return(&binding, &shop, &handle, want).await.map_err(applied)?;
        let slice = handle.slice(door_of(platform)).await.map(|(s, _)| s).unwrap_or_default();
        Ok(TakenBack {
            door: SaleDoor {
                platform,
                item_id: binding.item_id,
                sku_id: binding.sku_id,
                leased: slice.leased,
                sold: slice.sold,
            },
            returned,
        })
    }

    pub(super) fn remember_failed_lease(
        &self,
        binding: &SaleBinding,
        door: Door,
        change: StockChange,
        lease_seq: u64,
        now: Timestamp,
    ) {
        let mut failed = self.failed_leases.lock();
        if failed.len() as u64 >= MAX_BINDINGS {
            tracing::warn!(sale = %binding.flash_sale_id, "too many failed leases remembered; this one waits for the sale's end");
            return;
        }
        let next_at = now.plus_millis(i64::try_from(self.settings.lease_retry_base_ms).unwrap_or(i64::MAX));
        let key = (binding.flash_sale_id, door);
        let attempts = failed.get(&key).map_or(1, |f| f.attempts + 1);
        failed.insert(key, FailedLease { binding: binding.clone(), change, lease_seq, attempts, next_at });
    }

    /// Failed leases whose time has come, tried again under their own keys. How many reached
    /// the platform now.
    pub async fn retry_leases(&self) -> Result<u32, ApplyError> {
        let now = self.clock.now();
        if !self.leases_recovered.load(std::sync::atomic::Ordering::Acquire) {
            self.recover_unplaced_leases(now).await?;
            self.leases_recovered.store(true, std::sync::atomic::Ordering::Release);
        }
        let due: Vec<((FlashSaleId, Door), FailedLease)> = self
            .failed_leases
            .lock()
            .iter()
            .filter(|(_, f)| f.next_at <= now)
            .map(|(k, f)| (*k, f.clone()))
            .collect();
        let mut placed = 0;
        for (key, failed) in due {
            let _turn = self.top_ups.lock().await;
            let Some(platform) = Platform::parse(&failed.binding.platform) else { continue };
            let give_up = |why: &str| {
                tracing::warn!(sale = %key.0, platform = platform.as_str(), why,
                    "a failed lease is not tried again: its units wait for the sale's end");
            };
            let ended =
                persistence::repo::flash_sale(&self.db, key.0).await?.is_none_or(|t| now >= t.ends_at);
            let paused = persistence::live_orders::door_paused(&self.db, key.0, platform.as_str()).await?;
            let shop = store::shop(&self.db, failed.binding.live_shop_id)
                .await?
                .filter(|s| s.status == store::CONNECTED);
            let (Some(shop), Some(client), false, false) = (shop, self.client(platform), ended, paused)
            else {
                give_up("ended, paused or disconnected");
                self.failed_leases.lock().remove(&key);
                continue;
            };
            let grant = self.grant_of(&shop).map_err(|e| ApplyError::Internal(anyhow::anyhow!("{e}")))?;
            match client.change_stock(&grant.access_token, &failed.change).await {
                Ok(()) => {
                    self.failed_leases.lock().remove(&key);
                    store::mark_lease_placed(&self.db, key.0, platform.as_str(), failed.lease_seq).await?;
                    placed += 1;
                }
                Err(error) if error.is_revoked() || failed.attempts >= self.settings.lease_retries => {
                    tracing::warn!(%error, "the last try of a failed lease failed");
                    give_up("retries spent or grant revoked");
                    self.failed_leases.lock().remove(&key);
                }
                Err(error) => {
                    tracing::info!(sale = %key.0, %error, attempts = failed.attempts, "a failed lease failed again");
                    let wait = self.settings.lease_retry_base_ms.saturating_mul(1 << failed.attempts.min(20));
                    let next_at = now.plus_millis(i64::try_from(wait).unwrap_or(i64::MAX));
                    if let Some(entry) = self.failed_leases.lock().get_mut(&key) {
                        entry.attempts += 1;
                        entry.next_at = next_at;
                    }
                }
            }
        }
        Ok(placed)
    }

    /// Leases journaled by an earlier process and never placed on the platform's stock, taken
    /// up as failed leases due now (once per process, before its first retries).
    async fn recover_unplaced_leases(&self, now: Timestamp) -> Result<(), ApplyError> {
        for unplaced in store::unplaced_leases(&self.db, MAX_BINDINGS).await? {
            let Some(platform) = Platform::parse(&unplaced.platform) else { continue };
            let door = door_of(platform);
            let key = (unplaced.flash_sale_id, door);
            if self.failed_leases.lock().contains_key(&key) {
                continue;
            }
            let Some(binding) =
                store::binding_of_sale(&self.db, unplaced.flash_sale_id, platform.as_str()).await?
            else {
                continue;
            };
            let change = StockChange {
                item_id: binding.item_id.clone(),
                sku_id: binding.sku_id.clone(),
                change: StockMove::By(i64::from(unplaced.units)),
                idempotency_key: format!(
                    "lease-{}-{}-{}",
                    unplaced.flash_sale_id,
                    door.as_str(),
                    unplaced.lease_seq
                ),
            };
            tracing::info!(sale = %unplaced.flash_sale_id, platform = platform.as_str(), units = unplaced.units,
                "a lease not placed on the platform's stock before the restart is tried again");
            let mut failed = self.failed_leases.lock();
            if (failed.len() as u64) < MAX_BINDINGS {
                failed.entry(key).or_insert(FailedLease {
                    binding,
                    change,
                    lease_seq: unplaced.lease_seq,
                    attempts: 0,
                    next_at: now,
                });
            }
        }
        Ok(())
    }

    /// How many failed leases wait for another try (tests, health).
    pub fn failed_leases(&self) -> usize {
        self.failed_leases.lock().len()
    }
}

fn applied(error: ApplyError) -> SaleBindError {
    match error {
        ApplyError::Busy => SaleBindError::Busy,
        ApplyError::Platform(e) => SaleBindError::Unavailable(e),
        other => SaleBindError::Internal(anyhow::anyhow!("{other}")),
    }
}
