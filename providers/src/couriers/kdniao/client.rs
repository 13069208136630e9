//! The KDNiao client: signs and posts 1007 (e-waybill) and 1008 (tracking subscription)
//! requests, retrying transport failures with a doubling backoff, and verifies and answers
//! the 101 pushes KDNiao sends to the account's callback URL.
//!
//! A retried 1007 is safe: KDNiao keys an e-waybill by `OrderCode`, so a request that reached
//! it before the connection broke finds the same waybill again. A push is refused unless its
//! `DataSign` verifies under our AppKey, it names our `EBusinessID`, and its `PushTime` is
//! within `push_max_age` of our clock: the protocol has no nonce, and a recorded push must
//! not move an order later.

use std::sync::Arc;
use std::time::Duration;

use engine::Timestamp;
use engine::time::Clock;

use super::protocol::{
    self, Commodity, EOrderAnswer, EOrderRequest, Form, PlainAnswer, PushData, SubscribeRequest, WireParty,
};
use crate::couriers::{
    Courier, CourierError, CourierFuture, CourierGateway, Party, PushAnswer, PushError, TrackingEvent,
    TrackingPush, TrackingUpdate, Waybill, WaybillRequest,
};

/// A courier account KDNiao bills the waybills of one courier to (电子面单客户号), for the
/// couriers that need one.
#[derive(Clone, Default)]
pub struct CourierAccount {
    pub customer_name: String,
    pub customer_pwd: String,
    pub month_code: String,
    pub send_site: String,
}

/// Where and as whom to call. `Debug` is not derived: it would print the key.
#[derive(Clone)]
pub struct KdniaoConfig {
    /// `https://api.kdniao.com`, or the bundled sandbox's `…/sandbox/courier`.
    pub url: String,
    pub ebusiness_id: String,
    pub app_key: String,
    /// Per attempt.
    pub timeout: Duration,
    /// Attempts in all (at least one).
    pub attempts: u32,
    /// Wait before the second attempt; doubled before each next one.
    pub backoff: Duration,
    /// How far a push's `PushTime` may be from our clock.
    pub push_max_age: Duration,
    /// `(courier code, account)`.
    pub accounts: Vec<(String, CourierAccount)>,
}

pub struct Kdniao {
    http: reqwest::Client,
    base: String,
    config: KdniaoConfig,
    clock: Arc<dyn Clock>,
}

fn wire_party(party: &Party) -> WireParty {
    let is_mobile = party.phone.len() == 11 && party.phone.starts_with('1');
    WireParty {
        name: party.name.clone(),
        mobile: if is_mobile { party.phone.clone() } else { String::new() },
        tel: if is_mobile { String::new() } else { party.phone.clone() },
        province_name: party.province.clone(),
        city_name: party.city.clone(),
        exp_area_name: party.district.clone(),
        address: party.detail.clone(),
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.trim().is_empty()).then(|| text.to_owned())
}

impl Kdniao {
    pub fn new(config: KdniaoConfig, http: reqwest::Client, clock: Arc<dyn Clock>) -> Result<Self, String> {
        reqwest::Url::parse(&config.url).map_err(|e| format!("courier url {:?}: {e}", config.url))?;
        for (name, value) in [("ebusiness_id", &config.ebusiness_id), ("app_key", &config.app_key)] {
            if value.trim().is_empty() {
                return Err(format!("courier.{name} is empty"));
            }
        }
        if config.attempts == 0 {
            return Err("courier.attempts must be at least 1".into());
        }
        let base = config.url.trim_end_matches('/').to_owned();
        Ok(Self { http, base, config, clock })
    }

    /// The 1007 `RequestData` of a shipment.
    pub fn eorder_request(&self, request: &WaybillRequest) -> EOrderRequest {
        let account =
            self.config.accounts.iter().find(|(code, _)| code == request.courier.code).map(|(_, a)| a);
        EOrderRequest {
            shipper_code: request.courier.code.to_owned(),
            order_code: request.order_no.clone(),
            pay_type: if account.is_some_and(|a| !a.month_code.is_empty()) { 3 } else { 1 },
            exp_type: "1".into(),
            customer_name: account.and_then(|a| non_empty(&a.customer_name)),
            customer_pwd: account.and_then(|a| non_empty(&a.customer_pwd)),
            month_code: account.and_then(|a| non_empty(&a.month_code)),
            send_site: account.and_then(|a| non_empty(&a.send_site)),
            sender: wire_party(&request.sender),
            receiver: wire_party(&request.receiver),
            commodity: vec![Commodity {
                goods_name: request.goods_name.clone(),
                goodsquantity: Some(request.quantity),
            }],
            quantity: 1,
            is_subscribe: Some("1".into()),
            is_return_print_template: Some("0".into()),
        }
    }

    /// Posts a signed form to `path`, retrying transport failures and 5xx answers.
    async fn post(
        &self,
        path: &str,
        request_type: &str,
        request_data: String,
    ) -> Result<Vec<u8>, CourierError> {
        let form = Form::signed(&self.config.ebusiness_id, &self.config.app_key, request_type, request_data);
        let body = form.encode();
        let url = format!("{}{path}", self.base);
        let mut wait = self.config.backoff;
        let mut last = String::new();
        for attempt in 0..self.config.attempts {
            if attempt > 0 {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            let sent = self
                .http
                .post(&url)
                .header("Content-Type", protocol::FORM_CONTENT_TYPE)
                .timeout(self.config.timeout)
                .body(body.clone())
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(e) => {
                    last = e.without_url().to_string();
                    continue;
                }
            };
            let status = response.status();
            if status.is_server_error() {
                last = format!("http status {status}");
                continue;
            }
            if !status.is_success() {
                return Err(CourierError::BadAnswer(format!("http status {status}")));
            }
            match response.bytes().await {
                Ok(bytes) => return Ok(bytes.to_vec()),
                Err(e) => last = e.without_url().to_string(),
            }
        }
        tracing::warn!(request_type, attempts = self.config.attempts, error = %last, "courier unreachable");
        Err(CourierError::Transport(last))
    }

    async fn request_waybill_now(&self, request: &WaybillRequest) -> Result<Waybill, CourierError> {
        let data = serde_json::to_string(&self.eorder_request(request)).expect("a 1007 request serializes");
        let body = self.post(protocol::EORDER_PATH, protocol::EORDER, data).await?;
        let answer: EOrderAnswer = serde_json::from_slice(&body)
            .map_err(|e| CourierError::BadAnswer(format!("1007 answer: {e}")))?;
        if !answer.success {
            return Err(CourierError::Refused { code: answer.result_code, reason: answer.reason });
        }
        if answer.result_code != protocol::OK && answer.result_code != protocol::ALREADY_ISSUED {
            return Err(CourierError::BadAnswer(format!("success with ResultCode {:?}", answer.result_code)));
        }
        let order = answer.order.ok_or_else(|| CourierError::BadAnswer("success without an Order".into()))?;
        if order.logistic_code.trim().is_empty() {
            return Err(CourierError::BadAnswer("success without a LogisticCode".into()));
        }
        if !order.order_code.is_empty() && order.order_code != request.order_no {
            return Err(CourierError::BadAnswer("the waybill is for another order".into()));
        }
        Ok(Waybill {
            courier: request.courier,
            waybill_no: order.logistic_code,
            sort_code: non_empty(&order.mark_destination),
            package_center: non_empty(&order.package_name),
        })
    }

    async fn subscribe_now(
        &self,
        courier: Courier,
        waybill_no: &str,
        order_no: Option<&str>,
    ) -> Result<(), CourierError> {
        let request = SubscribeRequest {
            shipper_code: courier.code.to_owned(),
            logistic_code: waybill_no.to_owned(),
            order_code: order_no.map(str::to_owned),
            callback: None,
        };
        let data = serde_json::to_string(&request).expect("a 1008 request serializes");
        let body = self.post(protocol::DIST_PATH, protocol::SUBSCRIBE, data).await?;
        let answer: PlainAnswer = serde_json::from_slice(&body)
            .map_err(|e| CourierError::BadAnswer(format!("1008 answer: {e}")))?;
        if answer.success {
            Ok(())
        } else {
            Err(CourierError::Refused { code: answer.result_code, reason: answer.reason })
        }
    }

    /// Verifies and reads a push body at `now`.
    pub fn read_push(&self, body: &[u8], now: Timestamp) -> Result<TrackingPush, PushError> {
        let form = Form::decode(body).map_err(PushError::Malformed)?;
        if form.request_type != protocol::TRACK_PUSH {
            return Err(PushError::Malformed(format!("RequestType {:?} is not a push", form.request_type)));
        }
        if !form.verifies(&self.config.app_key) {
            return Err(PushError::BadSignature);
        }
        let data: PushData = serde_json::from_str(&form.request_data)
            .map_err(|e| PushError::Malformed(format!("RequestData: {e}")))?;
        if data.ebusiness_id != self.config.ebusiness_id {
            return Err(PushError::WrongAccount);
        }
        let pushed_at = protocol::parse_beijing_time(&data.push_time)
            .ok_or_else(|| PushError::Malformed(format!("PushTime {:?}", data.push_time)))?;
        let max_age_ms = i64::try_from(self.config.push_max_age.as_millis()).unwrap_or(i64::MAX);
        if (now.as_millis() - pushed_at.as_millis()).abs() > max_age_ms {
            return Err(PushError::Stale);
        }
        let mut updates = Vec::with_capacity(data.data.len());
        for waybill in data.data {
            if !waybill.ebusiness_id.is_empty() && waybill.ebusiness_id != self.config.ebusiness_id {
                return Err(PushError::WrongAccount);
            }
            let courier =
                Courier::parse(&waybill.shipper_code).map_err(|e| PushError::Malformed(e.to_string()))?;
            let state = protocol::parse_state(&waybill.state)
                .ok_or_else(|| PushError::Malformed(format!("State {:?}", waybill.state)))?;
            let mut events = Vec::with_capacity(waybill.traces.len());
            for trace in waybill.traces {
                let at = protocol::parse_beijing_time(&trace.accept_time)
                    .ok_or_else(|| PushError::Malformed(format!("AcceptTime {:?}", trace.accept_time)))?;
                events.push(TrackingEvent { at, description: trace.accept_station });
            }
            updates.push(TrackingUpdate {
                courier,
                waybill_no: waybill.logistic_code,
                order_no: non_empty(&waybill.order_code),
                state,
                events,
            });
        }
        Ok(TrackingPush { pushed_at, updates })
    }

    /// `{"EBusinessID","UpdateTime","Success","Reason"}`.
    pub fn push_answer(&self, taken: Result<(), &str>, now: Timestamp) -> PushAnswer {
        let answer = PlainAnswer {
            ebusiness_id: self.config.ebusiness_id.clone(),
            update_time: protocol::beijing_time(now),
            success: taken.is_ok(),
            result_code: String::new(),
            reason: taken.err().unwrap_or_default().to_owned(),
        };
        let mut value = serde_json::to_value(&answer).expect("an answer serializes");
        if let Some(object) = value.as_object_mut() {
            // The push answer has no ResultCode.
            object.remove("ResultCode");
        }
        PushAnswer { content_type: protocol::JSON_CONTENT_TYPE, body: value.to_string() }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

impl CourierGateway for Kdniao {
    fn request_waybill<'a>(&'a self, request: &'a WaybillRequest) -> CourierFuture<'a, Waybill> {
        Box::pin(self.request_waybill_now(request))
    }

    fn subscribe<'a>(
        &'a self,
        courier: Courier,
        waybill_no: &'a str,
        order_no: Option<&'a str>,
    ) -> CourierFuture<'a, ()> {
        Box::pin(self.subscribe_now(courier, waybill_no, order_no))
    }

    fn verify_push(&self, body: &[u8], now: Timestamp) -> Result<TrackingPush, PushError> {
        self.read_push(body, now)
    }

    fn answer_push(&self, taken: Result<(), &str>, now: Timestamp) -> PushAnswer {
        self.push_answer(taken, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::couriers::TrackingState;
    use crate::couriers::kdniao::protocol::{PushedWaybill, Trace};

    struct Stopped;

    impl Clock for Stopped {
        fn now(&self) -> Timestamp {
            Timestamp::from_millis(1_700_000_000_000)
        }
    }

    fn client(url: &str) -> Kdniao {
        Kdniao::new(
            KdniaoConfig {
                url: url.into(),
                ebusiness_id: "1700001".into(),
                app_key: "sandbox-app-key".into(),
                timeout: Duration::from_millis(500),
                attempts: 3,
                backoff: Duration::from_millis(10),
                push_max_age: Duration::from_secs(600),
                accounts: vec![],
            },
            reqwest::Client::new(),
            Arc::new(Stopped),
        )
        .unwrap()
    }

    fn push_body(ebusiness_id: &str, push_time: &str, key: &str) -> String {
        let data = PushData {
            ebusiness_id: ebusiness_id.into(),
            push_time: push_time.into(),
            count: "1".into(),
            data: vec![PushedWaybill {
                ebusiness_id: ebusiness_id.into(),
                shipper_code: "ZTO".into(),
                logistic_code: "731234567890".into(),
                success: true,
                reason: String::new(),
                order_code: "42".into(),
                callback: String::new(),
                state: "3".into(),
                traces: vec![
                    Trace {
                        accept_time: "2023-11-15 05:00:00".into(),
                        accept_station: "【上海浦东】已揽收".into(),
                        remark: String::new(),
                    },
                    Trace {
                        accept_time: "2023-11-15 06:00:00".into(),
                        accept_station: "已签收".into(),
                        remark: String::new(),
                    },
                ],
            }],
        };
        let mut form = Form::signed("", key, protocol::TRACK_PUSH, serde_json::to_string(&data).unwrap());
        form.data_type.clear();
        form.encode()
    }

    #[test]
    fn a_signed_fresh_push_is_read() {
        let client = client("http://127.0.0.1:9");
        let now = Timestamp::from_millis(1_700_000_000_000); // 2023-11-15 06:13:20 Beijing
        let push =
            client.read_push(push_body("1700001", "2023-11-15 06:10:00", "sandbox-app-key").as_bytes(), now);
        let push = push.unwrap();
        assert_eq!(push.updates.len(), 1);
        let update = &push.updates[0];
        assert_eq!(update.courier.code, "ZTO");
        assert_eq!(update.waybill_no, "731234567890");
        assert_eq!(update.order_no.as_deref(), Some("42"));
        assert_eq!(update.state, TrackingState::Delivered);
        assert_eq!(update.events.len(), 2);
        assert_eq!(update.events[1].at, Timestamp::from_millis(1_700_000_000_000 - 13 * 60_000 - 20_000));
    }

    #[test]
    fn forged_foreign_stale_and_malformed_pushes_are_refused() {
        let client = client("http://127.0.0.1:9");
        let now = Timestamp::from_millis(1_700_000_000_000);
        let cases = [
            (push_body("1700001", "2023-11-15 06:10:00", "another-key"), PushError::BadSignature),
            (push_body("1700002", "2023-11-15 06:10:00", "sandbox-app-key"), PushError::WrongAccount),
            (push_body("1700001", "2023-11-15 05:50:00", "sandbox-app-key"), PushError::Stale),
            (push_body("1700001", "2023-11-15 06:40:00", "sandbox-app-key"), PushError::Stale),
        ];
        for (body, expected) in cases {
            assert_eq!(client.read_push(body.as_bytes(), now).unwrap_err(), expected);
        }
        let tampered =
            push_body("1700001", "2023-11-15 06:10:00", "sandbox-app-key").replace("%223%22", "%221%22");
        assert_eq!(client.read_push(tampered.as_bytes(), now).unwrap_err(), PushError::BadSignature);
        assert!(matches!(client.read_push(b"not a form", now), Err(PushError::Malformed(_))));
    }

    #[test]
    fn the_push_answer_is_the_protocols() {
        let client = client("http://127.0.0.1:9");
        let now = Timestamp::from_millis(1_700_000_000_000);
        let answer: serde_json::Value = serde_json::from_str(&client.push_answer(Ok(()), now).body).unwrap();
        assert_eq!(
            answer,
            serde_json::json!({"EBusinessID": "1700001", "UpdateTime": "2023-11-15 06:13:20", "Success": true, "Reason": ""})
        );
        let refused: serde_json::Value =
            serde_json::from_str(&client.push_answer(Err("bad"), now).body).unwrap();
        assert_eq!(refused["Success"], false);
        assert_eq!(refused["Reason"], "bad");
    }

    #[test]
    fn mobiles_and_landlines_go_to_their_fields() {
        let mut party = Party {
            name: "王五".into(),
            phone: "13800000000".into(),
            province: "北京".into(),
            city: "北京市".into(),
            district: "朝阳区".into(),
            detail: "建国路1号".into(),
        };
        assert_eq!(wire_party(&party).mobile, "13800000000");
        party.phone = "010-12345678".into();
        let wire = wire_party(&party);
        assert_eq!((wire.mobile.as_str(), wire.tel.as_str()), ("", "010-12345678"));
    }

    #[tokio::test]
    async fn an_unreachable_courier_is_a_transport_error_after_every_attempt() {
        let client = client("http://127.0.0.1:9");
        let started = std::time::Instant::now();
        let outcome = client.subscribe(Courier::parse("SF").unwrap(), "SF1", None).await;
        assert!(matches!(outcome, Err(CourierError::Transport(_))), "{outcome:?}");
        // Two waits between three attempts: 10 ms, then 20 ms.
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
