//! Order ids, minted in memory so an order exists before its row does.

use std::sync::atomic::{AtomicI64, Ordering};

use engine::{OrderId, Timestamp};

/// Hands out increasing order ids. Seeded above both the clock (`millis << 12`) and the largest
/// id already stored, so ids never repeat across restarts even if the clock steps back. The
/// `<< 12` keeps ids below 2^53: they stay exact as JSON numbers in any client.
#[derive(Debug)]
pub struct OrderIds {
    next: AtomicI64,
}

impl OrderIds {
    pub fn new(now: Timestamp, largest_stored: Option<OrderId>) -> Self {
        let from_clock = now.as_millis().max(0) << 12;
        let after_stored = largest_stored.map_or(1, |id| id.0 + 1);
        Self { next: AtomicI64::new(from_clock.max(after_stored)) }
    }

    pub fn next(&self) -> OrderId {
        OrderId(self.next.fetch_add(1, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_below_what_is_stored_or_the_clock() {
        let ids = OrderIds::new(Timestamp(1_000), Some(OrderId(10_000_000)));
        assert_eq!(ids.next(), OrderId(10_000_001));
        assert_eq!(ids.next(), OrderId(10_000_002));
        let ids = OrderIds::new(Timestamp(1_000), Some(OrderId(5)));
        assert_eq!(ids.next(), OrderId(1_000 << 12));
        let now_ms = 1_800_000_000_000i64; // 2027
        assert!((now_ms << 12) < (1i64 << 53));
    }
}
