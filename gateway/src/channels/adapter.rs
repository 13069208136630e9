//! The adapters: HTTP clients of WeChat Pay API v3 and Alipay that sign every request and
//! verify every answer, and [`Channels`], which offers them in order of preference and skips
//! one that fails (failover).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use actors::Clock;
use chrono::{FixedOffset, TimeZone};
use dashmap::DashMap;
use engine::ledger::Channel;
use engine::{Fen, Timestamp};
use rand::Rng as _;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use std::sync::Arc;
use thiserror::Error;

use super::alipay::{self, format_yuan, parse_yuan};
use super::wechat::{self, PlatformKeys, RequestSigner, SignedHeaders, Transaction};

/// Why a call to a channel did not give a usable answer.
#[derive(Debug, Clone, Error)]
pub enum ChannelError {
    #[error("channel unreachable: {0}")]
    Transport(String),
    #[error("channel answered HTTP {0}: {1}")]
    Status(u16, String),
    #[error("channel's answer failed verification: {0}")]
    Signature(String),
    #[error("channel refused: {code} {message}")]
    Refused { code: String, message: String },
    #[error("channel's answer is malformed: {0}")]
    Protocol(String),
    #[error("channel {0} is not configured")]
    Disabled(&'static str),
}

fn transport(e: reqwest::Error) -> ChannelError {
    ChannelError::Transport(e.to_string())
}

/// Sends a request built by `build`, once more if the first attempt failed before an answer
/// for any reason but a timeout: a pooled keep-alive connection that the other side had just
/// closed fails that way. Every call to a channel is idempotent (`out_trade_no`,
/// `out_refund_no`), and each attempt is built, and signed, afresh.
async fn send_retrying_once(
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, ChannelError> {
    match build().send().await {
        Ok(response) => Ok(response),
        Err(e) if e.is_timeout() => Err(transport(e)),
        Err(first) => {
            tracing::debug!(error = %first, "channel request failed before an answer; sending it again");
            build().send().await.map_err(transport)
        }
    }
}

/// How the buyer's page will pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayMethod {
    /// WeChat Native: a QR code (`code_url`).
    Native,
    /// WeChat JSAPI: inside WeChat, with the payer's openid.
    Jsapi,
    /// WeChat H5: a mobile browser outside WeChat.
    H5,
    /// Alipay precreate: a QR code (`qr_code`).
    Precreate,
    /// Alipay WAP: a signed redirect to the cashier.
    Wap,
}

impl PayMethod {
    pub fn parse(channel: Channel, raw: Option<&str>) -> Option<PayMethod> {
        Some(match (channel, raw) {
            (Channel::Wechat, None | Some("native")) => PayMethod::Native,
            (Channel::Wechat, Some("jsapi")) => PayMethod::Jsapi,
            (Channel::Wechat, Some("h5")) => PayMethod::H5,
            (Channel::Alipay, None | Some("precreate")) => PayMethod::Precreate,
            (Channel::Alipay, Some("wap")) => PayMethod::Wap,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PayMethod::Native => "native",
            PayMethod::Jsapi => "jsapi",
            PayMethod::H5 => "h5",
            PayMethod::Precreate => "precreate",
            PayMethod::Wap => "wap",
        }
    }

    /// The same kind of payment on another channel (failover keeps QR as QR, page as page).
    pub fn on(self, channel: Channel) -> PayMethod {
        match (channel, self) {
            (Channel::Wechat, PayMethod::Precreate) => PayMethod::Native,
            (Channel::Wechat, PayMethod::Wap) => PayMethod::H5,
            (Channel::Alipay, PayMethod::Native) => PayMethod::Precreate,
            (Channel::Alipay, PayMethod::Jsapi | PayMethod::H5) => PayMethod::Wap,
            (_, same) => same,
        }
    }
}

/// What to create at the channel.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub out_trade_no: String,
    pub amount: Fen,
    pub description: String,
    pub expires_at: Timestamp,
    pub method: PayMethod,
    pub payer_openid: Option<String>,
    pub payer_ip: String,
}

/// What a channel says about a trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeStatus {
    Paid { transaction_id: String, amount: Fen },
    NotPaid,
    Closed,
}

/// A verified payment report (from a notification or a query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPayment {
    pub channel: Channel,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub amount: Fen,
}

/// One movement of a channel's daily statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub transaction_id: String,
    pub out_trade_no: String,
    /// `PAY` or `REFUND`.
    pub kind: String,
    pub amount_fen: i64,
}

fn nonce(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3_600).expect("UTC+8")
}

/// RFC 3339 in Beijing time, as WeChat Pay writes times.
pub fn wechat_time(at: Timestamp) -> String {
    beijing().timestamp_millis_opt(at.as_millis()).single().map(|t| t.to_rfc3339()).unwrap_or_default()
}

/// `yyyy-MM-dd HH:mm:ss` in Beijing time, as Alipay writes times.
pub fn alipay_time(at: Timestamp) -> String {
    beijing()
        .timestamp_millis_opt(at.as_millis())
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

// ---- WeChat Pay API v3 -----------------------------------------------------------------------

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
        if !(200..300).contains(&status) {
            return Err(ChannelError::Status(status, text));
        }
        let signed = SignedHeaders::from_lookup(|name| headers.get(name).and_then(|v| v.to_str().ok()))
            .map_err(|e| ChannelError::Signature(e.to_string()))?;
        self.platform
            .verify(&signed, &text, self.now_secs())
            .map_err(|e| ChannelError::Signature(e.to_string()))?;
        Ok((status, text))
    }

    fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ChannelError> {
        serde_json::from_str(text).map_err(|e| ChannelError::Protocol(e.to_string()))
    }

    pub async fn create(&self, request: &CreateRequest) -> Result<Value, ChannelError> {
        let kind = match request.method {
            PayMethod::Jsapi => "jsapi",
            PayMethod::H5 => "h5",
            _ => "native",
        };
        let mut body = json!({
            "appid": self.appid,
            "mchid": self.mchid,
            "description": request.description,
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
                    "paySign": wechat::rsa_sign(&self.key, message.as_bytes()),
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

    /// Asks for a refund; the same `out_refund_no` twice is one refund.
    pub async fn refund(
        &self,
        out_trade_no: &str,
        out_refund_no: &str,
        refund: Fen,
        total: Fen,
    ) -> Result<bool, ChannelError> {
        let body = json!({
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "reason": "flash-sale payment refunded",
            "amount": {"refund": refund.as_i64(), "total": total.as_i64(), "currency": "CNY"},
        });
        let (_, text) = self.call("POST", "/v3/refund/domestic/refunds", Some(&body)).await?;
        let answer: Value = Self::parse(&text)?;
        Ok(answer["status"].as_str() == Some("SUCCESS"))
    }

    /// The trade bill of a Beijing calendar day (`yyyy-MM-dd`).
    pub async fn statement(&self, bill_date: &str) -> Result<Vec<StatementLine>, ChannelError> {
        let (_, text) = self
            .call("GET", &format!("/v3/bill/tradebill?bill_date={bill_date}&bill_type=ALL"), None)
            .await?;
        let answer: Value = Self::parse(&text)?;
        let url = answer["download_url"]
            .as_str()
            .ok_or_else(|| ChannelError::Protocol("no download_url".into()))?;
        let path = url.strip_prefix(&self.base_url).unwrap_or(url).to_owned();
        // The bill itself is not signed; it is fetched with a signed request.
        let (timestamp, nonce) = (self.now_secs(), nonce(32));
        let signer = RequestSigner { mchid: &self.mchid, serial_no: &self.serial_no, key: &self.key };
        let csv = self
            .http
            .get(format!("{}{path}", self.base_url))
            .header("Authorization", signer.authorization("GET", &path, timestamp, &nonce, ""))
            .send()
            .await
            .map_err(transport)?
            .text()
            .await
            .map_err(transport)?;
        parse_wechat_bill(&csv)
    }

    /// Verifies and decrypts a notification; `None` if it is about something else than a
    /// successful payment of ours.
    pub fn open_notification(
        &self,
        headers: &SignedHeaders,
        body: &str,
    ) -> Result<Option<VerifiedPayment>, wechat::VerifyError> {
        let (notification, transaction) =
            wechat::open_notification(&self.platform, &self.api_v3_key, headers, body, self.now_secs())?;
        if transaction.mchid != self.mchid || transaction.appid != self.appid {
            return Err(wechat::VerifyError::Malformed("notification for another merchant".into()));
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

/// WeChat Pay's trade bill: a header row, then rows whose fields start with a backtick.
pub fn parse_wechat_bill(csv_text: &str) -> Result<Vec<StatementLine>, ChannelError> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(csv_text.as_bytes());
    let headers = reader.headers().map_err(|e| ChannelError::Protocol(e.to_string()))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| ChannelError::Protocol(format!("bill has no {name}")))
    };
    let (txn, out_no, state, amount, refund) = (
        column("微信订单号")?,
        column("商户订单号")?,
        column("交易状态")?,
        column("应结订单金额")?,
        column("退款金额")?,
    );
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ChannelError::Protocol(e.to_string()))?;
        let field = |i: usize| record.get(i).unwrap_or_default().trim_start_matches('`').to_owned();
        if field(0).starts_with("总") {
            break; // the summary section
        }
        let (kind, yuan) = match field(state).as_str() {
            "SUCCESS" => ("PAY", field(amount)),
            "REFUND" => ("REFUND", field(refund)),
            _ => continue,
        };
        let fen = parse_yuan(&yuan).ok_or_else(|| ChannelError::Protocol(format!("amount {yuan:?}")))?;
        lines.push(StatementLine {
            transaction_id: field(txn),
            out_trade_no: field(out_no),
            kind: kind.into(),
            amount_fen: fen.as_i64(),
        });
    }
    Ok(lines)
}

// ---- Alipay ----------------------------------------------------------------------------------

pub struct AlipayClient {
    pub http: reqwest::Client,
    pub gateway_url: String,
    pub app_id: String,
    pub key: RsaPrivateKey,
    pub alipay_public: RsaPublicKey,
    pub notify_url: String,
    pub clock: Arc<dyn Clock>,
}

impl AlipayClient {
    fn params(&self, method: &str, biz_content: &Value, notify: bool) -> BTreeMap<String, String> {
        let mut params: BTreeMap<String, String> = [
            ("app_id", self.app_id.clone()),
            ("method", method.to_owned()),
            ("format", "JSON".to_owned()),
            ("charset", "utf-8".to_owned()),
            ("timestamp", alipay_time(self.clock.now())),
            ("version", "1.0".to_owned()),
            ("biz_content", biz_content.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if notify {
            params.insert("notify_url".into(), self.notify_url.clone());
        }
        alipay::sign(&self.key, &mut params, true);
        params
    }

    /// One signed call; the `…_response` node's signature is verified before it is believed.
    async fn call(&self, method: &str, biz_content: Value, notify: bool) -> Result<Value, ChannelError> {
        let params = self.params(method, &biz_content, notify);
        let body = serde_urlencoded::to_string(&params).map_err(|e| ChannelError::Protocol(e.to_string()))?;
        let response = send_retrying_once(|| {
            self.http
                .post(&self.gateway_url)
                .header("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
                .body(body.clone())
        })
        .await?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            return Err(ChannelError::Status(status, text));
        }
        let node_name = format!("{}_response", method.replace('.', "_"));
        let envelope: BTreeMap<String, &serde_json::value::RawValue> =
            serde_json::from_str(&text).map_err(|e| ChannelError::Protocol(e.to_string()))?;
        let node =
            envelope.get(&node_name).ok_or_else(|| ChannelError::Protocol(format!("no {node_name}")))?;
        let sign: String = envelope
            .get("sign")
            .and_then(|s| serde_json::from_str(s.get()).ok())
            .ok_or_else(|| ChannelError::Signature("unsigned answer".into()))?;
        if !wechat::rsa_verify(&self.alipay_public, node.get().as_bytes(), &sign) {
            return Err(ChannelError::Signature("answer signature does not verify".into()));
        }
        let node: Value =
            serde_json::from_str(node.get()).map_err(|e| ChannelError::Protocol(e.to_string()))?;
        if node["code"].as_str() != Some("10000") {
            return Err(ChannelError::Refused {
                code: node["sub_code"].as_str().or(node["code"].as_str()).unwrap_or("?").to_owned(),
                message: node["sub_msg"].as_str().or(node["msg"].as_str()).unwrap_or("").to_owned(),
            });
        }
        Ok(node)
    }

    pub async fn create(&self, request: &CreateRequest) -> Result<Value, ChannelError> {
        let biz = json!({
            "out_trade_no": request.out_trade_no,
            "total_amount": format_yuan(request.amount),
            "subject": request.description,
            "time_expire": alipay_time(request.expires_at),
        });
        if request.method == PayMethod::Wap {
            // A page redirect, not a server call: the buyer's browser opens the signed URL.
            let mut biz = biz;
            biz["product_code"] = json!("QUICK_WAP_WAY");
            let params = self.params("alipay.trade.wap.pay", &biz, true);
            let query =
                serde_urlencoded::to_string(&params).map_err(|e| ChannelError::Protocol(e.to_string()))?;
            return Ok(json!({ "pay_url": format!("{}?{query}", self.gateway_url) }));
        }
        let node = self.call("alipay.trade.precreate", biz, true).await?;
        let qr = node["qr_code"].as_str().ok_or_else(|| ChannelError::Protocol("no qr_code".into()))?;
        Ok(json!({ "qr_code": qr }))
    }

    pub async fn query(&self, out_trade_no: &str) -> Result<TradeStatus, ChannelError> {
        let node = match self.call("alipay.trade.query", json!({ "out_trade_no": out_trade_no }), false).await
        {
            Err(ChannelError::Refused { code, .. }) if code == "ACQ.TRADE_NOT_EXIST" => {
                return Ok(TradeStatus::NotPaid);
            }
            other => other?,
        };
        if node["out_trade_no"].as_str() != Some(out_trade_no) {
            return Err(ChannelError::Protocol("query answered about another trade".into()));
        }
        Ok(match node["trade_status"].as_str() {
            Some("TRADE_SUCCESS" | "TRADE_FINISHED") => {
                let amount = node["total_amount"]
                    .as_str()
                    .and_then(parse_yuan)
                    .ok_or_else(|| ChannelError::Protocol("total_amount".into()))?;
                let transaction_id = node["trade_no"].as_str().unwrap_or_default().to_owned();
                TradeStatus::Paid { transaction_id, amount }
            }
            Some("TRADE_CLOSED") => TradeStatus::Closed,
            _ => TradeStatus::NotPaid,
        })
    }

    pub async fn close(&self, out_trade_no: &str) -> Result<(), ChannelError> {
        match self.call("alipay.trade.close", json!({ "out_trade_no": out_trade_no }), false).await {
            Err(ChannelError::Refused { code, .. }) if code == "ACQ.TRADE_NOT_EXIST" => Ok(()),
            other => other.map(|_| ()),
        }
    }

    pub async fn refund(
        &self,
        out_trade_no: &str,
        out_refund_no: &str,
        refund: Fen,
    ) -> Result<bool, ChannelError> {
        let biz = json!({
            "out_trade_no": out_trade_no,
            "refund_amount": format_yuan(refund),
            "out_request_no": out_refund_no,
            "refund_reason": "flash-sale payment refunded",
        });
        let node = self.call("alipay.trade.refund", biz, false).await?;
        Ok(node["fund_change"].as_str() == Some("Y") || node["refund_fee"].as_str().is_some())
    }

    pub async fn statement(&self, bill_date: &str) -> Result<Vec<StatementLine>, ChannelError> {
        let biz = json!({ "bill_type": "trade", "bill_date": bill_date });
        let node = self.call("alipay.data.dataservice.bill.downloadurl.query", biz, false).await?;
        let url = node["bill_download_url"]
            .as_str()
            .ok_or_else(|| ChannelError::Protocol("no bill_download_url".into()))?;
        let csv = self.http.get(url).send().await.map_err(transport)?.text().await.map_err(transport)?;
        parse_alipay_bill(&csv)
    }

    /// Verifies a notification; `None` if it is not a successful payment.
    pub fn open_notification(
        &self,
        params: &BTreeMap<String, String>,
    ) -> Result<Option<VerifiedPayment>, alipay::VerifyError> {
        let trade = alipay::open_notification(&self.alipay_public, params)?;
        if trade.app_id != self.app_id {
            return Err(alipay::VerifyError::Malformed("app_id"));
        }
        if !trade.is_paid() {
            return Ok(None);
        }
        Ok(Some(VerifiedPayment {
            channel: Channel::Alipay,
            out_trade_no: trade.out_trade_no,
            transaction_id: trade.trade_no,
            amount: trade.total_amount,
        }))
    }
}

/// Alipay's trade bill (business detail): `支付宝交易号,商户订单号,业务类型,…,订单金额（元）,…`.
pub fn parse_alipay_bill(csv_text: &str) -> Result<Vec<StatementLine>, ChannelError> {
    let body: String = csv_text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(body.as_bytes());
    let headers = reader.headers().map_err(|e| ChannelError::Protocol(e.to_string()))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| ChannelError::Protocol(format!("bill has no {name}")))
    };
    let (txn, out_no, kind, amount) =
        (column("支付宝交易号")?, column("商户订单号")?, column("业务类型")?, column("订单金额（元）")?);
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ChannelError::Protocol(e.to_string()))?;
        let field = |i: usize| record.get(i).unwrap_or_default().trim().to_owned();
        let kind = match field(kind).as_str() {
            "交易" => "PAY",
            "退款" => "REFUND",
            _ => continue,
        };
        let raw = field(amount);
        let fen = parse_yuan(raw.trim_start_matches('-'))
            .ok_or_else(|| ChannelError::Protocol(format!("amount {raw:?}")))?;
        lines.push(StatementLine {
            transaction_id: field(txn),
            out_trade_no: field(out_no),
            kind: kind.into(),
            amount_fen: fen.as_i64(),
        });
    }
    Ok(lines)
}

// ---- both, with failover ---------------------------------------------------------------------

/// The configured channels, in order of preference, with the memory of which one failed.
pub struct Channels {
    pub wechat: Option<WechatClient>,
    pub alipay: Option<AlipayClient>,
    pub preference: Vec<Channel>,
    down_until: DashMap<Channel, Instant>,
    cooldown: Duration,
    /// Channels served by this server's own sandbox.
    pub bundled: Vec<Channel>,
}

impl Channels {
    pub fn new(
        wechat: Option<WechatClient>,
        alipay: Option<AlipayClient>,
        preference: Vec<Channel>,
        cooldown: Duration,
    ) -> Self {
        Self { wechat, alipay, preference, down_until: DashMap::new(), cooldown, bundled: Vec::new() }
    }

    pub fn is_bundled_sandbox(&self, channel: Channel) -> bool {
        self.bundled.contains(&channel)
    }

    pub fn is_down(&self, channel: Channel) -> bool {
        self.down_until.get(&channel).is_some_and(|until| Instant::now() < *until)
    }

    pub fn mark_down(&self, channel: Channel) {
        metrics::counter!("flashsale_channel_failures_total", "channel" => channel.as_str()).increment(1);
        self.down_until.insert(channel, Instant::now() + self.cooldown);
    }

    pub fn mark_up(&self, channel: Channel) {
        self.down_until.remove(&channel);
    }

    pub fn offered(&self, channel: Channel) -> bool {
        self.preference.contains(&channel)
            && match channel {
                Channel::Wechat => self.wechat.is_some(),
                Channel::Alipay => self.alipay.is_some(),
            }
    }

    /// The order to try channels in for a buyer who asked for `wanted`: that one first (unless
    /// it is known to be down), then the others by preference, known-down ones last.
    pub fn failover_order(&self, wanted: Channel) -> Vec<Channel> {
        let mut order: Vec<Channel> = std::iter::once(wanted)
            .chain(self.preference.iter().copied().filter(|c| *c != wanted))
            .filter(|c| self.offered(*c))
            .collect();
        order.sort_by_key(|c| self.is_down(*c));
        order
    }

    pub async fn create(&self, channel: Channel, request: &CreateRequest) -> Result<Value, ChannelError> {
        match channel {
            Channel::Wechat => {
                self.wechat.as_ref().ok_or(ChannelError::Disabled("wechat"))?.create(request).await
            }
            Channel::Alipay => {
                self.alipay.as_ref().ok_or(ChannelError::Disabled("alipay"))?.create(request).await
            }
        }
    }

    pub async fn query(&self, channel: Channel, out_trade_no: &str) -> Result<TradeStatus, ChannelError> {
        match channel {
            Channel::Wechat => {
                self.wechat.as_ref().ok_or(ChannelError::Disabled("wechat"))?.query(out_trade_no).await
            }
            Channel::Alipay => {
                self.alipay.as_ref().ok_or(ChannelError::Disabled("alipay"))?.query(out_trade_no).await
            }
        }
    }

    pub async fn close(&self, channel: Channel, out_trade_no: &str) -> Result<(), ChannelError> {
        match channel {
            Channel::Wechat => {
                self.wechat.as_ref().ok_or(ChannelError::Disabled("wechat"))?.close(out_trade_no).await
            }
            Channel::Alipay => {
                self.alipay.as_ref().ok_or(ChannelError::Disabled("alipay"))?.close(out_trade_no).await
            }
        }
    }

    pub async fn refund(
        &self,
        channel: Channel,
        out_trade_no: &str,
        out_refund_no: &str,
        amount: Fen,
    ) -> Result<bool, ChannelError> {
        match channel {
            Channel::Wechat => {
                let client = self.wechat.as_ref().ok_or(ChannelError::Disabled("wechat"))?;
                client.refund(out_trade_no, out_refund_no, amount, amount).await
            }
            Channel::Alipay => {
                let client = self.alipay.as_ref().ok_or(ChannelError::Disabled("alipay"))?;
                client.refund(out_trade_no, out_refund_no, amount).await
            }
        }
    }

    pub async fn statement(
        &self,
        channel: Channel,
        bill_date: &str,
    ) -> Result<Vec<StatementLine>, ChannelError> {
        match channel {
            Channel::Wechat => {
                self.wechat.as_ref().ok_or(ChannelError::Disabled("wechat"))?.statement(bill_date).await
            }
            Channel::Alipay => {
                self.alipay.as_ref().ok_or(ChannelError::Disabled("alipay"))?.statement(bill_date).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wechat_bills_read_payments_and_refunds_and_stop_at_the_summary() {
        let bill = "交易时间,公众账号ID,商户号,微信订单号,商户订单号,交易状态,应结订单金额,微信退款单号,商户退款单号,退款金额\n\
                    `2026-11-25 10:00:00,`wx1,`1900000109,`4200001,`FS1W,`SUCCESS,`19.80,`,`,`0.00\n\
                    `2026-11-25 10:05:00,`wx1,`1900000109,`4200002,`FS2W,`REFUND,`0.00,`5030001,`RFS2W,`9.90\n\
                    `2026-11-25 10:06:00,`wx1,`1900000109,`4200003,`FS3W,`CLOSED,`0.00,`,`,`0.00\n\
                    总交易单数,应结订单总金额,退款总金额\n\
                    `2,`19.80,`9.90\n";
        let lines = parse_wechat_bill(bill).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].transaction_id.as_str(), lines[0].kind.as_str(), lines[0].amount_fen),
            ("4200001", "PAY", 1_980)
        );
        assert_eq!(
            (lines[1].out_trade_no.as_str(), lines[1].kind.as_str(), lines[1].amount_fen),
            ("FS2W", "REFUND", 990)
        );
        assert!(parse_wechat_bill("交易时间,微信订单号\n`x,`y\n").is_err(), "a bill without its columns");
    }

    #[test]
    fn alipay_bills_skip_comments_and_read_signed_refunds() {
        let bill = "#支付宝业务明细查询\n#账号：[x]\n\
                    支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,订单金额（元）\n\
                    2026001,FS1A,交易,口红,2026-11-25 10:00:00,2026-11-25 10:00:01,19.80\n\
                    2026001,FS1A,退款,口红,2026-11-25 11:00:00,2026-11-25 11:00:01,-19.80\n\
                    #业务明细列表结束\n";
        let lines = parse_alipay_bill(bill).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].kind.as_str(), lines[0].amount_fen), ("PAY", 1_980));
        assert_eq!((lines[1].kind.as_str(), lines[1].amount_fen), ("REFUND", 1_980));
        assert!(
            parse_alipay_bill("支付宝交易号,商户订单号,业务类型,订单金额（元）\nx,y,交易,1.234\n").is_err()
        );
    }

    #[test]
    fn failover_keeps_the_kind_of_payment() {
        assert_eq!(PayMethod::Native.on(Channel::Alipay), PayMethod::Precreate);
        assert_eq!(PayMethod::H5.on(Channel::Alipay), PayMethod::Wap);
        assert_eq!(PayMethod::Wap.on(Channel::Wechat), PayMethod::H5);
        assert_eq!(PayMethod::Precreate.on(Channel::Alipay), PayMethod::Precreate);
        assert_eq!(PayMethod::parse(Channel::Wechat, Some("precreate")), None);
    }
}
