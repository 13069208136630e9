//! A merchant's products: manual entry (bulk import comes later), read by anyone.

use actix_web::{HttpResponse, get, post, web};
use engine::{Fen, ProductId, SaleTerms};
use persistence::repo::{self, NewProduct, ProductRecord};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::MerchantAuth;
use crate::error::ApiError;
use crate::routes::text_field;

/// Most units a product may list.
const MAX_STOCK: i64 = 10_000_000;

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
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let title = text_field(&body.title, "title", 120)?;
    if !(1..=SaleTerms::MAX_PRICE_FEN).contains(&body.price_fen) {
        return Err(ApiError::invalid(
            "invalid_price",
            format!("price_fen must be from 1 to {}", SaleTerms::MAX_PRICE_FEN),
        ));
    }
    if !(0..=MAX_STOCK).contains(&body.stock) {
        return Err(ApiError::invalid("invalid_stock", format!("stock must be from 0 to {MAX_STOCK}")));
    }
    if body.description.chars().count() > 5_000 || body.image_url.len() > 1_000 {
        return Err(ApiError::invalid("invalid_field", "description or image_url is too long"));
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
pub async fn get(state: web::Data<AppState>, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    match repo::product(&state.db, ProductId(id.into_inner())).await? {
        Some(p) => Ok(HttpResponse::Ok().json(render(&p))),
        None => Err(ApiError::not_found("product_not_found", "no such product")),
    }
}

#[get("/products")]
pub async fn list_mine(state: web::Data<AppState>, merchant: MerchantAuth) -> Result<HttpResponse, ApiError> {
    let products = repo::products_of_merchant(&state.db, merchant.0).await?;
    Ok(HttpResponse::Ok().json(json!({ "products": products.iter().map(render).collect::<Vec<_>>() })))
}
