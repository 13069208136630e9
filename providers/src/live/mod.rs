//! The live-commerce platforms a merchant sells through besides our own page: the Douyin shop
//! open platform (抖店, [`douyin`]) and the Kuaishou shop open platform (快手小店, [`kuaishou`]),
//! each behind [`LivePlatform`].
//!
//! What the platform needs of one: the OAuth 2.0 authorisation-code flow (authorize URL, code
//! exchange, refresh before expiry, a revoked grant told apart from every other refusal), the
//! merchant's item with its SKUs created and updated, a SKU's stock set (idempotent) or moved
//! by a delta, orders listed (the polling backstop) and read, a waybill sent; and the
//! platform's pushes verified (forged, stale, malformed → refused) and decoded into
//! [`PushEvent`]s that carry the platform's message id, so that a repeated push is recognised.
//!
//! Each platform's folder has the usual shape: `protocol` (pure: signatures, push opening,
//! wire types, shared with its sandbox and the tests) and `client` (the HTTP adapter).

pub mod douyin;
pub mod kuaishou;

use std::future::Future;
use std::pin::Pin;

use engine::{Fen, Timestamp};
use thiserror::Error;

/// Which live platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    Douyin,
    Kuaishou,
}

impl Platform {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Douyin => "douyin",
            Self::Kuaishou => "kuaishou",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "douyin" => Some(Self::Douyin),
            "kuaishou" => Some(Self::Kuaishou),
            _ => None,
        }
    }
}

/// A merchant's grant at a platform: what a code exchange or a refresh returns.
/// `Debug` is written by hand: it never prints a token.
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    pub access_token: String,
    pub refresh_token: String,
    pub access_expires_at: Timestamp,
    /// When the refresh token dies and the merchant must authorise again.
    pub refresh_expires_at: Timestamp,
    /// The shop (Douyin `shop_id`) or seller (Kuaishou `open_id`) that granted it.
    pub shop_id: String,
    pub shop_name: String,
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("shop_id", &self.shop_id)
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish_non_exhaustive()
    }
}

/// What to do with a grant now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantState {
    /// The access token is good for longer than the margin.
    Fresh,
    /// Within the margin of the access token's expiry (or past it) while the refresh token
    /// lives: refresh now.
    RefreshDue,
    /// The refresh token is dead: only the merchant can authorise again.
    Expired,
}

impl Grant {
    /// The grant's state at `now`, refreshing `margin_ms` before the access token expires.
    /// A refresh that would itself be too late (the refresh token dies within the margin)
    /// is still due: the platform answers with the grant's fate.
    pub fn state(&self, now: Timestamp, margin_ms: i64) -> GrantState {
        if now >= self.refresh_expires_at {
            GrantState::Expired
        } else if now.plus_millis(margin_ms) >= self.access_expires_at {
            GrantState::RefreshDue
        } else {
            GrantState::Fresh
        }
    }
}

/// Why a platform call failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LiveError {
    /// Not reached, no answer in time, or an HTTP status other than 200.
    #[error("live platform unreachable: {0}")]
    Transport(String),
    /// The grant is gone (revoked by the merchant, refresh token dead or unknown): the shop is
    /// disconnected until the merchant authorises again. Retrying cannot help.
    #[error("live platform grant revoked: {code}: {message}")]
    Revoked { code: String, message: String },
    /// The access token is expired or unknown while the grant may live: refresh, then retry.
    #[error("live platform access token refused: {code}: {message}")]
    Unauthorized { code: String, message: String },
    /// The platform refused the request itself (signature, parameters, stock, state).
    #[error("live platform refused the request: {code}: {message}")]
    Refused { code: String, message: String },
    /// The answer was not what the protocol promises.
    #[error("live platform answered something unexpected: {0}")]
    BadAnswer(String),
}

impl LiveError {
    pub fn is_revoked(&self) -> bool {
        matches!(self, Self::Revoked { .. })
    }
}

/// One SKU of an item as we want it on the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuSpec {
    /// Our id for the SKU (the platform's `out_sku_id` / `relSkuId`), numeric because
    /// Kuaishou takes only numbers there.
    pub out_sku_id: i64,
    /// What the buyer sees for the SKU (a colour, a size).
    pub name: String,
    pub price_fen: Fen,
    /// The units the platform may sell at first: its slice.
    pub stock: u32,
}

/// An item as we want it on the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemSpec {
    /// Our id for the item (`out_product_id` / `relItemId`).
    pub out_item_id: i64,
    pub title: String,
    pub description: String,
    pub skus: Vec<SkuSpec>,
}

/// The platform's ids of an item and of its SKUs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRef {
    pub item_id: String,
    /// `(our out_sku_id, the platform's sku id)`.
    pub skus: Vec<(i64, String)>,
}

impl ItemRef {
    pub fn sku_id(&self, out_sku_id: i64) -> Option<&str> {
        self.skus.iter().find(|(ours, _)| *ours == out_sku_id).map(|(_, theirs)| theirs.as_str())
    }
}

/// An order's state at the platform, as both platforms' states map onto ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Placed, not paid yet: the platform holds the unit until it is paid or cancelled.
    Unpaid,
    Paid,
    Shipped,
    Completed,
    /// Cancelled or closed before completion (unpaid timeout, buyer, merchant, full refund).
    Cancelled,
}

/// One order as the platform lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformOrder {
    pub order_id: String,
    pub shop_id: String,
    pub status: OrderStatus,
    pub item_id: String,
    pub sku_id: String,
    pub quantity: u32,
    pub amount_fen: Fen,
    pub created_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    /// Where it ships to, when the platform says (order detail and lists of a paid order).
    pub receiver: Option<Receiver>,
    /// How it left, when it was shipped: the first package the platform lists.
    pub shipment: Option<PlatformShipment>,
}

/// A platform order's package as the platform lists it: the courier in the platform's own
/// code and the waybill number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformShipment {
    pub company_code: String,
    pub waybill_no: String,
}

/// Where a platform order ships to, as the platform gives it: region names as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    pub name: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
}

/// A page of orders updated in a time window; `next` is the cursor (Kuaishou) or page
/// number (Douyin) to ask for next, `None` at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    pub orders: Vec<PlatformOrder>,
    pub next: Option<String>,
}

/// What the merchant shipped, for the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub order_id: String,
    /// The courier as the platform codes it (Douyin `company_code` like `zhongtong`,
    /// Kuaishou a numeric `expressCode`).
    pub company_code: String,
    pub waybill_no: String,
}

/// A courier as each platform codes it, by KDNiao's `ShipperCode` (ours):
/// `(ours, Douyin company_code, Kuaishou expressCode)`.
///
/// Douyin's are the codes of its logistics company list (`order.logisticsCompanyList`);
/// shunfeng, zhongtong, yuantong, shentong, yunda, jd and jtexpress are named in the platform's
/// own field descriptions (the `express_list` default of
/// `logistics.getRecommendedAndDeliveryExpressByOrder`), ems in an ERP's Douyin adapter;
/// huitongkuaidi and debangkuaidi follow the kuaidi100 codes Douyin's list uses and are not
/// confirmed.
///
/// Kuaishou's numbers are from its courier number table (物流公司编号, as mirrored with the
/// `kwaixiaodian` SDK's documents): 顺丰速运 4, 中通快递 9, 圆通速递 6, 申通快递 3, 韵达快递 11
/// (7 is 韵达快运, freight), EMS 2, 京东 14, 极兔速递 109 — and 百世快递 109 too, merged into
/// 极兔. 德邦 has two entries (17 德邦, 53 德邦快递) and the mirror does not say which is
/// withdrawn: 53, the parcel service, is used, unconfirmed.
pub const PLATFORM_COURIERS: [(&str, &str, &str); 10] = [
    ("SF", "shunfeng", "4"),
    ("ZTO", "zhongtong", "9"),
    ("YTO", "yuantong", "6"),
    ("STO", "shentong", "3"),
    ("YD", "yunda", "11"),
    ("JTSD", "jtexpress", "109"),
    ("HTKY", "huitongkuaidi", "109"),
    ("EMS", "ems", "2"),
    ("JD", "jd", "14"),
    ("DBL", "debangkuaidi", "53"),
];

/// The platform's code of one of our couriers, if it has one.
pub fn courier_code(platform: Platform, ours: &str) -> Option<&'static str> {
    PLATFORM_COURIERS.iter().find(|(code, _, _)| *code == ours).map(|(_, douyin, kuaishou)| match platform {
        Platform::Douyin => *douyin,
        Platform::Kuaishou => *kuaishou,
    })
}

/// Our courier of a platform's courier code, if we know it. Kuaishou's 109 is 极兔 (百世 merged
/// into it), so it reads as `JTSD`.
pub fn our_courier(platform: Platform, code: &str) -> Option<&'static str> {
    PLATFORM_COURIERS
        .iter()
        .find(|(_, douyin, kuaishou)| match platform {
            Platform::Douyin => *douyin == code,
            Platform::Kuaishou => *kuaishou == code,
        })
        .map(|(ours, _, _)| *ours)
}

/// What a push says happened to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushKind {
    OrderCreated,
    OrderPaid,
    OrderCancelled,
    OrderShipped,
    OrderCompleted,
    RefundRequested,
    RefundAgreed,
}

/// One event out of a verified push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    /// The platform's message id (Douyin `msg_id`, Kuaishou `eventId`): the same event
    /// pushed again carries the same id.
    pub message_id: String,
    pub kind: PushKind,
    pub order_id: String,
    pub shop_id: String,
    /// When the platform says it happened.
    pub occurred_at: Timestamp,
}

/// A verified push: the events it carries (unknown tags are skipped, not refused), or a
/// heartbeat that only wants the acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    Events(Vec<PushEvent>),
    Heartbeat,
}

/// Why a push was refused. Nothing in it changes anything; the platform retries.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PushRefused {
    #[error("push signature does not verify")]
    Forged,
    #[error("push is stale or from the future: {0}")]
    Stale(String),
    #[error("push is malformed: {0}")]
    Malformed(String),
}

/// How old a push's event may be and still be believed: longer than the platforms' retry
/// schedules (Kuaishou's last retry comes about two hours after the event), so that a
/// genuine retry is never refused, while a push replayed days later is.
pub const PUSH_MAX_AGE_MS: i64 = 24 * 3_600_000;
/// How far in the future a push's event time may be (clock skew).
pub const PUSH_MAX_AHEAD_MS: i64 = 5 * 60_000;

/// Refuses an event time outside `[now - max_age, now + PUSH_MAX_AHEAD_MS]`.
pub fn check_fresh(occurred_at: Timestamp, now: Timestamp, max_age_ms: i64) -> Result<(), PushRefused> {
    if occurred_at.as_millis() < now.as_millis() - max_age_ms {
        return Err(PushRefused::Stale(format!("event at {} ms, now {} ms", occurred_at.0, now.0)));
    }
    if occurred_at.as_millis() > now.as_millis() + PUSH_MAX_AHEAD_MS {
        return Err(PushRefused::Stale(format!(
            "event at {} ms is ahead of now {} ms",
            occurred_at.0, now.0
        )));
    }
    Ok(())
}

/// The message ids seen lately, at most `capacity` of them: a repeated push is recognised
/// by its id without a database read. A first line only — an id older than the window is
/// forgotten, so whoever applies an event must still hold a durable unique key on it.
#[derive(Debug)]
pub struct RecentMessages {
    capacity: usize,
    seen: std::collections::HashSet<String>,
    order: std::collections::VecDeque<String>,
}

impl RecentMessages {
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a window of at least one message");
        Self {
            capacity,
            seen: std::collections::HashSet::with_capacity(capacity.min(65_536)),
            order: std::collections::VecDeque::with_capacity(capacity.min(65_536)),
        }
    }

    /// Whether `message_id` is new (and now remembered); `false` for a repeat.
    pub fn first_time(&mut self, message_id: &str) -> bool {
        if self.seen.contains(message_id) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        self.seen.insert(message_id.to_owned());
        self.order.push_back(message_id.to_owned());
        true
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// The future a [`LivePlatform`] method returns.
pub type LiveFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LiveError>> + Send + 'a>>;

/// A stock change: set the SKU's sellable stock to `stock`, or move it by `delta`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockChange {
    pub item_id: String,
    pub sku_id: String,
    pub change: StockMove,
    /// Douyin's `idempotent_id`: the same key again is the same change.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockMove {
    /// An absolute stock. Safe only when nothing sells meanwhile (creation, the sale's end):
    /// a sale between the caller's count and the set is overwritten.
    Set(u32),
    /// Add units to the platform's slice (a lease), or take them back (negative). Taking back
    /// more than the platform has left is refused by the platform, never clamped.
    By(i64),
}

/// What the platform asks of a live-commerce platform. Every call that changes something is
/// safe to repeat after a failure (ids chosen by us, idempotency keys).
pub trait LivePlatform: Send + Sync {
    fn platform(&self) -> Platform;

    /// Where to send the merchant to authorise us; `state` comes back with the code.
    fn authorize_url(&self, state: &str, redirect_uri: &str) -> String;

    /// Trades an authorisation code for a grant.
    fn exchange_code<'a>(&'a self, code: &'a str) -> LiveFuture<'a, Grant>;

    /// A new grant for a live one. [`LiveError::Revoked`] means the merchant must authorise again.
    fn refresh<'a>(&'a self, grant: &'a Grant) -> LiveFuture<'a, Grant>;

    /// Creates the item with its SKUs (or finds it again by our `out_item_id`).
    fn create_item<'a>(&'a self, access_token: &'a str, item: &'a ItemSpec) -> LiveFuture<'a, ItemRef>;

    /// Updates title, description and SKU prices of an item created before (stock untouched:
    /// that is [`LivePlatform::change_stock`]'s).
    fn update_item<'a>(
        &'a self,
        access_token: &'a str,
        item: &'a ItemRef,
        spec: &'a ItemSpec,
    ) -> LiveFuture<'a, ()>;

    /// Changes a SKU's stock.
    fn change_stock<'a>(&'a self, access_token: &'a str, change: &'a StockChange) -> LiveFuture<'a, ()>;

    /// Orders updated in `[since, until]`, one page; `page` is the previous page's `next`.
    fn orders<'a>(
        &'a self,
        access_token: &'a str,
        since: Timestamp,
        until: Timestamp,
        page: Option<&'a str>,
    ) -> LiveFuture<'a, OrderPage>;

    fn order<'a>(&'a self, access_token: &'a str, order_id: &'a str) -> LiveFuture<'a, PlatformOrder>;

    /// Sends the waybill of a shipped order.
    fn ship<'a>(&'a self, access_token: &'a str, shipment: &'a Shipment) -> LiveFuture<'a, ()>;

    /// Verifies and decodes a push as received (`header` looks a header up by its lowercase
    /// name). Refused pushes change nothing; answer them with a non-acknowledgement.
    fn open_push(
        &self,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<Push, PushRefused>;

    /// The body that acknowledges a push, and its content type.
    fn push_ack(&self) -> &'static str;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(access_ms: i64, refresh_ms: i64) -> Grant {
        Grant {
            access_token: "a".into(),
            refresh_token: "r".into(),
            access_expires_at: Timestamp(access_ms),
            refresh_expires_at: Timestamp(refresh_ms),
            shop_id: "s".into(),
            shop_name: String::new(),
            scopes: vec![],
        }
    }

    #[test]
    fn a_grant_is_refreshed_within_the_margin_and_dead_with_its_refresh_token() {
        let g = grant(10_000, 100_000);
        assert_eq!(g.state(Timestamp(0), 5_000), GrantState::Fresh);
        assert_eq!(g.state(Timestamp(4_999), 5_000), GrantState::Fresh);
        assert_eq!(g.state(Timestamp(5_000), 5_000), GrantState::RefreshDue);
        assert_eq!(g.state(Timestamp(50_000), 5_000), GrantState::RefreshDue);
        assert_eq!(g.state(Timestamp(100_000), 5_000), GrantState::Expired);
        assert!(!format!("{g:?}").contains("access_token: \"a\""));
    }

    #[test]
    fn repeated_message_ids_are_recognised_within_a_bounded_window() {
        let mut recent = RecentMessages::new(2);
        assert!(recent.first_time("a"));
        assert!(!recent.first_time("a"));
        assert!(recent.first_time("b"));
        assert!(recent.first_time("c"), "a third id pushes the oldest out");
        assert_eq!(recent.len(), 2);
        assert!(!recent.first_time("b") && !recent.first_time("c"));
        assert!(recent.first_time("a"), "forgotten: the durable key must catch it");
    }

    /// The same push delivered twice opens into events with the same message id, on both
    /// platforms, so the window above (and a durable key) can tell the repeat.
    #[test]
    fn a_push_delivered_twice_carries_the_same_message_ids() {
        let body = br#"[{"tag":"100","msg_id":"m-1","data":"{\"p_id\":1,\"shop_id\":2,\"create_time\":1795651200}"}]"#;
        let sign = douyin::protocol::push_sign("k", body, "s");
        let header = |name: &str| match name {
            "app-id" => Some("k".to_owned()),
            "event-sign" => Some(sign.clone()),
            _ => None,
        };
        let now = Timestamp(1_795_651_200_000);
        let open = || douyin::protocol::open_push("k", "s", &header, body, now, PUSH_MAX_AGE_MS).unwrap();
        let mut recent = RecentMessages::new(16);
        let ids = |push: Push| match push {
            Push::Events(events) => events.into_iter().map(|e| e.message_id).collect::<Vec<_>>(),
            Push::Heartbeat => vec![],
        };
        let first = ids(open());
        assert_eq!(first, ["m-1"]);
        assert!(first.iter().all(|id| recent.first_time(id)));
        assert!(ids(open()).iter().all(|id| !recent.first_time(id)));

        let key = "MDEyMzQ1Njc4OWFiY2RlZg==";
        let message = r#"{"eventId":"e-1","bizId":1,"openId":"o","appKey":"ks","event":"kwaishop_order_addOrder","info":"{\"oid\":1}","createTime":1795651200000,"test":false}"#;
        let sealed = kuaishou::protocol::encrypt_push(key, message.as_bytes()).unwrap();
        for expected_new in [true, false] {
            let push =
                kuaishou::protocol::open_push("ks", key, sealed.as_bytes(), now, PUSH_MAX_AGE_MS).unwrap();
            assert_eq!(ids(push).iter().map(|id| recent.first_time(id)).collect::<Vec<_>>(), [expected_new]);
        }
    }

    #[test]
    fn event_times_outside_the_window_are_stale() {
        let now = Timestamp(PUSH_MAX_AGE_MS * 2);
        assert!(check_fresh(now, now, PUSH_MAX_AGE_MS).is_ok());
        assert!(check_fresh(Timestamp(now.0 - PUSH_MAX_AGE_MS), now, PUSH_MAX_AGE_MS).is_ok());
        assert!(check_fresh(Timestamp(now.0 - PUSH_MAX_AGE_MS - 1), now, PUSH_MAX_AGE_MS).is_err());
        assert!(check_fresh(Timestamp(now.0 + PUSH_MAX_AHEAD_MS + 1), now, PUSH_MAX_AGE_MS).is_err());
    }
}
