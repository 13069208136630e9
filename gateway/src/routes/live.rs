//! The live platforms (Douyin shop, Kuaishou shop): a merchant's bound shops, the start of the
//! OAuth round trip (302 to the platform's consent page) and the callback the platform sends
//! the merchant back to. The rules are `workflows::live`'s.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use engine::FlashSaleId;
use providers::live::Platform;
use serde::Deserialize;
use serde_json::{Value, json};
use thiserror::Error;
use workflows::live::{ApplyError, BindError, BoundShop, SaleBindError, SaleDoor};

use crate::AppState;
use crate::auth::MerchantAuth;
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::time::rfc3339;

/// What the live-platform routes answer besides success.
#[derive(Debug, Error)]
pub enum PlatformError {
    #[error("no such platform: douyin or kuaishou")]
    UnknownPlatform,
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Sale(#[from] SaleBindError),
}

impl PlatformError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Self::UnknownPlatform => ApiError::not_found("unknown_platform", message),
            Self::Bind(error) => match error {
                BindError::NotOffered => ApiError::not_found("platform_not_offered", message),
                BindError::TooManyPending => ApiError::rate_limited(60),
                BindError::InvalidState => ApiError::bad_request("invalid_state", message),
                BindError::Refused(_) => ApiError::bad_request("authorization_refused", message),
                BindError::Unavailable(_) => ApiError::unavailable("platform_unavailable", message, 5),
                BindError::ShopTaken => ApiError::conflict("shop_taken", message),
                BindError::Internal(_) => ApiError::unexpected(),
            },
            Self::Sale(error) => match error {
                SaleBindError::NotOffered => ApiError::not_found("platform_not_offered", message),
                SaleBindError::NotFound => ApiError::not_found("flash_sale_not_found", message),
                SaleBindError::Ended => ApiError::conflict("ended", message),
                SaleBindError::NoShop => ApiError::conflict("no_connected_shop", message),
                SaleBindError::NotBound => ApiError::not_found("not_bound", message),
                SaleBindError::Refused(_) => ApiError::conflict("platform_refused", message),
                SaleBindError::Unavailable(_) => ApiError::unavailable("platform_unavailable", message, 5),
                SaleBindError::Busy => ApiError::unavailable("busy", message, 1),
                SaleBindError::Internal(_) => ApiError::unexpected(),
            },
        }
    }
}

crate::route_error!(PlatformError);

fn platform(name: &str) -> Result<Platform, PlatformError> {
    Platform::parse(name).ok_or(PlatformError::UnknownPlatform)
}

fn shop_json(shop: &BoundShop) -> Value {
    json!({
        "platform": shop.platform.as_str(),
        "shop_id": shop.shop_id,
        "shop_name": shop.shop_name,
        "state": shop.state.as_str(),
        "access_expires_at": rfc3339(shop.access_expires_at),
        "refresh_expires_at": rfc3339(shop.refresh_expires_at),
        "bound_at": rfc3339(shop.bound_at),
        "refreshed_at": shop.refreshed_at.map(rfc3339),
        "disconnected_at": shop.disconnected_at.map(rfc3339),
        "disconnected_reason": shop.disconnected_reason,
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/me/platforms",
    tag = "live",
    summary = "The merchant's shops on Douyin and Kuaishou, each connected, disconnected (the grant was revoked: authorise again) or expired",
    responses(
        (status = 200, description = "`{shops: [{platform, shop_id, shop_name, state, access_expires_at, refresh_expires_at, bound_at, refreshed_at, disconnected_at, disconnected_reason}]}`"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/merchants/me/platforms")]
pub async fn list(state: web::Data<AppState>, merchant: MerchantAuth) -> Result<HttpResponse, PlatformError> {
    let shops = state.live.shops(merchant.0).await?;
    Ok(HttpResponse::Ok().json(json!({ "shops": shops.iter().map(shop_json).collect::<Vec<_>>() })))
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/me/platforms/{platform}/authorize",
    tag = "live",
    summary = "Starts binding a shop: 302 to the platform's consent page, with a single-use state tied to this merchant",
    params(("platform" = String, Path, description = "`douyin` or `kuaishou`")),
    responses(
        (status = 302, description = "to the platform's consent page (`Location`)"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`unknown_platform`, `platform_not_offered`", body = ErrorBody),
        (status = 429, description = "too many authorisations pending", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/merchants/me/platforms/{platform}/authorize")]
pub async fn authorize(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    path: web::Path<String>,
) -> Result<HttpResponse, PlatformError> {
    let url = state.live.authorize(merchant.0, platform(&path)?).await?;
    Ok(HttpResponse::Found().insert_header((header::LOCATION, url)).finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The authorisation code.
    #[serde(default)]
    code: String,
    /// The state minted by `…/authorize`.
    #[serde(default)]
    state: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/platforms/{platform}/callback",
    tag = "live",
    summary = "Where the platform sends the merchant back: the state is used up, the code exchanged, the shop bound",
    params(("platform" = String, Path, description = "`douyin` or `kuaishou`"), CallbackQuery),
    responses(
        (status = 200, description = "the bound shop `{platform, shop_id, shop_name, state, …}`"),
        (status = 400, description = "`invalid_state` (forged, unknown, expired, reused: nothing stored), `authorization_refused`", body = ErrorBody),
        (status = 409, description = "`shop_taken`: another merchant bound this shop", body = ErrorBody),
        (status = 503, description = "the platform cannot be reached", body = ErrorBody),
    ),
)]
#[get("/platforms/{platform}/callback")]
pub async fn callback(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, PlatformError> {
    let shop = state.live.callback(platform(&path)?, &query.code, &query.state).await?;
    Ok(HttpResponse::Ok().json(shop_json(&shop)))
}

fn door_json(door: &SaleDoor) -> Value {
    json!({
        "platform": door.platform.as_str(),
        "item_id": door.item_id,
        "sku_id": door.sku_id,
        "leased": door.leased,
        "sold": door.sold,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BindSaleBody {
    /// `douyin` or `kuaishou`.
    platform: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/flash-sales/{id}/platforms",
    tag = "live",
    summary = "Sells the sale through the merchant's shop on a platform too: the item is created there and a slice of the units leased to it",
    params(("id" = i64, Path, description = "the flash sale")),
    request_body = BindSaleBody,
    responses(
        (status = 201, description = "`{platform, item_id, sku_id, leased, sold}`"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`flash_sale_not_found` (or another merchant's), `unknown_platform`", body = ErrorBody),
        (status = 409, description = "`no_connected_shop`, `ended`, `platform_refused`", body = ErrorBody),
        (status = 503, description = "the platform or the stock is busy", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[post("/flash-sales/{id}/platforms")]
pub async fn bind_sale(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    path: web::Path<i64>,
    body: web::Json<BindSaleBody>,
) -> Result<HttpResponse, PlatformError> {
    let platform = platform(&body.platform)?;
    let door = state.live.bind_sale(merchant.0, FlashSaleId(path.into_inner()), platform).await?;
    Ok(HttpResponse::Created().json(door_json(&door)))
}

#[utoipa::path(
    get,
    path = "/api/v1/flash-sales/{id}/platforms",
    tag = "live",
    summary = "The platforms a sale is sold through: item, units leased there and sold there",
    params(("id" = i64, Path, description = "the flash sale")),
    responses(
        (status = 200, description = "`{platforms: [{platform, item_id, sku_id, leased, sold}]}`"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "no such sale of this merchant", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/flash-sales/{id}/platforms")]
pub async fn sale_platforms(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    path: web::Path<i64>,
) -> Result<HttpResponse, PlatformError> {
    let doors = state.live.sale_doors(merchant.0, FlashSaleId(path.into_inner())).await?;
    Ok(HttpResponse::Ok().json(json!({ "platforms": doors.iter().map(door_json).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TakeBackBody {
    /// Units to take back at most; all the platform holds when absent.
    #[serde(default)]
    units: Option<u32>,
}

#[utoipa::path(
    post,
    path = "/api/v1/flash-sales/{id}/platforms/{platform}/take-back",
    tag = "live",
    summary = "Takes units back from the platform's slice while the sale runs: the platform's stock is lowered first, then what it gave up returns to the sale; the platform is not topped up again until the sale is bound to it again",
    params(("id" = i64, Path, description = "the flash sale"), ("platform" = String, Path, description = "`douyin` or `kuaishou`")),
    request_body = TakeBackBody,
    responses(
        (status = 200, description = "`{platform, item_id, sku_id, leased, sold, returned}`"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`flash_sale_not_found` (or another merchant's), `unknown_platform`, `not_bound`", body = ErrorBody),
        (status = 409, description = "`no_connected_shop`", body = ErrorBody),
        (status = 503, description = "the platform or the stock is busy", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[post("/flash-sales/{id}/platforms/{platform}/take-back")]
pub async fn take_back(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    path: web::Path<(i64, String)>,
    body: web::Json<TakeBackBody>,
) -> Result<HttpResponse, PlatformError> {
    let (sale, name) = path.into_inner();
    let platform = platform(&name)?;
    let taken = state.live.take_back(merchant.0, FlashSaleId(sale), platform, body.units).await?;
    let mut answer = door_json(&taken.door);
    answer["returned"] = json!(taken.returned);
    Ok(HttpResponse::Ok().json(answer))
}

/// Each platform's refusal, which it retries: Douyin wants `code` 0 for success, Kuaishou
/// `result` 1.
fn push_refused(platform: Platform, status: StatusCode, message: String) -> HttpResponse {
    let body = match platform {
        Platform::Douyin => json!({"code": 40004, "msg": message}),
        Platform::Kuaishou => json!({"result": 0, "error_msg": message}),
    };
    HttpResponse::build(status).json(body)
}

#[utoipa::path(
    post,
    path = "/api/v1/platforms/{platform}/notify",
    tag = "live",
    summary = "A platform's message push (Douyin: event-sign; Kuaishou: AES-CBC under the message key): verified, deduplicated by message id, each order read back and applied",
    params(("platform" = String, Path, description = "`douyin` or `kuaishou`")),
    responses(
        (status = 200, description = "acknowledged: Douyin `{\"code\":0,\"msg\":\"success\"}`, Kuaishou `{\"result\":1}`"),
        (status = 400, description = "forged, stale or malformed: nothing changed, in the platform's error shape"),
        (status = 503, description = "not applied now; the platform retries"),
    ),
)]
#[post("/platforms/{platform}/notify")]
pub async fn notify(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Some(platform) = Platform::parse(&path) else {
        return actix_web::ResponseError::error_response(&PlatformError::UnknownPlatform);
    };
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    match state.live.receive_push(platform, &header, &body).await {
        Ok(ack) => HttpResponse::Ok().content_type("application/json").body(ack),
        Err(error @ ApplyError::Refused(_)) => {
            tracing::warn!(platform = platform.as_str(), %error, "live push refused");
            push_refused(platform, StatusCode::BAD_REQUEST, error.to_string())
        }
        Err(ApplyError::NotOffered) => {
            push_refused(platform, StatusCode::NOT_FOUND, "not offered here".into())
        }
        Err(error) => {
            tracing::warn!(platform = platform.as_str(), %error, "live push not applied; the platform retries");
            push_refused(platform, StatusCode::SERVICE_UNAVAILABLE, "try again".into())
        }
    }
}
