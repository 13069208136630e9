//! Admission: decide cheaply, before any real work, whether a request is served.
//!
//! - a global cap on requests in flight ([`Refused::Overloaded`] beyond it),
//! - a token bucket per client network (an IPv6 client by its /64),
//! - a token bucket per buyer on order placement.
//!
//! All three answer at once; nothing here queues. (The cap on unpaid orders per buyer and per
//! network is kept by the stock actors, see `actors::holds`.) Who the client is, behind the
//! proxies, is the caller's to say: see `settings::proxies`.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};

use engine::{BuyerId, ClientNetwork};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The limits (`[admission]` of the settings). A rate of 0 means unlimited.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_in_flight: usize,
    pub per_ip_per_sec: u32,
    pub per_ip_burst: u32,
    pub per_buyer_per_sec: u32,
    pub per_buyer_burst: u32,
    /// Told to the refused: when to come back.
    pub retry_after_secs: u32,
}

/// Why a request is not served; each with the seconds after which to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the server is at capacity, retry shortly")]
    Overloaded { retry_after_secs: u32 },
    #[error("too many requests, retry shortly")]
    RateLimited { retry_after_secs: u32 },
}

pub struct Admission {
    in_flight: AtomicUsize,
    max_in_flight: usize,
    per_ip: Option<DefaultKeyedRateLimiter<ClientNetwork>>,
    per_buyer: Option<DefaultKeyedRateLimiter<BuyerId>>,
    retry_after_secs: u32,
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
    pub fn new(limits: &Limits) -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            max_in_flight: limits.max_in_flight,
            per_ip: limiter(limits.per_ip_per_sec, limits.per_ip_burst),
            per_buyer: limiter(limits.per_buyer_per_sec, limits.per_buyer_burst),
            retry_after_secs: limits.retry_after_secs,
        }
    }

    pub fn enter(&self) -> Result<InFlight<'_>, Refused> {
        let before = self.in_flight.fetch_add(1, Ordering::Relaxed);
        let guard = InFlight(&self.in_flight);
        if before >= self.max_in_flight {
            return Err(Refused::Overloaded { retry_after_secs: self.retry_after_secs });
        }
        Ok(guard)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn check_ip(&self, network: ClientNetwork) -> Result<(), Refused> {
        match &self.per_ip {
            Some(limiter) if limiter.check_key(&network).is_err() => {
                Err(Refused::RateLimited { retry_after_secs: self.retry_after_secs })
            }
            _ => Ok(()),
        }
    }

    pub fn check_buyer(&self, buyer: BuyerId) -> Result<(), Refused> {
        match &self.per_buyer {
            Some(limiter) if limiter.check_key(&buyer).is_err() => {
                Err(Refused::RateLimited { retry_after_secs: self.retry_after_secs })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_in_flight: usize, per_ip_burst: u32, per_buyer_burst: u32) -> Limits {
        Limits {
            max_in_flight,
            per_ip_per_sec: 1,
            per_ip_burst,
            per_buyer_per_sec: 1,
            per_buyer_burst,
            retry_after_secs: 3,
        }
    }

    fn network(raw: &str) -> ClientNetwork {
        ClientNetwork::of(raw.parse().unwrap())
    }

    #[test]
    fn in_flight_cap_is_exact_and_released() {
        let admission = Admission::new(&limits(2, 1, 1));
        let a = admission.enter().unwrap();
        let _b = admission.enter().unwrap();
        let refused = admission.enter().err().unwrap();
        assert_eq!(refused, Refused::Overloaded { retry_after_secs: 3 });
        assert_eq!(admission.in_flight(), 2);
        drop(a);
        assert!(admission.enter().is_ok());
    }

    #[test]
    fn buckets_are_per_key() {
        let admission = Admission::new(&limits(10, 2, 1));
        let ip = network("10.0.0.1");
        assert!(admission.check_ip(ip).is_ok());
        assert!(admission.check_ip(ip).is_ok());
        assert_eq!(admission.check_ip(ip).unwrap_err(), Refused::RateLimited { retry_after_secs: 3 });
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
        let mut l = limits(10, 1, 1);
        l.per_ip_per_sec = 0;
        l.per_buyer_per_sec = 0;
        let admission = Admission::new(&l);
        for _ in 0..1_000 {
            admission.check_ip(network("10.0.0.1")).unwrap();
            admission.check_buyer(BuyerId(1)).unwrap();
        }
    }
}
