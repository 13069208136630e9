//! The Alipay open-platform sandbox: one gateway (`gateway.do`) that verifies the app's RSA2
//! signature, dispatches on `method`, and answers `{"<method>_response": {…}, "sign": "…"}`
//! with the node signed by Alipay's key.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use engine::Fen;
use engine::ledger::Channel;
use providers::crypto::rsa_sign;
use providers::payments::alipay::protocol::{self as protocol, alipay_time};
use providers::payments::yuan::{format_yuan, parse_yuan};
use serde_json::{Value, json};

use super::wechat::{PayQuery, html_escape};
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
        let name = format!("{}_response", method.replace('.', "_"));
        let node_text = node.to_string();
        let sign = rsa_sign(&self.keys.alipay_platform, node_text.as_bytes());
        let body = format!("{{\"{name}\":{node_text},\"sign\":{}}}", Value::String(sign));
        HttpResponse::Ok().content_type("application/json; charset=utf-8").body(body)
    }
}

fn failure(code: &str, sub_code: &str, sub_msg: &str) -> Value {
    json!({ "code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg })
}

fn trade_node(trade: &Trade) -> Value {
    let status = match (trade.state, trade.refunded() == trade.amount) {
        (TradeState::Success, true) => "TRADE_CLOSED",
        (TradeState::Success, false) => "TRADE_SUCCESS",
        (TradeState::Closed, _) => "TRADE_CLOSED",
        (TradeState::NotPay, _) => "WAIT_BUYER_PAY",
    };
    json!({
        "code": "10000",
        "msg": "Success",
        "trade_no": trade.transaction_id,
        "out_trade_no": trade.out_trade_no,
        "trade_status": status,
        "total_amount": format_yuan(trade.amount),
        "send_pay_date": trade.paid_at.map(alipay_time).unwrap_or_default(),
    })
}

/// `POST gateway.do`: every API of the open platform.
async fn gateway(sandbox: web::Data<Sandbox>, body: String) -> HttpResponse {
    let Ok(params) = serde_urlencoded::from_str::<BTreeMap<String, String>>(&body) else {
        return HttpResponse::BadRequest().body("malformed form");
    };
    let method = params.get("method").cloned().unwrap_or_default();
    if sandbox.is_down(Channel::Alipay) {
        return HttpResponse::ServiceUnavailable().body("alipay sandbox outage");
    }
    if params.get("app_id") != Some(&sandbox.settings.alipay_app_id) {
        return sandbox.alipay_answer(&method, failure("40002", "isv.invalid-app-id", "无效的AppID参数"));
    }
    if protocol::verify(&sandbox.keys.alipay_app.to_public_key(), &params, true).is_err() {
        return sandbox.alipay_answer(&method, failure("40002", "isv.invalid-signature", "验签出错"));
    }
    let biz: Value =
        params.get("biz_content").and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
    let text = |name: &str| biz[name].as_str().unwrap_or_default().to_owned();
    let out_trade_no = text("out_trade_no");
    let not_exist = || failure("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在");
    let node = match method.as_str() {
        "alipay.trade.precreate" => {
            let Some(amount) = parse_yuan(&text("total_amount")).filter(|a| a.as_i64() > 0) else {
                return sandbox
                    .alipay_answer(&method, failure("40004", "ACQ.INVALID_PARAMETER", "total_amount"));
            };
            let notify_url = params.get("notify_url").cloned().unwrap_or_default();
            match sandbox.open_trade(Channel::Alipay, &out_trade_no, amount, &text("subject"), &notify_url) {
                Ok(trade) if trade.state == TradeState::NotPay => json!({
                    "code": "10000",
                    "msg": "Success",
                    "out_trade_no": out_trade_no,
                    "qr_code": format!("https://qr.alipay.com/sandbox{out_trade_no}"),
                }),
                Ok(_) => failure("40004", "ACQ.TRADE_HAS_SUCCESS", "交易已被支付"),
                Err(message) => failure("40004", "ACQ.INVALID_PARAMETER", message),
            }
        }
        "alipay.trade.query" => match sandbox.trade(Channel::Alipay, &out_trade_no) {
            Some(trade) => trade_node(&trade),
            None => not_exist(),
        },
        "alipay.trade.close" => match sandbox.close(Channel::Alipay, &out_trade_no) {
            Ok(()) => json!({ "code": "10000", "msg": "Success", "out_trade_no": out_trade_no }),
            Err(_) if sandbox.trade(Channel::Alipay, &out_trade_no).is_none() => not_exist(),
            Err(message) => failure("40004", "ACQ.TRADE_STATUS_ERROR", message),
        },
        "alipay.trade.refund" => {
            let amount = parse_yuan(&text("refund_amount")).unwrap_or(Fen(0));
            match sandbox.refund(Channel::Alipay, &out_trade_no, &text("out_request_no"), amount) {
                Ok((trade, refund)) => json!({
                    "code": "10000",
                    "msg": "Success",
                    "trade_no": trade.transaction_id,
                    "out_trade_no": trade.out_trade_no,
                    "refund_fee": format_yuan(trade.refunded()),
                    "fund_change": "Y",
                    "gmt_refund_pay": alipay_time(refund.at),
                }),
                Err(message) => failure("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", message),
            }
        }
        "alipay.data.dataservice.bill.downloadurl.query" => json!({
            "code": "10000",
            "msg": "Success",
            "bill_download_url": format!("{}/sandbox/alipay/bill/{}", sandbox.settings.public_url, text("bill_date")),
        }),
        _ => failure("40004", "isv.invalid-method", "不存在的方法名"),
    };
    sandbox.alipay_answer(&method, node)
}

/// `GET gateway.do?…method=alipay.trade.wap.pay…`: the cashier page a WAP payment opens.
async fn cashier(sandbox: web::Data<Sandbox>, query: web::Query<BTreeMap<String, String>>) -> HttpResponse {
    let params = query.into_inner();
    if protocol::verify(&sandbox.keys.alipay_app.to_public_key(), &params, true).is_err() {
        return HttpResponse::BadRequest().body("验签出错 signature does not verify");
    }
    let biz: Value =
        params.get("biz_content").and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
    let out_trade_no = biz["out_trade_no"].as_str().unwrap_or_default();
    let Some(amount) = biz["total_amount"].as_str().and_then(parse_yuan) else {
        return HttpResponse::BadRequest().body("total_amount");
    };
    let subject = biz["subject"].as_str().unwrap_or_default();
    let notify_url = params.get("notify_url").cloned().unwrap_or_default();
    if let Err(message) = sandbox.open_trade(Channel::Alipay, out_trade_no, amount, subject, &notify_url) {
        return HttpResponse::BadRequest().body(message);
    }
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html><meta charset=utf-8><title>支付宝 sandbox</title><h1>支付宝 sandbox</h1><p>{} — ¥{}</p>\
         <form method=post action=\"pay-form\"><input type=hidden name=out_trade_no value=\"{}\"><button>确认付款 Pay</button></form>",
        html_escape(subject),
        format_yuan(amount),
        html_escape(out_trade_no)
    ))
}

async fn pay_form(sandbox: web::Data<Sandbox>, form: web::Form<PayQuery>) -> HttpResponse {
    let sandbox = sandbox.into_inner();
    match sandbox.pay(Channel::Alipay, &form.out_trade_no) {
        Ok(_) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body("<!doctype html><p>支付成功 Paid.</p>"),
        Err(message) => HttpResponse::Conflict().body(message),
    }
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
        .route("/alipay/gateway.do", web::get().to(cashier))
        .route("/alipay/pay-form", web::post().to(pay_form))
        .route("/alipay/bill/{date}", web::get().to(bill));
}
