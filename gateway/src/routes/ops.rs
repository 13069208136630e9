//! Operations: liveness/readiness and Prometheus metrics.

use actix_web::{HttpRequest, HttpResponse, get, web};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use thiserror::Error;

use crate::AppState;
use crate::error::ApiError;
use settings::Mode;

/// What the operations routes answer besides success.
#[derive(Debug, Error)]
pub enum OpsError {
    /// `/metrics` on the main listener in production without a token: not there at all.
    #[error("no such route")]
    NotServed,
    #[error("metrics need Authorization: Bearer <metrics token>")]
    MetricsToken,
}

impl OpsError {
    fn api(&self) -> ApiError {
        match self {
            Self::NotServed => ApiError::not_found("not_found", self.to_string()),
            Self::MetricsToken => ApiError::unauthorized("unauthorized", self.to_string()),
        }
    }
}

crate::route_error!(OpsError);

/// Liveness: the process answers HTTP. Does no work at all, which also makes it the bare
/// baseline that load comparisons measure the order endpoint against.
#[get("/livez")]
pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// 200 when the journal writer runs and commits and the last database ping answered; 503
/// otherwise. Answered from memory ([`crate::health`]): no query per probe.
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let journal = &state.journal;
    let (healthy, mut body) = state.health.report();
    body["flash_sales"] = json!(state.registry.len());
    body["journal"] = json!({
        "depth": journal.depth(),
        "capacity": journal.capacity(),
        "last_appended": journal.last_appended(),
        "durable": journal.durable(),
    });
    body["in_flight"] = json!(state.admission.in_flight());
    if healthy { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Prometheus text format. Gauges that are cheap to compute are computed here rather than
/// kept up to date on the hot path.
/// On the main listener: with `server.metrics_token` set, only for `Authorization: Bearer
/// <token>`; without it, public in demo mode and absent in production (serve it on
/// `server.metrics_bind` instead).
#[get("/metrics")]
pub async fn metrics_text(
    req: HttpRequest,
    state: web::Data<AppState>,
    handle: web::Data<PrometheusHandle>,
) -> Result<HttpResponse, OpsError> {
    let token = &state.settings.server.metrics_token;
    if token.is_empty() && state.settings.mode == Mode::Production {
        return Err(OpsError::NotServed);
    }
    if !token.is_empty() && !bearer_matches(&req, token) {
        return Err(OpsError::MetricsToken);
    }
    Ok(render_metrics(&state, &handle))
}

/// `/metrics` on the separate metrics listener: no token, it is meant for a private network.
pub async fn metrics_private(
    state: web::Data<AppState>,
    handle: web::Data<PrometheusHandle>,
) -> HttpResponse {
    render_metrics(&state, &handle)
}

/// Compared in constant time, so that timing does not reveal the token byte by byte.
fn bearer_matches(req: &HttpRequest, token: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    bool::from(given.as_bytes().ct_eq(token.as_bytes()))
}

fn render_metrics(state: &AppState, handle: &PrometheusHandle) -> HttpResponse {
    metrics::gauge!("flashsale_stock_mailbox_depth").set(state.registry.mailbox_depth() as f64);
    metrics::gauge!("flashsale_journal_depth").set(state.journal.depth() as f64);
    metrics::gauge!("flashsale_journal_lag_events")
        .set(state.journal.last_appended().saturating_sub(state.journal.durable()) as f64);
    metrics::gauge!("flashsale_http_in_flight").set(state.admission.in_flight() as f64);
    metrics::gauge!("flashsale_flash_sales_running").set(state.registry.len() as f64);
    metrics::gauge!("flashsale_stock_actors").set(state.registry.running_actors() as f64);
    metrics::gauge!("flashsale_expiry_timers").set(state.registry.armed_timers() as f64);
    let (buyers, networks) = state.registry.holds().entries();
    metrics::gauge!("flashsale_unpaid_buyers").set(buyers as f64);
    metrics::gauge!("flashsale_unpaid_networks").set(networks as f64);
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(handle.render())
}
