//! After the sale: shipping a paid order (typed waybill or e-waybill), its label and batch
//! labels, the courier's tracking pushes, and the buyer's receipt. The steps are
//! `workflows::fulfilment::shipping`'s; this file parses and renders.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use engine::{Order, OrderId};
use persistence::shipments::{ShipmentRecord, TrackingRecord};
use providers::couriers::PushError;
use serde::Deserialize;
use serde_json::json;
use thiserror::Error;
use workflows::fulfilment::shipping::{
    LabelFailure, ReceiptFailure, ShipFailure, ShipRequest, address_is_whole, courier_name, tracking_chinese,
};

use crate::AppState;
use crate::auth::{BuyerAuth, Caller, MerchantAuth};
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::routes::addresses::{AddressBody, invalid_code, masked_json};
use crate::routes::orders::{render, visible_order};
use crate::time::rfc3339;

#[derive(Debug, Error)]
pub enum FulfilmentError {
    #[error(transparent)]
    Ship(#[from] ShipFailure),
    #[error(transparent)]
    Label(#[from] LabelFailure),
    #[error(transparent)]
    Receipt(#[from] ReceiptFailure),
    #[error(transparent)]
    Shared(#[from] ApiError),
}

impl FulfilmentError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Self::Ship(failure) => match failure {
                ShipFailure::UnknownCourier(_) => ApiError::invalid("unknown_courier", message),
                ShipFailure::InvalidWaybill => ApiError::invalid("invalid_waybill_no", message),
                ShipFailure::InvalidSender(e) => ApiError::invalid(invalid_code(e), message),
                ShipFailure::SenderRequired => ApiError::invalid("sender_required", message),
                ShipFailure::NotFound => ApiError::not_found("order_not_found", message),
                ShipFailure::NotPaid(_) => ApiError::conflict("not_paid", message),
                ShipFailure::NoAddress => ApiError::conflict("address_required", message),
                ShipFailure::WaybillTaken => ApiError::conflict("waybill_taken", message),
                ShipFailure::CourierUnavailable(_) => {
                    ApiError::unavailable("courier_unavailable", message, 5)
                }
                ShipFailure::CourierRefused(_) => {
                    ApiError::new(StatusCode::BAD_GATEWAY, "courier_refused", message)
                }
                ShipFailure::Db(_) => ApiError::unexpected(),
            },
            Self::Label(failure) => match failure {
                LabelFailure::NotFound(_) => ApiError::not_found("order_not_found", message),
                LabelFailure::NotShipped(_) => ApiError::conflict("not_shipped", message),
                LabelFailure::Delivered(_) => ApiError::conflict("already_delivered", message),
                LabelFailure::TooMany | LabelFailure::Empty => {
                    ApiError::invalid("invalid_order_ids", message)
                }
                LabelFailure::Unavailable(_) => ApiError::unavailable("labels_unavailable", message, 60),
                LabelFailure::Db(_) => ApiError::unexpected(),
            },
            Self::Receipt(failure) => match failure {
                ReceiptFailure::NotFound => ApiError::not_found("order_not_found", message),
                ReceiptFailure::NotShipped(_) => ApiError::conflict("not_shipped", message),
                ReceiptFailure::Db(_) => ApiError::unexpected(),
            },
            Self::Shared(api) => api.clone(),
        }
    }
}

crate::route_error!(FulfilmentError);

impl From<persistence::DbErr> for FulfilmentError {
    fn from(error: persistence::DbErr) -> Self {
        Self::Shared(error.into())
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ShipBody {
    /// KDNiao's courier code: SF, ZTO, YTO, STO, YD, HTKY, JTSD, EMS, JD, DBL.
    courier: String,
    /// The number on a waybill the merchant filled in; without it an e-waybill is issued.
    waybill_no: Option<String>,
    /// Where the parcel leaves from; later shipments reuse the last one given.
    sender: Option<AddressBody>,
}

pub fn shipment_json(shipment: &ShipmentRecord, tracking: &[TrackingRecord]) -> serde_json::Value {
    json!({
        "courier": shipment.courier,
        "courier_name": courier_name(&shipment.courier),
        "waybill_no": shipment.waybill_no,
        "electronic_waybill": shipment.electronic_waybill,
        "sort_code": shipment.sort_code,
        "tracking_state": shipment.tracking_state,
        "tracking_state_name": tracking_chinese(&shipment.tracking_state),
        "shipped_at": rfc3339(shipment.created_at),
        "delivered_at": shipment.delivered_at.map(rfc3339),
        "completed_at": shipment.completed_at.map(rfc3339),
        "tracking": tracking.iter().map(|t| json!({"at": rfc3339(t.at), "description": t.description})).collect::<Vec<_>>(),
    })
}

/// An order with its address (whole only to its merchant while there is something to ship,
/// else masked), its shipment and its tracking.
pub async fn order_detail(
    state: &AppState,
    order: &Order,
    caller: Caller,
) -> Result<serde_json::Value, ApiError> {
    let mut body = render(order);
    let tracking = state.fulfilment.tracking(order).await?;
    let address = persistence::addresses::of_order(&state.db, order.id).await?;
    let whole = matches!(caller, Caller::Merchant(_))
        && address_is_whole(order.state, tracking.as_ref().map(|t| &t.0));
    body["address"] = match &address {
        None => serde_json::Value::Null,
        Some(a) if whole => json!({
            "name": a.name, "phone": a.phone.as_str(), "province": a.province, "city": a.city,
            "district": a.district, "detail": a.detail, "masked": false,
        }),
        Some(a) => {
            let mut masked = masked_json(&a.masked());
            masked["masked"] = json!(true);
            masked
        }
    };
    body["shipment"] = match &tracking {
        Some((shipment, events)) => shipment_json(shipment, events),
        None => serde_json::Value::Null,
    };
    Ok(body)
}

#[utoipa::path(
    post,
    path = "/api/v1/orders/{id}/shipments",
    tag = "fulfilment",
    summary = "Ship a paid order: record a typed waybill number, or get an e-waybill from the courier",
    params(("id" = i64, Path, description = "order id")),
    request_body(content = ShipBody, example = json!({"courier": "ZTO", "sender": {"name": "直播小店", "phone": "13900139000", "province": "浙江省", "city": "杭州市", "district": "余杭区", "detail": "文一西路969号"}})),
    responses(
        (status = 201, description = "shipped; the buyer is told"),
        (status = 401, description = "missing or invalid token", body = ErrorBody),
        (status = 404, description = "`order_not_found` (also someone else's order)", body = ErrorBody),
        (status = 409, description = "`not_paid`, `address_required`, `waybill_taken`", body = ErrorBody),
        (status = 422, description = "`unknown_courier`, `invalid_waybill_no`, `sender_required`, `invalid_*` of the sender", body = ErrorBody),
        (status = 502, description = "`courier_refused`", body = ErrorBody),
        (status = 503, description = "`courier_unavailable`", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[post("/orders/{id}/shipments")]
pub async fn ship(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    id: web::Path<i64>,
    body: web::Json<ShipBody>,
) -> Result<HttpResponse, FulfilmentError> {
    let request = ShipRequest {
        courier: &body.courier,
        waybill_no: body.waybill_no.as_deref(),
        sender: body.sender.as_ref().map(AddressBody::input),
    };
    let order_id = OrderId(id.into_inner());
    let shipment = state.fulfilment.ship(merchant.0, order_id, request).await?;
    let mut answer = shipment_json(&shipment, &[]);
    answer["order_id"] = json!(order_id.0);
    answer["state"] = json!("shipped");
    Ok(HttpResponse::Created().json(answer))
}

fn pdf(bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header(("Cache-Control", "no-store"))
        .body(bytes)
}

#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}/label.pdf",
    tag = "fulfilment",
    summary = "The shipping label of a shipped order: 100×150 mm, Code 128 of the waybill",
    params(("id" = i64, Path, description = "order id")),
    responses(
        (status = 200, description = "application/pdf"),
        (status = 401, description = "missing or invalid token", body = ErrorBody),
        (status = 404, description = "`order_not_found` (also someone else's order)", body = ErrorBody),
        (status = 409, description = "`not_shipped`, `already_delivered`", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/orders/{id}/label.pdf")]
pub async fn label(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    id: web::Path<i64>,
) -> Result<HttpResponse, FulfilmentError> {
    Ok(pdf(state.fulfilment.labels(merchant.0, &[OrderId(id.into_inner())]).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LabelsBody {
    order_ids: Vec<i64>,
}

#[utoipa::path(
    post,
    path = "/api/v1/merchants/me/labels",
    tag = "fulfilment",
    summary = "Many labels in one PDF, one page each, in the order given (at most 500)",
    request_body(content = LabelsBody, example = json!({"order_ids": [1, 2]})),
    responses(
        (status = 200, description = "application/pdf"),
        (status = 401, description = "missing or invalid token", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 409, description = "`not_shipped`, `already_delivered`", body = ErrorBody),
        (status = 422, description = "`invalid_order_ids`: none, or more than 500", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[post("/merchants/me/labels")]
pub async fn batch_labels(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    body: web::Json<LabelsBody>,
) -> Result<HttpResponse, FulfilmentError> {
    let ids: Vec<OrderId> = body.order_ids.iter().copied().map(OrderId).collect();
    Ok(pdf(state.fulfilment.labels(merchant.0, &ids).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/couriers/kdniao/push",
    tag = "fulfilment",
    summary = "KDNiao's tracking push (RequestType 101): verified by DataSign, answered the protocol's way",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "`{\"EBusinessID\",\"UpdateTime\",\"Success\",\"Reason\"}`; `Success: false` for a forged, foreign, stale or malformed push, which changes nothing"),
    ),
)]
#[post("/couriers/kdniao/push")]
pub async fn kdniao_push(state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let outcome = state.fulfilment.take_push(&body).await;
    if let Some(refused) = &outcome.refused {
        let reason = match refused {
            PushError::Malformed(_) => "malformed",
            PushError::BadSignature => "bad_signature",
            PushError::WrongAccount => "wrong_account",
            PushError::Stale => "stale",
        };
        metrics::counter!("flashsale_courier_pushes_refused_total", "reason" => reason).increment(1);
    }
    HttpResponse::Ok().content_type(outcome.answer.content_type).body(outcome.answer.body)
}

#[utoipa::path(
    post,
    path = "/api/v1/orders/{id}/receipt",
    tag = "fulfilment",
    summary = "The buyer confirms receipt: the shipped order completes",
    params(("id" = i64, Path, description = "order id")),
    responses(
        (status = 200, description = "the completed order"),
        (status = 401, description = "missing or invalid token", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 409, description = "`not_shipped`", body = ErrorBody),
    ),
    security(("buyer" = [])),
)]
#[post("/orders/{id}/receipt")]
pub async fn receipt(
    state: web::Data<AppState>,
    buyer: BuyerAuth,
    id: web::Path<i64>,
) -> Result<HttpResponse, FulfilmentError> {
    let order_id = OrderId(id.into_inner());
    state.fulfilment.confirm_receipt(buyer.0, order_id).await?;
    let order = visible_order(&state, Caller::Buyer(buyer.0), order_id).await?;
    Ok(HttpResponse::Ok().json(order_detail(&state, &order, Caller::Buyer(buyer.0)).await?))
}
