//! The subscription-message client: one access token per appid, cached until
//! `refresh_before_secs` before it expires (on the injected clock), fetched by one caller at
//! a time (concurrent senders wait for the same fetch instead of each retiring the other's
//! token), and fetched again once when the API calls the cached one stale (40001, 40014,
//! 42001: rotated elsewhere, or the clocks disagree).

use std::sync::Arc;

use engine::time::Clock;
use thiserror::Error;

use super::protocol::{self, ErrorAnswer, SubscribeMessage};

/// Where and as which mini program. `Debug` is not derived: it would print the secret.
#[derive(Clone)]
pub struct WechatMpConfig {
    /// `https://api.weixin.qq.com`, or the sandbox's `…/sandbox/wechat-mp`.
    pub url: String,
    pub appid: String,
    pub secret: String,
    /// `formal` in production; `developer` or `trial` for test builds of the mini program.
    pub miniprogram_state: String,
    pub lang: String,
    /// A token is replaced this long before its `expires_in` runs out.
    pub refresh_before_secs: i64,
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MpError {
    #[error("wechat unreachable: {0}")]
    Transport(String),
    /// The token could not be had (bad appid or secret, or WeChat busy).
    #[error("wechat refused the access token request: {errcode}: {errmsg}")]
    Token { errcode: i64, errmsg: String },
    /// WeChat refused the message.
    #[error("wechat refused the message: {errcode}: {errmsg}")]
    Refused { errcode: i64, errmsg: String },
    #[error("wechat answered something unexpected: {0}")]
    BadAnswer(String),
}

impl MpError {
    /// Sending the same message again cannot succeed (the user refused, the openid, template,
    /// page or a value is wrong).
    pub fn is_permanent(&self) -> bool {
        matches!(self, MpError::Refused { errcode, .. } if protocol::is_permanent(*errcode))
    }
}

struct CachedToken {
    token: String,
    /// Unix ms after which it is not used any more.
    use_until_ms: i64,
}

pub struct WechatMp {
    http: reqwest::Client,
    config: WechatMpConfig,
    clock: Arc<dyn Clock>,
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

impl WechatMp {
    pub fn new(config: WechatMpConfig, http: reqwest::Client, clock: Arc<dyn Clock>) -> Result<Self, String> {
        reqwest::Url::parse(&config.url).map_err(|e| format!("wechat_mp url {:?}: {e}", config.url))?;
        for (name, value) in [("appid", &config.appid), ("secret", &config.secret)] {
            if value.trim().is_empty() {
                return Err(format!("wechat_mp.{name} is empty"));
            }
        }
        if !protocol::MINIPROGRAM_STATES.contains(&config.miniprogram_state.as_str()) {
            return Err(format!(
                "wechat_mp.miniprogram_state {:?} is not one of developer, trial, formal",
                config.miniprogram_state
            ));
        }
        if !protocol::LANGS.contains(&config.lang.as_str()) {
            return Err(format!("wechat_mp.lang {:?} is not supported", config.lang));
        }
        Ok(Self { http, config, clock, token: tokio::sync::Mutex::new(None) })
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.config.url.trim_end_matches('/'))
    }

    /// A token to use now. `stale` is one the API just refused: it is replaced unless another
    /// caller already did.
    async fn access_token(&self, stale: Option<&str>) -> Result<String, MpError> {
        let mut cached = self.token.lock().await;
        let now_ms = self.clock.now().as_millis();
        if let Some(current) = cached.as_ref() {
            let refused = stale == Some(current.token.as_str());
            if !refused && now_ms < current.use_until_ms {
                return Ok(current.token.clone());
            }
        }
        let response = self
            .http
            .get(self.endpoint(protocol::TOKEN_PATH))
            .query(&[
                ("grant_type", "client_credential"),
                ("appid", self.config.appid.as_str()),
                ("secret", self.config.secret.as_str()),
            ])
            .send()
            .await
            .map_err(|e| MpError::Transport(e.without_url().to_string()))?;
        let body = read(response).await?;
        match protocol::parse_token(&body).map_err(MpError::BadAnswer)? {
            Ok(answer) => {
                if answer.expires_in <= 0 || answer.access_token.is_empty() {
                    return Err(MpError::BadAnswer(format!(
                        "a token that expires in {}s",
                        answer.expires_in
                    )));
                }
                let lifetime_secs =
                    (answer.expires_in - self.config.refresh_before_secs).max(answer.expires_in / 2);
                *cached = Some(CachedToken {
                    token: answer.access_token.clone(),
                    use_until_ms: now_ms.saturating_add(lifetime_secs.saturating_mul(1_000)),
                });
                metrics::counter!("flashsale_wechat_mp_tokens_total").increment(1);
                Ok(answer.access_token)
            }
            Err(ErrorAnswer { errcode, errmsg }) => Err(MpError::Token { errcode, errmsg }),
        }
    }

    /// Sends one subscription message to `touser`; `page` and `data` as the template wants.
    pub async fn send(
        &self,
        touser: &str,
        template_id: &str,
        page: Option<&str>,
        data: &[(String, String)],
    ) -> Result<(), MpError> {
        let message = SubscribeMessage {
            touser: touser.to_owned(),
            template_id: template_id.to_owned(),
            page: page.map(str::to_owned),
            data: data
                .iter()
                .map(|(key, value)| {
                    (key.clone(), protocol::DataValue { value: protocol::fit_value(key, value) })
                })
                .collect(),
            miniprogram_state: Some(self.config.miniprogram_state.clone()),
            lang: Some(self.config.lang.clone()),
        };
        let token = self.access_token(None).await?;
        match self.post(&token, &message).await? {
            ErrorAnswer { errcode: protocol::OK, .. } => Ok(()),
            ErrorAnswer { errcode, .. } if protocol::token_is_stale(errcode) => {
                let fresh = self.access_token(Some(&token)).await?;
                match self.post(&fresh, &message).await? {
                    ErrorAnswer { errcode: protocol::OK, .. } => Ok(()),
                    ErrorAnswer { errcode, errmsg } => Err(MpError::Refused { errcode, errmsg }),
                }
            }
            ErrorAnswer { errcode, errmsg } => Err(MpError::Refused { errcode, errmsg }),
        }
    }

    async fn post(&self, token: &str, message: &SubscribeMessage) -> Result<ErrorAnswer, MpError> {
        let response = self
            .http
            .post(self.endpoint(protocol::SEND_PATH))
            .query(&[("access_token", token)])
            .json(message)
            .send()
            .await
            .map_err(|e| MpError::Transport(e.without_url().to_string()))?;
        let body = read(response).await?;
        protocol::parse_send(&body).map_err(MpError::BadAnswer)
    }
}

/// The body of a 2xx answer (WeChat answers every API error with 200 and an `errcode`).
async fn read(response: reqwest::Response) -> Result<Vec<u8>, MpError> {
    let status = response.status();
    let body = response.bytes().await.map_err(|e| MpError::Transport(e.without_url().to_string()))?;
    if !status.is_success() {
        return Err(MpError::Transport(format!("http status {status}")));
    }
    Ok(body.to_vec())
}
