//! The API's OpenAPI 3.1 document, generated from the handlers' own `#[utoipa::path]`
//! annotations, served at `/api/v1/openapi.json`, and a readable page of it at `/api/v1/docs`
//! for integrators (a merchant's ERP, a load tester): server-rendered, no script, no other host.
//!
//! Every route of [`crate::routes::api`] and [`crate::pages::api`] is in it: `every_route_is_documented` below reads the
//! route attributes of the handlers' sources and compares them with the document's paths.

use std::sync::LazyLock;

use actix_web::{HttpResponse, get, http::header};
use maud::{DOCTYPE, html};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::pages::share;
use crate::routes::{
    addresses, buyers, flash_sales, fulfilment, live, merchant_orders, merchants, moderation, money,
    operator, operators, orders, payments, products, qualification, refunds,
};

/// The error answer of every route: `{"error":{"code":"…","message":"…"}}`; `code` is stable,
/// for programs; `message` is for people.
#[derive(ToSchema)]
#[allow(dead_code, reason = "described, never built: `crate::error::ApiError` writes this shape")]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "described, never built")]
struct ErrorDetail {
    /// Stable, for programs: `sold_out`, `invalid_quantity`, …
    code: String,
    /// For people.
    message: String,
}

struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        for (name, about) in [
            ("merchant", "a merchant's token from POST /api/v1/sessions"),
            ("buyer", "a buyer's token from POST /api/v1/buyers/sessions"),
            ("operator", "an operator's token from POST /api/v1/operator/sessions"),
        ] {
            let scheme = HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(about));
            components.add_security_scheme(name, SecurityScheme::Http(scheme.build()));
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "flashsale API",
        description = "Flash sales for livestream commerce: merchants, catalogue, flash sales, verified buyers, orders, payments, money, and the operator console. Amounts are integer fen (12900 = ¥129.00); times are RFC 3339.",
    ),
    paths(
        merchants::sign_up, merchants::log_in, merchants::revoke,
        products::create, products::get, products::list_mine, products::edit,
        products::revisions, products::set_status, products::edit_sku, products::low_stock,
        products::add_image, products::image, products::reorder_images, products::remove_image,
        products::import, products::import_template, products::review_queue, products::decide_review,
        flash_sales::create, flash_sales::get, share::share,
        buyers::request_code, buyers::session,
        orders::place_order, orders::get, orders::cancel,
        payments::create, payments::list, payments::wechat_notify, payments::alipay_notify,
        refunds::ask, refunds::of_order, refunds::list_mine, refunds::approve, refunds::reject,
        addresses::list, addresses::save, addresses::remove, addresses::set_for_order,
        fulfilment::ship, fulfilment::label, fulfilment::batch_labels, fulfilment::kdniao_push, fulfilment::receipt,
        merchant_orders::list, merchant_orders::detail, merchant_orders::export, merchant_orders::export_job,
        merchant_orders::export_file,
        money::balance, money::entries, money::entries_csv, money::withdraw, money::withdrawals,
        operators::log_in, operators::list, operators::create, operators::revoke, operators::audit,
        operator::reviews, operator::approve, operator::reject, operator::withdrawals,
        operator::pay_withdrawal, operator::reject_withdrawal, operator::set_kyc,
        operator::create_partner, operator::set_split, operator::run_query, operator::run_refunds,
        operator::ledger_check, operator::reconcile, operator::dead_letters, operator::replay_notification,
        live::list, live::authorize, live::callback, live::bind_sale, live::sale_platforms, live::notify,
        qualification::submit, qualification::upload, qualification::me, qualification::queue,
        qualification::decide,
        moderation::ban, moderation::unban, moderation::report_sale, moderation::report_product,
        moderation::reports, moderation::take_down, moderation::dismiss,
        live::take_back,
        document, docs,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerTokens),
)]
pub struct ApiDoc;

/// The document as served, made once.
pub static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| ApiDoc::openapi().to_pretty_json().expect("the document serializes"));

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "documentation", summary = "This API as OpenAPI 3.1",
    responses((status = 200, description = "the OpenAPI document")))]
#[get("/openapi.json")]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(DOCUMENT.as_str())
}

/// A readable page of the document.
#[utoipa::path(get, path = "/api/v1/docs", tag = "documentation", summary = "This API as a page",
    responses((status = 200, description = "HTML")))]
#[get("/docs")]
pub async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'"))
        .content_type("text/html; charset=utf-8")
        .body(PAGE.as_str())
}

static PAGE: LazyLock<String> = LazyLock::new(|| render(&ApiDoc::openapi()));

fn render(api: &utoipa::openapi::OpenApi) -> String {
    let value = serde_json::to_value(api).unwrap_or_default();
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let operations = value["paths"].as_object().cloned().unwrap_or_default();
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "flashsale API" }
                style { "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:auto;padding:1rem}\
                    code,pre{font:13px ui-monospace,monospace;background:#f4f4f5;padding:.1rem .3rem}\
                    pre{padding:.6rem;overflow:auto}section{border-top:1px solid #ddd;padding:.5rem 0}\
                    .m{font-weight:700;text-transform:uppercase;margin-right:.4rem}" }
            }
            body {
                h1 { "flashsale API" }
                p { (value["info"]["description"].as_str().unwrap_or_default()) }
                p { "Machine-readable: " a href="/api/v1/openapi.json" { "/api/v1/openapi.json" } " (OpenAPI " (value["openapi"].as_str().unwrap_or_default()) ")." }
                @for (path, item) in &operations {
                    @for (method, op) in item.as_object().into_iter().flatten() {
                        section {
                            h2 { span.m { (method) } code { (path) } }
                            p { (op["summary"].as_str().unwrap_or_default()) }
                            @if let Some(security) = op["security"].as_array() {
                                p { "Bearer token: " (security.iter().filter_map(|s| s.as_object()).flat_map(|s| s.keys().cloned()).collect::<Vec<_>>().join(" or ")) }
                            }
                            @if let Some(example) = op["requestBody"]["content"]["application/json"].get("example") {
                                p { "Request:" } pre { (pretty(example)) }
                            }
                            ul {
                                @for (status, response) in op["responses"].as_object().into_iter().flatten() {
                                    li {
                                        code { (status) } " " (response["description"].as_str().unwrap_or_default())
                                        @if let Some(example) = response["content"]["application/json"].get("example") {
                                            pre { (pretty(example)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Each `#[get("…")]`, `#[post("…")]`, `#[put("…")]` of the API's handler files, as
    /// (method, "/api/v1" + path).
    fn routes_in_sources() -> BTreeSet<(String, String)> {
        let sources = [
            include_str!("routes/merchants.rs"),
            include_str!("routes/products.rs"),
            include_str!("routes/flash_sales.rs"),
            include_str!("routes/buyers.rs"),
            include_str!("routes/orders.rs"),
            include_str!("routes/payments.rs"),
            include_str!("routes/addresses.rs"),
            include_str!("routes/fulfilment.rs"),
            include_str!("routes/merchant_orders.rs"),
            include_str!("routes/money.rs"),
            include_str!("routes/refunds.rs"),
            include_str!("routes/operators.rs"),
            include_str!("routes/operator.rs"),
            include_str!("routes/live.rs"),
            include_str!("routes/qualification.rs"),
            include_str!("routes/moderation.rs"),
            include_str!("pages/share.rs"),
            include_str!("openapi.rs"),
        ];
        let mut routes = BTreeSet::new();
        for source in sources {
            for line in source.lines().map(str::trim) {
                for method in ["get", "post", "put", "delete", "patch"] {
                    let prefix = format!("#[{method}(\"");
                    if let Some(rest) = line.strip_prefix(&prefix) {
                        let path = rest.split('"').next().unwrap_or_default();
                        routes.insert((method.to_owned(), format!("/api/v1{path}")));
                    }
                }
            }
        }
        routes
    }

    fn routes_in_document() -> BTreeSet<(String, String)> {
        let value = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut routes = BTreeSet::new();
        for (path, item) in value["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                routes.insert((method.clone(), path.clone()));
            }
        }
        routes
    }

    #[test]
    fn every_route_is_documented() {
        let (sources, documented) = (routes_in_sources(), routes_in_document());
        assert!(sources.len() >= 42, "the route attributes were not found: {sources:?}");
        let missing: Vec<_> = sources.difference(&documented).collect();
        let stale: Vec<_> = documented.difference(&sources).collect();
        assert!(missing.is_empty(), "routes missing from the OpenAPI document: {missing:?}");
        assert!(stale.is_empty(), "documented routes that do not exist: {stale:?}");
    }

    #[test]
    fn the_document_is_openapi_3_1_with_its_security_schemes() {
        let value = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert!(value["openapi"].as_str().unwrap().starts_with("3.1"), "{}", value["openapi"]);
        for scheme in ["merchant", "buyer", "operator"] {
            assert_eq!(value["components"]["securitySchemes"][scheme]["scheme"], "bearer", "{scheme}");
        }
        assert!(render(&ApiDoc::openapi()).contains("/api/v1/flash-sales/{id}/orders"));
    }
}
