//! The bundled WeChat subscription-message sandbox: `GET /sandbox/wechat-mp/cgi-bin/token`
//! issues access tokens for its own appid and secret (expiring after `token_ttl_secs`; a new
//! one retires the previous after the 5-minute overlap), and
//! `POST /sandbox/wechat-mp/cgi-bin/message/subscribe/send?access_token=…` checks the token,
//! the template and its keywords, each value's rule, and whether the user refused, answering
//! with WeChat's errcodes (always HTTP 200). Delivered messages go to a bounded inbox,
//! `GET /sandbox/wechat-mp/messages?openid=…`, newest first.
//!
//! `POST /sandbox/wechat-mp/outage {"down": true}` makes every send answer `-1` (system
//! busy) until healed, for backoff drills; [`WechatMpSandbox::refuse`] makes a user refuse.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use actix_web::{HttpResponse, web};
use engine::Timestamp;
use engine::time::Clock;
use parking_lot::Mutex;
use providers::wechat_mp::protocol::{self, ErrorAnswer, SubscribeMessage, TokenAnswer};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// Messages one inbox read returns.
const READ_LIMIT: usize = 50;
/// Tokens remembered at once (the newest and the ones still in their overlap).
const KEPT_TOKENS: usize = 16;

/// Who the sandbox's mini program is, and what templates it has.
#[derive(Clone)]
pub struct WechatMpSandboxSettings {
    pub appid: String,
    pub secret: String,
    pub token_ttl_secs: i64,
    /// `(template id, its keywords)`, e.g. `("tpl-paid", ["character_string1", "amount2"])`.
    pub templates: Vec<(String, Vec<String>)>,
    pub inbox_capacity: usize,
}

/// A message as the user's service notifications show it.
#[derive(Debug, Clone, Serialize)]
pub struct MpMessage {
    pub openid: String,
    pub template_id: String,
    pub page: Option<String>,
    pub data: Vec<(String, String)>,
    pub miniprogram_state: String,
    pub sent_at: Timestamp,
}

struct Token {
    value: String,
    expires_at_ms: i64,
    /// A newer token was issued: after the overlap this one is "not latest" (40001) rather
    /// than expired (42001).
    retired: bool,
}

pub struct WechatMpSandbox {
    settings: WechatMpSandboxSettings,
    templates: HashMap<String, Vec<String>>,
    tokens: Mutex<VecDeque<Token>>,
    refused: Mutex<HashSet<String>>,
    inbox: Mutex<VecDeque<MpMessage>>,
    down: AtomicBool,
    tokens_issued: AtomicU64,
    clock: Arc<dyn Clock>,
}

/// A fresh appid and secret in WeChat's shapes (`wx` + 16 hex, 32 hex).
pub fn generate_credentials() -> (String, String) {
    let mut rng = rand::rng();
    let mut hex =
        |n: usize| -> String { (0..n).map(|_| format!("{:x}", rng.random_range(0..16u8))).collect() };
    (format!("wx{}", hex(16)), hex(32))
}

impl WechatMpSandbox {
    pub fn new(settings: WechatMpSandboxSettings, clock: Arc<dyn Clock>) -> Self {
        assert!(settings.inbox_capacity > 0 && settings.token_ttl_secs > 0);
        Self {
            templates: settings.templates.iter().cloned().collect(),
            tokens: Mutex::new(VecDeque::with_capacity(KEPT_TOKENS)),
            refused: Mutex::new(HashSet::new()),
            inbox: Mutex::new(VecDeque::with_capacity(settings.inbox_capacity.min(4_096))),
            down: AtomicBool::new(false),
            tokens_issued: AtomicU64::new(0),
            clock,
            settings,
        }
    }

    pub fn appid(&self) -> &str {
        &self.settings.appid
    }

    /// Every later send answers `-1` (or works again).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::Relaxed);
    }

    /// The user turned the subscription off: sends to them answer 43101.
    pub fn refuse(&self, openid: &str) {
        self.refused.lock().insert(openid.to_owned());
    }

    /// Tokens issued since the start.
    pub fn tokens_issued(&self) -> u64 {
        self.tokens_issued.load(Ordering::Relaxed)
    }

    /// Messages to `openid` (all when `None`), newest first.
    pub fn messages(&self, openid: Option<&str>, limit: usize) -> Vec<MpMessage> {
        let inbox = self.inbox.lock();
        inbox.iter().rev().filter(|m| openid.is_none_or(|o| m.openid == o)).take(limit).cloned().collect()
    }

    /// `GET /cgi-bin/token`.
    pub fn issue_token(
        &self,
        grant_type: &str,
        appid: &str,
        secret: &str,
    ) -> Result<TokenAnswer, ErrorAnswer> {
        if grant_type != "client_credential" {
            return Err(ErrorAnswer::new(protocol::INVALID_GRANT_TYPE, "invalid grant_type"));
        }
        if appid != self.settings.appid {
            return Err(ErrorAnswer::new(protocol::INVALID_APPID, "invalid appid"));
        }
        if secret != self.settings.secret {
            return Err(ErrorAnswer::new(protocol::INVALID_APPSECRET, "invalid appsecret"));
        }
        let now_ms = self.clock.now().as_millis();
        let value: String = {
            let mut rng = rand::rng();
            const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
            (0..136).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
        };
        let mut tokens = self.tokens.lock();
        // The previous tokens keep working for the overlap only.
        let overlap_end = now_ms + protocol::TOKEN_OVERLAP_SECS * 1_000;
        for older in tokens.iter_mut().filter(|t| !t.retired) {
            older.expires_at_ms = older.expires_at_ms.min(overlap_end);
            older.retired = true;
        }
        if tokens.len() == KEPT_TOKENS {
            tokens.pop_front();
        }
        let ttl = self.settings.token_ttl_secs;
        tokens.push_back(Token { value: value.clone(), expires_at_ms: now_ms + ttl * 1_000, retired: false });
        self.tokens_issued.fetch_add(1, Ordering::Relaxed);
        Ok(TokenAnswer { access_token: value, expires_in: ttl })
    }

    fn check_token(&self, token: Option<&str>) -> Result<(), ErrorAnswer> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(ErrorAnswer::new(protocol::ACCESS_TOKEN_MISSING, "access_token missing"));
        };
        let now_ms = self.clock.now().as_millis();
        let tokens = self.tokens.lock();
        match tokens.iter().find(|t| t.value == token) {
            Some(t) if t.expires_at_ms > now_ms => Ok(()),
            Some(t) if !t.retired => {
                Err(ErrorAnswer::new(protocol::ACCESS_TOKEN_EXPIRED, "access_token expired"))
            }
            _ => Err(ErrorAnswer::new(
                protocol::INVALID_CREDENTIAL,
                "invalid credential, access_token is invalid or not latest",
            )),
        }
    }

    /// `POST /cgi-bin/message/subscribe/send`.
    pub fn send(&self, token: Option<&str>, body: &[u8]) -> ErrorAnswer {
        match self.try_send(token, body) {
            Ok(()) => ErrorAnswer::new(protocol::OK, "ok"),
            Err(error) => error,
        }
    }

    fn try_send(&self, token: Option<&str>, body: &[u8]) -> Result<(), ErrorAnswer> {
        self.check_token(token)?;
        if self.down.load(Ordering::Relaxed) {
            return Err(ErrorAnswer::new(protocol::SYSTEM_BUSY, "system error"));
        }
        let message: SubscribeMessage = serde_json::from_slice(body)
            .map_err(|e| ErrorAnswer::new(protocol::ARGUMENT_INVALID, format!("argument invalid! {e}")))?;
        if message.touser.is_empty() || message.touser.len() > 64 {
            return Err(ErrorAnswer::new(protocol::INVALID_OPENID, "invalid openid"));
        }
        let keys = self
            .templates
            .get(&message.template_id)
            .ok_or_else(|| ErrorAnswer::new(protocol::INVALID_TEMPLATE_ID, "invalid template_id"))?;
        for key in keys {
            let value = message.data.get(key).map(|v| v.value.as_str()).unwrap_or_default();
            protocol::check_value(key, value).map_err(|e| ErrorAnswer::new(protocol::ARGUMENT_INVALID, e))?;
        }
        if let Some(extra) = message.data.keys().find(|k| !keys.contains(k)) {
            return Err(ErrorAnswer::new(
                protocol::ARGUMENT_INVALID,
                format!("argument invalid! data.{extra} unknown"),
            ));
        }
        let state = message.miniprogram_state.clone().unwrap_or_else(|| "formal".into());
        if !protocol::MINIPROGRAM_STATES.contains(&state.as_str()) {
            return Err(ErrorAnswer::new(protocol::ARGUMENT_INVALID, "argument invalid! miniprogram_state"));
        }
        if message.lang.as_deref().is_some_and(|l| !protocol::LANGS.contains(&l)) {
            return Err(ErrorAnswer::new(protocol::ARGUMENT_INVALID, "argument invalid! lang"));
        }
        if self.refused.lock().contains(&message.touser) {
            return Err(ErrorAnswer::new(protocol::USER_REFUSED, "user refuse to accept the msg"));
        }
        let delivered = MpMessage {
            openid: message.touser,
            template_id: message.template_id,
            page: message.page,
            data: message.data.into_iter().map(|(k, v)| (k, v.value)).collect(),
            miniprogram_state: state,
            sent_at: self.clock.now(),
        };
        let mut inbox = self.inbox.lock();
        if inbox.len() == self.settings.inbox_capacity {
            inbox.pop_front();
        }
        inbox.push_back(delivered);
        Ok(())
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    appid: String,
    #[serde(default)]
    secret: String,
}

async fn token(sandbox: Option<web::Data<WechatMpSandbox>>, query: web::Query<TokenQuery>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    match sandbox.issue_token(&query.grant_type, &query.appid, &query.secret) {
        Ok(answer) => HttpResponse::Ok().json(answer),
        Err(error) => HttpResponse::Ok().json(error),
    }
}

#[derive(Deserialize)]
struct SendQuery {
    access_token: Option<String>,
}

async fn send(
    sandbox: Option<web::Data<WechatMpSandbox>>,
    query: web::Query<SendQuery>,
    body: web::Bytes,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    HttpResponse::Ok().json(sandbox.send(query.access_token.as_deref(), &body))
}

#[derive(Deserialize)]
struct InboxQuery {
    openid: Option<String>,
}

async fn messages(
    sandbox: Option<web::Data<WechatMpSandbox>>,
    query: web::Query<InboxQuery>,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    HttpResponse::Ok()
        .json(serde_json::json!({ "messages": sandbox.messages(query.openid.as_deref(), READ_LIMIT) }))
}

#[derive(Deserialize)]
struct OutageBody {
    down: bool,
}

async fn outage(sandbox: Option<web::Data<WechatMpSandbox>>, body: web::Json<OutageBody>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    sandbox.set_down(body.down);
    HttpResponse::Ok().json(serde_json::json!({ "down": body.down }))
}

fn off() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({
        "error": {"code": "not_found", "message": "the wechat subscription message sandbox is not served here"}
    }))
}

/// Mounts the sandbox; call inside `web::scope("/sandbox")` with `web::Data<WechatMpSandbox>`
/// (without it the routes answer 404), before the payment sandboxes' `/{channel}/…` routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/wechat-mp/cgi-bin/token", web::get().to(token))
        .route("/wechat-mp/cgi-bin/message/subscribe/send", web::post().to(send))
        .route("/wechat-mp/messages", web::get().to(messages))
        .route("/wechat-mp/outage", web::post().to(outage));
}

/// Serves this sandbox alone on `listener`.
pub fn serve(
    listener: std::net::TcpListener,
    sandbox: Arc<WechatMpSandbox>,
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

#[cfg(test)]
mod tests;
