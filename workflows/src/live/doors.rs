//! One stock, three doors: a sale sold on our page and through the merchant's Douyin and
//! Kuaishou shops at once, without ever selling more than its quantity.
//!
//! Binding a sale to a platform creates the item and its SKU there with no stock, then
//! **leases a slice**: the sale's stock actor moves up to `slice_units` free units into the
//! platform's slice (journaled), and only once that is durable is the platform's SKU stock
//! raised by as many (a stock move keyed by the lease's sequence number, so a retry is the same
//! move). Each platform order, from a push or from the polling backstop, is read back from the
//! platform and recorded by the stock actor against the platform's slice (journaled, unique by
//! platform and order id); when the slice runs low it is topped up from the sale's free units.
//!
//! The order of operations is what keeps the sum of all doors within the quantity:
//! - leasing takes units out of *available* before the platform may sell them (a crash in
//!   between leaves units leased that the platform never got: fewer sold, never more);
//! - taking units back lowers the platform's stock first (refused by the platform if it has
//!   fewer left, atomically with its own sales), and only then returns them to *available*:
//!   a platform sale in flight either happened before the lowering (and is still covered by
//!   the slice) or finds the stock already lowered. [`Live::take_back_ended`] does this for
//!   ended sales, after the polling round; a sale's actor stays while units are leased.
//!
//! Pushes are verified by the platform's client (forged, stale, malformed → refused, nothing
//! changes), deduplicated by message id (a bounded window in memory, then the
//! `live_push_messages` table, written after the event is applied: a push applied and not
//! yet recorded is applied again, which records nothing new).

use std::collections::HashMap;
use std::sync::Arc;

use actors::{DoorChanged, DoorFailure, SaleHandle};
use engine::{Door, DoorOrder, DoorUnits, FlashSaleId, MerchantId, Timestamp};
use persistence::live::{self as store, SaleBinding, ShopRecord};
use providers::live::{
    ItemSpec, LiveError, LivePlatform, OrderStatus, Platform, PlatformOrder, Push, PushRefused, SkuSpec,
    StockChange, StockMove,
};
use thiserror::Error;

use super::Live;

/// Bindings a node keeps in memory to route platform orders to sales.
pub const MAX_BINDINGS: u64 = 10_000;

/// Why a sale could not be bound to a platform.
#[derive(Debug, Error)]
pub enum SaleBindError {
    #[error("this platform is not offered here")]
    NotOffered,
    #[error("no such flash sale")]
    NotFound,
    #[error("the flash sale has ended")]
    Ended,
    #[error("no connected shop on this platform: bind one first")]
    NoShop,
    #[error("the flash sale is not sold on this platform")]
    NotBound,
    #[error("the platform refused: {0}")]
    Refused(LiveError),
    #[error("the platform cannot be reached: {0}")]
    Unavailable(LiveError),
    #[error("the stock is busy, try again")]
    Busy,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<persistence::DbErr> for SaleBindError {
    fn from(e: persistence::DbErr) -> Self {
        Self::Internal(anyhow::Error::new(e).context("live storage"))
    }
}

/// Why a push or a polled order was not applied. Nothing is acknowledged: the platform retries.
#[derive(Debug, Error)]
pub enum ApplyError {
    #[error("push refused: {0}")]
    Refused(PushRefused),
    #[error("this platform is not offered here")]
    NotOffered,
    #[error("the platform cannot be reached: {0}")]
    Platform(LiveError),
    #[error("the stock is busy")]
    Busy,
    #[error("the platform sold past its slice: {0}")]
    Overdrawn(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<persistence::DbErr> for ApplyError {
    fn from(e: persistence::DbErr) -> Self {
        Self::Internal(anyhow::Error::new(e).context("live storage"))
    }
}

/// A sale's binding as the merchant sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleDoor {
    pub platform: Platform,
    pub item_id: String,
    pub sku_id: String,
    pub leased: u32,
    pub sold: u32,
}

/// What one polling round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollReport {
    pub shops: u32,
    pub orders_seen: u32,
    pub orders_changed: u32,
    pub failed: u32,
}

pub(super) fn door_of(platform: Platform) -> Door {
    match platform {
        Platform::Douyin => Door::Douyin,
        Platform::Kuaishou => Door::Kuaishou,
    }
}

fn status_name(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Unpaid => "unpaid",
        OrderStatus::Paid => "paid",
        OrderStatus::Shipped => "shipped",
        OrderStatus::Completed => "completed",
        OrderStatus::Cancelled => "cancelled",
    }
}

/// Where a platform order's units are, by the platform's word: a cancelled order that was
/// paid was refunded (the platform keeps its units off its stock), one that was not was
/// restocked by the platform.
fn units_of(order: &PlatformOrder) -> DoorUnits {
    match order.status {
        OrderStatus::Cancelled if order.paid_at.is_some() => DoorUnits::Refunded,
        OrderStatus::Cancelled => DoorUnits::Returned,
        _ => DoorUnits::Sold,
    }
}

pub(super) fn busy<T>(_: T) -> ApplyError {
    ApplyError::Busy
}

impl Live {
    pub(super) fn client(&self, platform: Platform) -> Option<Arc<dyn LivePlatform>> {
        self.platform(platform).cloned()
    }

    pub(super) async fn handle(&self, sale: FlashSaleId) -> Result<Arc<SaleHandle>, ApplyError> {
        crate::sales::running_or_started(&self.db, &self.registry, sale)
            .await?
            .ok_or_else(|| ApplyError::Internal(anyhow::anyhow!("flash sale {sale} is bound but gone")))
    }

    pub(super) async fn durable(&self, changed: DoorChanged) -> Result<DoorChanged, ApplyError> {
        match tokio::time::timeout(self.settings.ack_timeout, self.journal.wait_durable(changed.seq)).await {
            Ok(Ok(())) => Ok(changed),
            _ => Err(ApplyError::Busy),
        }
    }

    /// The binding of a platform item, from memory, else from the database.
    async fn binding_of_item(
        &self,
        platform: Platform,
        item_id: &str,
    ) -> Result<Option<SaleBinding>, ApplyError> {
        let key = (platform, item_id.to_owned());
        if let Some(found) = self.bindings.read().get(&key) {
            return Ok(Some(found.clone()));
        }
        let all = store::bindings(&self.db, MAX_BINDINGS).await?;
        let mut map = self.bindings.write();
        for b in all {
            if let Some(p) = Platform::parse(&b.platform) {
                map.insert((p, b.item_id.clone()), b);
            }
        }
        Ok(map.get(&key).cloned())
    }

    /// Binds a sale of `merchant` to its shop on `platform`: the item is created there, and the
    /// first slice leased and put on the platform's stock.
    pub async fn bind_sale(
        &self,
        merchant: MerchantId,
        sale: FlashSaleId,
        platform: Platform,
    ) -> Result<SaleDoor, SaleBindError> {
        let client = self.client(platform).ok_or(SaleBindError::NotOffered)?;
        let terms = persistence::repo::flash_sale(&self.db, sale).await?.ok_or(SaleBindError::NotFound)?;
        if terms.merchant_id != merchant {
            return Err(SaleBindError::NotFound);
        }
        if self.clock.now() >= terms.ends_at {
            return Err(SaleBindError::Ended);
        }
        let shop = store::connected_shop(&self.db, merchant.0, platform.as_str())
            .await?
            .ok_or(SaleBindError::NoShop)?;
        let binding = match store::binding_of_sale(&self.db, sale, platform.as_str()).await? {
            Some(binding) => {
                // Bound again after a take-back: top-ups resume.
                persistence::live_orders::resume_door(&self.db, sale, platform.as_str()).await?;
                binding
            }
            None => {
                let grant =
                    self.grant_of(&shop).map_err(|e| SaleBindError::Internal(anyhow::anyhow!("{e}")))?;
                let spec = ItemSpec {
                    out_item_id: sale.0,
                    title: terms.title.clone(),
                    description: terms.title.clone(),
                    skus: vec![SkuSpec {
                        out_sku_id: sale.0,
                        name: "默认".into(),
                        price_fen: terms.price_fen,
                        stock: 0,
                    }],
                };
                let item = client.create_item(&grant.access_token, &spec).await.map_err(|e| match e {
                    LiveError::Transport(_) => SaleBindError::Unavailable(e),
                    other => SaleBindError::Refused(other),
                })?;
                let sku_id = item
                    .sku_id(sale.0)
                    .ok_or_else(|| SaleBindError::Internal(anyhow::anyhow!("the platform lost the sku")))?
                    .to_owned();
                let binding = SaleBinding {
                    flash_sale_id: sale,
                    platform: platform.as_str().to_owned(),
                    live_shop_id: shop.id,
                    item_id: item.item_id.clone(),
                    sku_id,
                    created_at: self.clock.now(),
                };
                store::insert_binding(&self.db, &binding).await?;
                self.bindings.write().insert((platform, binding.item_id.clone()), binding.clone());
                binding
            }
        };
        let slice = self.top_up(&binding, &shop).await.map_err(|e| match e {
            ApplyError::Busy => SaleBindError::Busy,
            ApplyError::Platform(e) => SaleBindError::Unavailable(e),
            other => SaleBindError::Internal(anyhow::anyhow!("{other}")),
        })?;
        Ok(SaleDoor {
            platform,
            item_id: binding.item_id,
            sku_id: binding.sku_id,
            leased: slice.leased,
            sold: slice.sold,
        })
    }

    /// Tops the platform's slice up to `slice_units` when fewer than `top_up_below` are left
    /// and the sale is open: lease in the actor (durable) first, then raise the platform's stock.
    pub(super) async fn top_up(
        &self,
        binding: &SaleBinding,
        shop: &ShopRecord,
    ) -> Result<engine::Slice, ApplyError> {
        let platform = Platform::parse(&binding.platform).ok_or(ApplyError::NotOffered)?;
        let door = door_of(platform);
        let handle = self.handle(binding.flash_sale_id).await?;
        // One top-up at a time per node, so two platform orders arriving together lease once.
        let _turn = self.top_ups.lock().await;
        if persistence::live_orders::door_paused(&self.db, binding.flash_sale_id, platform.as_str()).await? {
            return handle.slice(door).await.map(|(slice, _)| slice).ok_or(ApplyError::Busy);
        }
        let (slice, counts) = handle.slice(door).await.ok_or(ApplyError::Busy)?;
        let now = self.clock.now();
        if now >= handle.terms.ends_at {
            return Ok(slice);
        }
        // A lease journaled and not yet on the platform's stock (the process died, or the
        // platform did not answer, in between): placed first under its own key, and nothing
        // more is leased until it is, so that a slice has at most one lease to place.
        if let Some(pending) =
            store::unplaced_lease(&self.db, binding.flash_sale_id, platform.as_str()).await?
        {
            self.place_lease(binding, shop, door, pending.lease_seq, pending.units, now).await?;
        }
        if slice.leased >= self.settings.top_up_below.max(1) || counts.available == 0 {
            return Ok(slice);
        }
        // Never more than half of what our page has left: near the end the doors share the
        // last units instead of one door taking them all and `rebalance` passing them back.
        let wanted = self.settings.slice_units.saturating_sub(slice.leased).min(counts.available.div_ceil(2));
        let changed =
            handle.try_lease(door, wanted).map_err(busy)?.await.map_err(busy)?.map_err(|e| match e {
                DoorFailure::Journal(_) => ApplyError::Busy,
                DoorFailure::Refused(e) => ApplyError::Internal(anyhow::anyhow!("lease refused: {e}")),
            })?;
        let changed = self.durable(changed).await?;
        if changed.granted == 0 {
            return Ok(changed.slice);
        }
        self.place_lease(binding, shop, door, changed.slice.lease_seq, changed.granted, now).await?;
        Ok(changed.slice)
    }

    /// Raises the platform's stock by lease `lease_seq`'s units under the lease's own key (the
    /// platform applies a key once), then records durably that the platform holds it. On
    /// failure the units stay leased without being on sale there — the platform sells fewer,
    /// never more — and the lease is tried again by `retry_leases`, also after a restart.
    pub(super) async fn place_lease(
        &self,
        binding: &SaleBinding,
        shop: &ShopRecord,
        door: Door,
        lease_seq: u64,
        units: u32,
        now: Timestamp,
    ) -> Result<(), ApplyError> {
        let platform = Platform::parse(&binding.platform).ok_or(ApplyError::NotOffered)?;
        let client = self.client(platform).ok_or(ApplyError::NotOffered)?;
        let grant = self.grant_of(shop).map_err(|e| ApplyError::Internal(anyhow::anyhow!("{e}")))?;
        let change = StockChange {
            item_id: binding.item_id.clone(),
            sku_id: binding.sku_id.clone(),
            change: StockMove::By(i64::from(units)),
            idempotency_key: format!("lease-{}-{}-{lease_seq}", binding.flash_sale_id, door.as_str()),
        };
        if let Err(error) = client.change_stock(&grant.access_token, &change).await {
            tracing::warn!(sale = %binding.flash_sale_id, platform = platform.as_str(), %error,
                units, "leased units could not be put on the platform's stock");
            if error.is_revoked() {
                let _ = self.disconnect(shop, &error).await;
            } else {
                self.remember_failed_lease(binding, door, change, lease_seq, now);
            }
            return Err(ApplyError::Platform(error));
        }
        self.failed_leases.lock().remove(&(binding.flash_sale_id, door));
        store::mark_lease_placed(&self.db, binding.flash_sale_id, platform.as_str(), lease_seq).await?;
        Ok(())
    }

    /// Records a platform order as the platform reports it now, then tops the slice up.
    pub async fn apply_order(&self, platform: Platform, order: &PlatformOrder) -> Result<bool, ApplyError> {
        let Some(binding) = self.binding_of_item(platform, &order.item_id).await? else {
            // An item we did not create: not a flash sale's.
            return Ok(false);
        };
        // One application of a platform order at a time (a push, its retry and a polling
        // round can carry it at once): its credit and its refund are decided in turn.
        let _turn = self.order_turn(platform, &order.order_id).lock().await;
        let handle = self.handle(binding.flash_sale_id).await?;
        let door_order = DoorOrder {
            door: door_of(platform),
            platform_order_id: order.order_id.clone(),
            quantity: order.quantity,
            amount_fen: order.amount_fen,
            units: units_of(order),
            status: status_name(order.status).to_owned(),
            created_at: order.created_at,
            updated_at: order.updated_at,
        };
        let changed = handle.try_record_door_order(door_order).map_err(busy)?.await.map_err(busy)?.map_err(
            |e| match e {
                DoorFailure::Journal(_) => ApplyError::Busy,
                DoorFailure::Refused(engine::DoorError::Final) => ApplyError::Internal(anyhow::anyhow!(
                    "order {} was given back and is reported sold",
                    order.order_id
                )),
                DoorFailure::Refused(other) => {
                    tracing::error!(platform = platform.as_str(), order = %order.order_id, error = %other,
                        "a platform order is not backed by its slice");
                    ApplyError::Overdrawn(other.to_string())
                }
            },
        )?;
        let moved = changed.order.is_some();
        let changed = self.durable(changed).await?;
        // Sold and paid at the platform: an order of ours, credited (once, also when the door
        // order was recorded before and the credit did not happen).
        if units_of(order) == DoorUnits::Sold {
            self.credit_platform_order(&binding, handle.terms.merchant_id, platform, order).await?;
        }
        // Refunded or completed there since: ours follows (a repeat changes nothing).
        self.follow_platform_order(handle.terms.merchant_id, platform, order).await?;
        if changed.slice.leased < self.settings.top_up_below
            && let Some(shop) = store::shop(&self.db, binding.live_shop_id).await?
            && shop.status == store::CONNECTED
            && let Err(error) = self.top_up(&binding, &shop).await
        {
            tracing::warn!(%error, "top-up after a platform order failed; the next order or poll tries again");
        }
        Ok(moved)
    }

    /// A push as received: verified, deduplicated, each new event's order read back from the
    /// platform and applied. `Ok` = acknowledge with the platform's answer.
    pub async fn receive_push(
        &self,
        platform: Platform,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
    ) -> Result<&'static str, ApplyError> {
        let client = self.client(platform).ok_or(ApplyError::NotOffered)?;
        let push = client.open_push(header, body, self.clock.now()).map_err(ApplyError::Refused)?;
        let events = match push {
            Push::Heartbeat => return Ok(client.push_ack()),
            Push::Events(events) => events,
        };
        for event in &events {
            providers::live::check_fresh(event.occurred_at, self.clock.now(), self.settings.push_max_age_ms)
                .map_err(ApplyError::Refused)?;
        }
        for event in events {
            if store::message_seen(&self.db, platform.as_str(), &event.message_id).await? {
                continue;
            }
            if let Some(shop) =
                store::shop_by_platform_id(&self.db, platform.as_str(), &event.shop_id).await?
                && shop.status == store::CONNECTED
            {
                let grant = self.grant_of(&shop).map_err(|e| ApplyError::Internal(anyhow::anyhow!("{e}")))?;
                let order =
                    client.order(&grant.access_token, &event.order_id).await.map_err(ApplyError::Platform)?;
                self.apply_order(platform, &order).await?;
            }
            store::record_message(&self.db, platform.as_str(), &event.message_id, self.clock.now()).await?;
        }
        Ok(client.push_ack())
    }

    /// One round of the polling backstop: each connected shop's orders updated since its last
    /// round (with an overlap), at most `poll_max_pages` pages each, applied like pushes.
    pub async fn poll_once(&self) -> Result<PollReport, ApplyError> {
        let mut report = PollReport::default();
        let now = self.clock.now();
        let mut after = 0;
        loop {
            let shops = store::connected_shops(&self.db, after, 100).await?;
            let Some(last) = shops.last() else { break };
            after = last.id;
            for shop in shops {
                let Some(platform) = Platform::parse(&shop.platform) else { continue };
                let Some(client) = self.client(platform) else { continue };
                report.shops += 1;
                let since = self
                    .polled
                    .lock()
                    .get(&shop.id)
                    .copied()
                    .map_or(shop.bound_at, |t: Timestamp| t.plus_millis(-self.settings.poll_overlap_ms));
                match self.poll_shop(&*client, platform, &shop, since, now, &mut report).await {
                    Ok(()) => {
                        self.polled.lock().insert(shop.id, now);
                    }
                    Err(error) => {
                        report.failed += 1;
                        tracing::warn!(shop = shop.id, %error, "polling a live shop failed");
                        if let ApplyError::Platform(e) = &error
                            && e.is_revoked()
                        {
                            let _ = self.disconnect(&shop, e).await;
                        }
                    }
                }
            }
        }
        Ok(report)
    }

    async fn poll_shop(
        &self,
        client: &dyn LivePlatform,
        platform: Platform,
        shop: &ShopRecord,
        since: Timestamp,
        until: Timestamp,
        report: &mut PollReport,
    ) -> Result<(), ApplyError> {
        let grant = self.grant_of(shop).map_err(|e| ApplyError::Internal(anyhow::anyhow!("{e}")))?;
        let mut page: Option<String> = None;
        for _ in 0..self.settings.poll_max_pages {
            let answer = client
                .orders(&grant.access_token, since, until, page.as_deref())
                .await
                .map_err(ApplyError::Platform)?;
            for order in &answer.orders {
                report.orders_seen += 1;
                if self.apply_order(platform, order).await? {
                    report.orders_changed += 1;
                }
            }
            match answer.next {
                Some(next) => page = Some(next),
                None => return Ok(()),
            }
        }
        // More pages than a round reads: the next round starts over from the same time.
        Err(ApplyError::Internal(anyhow::anyhow!(
            "more than {} pages of orders",
            self.settings.poll_max_pages
        )))
    }

    /// Takes back what the platforms still hold of sales that have ended: for each binding,
    /// the platform's stock is lowered first (by the slice; when the platform has fewer left —
    /// sales we have not heard of yet — by halves of it, down to one unit), and only what the
    /// platform gave up returns to the sale. Units it sold meanwhile stay in the slice until
    /// their orders arrive. Bounded: at most `MAX_BINDINGS` bindings, a few calls each.
    pub async fn take_back_ended(&self) -> Result<u32, ApplyError> {
        let now = self.clock.now();
        let mut returned = 0;
        for (sale, platform) in store::held_slices(&self.db, MAX_BINDINGS).await? {
            let Some(platform) = Platform::parse(&platform) else { continue };
            if self.client(platform).is_none() {
                continue;
            }
            let Some(binding) = store::binding_of_sale(&self.db, sale, platform.as_str()).await? else {
                continue;
            };
            let Some(terms) = persistence::repo::flash_sale(&self.db, sale).await? else { continue };
            if now < terms.ends_at {
                continue;
            }
            let handle = self.handle(sale).await?;
            let Some((slice, _)) = handle.slice(door_of(platform)).await else { continue };
            if slice.leased == 0 {
                continue;
            }
            let Some(shop) = store::shop(&self.db, binding.live_shop_id).await? else { continue };
            let _turn = self.top_ups.lock().await;
            returned += self.lower_and_return(&binding, &shop, &handle, slice.leased).await?;
        }
        Ok(returned)
    }

    /// A sale's doors: each bound platform's item, slice and units sold there.
    pub async fn sale_doors(
        &self,
        merchant: MerchantId,
        sale: FlashSaleId,
    ) -> Result<Vec<SaleDoor>, SaleBindError> {
        let terms = persistence::repo::flash_sale(&self.db, sale).await?.ok_or(SaleBindError::NotFound)?;
        if terms.merchant_id != merchant {
            return Err(SaleBindError::NotFound);
        }
        let handle = crate::sales::running_or_started(&self.db, &self.registry, sale).await?;
        let mut doors = Vec::new();
        for binding in store::bindings_of_sale(&self.db, sale).await? {
            let Some(platform) = Platform::parse(&binding.platform) else { continue };
            let slice = match &handle {
                Some(h) => h.slice(door_of(platform)).await.map(|(s, _)| s).unwrap_or_default(),
                None => engine::Slice::default(),
            };
            doors.push(SaleDoor {
                platform,
                item_id: binding.item_id,
                sku_id: binding.sku_id,
                leased: slice.leased,
                sold: slice.sold,
            });
        }
        Ok(doors)
    }
}

/// The in-memory routing of platform items to sales.
pub(super) type Bindings = parking_lot::RwLock<HashMap<(Platform, String), SaleBinding>>;
