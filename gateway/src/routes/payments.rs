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
use engine::ledger::Channel;
use engine::{NotPayable, OrderId};
use persistence::DbErr;
use persistence::payments as repo;
use providers::payments::PayMethod;
use providers::payments::alipay::protocol as alipay;
use providers::payments::wechat::protocol::SignedHeaders;
use serde::Deserialize;
use serde_json::json;
use thiserror::Error;
use workflows::payments::{CreateError, NewPaymentRequest, ReportError};

use crate::AppState;
use crate::auth::{BuyerAuth, Caller};
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::routes::orders::visible_order;
use crate::time::rfc3339;

/// What the payment routes answer besides success (the notification endpoints answer in
/// each channel's own terms instead).
#[derive(Debug, Error)]
pub enum PaymentError {
    #[error("channel must be \"wechat\" or \"alipay\"")]
    InvalidChannel,
    #[error("method: wechat native|jsapi|h5, alipay precreate|wap")]
    InvalidMethod,
    #[error("a JSAPI payment needs the payer's openid")]
    OpenidRequired,
    #[error("return_url must be a page of this platform ({0}/…), at most 512 characters")]
    InvalidReturnUrl(String),
    #[error("{} is not offered", .0.as_str())]
    NotOffered(Channel),
    #[error(transparent)]
    NotPayable(NotPayable),
    #[error("set the order's shipping address (PUT /api/v1/orders/{{id}}/address) before paying")]
    AddressRequired,
    /// Every channel failed or refused; with `Retry-After`.
    #[error("no payment channel could take the payment ({0})")]
    ChannelsUnavailable(String, u32),
    /// Order visibility, shared with the order routes.
    #[error(transparent)]
    Shared(#[from] ApiError),
    #[error("database: {0}")]
    Internal(#[from] DbErr),
}

impl PaymentError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Self::InvalidChannel => ApiError::invalid("invalid_channel", message),
            Self::InvalidMethod => ApiError::invalid("invalid_method", message),
            Self::OpenidRequired => ApiError::invalid("openid_required", message),
            Self::InvalidReturnUrl(_) => ApiError::invalid("invalid_return_url", message),
            Self::NotOffered(_) => ApiError::invalid("channel_not_offered", message),
            Self::NotPayable(_) => ApiError::conflict("not_payable", message),
            Self::AddressRequired => ApiError::conflict("address_required", message),
            Self::ChannelsUnavailable(_, retry_after) => {
                ApiError::unavailable("payment_channels_unavailable", message, *retry_after)
            }
            Self::Shared(api) => api.clone(),
            Self::Internal(_) => ApiError::unexpected(),
        }
    }

    fn creating(error: CreateError, retry_after: u32) -> Self {
        match error {
            CreateError::NotPayable(e) => Self::NotPayable(e),
            CreateError::AddressRequired => Self::AddressRequired,
            CreateError::ChannelsUnavailable(last) => Self::ChannelsUnavailable(last, retry_after),
            CreateError::Db(e) => Self::Internal(e),
        }
    }
}

crate::route_error!(PaymentError);

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreatePayment {
    channel: String,
    method: Option<String>,
    /// The payer's openid, for WeChat JSAPI payments inside WeChat.
    openid: Option<String>,
    /// Where Alipay's cashier sends the buyer back (a page of this platform).
    return_url: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/orders/{id}/payments",
    tag = "payments",
    summary = "Pay an order with WeChat Pay or Alipay (failover to the other on an outage)",
    params(("id" = i64, Path, description = "order id")),
    request_body(content = CreatePayment, example = json!({"channel": "alipay", "method": "wap"})),
    responses(
        (status = 201, description = "what to open to pay", example = json!({"payment_id": 1, "order_id": 1, "channel": "alipay", "method": "wap", "requested_channel": "alipay", "failover": false, "out_trade_no": "…", "amount_fen": 990})),
        (status = 400, description = "malformed request (`bad_request`, `malformed_json`)", body = ErrorBody),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 409, description = "`not_payable`: paid, expired or cancelled; `address_required`: no shipping address yet", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
        (status = 503, description = "busy (`overloaded`), with Retry-After", body = ErrorBody),
    ),
    security(("buyer" = [])),
)]
#[post("/orders/{id}/payments")]
pub async fn create(
    state: web::Data<AppState>,
    buyer: BuyerAuth,
    id: web::Path<i64>,
    request: HttpRequest,
    body: web::Json<CreatePayment>,
) -> Result<HttpResponse, PaymentError> {
    // Douyin and Kuaishou are ledger channels of orders paid on those platforms, not ways to pay.
    let wanted = Channel::parse(&body.channel)
        .filter(|c| matches!(c, Channel::Wechat | Channel::Alipay))
        .ok_or(PaymentError::InvalidChannel)?;
    let method = PayMethod::parse(wanted, body.method.as_deref()).ok_or(PaymentError::InvalidMethod)?;
    if method == PayMethod::Jsapi && body.openid.as_deref().is_none_or(str::is_empty) {
        return Err(PaymentError::OpenidRequired);
    }
    if !state.payments.channels.offered(wanted) {
        return Err(PaymentError::NotOffered(wanted));
    }
    let return_url = match body.return_url.as_deref() {
        None | Some("") => None,
        Some(url) if own_page(&state.base_url, url) => Some(url.to_owned()),
        Some(_) => return Err(PaymentError::InvalidReturnUrl(state.base_url.clone())),
    };
    let order = visible_order(&state, Caller::Buyer(buyer.0), OrderId(id.into_inner())).await?;
    let payer_ip =
        crate::client::request_address(&request, &state.proxies).map(|ip| ip.to_string()).unwrap_or_default();
    let new = NewPaymentRequest {
        order,
        buyer: buyer.0,
        wanted,
        method,
        openid: body.openid.clone(),
        payer_ip,
        return_url,
    };
    let retry_after = state.admission.retry_after_secs();
    let created = state.payments.create(new).await.map_err(|e| PaymentError::creating(e, retry_after))?;
    let mut answer = json!({
        "payment_id": created.payment_id,
        "order_id": created.order_id,
        "channel": created.channel.as_str(),
        "method": created.method.as_str(),
        "requested_channel": created.requested_channel.as_str(),
        "failover": created.failover(),
        "out_trade_no": created.out_trade_no,
        "amount_fen": created.amount_fen,
        "expires_at": rfc3339(created.expires_at),
    });
    if let (Some(fields), Some(extra)) = (answer.as_object_mut(), created.offer.as_object()) {
        fields.extend(extra.clone());
    }
    if state.sandbox.is_some() && state.payments.channels.is_bundled_sandbox(created.channel) {
        answer["sandbox_pay"] = json!({
            "method": "POST",
            "url": format!("{}/sandbox/{}/pay", state.base_url, created.channel.as_str()),
            "body": {"out_trade_no": created.out_trade_no},
        });
    }
    Ok(HttpResponse::Created().json(answer))
}

/// A page of this platform: the channels only send buyers back to the merchant's own domain,
/// and an open redirect through a payment would lend our name to anyone's page.
fn own_page(base_url: &str, url: &str) -> bool {
    url.len() <= 512
        && url.strip_prefix(base_url).is_some_and(|rest| rest.starts_with('/'))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}/payments",
    tag = "payments",
    summary = "An order's payments",
    params(("id" = i64, Path, description = "order id")),
    responses(
        (status = 200, description = "its payments", example = json!({"payments": []})),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
    ),
    security(("buyer" = []), ("merchant" = [])),
)]
#[get("/orders/{id}/payments")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, PaymentError> {
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

#[utoipa::path(
    post,
    path = "/api/v1/payments/wechat/notify",
    tag = "payments",
    summary = "WeChat Pay's payment notification (signed, AES-GCM encrypted)",
    responses(
        (status = 204, description = "handled"),
        (status = 400, description = "the amount or channel does not match the payment"),
        (status = 401, description = "signature or timestamp refused"),
        (status = 503, description = "not applied now; WeChat Pay retries"),
    ),
)]
#[post("/payments/wechat/notify")]
pub async fn wechat_notify(state: web::Data<AppState>, request: HttpRequest, body: String) -> HttpResponse {
    let Some(client) = state.payments.channels.wechat.as_ref() else {
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
    match state.payments.report(paid).await {
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
#[utoipa::path(
    post,
    path = "/api/v1/payments/alipay/notify",
    tag = "payments",
    summary = "Alipay's asynchronous notification (RSA2 signed form)",
    responses(
        (status = 200, description = "`success`"),
        (status = 400, description = "`fail`: malformed, unsigned or not matching"),
        (status = 503, description = "`fail`: not applied now; Alipay retries"),
    ),
)]
#[post("/payments/alipay/notify")]
pub async fn alipay_notify(state: web::Data<AppState>, body: String) -> HttpResponse {
    let fail = |status: StatusCode| HttpResponse::build(status).content_type("text/plain").body("fail");
    let Some(client) = state.payments.channels.alipay.as_ref() else { return fail(StatusCode::NOT_FOUND) };
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
    match state.payments.report(paid).await {
        Ok(_) => HttpResponse::Ok().content_type("text/plain").body(alipay::ACK),
        Err(error) => {
            tracing::warn!(%error, "Alipay notification not applied");
            fail(report_status(&error))
        }
    }
}
