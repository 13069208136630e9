//! A merchant's products: manual entry (bulk import comes later), read by anyone.

use actix_web::{HttpResponse, get, post, web};
use engine::{Fen, ProductId, SaleTerms};
use persistence::DbErr;
use persistence::repo::{self, NewProduct, ProductRecord};
use serde::Deserialize;
use serde_json::{Value, json};
use thiserror::Error;

use crate::AppState;
use crate::auth::MerchantAuth;
use crate::error::ApiError;
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

#[derive(Deserialize)]
pub struct NewProductBody {
    title: String,
    price_fen: i64,
    stock: i64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    image_url: String,
}

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

#[get("/products/{id}")]
pub async fn get(state: web::Data<AppState>, id: web::Path<i64>) -> Result<HttpResponse, ProductError> {
    let product =
        repo::product(&state.db, ProductId(id.into_inner())).await?.ok_or(ProductError::NotFound)?;
    Ok(HttpResponse::Ok().json(render(&product)))
}

#[get("/products")]
pub async fn list_mine(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
) -> Result<HttpResponse, ProductError> {
    let products = repo::products_of_merchant(&state.db, merchant.0).await?;
    Ok(HttpResponse::Ok().json(json!({ "products": products.iter().map(render).collect::<Vec<_>>() })))
}
