//! [`Shop`]: one live platform's state behind its sandbox — grants, items with the
//! platform's own stock, orders, and push delivery on the platform's schedule.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use engine::time::Clock;
use engine::{Fen, Timestamp};
use parking_lot::Mutex;
use providers::live::{OrderStatus, PushKind, StockMove};
use rand::Rng as _;

use super::{
    CODE_MS, GrantRecord, Item, Order, PushStats, PushWire, REMEMBERED_KEYS, ROTATION_GRACE_MS, Refusal,
    ShopSettings, TokenPolicy,
};

#[derive(Default)]
struct State {
    codes: HashMap<String, (String, String, Timestamp)>,
    shops: HashMap<String, String>,
    grants: HashMap<String, GrantRecord>,
    items: BTreeMap<u64, Item>,
    orders: BTreeMap<u64, Order>,
    stock_keys: HashSet<String>,
    stock_key_order: VecDeque<String>,
}

/// One platform's state.
pub struct Shop<W: PushWire> {
    pub settings: ShopSettings,
    policy: TokenPolicy,
    wire: W,
    state: Mutex<State>,
    push_url: Mutex<Option<String>>,
    /// While set, the signed API answers 503 to the methods whose path contains it (all of
    /// them when empty): an outage, for tests.
    down: Mutex<Option<String>>,
    counter: AtomicU64,
    in_flight: AtomicUsize,
    pub stats: PushStats,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl<W: PushWire> Shop<W> {
    pub fn new(settings: ShopSettings, policy: TokenPolicy, wire: W, clock: Arc<dyn Clock>) -> Self {
        assert!(settings.max_items > 0 && settings.max_orders > 0, "a shop holds something");
        Self {
            push_url: Mutex::new(settings.push_url.clone()),
            settings,
            policy,
            wire,
            state: Mutex::new(State::default()),
            down: Mutex::new(None),
            counter: AtomicU64::new(1),
            in_flight: AtomicUsize::new(0),
            stats: PushStats::default(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()
                .expect("an HTTP client without TLS builds"),
            clock,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Points pushes somewhere else (or nowhere).
    pub fn set_push_url(&self, url: Option<String>) {
        *self.push_url.lock() = url;
    }

    /// Takes the signed API's methods whose path contains `down` (lower case; all of them
    /// when empty) down, answering 503; `None` brings them back.
    pub fn set_down(&self, down: Option<&str>) {
        *self.down.lock() = down.map(str::to_lowercase);
    }

    /// Whether the method at `path` is down.
    pub fn is_down(&self, path: &str) -> bool {
        self.down.lock().as_deref().is_some_and(|part| path.to_lowercase().contains(part))
    }

    /// A fresh id: time-ordered, unique within the process.
    pub fn mint(&self) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        (self.now().as_millis().max(0) as u64 % 10_000_000_000) * 100_000 + n % 100_000
    }

    fn token(&self, prefix: &str) -> String {
        let bytes: [u8; 24] = rand::rng().random();
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("{prefix}{text}")
    }

    /// The merchant consented: a single-use code for the shop named `shop_name`.
    pub fn consent(&self, shop_name: &str) -> String {
        let code = self.token("code.");
        let now = self.now();
        let mut state = self.state.lock();
        state.codes.retain(|_, (_, _, at)| at.as_millis() + CODE_MS > now.as_millis());
        let next_id = format!("{}", 100_000 + state.shops.len());
        let shop_id = state.shops.entry(shop_name.to_owned()).or_insert(next_id).clone();
        state.codes.insert(code.clone(), (shop_id, shop_name.to_owned(), now));
        code
    }

    fn issue(&self, shop_id: String, shop_name: String, refresh_expires_at: Timestamp) -> GrantRecord {
        let now = self.now();
        GrantRecord {
            shop_id,
            shop_name,
            access_token: self.token("act."),
            access_expires_at: now.plus_millis(self.policy.access_secs * 1_000),
            refresh_token: self.token("rft."),
            refresh_expires_at,
            revoked: false,
            previous_refresh: None,
        }
    }

    /// Trades a code for a grant (a new authorisation replaces the shop's grant).
    pub fn exchange(&self, code: &str) -> Result<GrantRecord, Refusal> {
        let now = self.now();
        let mut state = self.state.lock();
        let (shop_id, shop_name, at) =
            state.codes.remove(code).ok_or(Refusal::Grant("the code is unknown or used"))?;
        if at.as_millis() + CODE_MS <= now.as_millis() {
            return Err(Refusal::Grant("the code expired"));
        }
        let grant = self.issue(shop_id.clone(), shop_name, now.plus_millis(self.policy.refresh_secs * 1_000));
        state.grants.insert(shop_id, grant.clone());
        Ok(grant)
    }

    /// Rotates a grant's pair.
    pub fn refresh(&self, refresh_token: &str) -> Result<GrantRecord, Refusal> {
        let now = self.now();
        let mut state = self.state.lock();
        let grant = state
            .grants
            .values_mut()
            .find(|g| {
                g.refresh_token == refresh_token
                    || g.previous_refresh.as_ref().is_some_and(|(old, at)| {
                        old == refresh_token && at.as_millis() + ROTATION_GRACE_MS > now.as_millis()
                    })
            })
            .ok_or(Refusal::Grant("the refresh token is unknown"))?;
        if grant.revoked {
            return Err(Refusal::Grant("the merchant cancelled the authorisation"));
        }
        if now >= grant.refresh_expires_at {
            return Err(Refusal::Grant("the refresh token expired"));
        }
        if grant.refresh_token != refresh_token {
            return Ok(grant.clone());
        }
        let refresh_expires_at = if self.policy.refresh_keeps_expiry {
            grant.refresh_expires_at
        } else {
            now.plus_millis(self.policy.refresh_secs * 1_000)
        };
        let mut next = self.issue(grant.shop_id.clone(), grant.shop_name.clone(), refresh_expires_at);
        next.previous_refresh = Some((refresh_token.to_owned(), now));
        *grant = next.clone();
        Ok(next)
    }

    /// The merchant cancels the authorisation of `shop_id` (every shop when `None`).
    pub fn revoke(&self, shop_id: Option<&str>) -> usize {
        let mut state = self.state.lock();
        let mut n = 0;
        for grant in state.grants.values_mut().filter(|g| shop_id.is_none_or(|s| g.shop_id == s)) {
            grant.revoked = true;
            n += 1;
        }
        n
    }

    /// The shop an access token speaks for.
    pub fn shop_of(&self, access_token: &str) -> Result<String, Refusal> {
        let now = self.now();
        let state = self.state.lock();
        let grant = state
            .grants
            .values()
            .find(|g| g.access_token == access_token && !access_token.is_empty())
            .ok_or(Refusal::AccessToken("the access token is unknown"))?;
        if grant.revoked {
            return Err(Refusal::Grant("the merchant cancelled the authorisation"));
        }
        if now >= grant.access_expires_at {
            return Err(Refusal::AccessToken("the access token expired"));
        }
        Ok(grant.shop_id.clone())
    }

    /// Creates an item, or answers the one with the same `out_item_id` in the shop.
    pub fn create_item(&self, mut item: Item) -> Result<Item, Refusal> {
        let mut state = self.state.lock();
        if let Some(existing) =
            state.items.values().find(|i| i.shop_id == item.shop_id && i.out_item_id == item.out_item_id)
        {
            return Ok(existing.clone());
        }
        if state.items.len() >= self.settings.max_items {
            return Err(Refusal::Business("the sandbox holds no more items".into()));
        }
        if item.skus.is_empty() || item.skus.iter().any(|s| s.price_fen.as_i64() <= 0) {
            return Err(Refusal::Parameter("an item needs skus with a positive price".into()));
        }
        item.item_id = self.mint();
        for sku in &mut item.skus {
            sku.sku_id = self.mint();
        }
        state.items.insert(item.item_id, item.clone());
        Ok(item)
    }

    /// Updates title, description and SKU prices (matched by `out_sku_id`).
    pub fn update_item(
        &self,
        shop_id: &str,
        item_id: u64,
        title: &str,
        description: &str,
        prices: &[(i64, Fen)],
    ) -> Result<(), Refusal> {
        let mut state = self.state.lock();
        let item = state
            .items
            .get_mut(&item_id)
            .filter(|i| i.shop_id == shop_id)
            .ok_or(Refusal::Business("no such item".into()))?;
        item.title = title.to_owned();
        item.description = description.to_owned();
        for (out_sku_id, price) in prices {
            if let Some(sku) = item.skus.iter_mut().find(|s| s.out_sku_id == *out_sku_id) {
                sku.price_fen = *price;
            }
        }
        Ok(())
    }

    pub fn item(&self, item_id: u64) -> Option<Item> {
        self.state.lock().items.get(&item_id).cloned()
    }

    /// Sets or moves a SKU's stock; a key seen before changes nothing again.
    pub fn change_stock(
        &self,
        shop_id: &str,
        item_id: u64,
        sku_id: u64,
        change: StockMove,
        key: Option<&str>,
    ) -> Result<u32, Refusal> {
        let mut state = self.state.lock();
        let state = &mut *state;
        let item = state
            .items
            .get_mut(&item_id)
            .filter(|i| i.shop_id == shop_id)
            .ok_or(Refusal::Business("no such item".into()))?;
        let sku = item
            .skus
            .iter_mut()
            .find(|s| s.sku_id == sku_id)
            .ok_or(Refusal::Business("no such sku".into()))?;
        if let Some(key) = key.filter(|k| !k.is_empty()) {
            if state.stock_keys.contains(key) {
                return Ok(sku.stock);
            }
            if state.stock_key_order.len() == REMEMBERED_KEYS
                && let Some(old) = state.stock_key_order.pop_front()
            {
                state.stock_keys.remove(&old);
            }
            state.stock_keys.insert(key.to_owned());
            state.stock_key_order.push_back(key.to_owned());
        }
        let next = match change {
            StockMove::Set(stock) => i64::from(stock),
            StockMove::By(delta) => i64::from(sku.stock) + delta,
        };
        if !(0..=9_999_999).contains(&next) {
            return Err(Refusal::Business(format!("stock would become {next}")));
        }
        sku.stock = next as u32;
        Ok(sku.stock)
    }

    /// A fan buys `quantity` of a SKU (the item's first when `None`): taken from the
    /// platform's stock, never past it, then paid at once unless `pay` is false.
    pub fn buy(
        self: &Arc<Self>,
        item_id: u64,
        sku_id: Option<u64>,
        quantity: u32,
        pay: bool,
    ) -> Result<Order, Refusal> {
        if quantity == 0 {
            return Err(Refusal::Parameter("quantity must be at least 1".into()));
        }
        let now = self.now();
        let order = {
            let mut state = self.state.lock();
            if state.orders.len() >= self.settings.max_orders {
                return Err(Refusal::Business("the sandbox holds no more orders".into()));
            }
            let item = state.items.get_mut(&item_id).ok_or(Refusal::Parameter("no such item".into()))?;
            let shop_id = item.shop_id.clone();
            let sku = match sku_id {
                Some(id) => item.skus.iter_mut().find(|s| s.sku_id == id),
                None => item.skus.first_mut(),
            }
            .ok_or(Refusal::Parameter("no such sku".into()))?;
            if sku.stock < quantity {
                return Err(Refusal::Business("sold out".into()));
            }
            sku.stock -= quantity;
            let amount =
                sku.price_fen.checked_mul(quantity).ok_or(Refusal::Parameter("amount overflows".into()))?;
            let order = Order {
                order_id: self.mint(),
                shop_id,
                item_id,
                sku_id: sku.sku_id,
                quantity,
                amount_fen: amount,
                status: if pay { OrderStatus::Paid } else { OrderStatus::Unpaid },
                created_at: now,
                paid_at: pay.then_some(now),
                updated_at: now,
                waybill: None,
            };
            state.orders.insert(order.order_id, order.clone());
            order
        };
        self.push(&order, PushKind::OrderCreated);
        if pay {
            self.push(&order, PushKind::OrderPaid);
        }
        Ok(order)
    }

    /// Cancels an unpaid order: its units go back to the SKU's stock.
    pub fn cancel(self: &Arc<Self>, order_id: u64) -> Result<Order, Refusal> {
        let now = self.now();
        let order = {
            let mut state = self.state.lock();
            let state = &mut *state;
            let order = state.orders.get_mut(&order_id).ok_or(Refusal::Parameter("no such order".into()))?;
            if order.status != OrderStatus::Unpaid {
                return Err(Refusal::Business("only an unpaid order is cancelled here".into()));
            }
            order.status = OrderStatus::Cancelled;
            order.updated_at = now;
            if let Some(sku) = state
                .items
                .get_mut(&order.item_id)
                .and_then(|i| i.skus.iter_mut().find(|s| s.sku_id == order.sku_id))
            {
                sku.stock += order.quantity;
            }
            order.clone()
        };
        self.push(&order, PushKind::OrderCancelled);
        Ok(order)
    }

    /// The merchant ships a paid order.
    pub fn ship(
        self: &Arc<Self>,
        shop_id: &str,
        order_id: u64,
        company: &str,
        waybill: &str,
    ) -> Result<(), Refusal> {
        let now = self.now();
        let order = {
            let mut state = self.state.lock();
            let order = state
                .orders
                .get_mut(&order_id)
                .filter(|o| o.shop_id == shop_id)
                .ok_or(Refusal::Business("no such order".into()))?;
            match order.status {
                OrderStatus::Paid => {}
                OrderStatus::Shipped
                    if order.waybill.as_ref().is_some_and(|(c, w)| c == company && w == waybill) =>
                {
                    return Ok(());
                }
                _ => return Err(Refusal::Business("the order is not waiting to be shipped".into())),
            }
            if company.is_empty() || waybill.is_empty() {
                return Err(Refusal::Parameter("a courier and a waybill are needed".into()));
            }
            order.status = OrderStatus::Shipped;
            order.waybill = Some((company.to_owned(), waybill.to_owned()));
            order.updated_at = now;
            order.clone()
        };
        self.push(&order, PushKind::OrderShipped);
        Ok(())
    }

    /// The merchant ships a paid order in the platform's own console (not through the API).
    pub fn ship_in_console(
        self: &Arc<Self>,
        order_id: u64,
        company: &str,
        waybill: &str,
    ) -> Result<Order, Refusal> {
        let shop_id = self
            .state
            .lock()
            .orders
            .get(&order_id)
            .map(|o| o.shop_id.clone())
            .ok_or(Refusal::Parameter("no such order".into()))?;
        self.ship(&shop_id, order_id, company, waybill)?;
        self.state.lock().orders.get(&order_id).cloned().ok_or(Refusal::Parameter("no such order".into()))
    }

    /// After-sales on the platform: the buyer asks for a refund of a paid or shipped order
    /// (`agree: false`), or the merchant agrees to it (`agree: true`), which closes the order
    /// without giving its units back to the platform's stock (they are the merchant's again).
    pub fn after_sale(self: &Arc<Self>, order_id: u64, agree: bool) -> Result<Order, Refusal> {
        let now = self.now();
        let order = {
            let mut state = self.state.lock();
            let order = state.orders.get_mut(&order_id).ok_or(Refusal::Parameter("no such order".into()))?;
            if !matches!(order.status, OrderStatus::Paid | OrderStatus::Shipped) {
                return Err(Refusal::Business("only a paid or shipped order is refunded".into()));
            }
            if agree {
                order.status = OrderStatus::Cancelled;
            }
            order.updated_at = now;
            order.clone()
        };
        self.push(&order, if agree { PushKind::RefundAgreed } else { PushKind::RefundRequested });
        Ok(order)
    }

    /// The buyer confirms receipt of a shipped order.
    pub fn complete(self: &Arc<Self>, order_id: u64) -> Result<Order, Refusal> {
        let now = self.now();
        let order = {
            let mut state = self.state.lock();
            let order = state.orders.get_mut(&order_id).ok_or(Refusal::Parameter("no such order".into()))?;
            if order.status != OrderStatus::Shipped {
                return Err(Refusal::Business("only a shipped order is completed".into()));
            }
            order.status = OrderStatus::Completed;
            order.updated_at = now;
            order.clone()
        };
        self.push(&order, PushKind::OrderCompleted);
        Ok(order)
    }

    pub fn order(&self, shop_id: &str, order_id: u64) -> Option<Order> {
        self.state.lock().orders.get(&order_id).filter(|o| o.shop_id == shop_id).cloned()
    }

    /// The shop's orders updated in `[since, until]`, oldest update first, from `offset`.
    pub fn orders(
        &self,
        shop_id: &str,
        since: Timestamp,
        until: Timestamp,
        offset: usize,
        limit: usize,
    ) -> (Vec<Order>, usize) {
        let state = self.state.lock();
        let mut matching: Vec<&Order> = state
            .orders
            .values()
            .filter(|o| o.shop_id == shop_id && o.updated_at >= since && o.updated_at <= until)
            .collect();
        matching.sort_by_key(|o| (o.updated_at, o.order_id));
        let total = matching.len();
        (matching.into_iter().skip(offset).take(limit).cloned().collect(), total)
    }

    /// Every order (tests).
    pub fn all_orders(&self) -> Vec<Order> {
        self.state.lock().orders.values().cloned().collect()
    }

    /// Starts delivering the push of `kind` about `order`; dropped (counted) when too many are
    /// in flight, as a platform's pushes may be lost: polling finds the order.
    fn push(self: &Arc<Self>, order: &Order, kind: PushKind) {
        let Some(url) = self.push_url.lock().clone() else { return };
        if rand::rng().random_bool(self.settings.drop_probability.clamp(0.0, 1.0)) {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.settings.max_pushes_in_flight {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let message_id = format!("{}{:04}", self.mint(), kind as u8);
        let (headers, body) = self.wire.push(order, kind, &message_id, self.now());
        let shop = self.clone();
        tokio::spawn(async move {
            shop.deliver(url, headers, body).await;
            shop.in_flight.fetch_sub(1, Ordering::AcqRel);
        });
    }

    /// Sends one heartbeat now (no retries); whether it was acknowledged, `None` when the
    /// platform has no heartbeats or nowhere to push.
    pub async fn heartbeat(&self) -> Option<bool> {
        let url = self.push_url.lock().clone()?;
        let (headers, body) = self.wire.heartbeat(self.now())?;
        Some(self.post(&url, &headers, &body).await)
    }

    async fn deliver(&self, url: String, headers: Vec<(String, String)>, body: String) {
        let delays = std::iter::once(0).chain(self.wire.retry_secs().iter().copied());
        for delay in delays {
            tokio::time::sleep(Duration::from_secs_f64(delay as f64 * self.settings.retry_scale)).await;
            if self.post(&url, &headers, &body).await {
                self.stats.acknowledged.fetch_add(1, Ordering::Relaxed);
                let again = rand::rng().random_bool(self.settings.duplicate_probability.clamp(0.0, 1.0));
                if again {
                    // Counted once answered, so that a test waiting for the copies knows they
                    // have all been handled.
                    self.post(&url, &headers, &body).await;
                    self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
        }
        self.stats.gave_up.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%url, "live sandbox gave up pushing; polling must find the order");
    }

    async fn post(&self, url: &str, headers: &[(String, String)], body: &str) -> bool {
        self.stats.attempts.fetch_add(1, Ordering::Relaxed);
        let mut request =
            self.http.post(url).header("Content-Type", self.wire.content_type()).body(body.to_owned());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let Ok(response) = request.send().await else { return false };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        self.wire.acknowledged(status, &text)
    }
}
