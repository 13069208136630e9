//! Admission control over `/api` ([`workflows::admission`]: the in-flight cap and the token
//! buckets), with the client as [`crate::client`] finds it behind the trusted proxies.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
pub use workflows::admission::{Admission, Refused};

use crate::AppState;
use crate::client;
use crate::error::ApiError;

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Overloaded { retry_after_secs } => {
                ApiError::unavailable("overloaded", refused.to_string(), retry_after_secs)
            }
            Refused::RateLimited { retry_after_secs } => ApiError::rate_limited(retry_after_secs),
        }
    }
}

/// Middleware over `/api`: in-flight cap, then the per-network bucket.
pub async fn admit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().expect("app state is registered").clone();
    let rejected = |refused: Refused| {
        let error = ApiError::from(refused);
        metrics::counter!("flashsale_http_rejected_total", "reason" => error.code).increment(1);
        error
    };
    let _in_flight = match state.admission.enter() {
        Ok(in_flight) => in_flight,
        Err(refused) => {
            return Err(refuse(req, rejected(refused), state.settings.server.max_body_bytes).await);
        }
    };
    // Payment notifications are authenticated by the channel's signature and come from a
    // few channel addresses in bursts: the per-IP bucket is for people, not for them.
    let notification = req.path().starts_with("/api/v1/payments/");
    if let Some(network) = client::client_network(req.request(), &state.proxies).filter(|_| !notification)
        && let Err(refused) = state.admission.check_ip(network)
    {
        return Err(refuse(req, rejected(refused), state.settings.server.max_body_bytes).await);
    }
    next.call(req).await
}

/// Answers a refusal after reading the request's body (up to `limit` bytes). Answered with its
/// body unread, a request costs its connection: actix-web closes a connection whose request
/// body is left unread, so under overload every 503 would be followed by a new TCP handshake
/// on the very core that is short of time, and shedding load would cost more than serving it.
async fn refuse(mut req: ServiceRequest, error: ApiError, limit: usize) -> actix_web::Error {
    use actix_web::HttpMessage as _;
    use futures_util::StreamExt as _;
    let mut payload = req.take_payload();
    let mut read = 0;
    while read <= limit
        && let Some(Ok(chunk)) = payload.next().await
    {
        read += chunk.len();
    }
    error.into()
}

/// Middleware over everything: a request that may read orders from the database first waits
/// until the database holds every order already answered 201 (with the order log, it learns
/// them a moment after their acknowledgement). Nearly always the database has caught up and
/// this costs two atomic loads; during a storm it can cost one database commit. The order
/// placement itself, health checks, assets and the live figure read no orders and never wait.
pub async fn fence(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if reads_orders(req.method(), req.path()) {
        let state = req.app_data::<web::Data<AppState>>().expect("app state is registered");
        let journal = state.journal.clone();
        if tokio::time::timeout(state.settings.ack_timeout(), journal.caught_up()).await.is_err() {
            let retry_after_secs = state.admission.retry_after_secs();
            let limit = state.settings.server.max_body_bytes;
            return Err(refuse(req, ApiError::from(Refused::Overloaded { retry_after_secs }), limit).await);
        }
    }
    next.call(req).await
}

fn reads_orders(method: &actix_web::http::Method, path: &str) -> bool {
    let placement = method == actix_web::http::Method::POST
        && path.starts_with("/api/v1/flash-sales/")
        && path.ends_with("/orders");
    let no_orders = matches!(path, "/livez" | "/readyz" | "/healthz" | "/metrics")
        || path.starts_with("/assets/")
        || (method == actix_web::http::Method::GET && path.starts_with("/s/") && path.ends_with("/live"));
    !placement && !no_orders
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fence_spares_the_hot_path_and_reads_without_orders() {
        use actix_web::http::Method;
        assert!(!reads_orders(&Method::POST, "/api/v1/flash-sales/7/orders"));
        assert!(!reads_orders(&Method::GET, "/s/abc/live"));
        assert!(!reads_orders(&Method::GET, "/livez"));
        assert!(!reads_orders(&Method::GET, "/healthz"));
        assert!(reads_orders(&Method::GET, "/api/v1/orders/7"));
        assert!(reads_orders(&Method::POST, "/api/v1/orders/7/payments"));
        assert!(reads_orders(&Method::GET, "/s/abc/o/7"));
        assert!(reads_orders(&Method::GET, "/api/v1/flash-sales/7/orders"));
    }

    #[test]
    fn refusals_on_the_wire() {
        let overloaded = ApiError::from(Refused::Overloaded { retry_after_secs: 3 });
        assert_eq!(
            (overloaded.status.as_u16(), overloaded.code, overloaded.retry_after),
            (503, "overloaded", Some(3))
        );
        let limited = ApiError::from(Refused::RateLimited { retry_after_secs: 3 });
        assert_eq!(
            (limited.status.as_u16(), limited.code, limited.retry_after),
            (429, "rate_limited", Some(3))
        );
    }
}
