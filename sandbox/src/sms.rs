//! The bundled SMS sandbox: Tencent Cloud SMS `SendSms` and `PullSmsSendStatusByPhoneNumber`
//! (API 3.0, 2021-01-11; every message it takes is delivered at once, so its receipt is there
//! at once) with its own SecretId/SecretKey. It verifies the TC3-HMAC-SHA256 signature and the ±5 minute timestamp
//! window, refuses with Tencent's error codes (HTTP 200 with `Response.Error`, as API 3.0
//! does), renders the approved template into the text a phone would show, and keeps the
//! messages in a bounded in-memory inbox: `GET /sandbox/sms/messages?phone=…`, newest first.
//!
//! `POST /sandbox/sms` is the API endpoint. The canonical URI of API 3.0 is always `/`, so the
//! path it is mounted under does not enter the signature; the `Host` header does, as received.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{HttpRequest, HttpResponse, web};
use engine::Timestamp;
use engine::time::Clock;
use parking_lot::Mutex;
use providers::sms::tencent::protocol::{
    self, Answer, ApiError, PullSendStatus, PullStatusByPhoneRequest, PullStatusResponse, Received,
    SendSmsRequest, SendSmsResponse, SendStatus,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// Regions that serve `SendSms` 2021-01-11.
const REGIONS: [&str; 3] = ["ap-guangzhou", "ap-beijing", "ap-nanjing"];
/// Numbers one `SendSms` takes.
const MAX_NUMBERS: usize = 200;
/// Messages one inbox read returns.
const READ_LIMIT: usize = 50;

/// Who the sandbox is and what it has approved.
#[derive(Clone)]
pub struct SmsSandboxSettings {
    pub secret_id: String,
    pub secret_key: String,
    pub sdk_app_id: String,
    pub sign_name: String,
    /// `(template id, text with {1}, {2}…)`.
    pub templates: Vec<(String, String)>,
    pub inbox_capacity: usize,
}

/// A message as the phone shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SmsMessage {
    /// E.164, `+8613800000000`.
    pub phone: String,
    pub text: String,
    pub template_id: String,
    pub serial_no: String,
    /// The sender's `SessionContext` (the outbox's dedupe key), empty when none was sent.
    pub session_context: String,
    pub sent_at: Timestamp,
}

pub struct SmsSandbox {
    settings: SmsSandboxSettings,
    templates: HashMap<String, String>,
    inbox: Mutex<VecDeque<SmsMessage>>,
    counter: AtomicU64,
    clock: Arc<dyn Clock>,
}

/// A fresh SecretId/SecretKey pair in Tencent's shapes (36 and 32 characters).
pub fn generate_keys() -> (String, String) {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let mut draw = |n: usize| -> String {
        (0..n).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
    };
    (format!("AKID{}", draw(32)), draw(32))
}

/// `{1}`, `{2}`… replaced by the parameters; `None` unless their number is the template's.
fn render(template: &str, params: &[String]) -> Option<String> {
    let placeholders = (1..=params.len() + 1).take_while(|i| template.contains(&format!("{{{i}}}"))).count();
    if placeholders != params.len() {
        return None;
    }
    let mut text = template.to_owned();
    for (i, value) in params.iter().enumerate() {
        text = text.replace(&format!("{{{}}}", i + 1), value);
    }
    Some(text)
}

/// A mainland mobile number, `+86` optional as Tencent allows for the mainland.
fn mainland_number(raw: &str) -> Option<String> {
    let national = raw.strip_prefix("+86").unwrap_or(raw);
    engine::Phone::parse(national).ok().filter(|p| p.as_str() == national).map(|p| format!("+86{p}"))
}

impl SmsSandbox {
    pub fn new(settings: SmsSandboxSettings, clock: Arc<dyn Clock>) -> Self {
        assert!(settings.inbox_capacity > 0, "the inbox holds at least one message");
        Self {
            templates: settings.templates.iter().cloned().collect(),
            inbox: Mutex::new(VecDeque::with_capacity(settings.inbox_capacity.min(4_096))),
            counter: AtomicU64::new(1),
            clock,
            settings,
        }
    }

    pub fn secret_id(&self) -> &str {
        &self.settings.secret_id
    }

    /// Messages to `phone` (11 digits or E.164; every phone when `None`), newest first.
    pub fn messages(&self, phone: Option<&str>, limit: usize) -> Vec<SmsMessage> {
        let wanted = phone.map(|p| if p.starts_with('+') { p.to_owned() } else { format!("+86{p}") });
        let inbox = self.inbox.lock();
        inbox
            .iter()
            .rev()
            .filter(|m| wanted.as_ref().is_none_or(|w| &m.phone == w))
            .take(limit)
            .cloned()
            .collect()
    }

    fn request_id(&self) -> String {
        let n: u128 = rand::rng().random();
        let hex = format!("{n:032x}");
        format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
    }

    /// One API call, as API 3.0 answers it: `SendSms` or `PullSmsSendStatusByPhoneNumber`.
    pub fn handle(&self, header: &dyn Fn(&str) -> Option<String>, body: &[u8]) -> serde_json::Value {
        let request_id = self.request_id();
        let action = match self.common(header, body) {
            Ok(action) => action,
            Err(error) => return protocol::error_json(&error, &request_id),
        };
        match action.as_str() {
            protocol::SEND_SMS => match self.send(body) {
                Ok(send_status_set) => {
                    Answer::Sent(SendSmsResponse { send_status_set, request_id }).to_json()
                }
                Err(error) => Answer::Refused { error, request_id }.to_json(),
            },
            protocol::PULL_STATUS_BY_PHONE => match self.pull(body) {
                Ok(pull_sms_send_status_set) => {
                    protocol::pull_answer_json(&PullStatusResponse { pull_sms_send_status_set, request_id })
                }
                Err(error) => protocol::error_json(&error, &request_id),
            },
            other => protocol::error_json(
                &ApiError::new("InvalidAction", format!("the action {other:?} is not found")),
                &request_id,
            ),
        }
    }

    /// What every action checks: the signature, the version, the region. The action's name.
    fn common(&self, header: &dyn Fn(&str) -> Option<String>, body: &[u8]) -> Result<String, ApiError> {
        let now = self.clock.now();
        let received = Received { method: "POST", query: "", header, payload: body };
        protocol::verify(&received, protocol::SERVICE, now.as_millis().div_euclid(1_000), |id| {
            (id == self.settings.secret_id).then(|| self.settings.secret_key.clone())
        })?;
        let action = header("x-tc-action").unwrap_or_default();
        let version = header("x-tc-version").unwrap_or_default();
        if version != protocol::VERSION {
            return Err(ApiError::new("NoSuchVersion", format!("the version {version:?} does not exist")));
        }
        let region = header("x-tc-region").unwrap_or_default();
        if !REGIONS.contains(&region.as_str()) {
            return Err(ApiError::new(
                "UnsupportedRegion",
                format!("the region {region:?} is not supported"),
            ));
        }
        Ok(action)
    }

    /// `PullSmsSendStatusByPhoneNumber`: the receipts of one number in a time window, newest
    /// first, at most `Limit` (≤ 100). Every message here is delivered the moment it is taken.
    fn pull(&self, body: &[u8]) -> Result<Vec<PullSendStatus>, ApiError> {
        let request: PullStatusByPhoneRequest = serde_json::from_slice(body)
            .map_err(|e| ApiError::new("InvalidParameter", format!("the request body is invalid: {e}")))?;
        if request.sms_sdk_app_id != self.settings.sdk_app_id {
            return Err(ApiError::new(
                "InvalidParameterValue.SdkAppIdNotExist",
                "the SmsSdkAppId does not exist",
            ));
        }
        if request.limit == 0 || request.limit > protocol::PULL_LIMIT_MAX {
            return Err(ApiError::new("InvalidParameterValue", "Limit must be 1 to 100"));
        }
        if request.offset != 0 {
            return Err(ApiError::new("InvalidParameterValue", "Offset must be 0"));
        }
        let now_secs = self.clock.now().as_millis().div_euclid(1_000);
        if request.begin_time < now_secs - 7 * 86_400 {
            return Err(ApiError::new("InvalidParameterValue", "BeginTime is more than 7 days ago"));
        }
        let Some(phone) = mainland_number(&request.phone_number) else {
            return Err(ApiError::new(
                "InvalidParameterValue.IncorrectPhoneNumber",
                "incorrect phone number",
            ));
        };
        let end = request.end_time.unwrap_or(i64::MAX);
        let inbox = self.inbox.lock();
        Ok(inbox
            .iter()
            .rev()
            .filter(|m| m.phone == phone)
            .filter(|m| (request.begin_time..=end).contains(&m.sent_at.as_millis().div_euclid(1_000)))
            .take(request.limit as usize)
            .map(|m| PullSendStatus {
                user_receive_time: Some(m.sent_at.as_millis().div_euclid(1_000)),
                country_code: "86".into(),
                subscriber_number: m.phone.trim_start_matches("+86").to_owned(),
                phone_number: m.phone.clone(),
                serial_no: m.serial_no.clone(),
                report_status: "SUCCESS".into(),
                description: "DELIVRD".into(),
                session_context: m.session_context.clone(),
            })
            .collect())
    }

    fn send(&self, body: &[u8]) -> Result<Vec<SendStatus>, ApiError> {
        let now = self.clock.now();
        let request: SendSmsRequest = serde_json::from_slice(body)
            .map_err(|e| ApiError::new("InvalidParameter", format!("the request body is invalid: {e}")))?;
        if request.sms_sdk_app_id != self.settings.sdk_app_id {
            return Err(ApiError::new(
                "InvalidParameterValue.SdkAppIdNotExist",
                "the SmsSdkAppId does not exist",
            ));
        }
        let template = self.templates.get(&request.template_id).ok_or_else(|| {
            ApiError::new("FailedOperation.TemplateIncorrectOrUnapproved", "the template is not approved")
        })?;
        if request.sign_name != self.settings.sign_name {
            return Err(ApiError::new(
                "FailedOperation.SignatureIncorrectOrUnapproved",
                "the signature is not approved",
            ));
        }
        let text = render(template, &request.template_param_set).ok_or_else(|| {
            ApiError::new(
                "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
                "the parameters do not match the approved template",
            )
        })?;
        if request.phone_number_set.is_empty() {
            return Err(ApiError::new("MissingParameter.EmptyPhoneNumberSet", "PhoneNumberSet is empty"));
        }
        if request.phone_number_set.len() > MAX_NUMBERS {
            return Err(ApiError::new("LimitExceeded.PhoneNumberCountLimit", "more than 200 numbers"));
        }
        let text = format!("【{}】{text}", self.settings.sign_name);
        let session_context = request.session_context.unwrap_or_default();
        let mut statuses = Vec::with_capacity(request.phone_number_set.len());
        for raw in &request.phone_number_set {
            let serial_no = format!("2433:{:020}", self.counter.fetch_add(1, Ordering::Relaxed));
            let status = |code: &str, message: &str, phone: String, fee: u32| SendStatus {
                serial_no: serial_no.clone(),
                phone_number: phone,
                fee,
                session_context: session_context.clone(),
                code: code.into(),
                message: message.into(),
                iso_code: "CN".into(),
            };
            let Some(phone) = mainland_number(raw) else {
                statuses.push(status(
                    "InvalidParameterValue.IncorrectPhoneNumber",
                    "incorrect phone number",
                    raw.clone(),
                    0,
                ));
                continue;
            };
            let message = SmsMessage {
                phone: phone.clone(),
                text: text.clone(),
                template_id: request.template_id.clone(),
                serial_no: serial_no.clone(),
                session_context: session_context.clone(),
                sent_at: now,
            };
            {
                let mut inbox = self.inbox.lock();
                if inbox.len() == self.settings.inbox_capacity {
                    inbox.pop_front();
                }
                inbox.push_back(message);
            }
            // Tencent bills a message in parts of 70 characters once it is longer than 70.
            let chars = text.chars().count();
            let fee = if chars <= 70 { 1 } else { chars.div_ceil(67) as u32 };
            statuses.push(status(SendStatus::OK, "send success", phone, fee));
        }
        Ok(statuses)
    }
}

/// `POST /sandbox/sms`: `SendSms` or `PullSmsSendStatusByPhoneNumber`, by `X-TC-Action`. Always 200 with `Content-Type: application/json`, as
/// API 3.0 answers (the Python SDK reads errors only from exactly that content type).
async fn send_sms(
    sandbox: Option<web::Data<SmsSandbox>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return sms_sandbox_off() };
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let answer = sandbox.handle(&header, &body);
    HttpResponse::Ok().content_type("application/json").json(answer)
}

#[derive(Deserialize)]
struct InboxQuery {
    phone: Option<String>,
}

/// `GET /sandbox/sms/messages?phone=…`: what the sandbox delivered, newest first.
async fn messages(sandbox: Option<web::Data<SmsSandbox>>, query: web::Query<InboxQuery>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return sms_sandbox_off() };
    let messages = sandbox.messages(query.phone.as_deref(), READ_LIMIT);
    HttpResponse::Ok().json(serde_json::json!({ "messages": messages }))
}

/// The payment sandboxes are served but SMS goes to a configured provider (`sms.provider_url`):
/// the routes are mounted with no `web::Data<SmsSandbox>`, and answer 404 rather than 500.
fn sms_sandbox_off() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({
        "error": {"code": "not_found", "message": "the sms sandbox is not served here"}
    }))
}

/// Mounts the SMS sandbox; call inside `web::scope("/sandbox")` with `web::Data<SmsSandbox>`
/// (without it the routes answer 404).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sms", web::post().to(send_sms))
        .route("/sms/", web::post().to(send_sms))
        .route("/sms/messages", web::get().to(messages));
}

/// Serves the SMS sandbox alone on `listener` (a provider hosted apart from the platform).
pub fn serve(
    listener: std::net::TcpListener,
    sandbox: Arc<SmsSandbox>,
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
mod tests {
    use super::*;

    #[test]
    fn templates_render_with_exactly_their_parameters() {
        let t = "您的验证码为{1}，{2}分钟内有效。";
        assert_eq!(render(t, &["123456".into(), "5".into()]).unwrap(), "您的验证码为123456，5分钟内有效。");
        assert_eq!(render(t, &["123456".into()]), None);
        assert_eq!(render(t, &["1".into(), "2".into(), "3".into()]), None);
        assert_eq!(render("无参数", &[]).unwrap(), "无参数");
    }

    #[test]
    fn numbers_are_mainland_with_or_without_the_country_code() {
        assert_eq!(mainland_number("+8613800000000").as_deref(), Some("+8613800000000"));
        assert_eq!(mainland_number("13800000000").as_deref(), Some("+8613800000000"));
        assert_eq!(mainland_number("+8612800000000"), None);
        assert_eq!(mainland_number("+14155550100"), None);
        assert_eq!(mainland_number(" 13800000000"), None);
    }
}
