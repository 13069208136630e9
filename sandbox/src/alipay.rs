//! The Alipay open-platform sandbox: one gateway (`gateway.do`) that verifies the app's RSA2
//! signature, dispatches on `method`, and answers `{"<method>_response": {…}, "sign": "…"}`
//! with the node signed by Alipay's key.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use engine::Fen;
use engine::ledger::Channel;
use providers::crypto::rsa_sign;
use providers::payments::alipay::protocol::{self as protocol, alipay_time};
use providers::payments::yuan::{format_yuan, yuan_field};
use serde_json::{Value, json};

use super::{Notification, Sandbox, Trade, TradeState};

impl Sandbox {
    /// A `trade_status_sync` notification about `trade` saying `amount`, signed by Alipay.
    pub fn alipay_notification(&self, trade: &Trade, amount: Fen) -> Notification {
        let now = alipay_time(self.now());
        let mut params: BTreeMap<String, String> = [
            ("notify_time", now.clone()),
            ("notify_type", "trade_status_sync".to_owned()),
            ("notify_id", self.mint("ntf")),
            ("app_id", self.settings.alipay_app_id.clone()),
            ("charset", "utf-8".to_owned()),
            ("version", "1.0".to_owned()),
            ("trade_no", trade.transaction_id.clone()),
            ("out_trade_no", trade.out_trade_no.clone()),
            ("trade_status", "TRADE_SUCCESS".to_owned()),
            ("total_amount", format_yuan(amount)),
            ("receipt_amount", format_yuan(amount)),
            ("buyer_pay_amount", format_yuan(amount)),
            ("subject", trade.description.clone()),
            ("gmt_payment", trade.paid_at.map(alipay_time).unwrap_or(now)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        protocol::sign(&self.keys.alipay_platform, &mut params, false);
        Notification {
            url: trade.notify_url.clone(),
            headers: Vec::new(),
            content_type: "application/x-www-form-urlencoded;charset=utf-8",
            body: serde_urlencoded::to_string(&params).expect("string pairs encode"),
        }
    }

    fn alipay_answer(&self, method: &str, node: Value) -> HttpResponse {
        // A request without a method is answered as the gateway answers it, in `error_response`.
        let name = if method.is_empty() {
            "error_response".to_owned()
        } else {
            format!("{}_response", method.replace('.', "_"))
        };
        let node_text = node.to_string();
        let sign = rsa_sign(&self.keys.alipay_platform, node_text.as_bytes());
        let body = format!("{{\"{name}\":{node_text},\"sign\":{}}}", Value::String(sign));
        HttpResponse::Ok().content_type("application/json; charset=utf-8").body(body)
    }
}

/// A failed call as Alipay answers it: the gateway's fixed English `msg` for the `code`, the
/// Chinese `sub_msg` of the `sub_code`.
fn failure(code: &str, sub_code: &str, sub_msg: &str) -> Value {
    json!({ "code": code, "msg": protocol::gateway_msg(code), "sub_code": sub_code, "sub_msg": sub_msg })
}

fn success(mut node: Value) -> Value {
    node["code"] = json!("10000");
    node["msg"] = json!(protocol::gateway_msg("10000"));
    node
}

fn trade_node(trade: &Trade) -> Value {
    let status = match (trade.state, trade.refunded() == trade.amount) {
        (TradeState::Success, true) => "TRADE_CLOSED",
        (TradeState::Success, false) => "TRADE_SUCCESS",
        (TradeState::Closed, _) => "TRADE_CLOSED",
        (TradeState::NotPay, _) => "WAIT_BUYER_PAY",
    };
    let mut node = success(json!({
        "out_trade_no": trade.out_trade_no,
        "trade_status": status,
        "total_amount": format_yuan(trade.amount),
    }));
    // Not known before the buyer pays: left out rather than sent empty.
    if trade.state == TradeState::Success || !trade.transaction_id.is_empty() {
        node["trade_no"] = json!(trade.transaction_id);
    }
    if let Some(paid_at) = trade.paid_at {
        node["send_pay_date"] = json!(alipay_time(paid_at));
    }
    node
}

/// Page methods: the buyer's browser opens them (a GET of the signed URL) and gets the
/// cashier; every other method is an API call answered with a signed JSON node.
const PAGE_METHODS: [&str; 2] = ["alipay.trade.wap.pay", "alipay.trade.page.pay"];

/// `gateway.do`, GET or POST: the parameters come from the query string and the form body
/// alike (python-alipay-sdk sends them all in the query string, Alipay's Java SDK the system
/// parameters there and `biz_content` in the body).
async fn gateway(sandbox: web::Data<Sandbox>, req: HttpRequest, body: String) -> HttpResponse {
    let Some(params) = protocol::gateway_params(req.query_string(), &body) else {
        return HttpResponse::BadRequest().body("malformed query string or form");
    };
    let method = params.get("method").cloned().unwrap_or_default();
    if PAGE_METHODS.contains(&method.as_str()) {
        return cashier(&sandbox, &params);
    }
    if sandbox.is_down(Channel::Alipay) {
        return HttpResponse::ServiceUnavailable().body("alipay sandbox outage");
    }
    let node = api(&sandbox, &method, &params);
    sandbox.alipay_answer(&method, node)
}

/// The gateway's checks, in its order: what is missing, then the app, the signature, the method.
fn refusal(sandbox: &Sandbox, method: &str, params: &BTreeMap<String, String>) -> Option<Value> {
    let missing = [
        ("method", "isv.missing-method", "缺少方法名参数"),
        ("app_id", "isv.missing-app-id", "缺少AppID参数"),
        ("sign", "isv.missing-signature", "缺少签名参数"),
        ("sign_type", "isv.missing-signature-type", "缺少签名类型参数"),
    ];
    if let Some((_, sub_code, sub_msg)) =
        missing.iter().find(|(name, ..)| params.get(*name).is_none_or(String::is_empty))
    {
        return Some(failure("40001", sub_code, sub_msg));
    }
    if params.get("app_id") != Some(&sandbox.settings.alipay_app_id) {
        return Some(failure("40002", "isv.invalid-app-id", "无效的AppID参数"));
    }
    match protocol::verify(&sandbox.keys.alipay_app.to_public_key(), params, true) {
        Err(protocol::VerifyError::SignType) => {
            return Some(failure("40002", "isv.invalid-signature-type", "无效的签名类型"));
        }
        Err(_) => return Some(failure("40002", "isv.invalid-signature", "无效签名")),
        Ok(()) => {}
    }
    let known = [
        "alipay.trade.precreate",
        "alipay.trade.query",
        "alipay.trade.close",
        "alipay.trade.refund",
        "alipay.data.dataservice.bill.downloadurl.query",
    ];
    (!known.contains(&method)).then(|| failure("40002", "isv.invalid-method", "不存在的方法名"))
}

/// Every API method of the open platform that the sandbox speaks.
fn api(sandbox: &web::Data<Sandbox>, method: &str, params: &BTreeMap<String, String>) -> Value {
    if let Some(refused) = refusal(sandbox, method, params) {
        return refused;
    }
    let biz = params.get("biz_content").map(String::as_str).unwrap_or("{}");
    let Ok(fields) = serde_json::from_str::<Value>(biz) else {
        return failure("40002", "isv.invalid-format", "无效的数据格式");
    };
    let text = |name: &str| fields[name].as_str().unwrap_or_default().to_owned();
    // Amounts as strings or JSON numbers, read exactly (never through a float).
    let amount = |name: &str| yuan_field(biz, name).filter(|a| a.as_i64() > 0);
    let invalid = || failure("40004", "ACQ.INVALID_PARAMETER", "参数无效");
    let out_trade_no = text("out_trade_no");
    let not_exist = || failure("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在");
    match method {
        "alipay.trade.precreate" => {
            let Some(amount) = amount("total_amount") else { return invalid() };
            if out_trade_no.is_empty() {
                return invalid();
            }
            let notify_url = params.get("notify_url").cloned().unwrap_or_default();
            match sandbox.open_trade(
                Channel::Alipay,
                &out_trade_no,
                amount,
                &text("subject"),
                &notify_url,
                method,
            ) {
                Ok(trade) if trade.state == TradeState::NotPay => success(json!({
                    "out_trade_no": out_trade_no,
                    "qr_code": format!("https://qr.alipay.com/sandbox{out_trade_no}"),
                })),
                Ok(trade) if trade.state == TradeState::Success => {
                    failure("40004", "ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
                }
                Ok(_) => failure("40004", "ACQ.TRADE_HAS_CLOSE", "交易已经关闭"),
                Err(_) => invalid(),
            }
        }
        "alipay.trade.query" => match sandbox.trade(Channel::Alipay, &out_trade_no) {
            Some(trade) => trade_node(&trade),
            None => not_exist(),
        },
        "alipay.trade.close" => match sandbox.close(Channel::Alipay, &out_trade_no) {
            Ok(()) => success(json!({ "out_trade_no": out_trade_no })),
            Err(_) if sandbox.trade(Channel::Alipay, &out_trade_no).is_none() => not_exist(),
            Err(_) => failure("40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法"),
        },
        "alipay.trade.refund" => {
            let Some(amount) = amount("refund_amount") else { return invalid() };
            let out_request_no = text("out_request_no");
            let Some(before) = sandbox.trade(Channel::Alipay, &out_trade_no) else { return not_exist() };
            // The same out_request_no again is the same refund, and moves no money this time.
            let repeat = before.refunds.iter().any(|r| r.out_refund_no == out_request_no);
            match sandbox.refund(Channel::Alipay, &out_trade_no, &out_request_no, amount) {
                Ok((trade, refund)) => success(json!({
                    "trade_no": trade.transaction_id,
                    "out_trade_no": trade.out_trade_no,
                    "refund_fee": format_yuan(trade.refunded()),
                    "fund_change": if repeat { "N" } else { "Y" },
                    "gmt_refund_pay": alipay_time(refund.at),
                })),
                Err(_) if before.state != TradeState::Success => {
                    failure("40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
                }
                Err(_) => failure("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限"),
            }
        }
        "alipay.data.dataservice.bill.downloadurl.query" => success(json!({
            "bill_download_url": format!("{}/sandbox/alipay/bill/{}", sandbox.settings.public_url, text("bill_date")),
        })),
        _ => unreachable!("refusal() answers every method the sandbox does not speak"),
    }
}

/// `GET gateway.do?…method=alipay.trade.wap.pay…`: the cashier page a WAP payment opens.
fn cashier(sandbox: &Sandbox, params: &BTreeMap<String, String>) -> HttpResponse {
    if protocol::verify(&sandbox.keys.alipay_app.to_public_key(), params, true).is_err() {
        return HttpResponse::BadRequest().body("无效签名 signature does not verify");
    }
    let biz = params.get("biz_content").map(String::as_str).unwrap_or("{}");
    let fields: Value = serde_json::from_str(biz).unwrap_or(Value::Null);
    let out_trade_no = fields["out_trade_no"].as_str().unwrap_or_default();
    let Some(amount) = yuan_field(biz, "total_amount").filter(|a| a.as_i64() > 0) else {
        return HttpResponse::BadRequest().body("total_amount");
    };
    let subject = fields["subject"].as_str().unwrap_or_default();
    let notify_url = params.get("notify_url").cloned().unwrap_or_default();
    let method = params.get("method").map(String::as_str).unwrap_or_default();
    if let Err(message) =
        sandbox.open_trade(Channel::Alipay, out_trade_no, amount, subject, &notify_url, method)
    {
        return HttpResponse::BadRequest().body(message);
    }
    super::cashier::page(
        Channel::Alipay,
        subject,
        amount,
        out_trade_no,
        params.get("return_url").map(String::as_str),
    )
}

async fn pay_form(sandbox: web::Data<Sandbox>, form: web::Form<super::cashier::CashierForm>) -> HttpResponse {
    super::cashier::pay(sandbox, Channel::Alipay, form.into_inner())
}

/// The trade bill, laid out like Alipay's business detail file.
async fn bill(sandbox: web::Data<Sandbox>, date: web::Path<String>) -> HttpResponse {
    let mut csv = String::from("#支付宝业务明细查询\n#账号：[sandbox]\n");
    csv.push_str("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,订单金额（元）\n");
    for (trade, kind, amount, at, _) in sandbox.statement(Channel::Alipay, &date) {
        let (kind, sign) = if kind == "PAY" { ("交易", "") } else { ("退款", "-") };
        csv.push_str(&format!(
            "{},{},{kind},{},{},{},{sign}{}\n",
            trade.transaction_id,
            trade.out_trade_no,
            trade.description.replace(',', " "),
            alipay_time(at),
            alipay_time(at),
            format_yuan(amount)
        ));
    }
    csv.push_str("#业务明细列表结束\n");
    HttpResponse::Ok().content_type("text/csv; charset=utf-8").body(csv)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/alipay/gateway.do", web::post().to(gateway))
        .route("/alipay/gateway.do", web::get().to(gateway))
        .route("/alipay/pay-form", web::post().to(pay_form))
        .route("/alipay/bill/{date}", web::get().to(bill));
}
