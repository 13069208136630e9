//! A merchant's products: manual entry (bulk import comes later), read by anyone.

use actix_web::{HttpResponse, get, patch, post, web};
use engine::{Fen, ProductId, SaleTerms};
use persistence::DbErr;
use persistence::repo::{self, NewProduct, ProductPatch, ProductRecord};
use serde::Deserialize;
use serde_json::{Value, json};
use thiserror::Error;

use crate::AppState;
use crate::auth::MerchantAuth;
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::routes::text_field;

/// Most units a product may list.
const MAX_STOCK: i64 = 10_000_000;

/// What the product routes answer besides success.
#[derive(Debug, Error)]
pub enum ProductError {
    #[error("price_fen must be from 1 to {}", SaleTerms::MAX_PRICE_FEN)]
    InvalidPrice,
    #[error("stock must be from 0 to {MAX_STOCK}")]
    InvalidStock,
    #[error("description or image_url is too long")]
    TooLong,
    #[error("no such product")]
    NotFound,
    /// A field check shared with other groups.
    #[error(transparent)]
    Field(#[from] ApiError),
    #[error("database: {0}")]
    Internal(#[from] DbErr),
}

impl ProductError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Self::InvalidPrice => ApiError::invalid("invalid_price", message),
            Self::InvalidStock => ApiError::invalid("invalid_stock", message),
            Self::TooLong => ApiError::invalid("invalid_field", message),
            Self::NotFound => ApiError::not_found("product_not_found", message),
            Self::Field(api) => api.clone(),
            Self::Internal(_) => ApiError::unexpected(),
        }
    }
}

crate::route_error!(ProductError);

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewProductBody {
    title: String,
    price_fen: i64,
    stock: i64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    image_url: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/products",
    tag = "catalogue",
    summary = "List a product",
    request_body(content = NewProductBody, example = json!({"title": "网红口红 Lipstick", "price_fen": 12900, "stock": 100})),
    responses(
        (status = 201, description = "the product", example = json!({"product_id": 1})),
        (status = 400, description = "malformed request (`bad_request`, `malformed_json`)", body = ErrorBody),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[post("/products")]
pub async fn create(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    body: web::Json<NewProductBody>,
) -> Result<HttpResponse, ProductError> {
    let body = body.into_inner();
    let title = text_field(&body.title, "title", 120)?;
    if !(1..=SaleTerms::MAX_PRICE_FEN).contains(&body.price_fen) {
        return Err(ProductError::InvalidPrice);
    }
    if !(0..=MAX_STOCK).contains(&body.stock) {
        return Err(ProductError::InvalidStock);
    }
    if body.description.chars().count() > 5_000 || body.image_url.len() > 1_000 {
        return Err(ProductError::TooLong);
    }
    let product = NewProduct {
        title,
        description: body.description.trim().to_owned(),
        image_url: body.image_url.trim().to_owned(),
        price_fen: Fen(body.price_fen),
        stock: body.stock,
    };
    let id = repo::insert_product(&state.db, merchant.0, product, state.clock.now()).await?;
    Ok(HttpResponse::Created().json(json!({ "product_id": id })))
}

fn render(p: &ProductRecord) -> Value {
    json!({
        "id": p.id,
        "merchant_id": p.merchant_id,
        "title": p.title,
        "description": p.description,
        "image_url": p.image_url,
        "price_fen": p.price_fen,
        "stock": p.stock,
        "status": p.status,
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/products/{id}",
    tag = "catalogue",
    summary = "A product",
    params(("id" = i64, Path, description = "product id")),
    responses(
        (status = 200, description = "the product", example = json!({"id": 1, "merchant_id": 1, "title": "网红口红 Lipstick", "price_fen": 12900, "stock": 100})),
        (status = 404, description = "`product_not_found`", body = ErrorBody),
    ),
)]
#[get("/products/{id}")]
pub async fn get(state: web::Data<AppState>, id: web::Path<i64>) -> Result<HttpResponse, ProductError> {
    let product =
        repo::product(&state.db, ProductId(id.into_inner())).await?.ok_or(ProductError::NotFound)?;
    Ok(HttpResponse::Ok().json(render(&product)))
}

#[utoipa::path(
    get,
    path = "/api/v1/products",
    tag = "catalogue",
    summary = "The caller's products",
    responses(
        (status = 200, description = "the products", example = json!({"products": []})),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/products")]
pub async fn list_mine(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
) -> Result<HttpResponse, ProductError> {
    let products = repo::products_of_merchant(&state.db, merchant.0).await?;
    Ok(HttpResponse::Ok().json(json!({ "products": products.iter().map(render).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ProductEdit {
    title: Option<String>,
    description: Option<String>,
    image_url: Option<String>,
    price_fen: Option<i64>,
}

/// Changes what a product says of itself (a sale's terms, its flash price and units, do not
/// change). The fan's page shows an edit within its catalogue's freshness (30 s).
#[utoipa::path(
    patch,
    path = "/api/v1/products/{id}",
    tag = "catalogue",
    summary = "Edit one of your products (title, description, picture, list price)",
    params(("id" = i64, Path, description = "product id")),
    request_body(content = ProductEdit, example = json!({"title": "网红口红 Lipstick 新色", "price_fen": 13900})),
    responses(
        (status = 200, description = "the product as edited", example = json!({"id": 1, "merchant_id": 1, "title": "网红口红 Lipstick 新色", "price_fen": 13900, "stock": 100})),
        (status = 400, description = "malformed request (`bad_request`, `malformed_json`)", body = ErrorBody),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`product_not_found`: no such product of yours", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[patch("/products/{id}")]
pub async fn edit(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    id: web::Path<i64>,
    body: web::Json<ProductEdit>,
) -> Result<HttpResponse, ProductError> {
    let body = body.into_inner();
    let title = body.title.as_deref().map(|t| text_field(t, "title", 120)).transpose()?;
    if let Some(price) = body.price_fen
        && !(1..=SaleTerms::MAX_PRICE_FEN).contains(&price)
    {
        return Err(ProductError::InvalidPrice);
    }
    let too_long = body.description.as_ref().is_some_and(|d| d.chars().count() > 5_000)
        || body.image_url.as_ref().is_some_and(|u| u.len() > 1_000);
    if too_long {
        return Err(ProductError::TooLong);
    }
    let patch = ProductPatch {
        title,
        description: body.description.map(|d| d.trim().to_owned()),
        image_url: body.image_url.map(|u| u.trim().to_owned()),
        price_fen: body.price_fen.map(Fen),
    };
    let product = repo::update_product(&state.db, merchant.0, ProductId(id.into_inner()), patch)
        .await?
        .ok_or(ProductError::NotFound)?;
    Ok(HttpResponse::Ok().json(render(&product)))
}
