//! The bundled courier sandbox: KDNiao's (快递鸟) open API with its own EBusinessID and
//! AppKey. It verifies `DataSign`, issues waybill numbers in each courier's shape for 1007
//! e-waybill requests (the same order again finds the same waybill), takes 1008 tracking
//! subscriptions, and pushes 101 tracking events — collected 揽收, in transit 运输中,
//! delivered 签收 — to the configured callback URL, signed with the account's key, until the
//! platform answers `Success: true` (retried on a schedule scaled by `retry_scale`).
//!
//! Routes (under `/sandbox`): `POST /courier/api/EOrderService` and `POST /courier/api/dist`
//! (the API; either takes either request type), `POST /courier/waybills/{no}/advance` (the
//! parcel moves one step at once, or to `{"to": "delivered"}`, so tests never wait), and
//! `GET /courier/waybills/{no}` (the sandbox's own record). A refused request is answered as
//! KDNiao answers: HTTP 200 with `{"EBusinessID","Success":false,"ResultCode","Reason"}`.
//!
//! Without a `web::Data<CourierSandbox>` the routes answer 404, as the SMS sandbox's do.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{HttpResponse, web};
use engine::time::Clock;
use parking_lot::Mutex;
use providers::couriers::kdniao::protocol::{
    self, EOrderAnswer, EOrderOrder, EOrderRequest, Form, PlainAnswer, PushData, PushedWaybill,
    SubscribeRequest, Trace, WireParty,
};
use providers::couriers::{Courier, TrackingState};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// The sandbox's push retry schedule after the first attempt, in seconds. KDNiao does not
/// publish its own; this one backs off from seconds to an hour.
pub const PUSH_RETRY_SECS: [u64; 6] = [15, 60, 300, 900, 1_800, 3_600];

/// `ResultCode` of a request missing what the API requires (not confirmed from KDNiao's list).
const BAD_REQUEST: &str = "101";
/// `ResultCode` of a signature or account that does not verify (not confirmed either).
const BAD_SIGNATURE: &str = "105";
/// `ResultCode` when the sandbox holds as many waybills as it may.
const FULL: &str = "109";

/// Who the sandbox is and where it pushes.
#[derive(Clone)]
pub struct CourierSandboxSettings {
    pub ebusiness_id: String,
    pub app_key: String,
    /// Where pushes go (the account's callback URL at KDNiao); no pushes without one.
    pub callback_url: Option<String>,
    /// Multiplies [`PUSH_RETRY_SECS`] (0.001 in tests).
    pub retry_scale: f64,
    /// Waybills kept; a request beyond is refused.
    pub capacity: usize,
}

/// A waybill as the sandbox keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxWaybill {
    pub shipper_code: String,
    pub waybill_no: String,
    pub order_code: String,
    pub callback: String,
    #[serde(serialize_with = "state_name")]
    pub state: TrackingState,
    pub traces: Vec<Trace>,
    pub subscribed: bool,
    pub mark_destination: String,
    pub sorting_code: String,
    pub package_name: String,
    /// Where the parcel leaves from and goes to, for the traces' texts.
    #[serde(skip)]
    from_city: String,
    #[serde(skip)]
    to_city: String,
    pub push_attempts: u32,
    pub pushes_acknowledged: u32,
}

fn state_name<S: serde::Serializer>(state: &TrackingState, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(state.as_str())
}

pub struct CourierSandbox {
    settings: CourierSandboxSettings,
    /// By waybill number.
    waybills: Mutex<HashMap<String, SandboxWaybill>>,
    /// `(shipper, order code)` → waybill number: one waybill per order.
    by_order: Mutex<HashMap<(String, String), String>>,
    sequence: AtomicU64,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

/// A fresh EBusinessID (7 digits, as KDNiao's) and AppKey (a UUID, as KDNiao's).
pub fn generate_keys() -> (String, String) {
    let mut rng = rand::rng();
    let id = rng.random_range(1_000_000..10_000_000u32).to_string();
    let n: u128 = rng.random();
    let hex = format!("{n:032x}");
    (id, format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

/// `(prefix, digits after it)` of a courier's waybill numbers.
fn number_shape(shipper_code: &str) -> (&'static str, usize) {
    match shipper_code {
        "SF" => ("SF", 13),
        "ZTO" => ("73", 10),
        "YTO" => ("YT", 13),
        "STO" => ("77", 11),
        "YD" => ("43", 11),
        "HTKY" => ("55", 11),
        "JTSD" => ("JT", 13),
        "EMS" => ("11", 11),
        "JD" => ("JDX", 12),
        _ => ("DPK", 12),
    }
}

/// A province without its suffix, as sort codes print it: 广东, 上海, 广西.
fn short_province(province: &str) -> String {
    let trimmed = ["壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "特别行政区", "省", "市"]
        .iter()
        .find_map(|suffix| province.strip_suffix(suffix))
        .unwrap_or(province);
    trimmed.chars().take(3).collect()
}

fn missing(party: &WireParty) -> Option<&'static str> {
    if party.name.trim().is_empty() {
        return Some("Name");
    }
    if party.mobile.trim().is_empty() && party.tel.trim().is_empty() {
        return Some("Mobile or Tel");
    }
    [
        ("ProvinceName", &party.province_name),
        ("CityName", &party.city_name),
        ("ExpAreaName", &party.exp_area_name),
        ("Address", &party.address),
    ]
    .into_iter()
    .find(|(_, value)| value.trim().is_empty())
    .map(|(name, _)| name)
}

impl CourierSandbox {
    pub fn new(settings: CourierSandboxSettings, clock: Arc<dyn Clock>) -> Self {
        assert!(settings.capacity > 0, "the sandbox keeps at least one waybill");
        // Numbers start from the wall clock so that a restarted sandbox does not issue a
        // number it issued before.
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let seed = (since_epoch.as_secs() % 1_000_000) * 10_000;
        Self {
            settings,
            waybills: Mutex::new(HashMap::new()),
            by_order: Mutex::new(HashMap::new()),
            sequence: AtomicU64::new(seed),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client without TLS builds"),
            clock,
        }
    }

    pub fn ebusiness_id(&self) -> &str {
        &self.settings.ebusiness_id
    }

    pub fn waybill(&self, waybill_no: &str) -> Option<SandboxWaybill> {
        self.waybills.lock().get(waybill_no).cloned()
    }

    fn refusal(&self, code: &str, reason: impl Into<String>) -> serde_json::Value {
        serde_json::to_value(PlainAnswer {
            ebusiness_id: self.settings.ebusiness_id.clone(),
            update_time: protocol::beijing_time(self.clock.now()),
            success: false,
            result_code: code.to_owned(),
            reason: reason.into(),
        })
        .expect("an answer serializes")
    }

    /// One API call (the raw form body), answered as KDNiao answers: always a JSON object.
    pub fn handle(self: &Arc<Self>, body: &[u8]) -> serde_json::Value {
        let form = match Form::decode(body) {
            Ok(form) => form,
            Err(e) => return self.refusal(BAD_REQUEST, e),
        };
        if form.ebusiness_id != self.settings.ebusiness_id || !form.verifies(&self.settings.app_key) {
            return self.refusal(BAD_SIGNATURE, "数据验证不通过 (DataSign or EBusinessID does not verify)");
        }
        if !form.data_type.is_empty() && form.data_type != protocol::DATA_TYPE_JSON {
            return self.refusal(BAD_REQUEST, "DataType must be 2 (JSON)");
        }
        match form.request_type.as_str() {
            protocol::EORDER => match serde_json::from_str::<EOrderRequest>(&form.request_data) {
                Ok(request) => self.eorder(request),
                Err(e) => self.refusal(BAD_REQUEST, format!("RequestData: {e}")),
            },
            protocol::SUBSCRIBE => match serde_json::from_str::<SubscribeRequest>(&form.request_data) {
                Ok(request) => self.subscribe(request),
                Err(e) => self.refusal(BAD_REQUEST, format!("RequestData: {e}")),
            },
            other => self.refusal(BAD_REQUEST, format!("RequestType {other:?} is not served by the sandbox")),
        }
    }

    fn mint(&self, shipper_code: &str) -> String {
        let (prefix, digits) = number_shape(shipper_code);
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let modulus = 10u64.saturating_pow(digits.min(19) as u32);
        format!("{prefix}{:0digits$}", n % modulus)
    }

    fn eorder(self: &Arc<Self>, request: EOrderRequest) -> serde_json::Value {
        if Courier::parse(&request.shipper_code).is_err() {
            return self
                .refusal(BAD_REQUEST, format!("ShipperCode {:?} is not supported", request.shipper_code));
        }
        if request.order_code.trim().is_empty() {
            return self.refusal(BAD_REQUEST, "OrderCode is required");
        }
        for (who, party) in [("Sender", &request.sender), ("Receiver", &request.receiver)] {
            if let Some(field) = missing(party) {
                return self.refusal(BAD_REQUEST, format!("{who}.{field} is required"));
            }
        }
        if request.commodity.iter().all(|c| c.goods_name.trim().is_empty()) {
            return self.refusal(BAD_REQUEST, "Commodity.GoodsName is required");
        }
        let key = (request.shipper_code.clone(), request.order_code.clone());
        let (waybill, result_code) = {
            let mut by_order = self.by_order.lock();
            let mut waybills = self.waybills.lock();
            match by_order.get(&key).and_then(|no| waybills.get(no)) {
                Some(existing) => (existing.clone(), protocol::ALREADY_ISSUED),
                None => {
                    if waybills.len() >= self.settings.capacity {
                        return self.refusal(FULL, "the sandbox holds as many waybills as it may");
                    }
                    let to = &request.receiver;
                    let sort =
                        to.city_name.chars().fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(c as u32));
                    let waybill = SandboxWaybill {
                        shipper_code: request.shipper_code.clone(),
                        waybill_no: self.mint(&request.shipper_code),
                        order_code: request.order_code.clone(),
                        callback: String::new(),
                        state: TrackingState::NoTrace,
                        traces: Vec::new(),
                        subscribed: request.is_subscribe.as_deref() != Some("0"),
                        mark_destination: format!(
                            "{}-{}",
                            short_province(&to.province_name),
                            to.exp_area_name
                        ),
                        sorting_code: format!("{:03}", 100 + sort % 900),
                        package_name: format!("{}转运中心", to.city_name.trim_end_matches('市')),
                        from_city: request.sender.city_name.clone(),
                        to_city: to.city_name.clone(),
                        push_attempts: 0,
                        pushes_acknowledged: 0,
                    };
                    by_order.insert(key, waybill.waybill_no.clone());
                    waybills.insert(waybill.waybill_no.clone(), waybill.clone());
                    (waybill, protocol::OK)
                }
            }
        };
        let answer = EOrderAnswer {
            ebusiness_id: self.settings.ebusiness_id.clone(),
            success: true,
            result_code: result_code.to_owned(),
            reason: if result_code == protocol::OK {
                "成功".into()
            } else {
                "订单已存在，返回原单号".into()
            },
            order: Some(EOrderOrder {
                order_code: waybill.order_code,
                shipper_code: waybill.shipper_code,
                logistic_code: waybill.waybill_no,
                mark_destination: waybill.mark_destination,
                sorting_code: waybill.sorting_code,
                package_name: waybill.package_name,
            }),
            uniquer_request_number: format!("{:x}", rand::rng().random::<u64>()),
        };
        serde_json::to_value(answer).expect("an answer serializes")
    }

    fn subscribe(self: &Arc<Self>, request: SubscribeRequest) -> serde_json::Value {
        if Courier::parse(&request.shipper_code).is_err() {
            return self
                .refusal(BAD_REQUEST, format!("ShipperCode {:?} is not supported", request.shipper_code));
        }
        if request.logistic_code.trim().is_empty() {
            return self.refusal(BAD_REQUEST, "LogisticCode is required");
        }
        {
            let mut waybills = self.waybills.lock();
            let full = waybills.len() >= self.settings.capacity;
            match waybills.get_mut(&request.logistic_code) {
                Some(waybill) if waybill.shipper_code != request.shipper_code => {
                    return self.refusal(BAD_REQUEST, "the waybill belongs to another courier");
                }
                Some(waybill) => {
                    waybill.subscribed = true;
                    if let Some(callback) = &request.callback {
                        waybill.callback = callback.clone();
                    }
                }
                None if full => return self.refusal(FULL, "the sandbox holds as many waybills as it may"),
                // A number the merchant typed: the sandbox tracks it from now on.
                None => {
                    waybills.insert(
                        request.logistic_code.clone(),
                        SandboxWaybill {
                            shipper_code: request.shipper_code.clone(),
                            waybill_no: request.logistic_code.clone(),
                            order_code: request.order_code.clone().unwrap_or_default(),
                            callback: request.callback.clone().unwrap_or_default(),
                            state: TrackingState::NoTrace,
                            traces: Vec::new(),
                            subscribed: true,
                            mark_destination: String::new(),
                            sorting_code: String::new(),
                            package_name: String::new(),
                            from_city: String::new(),
                            to_city: String::new(),
                            push_attempts: 0,
                            pushes_acknowledged: 0,
                        },
                    );
                }
            }
        }
        serde_json::to_value(PlainAnswer {
            ebusiness_id: self.settings.ebusiness_id.clone(),
            update_time: protocol::beijing_time(self.clock.now()),
            success: true,
            result_code: protocol::OK.to_owned(),
            reason: String::new(),
        })
        .expect("an answer serializes")
    }

    /// Moves a parcel on: one step, or up to `to`. Pushes the new state when subscribed.
    pub fn advance(
        self: &Arc<Self>,
        waybill_no: &str,
        to: Option<TrackingState>,
    ) -> Result<SandboxWaybill, &'static str> {
        let now = self.clock.now();
        let waybill = {
            let mut waybills = self.waybills.lock();
            let waybill = waybills.get_mut(waybill_no).ok_or("no such waybill")?;
            let target = to.unwrap_or(match waybill.state {
                TrackingState::NoTrace => TrackingState::Collected,
                TrackingState::Collected => TrackingState::InTransit,
                _ => TrackingState::Delivered,
            });
            if target == TrackingState::NoTrace || target == TrackingState::Problem {
                return Err("a parcel advances to collected, in_transit or delivered");
            }
            if target <= waybill.state {
                return Err("the parcel is already there");
            }
            for step in [TrackingState::Collected, TrackingState::InTransit, TrackingState::Delivered] {
                if step > waybill.state && step <= target {
                    let station = self.station(waybill, step);
                    waybill.traces.push(Trace {
                        accept_time: protocol::beijing_time(now),
                        accept_station: station,
                        remark: String::new(),
                    });
                }
            }
            waybill.state = target;
            waybill.clone()
        };
        if waybill.subscribed
            && let Some(url) = self.settings.callback_url.clone()
        {
            let sandbox = self.clone();
            let waybill_no = waybill_no.to_owned();
            let state = waybill.state;
            tokio::spawn(async move { sandbox.deliver(url, waybill_no, state).await });
        }
        Ok(waybill)
    }

    fn station(&self, waybill: &SandboxWaybill, step: TrackingState) -> String {
        let from = if waybill.from_city.is_empty() { "始发地" } else { &waybill.from_city };
        let to = if waybill.to_city.is_empty() { "目的地" } else { &waybill.to_city };
        match step {
            TrackingState::Collected => format!("【{from}】快件已揽收"),
            TrackingState::InTransit => format!("快件离开【{from}】，正发往【{to}】转运中心，运输中"),
            _ => format!("【{to}】快件已签收，签收人：本人"),
        }
    }

    /// The push of a waybill as it would be sent now: the form body.
    pub fn push_body(&self, waybill_no: &str) -> Option<String> {
        let waybill = self.waybill(waybill_no)?;
        let data = PushData {
            ebusiness_id: self.settings.ebusiness_id.clone(),
            push_time: protocol::beijing_time(self.clock.now()),
            count: "1".into(),
            data: vec![PushedWaybill {
                ebusiness_id: self.settings.ebusiness_id.clone(),
                shipper_code: waybill.shipper_code,
                logistic_code: waybill.waybill_no,
                success: true,
                reason: String::new(),
                order_code: waybill.order_code,
                callback: waybill.callback,
                state: protocol::state_code(waybill.state).to_owned(),
                traces: waybill.traces,
            }],
        };
        let request_data = serde_json::to_string(&data).expect("a push serializes");
        let mut form = Form::signed("", &self.settings.app_key, protocol::TRACK_PUSH, request_data);
        form.data_type = protocol::DATA_TYPE_JSON.to_owned();
        Some(form.encode())
    }

    /// Pushes a waybill's progress until the platform takes it or the schedule runs out.
    /// Each attempt is built afresh (a new `PushTime` and signature) with the state at that
    /// moment; a push overtaken by a later state stops.
    async fn deliver(self: Arc<Self>, url: String, waybill_no: String, state: TrackingState) {
        let delays = std::iter::once(0).chain(PUSH_RETRY_SECS.iter().copied());
        for delay in delays {
            tokio::time::sleep(Duration::from_secs_f64(delay as f64 * self.settings.retry_scale)).await;
            if self.waybill(&waybill_no).is_none_or(|w| w.state != state) {
                return;
            }
            let Some(body) = self.push_body(&waybill_no) else { return };
            let taken = self.post(&url, body).await;
            if let Some(waybill) = self.waybills.lock().get_mut(&waybill_no) {
                waybill.push_attempts += 1;
                waybill.pushes_acknowledged += u32::from(taken);
            }
            if taken {
                return;
            }
        }
        tracing::warn!(%waybill_no, "courier sandbox gave up pushing");
    }

    /// One push; whether the platform answered `Success: true`.
    async fn post(&self, url: &str, body: String) -> bool {
        let sent =
            self.http.post(url).header("Content-Type", protocol::FORM_CONTENT_TYPE).body(body).send().await;
        let Ok(response) = sent else { return false };
        if !response.status().is_success() {
            return false;
        }
        let answer: Option<PlainAnswer> = response.json().await.ok();
        answer.is_some_and(|a| a.success)
    }
}

fn parse_target(name: &str) -> Option<TrackingState> {
    match name {
        "collected" => Some(TrackingState::Collected),
        "in_transit" => Some(TrackingState::InTransit),
        "delivered" => Some(TrackingState::Delivered),
        _ => None,
    }
}

/// `POST /sandbox/courier/api/*`: the KDNiao API.
async fn api(sandbox: Option<web::Data<CourierSandbox>>, body: web::Bytes) -> HttpResponse {
    let Some(sandbox) = sandbox else { return courier_sandbox_off() };
    let answer = sandbox.into_inner().handle(&body);
    HttpResponse::Ok().content_type(protocol::JSON_CONTENT_TYPE).json(answer)
}

#[derive(Deserialize, Default)]
struct AdvanceBody {
    to: Option<String>,
}

/// `POST /sandbox/courier/waybills/{no}/advance`: the parcel moves on at once.
async fn advance(
    sandbox: Option<web::Data<CourierSandbox>>,
    waybill_no: web::Path<String>,
    body: Option<web::Json<AdvanceBody>>,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return courier_sandbox_off() };
    let to = match body.and_then(|b| b.into_inner().to) {
        None => None,
        Some(name) => match parse_target(&name) {
            Some(state) => Some(state),
            None => {
                return error(
                    HttpResponse::BadRequest(),
                    "bad_state",
                    "to is one of collected, in_transit, delivered",
                );
            }
        },
    };
    match sandbox.into_inner().advance(&waybill_no, to) {
        Ok(waybill) => HttpResponse::Ok().json(waybill),
        Err(message @ "no such waybill") => error(HttpResponse::NotFound(), "not_found", message),
        Err(message) => error(HttpResponse::Conflict(), "cannot_advance", message),
    }
}

/// `GET /sandbox/courier/waybills/{no}`: the sandbox's record.
async fn show(sandbox: Option<web::Data<CourierSandbox>>, waybill_no: web::Path<String>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return courier_sandbox_off() };
    match sandbox.waybill(&waybill_no) {
        Some(waybill) => HttpResponse::Ok().json(waybill),
        None => error(HttpResponse::NotFound(), "not_found", "no such waybill"),
    }
}

fn error(mut builder: actix_web::HttpResponseBuilder, code: &str, message: &str) -> HttpResponse {
    builder.json(serde_json::json!({"error": {"code": code, "message": message}}))
}

fn courier_sandbox_off() -> HttpResponse {
    error(HttpResponse::NotFound(), "not_found", "the courier sandbox is not served here")
}

/// Mounts the courier sandbox; call inside `web::scope("/sandbox")` with
/// `web::Data<CourierSandbox>` (without it the routes answer 404).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/courier/api/EOrderService", web::post().to(api))
        .route("/courier/api/dist", web::post().to(api))
        .route("/courier/waybills/{waybill_no}/advance", web::post().to(advance))
        .route("/courier/waybills/{waybill_no}", web::get().to(show));
}

/// Serves the courier sandbox alone on `listener`.
pub fn serve(
    listener: std::net::TcpListener,
    sandbox: Arc<CourierSandbox>,
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
