//! Paying an order, and the channels' notifications.
//!
//! `POST /orders/{id}/payments {channel, method?, openid?}` creates the payment at the channel
//! (WeChat Native/JSAPI/H5, Alipay precreate/WAP) and returns what the page needs. A channel
//! that fails is skipped and the next one is offered (`failover: true`).
//!
//! Notifications are verified in full before anything is believed (WeChat: signature by the
//! platform key of `Wechatpay-Serial`, ±5 min, AES-256-GCM resource; Alipay: RSA2), then
//! checked against the payment (amount, channel, merchant) and applied exactly once.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use engine::OrderId;
use engine::ledger::Channel;
use engine::payment::PaymentState;
use persistence::payments::{self as repo, NewPayment};
use providers::payments::alipay::protocol as alipay;
use providers::payments::wechat::protocol::SignedHeaders;
use providers::payments::{ChannelError, CreateRequest, PayMethod};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::{BuyerAuth, Caller};
use crate::error::ApiError;
use crate::payments::{self, ReportError};
use crate::routes::orders::visible_order;
use crate::time::rfc3339;

#[derive(Deserialize)]
pub struct CreatePayment {
    channel: String,
    method: Option<String>,
    /// The payer's openid, for WeChat JSAPI payments inside WeChat.
    openid: Option<String>,
}

/// The channel's order number for an order: the order id and a channel letter.
pub fn out_trade_no(order_id: OrderId, channel: Channel) -> String {
    format!("FS{}{}", order_id.0, if channel == Channel::Wechat { "W" } else { "A" })
}

#[post("/orders/{id}/payments")]
pub async fn create(
    state: web::Data<AppState>,
    buyer: BuyerAuth,
    id: web::Path<i64>,
    request: HttpRequest,
    body: web::Json<CreatePayment>,
) -> Result<HttpResponse, ApiError> {
    let wanted = Channel::parse(&body.channel)
        .ok_or_else(|| ApiError::invalid("invalid_channel", "channel must be \"wechat\" or \"alipay\""))?;
    let method = PayMethod::parse(wanted, body.method.as_deref()).ok_or_else(|| {
        ApiError::invalid("invalid_method", "method: wechat native|jsapi|h5, alipay precreate|wap")
    })?;
    if method == PayMethod::Jsapi && body.openid.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::invalid("openid_required", "a JSAPI payment needs the payer's openid"));
    }
    if !state.channels.offered(wanted) {
        return Err(ApiError::invalid("channel_not_offered", format!("{} is not offered", wanted.as_str())));
    }
    let order = visible_order(&state, Caller::Buyer(buyer.0), OrderId(id.into_inner())).await?;
    let now = state.clock.now();
    order.payable(now).map_err(|e| ApiError::conflict("not_payable", e.to_string()))?;
    let title = state
        .registry
        .get(order.flash_sale_id)
        .map(|sale| sale.terms.title.clone())
        .unwrap_or_else(|| format!("order {}", order.id));
    let payer_ip = state.admission.client_address(&request).map(|ip| ip.to_string()).unwrap_or_default();
    let mut last_error = None;
    for channel in state.channels.failover_order(wanted) {
        let method = method.on(channel);
        let new = NewPayment {
            order_id: order.id,
            merchant_id: order.merchant_id,
            buyer_id: buyer.0,
            channel,
            method: method.as_str().to_owned(),
            out_trade_no: out_trade_no(order.id, channel),
            amount_fen: order.amount_fen,
        };
        let payment = repo::payment_for(&state.db, new, now).await?;
        if payment.state != PaymentState::Created {
            continue;
        }
        let create = CreateRequest {
            out_trade_no: payment.out_trade_no.clone(),
            amount: order.amount_fen,
            description: title.clone(),
            expires_at: order.expires_at,
            method,
            payer_openid: body.openid.clone(),
            payer_ip: payer_ip.clone(),
            sub_merchant: None,
            split: None,
        };
        match state.channels.create(channel, &create).await {
            Ok(offer) => {
                state.channels.mark_up(channel);
                let mut answer = json!({
                    "payment_id": payment.id,
                    "order_id": order.id,
                    "channel": channel.as_str(),
                    "method": method.as_str(),
                    "requested_channel": wanted.as_str(),
                    "failover": channel != wanted,
                    "out_trade_no": payment.out_trade_no,
                    "amount_fen": order.amount_fen,
                    "expires_at": rfc3339(order.expires_at),
                });
                if let (Some(fields), Some(extra)) = (answer.as_object_mut(), offer.as_object()) {
                    fields.extend(extra.clone());
                }
                if state.sandbox.is_some() && state.channels.is_bundled_sandbox(channel) {
                    answer["sandbox_pay"] = json!({
                        "method": "POST",
                        "url": format!("{}/sandbox/{}/pay", state.base_url, channel.as_str()),
                        "body": {"out_trade_no": payment.out_trade_no},
                    });
                }
                metrics::counter!("flashsale_payments_created_total", "channel" => channel.as_str())
                    .increment(1);
                return Ok(HttpResponse::Created().json(answer));
            }
            Err(ChannelError::Refused { code, message }) => {
                // The channel is up and said no (e.g. the trade is already paid there).
                tracing::warn!(channel = channel.as_str(), %code, %message, "channel refused a payment");
                last_error = Some(format!("{}: {code} {message}", channel.as_str()));
            }
            Err(error) => {
                tracing::warn!(channel = channel.as_str(), %error, "channel failed to create a payment; failing over");
                state.channels.mark_down(channel);
                last_error = Some(format!("{}: {error}", channel.as_str()));
            }
        }
    }
    Err(ApiError::unavailable(
        "payment_channels_unavailable",
        format!("no payment channel could take the payment ({})", last_error.unwrap_or_default()),
        state.admission.retry_after_secs(),
    ))
}

#[get("/orders/{id}/payments")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let order = visible_order(&state, caller, OrderId(id.into_inner())).await?;
    let payments = repo::payments_of_order(&state.db, order.id).await?;
    let rendered: Vec<_> = payments
        .into_iter()
        .map(|p| {
            json!({
                "payment_id": p.id,
                "channel": p.channel.as_str(),
                "method": p.method,
                "out_trade_no": p.out_trade_no,
                "amount_fen": p.amount_fen,
                "state": p.state.as_str(),
                "transaction_id": p.transaction_id,
                "created_at": rfc3339(p.created_at),
                "updated_at": rfc3339(p.updated_at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "payments": rendered })))
}

fn refused(reason: &'static str) {
    metrics::counter!("flashsale_notifications_refused_total", "reason" => reason).increment(1);
}

/// WeChat Pay expects 200/204 for "handled"; anything else is retried, with this body.
fn wechat_fail(status: StatusCode, message: String) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "code": "FAIL", "message": message }))
}

#[post("/payments/wechat/notify")]
pub async fn wechat_notify(state: web::Data<AppState>, request: HttpRequest, body: String) -> HttpResponse {
    let Some(client) = state.channels.wechat.as_ref() else {
        return wechat_fail(StatusCode::NOT_FOUND, "WeChat Pay is not configured".into());
    };
    let headers =
        match SignedHeaders::from_lookup(|name| request.headers().get(name).and_then(|v| v.to_str().ok())) {
            Ok(headers) => headers,
            Err(error) => {
                refused("unsigned");
                return wechat_fail(StatusCode::UNAUTHORIZED, error.to_string());
            }
        };
    let paid = match client.open_notification(&headers, &body) {
        Ok(Some(paid)) => paid,
        Ok(None) => return HttpResponse::NoContent().finish(),
        Err(error) => {
            refused("verification");
            tracing::warn!(%error, "refused a WeChat Pay notification");
            return wechat_fail(StatusCode::UNAUTHORIZED, error.to_string());
        }
    };
    match payments::report(&state, paid).await {
        Ok(_) => HttpResponse::NoContent().finish(),
        Err(error) => {
            let status = report_status(&error);
            tracing::warn!(%error, "WeChat Pay notification not applied");
            wechat_fail(status, error.to_string())
        }
    }
}

fn report_status(error: &ReportError) -> StatusCode {
    match error {
        ReportError::UnknownTrade(_)
        | ReportError::WrongChannel { .. }
        | ReportError::AmountMismatch { .. } => {
            refused("mismatch");
            StatusCode::BAD_REQUEST
        }
        ReportError::Busy(_) | ReportError::Db(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Alipay expects the plain body `success`; anything else is retried.
#[post("/payments/alipay/notify")]
pub async fn alipay_notify(state: web::Data<AppState>, body: String) -> HttpResponse {
    let fail = |status: StatusCode| HttpResponse::build(status).content_type("text/plain").body("fail");
    let Some(client) = state.channels.alipay.as_ref() else { return fail(StatusCode::NOT_FOUND) };
    let Ok(params) = serde_urlencoded::from_str::<BTreeMap<String, String>>(&body) else {
        refused("malformed");
        return fail(StatusCode::BAD_REQUEST);
    };
    let paid = match client.open_notification(&params) {
        Ok(Some(paid)) => paid,
        Ok(None) => return HttpResponse::Ok().content_type("text/plain").body(alipay::ACK),
        Err(error) => {
            refused("verification");
            tracing::warn!(%error, "refused an Alipay notification");
            return fail(StatusCode::BAD_REQUEST);
        }
    };
    match payments::report(&state, paid).await {
        Ok(_) => HttpResponse::Ok().content_type("text/plain").body(alipay::ACK),
        Err(error) => {
            tracing::warn!(%error, "Alipay notification not applied");
            fail(report_status(&error))
        }
    }
}
