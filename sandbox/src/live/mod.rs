//! The live-platform sandboxes: the Douyin shop (抖店, [`douyin`]) and the Kuaishou shop
//! (快手小店, [`kuaishou`]) open platforms, each with its own app keys, speaking the protocol
//! code of `providers::live` from the platform's side.
//!
//! What both share lives here: [`Shop`], one platform's state — grants (codes, access and
//! refresh tokens with the platform's lifetimes, rotation with a short grace, revocation),
//! items with SKUs and the platform's **own** stock, orders, and push delivery on the
//! platform's retry schedule (compressed by `retry_scale`), sometimes twice. A simulated fan
//! buys from the item's stock and never past it: the stock is taken under the same lock that
//! checks it. Every map is bounded (`max_items`, `max_orders`, remembered stock keys, pushes
//! in flight); full is an answer, never growth.
//!
//! Times come from the injected clock, so a test's manual clock expires tokens.

#[cfg(test)]
mod conformance;
pub mod douyin;
pub mod kuaishou;
mod pages;
mod shop;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use engine::{Fen, Timestamp};
use providers::live::{OrderStatus, PushKind};

/// How long a rotated refresh token still answers (with the pair it was rotated to), so
/// that a refresh retried after a lost answer does not lose the grant.
pub const ROTATION_GRACE_MS: i64 = 60_000;
/// How long an authorisation code may be exchanged.
pub const CODE_MS: i64 = 10 * 60_000;
/// Stock idempotency keys remembered.
pub(crate) const REMEMBERED_KEYS: usize = 4_096;

/// `n` random characters of `[A-Za-z0-9]`: app keys and secrets in the platforms' shapes.
pub fn random_text(n: usize) -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// What every live sandbox is told, besides its app's keys.
#[derive(Debug, Clone)]
pub struct ShopSettings {
    /// Where pushes go (the platform's `…/notify`); none: nothing is pushed, polling only.
    pub push_url: Option<String>,
    /// Multiplies the retry schedule: 0.001 turns minutes into tenths of a second.
    pub retry_scale: f64,
    /// The chance that an acknowledged push is delivered once more (the platforms warn of it).
    pub duplicate_probability: f64,
    /// The chance that a push is never sent at all (the platforms warn that pushes get lost):
    /// only polling finds what it was about.
    pub drop_probability: f64,
    pub max_items: usize,
    pub max_orders: usize,
    pub max_pushes_in_flight: usize,
}

impl Default for ShopSettings {
    fn default() -> Self {
        Self {
            push_url: None,
            retry_scale: 1.0,
            duplicate_probability: 0.0,
            drop_probability: 0.0,
            max_items: 1_000,
            max_orders: 100_000,
            max_pushes_in_flight: 10_000,
        }
    }
}

/// Token lifetimes of a platform.
#[derive(Debug, Clone, Copy)]
pub struct TokenPolicy {
    pub access_secs: i64,
    pub refresh_secs: i64,
    /// Kuaishou: a rotated refresh token keeps the grant's first expiry; Douyin: a new one.
    pub refresh_keeps_expiry: bool,
}

/// The `expires_in` a token answer carries: whole seconds left, rounded to the nearest. A
/// grant issued a millisecond ago still says its full lifetime, as the platforms' answers do;
/// truncating would say one second less whenever the clock ticked between issuing and answering.
pub(crate) fn seconds_left(expires_at: Timestamp, now: Timestamp) -> i64 {
    (expires_at.as_millis() - now.as_millis() + 500).div_euclid(1_000)
}

/// A grant as the platform keeps it.
#[derive(Debug, Clone)]
pub struct GrantRecord {
    pub shop_id: String,
    pub shop_name: String,
    pub access_token: String,
    pub access_expires_at: Timestamp,
    pub refresh_token: String,
    pub refresh_expires_at: Timestamp,
    pub revoked: bool,
    /// The refresh token this pair replaced, and when: it answers with this pair for
    /// [`ROTATION_GRACE_MS`].
    pub(crate) previous_refresh: Option<(String, Timestamp)>,
}

#[derive(Debug, Clone)]
pub struct Sku {
    pub sku_id: u64,
    pub out_sku_id: i64,
    pub name: String,
    pub price_fen: Fen,
    /// What the platform may still sell.
    pub stock: u32,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub item_id: u64,
    pub shop_id: String,
    pub out_item_id: i64,
    pub title: String,
    pub description: String,
    pub skus: Vec<Sku>,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub order_id: u64,
    pub shop_id: String,
    pub item_id: u64,
    pub sku_id: u64,
    pub quantity: u32,
    pub amount_fen: Fen,
    pub status: OrderStatus,
    pub created_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    pub waybill: Option<(String, String)>,
}

/// Why the platform refused something, in neutral terms each wire turns into its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The token, code or refresh token is unknown, expired or revoked.
    Grant(&'static str),
    AccessToken(&'static str),
    Parameter(String),
    Business(String),
}

/// What a wire makes of a push, and how it reads the acknowledgement.
pub trait PushWire: Send + Sync + 'static {
    /// Headers, content type and body of the push of `kind` about `order`.
    fn push(
        &self,
        order: &Order,
        kind: PushKind,
        message_id: &str,
        now: Timestamp,
    ) -> (Vec<(String, String)>, String);
    fn content_type(&self) -> &'static str;
    fn acknowledged(&self, status: u16, body: &str) -> bool;
    /// The delays between attempts, in seconds.
    fn retry_secs(&self) -> &'static [u64];
    /// A heartbeat push, where the platform sends them (Kuaishou's `test: true`).
    fn heartbeat(&self, _now: Timestamp) -> Option<(Vec<(String, String)>, String)> {
        None
    }
}

/// Push counters, for tests and the demo.
#[derive(Debug, Default)]
pub struct PushStats {
    pub attempts: AtomicU64,
    pub acknowledged: AtomicU64,
    pub duplicates: AtomicU64,
    pub gave_up: AtomicU64,
    pub dropped: AtomicU64,
}

pub use shop::Shop;

/// Receivers encrypted as the platforms send them: each field of an order gets an opaque
/// random cipher once (the same cipher every time the order is read), and decrypting checks
/// that the cipher belongs to the order it is presented for. Bounded by the orders the
/// sandbox holds (three fields each).
#[derive(Default)]
pub struct Ciphers {
    inner: parking_lot::Mutex<CipherBook>,
}

#[derive(Default)]
struct CipherBook {
    /// cipher → (order, plain text)
    plain: std::collections::HashMap<String, (u64, String)>,
    /// (order, field) → cipher
    issued: std::collections::HashMap<(u64, &'static str), String>,
}

impl Ciphers {
    /// The cipher of `field` of `order_id`, made on first use.
    pub fn seal(&self, order_id: u64, field: &'static str, plain: &str) -> String {
        use base64::Engine as _;
        let mut book = self.inner.lock();
        if let Some(cipher) = book.issued.get(&(order_id, field)) {
            return cipher.clone();
        }
        let cipher =
            format!("#{}#", base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 24]>()));
        book.plain.insert(cipher.clone(), (order_id, plain.to_owned()));
        book.issued.insert((order_id, field), cipher.clone());
        cipher
    }

    /// The plain text of `cipher`, if it is one of `order_id`'s.
    pub fn open(&self, order_id: u64, cipher: &str) -> Option<String> {
        let book = self.inner.lock();
        book.plain.get(cipher).filter(|(order, _)| *order == order_id).map(|(_, plain)| plain.clone())
    }
}

/// Configures both live sandboxes; call inside `web::scope("/sandbox")` with
/// `web::Data<douyin::DouyinSandbox>` and `web::Data<kuaishou::KuaishouSandbox>` (without one,
/// its routes answer 404).
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.configure(douyin::configure).configure(kuaishou::configure);
}

/// Serves the live sandboxes alone on `listener` (platforms hosted apart from ours).
pub fn serve(
    listener: std::net::TcpListener,
    douyin: Arc<douyin::DouyinSandbox>,
    kuaishou: Arc<kuaishou::KuaishouSandbox>,
) -> std::io::Result<actix_web::dev::Server> {
    let (douyin, kuaishou) = (actix_web::web::Data::from(douyin), actix_web::web::Data::from(kuaishou));
    Ok(actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(douyin.clone())
            .app_data(kuaishou.clone())
            .service(actix_web::web::scope("/sandbox").configure(configure))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}
