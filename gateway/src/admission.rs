//! Admission control: decide cheaply, before any real work, whether a request is served.
//!
//! - a global cap on requests in flight (503 + `Retry-After` beyond it),
//! - a token bucket per client network over the API (the client as [`crate::client`] finds
//!   it behind trusted proxies; an IPv6 client by its /64),
//! - a token bucket per buyer on order placement.
//!
//! All three answer at once; nothing here queues. (The cap on unpaid orders per buyer and per
//! network is kept by the stock actors, see `actors::holds`; the order route reads it.)

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, web};
use engine::{BuyerId, ClientNetwork};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::AppState;
use crate::client::{self, TrustedProxies};
use crate::config;
use crate::error::ApiError;

pub struct Admission {
    in_flight: AtomicUsize,
    max_in_flight: usize,
    per_ip: Option<DefaultKeyedRateLimiter<ClientNetwork>>,
    per_buyer: Option<DefaultKeyedRateLimiter<BuyerId>>,
    retry_after_secs: u32,
    trusted_proxies: TrustedProxies,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_sec: u32, burst: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    let per_sec = NonZeroU32::new(per_sec)?;
    let burst = NonZeroU32::new(burst).unwrap_or(per_sec);
    Some(RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(burst)))
}

/// Counts a request as in flight until dropped.
pub struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Admission {
    pub fn new(settings: &config::Admission, trusted_proxies: TrustedProxies) -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            max_in_flight: settings.max_in_flight,
            per_ip: limiter(settings.per_ip_per_sec, settings.per_ip_burst),
            per_buyer: limiter(settings.per_buyer_per_sec, settings.per_buyer_burst),
            retry_after_secs: settings.retry_after_secs,
            trusted_proxies,
        }
    }

    /// The client address of a request, behind the trusted proxies.
    pub fn client_address(&self, request: &HttpRequest) -> Option<std::net::IpAddr> {
        client::request_address(request, &self.trusted_proxies)
    }

    /// The client network of a request: what every per-address limit counts.
    pub fn client_network(&self, request: &HttpRequest) -> Option<ClientNetwork> {
        client::client_network(request, &self.trusted_proxies)
    }

    pub fn enter(&self) -> Result<InFlight<'_>, ApiError> {
        let before = self.in_flight.fetch_add(1, Ordering::Relaxed);
        let guard = InFlight(&self.in_flight);
        if before >= self.max_in_flight {
            return Err(ApiError::unavailable(
                "overloaded",
                "the server is at capacity, retry shortly",
                self.retry_after_secs,
            ));
        }
        Ok(guard)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn check_ip(&self, network: ClientNetwork) -> Result<(), ApiError> {
        match &self.per_ip {
            Some(limiter) if limiter.check_key(&network).is_err() => {
                Err(ApiError::rate_limited(self.retry_after_secs))
            }
            _ => Ok(()),
        }
    }

    pub fn check_buyer(&self, buyer: BuyerId) -> Result<(), ApiError> {
        match &self.per_buyer {
            Some(limiter) if limiter.check_key(&buyer).is_err() => {
                Err(ApiError::rate_limited(self.retry_after_secs))
            }
            _ => Ok(()),
        }
    }

    pub fn retry_after_secs(&self) -> u32 {
        self.retry_after_secs
    }

    /// Forgets buckets that are full again, so memory tracks active clients, not all clients.
    pub fn forget_idle(&self) {
        if let Some(l) = &self.per_ip {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_buyer {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// Middleware over `/api`: in-flight cap, then the per-network bucket.
pub async fn admit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().expect("app state is registered").clone();
    let rejected = |error: ApiError| {
        metrics::counter!("flashsale_http_rejected_total", "reason" => error.code).increment(1);
        error
    };
    let _in_flight = state.admission.enter().map_err(rejected)?;
    // Payment notifications are authenticated by the channel's signature and come from a
    // few channel addresses in bursts: the per-IP bucket is for people, not for them.
    let notification = req.path().starts_with("/api/v1/payments/");
    if let Some(network) = state.admission.client_network(req.request()).filter(|_| !notification) {
        state.admission.check_ip(network).map_err(rejected)?;
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_in_flight: usize, per_ip_burst: u32, per_buyer_burst: u32) -> config::Admission {
        config::Admission {
            max_in_flight,
            per_ip_per_sec: 1,
            per_ip_burst,
            per_buyer_per_sec: 1,
            per_buyer_burst,
            retry_after_secs: 3,
            ..config::Admission::default()
        }
    }

    fn network(raw: &str) -> ClientNetwork {
        ClientNetwork::of(raw.parse().unwrap())
    }

    #[test]
    fn in_flight_cap_is_exact_and_released() {
        let admission = Admission::new(&settings(2, 1, 1), TrustedProxies::default());
        let a = admission.enter().unwrap();
        let _b = admission.enter().unwrap();
        let refused = admission.enter().err().unwrap();
        assert_eq!(
            (refused.status.as_u16(), refused.code, refused.retry_after),
            (503, "overloaded", Some(3))
        );
        assert_eq!(admission.in_flight(), 2);
        drop(a);
        assert!(admission.enter().is_ok());
    }

    #[test]
    fn buckets_are_per_key() {
        let admission = Admission::new(&settings(10, 2, 1), TrustedProxies::default());
        let ip = network("10.0.0.1");
        assert!(admission.check_ip(ip).is_ok());
        assert!(admission.check_ip(ip).is_ok());
        assert_eq!(admission.check_ip(ip).unwrap_err().code, "rate_limited");
        assert!(admission.check_ip(network("10.0.0.2")).is_ok());
        // Two addresses of one IPv6 /64 share a bucket; the next /64 has its own.
        assert!(admission.check_ip(network("2001:db8:0:1::1")).is_ok());
        assert!(admission.check_ip(network("2001:db8:0:1::2")).is_ok());
        assert!(admission.check_ip(network("2001:db8:0:1:ffff::3")).is_err());
        assert!(admission.check_ip(network("2001:db8:0:2::1")).is_ok());
        assert!(admission.check_buyer(BuyerId(1)).is_ok());
        assert!(admission.check_buyer(BuyerId(1)).is_err());
        assert!(admission.check_buyer(BuyerId(2)).is_ok());
    }

    #[test]
    fn zero_means_unlimited() {
        let mut s = settings(10, 1, 1);
        s.per_ip_per_sec = 0;
        s.per_buyer_per_sec = 0;
        let admission = Admission::new(&s, TrustedProxies::default());
        for _ in 0..1_000 {
            admission.check_ip(network("10.0.0.1")).unwrap();
            admission.check_buyer(BuyerId(1)).unwrap();
        }
    }
}
