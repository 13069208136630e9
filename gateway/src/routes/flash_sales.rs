//! Flash sales: a merchant opens one on a product (within its caps on live and scheduled
//! sales); anyone reads its stock: from the sale's actor while it can change, from the
//! database once it is settled (no actor is started for a read).

use std::sync::Arc;

use actix_web::{HttpResponse, get, post, web};
use engine::{Fen, FlashSaleId, ProductId, SaleTerms, StockCounts, TermsError};
use persistence::DbErr;
use persistence::repo::{self, CreateSaleError, SaleCaps};
use serde::Deserialize;
use serde_json::json;
use thiserror::Error;
use workflows::sales::{self, OpenError, Opening};

use crate::AppState;
use crate::auth::MerchantAuth;
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::time::{parse_rfc3339, rfc3339};

/// What the flash-sale routes answer besides success.
#[derive(Debug, Error)]
pub enum FlashSaleError {
    #[error("{0} is out of range")]
    OutOfRange(&'static str),
    #[error("{0} must be an RFC 3339 time")]
    InvalidTime(&'static str),
    #[error(transparent)]
    Open(OpenError),
    #[error("flash sale {0}: orders claim more units than it has")]
    Overclaimed(FlashSaleId),
    #[error("no such flash sale")]
    NotFound,
    #[error("your qualification is {0}: only approved merchants open flash sales")]
    NotApproved(&'static str),
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl FlashSaleError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Self::OutOfRange(_) => ApiError::invalid("invalid_field", message),
            Self::InvalidTime(_) => ApiError::invalid("invalid_time", message),
            Self::Open(OpenError::Terms(terms)) => ApiError::invalid(
                match terms {
                    TermsError::Window | TermsError::AlreadyEnded => "invalid_window",
                    TermsError::Price => "invalid_price",
                    TermsError::Quantity => "invalid_quantity",
                    TermsError::PerBuyerLimit => "invalid_per_buyer_limit",
                    TermsError::PaymentWindow => "invalid_payment_window",
                },
                message,
            ),
            Self::Open(OpenError::ProductNotFound) => ApiError::not_found("product_not_found", message),
            Self::Open(OpenError::Refused(CreateSaleError::InsufficientStock { stock })) => {
                ApiError::conflict(
                    "insufficient_product_stock",
                    format!("the product has {stock} units left to put on sale"),
                )
            }
            Self::Open(OpenError::Refused(CreateSaleError::SkuNotFound)) => {
                ApiError::not_found("sku_not_found", message)
            }
            Self::Open(OpenError::Refused(CreateSaleError::SkuRequired)) => {
                ApiError::invalid("sku_required", message)
            }
            Self::Open(OpenError::Refused(CreateSaleError::NotListed)) => {
                ApiError::conflict("product_not_listed", message)
            }
            Self::Open(OpenError::Refused(CreateSaleError::TooManyScheduled { .. })) => {
                ApiError::conflict("too_many_scheduled_sales", message)
            }
            Self::Open(OpenError::Refused(_)) => ApiError::conflict("too_many_live_sales", message),
            Self::NotFound => ApiError::not_found("flash_sale_not_found", message),
            Self::NotApproved(_) => {
                ApiError::new(actix_web::http::StatusCode::FORBIDDEN, "merchant_not_approved", message)
            }
            Self::Overclaimed(_) | Self::Open(_) | Self::Db(_) | Self::Internal(_) => ApiError::unexpected(),
        }
    }
}

crate::route_error!(FlashSaleError);

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewFlashSale {
    product_id: i64,
    /// The SKU whose stock the units come out of (needed when the product has several).
    #[serde(default)]
    sku_id: Option<i64>,
    price_fen: i64,
    quantity: i64,
    per_buyer_limit: i64,
    starts_at: String,
    ends_at: String,
    payment_window_secs: i64,
}

fn whole(value: i64, field: &'static str) -> Result<u32, FlashSaleError> {
    u32::try_from(value).map_err(|_| FlashSaleError::OutOfRange(field))
}

fn instant(raw: &str, field: &'static str) -> Result<engine::Timestamp, FlashSaleError> {
    parse_rfc3339(raw).ok_or(FlashSaleError::InvalidTime(field))
}

#[utoipa::path(
    post,
    path = "/api/v1/flash-sales",
    tag = "flash sales",
    summary = "Open a flash sale on one of your products",
    request_body(content = NewFlashSale, example = json!({"product_id": 1, "price_fen": 990, "quantity": 50, "per_buyer_limit": 2, "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2036-01-01T00:00:00Z", "payment_window_secs": 900})),
    responses(
        (status = 201, description = "the sale, its stock actor started", example = json!({"flash_sale_id": 1})),
        (status = 400, description = "malformed request (`bad_request`, `malformed_json`)", body = ErrorBody),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "`merchant_not_approved`: the qualification review has not approved you (or you are banned)", body = ErrorBody),
        (status = 404, description = "`product_not_found`, `sku_not_found`", body = ErrorBody),
        (status = 409, description = "`insufficient_product_stock`, `product_not_listed`, `too_many_live_sales`, `too_many_scheduled_sales`", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[post("/flash-sales")]
pub async fn create(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    body: web::Json<NewFlashSale>,
) -> Result<HttpResponse, FlashSaleError> {
    let (review, _) = persistence::qualification::review_of(&state.db, merchant.0).await?;
    if review != engine::qualification::ReviewState::Approved {
        return Err(FlashSaleError::NotApproved(review.as_str()));
    }
    if persistence::qualification::active_ban(&state.db, merchant.0).await?.is_some() {
        return Err(FlashSaleError::NotApproved("banned"));
    }
    let opening = Opening {
        product_id: ProductId(body.product_id),
        sku_id: body.sku_id,
        price_fen: Fen(body.price_fen),
        quantity: whole(body.quantity, "quantity")?,
        per_buyer_limit: whole(body.per_buyer_limit, "per_buyer_limit")?,
        starts_at: instant(&body.starts_at, "starts_at")?,
        ends_at: instant(&body.ends_at, "ends_at")?,
        payment_window_secs: whole(body.payment_window_secs, "payment_window_secs")?,
    };
    let caps = SaleCaps {
        max_live: state.settings.flash_sales.max_live_per_merchant,
        max_scheduled: state.settings.flash_sales.max_scheduled_per_merchant,
    };
    let id = sales::open(&state.db, &state.registry, merchant.0, opening, caps, state.clock.now())
        .await
        .map_err(FlashSaleError::Open)?;
    Ok(HttpResponse::Created().json(json!({ "flash_sale_id": id })))
}

/// The terms and counts of a sale: its actor's gauge, or (settled, no actor) the sums of its
/// stored orders, which are final and durable then.
async fn terms_and_counts(
    state: &AppState,
    id: FlashSaleId,
) -> Result<(Arc<SaleTerms>, StockCounts), FlashSaleError> {
    if let Some(sale) = state.registry.get(id) {
        return Ok((sale.terms.clone(), sale.gauge.counts()));
    }
    let terms = repo::flash_sale(&state.db, id).await?.ok_or(FlashSaleError::NotFound)?;
    let (reserved, ours) = repo::sale_units(&state.db, id).await?;
    let (door_sold, leased) = persistence::live::sale_door_units(&state.db, id).await?;
    let sold = ours + door_sold;
    let available =
        terms.quantity.checked_sub(reserved + sold + leased).ok_or(FlashSaleError::Overclaimed(id))?;
    let counts = StockCounts { quantity: terms.quantity, available, reserved, sold, leased };
    Ok((Arc::new(terms), counts))
}

#[utoipa::path(
    get,
    path = "/api/v1/flash-sales/{id}",
    tag = "flash sales",
    summary = "A flash sale: terms and live stock",
    params(("id" = i64, Path, description = "flash sale id")),
    responses(
        (status = 200, description = "terms and counts", example = json!({"id": 1, "price_fen": 990, "quantity": 50, "available": 50})),
        (status = 404, description = "`flash_sale_not_found`", body = ErrorBody),
    ),
)]
#[get("/flash-sales/{id}")]
pub async fn get(state: web::Data<AppState>, id: web::Path<i64>) -> Result<HttpResponse, FlashSaleError> {
    let id = FlashSaleId(id.into_inner());
    let (terms, counts) = terms_and_counts(&state, id).await?;
    let now = state.clock.now();
    // Read from the database only once the sale ended: a live sale is read from memory.
    let sku =
        if now >= terms.ends_at { persistence::catalogue::sku_of_sale(&state.db, id).await? } else { None };
    let suspended = state.registry.get(terms.id).is_some_and(|sale| sale.gauge.is_suspended());
    let phase = if suspended {
        "suspended"
    } else if now < terms.starts_at {
        "scheduled"
    } else if now >= terms.ends_at {
        "ended"
    } else if counts.available == 0 {
        "sold_out"
    } else {
        "live"
    };
    Ok(HttpResponse::Ok().json(json!({
        "id": terms.id,
        "merchant_id": terms.merchant_id,
        "product_id": terms.product_id,
        "title": terms.title,
        "price_fen": terms.price_fen,
        "quantity": counts.quantity,
        "available": counts.available,
        "reserved": counts.reserved,
        "sold": counts.sold,
        // Leased to live platforms (Douyin, Kuaishou) and not yet known sold there.
        "leased": counts.leased,
        "per_buyer_limit": terms.per_buyer_limit,
        "starts_at": rfc3339(terms.starts_at),
        "ends_at": rfc3339(terms.ends_at),
        "payment_window_secs": terms.payment_window_secs,
        "state": phase,
        // Once ended: the SKU its units came from, and how many went back there once it settled.
        "sku_id": sku.map(|(sku, _)| sku),
        "unsold_returned": sku.and_then(|(_, returned)| returned),
    })))
}
