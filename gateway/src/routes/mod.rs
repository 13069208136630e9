//! HTTP routes, one file per resource. `api` is mounted under `/api/v1` behind admission
//! control; `ops` (health, metrics) stays outside it so that probes work under overload.

pub mod addresses;
pub mod buyers;
pub mod flash_sales;
pub mod fulfilment;
pub mod live;
pub mod merchant_orders;
pub mod merchants;
pub mod moderation;
pub mod money;
pub mod operator;
pub mod operators;
pub mod ops;
pub mod orders;
pub mod payments;
pub mod products;
pub mod qualification;
pub mod refunds;

use actix_web::error::{JsonPayloadError, PathError};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use workflows::accounts::login::{Throttled, WorkError};

use crate::error::ApiError;

/// Routes are tried in registration order: the hot path comes first.
pub fn api(cfg: &mut web::ServiceConfig) {
    cfg.service(orders::place_order)
        .service(flash_sales::get)
        .service(merchants::sign_up)
        .service(merchants::log_in)
        .service(merchants::revoke)
        .service(products::create)
        .service(products::list_mine)
        // Fixed paths before `{id}`, which would take them.
        .service(products::low_stock)
        .service(products::import)
        .service(products::import_template)
        .service(products::get)
        .service(products::edit)
        .service(products::revisions)
        .service(products::set_status)
        .service(products::edit_sku)
        .service(products::add_image)
        .service(products::reorder_images)
        .service(products::remove_image)
        .service(products::image)
        .service(products::review_queue)
        .service(products::decide_review)
        .service(flash_sales::create)
        .service(buyers::request_code)
        .service(buyers::session)
        .service(orders::get)
        .service(orders::cancel)
        .service(payments::create)
        .service(payments::list)
        .service(payments::wechat_notify)
        .service(payments::alipay_notify)
        .service(refunds::ask)
        .service(refunds::of_order)
        .service(refunds::list_mine)
        .service(refunds::approve)
        .service(refunds::reject)
        .service(addresses::list)
        .service(addresses::save)
        .service(addresses::remove)
        .service(addresses::set_for_order)
        .service(fulfilment::ship)
        .service(fulfilment::label)
        .service(fulfilment::batch_labels)
        .service(fulfilment::kdniao_push)
        .service(fulfilment::receipt)
        // The export's fixed path before `{id}`, which would take it.
        .service(merchant_orders::export)
        .service(merchant_orders::list)
        .service(merchant_orders::detail)
        .service(merchant_orders::export_job)
        .service(merchant_orders::export_file)
        .service(money::balance)
        .service(money::entries)
        .service(money::entries_csv)
        .service(money::withdraw)
        .service(money::withdrawals)
        .service(operators::log_in)
        .service(operators::list)
        .service(operators::create)
        .service(operators::revoke)
        .service(operators::audit)
        .service(operator::reviews)
        .service(operator::approve)
        .service(operator::reject)
        .service(operator::withdrawals)
        .service(operator::pay_withdrawal)
        .service(operator::reject_withdrawal)
        .service(operator::set_kyc)
        .service(operator::create_partner)
        .service(operator::set_split)
        .service(operator::run_query)
        .service(operator::run_refunds)
        .service(operator::ledger_check)
        .service(operator::reconcile)
        .service(operator::dead_letters)
        .service(operator::replay_notification)
        .service(live::list)
        .service(live::authorize)
        .service(live::callback)
        .service(live::bind_sale)
        .service(live::sale_platforms)
        .service(live::take_back)
        .service(live::notify)
        .service(qualification::submit)
        .service(qualification::upload)
        .service(qualification::me)
        .service(qualification::queue)
        .service(qualification::decide)
        .service(moderation::ban)
        .service(moderation::unban)
        .service(moderation::report_sale)
        .service(moderation::report_product)
        .service(moderation::reports)
        .service(moderation::take_down)
        .service(moderation::dismiss)
        .service(crate::openapi::document)
        .service(crate::openapi::docs);
}

pub fn ops(cfg: &mut web::ServiceConfig) {
    cfg.service(ops::livez).service(ops::healthz).service(ops::metrics_text);
}

/// Body errors as API errors: syntax → 400, valid JSON of the wrong shape → 422, too large →
/// 413, not JSON → 415.
pub fn json_config(max_body_bytes: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(max_body_bytes).error_handler(|err, _req| {
        let api = match &err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::new(
                    actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "request body is too large",
                )
            }
            JsonPayloadError::ContentType => ApiError::new(
                actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as Content-Type: application/json",
            ),
            JsonPayloadError::Deserialize(e) if e.is_data() => {
                ApiError::invalid("invalid_body", e.to_string())
            }
            JsonPayloadError::Deserialize(e) => ApiError::bad_request("malformed_json", e.to_string()),
            other => ApiError::bad_request("bad_request", other.to_string()),
        };
        api.into()
    })
}

/// A path segment that is not a valid id names nothing: 404.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _req| {
        ApiError::not_found("not_found", format!("no such resource: {err}")).into()
    })
}

pub async fn not_found() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::not_found("not_found", "no such route"))
}

/// A required text field: trimmed, 1 to `max` characters.
pub(crate) fn text_field(raw: &str, field: &'static str, max: usize) -> Result<String, ApiError> {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    if chars == 0 || chars > max {
        return Err(ApiError::invalid("invalid_field", format!("{field} must be 1 to {max} characters")));
    }
    Ok(trimmed.to_owned())
}

/// 503 `busy` when the password work is full (merchant and operator log-ins alike).
pub(crate) fn work_error(error: &WorkError) -> ApiError {
    match error {
        WorkError::Busy { retry_after_secs } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", error.to_string())
                .retry_after(*retry_after_secs)
        }
        WorkError::Stopped | WorkError::Failed => ApiError::unexpected(),
    }
}

/// 429 `login_throttled` while an account is blocked after failed log-ins.
pub(crate) fn throttled(error: &Throttled) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "login_throttled", error.to_string())
        .retry_after(error.retry_after_secs)
}
