//! The cashier pages of the payment sandboxes: where the real channels show their H5 / WAP
//! cashier, a person sees what is paid and to whom, and pays with one tap. Like the real
//! ones, they go back to the merchant's page afterwards: WeChat Pay to the `redirect_url`
//! appended to `h5_url`, Alipay to the request's `return_url`; only to the platform's own
//! pages (`public_url`), as the channels only return to a merchant's registered domain.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use engine::Fen;
use engine::ledger::Channel;
use providers::payments::yuan::format_yuan;
use serde::Deserialize;

use super::Sandbox;
use super::wechat::html_escape;

/// The pay button's form.
#[derive(Deserialize)]
pub(crate) struct CashierForm {
    pub out_trade_no: String,
    #[serde(default)]
    pub return_to: Option<String>,
}

fn brand(channel: Channel) -> (&'static str, &'static str, &'static str) {
    match channel {
        Channel::Wechat => ("微信支付", "#07c160", "确认支付"),
        Channel::Alipay => ("支付宝", "#1677ff", "确认付款"),
        Channel::Douyin => ("抖音支付", "#161823", "确认支付"),
        Channel::Kuaishou => ("快手支付", "#ff4906", "确认支付"),
    }
}

/// The cashier of one trade.
pub(crate) fn page(
    channel: Channel,
    subject: &str,
    amount: Fen,
    out_trade_no: &str,
    return_to: Option<&str>,
) -> HttpResponse {
    let (name, color, action) = brand(channel);
    let back = return_to
        .map(|url| format!("<input type=hidden name=return_to value=\"{}\">", html_escape(url)))
        .unwrap_or_default();
    let body = format!(
        "<!doctype html><html lang=zh-CN><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\"><title>{name} · 沙箱收银台</title>\
         <style>body{{margin:0;font-family:system-ui,-apple-system,\"PingFang SC\",\"Microsoft YaHei\",sans-serif;background:#f4f4f6;color:#1c1c1e}}\
         header{{background:{color};color:#fff;padding:14px 16px;font-weight:700}}main{{max-width:480px;margin:0 auto;padding:16px}}\
         .card{{background:#fff;border-radius:12px;padding:20px;text-align:center}}.amount{{font-size:36px;font-weight:700;margin:8px 0}}\
         .muted{{color:#5f6368;font-size:14px}}button{{width:100%;min-height:48px;border:0;border-radius:8px;background:{color};\
         color:#fff;font-size:17px;font-weight:700;margin-top:16px}}</style>\
         <header>{name} <small>沙箱 sandbox</small></header><main><div class=card><p class=muted>{}</p>\
         <p class=amount>¥{}</p><p class=muted>商户订单号 {}</p>\
         <form method=post action=\"pay-form\"><input type=hidden name=out_trade_no value=\"{}\">{back}\
         <button>{action} Pay</button></form></div>\
         <p class=muted>演示环境：不会产生真实扣款。Demo only: no real money moves.</p></main></html>",
        html_escape(subject),
        format_yuan(amount),
        html_escape(out_trade_no),
        html_escape(out_trade_no),
    );
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body)
}

/// After the tap: pays the trade, then back to the merchant's page when it named one of the
/// platform's own.
pub(crate) fn pay(sandbox: web::Data<Sandbox>, channel: Channel, form: CashierForm) -> HttpResponse {
    let sandbox = sandbox.into_inner();
    if let Err(message) = sandbox.pay(channel, &form.out_trade_no) {
        return HttpResponse::Conflict().content_type("text/plain; charset=utf-8").body(message);
    }
    let own = format!("{}/", sandbox.settings.public_url.trim_end_matches('/'));
    match form.return_to.filter(|url| url.starts_with(&own)) {
        Some(url) => HttpResponse::SeeOther().insert_header((header::LOCATION, url)).finish(),
        None => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body("<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width\"><p>支付成功 Paid.</p>"),
    }
}
