//! The WeChat Pay API v3 client: signs every request with the merchant key, verifies every
//! answer's `Wechatpay-*` signature before believing it, and opens notifications.

use std::sync::Arc;

use engine::Fen;
use engine::ledger::Channel;
use engine::time::Clock;
use rsa::RsaPrivateKey;
use serde_json::{Value, json};

use super::bill::{parse_bill, unpack_bill};
use super::protocol::{self, PlatformKeys, RequestSigner, SignedHeaders, Transaction, wechat_time};
use crate::crypto::{nonce, rsa_sign};
use crate::payments::http::{send_retrying_once, transport};
use crate::payments::types::cut_to_bytes;
use crate::payments::{
    ChannelError, ChannelFuture, CreateRequest, PayMethod, PaymentChannel, RefundRequest, StatementLine,
    TradeStatus, VerifiedPayment,
};

/// WeChat Pay v3 `description` is string(127): longer ones refuse the whole payment.
const DESCRIPTION_MAX_BYTES: usize = 127;
/// A merchant's account at WeChat Pay (direct mode), and the keys to talk to it.
pub struct WechatClient {
    pub http: reqwest::Client,
    pub base_url: String,
    pub appid: String,
    pub mchid: String,
    pub serial_no: String,
    pub key: RsaPrivateKey,
    pub platform: PlatformKeys,
    pub api_v3_key: [u8; 32],
    pub notify_url: String,
    pub clock: Arc<dyn Clock>,
}

impl WechatClient {
    fn now_secs(&self) -> i64 {
        self.clock.now().as_millis() / 1_000
    }

    /// One signed call; a 2xx answer's signature is verified before its body is believed.
    async fn call(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<(u16, String), ChannelError> {
        let body_text = body.map(Value::to_string).unwrap_or_default();
        let response = send_retrying_once(|| {
            let (timestamp, nonce) = (self.now_secs(), nonce(32));
            let signer = RequestSigner { mchid: &self.mchid, serial_no: &self.serial_no, key: &self.key };
            let authorization = signer.authorization(method, path_and_query, timestamp, &nonce, &body_text);
            let url = format!("{}{path_and_query}", self.base_url);
            let request = match method {
                "GET" => self.http.get(url),
                _ => self.http.post(url).header("Content-Type", "application/json").body(body_text.clone()),
            };
            request.header("Authorization", authorization).header("Accept", "application/json")
        })
        .await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(transport)?;
        // WeChat Pay's support finds a call by its Request-ID: every failure names it.
        let request_id = headers.get(protocol::REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("none");
        if !(200..300).contains(&status) {
            return Err(ChannelError::Status(status, format!("{text} (Request-ID {request_id})")));
        }
        // Every 2xx is signed, a 204 without a body included; an unsigned one is forged.
        SignedHeaders::from_lookup(|name| headers.get(name).and_then(|v| v.to_str().ok()))
            .and_then(|signed| self.platform.verify(&signed, &text, self.now_secs()))
            .map_err(|e| ChannelError::Signature(format!("{e} (Request-ID {request_id})")))?;
        Ok((status, text))
    }

    fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ChannelError> {
        serde_json::from_str(text).map_err(|e| ChannelError::Protocol(e.to_string()))
    }

    pub async fn create(&self, request: &CreateRequest) -> Result<Value, ChannelError> {
        if request.sub_merchant.is_some() || request.split.is_some() {
            // Partner mode has its own paths and fields; until it is spoken, money meant for a
            // sub-merchant must not be taken into the platform's own account.
            return Err(ChannelError::Disabled("wechat partner mode"));
        }
        let kind = match request.method {
            PayMethod::Jsapi => "jsapi",
            PayMethod::H5 => "h5",
            _ => "native",
        };
        let mut body = json!({
            "appid": self.appid,
            "mchid": self.mchid,
            "description": cut_to_bytes(&request.description, DESCRIPTION_MAX_BYTES),
            "out_trade_no": request.out_trade_no,
            "time_expire": wechat_time(request.expires_at),
            "notify_url": self.notify_url,
            "amount": {"total": request.amount.as_i64(), "currency": "CNY"},
        });
        match request.method {
            PayMethod::Jsapi => {
                let openid = request.payer_openid.clone().unwrap_or_default();
                body["payer"] = json!({ "openid": openid });
            }
            PayMethod::H5 => {
                body["scene_info"] = json!({"payer_client_ip": request.payer_ip, "h5_info": {"type": "Wap"}});
            }
            _ => {}
        }
        let (_, text) = self.call("POST", &format!("/v3/pay/transactions/{kind}"), Some(&body)).await?;
        let answer: Value = Self::parse(&text)?;
        let field = |name: &str| {
            answer[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| ChannelError::Protocol(format!("no {name}")))
        };
        Ok(match request.method {
            PayMethod::Jsapi => {
                // What the page hands to WeixinJSBridge.invoke('getBrandWCPayRequest', …).
                let package = format!("prepay_id={}", field("prepay_id")?);
                let (timestamp, nonce) = (self.now_secs().to_string(), nonce(32));
                let message = format!("{}\n{timestamp}\n{nonce}\n{package}\n", self.appid);
                json!({
                    "appId": self.appid,
                    "timeStamp": timestamp,
                    "nonceStr": nonce,
                    "package": package,
                    "signType": "RSA",
                    "paySign": rsa_sign(&self.key, message.as_bytes()),
                })
            }
            PayMethod::H5 => json!({ "h5_url": field("h5_url")? }),
            _ => json!({ "code_url": field("code_url")? }),
        })
    }

    pub async fn query(&self, out_trade_no: &str) -> Result<TradeStatus, ChannelError> {
        let path = format!("/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}", self.mchid);
        let (_, text) = match self.call("GET", &path, None).await {
            Err(ChannelError::Status(404, _)) => return Ok(TradeStatus::NotPaid),
            other => other?,
        };
        let transaction: Transaction = Self::parse(&text)?;
        if transaction.mchid != self.mchid || transaction.out_trade_no != out_trade_no {
            return Err(ChannelError::Protocol("query answered about another trade".into()));
        }
        Ok(match transaction.trade_state.as_str() {
            "SUCCESS" | "REFUND" => TradeStatus::Paid {
                transaction_id: transaction.transaction_id,
                amount: Fen(transaction.amount.total),
            },
            "CLOSED" | "REVOKED" | "PAYERROR" => TradeStatus::Closed,
            _ => TradeStatus::NotPaid,
        })
    }

    pub async fn close(&self, out_trade_no: &str) -> Result<(), ChannelError> {
        let path = format!("/v3/pay/transactions/out-trade-no/{out_trade_no}/close");
        self.call("POST", &path, Some(&json!({ "mchid": self.mchid }))).await.map(|_| ())
    }

    /// Asks for a refund, or how the refund asked for earlier is doing; whether the money went
    /// back. WeChat Pay accepts a refund as `PROCESSING` and settles it later, so the refund
    /// worker asks again until it is `SUCCESS`: first by querying `out_refund_no` (never a
    /// second refund), then, if WeChat Pay has never heard of it, by asking for it.
    pub async fn refund(&self, request: &RefundRequest) -> Result<bool, ChannelError> {
        let path = format!("/v3/refund/domestic/refunds/{}", request.out_refund_no);
        let text = match self.call("GET", &path, None).await {
            Ok((_, text)) => text,
            Err(ChannelError::Status(404, _)) => {
                let body = json!({
                    "out_trade_no": request.out_trade_no,
                    "out_refund_no": request.out_refund_no,
                    "reason": "flash-sale payment refunded",
                    "amount": {"refund": request.refund.as_i64(), "total": request.total.as_i64(), "currency": "CNY"},
                });
                self.call("POST", "/v3/refund/domestic/refunds", Some(&body)).await?.1
            }
            Err(other) => return Err(other),
        };
        let answer: Value = Self::parse(&text)?;
        if answer["out_refund_no"].as_str() != Some(request.out_refund_no.as_str()) {
            return Err(ChannelError::Protocol("refund answered about another refund".into()));
        }
        match answer["status"].as_str() {
            Some("SUCCESS") => Ok(true),
            // ABNORMAL waits for someone at the merchant platform; both are asked about again.
            Some("PROCESSING" | "ABNORMAL") => Ok(false),
            Some("CLOSED") => Err(ChannelError::Refused {
                code: "REFUND_CLOSED".into(),
                message: format!("refund {} was closed by WeChat Pay", request.out_refund_no),
            }),
            other => Err(ChannelError::Protocol(format!("refund status {other:?}"))),
        }
    }

    /// The trade bill of a Beijing calendar day (`yyyy-MM-dd`), fetched gzipped and checked
    /// against the SHA1 the signed answer gives for it.
    pub async fn statement(&self, bill_date: &str) -> Result<Vec<StatementLine>, ChannelError> {
        let (_, text) = self
            .call(
                "GET",
                &format!("/v3/bill/tradebill?bill_date={bill_date}&bill_type=ALL&tar_type=GZIP"),
                None,
            )
            .await?;
        let answer: Value = Self::parse(&text)?;
        let (hash_type, hash_value) = (answer["hash_type"].as_str(), answer["hash_value"].as_str());
        let url = answer["download_url"]
            .as_str()
            .ok_or_else(|| ChannelError::Protocol("no download_url".into()))?;
        let path = url.strip_prefix(&self.base_url).unwrap_or(url).to_owned();
        // The bill itself is not signed; it is fetched with a signed request.
        let (timestamp, nonce) = (self.now_secs(), nonce(32));
        let signer = RequestSigner { mchid: &self.mchid, serial_no: &self.serial_no, key: &self.key };
        let packed = self
            .http
            .get(format!("{}{path}", self.base_url))
            .header("Authorization", signer.authorization("GET", &path, timestamp, &nonce, ""))
            .send()
            .await
            .map_err(transport)?
            .bytes()
            .await
            .map_err(transport)?;
        let csv = unpack_bill(&packed, hash_type, hash_value)?;
        parse_bill(&csv)
    }

    /// Verifies and decrypts a notification; `None` if it is about something else than a
    /// successful payment of ours.
    pub fn open_notification(
        &self,
        headers: &SignedHeaders,
        body: &str,
    ) -> Result<Option<VerifiedPayment>, protocol::VerifyError> {
        let (notification, transaction) =
            protocol::open_notification(&self.platform, &self.api_v3_key, headers, body, self.now_secs())?;
        if transaction.mchid != self.mchid || transaction.appid != self.appid {
            return Err(protocol::VerifyError::Malformed("notification for another merchant".into()));
        }
        if notification.event_type != "TRANSACTION.SUCCESS" || transaction.trade_state != "SUCCESS" {
            return Ok(None);
        }
        Ok(Some(VerifiedPayment {
            channel: Channel::Wechat,
            out_trade_no: transaction.out_trade_no,
            transaction_id: transaction.transaction_id,
            amount: Fen(transaction.amount.total),
        }))
    }
}

impl PaymentChannel for WechatClient {
    fn channel(&self) -> Channel {
        Channel::Wechat
    }

    fn create<'a>(&'a self, request: &'a CreateRequest) -> ChannelFuture<'a, Value> {
        Box::pin(self.create(request))
    }

    fn query<'a>(&'a self, out_trade_no: &'a str) -> ChannelFuture<'a, TradeStatus> {
        Box::pin(self.query(out_trade_no))
    }

    fn close<'a>(&'a self, out_trade_no: &'a str) -> ChannelFuture<'a, ()> {
        Box::pin(self.close(out_trade_no))
    }

    fn refund<'a>(&'a self, request: &'a RefundRequest) -> ChannelFuture<'a, bool> {
        Box::pin(self.refund(request))
    }

    fn statement<'a>(&'a self, bill_date: &'a str) -> ChannelFuture<'a, Vec<StatementLine>> {
        Box::pin(self.statement(bill_date))
    }
}
