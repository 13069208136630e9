//! The bundled payment sandboxes: WeChat Pay API v3 and Alipay, speaking the real protocols
//! with their own keys, keeping their own trades, and sending signed (for WeChat, encrypted)
//! notifications on the channels' real retry schedules, compressible by `retry_scale`.
//!
//! Mounted under `/sandbox` of the platform by default (`sandbox.enabled`), or served on its
//! own by [`serve`] (the crash test runs it in the test process, so it outlives the platform).
//! `POST /sandbox/{channel}/pay {"out_trade_no": …}` acts as the buyer paying;
//! `POST /sandbox/{channel}/outage {"down": true}` makes a channel fail (failover drills).
//!
//! [`sms`] is Tencent Cloud SMS (`POST /sandbox/sms`, its inbox at `/sandbox/sms/messages`),
//! mounted by the same [`configure`] with its own `web::Data<sms::SmsSandbox>`. [`live`] holds
//! the Douyin shop and Kuaishou shop open platforms (`/sandbox/douyin/…`, `/sandbox/kuaishou/…`),
//! mounted by the same [`configure`] with `web::Data<live::douyin::DouyinSandbox>` and
//! `web::Data<live::kuaishou::KuaishouSandbox>`, or served alone by [`live::serve`]; [`courier`]
//! is KDNiao's e-waybill and tracking API (`/sandbox/courier/…`), with its own
//! `web::Data<courier::CourierSandbox>`; [`wechat_mp`]
//! is WeChat subscription messages (`/sandbox/wechat-mp/cgi-bin/…`, its inbox at
//! `/sandbox/wechat-mp/messages`) with `web::Data<wechat_mp::WechatMpSandbox>`; so is
//! [`verification`] (Tencent Cloud FaceID and OCR enterprise checks, `/sandbox/verification/…`)
//! with its `web::Data<verification::VerificationSandbox>`.
//!
//! Demo mode only. The sandboxes use the same protocol code as the clients (`providers`), so
//! the demo and the tests run the real signing and verification end to end; they know nothing
//! of the platform's actors or database (the platform generates their keys, keeps them and
//! passes them in). The live-platform sandboxes go here too, one module per provider.

mod alipay;
mod cashier;
pub mod courier;
pub mod live;
pub mod sms;
pub mod verification;
mod wechat;
pub mod wechat_mp;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{HttpResponse, web};
use engine::ledger::Channel;
use engine::time::Clock;
use engine::{Fen, Timestamp};
use parking_lot::Mutex;
use providers::crypto::ChannelKeys;
use providers::payments::alipay::protocol::{self as alipay_protocol, alipay_time};
use serde::Deserialize;
use serde_json::json;

/// WeChat Pay's notification retry schedule: 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h.
pub const WECHAT_RETRY_SECS: [u64; 15] =
    [15, 15, 30, 180, 600, 1_200, 1_800, 1_800, 1_800, 3_600, 10_800, 10_800, 10_800, 21_600, 21_600];
/// Alipay's: 4m, 10m, 10m, 1h, 2h, 6h, 15h.
pub const ALIPAY_RETRY_SECS: [u64; 7] = [240, 600, 600, 3_600, 7_200, 21_600, 54_000];

/// Who the sandboxes think the platform is.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    pub wechat_mchid: String,
    pub wechat_appid: String,
    pub wechat_merchant_serial: String,
    pub wechat_platform_serial: String,
    pub alipay_app_id: String,
    /// Where the sandbox itself is reachable (download URLs, cashier links).
    pub public_url: String,
    pub notify: bool,
    pub retry_scale: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeState {
    NotPay,
    Success,
    Closed,
}

/// Where a refund is. WeChat Pay accepts a refund as `PROCESSING` and settles it later; the
/// sandbox settles it the next time anyone looks (a query, or the same refund asked again), so
/// that a client must come back for the result, as it must with the real service. Alipay
/// refunds at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    Processing,
    Success,
}

#[derive(Debug, Clone)]
pub struct SandboxRefund {
    pub out_refund_no: String,
    pub refund_id: String,
    pub amount: Fen,
    /// When it was asked for; the money leaves the merchant then.
    pub at: Timestamp,
    pub status: RefundStatus,
    pub succeeded_at: Option<Timestamp>,
}

/// A trade as the channel keeps it.
#[derive(Debug, Clone)]
pub struct Trade {
    pub channel: Channel,
    pub out_trade_no: String,
    pub amount: Fen,
    pub description: String,
    pub notify_url: String,
    /// How it was created: WeChat `NATIVE`, `JSAPI`, `MWEB` (H5); Alipay's method.
    pub trade_type: String,
    pub state: TradeState,
    pub transaction_id: String,
    pub paid_at: Option<Timestamp>,
    pub refunds: Vec<SandboxRefund>,
    /// Notifications that reached an acknowledging platform.
    pub acknowledged: bool,
    pub attempts: u32,
}

impl Trade {
    pub fn refunded(&self) -> Fen {
        Fen(self.refunds.iter().map(|r| r.amount.as_i64()).sum())
    }
}

/// The wall clock: a channel keeps its own time, whatever the platform's clock says.
struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp::from_millis(since_epoch.as_millis() as i64)
    }
}

/// Both sandboxes' state.
pub struct Sandbox {
    pub keys: Arc<ChannelKeys>,
    pub settings: SandboxSettings,
    trades: Mutex<BTreeMap<(Channel, String), Trade>>,
    wechat_down: AtomicBool,
    alipay_down: AtomicBool,
    counter: AtomicU64,
    /// Bill files handed out by download token, newest last, at most [`KEPT_BILLS`].
    bills: Mutex<std::collections::VecDeque<(String, Vec<u8>)>>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

/// How many bill files the sandbox keeps for download; older tokens expire, as the real
/// download URLs do.
const KEPT_BILLS: usize = 64;

/// A notification ready to post: headers and body.
#[derive(Debug, Clone)]
pub struct Notification {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub content_type: &'static str,
    pub body: String,
}

impl Sandbox {
    pub fn new(keys: Arc<ChannelKeys>, settings: SandboxSettings) -> Self {
        Self {
            keys,
            settings,
            trades: Mutex::new(BTreeMap::new()),
            wechat_down: AtomicBool::new(false),
            alipay_down: AtomicBool::new(false),
            counter: AtomicU64::new(1),
            bills: Mutex::new(std::collections::VecDeque::with_capacity(KEPT_BILLS)),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client without TLS builds"),
            clock: Arc::new(WallClock),
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn down_flag(&self, channel: Channel) -> &AtomicBool {
        match channel {
            Channel::Wechat => &self.wechat_down,
            // The live platforms are sandboxes of their own (`live`); never asked here.
            Channel::Alipay | Channel::Douyin | Channel::Kuaishou => &self.alipay_down,
        }
    }

    /// Makes a channel answer every API call with an error (or heals it).
    pub fn set_down(&self, channel: Channel, down: bool) {
        self.down_flag(channel).store(down, Ordering::Relaxed);
    }

    pub fn is_down(&self, channel: Channel) -> bool {
        self.down_flag(channel).load(Ordering::Relaxed)
    }

    /// A channel-style number: date, channel prefix, sequence.
    fn mint(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let day = alipay_time(self.now()).get(..10).unwrap_or("19700101").replace('-', "");
        format!("{prefix}{day}{n:010}")
    }

    pub fn trade(&self, channel: Channel, out_trade_no: &str) -> Option<Trade> {
        self.trades.lock().get(&(channel, out_trade_no.to_owned())).cloned()
    }

    pub fn trades(&self) -> Vec<Trade> {
        self.trades.lock().values().cloned().collect()
    }

    /// Creates a trade, or finds the same one again (a repeated create is not a second trade).
    fn open_trade(
        &self,
        channel: Channel,
        out_trade_no: &str,
        amount: Fen,
        description: &str,
        notify_url: &str,
        trade_type: &str,
    ) -> Result<Trade, &'static str> {
        let mut trades = self.trades.lock();
        let key = (channel, out_trade_no.to_owned());
        if let Some(existing) = trades.get(&key) {
            if existing.amount != amount {
                return Err("the same out_trade_no with another amount");
            }
            return Ok(existing.clone());
        }
        let trade = Trade {
            channel,
            out_trade_no: out_trade_no.to_owned(),
            amount,
            description: description.to_owned(),
            notify_url: notify_url.to_owned(),
            trade_type: trade_type.to_owned(),
            state: TradeState::NotPay,
            transaction_id: String::new(),
            paid_at: None,
            refunds: Vec::new(),
            acknowledged: false,
            attempts: 0,
        };
        trades.insert(key, trade.clone());
        Ok(trade)
    }

    /// The buyer pays: the trade succeeds and, with `notify`, the notifications start.
    pub fn pay(self: &Arc<Self>, channel: Channel, out_trade_no: &str) -> Result<Trade, &'static str> {
        let trade = {
            let mut trades = self.trades.lock();
            let trade = trades.get_mut(&(channel, out_trade_no.to_owned())).ok_or("no such trade")?;
            match trade.state {
                TradeState::Success => return Ok(trade.clone()),
                TradeState::Closed => return Err("the trade is closed"),
                TradeState::NotPay => {}
            }
            trade.state = TradeState::Success;
            trade.transaction_id = self.mint(if channel == Channel::Wechat { "4200002" } else { "2026" });
            trade.paid_at = Some(self.now());
            trade.clone()
        };
        if self.settings.notify {
            let sandbox = self.clone();
            let out_trade_no = out_trade_no.to_owned();
            tokio::spawn(async move { sandbox.deliver(channel, out_trade_no).await });
        }
        Ok(trade)
    }

    fn close(&self, channel: Channel, out_trade_no: &str) -> Result<(), &'static str> {
        let mut trades = self.trades.lock();
        let trade = trades.get_mut(&(channel, out_trade_no.to_owned())).ok_or("no such trade")?;
        match trade.state {
            TradeState::Success => Err("the trade is paid"),
            _ => {
                trade.state = TradeState::Closed;
                Ok(())
            }
        }
    }

    /// Refunds part or all of a paid trade; the same `out_refund_no` again is the same refund
    /// (looked at again: a processing one is settled now).
    fn refund(
        &self,
        channel: Channel,
        out_trade_no: &str,
        out_refund_no: &str,
        amount: Fen,
    ) -> Result<(Trade, SandboxRefund), &'static str> {
        let now = self.now();
        let mut trades = self.trades.lock();
        let trade = trades.get_mut(&(channel, out_trade_no.to_owned())).ok_or("no such trade")?;
        if let Some(existing) = trade.refunds.iter_mut().find(|r| r.out_refund_no == out_refund_no) {
            settle(existing, now);
            let existing = existing.clone();
            return Ok((trade.clone(), existing));
        }
        if trade.state != TradeState::Success {
            return Err("the trade is not paid");
        }
        if amount.as_i64() <= 0 || trade.refunded().as_i64() + amount.as_i64() > trade.amount.as_i64() {
            return Err("refund exceeds what is left of the payment");
        }
        let refund = SandboxRefund {
            out_refund_no: out_refund_no.to_owned(),
            refund_id: self.mint(if channel == Channel::Wechat { "5030000" } else { "R" }),
            amount,
            at: now,
            status: if channel == Channel::Wechat { RefundStatus::Processing } else { RefundStatus::Success },
            succeeded_at: (channel == Channel::Alipay).then_some(now),
        };
        trade.refunds.push(refund.clone());
        Ok((trade.clone(), refund))
    }

    /// A refund by its `out_refund_no`, looked at (a processing one is settled now).
    fn refund_by_no(&self, channel: Channel, out_refund_no: &str) -> Option<(Trade, SandboxRefund)> {
        let now = self.now();
        let mut trades = self.trades.lock();
        trades.values_mut().filter(|t| t.channel == channel).find_map(|trade| {
            let refund = trade.refunds.iter_mut().find(|r| r.out_refund_no == out_refund_no)?;
            settle(refund, now);
            let refund = refund.clone();
            Some((trade.clone(), refund))
        })
    }

    /// Keeps a bill file for download under a fresh token.
    fn keep_bill(&self, file: Vec<u8>) -> String {
        let token = self.mint("BILL");
        let mut bills = self.bills.lock();
        if bills.len() == KEPT_BILLS {
            bills.pop_front();
        }
        bills.push_back((token.clone(), file));
        token
    }

    fn bill_file(&self, token: &str) -> Option<Vec<u8>> {
        self.bills.lock().iter().find(|(kept, _)| kept == token).map(|(_, file)| file.clone())
    }

    /// The notification of a paid trade as it would be sent now.
    pub fn notification(&self, channel: Channel, out_trade_no: &str) -> Option<Notification> {
        let trade = self.trade(channel, out_trade_no).filter(|t| t.state == TradeState::Success)?;
        Some(match channel {
            Channel::Wechat => self.wechat_notification(&trade, trade.amount, self.now().as_millis() / 1_000),
            Channel::Alipay => self.alipay_notification(&trade, trade.amount),
            Channel::Douyin | Channel::Kuaishou => return None,
        })
    }

    /// Posts a trade's notification until the platform acknowledges it, on the channel's
    /// retry schedule (scaled).
    async fn deliver(self: Arc<Self>, channel: Channel, out_trade_no: String) {
        let schedule: &[u64] = match channel {
            Channel::Wechat => &WECHAT_RETRY_SECS,
            Channel::Alipay => &ALIPAY_RETRY_SECS,
            Channel::Douyin | Channel::Kuaishou => return,
        };
        let delays = std::iter::once(0).chain(schedule.iter().copied());
        for delay in delays {
            let wait = Duration::from_secs_f64(delay as f64 * self.settings.retry_scale);
            tokio::time::sleep(wait).await;
            // Built afresh each time: a new timestamp and signature per attempt.
            let Some(notification) = self.notification(channel, &out_trade_no) else { return };
            let acknowledged = self.post(channel, &notification).await;
            let mut trades = self.trades.lock();
            if let Some(trade) = trades.get_mut(&(channel, out_trade_no.clone())) {
                trade.attempts += 1;
                trade.acknowledged |= acknowledged;
            }
            if acknowledged {
                return;
            }
        }
        tracing::warn!(channel = channel.as_str(), %out_trade_no, "sandbox gave up notifying; the active query must find it");
    }

    /// Sends one notification; whether the platform acknowledged it the channel's way.
    pub async fn post(&self, channel: Channel, notification: &Notification) -> bool {
        let mut request = self
            .http
            .post(&notification.url)
            .header("Content-Type", notification.content_type)
            .body(notification.body.clone());
        for (name, value) in &notification.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let Ok(response) = request.send().await else { return false };
        let ok = response.status().is_success();
        let text = response.text().await.unwrap_or_default();
        match channel {
            // WeChat: HTTP 200 or 204 is success.
            Channel::Wechat => ok,
            // Alipay: the body must be exactly `success`.
            Channel::Alipay => ok && text.trim() == alipay_protocol::ACK,
            Channel::Douyin | Channel::Kuaishou => false,
        }
    }

    /// A channel's statement for one Beijing calendar day: `(trade, kind, amount, at)`.
    fn statement(
        &self,
        channel: Channel,
        bill_date: &str,
    ) -> Vec<(Trade, &'static str, Fen, Timestamp, String)> {
        let on_day = |at: Timestamp| alipay_time(at).starts_with(bill_date);
        let mut lines = Vec::new();
        for trade in self.trades.lock().values().filter(|t| t.channel == channel) {
            if let Some(paid_at) = trade.paid_at.filter(|at| on_day(*at)) {
                lines.push((trade.clone(), "PAY", trade.amount, paid_at, String::new()));
            }
            for refund in trade.refunds.iter().filter(|r| on_day(r.at)) {
                lines.push((trade.clone(), "REFUND", refund.amount, refund.at, refund.refund_id.clone()));
            }
        }
        lines.sort_by_key(|l| l.3);
        lines
    }
}

#[derive(Deserialize)]
struct PayBody {
    out_trade_no: String,
}

#[derive(Deserialize)]
struct OutageBody {
    down: bool,
}

fn no_such_sandbox() -> HttpResponse {
    HttpResponse::NotFound().json(json!({"error": {"code": "not_found", "message": "no such sandbox"}}))
}

/// `POST /sandbox/{channel}/pay`: the buyer pays.
async fn pay(
    sandbox: web::Data<Sandbox>,
    channel: web::Path<String>,
    body: web::Json<PayBody>,
) -> HttpResponse {
    let Some(channel) = Channel::parse(&channel).filter(|c| matches!(c, Channel::Wechat | Channel::Alipay))
    else {
        return no_such_sandbox();
    };
    let sandbox = sandbox.into_inner();
    match sandbox.pay(channel, &body.out_trade_no) {
        Ok(trade) => HttpResponse::Ok().json(json!({
            "channel": channel.as_str(),
            "out_trade_no": trade.out_trade_no,
            "transaction_id": trade.transaction_id,
            "amount_fen": trade.amount,
            "state": "SUCCESS",
        })),
        Err(message) => {
            HttpResponse::Conflict().json(json!({"error": {"code": "not_payable", "message": message}}))
        }
    }
}

/// `POST /sandbox/{channel}/outage`: the channel fails every call until healed.
async fn outage(
    sandbox: web::Data<Sandbox>,
    channel: web::Path<String>,
    body: web::Json<OutageBody>,
) -> HttpResponse {
    let Some(channel) = Channel::parse(&channel).filter(|c| matches!(c, Channel::Wechat | Channel::Alipay))
    else {
        return no_such_sandbox();
    };
    sandbox.set_down(channel, body.down);
    HttpResponse::Ok().json(json!({"channel": channel.as_str(), "down": body.down}))
}

/// `GET /sandbox/{channel}/trades/{out_trade_no}`: the channel's own record.
async fn show_trade(sandbox: web::Data<Sandbox>, path: web::Path<(String, String)>) -> HttpResponse {
    let (channel, out_trade_no) = path.into_inner();
    let Some(channel) = Channel::parse(&channel).filter(|c| matches!(c, Channel::Wechat | Channel::Alipay))
    else {
        return no_such_sandbox();
    };
    match sandbox.trade(channel, &out_trade_no) {
        Some(t) => HttpResponse::Ok().json(json!({
            "out_trade_no": t.out_trade_no,
            "amount_fen": t.amount,
            "state": match t.state { TradeState::NotPay => "NOTPAY", TradeState::Success => "SUCCESS", TradeState::Closed => "CLOSED" },
            "transaction_id": t.transaction_id,
            "refunded_fen": t.refunded(),
            "notifications_acknowledged": t.acknowledged,
            "notification_attempts": t.attempts,
        })),
        None => HttpResponse::NotFound().json(json!({"error": {"code": "not_found", "message": "no such trade"}})),
    }
}

/// Mounts every sandbox; call inside `web::scope("/sandbox")` with `web::Data<Sandbox>` and,
/// for the SMS routes, `web::Data<sms::SmsSandbox>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // The live platforms' and WeChat messages' routes first: `/{channel}/pay` and the like
    // must not shadow them.
    cfg.configure(live::configure)
        .configure(wechat_mp::configure)
        .configure(wechat::configure)
        .configure(alipay::configure)
        .configure(sms::configure)
        .configure(courier::configure)
        .configure(verification::configure)
        .route("/{channel}/pay", web::post().to(pay))
        .route("/{channel}/outage", web::post().to(outage))
        .route("/{channel}/trades/{out_trade_no}", web::get().to(show_trade));
}

/// Serves the sandboxes alone on `listener` (a channel hosted apart from the platform).
pub fn serve(
    listener: std::net::TcpListener,
    sandbox: Arc<Sandbox>,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::from(sandbox);
    Ok(actix_web::HttpServer::new(move || {
        actix_web::App::new().app_data(data.clone()).service(web::scope("/sandbox").configure(configure))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}

fn settle(refund: &mut SandboxRefund, now: Timestamp) {
    if refund.status == RefundStatus::Processing {
        refund.status = RefundStatus::Success;
        refund.succeeded_at = Some(now);
    }
}
