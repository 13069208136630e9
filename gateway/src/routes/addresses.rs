//! A buyer's saved addresses and the address an order ships to (`workflows::addresses`).
//! Lists answer masked addresses; a wrong field is a 422 whose code names it
//! (`invalid_phone`, `invalid_district`, …).

use actix_web::{HttpResponse, delete, get, post, put, web};
use engine::OrderId;
use engine::address::{AddressError, AddressInput, MaskedAddress};
use serde::Deserialize;
use serde_json::json;
use thiserror::Error;
use workflows::addresses::{self, AddressFailure, OrderAddress};

use crate::AppState;
use crate::auth::BuyerAuth;
use crate::error::ApiError;
use crate::openapi::ErrorBody;

#[derive(Debug, Error)]
pub enum AddressRouteError {
    #[error("{}: {}", .0.field(), .0)]
    Invalid(AddressError),
    #[error("at most {0} addresses may be saved; delete one first")]
    TooMany(u64),
    #[error("no such address")]
    AddressNotFound,
    #[error("no such order")]
    OrderNotFound,
    #[error("the order is {0}, its address can no longer change")]
    NotPending(&'static str),
    #[error("send either address_id or an address")]
    Ambiguous,
    #[error(transparent)]
    Shared(#[from] ApiError),
    #[error("database: {0}")]
    Internal(persistence::DbErr),
}

/// `invalid_{field}`: the code names the field, for the error next to it.
pub fn invalid_code(error: &AddressError) -> &'static str {
    match error.field() {
        "name" => "invalid_name",
        "phone" => "invalid_phone",
        "province" => "invalid_province",
        "city" => "invalid_city",
        "district" => "invalid_district",
        "district_code" => "invalid_district_code",
        _ => "invalid_detail",
    }
}

impl AddressRouteError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Self::Invalid(e) => ApiError::invalid(invalid_code(e), message),
            Self::TooMany(_) => ApiError::conflict("too_many_addresses", message),
            Self::AddressNotFound => ApiError::not_found("address_not_found", message),
            Self::OrderNotFound => ApiError::not_found("order_not_found", message),
            Self::NotPending(_) => ApiError::conflict("address_fixed", message),
            Self::Ambiguous => ApiError::invalid("invalid_body", message),
            Self::Shared(api) => api.clone(),
            Self::Internal(_) => ApiError::unexpected(),
        }
    }

    fn of(failure: AddressFailure, not_found: Self) -> Self {
        match failure {
            AddressFailure::Invalid(e) => Self::Invalid(e),
            AddressFailure::TooMany { max } => Self::TooMany(max),
            AddressFailure::NotFound => not_found,
            AddressFailure::NotPending(state) => Self::NotPending(state),
            AddressFailure::Db(e) => Self::Internal(e),
        }
    }
}

crate::route_error!(AddressRouteError);

/// An address as typed: the region by names, or by its 6-digit district code, or both.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct AddressBody {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub province: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub district: String,
    pub district_code: Option<String>,
    #[serde(default)]
    pub detail: String,
}

impl AddressBody {
    pub fn input(&self) -> AddressInput<'_> {
        AddressInput {
            name: &self.name,
            phone: &self.phone,
            province: &self.province,
            city: &self.city,
            district: &self.district,
            district_code: self.district_code.as_deref(),
            detail: &self.detail,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SaveAddress {
    #[serde(flatten)]
    address: AddressBody,
    #[serde(default)]
    is_default: bool,
}

/// An order's address: one of the buyer's saved ones, or one typed for it.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct OrderAddressBody {
    address_id: Option<i64>,
    #[serde(flatten)]
    address: AddressBody,
}

pub fn masked_json(masked: &MaskedAddress) -> serde_json::Value {
    json!({
        "name": masked.name,
        "phone": masked.phone,
        "province": masked.province,
        "city": masked.city,
        "district": masked.district,
        "detail": masked.detail,
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/buyers/me/addresses",
    tag = "addresses",
    summary = "The buyer's saved addresses, masked, the default first",
    responses(
        (status = 200, description = "the addresses", example = json!({"addresses": [{"id": 1, "is_default": true, "name": "张*", "phone": "138****8000", "province": "广东省", "city": "深圳市", "district": "南山区", "detail": "科技园南区…"}]})),
        (status = 401, description = "missing or invalid token", body = ErrorBody),
    ),
    security(("buyer" = [])),
)]
#[get("/buyers/me/addresses")]
pub async fn list(state: web::Data<AppState>, buyer: BuyerAuth) -> Result<HttpResponse, AddressRouteError> {
    let listed = addresses::list(&state.db, buyer.0).await.map_err(AddressRouteError::Internal)?;
    let rows: Vec<_> = listed
        .iter()
        .map(|a| {
            let mut row = masked_json(&a.address);
            row["id"] = json!(a.id);
            row["is_default"] = json!(a.is_default);
            row
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "addresses": rows })))
}

#[utoipa::path(
    post,
    path = "/api/v1/buyers/me/addresses",
    tag = "addresses",
    summary = "Save an address (validated against the division table)",
    request_body(content = SaveAddress, example = json!({"name": "张三", "phone": "13800138000", "province": "广东省", "city": "深圳市", "district": "南山区", "detail": "科技园南区1栋101", "is_default": true})),
    responses(
        (status = 201, description = "saved; answered masked", example = json!({"id": 1, "is_default": true, "address": {"name": "张*", "phone": "138****8000", "province": "广东省", "city": "深圳市", "district": "南山区", "detail": "科技园南区…"}})),
        (status = 401, description = "missing or invalid token", body = ErrorBody),
        (status = 409, description = "`too_many_addresses`", body = ErrorBody),
        (status = 422, description = "the field named by the code is invalid: `invalid_name`, `invalid_phone`, `invalid_province`, `invalid_city`, `invalid_district`, `invalid_district_code`, `invalid_detail`", body = ErrorBody),
    ),
    security(("buyer" = [])),
)]
#[post("/buyers/me/addresses")]
pub async fn save(
    state: web::Data<AppState>,
    buyer: BuyerAuth,
    body: web::Json<SaveAddress>,
) -> Result<HttpResponse, AddressRouteError> {
    let saved =
        addresses::save(&state.db, buyer.0, &body.address.input(), body.is_default, state.clock.now())
            .await
            .map_err(|e| AddressRouteError::of(e, AddressRouteError::AddressNotFound))?;
    Ok(HttpResponse::Created().json(json!({
        "id": saved.id,
        "is_default": saved.is_default,
        "address": masked_json(&saved.address.masked()),
    })))
}

#[utoipa::path(
    delete,
    path = "/api/v1/buyers/me/addresses/{id}",
    tag = "addresses",
    summary = "Delete a saved address (orders keep their own copy)",
    params(("id" = i64, Path, description = "address id")),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, description = "missing or invalid token", body = ErrorBody),
        (status = 404, description = "`address_not_found`", body = ErrorBody),
    ),
    security(("buyer" = [])),
)]
#[delete("/buyers/me/addresses/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    buyer: BuyerAuth,
    id: web::Path<i64>,
) -> Result<HttpResponse, AddressRouteError> {
    let deleted = persistence::addresses::delete(&state.db, buyer.0, id.into_inner())
        .await
        .map_err(AddressRouteError::Internal)?;
    if !deleted {
        return Err(AddressRouteError::AddressNotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    put,
    path = "/api/v1/orders/{id}/address",
    tag = "addresses",
    summary = "Set where an unpaid order ships to: a saved address, or one typed",
    params(("id" = i64, Path, description = "order id")),
    request_body(content = OrderAddressBody, example = json!({"name": "张三", "phone": "13800138000", "province": "广东省", "city": "深圳市", "district": "南山区", "detail": "科技园南区1栋101"})),
    responses(
        (status = 200, description = "set; answered masked", example = json!({"order_id": 1, "address": {"name": "张*", "phone": "138****8000", "province": "广东省", "city": "深圳市", "district": "南山区", "detail": "科技园南区…"}})),
        (status = 401, description = "missing or invalid token", body = ErrorBody),
        (status = 404, description = "`order_not_found`, `address_not_found`", body = ErrorBody),
        (status = 409, description = "`address_fixed`: the order is paid (or expired, cancelled)", body = ErrorBody),
        (status = 422, description = "`invalid_*` naming the field", body = ErrorBody),
    ),
    security(("buyer" = [])),
)]
#[put("/orders/{id}/address")]
pub async fn set_for_order(
    state: web::Data<AppState>,
    buyer: BuyerAuth,
    id: web::Path<i64>,
    body: web::Json<OrderAddressBody>,
) -> Result<HttpResponse, AddressRouteError> {
    let order_id = OrderId(id.into_inner());
    let typed = !body.address.name.is_empty() || !body.address.detail.is_empty();
    let (source, not_found) = match body.address_id {
        Some(_) if typed => return Err(AddressRouteError::Ambiguous),
        Some(saved) => (OrderAddress::Saved(saved), AddressRouteError::AddressNotFound),
        None => (OrderAddress::Typed(body.address.input()), AddressRouteError::OrderNotFound),
    };
    let saved_lookup = matches!(source, OrderAddress::Saved(_));
    let set = addresses::set_for_order(&state.db, order_id, buyer.0, source, state.clock.now()).await;
    let address = match set {
        Ok(address) => address,
        // A saved address that is the buyer's, on an order that is not: the order is missing.
        Err(AddressFailure::NotFound) if saved_lookup => {
            let mine = persistence::repo::order(&state.db, order_id)
                .await
                .map_err(AddressRouteError::Internal)?
                .is_some_and(|o| o.buyer_id == buyer.0);
            return Err(if mine { not_found } else { AddressRouteError::OrderNotFound });
        }
        Err(e) => return Err(AddressRouteError::of(e, not_found)),
    };
    Ok(HttpResponse::Ok().json(json!({ "order_id": order_id.0, "address": masked_json(&address.masked()) })))
}
