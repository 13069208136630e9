//! Unpaid orders per buyer and per client network, across every sale: the cap that keeps one
//! buyer (or one address with many phone numbers) from holding stock everywhere at once.
//!
//! The stock actors are the only ones that create and settle holds, so they keep the count: an
//! actor takes one unit of count *before* the engine places an order and gives it back if the
//! engine refuses; it gives it back again when the order leaves `pending_payment` (paid,
//! expired, cancelled). The count therefore equals the pending orders of every running sale,
//! whatever the gateway saw (timeouts, full mailboxes, replays). At start it is rebuilt from
//! the pending orders each actor is restored with. The gateway only reads it, to refuse early.
//!
//! Memory: one entry per buyer and per network with at least one unpaid order; an entry that
//! drops to zero is removed. Each change takes one shard lock of a map for a few instructions.

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use engine::{BuyerId, ClientNetwork};

/// The caps, from configuration; `0` switches one off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HoldCaps {
    pub per_buyer: u32,
    pub per_network: u32,
}

/// Which cap an order ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapReached {
    Buyer { max: u32 },
    Network { max: u32 },
}

/// Unpaid orders by buyer and by network.
#[derive(Debug, Default)]
pub struct UnpaidHolds {
    caps: HoldCaps,
    per_buyer: DashMap<BuyerId, u32>,
    per_network: DashMap<ClientNetwork, u32>,
}

impl UnpaidHolds {
    pub fn new(caps: HoldCaps) -> Self {
        Self { caps, per_buyer: DashMap::new(), per_network: DashMap::new() }
    }

    pub fn caps(&self) -> HoldCaps {
        self.caps
    }

    /// Counts one more unpaid order if neither cap is reached; both counts or neither.
    pub fn try_take(&self, buyer: BuyerId, network: Option<ClientNetwork>) -> Result<(), CapReached> {
        let HoldCaps { per_buyer, per_network } = self.caps;
        // Locks are taken buyer first, then network, and never the other way round.
        let mut buyer_count = (per_buyer > 0).then(|| self.per_buyer.entry(buyer).or_insert(0));
        if let Some(count) = &buyer_count
            && **count >= per_buyer
        {
            return Err(CapReached::Buyer { max: per_buyer });
        }
        if let Some(network) = network.filter(|_| per_network > 0) {
            let mut network_count = self.per_network.entry(network).or_insert(0);
            if *network_count >= per_network {
                drop(network_count);
                drop(buyer_count);
                self.forget_zeros(buyer, Some(network));
                return Err(CapReached::Network { max: per_network });
            }
            *network_count += 1;
        }
        if let Some(count) = &mut buyer_count {
            **count += 1;
        }
        Ok(())
    }

    /// Counts an unpaid order that already exists (restored at start), whatever the caps say.
    pub fn restore(&self, buyer: BuyerId, network: Option<ClientNetwork>) {
        if self.caps.per_buyer > 0 {
            *self.per_buyer.entry(buyer).or_insert(0) += 1;
        }
        if let Some(network) = network.filter(|_| self.caps.per_network > 0) {
            *self.per_network.entry(network).or_insert(0) += 1;
        }
    }

    /// An unpaid order was paid, expired or cancelled, or was never placed after all.
    pub fn give_back(&self, buyer: BuyerId, network: Option<ClientNetwork>) {
        if self.caps.per_buyer > 0 {
            decrement(&self.per_buyer, buyer);
        }
        if let Some(network) = network.filter(|_| self.caps.per_network > 0) {
            decrement(&self.per_network, network);
        }
    }

    /// Whether one more order of this buyer from this network would be refused right now: the
    /// gateway's early answer, without a message to any actor. Only a hint, the actor decides.
    pub fn would_refuse(&self, buyer: BuyerId, network: Option<ClientNetwork>) -> Option<CapReached> {
        let HoldCaps { per_buyer, per_network } = self.caps;
        if per_buyer > 0 && self.per_buyer.get(&buyer).is_some_and(|c| *c >= per_buyer) {
            return Some(CapReached::Buyer { max: per_buyer });
        }
        let network = network.filter(|_| per_network > 0)?;
        self.per_network
            .get(&network)
            .is_some_and(|c| *c >= per_network)
            .then_some(CapReached::Network { max: per_network })
    }

    /// Unpaid orders counted for this buyer (0 when the buyer cap is off).
    pub fn of_buyer(&self, buyer: BuyerId) -> u32 {
        self.per_buyer.get(&buyer).map_or(0, |c| *c)
    }

    /// Unpaid orders counted for this network (0 when the network cap is off).
    pub fn of_network(&self, network: ClientNetwork) -> u32 {
        self.per_network.get(&network).map_or(0, |c| *c)
    }

    /// Buyers and networks with at least one unpaid order: what the structure holds.
    pub fn entries(&self) -> (usize, usize) {
        (self.per_buyer.len(), self.per_network.len())
    }

    fn forget_zeros(&self, buyer: BuyerId, network: Option<ClientNetwork>) {
        self.per_buyer.remove_if(&buyer, |_, c| *c == 0);
        if let Some(network) = network {
            self.per_network.remove_if(&network, |_, c| *c == 0);
        }
    }
}

fn decrement<K: std::hash::Hash + Eq + Copy + std::fmt::Debug>(map: &DashMap<K, u32>, key: K) {
    match map.entry(key) {
        Entry::Occupied(mut entry) => {
            assert!(*entry.get() > 0, "unpaid count of {key:?} is zero in the map");
            *entry.get_mut() -= 1;
            if *entry.get() == 0 {
                entry.remove();
            }
        }
        Entry::Vacant(_) => panic!("unpaid order of {key:?} given back but never counted"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn net(raw: &str) -> Option<ClientNetwork> {
        Some(ClientNetwork::of(raw.parse().unwrap()))
    }

    #[test]
    fn both_caps_hold_and_give_back_frees_a_place() {
        let holds = UnpaidHolds::new(HoldCaps { per_buyer: 2, per_network: 3 });
        let a = net("203.0.113.1");
        assert_eq!(holds.try_take(BuyerId(1), a), Ok(()));
        assert_eq!(holds.try_take(BuyerId(1), a), Ok(()));
        assert_eq!(holds.try_take(BuyerId(1), a), Err(CapReached::Buyer { max: 2 }));
        assert_eq!(holds.try_take(BuyerId(2), a), Ok(()));
        // The network is full: buyer 3's first order is refused, and leaves no count behind.
        assert_eq!(holds.try_take(BuyerId(3), a), Err(CapReached::Network { max: 3 }));
        assert_eq!(holds.of_buyer(BuyerId(3)), 0);
        assert_eq!(holds.entries(), (2, 1));
        assert_eq!(holds.would_refuse(BuyerId(3), a), Some(CapReached::Network { max: 3 }));
        assert_eq!(holds.try_take(BuyerId(3), net("203.0.113.2")), Ok(()));
        holds.give_back(BuyerId(1), a);
        assert_eq!(holds.would_refuse(BuyerId(3), a), None);
        assert_eq!(holds.try_take(BuyerId(3), a), Ok(()));
        for (buyer, network) in [(1, a), (2, a), (3, net("203.0.113.2")), (3, a)] {
            holds.give_back(BuyerId(buyer), network);
        }
        assert_eq!(holds.entries(), (0, 0), "nothing is kept for clients with nothing unpaid");
    }

    #[test]
    fn zero_switches_a_cap_off_and_counts_nothing() {
        let holds = UnpaidHolds::new(HoldCaps { per_buyer: 0, per_network: 1 });
        for _ in 0..100 {
            holds.try_take(BuyerId(1), None).unwrap();
        }
        assert_eq!(holds.entries(), (0, 0));
        holds.try_take(BuyerId(1), net("::1")).unwrap();
        assert_eq!(holds.try_take(BuyerId(2), net("::2")), Err(CapReached::Network { max: 1 }), "one /64");
    }

    #[test]
    fn concurrent_takes_never_pass_the_cap() {
        let holds = Arc::new(UnpaidHolds::new(HoldCaps { per_buyer: 7, per_network: 50 }));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let holds = holds.clone();
                std::thread::spawn(move || {
                    (0..1_000)
                        .filter(|n| {
                            holds.try_take(BuyerId(n % 10), net(&format!("10.0.0.{}", t % 2))).is_ok()
                        })
                        .count()
                })
            })
            .collect();
        let taken: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(taken, 70, "10 buyers × 7, two networks of 50 never the binding cap");
        assert_eq!((0..10).map(|b| holds.of_buyer(BuyerId(b))).sum::<u32>(), 70);
    }
}
