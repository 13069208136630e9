//! Which buyers may have ordered in a sale: what lets the gateway refuse a sold-out, closed or
//! held-back sale without a message to its actor and still answer every replay.
//!
//! A replay of a known key must get its first answer whatever has changed since (sold out,
//! ended, held back, the buyer's caps reached), and only the actor's sale knows the keys. The
//! gateway refuses on its own only a buyer this set says has never ordered in the sale; any
//! other goes to the actor, which answers a replay before anything else.
//!
//! A fixed array of bits, one per hash of a buyer id (ids are ours, not chosen by clients),
//! set by the actor when the buyer's first order is placed and never cleared: no false "never
//! ordered", and a false "may have" only sends a request the actor then refuses. Sized from
//! the sale's quantity, it costs one atomic OR per order and no memory that grows, where a
//! concurrent map of every receipt cost a quarter of a hot sale's reservation time (hashing,
//! a shard lock, a table that doubles as the sale grows).

use std::sync::atomic::{AtomicU64, Ordering};

use engine::BuyerId;

/// Bits per unit of the sale: with every unit sold to a different buyer, about one buyer who
/// never ordered in 16 is sent to the actor.
const BITS_PER_UNIT: u64 = 16;
/// 8 KiB: small sales share nothing and cost little.
const MIN_BITS_LOG2: u32 = 16;
/// 32 MiB, for sales of 16 million units and up.
const MAX_BITS_LOG2: u32 = 28;

#[derive(Debug)]
pub struct OrderedBuyers {
    words: Box<[AtomicU64]>,
    /// 64 minus log2 of the number of bits: the hash's top bits pick one.
    shift: u32,
}

impl OrderedBuyers {
    /// An empty set for a sale of `quantity` units.
    pub fn for_quantity(quantity: u32) -> Self {
        let wanted = (u64::from(quantity) * BITS_PER_UNIT).max(1);
        let log2 = wanted.next_power_of_two().trailing_zeros().clamp(MIN_BITS_LOG2, MAX_BITS_LOG2);
        let words = (0..(1u64 << log2) / 64).map(|_| AtomicU64::new(0)).collect();
        Self { words, shift: 64 - log2 }
    }

    /// The word and bit of `buyer`: Fibonacci hashing, so consecutive ids spread out.
    fn bit(&self, buyer: BuyerId) -> (usize, u64) {
        let index = (buyer.0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift;
        ((index / 64) as usize, 1 << (index % 64))
    }

    /// Marks `buyer` as having ordered. Called by the sale's actor before the order's answer
    /// leaves it (and before the sold-out flag it may set), so that anyone who has seen
    /// either sees this too.
    pub fn insert(&self, buyer: BuyerId) {
        let (word, bit) = self.bit(buyer);
        self.words[word].fetch_or(bit, Ordering::Release);
    }

    /// False only if `buyer` has never ordered in the sale.
    pub fn may_contain(&self, buyer: BuyerId) -> bool {
        let (word, bit) = self.bit(buyer);
        self.words[word].load(Ordering::Acquire) & bit != 0
    }

    /// Bytes held: fixed when the set is made.
    pub fn bytes(&self) -> usize {
        self.words.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sized_from_the_quantity_within_bounds() {
        assert_eq!(OrderedBuyers::for_quantity(1).bytes(), 8 << 10);
        assert_eq!(OrderedBuyers::for_quantity(1_000_000).bytes(), (1 << 24) / 8);
        assert_eq!(OrderedBuyers::for_quantity(engine::SaleTerms::MAX_QUANTITY).bytes(), 32 << 20);
    }

    #[test]
    fn never_says_no_to_a_buyer_who_ordered_and_rarely_yes_to_one_who_did_not() {
        let quantity = 100_000u32;
        let set = OrderedBuyers::for_quantity(quantity);
        // As many buyers as units, with ids as the database hands them out, from far apart.
        let ordered: Vec<BuyerId> = (0..i64::from(quantity)).map(|n| BuyerId(1_000_000 + 7 * n)).collect();
        for buyer in &ordered {
            set.insert(*buyer);
        }
        assert!(ordered.iter().all(|b| set.may_contain(*b)), "a buyer who ordered was forgotten");
        // Fans who never ordered: at most about one in 16 is sent to the actor.
        let strangers = 1_000_000;
        let sent = (0..strangers).filter(|n| set.may_contain(BuyerId(50_000_000 + n))).count();
        assert!(sent * 12 < strangers as usize, "{sent} of {strangers} strangers would reach the actor");
    }
}
