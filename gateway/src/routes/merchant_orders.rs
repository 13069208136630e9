//! A merchant's orders: the list (filters in the query string, keyset paging), one order, and
//! exports as CSV or XLSX — at once when small, else a job with a download link. The logic is
//! `workflows::orders`'.

use actix_web::{HttpResponse, get, web};
use engine::{MerchantId, OrderId};
use serde::Deserialize;
use serde_json::json;
use thiserror::Error;
use workflows::orders::export::{ExportError, ExportFile, ExportFormat, ExportOutcome, JobState};
use workflows::orders::{self, ListError, OrderQuery, OrderRow, ShownAddress};

use crate::AppState;
use crate::auth::MerchantAuth;
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::routes::addresses::masked_json;
use crate::routes::fulfilment::shipment_json;
use crate::routes::orders::render;
use crate::time::rfc3339;

#[derive(Debug, Error)]
pub enum MerchantOrdersError {
    #[error(transparent)]
    List(#[from] ListError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("format must be csv or xlsx")]
    InvalidFormat,
    #[error("no such order")]
    OrderNotFound,
    #[error("no such export")]
    ExportNotFound,
    #[error("the export is not ready yet")]
    NotReady,
    #[error(transparent)]
    Shared(#[from] ApiError),
}

impl MerchantOrdersError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Self::List(e) => match e {
                ListError::InvalidState => ApiError::invalid("invalid_state", message),
                ListError::InvalidTime(_) | ListError::EmptyRange => {
                    ApiError::invalid("invalid_range", message)
                }
                ListError::InvalidCursor => ApiError::invalid("invalid_cursor", message),
                ListError::InvalidLimit => ApiError::invalid("invalid_limit", message),
                ListError::Db(_) => ApiError::unexpected(),
            },
            Self::Export(e) => match e {
                ExportError::TooLarge { .. } => ApiError::invalid("export_too_large", message),
                ExportError::Busy { .. } => {
                    ApiError::new(actix_web::http::StatusCode::TOO_MANY_REQUESTS, "exports_busy", message)
                        .retry_after(60)
                }
                ExportError::Failed(_) | ExportError::Db(_) => ApiError::unexpected(),
            },
            Self::InvalidFormat => ApiError::invalid("invalid_format", message),
            Self::OrderNotFound => ApiError::not_found("order_not_found", message),
            Self::ExportNotFound => ApiError::not_found("export_not_found", message),
            Self::NotReady => ApiError::conflict("export_not_ready", message),
            Self::Shared(api) => api.clone(),
        }
    }
}

crate::route_error!(MerchantOrdersError);

impl From<persistence::DbErr> for MerchantOrdersError {
    fn from(error: persistence::DbErr) -> Self {
        Self::Shared(error.into())
    }
}

/// The list's filters, as query parameters.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// `to_ship` (paid, not shipped yet) or an order state.
    state: Option<String>,
    flash_sale_id: Option<i64>,
    /// RFC 3339: created at or after.
    from: Option<String>,
    /// RFC 3339: created before.
    to: Option<String>,
    /// `next` of the page before.
    cursor: Option<String>,
    /// 1 to 100, default 50.
    limit: Option<u64>,
    /// Exports only: `csv` (default) or `xlsx`.
    format: Option<String>,
}

impl ListParams {
    fn query(&self) -> OrderQuery<'_> {
        OrderQuery {
            state: self.state.as_deref(),
            flash_sale_id: self.flash_sale_id,
            from: self.from.as_deref(),
            to: self.to.as_deref(),
            cursor: self.cursor.as_deref(),
            limit: self.limit,
        }
    }
}

fn row_json(row: &OrderRow) -> serde_json::Value {
    let mut body = render(&row.order);
    body["address"] = match &row.address {
        None => serde_json::Value::Null,
        Some(ShownAddress::Whole(a)) => json!({
            "name": a.name, "phone": a.phone.as_str(), "province": a.province, "city": a.city,
            "district": a.district, "detail": a.detail, "masked": false,
        }),
        Some(ShownAddress::Masked(a)) => {
            let mut masked = masked_json(a);
            masked["masked"] = json!(true);
            masked
        }
    };
    body["shipment"] = row.shipment.as_ref().map_or(serde_json::Value::Null, |s| shipment_json(s, &[]));
    body
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/me/orders",
    tag = "fulfilment",
    summary = "The merchant's orders, newest first: filter by state (`to_ship`), sale and time; page with `cursor`",
    params(ListParams),
    responses(
        (status = 200, description = "a page; `next` is the cursor of the next page, null on the last", example = json!({"orders": [], "next": null})),
        (status = 401, description = "missing or invalid token", body = ErrorBody),
        (status = 422, description = "`invalid_state`, `invalid_range`, `invalid_cursor`, `invalid_limit`", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/merchants/me/orders")]
pub async fn list(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, MerchantOrdersError> {
    let page = orders::list(&state.db, merchant.0, &params.query()).await?;
    let rows: Vec<_> = page.rows.iter().map(row_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "orders": rows, "next": page.next })))
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/me/orders/{id}",
    tag = "fulfilment",
    summary = "One of the merchant's orders: the whole address while there is something to ship, else masked",
    params(("id" = i64, Path, description = "order id")),
    responses(
        (status = 200, description = "the order"),
        (status = 401, description = "missing or invalid token", body = ErrorBody),
        (status = 404, description = "`order_not_found` (also another merchant's)", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/merchants/me/orders/{id}")]
pub async fn detail(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    id: web::Path<i64>,
) -> Result<HttpResponse, MerchantOrdersError> {
    let order = persistence::repo::order(&state.db, OrderId(id.into_inner()))
        .await?
        .filter(|o| o.merchant_id == merchant.0)
        .ok_or(MerchantOrdersError::OrderNotFound)?;
    let body =
        crate::routes::fulfilment::order_detail(&state, &order, crate::auth::Caller::Merchant(merchant.0))
            .await?;
    Ok(HttpResponse::Ok().json(body))
}

fn file_answer(file: ExportFile) -> HttpResponse {
    let name = format!("orders.{}", file.format.extension());
    HttpResponse::Ok()
        .content_type(file.format.content_type())
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}\"")))
        .insert_header(("X-Export-Rows", file.rows.to_string()))
        .body(file.bytes)
}

fn job_links(state: &AppState, id: &str) -> (String, String) {
    let status = format!("{}/api/v1/merchants/me/exports/{id}", state.base_url);
    (status.clone(), format!("{status}/file"))
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/me/orders/export",
    tag = "fulfilment",
    summary = "Export the filtered orders as CSV or XLSX: the file at once when small, else 202 with a job's links",
    params(ListParams),
    responses(
        (status = 200, description = "the file (text/csv or .xlsx)"),
        (status = 202, description = "a job: poll `status_url`, fetch `download_url` when ready"),
        (status = 401, description = "missing or invalid token", body = ErrorBody),
        (status = 422, description = "`invalid_format`, `invalid_*` filters, `export_too_large`", body = ErrorBody),
        (status = 429, description = "`exports_busy`: too many export jobs", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/merchants/me/orders/export")]
pub async fn export(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, MerchantOrdersError> {
    let format = ExportFormat::parse(params.format.as_deref().unwrap_or("csv"))
        .ok_or(MerchantOrdersError::InvalidFormat)?;
    let filter = orders::parse_filter(&params.query())?;
    match state.exports.export(merchant.0, filter, format).await? {
        ExportOutcome::Direct(file) => Ok(file_answer(file)),
        ExportOutcome::Job(id) => {
            let (status_url, download_url) = job_links(&state, &id);
            Ok(HttpResponse::Accepted().json(json!({
                "job_id": id, "state": "running", "status_url": status_url, "download_url": download_url,
            })))
        }
    }
}

fn job_json(
    state: &AppState,
    merchant: MerchantId,
    id: &str,
) -> Result<serde_json::Value, MerchantOrdersError> {
    let job = state.exports.job(merchant, id).ok_or(MerchantOrdersError::ExportNotFound)?;
    let (status_url, download_url) = job_links(state, id);
    let (name, rows, error) = match &job.state {
        JobState::Running => ("running", None, None),
        JobState::Ready { rows } => ("ready", Some(*rows), None),
        JobState::Failed(e) => ("failed", None, Some(e.clone())),
    };
    Ok(json!({
        "job_id": job.id, "format": job.format.extension(), "state": name, "rows": rows, "error": error,
        "created_at": rfc3339(job.created_at), "expires_at": rfc3339(job.expires_at),
        "status_url": status_url, "download_url": download_url,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/me/exports/{id}",
    tag = "fulfilment",
    summary = "An export job: running, ready (with its row count) or failed",
    params(("id" = String, Path, description = "job id")),
    responses(
        (status = 200, description = "the job"),
        (status = 401, description = "missing or invalid token", body = ErrorBody),
        (status = 404, description = "`export_not_found` (also another merchant's, or expired)", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/merchants/me/exports/{id}")]
pub async fn export_job(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    id: web::Path<String>,
) -> Result<HttpResponse, MerchantOrdersError> {
    Ok(HttpResponse::Ok().json(job_json(&state, merchant.0, &id)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/me/exports/{id}/file",
    tag = "fulfilment",
    summary = "The file of a ready export job",
    params(("id" = String, Path, description = "job id")),
    responses(
        (status = 200, description = "the file"),
        (status = 401, description = "missing or invalid token", body = ErrorBody),
        (status = 404, description = "`export_not_found`", body = ErrorBody),
        (status = 409, description = "`export_not_ready`", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/merchants/me/exports/{id}/file")]
pub async fn export_file(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    id: web::Path<String>,
) -> Result<HttpResponse, MerchantOrdersError> {
    let job = state.exports.job(merchant.0, &id).ok_or(MerchantOrdersError::ExportNotFound)?;
    if !matches!(job.state, JobState::Ready { .. }) {
        return Err(MerchantOrdersError::NotReady);
    }
    let file = state.exports.file(merchant.0, &id).await.ok_or(MerchantOrdersError::ExportNotFound)?;
    Ok(file_answer(file))
}
