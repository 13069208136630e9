//! Operations: liveness/readiness and Prometheus metrics.

use actix_web::{HttpResponse, get, web};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use crate::AppState;

/// Liveness: the process answers HTTP. Does no work at all, which also makes it the bare
/// baseline that load comparisons measure the order endpoint against.
#[get("/livez")]
pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// 200 when the database answers and the journal writer keeps up; 503 otherwise.
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let database = persistence::repo::ping(&state.db).await.is_ok();
    let journal = &state.journal;
    let body = json!({
        "status": if database { "ok" } else { "degraded" },
        "database": if database { "ok" } else { "unreachable" },
        "flash_sales": state.registry.len(),
        "journal": {
            "depth": journal.depth(),
            "capacity": journal.capacity(),
            "last_appended": journal.last_appended(),
            "durable": journal.durable(),
        },
        "in_flight": state.admission.in_flight(),
    });
    if database { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Prometheus text format. Gauges that are cheap to compute are computed here rather than
/// kept up to date on the hot path.
#[get("/metrics")]
pub async fn metrics_text(state: web::Data<AppState>, handle: web::Data<PrometheusHandle>) -> HttpResponse {
    metrics::gauge!("flashsale_stock_mailbox_depth").set(state.registry.mailbox_depth() as f64);
    metrics::gauge!("flashsale_journal_depth").set(state.journal.depth() as f64);
    metrics::gauge!("flashsale_journal_lag_events")
        .set(state.journal.last_appended().saturating_sub(state.journal.durable()) as f64);
    metrics::gauge!("flashsale_http_in_flight").set(state.admission.in_flight() as f64);
    metrics::gauge!("flashsale_flash_sales_running").set(state.registry.len() as f64);
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(handle.render())
}
