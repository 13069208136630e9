//! The Tencent Cloud SMS client: builds a signed `SendSms` request (JSON body, `X-TC-*`
//! headers, TC3-HMAC-SHA256 over `content-type;host`, the headers Tencent's own SDKs sign, so
//! that the SDK's signer reproduces ours byte for byte), posts it and reads either answer
//! shape. The signing time comes from the injected clock, so a test clock moves it.

use std::sync::Arc;

use engine::Phone;
use engine::time::Clock;
use reqwest::Url;

use engine::Timestamp;

use super::protocol::{self, Answer, PullStatusByPhoneRequest, SendSmsRequest, SendStatus, Signable};
use crate::sms::{CheckFuture, SendFuture, Sent, SmsError, SmsSender};

/// Where and as whom to send. `Debug` is not derived: it would print the key.
#[derive(Clone)]
pub struct TencentSmsConfig {
    /// `https://sms.tencentcloudapi.com`, or the bundled sandbox's URL.
    pub url: String,
    /// `X-TC-Region`, required by 2021-01-11 (`ap-guangzhou`, `ap-beijing`, `ap-nanjing`).
    pub region: String,
    pub secret_id: String,
    pub secret_key: String,
    pub sdk_app_id: String,
    /// The approved signature, shown as 【sign_name】 in front of every message.
    pub sign_name: String,
}

/// A request ready to post: what the client sends, exposed so tests can compare it with
/// what another signer makes of the same bytes.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

pub struct TencentSms {
    http: reqwest::Client,
    url: Url,
    /// The `Host` header: sent and signed as the same string.
    host: String,
    config: TencentSmsConfig,
    clock: Arc<dyn Clock>,
}

impl TencentSms {
    pub fn new(
        config: TencentSmsConfig,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let url = Url::parse(&config.url).map_err(|e| format!("sms url {:?}: {e}", config.url))?;
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(format!("sms url {:?} has no host", config.url)),
        };
        for (name, value) in [
            ("secret_id", &config.secret_id),
            ("secret_key", &config.secret_key),
            ("sdk_app_id", &config.sdk_app_id),
            ("region", &config.region),
        ] {
            if value.trim().is_empty() {
                return Err(format!("sms.{name} is empty"));
            }
        }
        Ok(Self { http, url, host, config, clock })
    }

    /// The signed request that sends `template_id` with `params` to `phone` at `timestamp_secs`.
    pub fn prepare(
        &self,
        phone: &Phone,
        template_id: &str,
        params: &[String],
        timestamp_secs: i64,
    ) -> PreparedRequest {
        self.prepare_with_context(phone, template_id, params, None, timestamp_secs)
    }

    /// As [`Self::prepare`], with a `SessionContext` that Tencent hands back unchanged.
    pub fn prepare_with_context(
        &self,
        phone: &Phone,
        template_id: &str,
        params: &[String],
        session_context: Option<&str>,
        timestamp_secs: i64,
    ) -> PreparedRequest {
        let request = SendSmsRequest {
            phone_number_set: vec![format!("+86{phone}")],
            sms_sdk_app_id: self.config.sdk_app_id.clone(),
            sign_name: self.config.sign_name.clone(),
            template_id: template_id.to_owned(),
            template_param_set: params.to_vec(),
            session_context: session_context.map(str::to_owned),
        };
        let body = serde_json::to_vec(&request).expect("a SendSms request serializes");
        self.signed(protocol::SEND_SMS, body, timestamp_secs)
    }

    /// `body` as a signed request for `action`.
    fn signed(&self, action: &str, body: Vec<u8>, timestamp_secs: i64) -> PreparedRequest {
        let signed: [(&str, &str); 2] = [("content-type", protocol::CONTENT_TYPE), ("host", &self.host)];
        let authorization = protocol::authorization(
            &self.config.secret_id,
            &self.config.secret_key,
            &Signable {
                method: "POST",
                query: "",
                headers: &signed,
                payload: &body,
                timestamp_secs,
                service: protocol::SERVICE,
            },
        );
        PreparedRequest {
            url: self.url.to_string(),
            headers: vec![
                ("Authorization", authorization),
                ("Content-Type", protocol::CONTENT_TYPE.to_owned()),
                ("Host", self.host.clone()),
                ("X-TC-Action", action.to_owned()),
                ("X-TC-Timestamp", timestamp_secs.to_string()),
                ("X-TC-Version", protocol::VERSION.to_owned()),
                ("X-TC-Region", self.config.region.clone()),
            ],
            body,
        }
    }

    /// The signed `PullSmsSendStatusByPhoneNumber` request for the receipts of `phone` sent
    /// between `begin_secs` and `end_secs`.
    pub fn prepare_pull(
        &self,
        phone: &Phone,
        begin_secs: i64,
        end_secs: i64,
        timestamp_secs: i64,
    ) -> PreparedRequest {
        let request = PullStatusByPhoneRequest {
            begin_time: begin_secs,
            offset: 0,
            limit: protocol::PULL_LIMIT_MAX,
            phone_number: format!("+86{phone}"),
            sms_sdk_app_id: self.config.sdk_app_id.clone(),
            end_time: Some(end_secs),
        };
        let body = serde_json::to_vec(&request).expect("a pull request serializes");
        self.signed(protocol::PULL_STATUS_BY_PHONE, body, timestamp_secs)
    }

    async fn post(&self, prepared: PreparedRequest) -> Result<Vec<u8>, SmsError> {
        let mut request = self.http.post(&prepared.url).body(prepared.body);
        for (name, value) in &prepared.headers {
            request = request.header(*name, value.as_str());
        }
        let response = request.send().await.map_err(|e| SmsError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| SmsError::Transport(e.without_url().to_string()))?;
        // API 3.0 answers 200 to everything it understood, errors included.
        if !status.is_success() {
            return Err(SmsError::Transport(format!("http status {status}")));
        }
        Ok(body.to_vec())
    }

    /// Whether a receipt of a message to `phone` with `context` as its `SessionContext`, sent
    /// since `since`, is there: the provider took it, whatever became of its sender.
    async fn receipt_of(&self, phone: &Phone, since: Timestamp, context: &str) -> Result<bool, SmsError> {
        let now_secs = self.clock.now().as_millis().div_euclid(1_000);
        // A minute's slack for clocks that disagree; the provider keeps 7 days.
        let begin = (since.as_millis().div_euclid(1_000) - 60).max(now_secs - 7 * 86_400 + 60);
        let body = self.post(self.prepare_pull(phone, begin, now_secs + 60, now_secs)).await?;
        match protocol::parse_pull_answer(&body).map_err(SmsError::BadAnswer)? {
            Err(error) => Err(SmsError::Refused { code: error.code, message: error.message }),
            Ok(pulled) => Ok(pulled.pull_sms_send_status_set.iter().any(|r| r.session_context == context)),
        }
    }

    async fn send_now(
        &self,
        phone: &Phone,
        template_id: &str,
        params: &[String],
        session_context: Option<&str>,
    ) -> Result<Sent, SmsError> {
        let now_secs = self.clock.now().as_millis().div_euclid(1_000);
        let prepared = self.prepare_with_context(phone, template_id, params, session_context, now_secs);
        let body = self.post(prepared).await?;
        match Answer::parse(&body).map_err(SmsError::BadAnswer)? {
            Answer::Refused { error, .. } => {
                Err(SmsError::Refused { code: error.code, message: error.message })
            }
            Answer::Sent(sent) => {
                let number = format!("+86{phone}");
                let status = sent
                    .send_status_set
                    .into_iter()
                    .find(|s| s.phone_number == number)
                    .ok_or_else(|| SmsError::BadAnswer("no SendStatus for the number sent to".into()))?;
                if status.code == SendStatus::OK {
                    Ok(Sent { serial_no: status.serial_no, fee: status.fee })
                } else {
                    Err(SmsError::NotSent { code: status.code, message: status.message })
                }
            }
        }
    }
}

impl SmsSender for TencentSms {
    fn send<'a>(&'a self, phone: &'a Phone, template_id: &'a str, params: &'a [String]) -> SendFuture<'a> {
        Box::pin(self.send_now(phone, template_id, params, None))
    }

    fn send_with_context<'a>(
        &'a self,
        phone: &'a Phone,
        template_id: &'a str,
        params: &'a [String],
        context: &'a str,
    ) -> SendFuture<'a> {
        Box::pin(self.send_now(phone, template_id, params, Some(context)))
    }

    fn already_sent<'a>(&'a self, phone: &'a Phone, since: Timestamp, context: &'a str) -> CheckFuture<'a> {
        Box::pin(self.receipt_of(phone, since, context))
    }
}

#[cfg(test)]
mod tests {
    use engine::Timestamp;

    use super::*;

    struct Stopped;

    impl Clock for Stopped {
        fn now(&self) -> Timestamp {
            Timestamp::from_millis(1_700_000_000_000)
        }
    }

    fn client(url: &str) -> TencentSms {
        TencentSms::new(
            TencentSmsConfig {
                url: url.into(),
                region: "ap-guangzhou".into(),
                secret_id: "AKIDtest".into(),
                secret_key: "test-secret-key".into(),
                sdk_app_id: "1400000001".into(),
                sign_name: "直播秒杀".into(),
            },
            reqwest::Client::new(),
            Arc::new(Stopped),
        )
        .unwrap()
    }

    #[test]
    fn the_request_carries_every_common_header_and_verifies() {
        let client = client("http://127.0.0.1:9/sandbox/sms");
        let phone = Phone::parse("13800000000").unwrap();
        let prepared = client.prepare(&phone, "2000001", &["123456".into()], 1_700_000_000);
        let header = |name: &str| {
            prepared.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
        };
        assert_eq!(prepared.url, "http://127.0.0.1:9/sandbox/sms");
        assert_eq!(header("host").as_deref(), Some("127.0.0.1:9"));
        assert_eq!(header("x-tc-version").as_deref(), Some("2021-01-11"));
        assert_eq!(header("x-tc-region").as_deref(), Some("ap-guangzhou"));
        assert!(header("authorization").unwrap().contains("SignedHeaders=content-type;host,"));
        let body: serde_json::Value = serde_json::from_slice(&prepared.body).unwrap();
        assert_eq!(body["PhoneNumberSet"][0], "+8613800000000");
        let received =
            protocol::Received { method: "POST", query: "", header: &header, payload: &prepared.body };
        let key = |id: &str| (id == "AKIDtest").then(|| "test-secret-key".to_owned());
        assert_eq!(protocol::verify(&received, "sms", 1_700_000_000, key).unwrap(), "AKIDtest");
    }

    /// Tencent's shell demo also signs `x-tc-action` (its value lowercased): a verifier takes
    /// whatever `SignedHeaders` lists beyond the two required ones, and the action is then bound.
    #[test]
    fn extra_signed_headers_are_verified_too() {
        let body = br#"{"PhoneNumberSet":["+8613800000000"]}"#;
        let signed = [("content-type", protocol::CONTENT_TYPE), ("host", "h:1"), ("x-tc-action", "SendSms")];
        let request = Signable {
            method: "POST",
            query: "",
            headers: &signed,
            payload: body,
            timestamp_secs: 100,
            service: "sms",
        };
        let auth = protocol::authorization("AKIDtest", "test-secret-key", &request);
        assert!(auth.contains("SignedHeaders=content-type;host;x-tc-action,"));
        let key = |id: &str| (id == "AKIDtest").then(|| "test-secret-key".to_owned());
        let outcomes = [
            ("SendSms", Ok("AKIDtest".to_owned())),
            ("SendStatusStatistics", Err("AuthFailure.SignatureFailure".to_owned())),
        ];
        for (action, expected) in outcomes {
            let header = |name: &str| match name {
                "authorization" => Some(auth.clone()),
                "x-tc-timestamp" => Some("100".into()),
                "x-tc-action" => Some(action.into()),
                "content-type" => Some(protocol::CONTENT_TYPE.into()),
                "host" => Some("h:1".into()),
                _ => None,
            };
            let received = protocol::Received { method: "POST", query: "", header: &header, payload: body };
            assert_eq!(protocol::verify(&received, "sms", 100, key).map_err(|e| e.code), expected);
        }
    }

    #[test]
    fn the_default_port_is_left_out_of_the_host() {
        let client = client("https://sms.tencentcloudapi.com");
        let prepared = client.prepare(&Phone::parse("13800000000").unwrap(), "1", &[], 1_700_000_000);
        assert!(prepared.headers.contains(&("Host", "sms.tencentcloudapi.com".to_owned())));
    }

    #[tokio::test]
    async fn an_unreachable_provider_is_a_transport_error() {
        let client = client("http://127.0.0.1:9/");
        let phone = Phone::parse("13800000000").unwrap();
        let outcome = client.send(&phone, "1", &["654321".into()]).await;
        match outcome {
            Err(SmsError::Transport(message)) => assert!(!message.contains("654321")),
            other => panic!("expected a transport error, got {other:?}"),
        }
    }
}
