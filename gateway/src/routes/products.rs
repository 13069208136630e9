//! A merchant's products: with specs and SKUs, pictures, an after-sales policy, edits kept as
//! revisions, states moved through the banned-word check, bulk import; read by anyone.

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, delete, get, patch, post, put, web};
use engine::catalogue::{
    self as rules, DEFAULT_SKU, FieldFault, MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS, ProductState,
    ReturnShipping, SkuDraft, Spec,
};
use engine::{Fen, ProductId};
use futures_util::StreamExt as _;
use persistence::DbErr;
use persistence::catalogue::{self as stored, Edit, ProductDetail, ProductDraft, SkuPatch};
use serde::Deserialize;
use serde_json::{Value, json};
use thiserror::Error;
use workflows::catalogue::images::ImageError;
use workflows::catalogue::import::{FileKind, ImportError};
use workflows::catalogue::{self, CatalogueError};

use crate::AppState;
use crate::access::{ContentReview, OperatorAuth};
use crate::auth::MerchantAuth;
use crate::error::ApiError;
use crate::openapi::ErrorBody;

/// What the product routes answer besides success.
#[derive(Debug, Error)]
pub enum ProductError {
    #[error("{0}")]
    Field(FieldFault),
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Fields(Vec<FieldFault>),
    #[error("no such product")]
    NotFound,
    #[error("no such SKU of this product")]
    SkuNotFound,
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("send the file as multipart/form-data in a field named `file`")]
    NoFile,
    #[error("the upload is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the product is not under review")]
    NotUnderReview,
    /// An answer made elsewhere (audit).
    #[error("{0}")]
    Api(ApiError),
    #[error("database: {0}")]
    Internal(#[from] DbErr),
}

impl From<ApiError> for ProductError {
    fn from(api: ApiError) -> Self {
        Self::Api(api)
    }
}

impl ProductError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        let field_code = |f: &FieldFault| -> &'static str {
            let name = f.field.rsplit('.').next().unwrap_or(&f.field);
            match name {
                "price_fen" => "invalid_price",
                "stock" => "invalid_stock",
                _ if f.field.starts_with("skus") => "invalid_skus",
                _ if f.field.starts_with("specs") => "invalid_specs",
                _ => "invalid_field",
            }
        };
        match self {
            Self::Field(f) => ApiError::invalid(field_code(f), message),
            Self::Fields(fs) => ApiError::invalid(fs.first().map_or("invalid_field", field_code), message),
            Self::NotFound
            | Self::Catalogue(CatalogueError::NotFound)
            | Self::Image(ImageError::NotFound) => ApiError::not_found("product_not_found", message),
            Self::SkuNotFound => ApiError::not_found("sku_not_found", message),
            Self::Catalogue(CatalogueError::BannedWords(_)) => ApiError::invalid("banned_words", message),
            Self::Catalogue(CatalogueError::Transition { .. }) => {
                ApiError::conflict("invalid_transition", message)
            }
            Self::Catalogue(CatalogueError::DuplicateCode) => {
                ApiError::conflict("product_code_taken", message)
            }
            Self::Catalogue(CatalogueError::Conflict) => ApiError::conflict("edit_conflict", message),
            Self::Catalogue(CatalogueError::HeldBack(_)) => ApiError::conflict("product_held_back", message),
            Self::Image(ImageError::TooLarge(_)) | Self::TooLarge(_) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
            }
            Self::Image(ImageError::UnsupportedType) | Self::Import(ImportError::UnsupportedType) => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message)
            }
            Self::Image(ImageError::TooManyPixels(_) | ImageError::Undecodable) => {
                ApiError::invalid("invalid_image", message)
            }
            Self::Image(ImageError::TooMany(_)) => ApiError::conflict("too_many_images", message),
            Self::Import(ImportError::Unreadable(_)) => ApiError::invalid("unreadable_file", message),
            Self::Import(ImportError::TooManyRows(_)) => ApiError::invalid("too_many_rows", message),
            Self::NoFile => ApiError::bad_request("file_missing", message),
            Self::NotUnderReview => ApiError::conflict("not_under_review", message),
            Self::Api(api) => api.clone(),
            Self::Catalogue(CatalogueError::Db(_))
            | Self::Image(_)
            | Self::Import(ImportError::Db(_))
            | Self::Internal(_) => ApiError::unexpected(),
        }
    }
}

impl ResponseError for ProductError {
    fn status_code(&self) -> StatusCode {
        self.api().status
    }

    fn error_response(&self) -> HttpResponse {
        let api = self.api();
        if api.status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(cause = %self, "internal error");
        }
        // `banned_words` names the words, so a program can show them.
        if let Self::Catalogue(CatalogueError::BannedWords(words)) = self {
            return HttpResponse::build(api.status)
                .json(json!({"error": {"code": api.code, "message": api.message, "words": words}}));
        }
        api.error_response()
    }
}

fn field(result: Result<String, FieldFault>) -> Result<String, ProductError> {
    result.map_err(ProductError::Field)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SpecBody {
    name: String,
    values: Vec<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SkuBody {
    code: String,
    /// Spec name → value.
    #[serde(default)]
    #[schema(value_type = Object)]
    values: BTreeMap<String, String>,
    price_fen: i64,
    stock: i64,
    #[serde(default)]
    low_stock_threshold: i64,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AfterSalesBody {
    /// Takes no-reason returns within 7 days of delivery (七天无理由).
    no_reason_returns: bool,
    /// Who pays a return's postage: `buyer`, `seller`, `insurance`.
    #[serde(default)]
    return_shipping: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewProductBody {
    title: String,
    /// With `skus`, the price of none: each SKU has its own.
    #[serde(default)]
    price_fen: Option<i64>,
    #[serde(default)]
    stock: Option<i64>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    image_url: String,
    /// The merchant's own code, unique among its products (what imports are keyed by).
    #[serde(default)]
    product_code: Option<String>,
    #[serde(default)]
    specs: Vec<SpecBody>,
    #[serde(default)]
    skus: Vec<SkuBody>,
    #[serde(default)]
    after_sales: Option<AfterSalesBody>,
    /// `true`: kept as a draft, not listed.
    #[serde(default)]
    draft: bool,
}

fn specs_of(body: Vec<SpecBody>) -> Vec<Spec> {
    body.into_iter()
        .map(|s| Spec {
            name: s.name.trim().to_owned(),
            values: s.values.into_iter().map(|v| v.trim().to_owned()).collect(),
        })
        .collect()
}

fn skus_of(body: Vec<SkuBody>) -> Vec<SkuDraft> {
    body.into_iter()
        .map(|s| SkuDraft {
            code: s.code.trim().to_owned(),
            values: s.values.into_iter().map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect(),
            price_fen: s.price_fen,
            stock: s.stock,
            low_stock_threshold: s.low_stock_threshold,
        })
        .collect()
}

fn shipping(raw: Option<&str>) -> Result<Option<ReturnShipping>, ProductError> {
    raw.map(|r| {
        ReturnShipping::parse(r).ok_or_else(|| {
            ProductError::Field(FieldFault {
                field: "after_sales.return_shipping".into(),
                reason: "must be buyer, seller or insurance".into(),
            })
        })
    })
    .transpose()
}

fn description(raw: &str) -> Result<String, ProductError> {
    let text = raw.trim();
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ProductError::Field(FieldFault {
            field: "description".into(),
            reason: format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
        }));
    }
    Ok(text.to_owned())
}

fn image_url(raw: &str) -> Result<String, ProductError> {
    if raw.len() > 1_000 {
        return Err(ProductError::Field(FieldFault {
            field: "image_url".into(),
            reason: "is too long".into(),
        }));
    }
    Ok(raw.trim().to_owned())
}

#[utoipa::path(
    post,
    path = "/api/v1/products",
    tag = "catalogue",
    summary = "Add a product: one price and stock, or specs and SKUs; listed unless a draft",
    description = "Title, description and specs pass the banned-word check: a hit puts the product under review, or answers 422 `banned_words` (naming the words in `error.words`), as `catalogue.banned_words_action` says. With specs: `{\"title\": \"纯棉T恤\", \"product_code\": \"TSHIRT-01\", \"specs\": [{\"name\": \"颜色\", \"values\": [\"白\", \"黑\"]}], \"skus\": [{\"code\": \"W\", \"values\": {\"颜色\": \"白\"}, \"price_fen\": 5990, \"stock\": 100, \"low_stock_threshold\": 10}, {\"code\": \"B\", \"values\": {\"颜色\": \"黑\"}, \"price_fen\": 5990, \"stock\": 80}], \"after_sales\": {\"no_reason_returns\": true, \"return_shipping\": \"buyer\"}}`.",
    request_body(content = NewProductBody, example = json!({"title": "网红口红 Lipstick", "price_fen": 12900, "stock": 100})),
    responses(
        (status = 201, description = "the product and the state it is in", example = json!({"product_id": 1, "status": "listed"})),
        (status = 400, description = "malformed request (`bad_request`, `malformed_json`)", body = ErrorBody),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 409, description = "`product_code_taken`", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`), or `banned_words`", body = ErrorBody),
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
    let title = field(rules::line(&body.title, "title", MAX_TITLE_CHARS))?;
    let specs = specs_of(body.specs);
    let skus = if body.skus.is_empty() {
        let price = body.price_fen.unwrap_or(0);
        rules::price(price, "price_fen").map_err(ProductError::Field)?;
        let stock = body.stock.unwrap_or(-1);
        rules::stock(stock, "stock").map_err(ProductError::Field)?;
        vec![SkuDraft {
            code: DEFAULT_SKU.into(),
            values: BTreeMap::new(),
            price_fen: price,
            stock,
            low_stock_threshold: 0,
        }]
    } else {
        skus_of(body.skus)
    };
    let faults = rules::check_skus(&specs, &skus);
    if !faults.is_empty() {
        return Err(ProductError::Fields(faults));
    }
    let code = body
        .product_code
        .as_deref()
        .map(|c| rules::code(c, "product_code"))
        .transpose()
        .map_err(ProductError::Field)?;
    let after = body.after_sales;
    let draft = ProductDraft {
        code,
        title,
        description: description(&body.description)?,
        image_url: image_url(&body.image_url)?,
        specs,
        skus,
        no_reason_returns: after.as_ref().is_none_or(|a| a.no_reason_returns),
        return_shipping: shipping(after.as_ref().and_then(|a| a.return_shipping.as_deref()))?
            .unwrap_or_default(),
        state: if body.draft { ProductState::Draft } else { ProductState::Listed },
        state_reason: None,
    };
    let id = state.catalogue.create(merchant.0, draft).await?;
    let product = stored::detail(&state.db, id).await?.ok_or(ProductError::NotFound)?;
    Ok(HttpResponse::Created().json(
        json!({ "product_id": id, "status": product.state.as_str(), "status_reason": product.state_reason }),
    ))
}

/// The public view of a product; `full` adds what only its merchant sees.
pub fn render(p: &ProductDetail) -> Value {
    json!({
        "id": p.product.id,
        "merchant_id": p.product.merchant_id,
        "product_code": p.code,
        "title": p.product.title,
        "description": p.product.description,
        "image_url": p.product.image_url,
        "price_fen": p.product.price_fen,
        "stock": p.product.stock,
        "status": p.state.as_str(),
        "status_reason": p.state_reason,
        "revision": p.revision,
        "specs": p.specs,
        "skus": p.skus,
        "low_stock": p.skus.iter().any(|s| s.low_stock),
        "images": p.images.iter().map(|i| json!({
            "id": i.id,
            "position": i.position,
            "content_type": i.content_type,
            "width": i.width,
            "height": i.height,
            "url": format!("/api/v1/product-images/{}", i.id),
            "thumbnail_url": format!("/api/v1/product-images/{}?size=thumb", i.id),
        })).collect::<Vec<_>>(),
        "after_sales": {
            "no_reason_returns": p.no_reason_returns,
            "return_shipping": p.return_shipping.as_str(),
        },
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/products/{id}",
    tag = "catalogue",
    summary = "A product, with its specs, SKUs, pictures and after-sales policy",
    params(("id" = i64, Path, description = "product id")),
    responses(
        (status = 200, description = "the product", example = json!({"id": 1, "merchant_id": 1, "title": "网红口红 Lipstick", "price_fen": 12900, "stock": 100, "status": "listed", "skus": [{"id": 1, "code": "default", "values": {}, "price_fen": 12900, "stock": 100, "low_stock_threshold": 0, "low_stock": false}]})),
        (status = 404, description = "`product_not_found`", body = ErrorBody),
    ),
)]
#[get("/products/{id}")]
pub async fn get(state: web::Data<AppState>, id: web::Path<i64>) -> Result<HttpResponse, ProductError> {
    let product =
        stored::detail(&state.db, ProductId(id.into_inner())).await?.ok_or(ProductError::NotFound)?;
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
    let products = stored::details_of_merchant(&state.db, merchant.0).await?;
    Ok(HttpResponse::Ok().json(json!({ "products": products.iter().map(render).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ProductEdit {
    title: Option<String>,
    description: Option<String>,
    image_url: Option<String>,
    /// The price of a product of one SKU.
    price_fen: Option<i64>,
    specs: Option<Vec<SpecBody>>,
    /// Upserted by code; SKUs not named stay as they are.
    #[serde(default)]
    skus: Vec<SkuBody>,
    after_sales: Option<AfterSalesBody>,
}

/// Changes what a product says of itself; each edit is a new revision. A flash sale's terms
/// do not change. A listed product whose new text has a banned word goes to review (or the
/// edit is refused, as configured).
#[utoipa::path(
    patch,
    path = "/api/v1/products/{id}",
    tag = "catalogue",
    summary = "Edit one of your products (text, picture, list price, specs, SKUs, after-sales)",
    params(("id" = i64, Path, description = "product id")),
    request_body(content = ProductEdit, example = json!({"title": "网红口红 Lipstick 新色", "price_fen": 13900})),
    responses(
        (status = 200, description = "the product as edited", example = json!({"id": 1, "merchant_id": 1, "title": "网红口红 Lipstick 新色", "price_fen": 13900, "stock": 100, "revision": 2})),
        (status = 400, description = "malformed request (`bad_request`, `malformed_json`)", body = ErrorBody),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`product_not_found`: no such product of yours", body = ErrorBody),
        (status = 409, description = "`edit_conflict`: edited meanwhile", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`), or `banned_words`", body = ErrorBody),
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
    let id = ProductId(id.into_inner());
    let body = body.into_inner();
    let current =
        stored::detail_of_merchant(&state.db, merchant.0, id).await?.ok_or(ProductError::NotFound)?;
    let title = body.title.as_deref().map(|t| field(rules::line(t, "title", MAX_TITLE_CHARS))).transpose()?;
    if let Some(price) = body.price_fen {
        rules::price(price, "price_fen").map_err(ProductError::Field)?;
    }
    let specs = body.specs.map(specs_of);
    let skus = skus_of(body.skus);
    if specs.is_some() || !skus.is_empty() {
        // The SKUs as they will be, checked against the specs as they will be.
        let mut all: Vec<SkuDraft> = current
            .skus
            .iter()
            .filter(|s| !skus.iter().any(|n| n.code == s.code))
            .map(|s| SkuDraft {
                code: s.code.clone(),
                values: s.values.clone(),
                price_fen: s.price_fen,
                stock: s.stock,
                low_stock_threshold: s.low_stock_threshold,
            })
            .collect();
        all.extend(skus.iter().cloned());
        let faults = rules::check_skus(specs.as_deref().unwrap_or(&current.specs), &all);
        if !faults.is_empty() {
            return Err(ProductError::Fields(faults));
        }
    }
    let after = body.after_sales;
    let edit = Edit {
        title,
        description: body.description.as_deref().map(description).transpose()?,
        image_url: body.image_url.as_deref().map(image_url).transpose()?,
        price_fen: body.price_fen.map(Fen),
        no_reason_returns: after.as_ref().map(|a| a.no_reason_returns),
        return_shipping: shipping(after.as_ref().and_then(|a| a.return_shipping.as_deref()))?,
        specs,
        skus,
        state: None,
    };
    state.catalogue.edit(merchant.0, id, edit).await?;
    let product = stored::detail(&state.db, id).await?.ok_or(ProductError::NotFound)?;
    Ok(HttpResponse::Ok().json(render(&product)))
}

#[utoipa::path(
    get,
    path = "/api/v1/products/{id}/revisions",
    tag = "catalogue",
    summary = "Every revision of one of your products, newest first",
    params(("id" = i64, Path, description = "product id")),
    responses(
        (status = 200, description = "the revisions", example = json!({"revisions": [{"revision": 2, "edited_by": "merchant", "edited_at_ms": 1767225600000_i64, "product": {"title": "网红口红 Lipstick 新色"}}]})),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`product_not_found`", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/products/{id}/revisions")]
pub async fn revisions(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    id: web::Path<i64>,
) -> Result<HttpResponse, ProductError> {
    let id = ProductId(id.into_inner());
    stored::detail_of_merchant(&state.db, merchant.0, id).await?.ok_or(ProductError::NotFound)?;
    let revisions = stored::revisions(&state.db, id, 200).await?;
    Ok(HttpResponse::Ok().json(json!({ "revisions": revisions })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StateBody {
    /// `listed`, `delisted` or `draft`.
    status: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/products/{id}/status",
    tag = "catalogue",
    summary = "List, delist or return to draft one of your products",
    description = "draft → listed, listed → delisted, delisted → listed, listed or delisted → draft. Listing passes the banned-word check: the answer may be `under_review`, or 422 `banned_words`.",
    params(("id" = i64, Path, description = "product id")),
    request_body(content = StateBody, example = json!({"status": "delisted"})),
    responses(
        (status = 200, description = "the state it is in now", example = json!({"product_id": 1, "status": "delisted"})),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`product_not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`, `product_held_back` (an operator delisted it)", body = ErrorBody),
        (status = 422, description = "`invalid_status`, `banned_words`", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[post("/products/{id}/status")]
pub async fn set_status(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    id: web::Path<i64>,
    body: web::Json<StateBody>,
) -> Result<HttpResponse, ProductError> {
    let id = ProductId(id.into_inner());
    let to = ProductState::parse(&body.status).ok_or_else(|| {
        ProductError::Api(ApiError::invalid("invalid_status", "status must be listed, delisted or draft"))
    })?;
    let now = state.catalogue.move_to(merchant.0, id, to).await?;
    Ok(HttpResponse::Ok().json(json!({ "product_id": id, "status": now.as_str() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SkuEdit {
    price_fen: Option<i64>,
    /// The SKU's stock from now on (a restock names the new count).
    stock: Option<i64>,
    low_stock_threshold: Option<i64>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/products/{id}/skus/{sku_id}",
    tag = "catalogue",
    summary = "Change one SKU's price, stock or low-stock threshold",
    description = "A product whose stock reaches 0 is delisted as sold out, and listed again when restocked.",
    params(("id" = i64, Path, description = "product id"), ("sku_id" = i64, Path, description = "SKU id")),
    request_body(content = SkuEdit, example = json!({"stock": 50, "low_stock_threshold": 5})),
    responses(
        (status = 200, description = "the SKU", example = json!({"id": 3, "code": "W", "price_fen": 5990, "stock": 50, "low_stock_threshold": 5, "low_stock": false})),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`sku_not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_price`, `invalid_stock`, `invalid_field`", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[patch("/products/{id}/skus/{sku_id}")]
pub async fn edit_sku(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    path: web::Path<(i64, i64)>,
    body: web::Json<SkuEdit>,
) -> Result<HttpResponse, ProductError> {
    let (id, sku_id) = path.into_inner();
    if let Some(p) = body.price_fen {
        rules::price(p, "price_fen").map_err(ProductError::Field)?;
    }
    if let Some(s) = body.stock {
        rules::stock(s, "stock").map_err(ProductError::Field)?;
    }
    if let Some(t) = body.low_stock_threshold {
        rules::threshold(t, "low_stock_threshold").map_err(ProductError::Field)?;
    }
    let patch = SkuPatch {
        price_fen: body.price_fen,
        stock: body.stock,
        low_stock_threshold: body.low_stock_threshold,
    };
    let sku = stored::update_sku(&state.db, merchant.0, ProductId(id), sku_id, patch, state.clock.now())
        .await?
        .ok_or(ProductError::SkuNotFound)?;
    Ok(HttpResponse::Ok().json(sku))
}

#[utoipa::path(
    get,
    path = "/api/v1/products/low-stock",
    tag = "catalogue",
    summary = "Your SKUs at or under their low-stock threshold",
    responses(
        (status = 200, description = "the SKUs", example = json!({"skus": [{"product_title": "纯棉T恤", "id": 3, "code": "W", "stock": 4, "low_stock_threshold": 5, "low_stock": true}]})),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/products/low-stock")]
pub async fn low_stock(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
) -> Result<HttpResponse, ProductError> {
    let rows = stored::low_stock(&state.db, merchant.0, 500).await?;
    let skus: Vec<Value> = rows
        .into_iter()
        .map(|(title, sku)| {
            let mut v = serde_json::to_value(sku).unwrap_or_default();
            v["product_title"] = json!(title);
            v
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "skus": skus })))
}

/// A multipart upload: one file.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The first field named `file` of a multipart body, at most `max` bytes: its file name,
/// content type and bytes.
async fn file_of(mut form: Multipart, max: usize) -> Result<(String, String, Vec<u8>), ProductError> {
    let bad = |e: actix_multipart::MultipartError| {
        ProductError::Api(ApiError::bad_request("bad_multipart", e.to_string()))
    };
    while let Some(part) = form.next().await {
        let mut part = part.map_err(bad)?;
        if part.name() != Some("file") {
            while let Some(chunk) = part.next().await {
                chunk.map_err(bad)?;
            }
            continue;
        }
        let name = part.content_disposition().and_then(|d| d.get_filename()).unwrap_or("").to_owned();
        let content_type = part.content_type().map(ToString::to_string).unwrap_or_default();
        let mut bytes = Vec::new();
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(bad)?;
            if bytes.len() + chunk.len() > max {
                return Err(ProductError::TooLarge(max));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((name, content_type, bytes));
    }
    Err(ProductError::NoFile)
}

#[utoipa::path(
    post,
    path = "/api/v1/products/{id}/images",
    tag = "catalogue",
    summary = "Add a picture (multipart field `file`: PNG or JPEG) after the product's others",
    params(("id" = i64, Path, description = "product id")),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "`file`: the picture"),
    responses(
        (status = 201, description = "the picture, with its thumbnail made: `{id, position, content_type, bytes, width, height, url, thumbnail_url}`"),
        (status = 400, description = "`file_missing`, `bad_multipart`", body = ErrorBody),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`product_not_found`", body = ErrorBody),
        (status = 409, description = "`too_many_images`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not PNG or JPEG", body = ErrorBody),
        (status = 422, description = "`invalid_image`: too many pixels, or not decodable", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[post("/products/{id}/images")]
pub async fn add_image(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    id: web::Path<i64>,
    form: Multipart,
) -> Result<HttpResponse, ProductError> {
    let (_, _, bytes) = file_of(form, state.settings.catalogue.image_max_bytes).await?;
    let added = state.catalogue.add_image(merchant.0, ProductId(id.into_inner()), bytes).await?;
    Ok(HttpResponse::Created().json(json!({
        "id": added.id,
        "position": added.position,
        "content_type": added.content_type,
        "bytes": added.bytes,
        "width": added.width,
        "height": added.height,
        "url": format!("/api/v1/product-images/{}", added.id),
        "thumbnail_url": format!("/api/v1/product-images/{}?size=thumb", added.id),
    })))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ImageQuery {
    /// `thumb` for the thumbnail.
    size: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/product-images/{image_id}",
    tag = "catalogue",
    summary = "A product picture, or its thumbnail (`?size=thumb`)",
    params(("image_id" = i64, Path, description = "picture id"), ImageQuery),
    responses(
        (status = 200, description = "the picture (PNG or JPEG; the thumbnail is PNG)"),
        (status = 404, description = "`product_not_found`", body = ErrorBody),
    ),
)]
#[get("/product-images/{image_id}")]
pub async fn image(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<ImageQuery>,
) -> Result<HttpResponse, ProductError> {
    let thumb = query.size.as_deref() == Some("thumb");
    let (content_type, bytes) = state.catalogue.image_bytes(id.into_inner(), thumb).await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .body(bytes))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ImageOrder {
    /// Every picture of the product, once each, in the wanted order.
    image_ids: Vec<i64>,
}

#[utoipa::path(
    put,
    path = "/api/v1/products/{id}/images/order",
    tag = "catalogue",
    summary = "Put the product's pictures in another order",
    params(("id" = i64, Path, description = "product id")),
    request_body(content = ImageOrder, example = json!({"image_ids": [3, 1, 2]})),
    responses(
        (status = 200, description = "the product"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`product_not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_order`: not every picture once", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[put("/products/{id}/images/order")]
pub async fn reorder_images(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    id: web::Path<i64>,
    body: web::Json<ImageOrder>,
) -> Result<HttpResponse, ProductError> {
    let id = ProductId(id.into_inner());
    stored::detail_of_merchant(&state.db, merchant.0, id).await?.ok_or(ProductError::NotFound)?;
    if !stored::reorder_images(&state.db, id, &body.image_ids).await? {
        return Err(ProductError::Api(ApiError::invalid(
            "invalid_order",
            "name every picture of the product once",
        )));
    }
    let product = stored::detail(&state.db, id).await?.ok_or(ProductError::NotFound)?;
    Ok(HttpResponse::Ok().json(render(&product)))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ImportQuery {
    /// `true`: only check and report; nothing is written.
    #[serde(default)]
    dry_run: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/products/import",
    tag = "catalogue",
    summary = "Import products and SKUs from CSV or XLSX (multipart field `file`)",
    description = "One row per SKU, keyed by `product_code` and `sku_code` (see the template). Every bad row is reported with its row number (the header is row 1), column and reason; with `dry_run=false` every good row is written and no bad one. Uploading the same file again changes nothing.",
    params(ImportQuery),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "`file`: the CSV or XLSX file"),
    responses(
        (status = 200, description = "the report: `{dry_run, rows, good_rows, bad_rows, products, faults: [{row, column, reason}], imported?: {products_created, products_updated, products_unchanged, skus_created, skus_updated}}`"),
        (status = 400, description = "`file_missing`, `bad_multipart`", body = ErrorBody),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 422, description = "`unreadable_file`, `too_many_rows`", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[post("/products/import")]
pub async fn import(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    query: web::Query<ImportQuery>,
    form: Multipart,
) -> Result<HttpResponse, ProductError> {
    let (name, content_type, bytes) = file_of(form, state.settings.catalogue.import_max_bytes).await?;
    let kind = FileKind::detect(&name, &content_type, &bytes).ok_or(ImportError::UnsupportedType)?;
    let report = state.catalogue.import(merchant.0, kind, bytes, query.dry_run).await?;
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct TemplateQuery {
    /// `csv` (the default) or `xlsx`.
    format: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/products/import/template",
    tag = "catalogue",
    summary = "The import template, CSV or XLSX, with example rows",
    params(TemplateQuery),
    responses(
        (status = 200, description = "the template file"),
        (status = 422, description = "`invalid_format`", body = ErrorBody),
    ),
)]
#[get("/products/import/template")]
pub async fn import_template(query: web::Query<TemplateQuery>) -> Result<HttpResponse, ProductError> {
    match query.format.as_deref().unwrap_or("csv") {
        "csv" => Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", "attachment; filename=\"products-template.csv\""))
            .body(catalogue::import::template_csv())),
        "xlsx" => {
            let bytes =
                catalogue::import::template_xlsx().map_err(|e| ProductError::Api(ApiError::internal(e)))?;
            Ok(HttpResponse::Ok()
                .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                .insert_header(("Content-Disposition", "attachment; filename=\"products-template.xlsx\""))
                .body(bytes))
        }
        _ => Err(ProductError::Api(ApiError::invalid("invalid_format", "format must be csv or xlsx"))),
    }
}

// ---- operators: the review queue -----------------------------------------------------------

#[utoipa::path(
    get,
    path = "/api/v1/operator/product-reviews",
    tag = "operator console",
    summary = "Products held for banned words, oldest first (reviewer)",
    responses(
        (status = 200, description = "the queue: `{products: [product…]}`, each with `status_reason` naming the words"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[get("/operator/product-reviews")]
pub async fn review_queue(
    state: web::Data<AppState>,
    _operator: OperatorAuth<ContentReview>,
) -> Result<HttpResponse, ProductError> {
    let queue = stored::review_queue(&state.db, 200).await?;
    Ok(HttpResponse::Ok().json(json!({ "products": queue.iter().map(render).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReviewDecision {
    /// `approve` (listed) or `reject` (delisted with the reason).
    decision: String,
    #[serde(default)]
    reason: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/product-reviews/{id}",
    tag = "operator console",
    summary = "Decide a product under review: approve (listed) or reject with a reason (reviewer, audited)",
    params(("id" = i64, Path, description = "product id")),
    request_body(content = ReviewDecision, example = json!({"decision": "reject", "reason": "“全网最低”为广告法禁用词"})),
    responses(
        (status = 200, description = "decided: `{product_id, status, status_reason}`"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 404, description = "`product_not_found`", body = ErrorBody),
        (status = 409, description = "`not_under_review`", body = ErrorBody),
        (status = 422, description = "`invalid_decision`, `reason_required`", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/product-reviews/{id}")]
pub async fn decide_review(
    state: web::Data<AppState>,
    operator: OperatorAuth<ContentReview>,
    id: web::Path<i64>,
    body: web::Json<ReviewDecision>,
) -> Result<HttpResponse, ProductError> {
    let id = ProductId(id.into_inner());
    let approve = match body.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return Err(ProductError::Api(ApiError::invalid(
                "invalid_decision",
                "decision must be approve or reject",
            )));
        }
    };
    let reason = body.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    if !approve && reason.is_none() {
        return Err(ProductError::Api(ApiError::invalid("reason_required", "a rejection needs a reason")));
    }
    if let Some(r) = &reason
        && r.chars().count() > 500
    {
        return Err(ProductError::Api(ApiError::invalid(
            "invalid_field",
            "reason is longer than 500 characters",
        )));
    }
    stored::detail(&state.db, id).await?.ok_or(ProductError::NotFound)?;
    if !state.catalogue.decide(id, approve, reason.clone()).await? {
        return Err(ProductError::NotUnderReview);
    }
    let action = if approve { "product_review_approved" } else { "product_review_rejected" };
    operator.audit(&state, action, format!("product:{id}"), json!({ "reason": reason })).await?;
    let product = stored::detail(&state.db, id).await?.ok_or(ProductError::NotFound)?;
    Ok(HttpResponse::Ok().json(
        json!({ "product_id": id, "status": product.state.as_str(), "status_reason": product.state_reason }),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/products/{id}/images/{image_id}",
    tag = "catalogue",
    summary = "Remove a picture",
    params(("id" = i64, Path, description = "product id"), ("image_id" = i64, Path, description = "picture id")),
    responses(
        (status = 204, description = "removed"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 404, description = "`product_not_found`", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[delete("/products/{id}/images/{image_id}")]
pub async fn remove_image(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ProductError> {
    let (id, image_id) = path.into_inner();
    let id = ProductId(id);
    stored::detail_of_merchant(&state.db, merchant.0, id).await?.ok_or(ProductError::NotFound)?;
    if !stored::remove_image(&state.db, id, image_id).await? {
        return Err(ProductError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}
