//! The Tencent Cloud verification client: one signed API 3.0 request per check (JSON body,
//! `X-TC-*` headers, TC3-HMAC-SHA256 over `content-type;host` as Tencent's SDKs sign), each
//! attempt with a timeout, retried a bounded number of times with a doubling pause when the
//! service could not answer (transport error, timeout, 5xx, `InternalError`,
//! `RequestLimitExceeded`). A verdict is never retried: a billed answer is an answer.
//!
//! A retried request after a timeout may be billed twice by the provider; that is the price of
//! not leaving a merchant waiting for a person because of one lost packet.

use std::sync::Arc;
use std::time::Duration;

use engine::time::Clock;
use reqwest::Url;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::protocol::{self, IdCardVerificationRequest, VerifyEnterpriseFourFactorsRequest};
use crate::tencent_cloud::tc3::{self, Signable};
use crate::tencent_cloud::{ApiAnswer, parse_answer};
use crate::verification::{EnterpriseCheck, PersonCheck, VerificationError, Verifier, VerifyFuture};

/// Where and as whom to ask. `Debug` is not derived: it would print the key.
#[derive(Clone)]
pub struct TencentVerificationConfig {
    /// `https://faceid.tencentcloudapi.com`, or the sandbox's `/sandbox/verification/faceid`.
    pub faceid_url: String,
    /// `https://ocr.tencentcloudapi.com`, or the sandbox's `/sandbox/verification/ocr`.
    pub ocr_url: String,
    /// `X-TC-Region` for OCR (`ap-guangzhou`, …); FaceID takes none.
    pub region: String,
    pub secret_id: String,
    pub secret_key: String,
    /// Each attempt's limit.
    pub timeout: Duration,
    /// Attempts per check, at least 1.
    pub attempts: u32,
    /// The pause before the second attempt; doubled before each further one.
    pub retry_pause: Duration,
}

/// A request ready to post, exposed so tests can verify it with another signer.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

struct Endpoint {
    url: Url,
    host: String,
}

impl Endpoint {
    fn parse(name: &str, raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw).map_err(|e| format!("verification.{name} {raw:?}: {e}"))?;
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(format!("verification.{name} {raw:?} has no host")),
        };
        Ok(Self { url, host })
    }
}

/// One action at one service.
struct Action<'a> {
    endpoint: &'a Endpoint,
    service: &'static str,
    name: &'static str,
    version: &'static str,
    region: Option<&'a str>,
}

pub struct TencentVerification {
    http: reqwest::Client,
    faceid: Endpoint,
    ocr: Endpoint,
    config: TencentVerificationConfig,
    clock: Arc<dyn Clock>,
}

/// An attempt that got no verdict, and whether another attempt may get one.
struct Failed {
    error: VerificationError,
    transient: bool,
}

fn transient_code(code: &str) -> bool {
    ["InternalError", "RequestLimitExceeded"].iter().any(|c| code == *c || code.starts_with(&format!("{c}.")))
}

impl TencentVerification {
    pub fn new(
        config: TencentVerificationConfig,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let faceid = Endpoint::parse("faceid_url", &config.faceid_url)?;
        let ocr = Endpoint::parse("ocr_url", &config.ocr_url)?;
        for (name, value) in
            [("secret_id", &config.secret_id), ("secret_key", &config.secret_key), ("region", &config.region)]
        {
            if value.trim().is_empty() {
                return Err(format!("verification.{name} is empty"));
            }
        }
        if config.attempts == 0 || config.timeout.is_zero() {
            return Err("verification.attempts and verification.timeout must be above zero".into());
        }
        Ok(Self { http, faceid, ocr, config, clock })
    }

    fn prepare(&self, action: &Action<'_>, body: Vec<u8>, timestamp_secs: i64) -> PreparedRequest {
        let signed: [(&str, &str); 2] =
            [("content-type", tc3::CONTENT_TYPE), ("host", &action.endpoint.host)];
        let authorization = tc3::authorization(
            &self.config.secret_id,
            &self.config.secret_key,
            &Signable {
                method: "POST",
                query: "",
                headers: &signed,
                payload: &body,
                timestamp_secs,
                service: action.service,
            },
        );
        let mut headers = vec![
            ("Authorization", authorization),
            ("Content-Type", tc3::CONTENT_TYPE.to_owned()),
            ("Host", action.endpoint.host.clone()),
            ("X-TC-Action", action.name.to_owned()),
            ("X-TC-Timestamp", timestamp_secs.to_string()),
            ("X-TC-Version", action.version.to_owned()),
        ];
        if let Some(region) = action.region {
            headers.push(("X-TC-Region", region.to_owned()));
        }
        PreparedRequest { url: action.endpoint.url.to_string(), headers, body }
    }

    /// The signed request for a person check at `timestamp_secs`.
    pub fn prepare_person(&self, check: &PersonCheck, timestamp_secs: i64) -> PreparedRequest {
        let body = IdCardVerificationRequest { id_card: check.id_no.clone(), name: check.name.clone() };
        self.prepare(&self.person_action(), serde_json::to_vec(&body).expect("serializes"), timestamp_secs)
    }

    /// The signed request for an enterprise check at `timestamp_secs`.
    pub fn prepare_enterprise(&self, check: &EnterpriseCheck, timestamp_secs: i64) -> PreparedRequest {
        let body = VerifyEnterpriseFourFactorsRequest {
            real_name: check.legal_person_name.clone(),
            id_card: check.legal_person_id_no.clone(),
            enterprise_name: check.business_name.clone(),
            enterprise_mark: check.licence_number.clone(),
        };
        self.prepare(
            &self.enterprise_action(),
            serde_json::to_vec(&body).expect("serializes"),
            timestamp_secs,
        )
    }

    fn person_action(&self) -> Action<'_> {
        Action {
            endpoint: &self.faceid,
            service: protocol::FACEID_SERVICE,
            name: protocol::ID_CARD_VERIFICATION,
            version: protocol::FACEID_VERSION,
            region: None,
        }
    }

    fn enterprise_action(&self) -> Action<'_> {
        Action {
            endpoint: &self.ocr,
            service: protocol::OCR_SERVICE,
            name: protocol::VERIFY_ENTERPRISE_FOUR_FACTORS,
            version: protocol::OCR_VERSION,
            region: Some(&self.config.region),
        }
    }

    async fn attempt<T: DeserializeOwned>(&self, action: &Action<'_>, body: &[u8]) -> Result<T, Failed> {
        let now_secs = self.clock.now().as_millis().div_euclid(1_000);
        let prepared = self.prepare(action, body.to_vec(), now_secs);
        let mut request = self.http.post(&prepared.url).timeout(self.config.timeout).body(prepared.body);
        for (name, value) in &prepared.headers {
            request = request.header(*name, value.as_str());
        }
        let transport = |e: reqwest::Error| Failed {
            error: VerificationError::Transport(e.without_url().to_string()),
            transient: true,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        // API 3.0 answers 200 to everything it understood, refusals included.
        if !status.is_success() {
            return Err(Failed {
                error: VerificationError::Transport(format!("http status {status}")),
                transient: status.is_server_error() || status.as_u16() == 429,
            });
        }
        match parse_answer::<T>(&body) {
            Ok(ApiAnswer::Ok(answer)) => Ok(answer),
            Ok(ApiAnswer::Refused { error, request_id }) => {
                tracing::warn!(code = %error.code, %request_id, action = action.name, "verification refused");
                Err(Failed {
                    transient: transient_code(&error.code),
                    error: VerificationError::Refused { code: error.code, message: error.message },
                })
            }
            Err(message) => Err(Failed { error: VerificationError::BadAnswer(message), transient: false }),
        }
    }

    async fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        action: Action<'_>,
        body: &B,
    ) -> Result<T, VerificationError> {
        let body = serde_json::to_vec(body).expect("requests serialize");
        let mut pause = self.config.retry_pause;
        let mut attempt = 1;
        loop {
            match self.attempt(&action, &body).await {
                Ok(answer) => return Ok(answer),
                Err(failed) if failed.transient && attempt < self.config.attempts => {
                    tracing::debug!(error = %failed.error, attempt, action = action.name, "verification retried");
                    tokio::time::sleep(pause).await;
                    pause = pause.saturating_mul(2);
                    attempt += 1;
                }
                Err(failed) => return Err(failed.error),
            }
        }
    }
}

impl Verifier for TencentVerification {
    fn person<'a>(&'a self, check: &'a PersonCheck) -> VerifyFuture<'a> {
        Box::pin(async move {
            let body = IdCardVerificationRequest { id_card: check.id_no.clone(), name: check.name.clone() };
            let answer = self.call(self.person_action(), &body).await?;
            Ok(protocol::person_verdict(&answer))
        })
    }

    fn enterprise<'a>(&'a self, check: &'a EnterpriseCheck) -> VerifyFuture<'a> {
        Box::pin(async move {
            let body = VerifyEnterpriseFourFactorsRequest {
                real_name: check.legal_person_name.clone(),
                id_card: check.legal_person_id_no.clone(),
                enterprise_name: check.business_name.clone(),
                enterprise_mark: check.licence_number.clone(),
            };
            let answer = self.call(self.enterprise_action(), &body).await?;
            Ok(protocol::enterprise_verdict(&answer))
        })
    }
}

#[cfg(test)]
mod tests;
