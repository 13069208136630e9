//! The Alipay open-platform client: signs every request with the app key (RSA2), verifies the
//! signature of every `…_response` node before believing it, and opens notifications.

use std::collections::BTreeMap;
use std::sync::Arc;

use engine::ledger::Channel;
use engine::time::Clock;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};

use super::bill::parse_bill;
use super::protocol::{self, alipay_time};
use crate::crypto::rsa_verify;
use crate::payments::http::{send_retrying_once, transport};
use crate::payments::types::cut_to_bytes;
use crate::payments::yuan::{format_yuan, yuan_field};
use crate::payments::{
    ChannelError, ChannelFuture, CreateRequest, PayMethod, PaymentChannel, RefundRequest, StatementLine,
    TradeStatus, VerifiedPayment,
};

/// Alipay `subject` is String(256): longer ones refuse the whole payment.
const SUBJECT_MAX_BYTES: usize = 256;
/// An app's account at Alipay (direct mode), and the keys to talk to it.
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
        self.params_returning(method, biz_content, notify, None)
    }

    /// [`Self::params`] with the public `return_url` (page payments only), signed with the rest.
    fn params_returning(
        &self,
        method: &str,
        biz_content: &Value,
        notify: bool,
        return_url: Option<&str>,
    ) -> BTreeMap<String, String> {
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
        if let Some(url) = return_url {
            params.insert("return_url".into(), url.to_owned());
        }
        protocol::sign(&self.key, &mut params, true);
        params
    }

    /// One signed call; the `…_response` node's signature is verified before it is believed.
    /// Sent as Alipay's Java SDK sends it: the system parameters in the query string,
    /// `biz_content` in the form body. The node, and its text (amounts are read from the text,
    /// exactly).
    async fn call(
        &self,
        method: &str,
        biz_content: Value,
        notify: bool,
    ) -> Result<(Value, String), ChannelError> {
        let params = self.params(method, &biz_content, notify);
        let (query, body) = protocol::split_for_post(&params);
        let url = format!("{}?{query}", self.gateway_url);
        let response = send_retrying_once(|| {
            self.http
                .post(&url)
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
        if !rsa_verify(&self.alipay_public, node.get().as_bytes(), &sign) {
            return Err(ChannelError::Signature("answer signature does not verify".into()));
        }
        let node_text = node.get().to_owned();
        let node: Value =
            serde_json::from_str(&node_text).map_err(|e| ChannelError::Protocol(e.to_string()))?;
        if node["code"].as_str() != Some("10000") {
            return Err(ChannelError::Refused {
                code: node["sub_code"].as_str().or(node["code"].as_str()).unwrap_or("?").to_owned(),
                message: node["sub_msg"].as_str().or(node["msg"].as_str()).unwrap_or("").to_owned(),
            });
        }
        Ok((node, node_text))
    }

    pub async fn create(&self, request: &CreateRequest) -> Result<Value, ChannelError> {
        if request.sub_merchant.is_some() || request.split.is_some() {
            // 直付通 has its own fields; until it is spoken, money meant for a sub-merchant must
            // not be taken into the platform's own account.
            return Err(ChannelError::Disabled("alipay partner mode"));
        }
        let biz = json!({
            "out_trade_no": request.out_trade_no,
            "total_amount": format_yuan(request.amount),
            "subject": cut_to_bytes(&request.description, SUBJECT_MAX_BYTES),
            "time_expire": alipay_time(request.expires_at),
        });
        if request.method == PayMethod::Wap {
            // A page redirect, not a server call: the buyer's browser opens the signed URL.
            let mut biz = biz;
            biz["product_code"] = json!("QUICK_WAP_WAY");
            if let Some(url) = &request.return_url {
                // The cashier's "back" button leads to the same page as a finished payment.
                biz["quit_url"] = json!(url);
            }
            let params =
                self.params_returning("alipay.trade.wap.pay", &biz, true, request.return_url.as_deref());
            let query =
                serde_urlencoded::to_string(&params).map_err(|e| ChannelError::Protocol(e.to_string()))?;
            return Ok(json!({ "pay_url": format!("{}?{query}", self.gateway_url) }));
        }
        let (node, _) = self.call("alipay.trade.precreate", biz, true).await?;
        let qr = node["qr_code"].as_str().ok_or_else(|| ChannelError::Protocol("no qr_code".into()))?;
        Ok(json!({ "qr_code": qr }))
    }

    pub async fn query(&self, out_trade_no: &str) -> Result<TradeStatus, ChannelError> {
        let (node, text) =
            match self.call("alipay.trade.query", json!({ "out_trade_no": out_trade_no }), false).await {
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
                let amount = yuan_field(&text, "total_amount")
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

    /// Asks for a refund; the same `out_refund_no` (`out_request_no`) twice is one refund.
    pub async fn refund(&self, request: &RefundRequest) -> Result<bool, ChannelError> {
        let biz = json!({
            "out_trade_no": request.out_trade_no,
            "refund_amount": format_yuan(request.refund),
            "out_request_no": request.out_refund_no,
            "refund_reason": "flash-sale payment refunded",
        });
        let (node, _) = self.call("alipay.trade.refund", biz, false).await?;
        // Alipay refunds at once: `fund_change` Y, or N when this out_request_no was refunded
        // before (a repeat); either way the refund is done.
        Ok(node["fund_change"].as_str() == Some("Y") || node["refund_fee"].as_str().is_some())
    }

    pub async fn statement(&self, bill_date: &str) -> Result<Vec<StatementLine>, ChannelError> {
        let biz = json!({ "bill_type": "trade", "bill_date": bill_date });
        let (node, _) = self.call("alipay.data.dataservice.bill.downloadurl.query", biz, false).await?;
        let url = node["bill_download_url"]
            .as_str()
            .ok_or_else(|| ChannelError::Protocol("no bill_download_url".into()))?;
        let csv = self.http.get(url).send().await.map_err(transport)?.text().await.map_err(transport)?;
        parse_bill(&csv)
    }

    /// Verifies a notification; `None` if it is not a successful payment.
    pub fn open_notification(
        &self,
        params: &BTreeMap<String, String>,
    ) -> Result<Option<VerifiedPayment>, protocol::VerifyError> {
        let trade = protocol::open_notification(&self.alipay_public, params)?;
        if trade.app_id != self.app_id {
            return Err(protocol::VerifyError::Malformed("app_id"));
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

impl PaymentChannel for AlipayClient {
    fn channel(&self) -> Channel {
        Channel::Alipay
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
