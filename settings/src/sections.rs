//! Typed settings: `config.toml` (every key, with its default and a comment) overridden by
//! environment variables `FLASHSALE__SECTION__KEY`. Every key has a default in code too, so a
//! missing file or key means the documented default, never a crash.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `demo` (the default) or `production`: see [`crate::production`].
    pub mode: Mode,
    pub server: Server,
    pub database: Database,
    pub journal: JournalSettings,
    pub actors: Actors,
    pub admission: Admission,
    pub flash_sales: FlashSales,
    pub couriers: Couriers,
    pub fulfilment: Fulfilment,
    pub auth: Auth,
    pub payments: Payments,
    pub aftersales: AfterSales,
    pub sandbox: Sandbox,
    pub sms: Sms,
    /// What buyers are told and how hard the outbox worker tries (`[notifications]`).
    pub notifications: workflows::notifications::NotificationSettings,
    pub wechat_mp: WechatMp,
    pub live: Live,
    /// Products, SKUs, pictures, bulk import and the banned-word check (`[catalogue]`).
    pub catalogue: workflows::catalogue::CatalogueSettings,
    pub buyer_codes: BuyerCodes,
    /// Verification, qualification review, bans and reports (`[trust]`).
    pub trust: crate::trust::Trust,
    pub operator: Operator,
    pub demo: Demo,
    pub log: Log,
    /// Secret keys that the configuration file itself holds (production refuses them).
    #[serde(skip)]
    pub secrets_in_file: Vec<&'static str>,
    /// `*_file` settings that could not be read, one message each.
    #[serde(skip)]
    pub secret_file_problems: Vec<String>,
}

/// What the server is run as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Bundled sandboxes, demo data, generated secrets kept in the database.
    #[default]
    Demo,
    /// No sandbox, no demo data, every secret from the environment or a file.
    Production,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    pub bind: String,
    pub workers: usize,
    pub backlog: u32,
    pub max_body_bytes: usize,
    pub public_url: String,
    pub shutdown_timeout_secs: u64,
    /// A second listener serving only `/metrics`, without a token; empty = none.
    pub metrics_bind: String,
    /// Bearer token `/metrics` on the main listener requires; empty = public in demo mode,
    /// not served there in production.
    pub metrics_token: String,
    pub metrics_token_file: String,
    /// Proxies (addresses or CIDR blocks) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            workers: 0,
            backlog: 4096,
            max_body_bytes: 16 * 1024,
            public_url: String::new(),
            shutdown_timeout_secs: 10,
            metrics_bind: String::new(),
            metrics_token: String::new(),
            metrics_token_file: String::new(),
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Database {
    pub url: String,
    pub max_connections: u32,
    pub sqlite_synchronous_full: bool,
}

impl Default for Database {
    fn default() -> Self {
        Self { url: "sqlite://data/flashsale.db".into(), max_connections: 8, sqlite_synchronous_full: true }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct JournalSettings {
    pub capacity: usize,
    pub batch_max: usize,
    pub linger_ms: u64,
    pub durable_ack: bool,
    pub ack_timeout_ms: u64,
    /// The order log, the durability point of placements and order changes; empty = none
    /// (acknowledgements wait for database commits).
    pub log_path: String,
    /// The log is emptied once it is larger than this and the database holds all of it.
    pub log_max_bytes: u64,
}

impl Default for JournalSettings {
    fn default() -> Self {
        Self {
            capacity: 65_536,
            batch_max: 2_048,
            linger_ms: 0,
            durable_ack: true,
            ack_timeout_ms: 5_000,
            log_path: "data/orders.log".into(),
            log_max_bytes: 64 << 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Actors {
    pub arbiters: usize,
    pub mailbox_capacity: usize,
    pub expiry_retry_ms: u64,
    pub expiry_batch: usize,
}

impl Default for Actors {
    fn default() -> Self {
        Self { arbiters: 1, mailbox_capacity: 8_192, expiry_retry_ms: 100, expiry_batch: 1_024 }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Admission {
    pub max_in_flight: usize,
    pub per_ip_per_sec: u32,
    pub per_ip_burst: u32,
    pub per_buyer_per_sec: u32,
    pub per_buyer_burst: u32,
    pub retry_after_secs: u32,
    /// Unpaid orders one buyer may have across all sales (0 = no cap).
    pub max_unpaid_orders_per_buyer: u32,
    /// Unpaid orders one client network may have across all sales (0 = no cap).
    pub max_unpaid_orders_per_network: u32,
}

impl Default for Admission {
    fn default() -> Self {
        Self {
            max_in_flight: 8_192,
            per_ip_per_sec: 200,
            per_ip_burst: 400,
            per_buyer_per_sec: 2,
            per_buyer_burst: 10,
            retry_after_secs: 1,
            max_unpaid_orders_per_buyer: 10,
            max_unpaid_orders_per_network: 100,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FlashSales {
    /// Flash sales of one merchant live at the same instant (0 = no cap).
    pub max_live_per_merchant: u32,
    /// Flash sales of one merchant not started yet (0 = no cap).
    pub max_scheduled_per_merchant: u32,
}

impl Default for FlashSales {
    fn default() -> Self {
        Self { max_live_per_merchant: 50, max_scheduled_per_merchant: 200 }
    }
}

/// Couriers through KDNiao (快递鸟): e-waybills (1007), tracking subscriptions (1008) and the
/// signed tracking pushes (101) it sends to `/api/v1/couriers/kdniao/push`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Couriers {
    /// KDNiao's API root, e.g. https://api.kdniao.com; empty = the bundled sandbox on this
    /// server, with an account generated on first start and kept in the database.
    pub provider_url: String,
    pub ebusiness_id: String,
    pub app_key: String,
    /// A file holding the AppKey (read at start when `app_key` is empty).
    pub app_key_file: String,
    /// Per attempt.
    pub timeout_ms: u64,
    /// Attempts in all for one request.
    pub attempts: u32,
    /// Wait before the second attempt, doubled before each next one.
    pub backoff_ms: u64,
    /// A push whose `PushTime` is further than this from our clock is refused as stale.
    pub push_max_age_secs: u64,
    /// Waybills the bundled sandbox keeps.
    pub sandbox_capacity: usize,
    /// A TrueType font with CJK glyphs for labels (face `label_font_index` of a collection).
    pub label_font_path: String,
    pub label_font_index: u32,
}

impl Default for Couriers {
    fn default() -> Self {
        Self {
            provider_url: String::new(),
            ebusiness_id: String::new(),
            app_key: String::new(),
            app_key_file: String::new(),
            timeout_ms: 5_000,
            attempts: 3,
            backoff_ms: 500,
            push_max_age_secs: 300,
            sandbox_capacity: 100_000,
            label_font_path: "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc".into(),
            label_font_index: 0,
        }
    }
}

/// After the sale: completion and the merchant's order exports.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Fulfilment {
    /// A delivered order completes by itself this many days after delivery.
    pub auto_complete_after_days: u32,
    /// How often the completion sweep runs, and how many orders it completes at most per run.
    pub sweep_interval_secs: u64,
    pub sweep_batch: u64,
    /// An export of at most this many orders is answered at once; a larger one is a job.
    pub export_direct_max_rows: u64,
    /// The most orders one export holds.
    pub export_max_rows: u64,
    /// Export jobs kept at once (running or ready); one more is answered 429.
    pub export_max_jobs: usize,
    /// Where export files are written; empty = a directory of the system's temp dir.
    pub export_dir: String,
    /// A finished export's file is deleted this long after it was made.
    pub export_ttl_secs: u64,
}

impl Default for Fulfilment {
    fn default() -> Self {
        Self {
            auto_complete_after_days: 7,
            sweep_interval_secs: 60,
            sweep_batch: 500,
            export_direct_max_rows: 5_000,
            export_max_rows: 1_000_000,
            export_max_jobs: 4,
            export_dir: String::new(),
            export_ttl_secs: 3_600,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Auth {
    pub token_secret: String,
    pub token_secret_file: String,
    pub merchant_token_ttl_secs: u64,
    pub buyer_token_ttl_secs: u64,
    /// Password hashes computed at once; 0 = one per CPU core.
    pub hash_concurrency: usize,
    /// Requests that may wait for a hashing slot; beyond it 503 busy at once.
    pub hash_queue: usize,
    /// Longest wait for a hashing slot before 503 busy.
    pub hash_wait_ms: u64,
    /// Failed log-ins of one account before it is throttled.
    pub login_failures_allowed: u32,
    /// The longest an account is throttled after repeated failures.
    pub login_backoff_max_secs: u64,
    /// Accounts whose failures are remembered at once.
    pub login_tracked_accounts: usize,
    /// How long a merchant's or operator's token version is trusted from memory.
    pub token_version_cache_secs: u64,
    pub token_version_cache_entries: usize,
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            token_secret: String::new(),
            token_secret_file: String::new(),
            merchant_token_ttl_secs: 86_400,
            buyer_token_ttl_secs: 604_800,
            hash_concurrency: 0,
            hash_queue: 32,
            hash_wait_ms: 500,
            login_failures_allowed: 5,
            login_backoff_max_secs: 900,
            login_tracked_accounts: 10_000,
            token_version_cache_secs: 30,
            token_version_cache_entries: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Payments {
    /// Channels offered, in order of preference; a failing one is skipped (failover).
    pub channels: Vec<String>,
    pub fee_bps_wechat: u32,
    pub fee_bps_alipay: u32,
    /// A channel that failed to create a payment is skipped for this long.
    pub failover_cooldown_secs: u64,
    /// Timeout of each call to a channel.
    pub channel_timeout_ms: u64,
    /// How often the active query looks for payments whose notification never came.
    pub query_interval_ms: u64,
    /// A payment is queried once it is this old without news.
    pub query_after_ms: u64,
    /// How often owed refunds are (re)tried with the channel.
    pub refund_interval_ms: u64,
    pub withdrawal_daily_limit_fen: i64,
    pub withdrawal_minimum_fen: i64,
    /// Messages a settlement actor's mailbox holds.
    pub settlement_mailbox: usize,
    pub wechat: Wechat,
    pub alipay: Alipay,
}

impl Default for Payments {
    fn default() -> Self {
        Self {
            channels: vec!["wechat".into(), "alipay".into()],
            fee_bps_wechat: 20,
            fee_bps_alipay: 20,
            failover_cooldown_secs: 30,
            channel_timeout_ms: 5_000,
            query_interval_ms: 30_000,
            query_after_ms: 60_000,
            refund_interval_ms: 10_000,
            withdrawal_daily_limit_fen: 50_000_000,
            withdrawal_minimum_fen: 100,
            settlement_mailbox: 4_096,
            wechat: Wechat::default(),
            alipay: Alipay::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Wechat {
    /// API root, e.g. https://api.mch.weixin.qq.com; empty = the bundled sandbox on this server.
    pub base_url: String,
    pub appid: String,
    pub mchid: String,
    pub merchant_serial_no: String,
    /// PEM (PKCS#8) of the merchant API key. Empty with the bundled sandbox: generated once and
    /// kept in the database.
    pub merchant_private_key: String,
    pub merchant_private_key_file: String,
    /// WeChat Pay public key id and PEM (public-key verification mode).
    pub platform_serial: String,
    pub platform_public_key: String,
    pub platform_public_key_file: String,
    /// The 32-byte APIv3 key that encrypts notification resources.
    pub api_v3_key: String,
    pub api_v3_key_file: String,
}

impl Default for Wechat {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            appid: "wx2421b1c4370ec43b".into(),
            mchid: "1900000109".into(),
            merchant_serial_no: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into(),
            merchant_private_key: String::new(),
            merchant_private_key_file: String::new(),
            platform_serial: "PUB_KEY_ID_0119000001092025010100000000001".into(),
            platform_public_key: String::new(),
            platform_public_key_file: String::new(),
            api_v3_key: String::new(),
            api_v3_key_file: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Alipay {
    /// Gateway, e.g. https://openapi.alipay.com/gateway.do; empty = the bundled sandbox.
    pub gateway_url: String,
    pub app_id: String,
    /// PEM (PKCS#8) of the application's private key; empty with the bundled sandbox.
    pub app_private_key: String,
    pub app_private_key_file: String,
    /// PEM of Alipay's public key.
    pub alipay_public_key: String,
    pub alipay_public_key_file: String,
}

impl Default for Alipay {
    fn default() -> Self {
        Self {
            gateway_url: String::new(),
            app_id: "2021000000000001".into(),
            app_private_key: String::new(),
            app_private_key_file: String::new(),
            alipay_public_key: String::new(),
            alipay_public_key_file: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Sandbox {
    /// Serve the bundled WeChat Pay and Alipay sandboxes under /sandbox on this server.
    pub enabled: bool,
    /// Send payment notifications (off: only the active query finds payments).
    pub notify: bool,
    /// Multiplies the channels' notification retry schedules (1.0 = real time).
    pub retry_scale: f64,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self { enabled: true, notify: true, retry_scale: 1.0 }
    }
}

/// Text messages through Tencent Cloud SMS (API 3.0 `SendSms`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Sms {
    /// `SendSms` endpoint, e.g. https://sms.tencentcloudapi.com; empty = the bundled sandbox on
    /// this server, with keys generated on first start and kept in the database.
    pub provider_url: String,
    pub region: String,
    pub secret_id: String,
    pub secret_key: String,
    /// A file holding the SecretKey (read at start when `secret_key` is empty).
    pub secret_key_file: String,
    pub sdk_app_id: String,
    /// The approved signature, shown as 【sign_name】 in front of every message.
    pub sign_name: String,
    /// Template of the login code; parameters: the code, its validity in minutes.
    pub template_id_login: String,
    pub timeout_ms: u64,
    /// Messages the bundled sandbox keeps (oldest dropped first).
    pub sandbox_inbox_capacity: usize,
    /// The bundled sandbox's approved templates.
    pub sandbox_templates: Vec<SmsTemplate>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmsTemplate {
    pub id: String,
    pub text: String,
}

impl Default for Sms {
    fn default() -> Self {
        Self {
            provider_url: String::new(),
            region: "ap-guangzhou".into(),
            secret_id: String::new(),
            secret_key: String::new(),
            secret_key_file: String::new(),
            sdk_app_id: "1400000001".into(),
            sign_name: "直播秒杀".into(),
            template_id_login: "2000001".into(),
            timeout_ms: 5_000,
            sandbox_inbox_capacity: 10_000,
            sandbox_templates: vec![SmsTemplate {
                id: "2000001".into(),
                text: "您的验证码为{1}，{2}分钟内有效。如非本人操作，请忽略本短信。".into(),
            }],
        }
    }
}

/// WeChat subscription messages from the platform's mini program (`subscribeMessage.send`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WechatMp {
    /// `https://api.weixin.qq.com`; empty = the bundled sandbox of this server (demo mode), with
    /// an appid and secret generated on first start and kept in the database.
    pub api_url: String,
    /// The mini program's appid; with a real `api_url` and no appid, WeChat messages are
    /// skipped (buyers are told by SMS only).
    pub appid: String,
    pub secret: String,
    /// A file holding the secret (read at start when `secret` is empty).
    pub secret_file: String,
    /// `formal` for the released mini program; `developer` or `trial` for test builds.
    pub miniprogram_state: String,
    pub lang: String,
    /// An access token is replaced this long before it expires.
    pub refresh_before_secs: i64,
    pub timeout_ms: u64,
    /// The bundled sandbox's token lifetime and inbox size (oldest dropped first).
    pub sandbox_token_ttl_secs: i64,
    pub sandbox_inbox_capacity: usize,
}

impl Default for WechatMp {
    fn default() -> Self {
        Self {
            api_url: String::new(),
            appid: String::new(),
            secret: String::new(),
            secret_file: String::new(),
            miniprogram_state: "formal".into(),
            lang: "zh_CN".into(),
            refresh_before_secs: 300,
            timeout_ms: 5_000,
            sandbox_token_ttl_secs: 7_200,
            sandbox_inbox_capacity: 10_000,
        }
    }
}

/// The live-commerce platforms merchants bind their shops from: the Douyin shop (抖店) and the
/// Kuaishou shop (快手小店) open platforms.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Live {
    /// Platforms a merchant may bind (`douyin`, `kuaishou`); production needs each one's URLs
    /// and keys.
    pub platforms: Vec<String>,
    /// AES-256-GCM key the shops' tokens are encrypted under at rest: 64 hex characters.
    /// Empty in demo mode: generated once and kept in the database.
    pub token_key: String,
    pub token_key_file: String,
    /// How long an authorisation round trip (the `state`) may take.
    pub oauth_state_ttl_secs: u64,
    /// A grant is refreshed when its access token expires within this long.
    pub refresh_margin_secs: u64,
    /// How often the refresh sweep looks for grants to refresh.
    pub refresh_interval_secs: u64,
    /// Pushes whose event is older than this are refused as stale (longer than the
    /// platforms' retry schedules).
    pub push_max_age_secs: u64,
    /// How often the polling backstop asks each bound shop for its recent orders.
    pub poll_interval_secs: u64,
    /// Pages the polling backstop reads per shop and round, at most.
    pub poll_max_pages: u32,
    /// Units leased to a platform at once when a sale is bound or topped up.
    pub slice_units: u32,
    /// A platform's slice is topped up when fewer than this many units are left in it.
    pub top_up_below: u32,
    /// How often running sales are checked for an empty page of ours while a platform's
    /// slice holds units (half of that slice is then taken back).
    pub rebalance_interval_ms: u64,
    /// Timeout of one call to a platform.
    pub call_timeout_ms: u64,
    /// What each platform keeps of an order paid there (its service fee), in basis points,
    /// posted like a payment channel's fee.
    pub douyin_fee_bps: u32,
    pub kuaishou_fee_bps: u32,
    /// A lease whose platform stock call failed is tried again this many times, after
    /// `lease_retry_base_ms`, doubling; then the units stay leased and unsold (fewer sold, never
    /// more) until the next top-up.
    pub lease_retries: u32,
    pub lease_retry_base_ms: u64,
    /// Sending a shipped platform order's waybill to the platform: attempts at most, the first
    /// retry after `waybill_retry_base_secs`, doubling.
    pub waybill_max_attempts: u32,
    pub waybill_retry_base_secs: u64,
    pub douyin: Douyin,
    pub kuaishou: Kuaishou,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            platforms: vec!["douyin".into(), "kuaishou".into()],
            token_key: String::new(),
            token_key_file: String::new(),
            oauth_state_ttl_secs: 600,
            refresh_margin_secs: 86_400,
            refresh_interval_secs: 60,
            push_max_age_secs: 86_400,
            poll_interval_secs: 60,
            poll_max_pages: 10,
            slice_units: 100,
            top_up_below: 20,
            rebalance_interval_ms: 1_000,
            call_timeout_ms: 5_000,
            douyin_fee_bps: 500,
            kuaishou_fee_bps: 500,
            lease_retries: 3,
            lease_retry_base_ms: 500,
            waybill_max_attempts: 8,
            waybill_retry_base_secs: 30,
            douyin: Douyin::default(),
            kuaishou: Kuaishou::default(),
        }
    }
}

/// The Douyin shop open platform (op.jinritemai.com) app.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Douyin {
    /// API gateway, e.g. https://openapi-fxg.jinritemai.com; empty = the bundled sandbox on this
    /// server (demo mode only), with an app generated on first start and kept in the database.
    pub api_url: String,
    /// The service market's authorize page, e.g. https://fuwu.jinritemai.com/authorize.
    pub authorize_url: String,
    /// The app's service in the service market.
    pub service_id: String,
    pub app_key: String,
    pub app_secret: String,
    pub app_secret_file: String,
}

/// The Kuaishou shop open platform (open.kwaixiaodian.com) app.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Kuaishou {
    /// API base, e.g. https://openapi.kwaixiaodian.com; empty = the bundled sandbox on this
    /// server (demo mode only), with an app generated on first start and kept in the database.
    pub api_url: String,
    /// e.g. https://open.kwaixiaodian.com/oauth/authorize.
    pub authorize_url: String,
    pub app_key: String,
    pub app_secret: String,
    pub app_secret_file: String,
    pub sign_secret: String,
    pub sign_secret_file: String,
    /// Base64 key pushes are encrypted with.
    pub message_key: String,
    pub message_key_file: String,
    /// Permissions asked of the merchant.
    pub scopes: Vec<String>,
}

impl Default for Kuaishou {
    fn default() -> Self {
        Self {
            api_url: String::new(),
            authorize_url: String::new(),
            app_key: String::new(),
            app_secret: String::new(),
            app_secret_file: String::new(),
            sign_secret: String::new(),
            sign_secret_file: String::new(),
            message_key: String::new(),
            message_key_file: String::new(),
            scopes: vec!["merchant_item".into(), "merchant_order".into(), "merchant_logistics".into()],
        }
    }
}

/// One-time login codes for buyers. Every cap is off at `0`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BuyerCodes {
    pub code_ttl_secs: u64,
    /// Wrong tries a code takes; the next try finds it locked.
    pub max_wrong_attempts: u32,
    pub resend_after_secs: u64,
    /// Codes per phone in any 24 hours.
    pub phone_daily_limit: u64,
    /// Codes asked for from one network (an IPv4 address, an IPv6 /64) in any 24 hours.
    pub network_daily_limit: u64,
    /// New buyer sessions opened from one network in any hour.
    pub network_sessions_per_hour: u64,
}

impl BuyerCodes {
    /// The engine's login-code rules from these settings.
    pub fn rules(&self) -> engine::buyer_code::CodeRules {
        let millis = |secs: u64| i64::try_from(secs.saturating_mul(1_000)).unwrap_or(i64::MAX);
        engine::buyer_code::CodeRules {
            ttl_ms: millis(self.code_ttl_secs),
            max_wrong_attempts: self.max_wrong_attempts,
            resend_after_ms: millis(self.resend_after_secs),
            phone_daily_cap: self.phone_daily_limit,
            network_daily_cap: self.network_daily_limit,
            network_hourly_sessions: self.network_sessions_per_hour,
        }
    }
}

impl Default for BuyerCodes {
    fn default() -> Self {
        Self {
            code_ttl_secs: 300,
            max_wrong_attempts: 5,
            resend_after_secs: 60,
            phone_daily_limit: 10,
            network_daily_limit: 200,
            network_sessions_per_hour: 120,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AfterSales {
    /// Days after delivery in which a buyer may return a product without a reason, where the
    /// product allows it (七天无理由). Before shipping a buyer may ask any time.
    pub no_reason_days: u32,
}

impl Default for AfterSales {
    fn default() -> Self {
        Self { no_reason_days: 7 }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Operator {
    /// Demo mode: the admin account created when there is no operator yet.
    pub username: String,
    /// Demo mode: that admin's password; empty = generated and printed once.
    pub password: String,
    pub token_ttl_secs: u64,
}

impl Default for Operator {
    fn default() -> Self {
        Self { username: "operator".into(), password: String::new(), token_ttl_secs: 28_800 }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Demo {
    pub seed: bool,
}

impl Default for Demo {
    fn default() -> Self {
        Self { seed: true }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    pub level: String,
}

impl Default for Log {
    fn default() -> Self {
        Self { level: "info".into() }
    }
}

impl Settings {
    /// Reads `path` (or `config.toml` in the working directory, if it exists) and the
    /// `FLASHSALE__SECTION__KEY` environment variables.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        Self::load_with_env(path, None)
    }

    /// [`Settings::load`] with the environment given as a map instead of read from the
    /// process (for tests).
    pub fn load_with_env(
        path: Option<&Path>,
        env: Option<config::Map<String, String>>,
    ) -> anyhow::Result<Self> {
        let mut builder = config::Config::builder();
        builder = match path {
            Some(path) => builder.add_source(config::File::from(path).required(true)),
            None => builder.add_source(config::File::with_name("config.toml").required(false)),
        };
        builder = builder.add_source(
            config::Environment::with_prefix("FLASHSALE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(env),
        );
        let mut settings: Settings = builder
            .build()
            .context("reading configuration")?
            .try_deserialize()
            .context("invalid configuration")?;
        settings.secrets_in_file = crate::production::secrets_in_file(path)?;
        settings.secret_file_problems = crate::production::read_secret_files(&mut settings);
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> anyhow::Result<()> {
        let positive = [
            ("server.max_body_bytes", self.server.max_body_bytes),
            ("journal.capacity", self.journal.capacity),
            ("journal.batch_max", self.journal.batch_max),
            ("actors.arbiters", self.actors.arbiters),
            ("actors.mailbox_capacity", self.actors.mailbox_capacity),
            ("actors.expiry_batch", self.actors.expiry_batch),
            ("admission.max_in_flight", self.admission.max_in_flight),
        ];
        for (key, value) in positive {
            anyhow::ensure!(value > 0, "{key} must be greater than 0");
        }
        anyhow::ensure!(self.auth.hash_queue > 0, "auth.hash_queue must be greater than 0");
        anyhow::ensure!(
            self.auth.token_version_cache_entries > 0,
            "auth.token_version_cache_entries must be greater than 0"
        );
        anyhow::ensure!(
            self.auth.login_tracked_accounts > 0,
            "auth.login_tracked_accounts must be greater than 0"
        );
        anyhow::ensure!(self.actors.expiry_retry_ms > 0, "actors.expiry_retry_ms must be greater than 0");
        crate::proxies::TrustedProxies::parse(&self.server.trusted_proxies)?;
        self.trust.check().map_err(anyhow::Error::msg)?;
        anyhow::ensure!(self.journal.ack_timeout_ms > 0, "journal.ack_timeout_ms must be greater than 0");
        anyhow::ensure!(self.journal.log_max_bytes > 0, "journal.log_max_bytes must be greater than 0");
        let p = &self.payments;
        for channel in &p.channels {
            anyhow::ensure!(
                matches!(channel.as_str(), "wechat" | "alipay"),
                "payments.channels: unknown channel {channel:?} (wechat, alipay)"
            );
        }
        anyhow::ensure!(
            p.fee_bps_wechat <= 10_000 && p.fee_bps_alipay <= 10_000,
            "payments.fee_bps_* above 10,000"
        );
        for (key, value) in [
            ("payments.query_interval_ms", p.query_interval_ms),
            ("payments.refund_interval_ms", p.refund_interval_ms),
            ("payments.channel_timeout_ms", p.channel_timeout_ms),
            ("payments.settlement_mailbox", p.settlement_mailbox as u64),
        ] {
            anyhow::ensure!(value > 0, "{key} must be greater than 0");
        }
        anyhow::ensure!(
            self.sandbox.retry_scale.is_finite() && self.sandbox.retry_scale >= 0.0,
            "sandbox.retry_scale must be a number ≥ 0"
        );
        anyhow::ensure!(self.sms.timeout_ms > 0, "sms.timeout_ms must be greater than 0");
        let c = &self.couriers;
        anyhow::ensure!(
            c.timeout_ms > 0 && c.attempts > 0 && c.sandbox_capacity > 0,
            "couriers.timeout_ms, couriers.attempts and couriers.sandbox_capacity must be greater than 0"
        );
        let f = &self.fulfilment;
        anyhow::ensure!(
            f.sweep_interval_secs > 0 && f.sweep_batch > 0 && f.export_max_jobs > 0 && f.export_max_rows > 0,
            "fulfilment.sweep_interval_secs, sweep_batch, export_max_jobs and export_max_rows must be greater than 0"
        );
        anyhow::ensure!(
            self.sms.sandbox_inbox_capacity > 0,
            "sms.sandbox_inbox_capacity must be greater than 0"
        );
        let problems = self.notifications.problems();
        anyhow::ensure!(problems.is_empty(), "{}", problems.join("; "));
        let problems = self.catalogue.problems();
        anyhow::ensure!(problems.is_empty(), "{}", problems.join("; "));
        let mp = &self.wechat_mp;
        anyhow::ensure!(
            mp.timeout_ms > 0 && mp.sandbox_token_ttl_secs > 0 && mp.sandbox_inbox_capacity > 0,
            "wechat_mp.timeout_ms, sandbox_token_ttl_secs and sandbox_inbox_capacity must be greater than 0"
        );
        anyhow::ensure!(
            self.buyer_codes.code_ttl_secs > 0 && self.buyer_codes.max_wrong_attempts > 0,
            "buyer_codes.code_ttl_secs and buyer_codes.max_wrong_attempts must be greater than 0"
        );
        let l = &self.live;
        for platform in &l.platforms {
            anyhow::ensure!(
                providers::live::Platform::parse(platform).is_some(),
                "live.platforms: unknown platform {platform:?} (douyin, kuaishou)"
            );
        }
        for (key, value) in [
            ("live.oauth_state_ttl_secs", l.oauth_state_ttl_secs),
            ("live.refresh_interval_secs", l.refresh_interval_secs),
            ("live.push_max_age_secs", l.push_max_age_secs),
            ("live.poll_interval_secs", l.poll_interval_secs),
            ("live.poll_max_pages", u64::from(l.poll_max_pages)),
            ("live.slice_units", u64::from(l.slice_units)),
            ("live.rebalance_interval_ms", l.rebalance_interval_ms),
            ("live.call_timeout_ms", l.call_timeout_ms),
            ("live.waybill_max_attempts", u64::from(l.waybill_max_attempts)),
            ("live.waybill_retry_base_secs", l.waybill_retry_base_secs),
        ] {
            anyhow::ensure!(value > 0, "{key} must be greater than 0");
        }
        anyhow::ensure!(
            l.top_up_below <= l.slice_units,
            "live.top_up_below must not exceed live.slice_units"
        );
        anyhow::ensure!(
            l.douyin_fee_bps <= 10_000 && l.kuaishou_fee_bps <= 10_000,
            "live.*_fee_bps above 10,000"
        );
        persistence::Backend::of(&self.database.url)?;
        Ok(())
    }

    pub fn ack_timeout(&self) -> Duration {
        Duration::from_millis(self.journal.ack_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped config.toml documents the defaults: it must say exactly what the code does.
    #[test]
    fn shipped_config_is_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.toml");
        let from_file: Settings = config::Config::builder()
            .add_source(config::File::from(path.as_path()))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        assert_eq!(from_file, Settings::default());
    }

    #[test]
    fn environment_overrides_any_key() {
        let env = [
            ("FLASHSALE__ADMISSION__PER_IP_BURST", "12345"),
            ("FLASHSALE__SERVER__BIND", "127.0.0.1:0"),
            ("FLASHSALE__JOURNAL__DURABLE_ACK", "false"),
            ("OTHER__SERVER__BIND", "ignored"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let settings = Settings::load_with_env(None, Some(env)).unwrap();
        assert_eq!(settings.admission.per_ip_burst, 12_345);
        assert_eq!(settings.server.bind, "127.0.0.1:0");
        assert!(!settings.journal.durable_ack);
        assert_eq!(settings.admission.per_ip_per_sec, Admission::default().per_ip_per_sec);
    }

    #[test]
    fn nonsense_is_refused_at_start() {
        let env = [("FLASHSALE__JOURNAL__CAPACITY".to_owned(), "0".to_owned())].into_iter().collect();
        assert!(Settings::load_with_env(None, Some(env)).is_err());
        let env = [("FLASHSALE__SERVER__BINDD".to_owned(), "x".to_owned())].into_iter().collect();
        assert!(Settings::load_with_env(None, Some(env)).is_err(), "unknown keys are typos");
    }
}
