//! The live platforms as the merchant uses them: [`Live`], the workflow's context (database,
//! the platforms' clients, the token key, the clock, [`LiveSettings`]).
//!
//! - [`binding`]: the OAuth 2.0 round trip that binds a merchant's shop (a `state` tied to the
//!   merchant, single use, expiring, stored as a keyed hash), the shop list, and the refresh
//!   sweep that keeps grants alive and tells a revoked one apart (the shop becomes
//!   disconnected).
//! - [`doors`]: a sale sold through the platforms too — items created, slices leased and
//!   topped up through the stock actor, platform orders from pushes and polling.
//! - [`orders`]: a platform's paid order as an order of ours (credited once through the
//!   merchant's settlement actor) and its waybill sent back to the platform.
//! - [`slices`]: units taken back from a platform while the sale runs (the merchant's action),
//!   and leases whose platform stock call failed, tried again.
//! - [`seal`]: the shops' tokens encrypted at rest (AES-256-GCM, bound to their row).

pub mod binding;
pub mod doors;
pub mod orders;
pub mod seal;
pub mod slices;

use std::collections::HashMap;
use std::sync::Arc;

use actors::{Clock, Journal, SettlementRegistry, StockRegistry};
use persistence::DatabaseConnection;
use providers::live::{LivePlatform, Platform};

pub use binding::{BindError, BoundShop, RefreshReport, ShopState};
pub use doors::{ApplyError, PollReport, SaleBindError, SaleDoor};
pub use orders::WaybillReport;
pub use seal::TokenSeal;
pub use slices::TakenBack;

/// Stripes of the per-platform-order lock.
const ORDER_TURNS: usize = 64;

/// The clients of the platforms this deployment offers.
#[derive(Clone, Default)]
pub struct Platforms {
    pub douyin: Option<Arc<dyn LivePlatform>>,
    pub kuaishou: Option<Arc<dyn LivePlatform>>,
}

impl Platforms {
    pub fn get(&self, platform: Platform) -> Option<&Arc<dyn LivePlatform>> {
        match platform {
            Platform::Douyin => self.douyin.as_ref(),
            Platform::Kuaishou => self.kuaishou.as_ref(),
        }
    }
}

/// What the live workflow is told by the deployment.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// Where the platforms send the merchant back: `{public_url}/api/v1/platforms`, the
    /// platform's name and `/callback` appended.
    pub callback_base: String,
    pub state_ttl_ms: i64,
    /// Round trips a merchant may have pending at once.
    pub max_pending_states: u64,
    pub refresh_margin_ms: i64,
    /// Grants refreshed per sweep, at most.
    pub refresh_batch: u64,
    pub push_max_age_ms: i64,
    /// Units leased to a platform at a time, and the level below which it is topped up.
    pub slice_units: u32,
    pub top_up_below: u32,
    pub poll_max_pages: u32,
    /// Each polling round looks this far before the last one's end.
    pub poll_overlap_ms: i64,
    /// A failed lease's platform stock call: retries and the first backoff (doubling).
    pub lease_retries: u32,
    pub lease_retry_base_ms: u64,
    /// Sending waybills to the platforms: attempts per order, first backoff (doubling).
    pub waybill_max_attempts: u32,
    pub waybill_retry_base_ms: i64,
    /// How long a door change may wait for the journal.
    pub ack_timeout: std::time::Duration,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            callback_base: "http://127.0.0.1:8080/api/v1/platforms".into(),
            state_ttl_ms: 600_000,
            max_pending_states: 20,
            refresh_margin_ms: 86_400_000,
            refresh_batch: 100,
            push_max_age_ms: providers::live::PUSH_MAX_AGE_MS,
            slice_units: 100,
            top_up_below: 20,
            poll_max_pages: 10,
            poll_overlap_ms: 60_000,
            lease_retries: 3,
            lease_retry_base_ms: 500,
            waybill_max_attempts: 8,
            waybill_retry_base_ms: 30_000,
            ack_timeout: std::time::Duration::from_secs(5),
        }
    }
}

/// The live workflow's context.
pub struct Live {
    pub db: DatabaseConnection,
    pub platforms: Platforms,
    seal: TokenSeal,
    /// Keys the HMAC under which round-trip states are stored (derived from the token key).
    state_key: [u8; 32],
    pub clock: Arc<dyn Clock>,
    pub settings: LiveSettings,
    pub registry: Arc<StockRegistry>,
    pub journal: Journal,
    /// The merchants' settlement actors, which credit platform orders ([`Self::with_settlements`]).
    settlements: Option<Arc<SettlementRegistry>>,
    bindings: doors::Bindings,
    top_ups: tokio::sync::Mutex<()>,
    /// Striped locks, one platform order at a time ([`Self::order_turn`]).
    order_turns: Box<[tokio::sync::Mutex<()>]>,
    /// Leases whose platform stock call failed, to try again (bounded by the bindings).
    failed_leases: parking_lot::Mutex<HashMap<(engine::FlashSaleId, engine::Door), slices::FailedLease>>,
    /// Whether the leases an earlier process left unplaced were taken up (`retry_leases`).
    leases_recovered: std::sync::atomic::AtomicBool,
    /// When each shop was last polled up to (one entry per connected shop).
    polled: parking_lot::Mutex<std::collections::HashMap<i64, engine::Timestamp>>,
}

impl Live {
    pub fn new(
        db: DatabaseConnection,
        platforms: Platforms,
        token_key: [u8; 32],
        (registry, journal): (Arc<StockRegistry>, Journal),
        clock: Arc<dyn Clock>,
        settings: LiveSettings,
    ) -> Self {
        use hmac::Mac as _;
        let mut derive =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(&token_key).expect("HMAC takes keys of any length");
        derive.update(b"live oauth state");
        let state_key = derive.finalize().into_bytes().into();
        Self {
            db,
            platforms,
            seal: TokenSeal::new(token_key),
            state_key,
            clock,
            settings,
            registry,
            journal,
            settlements: None,
            bindings: Default::default(),
            top_ups: tokio::sync::Mutex::new(()),
            order_turns: (0..ORDER_TURNS).map(|_| tokio::sync::Mutex::new(())).collect(),
            failed_leases: Default::default(),
            leases_recovered: Default::default(),
            polled: Default::default(),
        }
    }

    /// Platform orders paid there are credited through these settlement actors.
    pub fn with_settlements(mut self, settlements: Arc<SettlementRegistry>) -> Self {
        self.settlements = Some(settlements);
        self
    }

    /// The client of `platform`, when this deployment offers it.
    pub fn platform(&self, platform: Platform) -> Option<&Arc<dyn LivePlatform>> {
        self.platforms.get(platform)
    }

    /// The lock a platform order is applied under: one of [`ORDER_TURNS`] stripes by its id,
    /// so the same order is never applied twice at once and different orders rarely wait.
    pub(crate) fn order_turn(&self, platform: Platform, order_id: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash as _, Hasher as _};
        // Fixed keys: the same order picks the same stripe for the life of the process.
        let mut hasher = std::hash::DefaultHasher::new();
        (platform.as_str(), order_id).hash(&mut hasher);
        &self.order_turns[(hasher.finish() % ORDER_TURNS as u64) as usize]
    }

    /// Where `platform` sends the merchant back with the code.
    pub fn callback_url(&self, platform: Platform) -> String {
        format!("{}/{}/callback", self.settings.callback_base, platform.as_str())
    }
}

/// Parses a 64-hex-character token key.
pub fn parse_token_key(hex_key: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(hex_key.trim()).map_err(|e| anyhow::anyhow!("live.token_key: {e}"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| anyhow::anyhow!("live.token_key must be 32 bytes"))
}
