//! Keeping sellers honest: operators ban and unban merchants; fans report a sale or a product;
//! operators take down what a report names, or dismiss it. Every decision is audited (see
//! `workflows::merchants::trust` for what each one does to sales, products and tokens).

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use engine::{FlashSaleId, MerchantId, ProductId};
use persistence::trust::{self, FanReport, REPORT_REASONS};
use persistence::{DbErr, repo};
use serde::Deserialize;
use serde_json::{Value, json};
use thiserror::Error;
use workflows::accounts::versions::{Current, Holder};
use workflows::merchants::trust::TrustError;

use crate::AppState;
use crate::access::{Kyc, OperatorAuth, entry};
use crate::auth::BuyerAuth;
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::routes::text_field;
use crate::time::rfc3339;

/// What the moderation routes answer besides success.
#[derive(Debug, Error)]
pub enum ModerationError {
    #[error(transparent)]
    Trust(TrustError),
    #[error("no such merchant")]
    MerchantNotFound,
    #[error("no such flash sale")]
    SaleNotFound,
    #[error("no such product")]
    ProductNotFound,
    #[error("no such report")]
    ReportNotFound,
    #[error("reason must be one of: {}", REPORT_REASONS.join(", "))]
    UnknownReason,
    #[error("you have filed {0} reports in the last hour; try again later")]
    TooManyReports(u32),
    #[error(transparent)]
    Shared(#[from] ApiError),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

impl ModerationError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Self::Trust(TrustError::AlreadyBanned) => ApiError::conflict("already_banned", message),
            Self::Trust(TrustError::NotBanned) => ApiError::conflict("not_banned", message),
            Self::Trust(TrustError::AlreadyDecided) => ApiError::conflict("already_decided", message),
            Self::Trust(TrustError::Journal) => ApiError::unavailable("not_confirmed", message, 1),
            Self::Trust(TrustError::Db(_)) | Self::Db(_) => ApiError::unexpected(),
            Self::MerchantNotFound => ApiError::not_found("merchant_not_found", message),
            Self::SaleNotFound => ApiError::not_found("flash_sale_not_found", message),
            Self::ProductNotFound => ApiError::not_found("product_not_found", message),
            Self::ReportNotFound => ApiError::not_found("report_not_found", message),
            Self::UnknownReason => ApiError::invalid("invalid_reason", message),
            Self::TooManyReports(_) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_reports", message).retry_after(3_600)
            }
            Self::Shared(api) => api.clone(),
        }
    }
}

crate::route_error!(ModerationError);

impl From<TrustError> for ModerationError {
    fn from(error: TrustError) -> Self {
        Self::Trust(error)
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BanBody {
    reason: String,
}

async fn known_merchant(state: &AppState, id: i64) -> Result<MerchantId, ModerationError> {
    let merchant = MerchantId(id);
    repo::merchant_display_name(&state.db, merchant).await?.ok_or(ModerationError::MerchantNotFound)?;
    Ok(merchant)
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/merchants/{id}/ban",
    tag = "operator console",
    summary = "Ban a merchant: its sales stop, products delisted, withdrawals frozen, tokens refused (reviewer)",
    params(("id" = i64, Path, description = "merchant id")),
    request_body(content = BanBody, example = json!({"reason": "counterfeit goods"})),
    responses(
        (status = 200, description = "banned, audited; no order of its sales is accepted after this answer"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 404, description = "`merchant_not_found`", body = ErrorBody),
        (status = 409, description = "`already_banned`", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_field`)", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/merchants/{id}/ban")]
pub async fn ban(
    state: web::Data<AppState>,
    operator: OperatorAuth<Kyc>,
    id: web::Path<i64>,
    body: web::Json<BanBody>,
) -> Result<HttpResponse, ModerationError> {
    let merchant = known_merchant(&state, id.into_inner()).await?;
    let reason = text_field(&body.reason, "reason", 200)?;
    let now = state.clock.now();
    let audit = entry(
        Some(&operator.staff),
        "merchant.ban",
        format!("merchant:{merchant}"),
        json!({ "reason": reason }),
        now,
    );
    let banned = state.trust.trust.ban(merchant, &reason, &audit, now).await?;
    let holder = Holder::Merchant(merchant.0);
    state.token_versions.remember(holder, Current::Version(banned.token_version), Instant::now());
    Ok(HttpResponse::Ok().json(json!({
        "merchant_id": merchant,
        "ban_id": banned.ban_id,
        "reason": reason,
        "sales_suspended": banned.sales_suspended,
        "products_delisted": banned.products_delisted,
    })))
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/merchants/{id}/unban",
    tag = "operator console",
    summary = "Lift a merchant's ban: what the ban held back is given back (reviewer)",
    params(("id" = i64, Path, description = "merchant id")),
    request_body(content = BanBody, example = json!({"reason": "appeal upheld"})),
    responses(
        (status = 200, description = "lifted, audited"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 404, description = "`merchant_not_found`", body = ErrorBody),
        (status = 409, description = "`not_banned`", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/merchants/{id}/unban")]
pub async fn unban(
    state: web::Data<AppState>,
    operator: OperatorAuth<Kyc>,
    id: web::Path<i64>,
    body: web::Json<BanBody>,
) -> Result<HttpResponse, ModerationError> {
    let merchant = known_merchant(&state, id.into_inner()).await?;
    let reason = text_field(&body.reason, "reason", 200)?;
    let now = state.clock.now();
    let audit = entry(
        Some(&operator.staff),
        "merchant.unban",
        format!("merchant:{merchant}"),
        json!({ "reason": reason }),
        now,
    );
    let lifted = state.trust.trust.unban(merchant, &reason, &audit, now).await?;
    Ok(HttpResponse::Ok().json(json!({
        "merchant_id": merchant,
        "ban_id": lifted.ban_id,
        "sales_resumed": lifted.sales_resumed,
        "products_relisted": lifted.products_relisted,
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReportBody {
    /// `counterfeit`, `false_advertising`, `prohibited_goods`, `price_fraud`,
    /// `offensive_content` or `other`.
    reason: String,
    #[serde(default)]
    text: String,
}

async fn file_report(
    state: &AppState,
    buyer: engine::BuyerId,
    target: (MerchantId, Option<FlashSaleId>, ProductId),
    body: &ReportBody,
) -> Result<HttpResponse, ModerationError> {
    let reason = body.reason.trim();
    if !REPORT_REASONS.contains(&reason) {
        return Err(ModerationError::UnknownReason);
    }
    let max_chars = state.settings.trust.report_text_max_chars;
    let text = body.text.trim();
    if text.chars().count() > max_chars || text.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "invalid_text",
            format!("text: at most {max_chars} characters, no control characters"),
        )
        .into());
    }
    let limit = state.settings.trust.reports_per_buyer_per_hour;
    let now = state.clock.now();
    if limit > 0 {
        let filed = trust::reports_since(&state.db, buyer, now.plus_millis(-3_600_000)).await?;
        if filed >= u64::from(limit) {
            return Err(ModerationError::TooManyReports(limit));
        }
    }
    let (merchant_id, flash_sale_id, product_id) = target;
    let report = FanReport {
        id: 0,
        buyer_id: buyer,
        merchant_id,
        flash_sale_id,
        product_id,
        reason: reason.to_owned(),
        text: text.to_owned(),
        state: "open".into(),
        created_at: now,
        decided_at: None,
        decided_by: None,
        decision: None,
    };
    let id = trust::insert_report(&state.db, &report).await?;
    Ok(HttpResponse::Created().json(json!({ "report_id": id, "state": "open" })))
}

#[utoipa::path(
    post,
    path = "/api/v1/flash-sales/{id}/reports",
    tag = "orders",
    summary = "Report a flash sale to the operators (a reason from the list, optional text)",
    params(("id" = i64, Path, description = "flash sale id")),
    request_body(content = ReportBody, example = json!({"reason": "counterfeit", "text": "the logo is wrong"})),
    responses(
        (status = 201, description = "queued for operators", example = json!({"report_id": 1, "state": "open"})),
        (status = 401, description = "missing or invalid buyer token", body = ErrorBody),
        (status = 404, description = "`flash_sale_not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_reason`, `invalid_text`", body = ErrorBody),
        (status = 429, description = "`too_many_reports`", body = ErrorBody),
    ),
    security(("buyer" = [])),
)]
#[post("/flash-sales/{id}/reports")]
pub async fn report_sale(
    state: web::Data<AppState>,
    buyer: BuyerAuth,
    id: web::Path<i64>,
    body: web::Json<ReportBody>,
) -> Result<HttpResponse, ModerationError> {
    let sale_id = FlashSaleId(id.into_inner());
    let terms = match state.registry.get(sale_id) {
        Some(running) => (*running.terms).clone(),
        None => repo::flash_sale(&state.db, sale_id).await?.ok_or(ModerationError::SaleNotFound)?,
    };
    file_report(&state, buyer.0, (terms.merchant_id, Some(terms.id), terms.product_id), &body).await
}

#[utoipa::path(
    post,
    path = "/api/v1/products/{id}/reports",
    tag = "orders",
    summary = "Report a product to the operators (a reason from the list, optional text)",
    params(("id" = i64, Path, description = "product id")),
    request_body(content = ReportBody, example = json!({"reason": "false_advertising"})),
    responses(
        (status = 201, description = "queued for operators", example = json!({"report_id": 1, "state": "open"})),
        (status = 401, description = "missing or invalid buyer token", body = ErrorBody),
        (status = 404, description = "`product_not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_reason`, `invalid_text`", body = ErrorBody),
        (status = 429, description = "`too_many_reports`", body = ErrorBody),
    ),
    security(("buyer" = [])),
)]
#[post("/products/{id}/reports")]
pub async fn report_product(
    state: web::Data<AppState>,
    buyer: BuyerAuth,
    id: web::Path<i64>,
    body: web::Json<ReportBody>,
) -> Result<HttpResponse, ModerationError> {
    let product = repo::product(&state.db, ProductId(id.into_inner()))
        .await?
        .ok_or(ModerationError::ProductNotFound)?;
    file_report(&state, buyer.0, (product.merchant_id, None, product.id), &body).await
}

pub(crate) fn render_report(report: &FanReport) -> Value {
    json!({
        "id": report.id,
        "buyer_id": report.buyer_id,
        "merchant_id": report.merchant_id,
        "flash_sale_id": report.flash_sale_id,
        "product_id": report.product_id,
        "reason": report.reason,
        "text": report.text,
        "state": report.state,
        "created_at": rfc3339(report.created_at),
        "decided_at": report.decided_at.map(rfc3339),
        "decided_by": report.decided_by,
        "decision": report.decision,
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ReportQuery {
    /// `open` (the default), `taken_down` or `dismissed`.
    state: Option<String>,
    /// Reports after this id (paging).
    after: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/operator/reports",
    tag = "operator console",
    summary = "Fans' reports by state, oldest first, 100 a page (reviewer)",
    params(ReportQuery),
    responses(
        (status = 200, description = "the reports"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 422, description = "`invalid_state`", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[get("/operator/reports")]
pub async fn reports(
    state: web::Data<AppState>,
    _operator: OperatorAuth<Kyc>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ModerationError> {
    let wanted = query.state.as_deref().unwrap_or("open");
    if !["open", "taken_down", "dismissed"].contains(&wanted) {
        return Err(ApiError::invalid("invalid_state", "state is open, taken_down or dismissed").into());
    }
    let items = trust::reports_in_state(&state.db, wanted, query.after.unwrap_or(0), 100).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items.iter().map(render_report).collect::<Vec<_>>() })))
}

async fn decide(
    state: &AppState,
    operator: &OperatorAuth<Kyc>,
    id: i64,
    taken_down: bool,
    reason: &str,
) -> Result<HttpResponse, ModerationError> {
    let report = trust::report(&state.db, id).await?.ok_or(ModerationError::ReportNotFound)?;
    let reason = text_field(reason, "reason", 200)?;
    let now = state.clock.now();
    let action = if taken_down { "report.take_down" } else { "report.dismiss" };
    let details = json!({
        "reason": reason,
        "merchant_id": report.merchant_id,
        "flash_sale_id": report.flash_sale_id,
        "product_id": report.product_id,
    });
    let audit = entry(Some(&operator.staff), action, format!("report:{id}"), details, now);
    state.trust.trust.decide_report(&report, taken_down, &reason, &audit, now).await?;
    let decided = trust::report(&state.db, id).await?.ok_or(ModerationError::ReportNotFound)?;
    Ok(HttpResponse::Ok().json(render_report(&decided)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DecisionBody {
    /// Told to the merchant with the takedown.
    reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/reports/{id}/takedown",
    tag = "operator console",
    summary = "Take down what a report names: the sale stops at once, the product is delisted (reviewer)",
    params(("id" = i64, Path, description = "report id")),
    request_body(content = DecisionBody, example = json!({"reason": "counterfeit confirmed"})),
    responses(
        (status = 200, description = "taken down, audited; the merchant sees why"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 404, description = "`report_not_found`", body = ErrorBody),
        (status = 409, description = "`already_decided`", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/reports/{id}/takedown")]
pub async fn take_down(
    state: web::Data<AppState>,
    operator: OperatorAuth<Kyc>,
    id: web::Path<i64>,
    body: web::Json<DecisionBody>,
) -> Result<HttpResponse, ModerationError> {
    decide(&state, &operator, id.into_inner(), true, &body.reason).await
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/reports/{id}/dismiss",
    tag = "operator console",
    summary = "Dismiss a report (reviewer)",
    params(("id" = i64, Path, description = "report id")),
    request_body(content = DecisionBody, example = json!({"reason": "genuine goods"})),
    responses(
        (status = 200, description = "dismissed, audited"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 404, description = "`report_not_found`", body = ErrorBody),
        (status = 409, description = "`already_decided`", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/reports/{id}/dismiss")]
pub async fn dismiss(
    state: web::Data<AppState>,
    operator: OperatorAuth<Kyc>,
    id: web::Path<i64>,
    body: web::Json<DecisionBody>,
) -> Result<HttpResponse, ModerationError> {
    decide(&state, &operator, id.into_inner(), false, &body.reason).await
}
