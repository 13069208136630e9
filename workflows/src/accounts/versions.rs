//! The token versions of merchants and operators, remembered so that checking a token stays
//! off the database.
//!
//! A token carries the version its holder had when it was issued; bumping the stored version
//! (log out everywhere, an admin's revocation) makes every older token invalid. This node
//! learns of its own bumps at once; a bump made on another node is seen once the remembered
//! entry is older than `ttl`. Versions only grow, so an entry is only ever raised: a slow
//! read that returns an old version cannot undo a revocation.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Whose version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Holder {
    Merchant(i64),
    Operator(i64),
}

/// A holder's current version; `Closed` when no token of theirs is valid any more (an
/// operator account disabled or gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Current {
    Version(i64),
    Closed,
}

pub struct TokenVersions {
    entries: Mutex<HashMap<Holder, (Current, Instant)>>,
    capacity: usize,
    ttl: Duration,
}

impl TokenVersions {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        assert!(capacity > 0);
        Self { entries: Mutex::new(HashMap::new()), capacity, ttl }
    }

    /// The remembered version, if it is recent enough to trust.
    pub fn get(&self, holder: Holder, now: Instant) -> Option<Current> {
        let entries = self.entries.lock();
        entries.get(&holder).filter(|(_, at)| now.saturating_duration_since(*at) < self.ttl).map(|(c, _)| *c)
    }

    /// Remembers what was read or written; never lowers what is known.
    pub fn remember(&self, holder: Holder, current: Current, now: Instant) {
        let mut entries = self.entries.lock();
        if !entries.contains_key(&holder) && entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| now.saturating_duration_since(*at) < ttl);
            if entries.len() >= self.capacity {
                // Still full of fresh entries: forget any one; it is read again when needed.
                if let Some(victim) = entries.keys().next().copied() {
                    entries.remove(&victim);
                }
            }
        }
        let entry = entries.entry(holder).or_insert((current, now));
        entry.0 = entry.0.max(current);
        entry.1 = now;
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_only_grow_expire_and_stay_bounded() {
        let versions = TokenVersions::new(3, Duration::from_secs(30));
        let now = Instant::now();
        let m = Holder::Merchant(1);
        assert_eq!(versions.get(m, now), None);
        versions.remember(m, Current::Version(2), now);
        versions.remember(m, Current::Version(1), now);
        assert_eq!(versions.get(m, now), Some(Current::Version(2)), "a stale read does not lower it");
        versions.remember(Holder::Operator(1), Current::Closed, now);
        versions.remember(Holder::Operator(1), Current::Version(9), now);
        assert_eq!(versions.get(Holder::Operator(1), now), Some(Current::Closed));
        assert_eq!(versions.get(m, now + Duration::from_secs(31)), None, "old entries are read again");
        for id in 10..100 {
            versions.remember(Holder::Merchant(id), Current::Version(0), now);
            assert!(versions.len() <= 3);
        }
    }
}
