//! A buyer's idempotency keys in one sale, each with the first answer it got.
//!
//! Nearly every fan in a flash sale orders once, so the first key is kept inline: a new
//! buyer's tally costs no allocation of its own. From the second key on they move to a map,
//! so a buyer with a high limit or many expired holds makes no request slower.

use std::collections::HashMap;

use crate::{IdempotencyKey, Receipt};

/// At most `FlashSale::MAX_ORDERS_PER_BUYER` keys, so no flooding to fear: a fixed-seed
/// hasher, nothing to set up for each buyer.
type Map = HashMap<IdempotencyKey, Receipt, foldhash::fast::FixedState>;

#[derive(Debug, Clone, Default)]
pub(super) enum BuyerKeys {
    #[default]
    None,
    One(IdempotencyKey, Receipt),
    Many(Map),
}

impl BuyerKeys {
    pub(super) fn get(&self, key: &IdempotencyKey) -> Option<&Receipt> {
        match self {
            Self::None => None,
            Self::One(only, receipt) => (only == key).then_some(receipt),
            Self::Many(map) => map.get(key),
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Self::None => 0,
            Self::One(..) => 1,
            Self::Many(map) => map.len(),
        }
    }

    /// Remembers the first answer to `key`; false, and nothing changed, if it had one.
    pub(super) fn insert(&mut self, key: IdempotencyKey, receipt: Receipt) -> bool {
        match self {
            Self::None => *self = Self::One(key, receipt),
            Self::One(only, _) if *only == key => return false,
            Self::One(..) => {
                let Self::One(only, first) = std::mem::take(self) else { unreachable!() };
                let mut map = Map::with_capacity_and_hasher(4, Default::default());
                map.insert(only, first);
                map.insert(key, receipt);
                *self = Self::Many(map);
            }
            Self::Many(map) => match map.entry(key) {
                std::collections::hash_map::Entry::Occupied(_) => return false,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(receipt);
                }
            },
        }
        true
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&IdempotencyKey, &Receipt)> {
        let one = match self {
            Self::One(key, receipt) => Some((key, receipt)),
            _ => None,
        };
        let many = match self {
            Self::Many(map) => Some(map.iter()),
            _ => None,
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Fen, OrderId, Timestamp};

    fn receipt(id: i64) -> Receipt {
        Receipt { order_id: OrderId(id), quantity: 1, amount_fen: Fen(990), expires_at: Timestamp(0) }
    }

    fn key(text: &str) -> IdempotencyKey {
        IdempotencyKey::parse(text).unwrap()
    }

    #[test]
    fn keys_keep_their_first_answer_inline_then_in_a_map() {
        let mut keys = BuyerKeys::default();
        assert_eq!((keys.len(), keys.get(&key("a"))), (0, None));
        assert!(keys.insert(key("a"), receipt(1)));
        assert!(matches!(keys, BuyerKeys::One(..)));
        assert!(!keys.insert(key("a"), receipt(2)), "a key keeps its first answer");
        assert_eq!(keys.get(&key("a")), Some(&receipt(1)));
        assert!(keys.insert(key("b"), receipt(3)));
        assert!(!keys.insert(key("b"), receipt(4)));
        assert!(matches!(keys, BuyerKeys::Many(_)));
        for n in 0..50 {
            assert!(keys.insert(key(&format!("k{n}")), receipt(10 + n)));
        }
        assert_eq!(keys.len(), 52);
        assert_eq!(keys.get(&key("a")), Some(&receipt(1)));
        assert_eq!(keys.get(&key("k49")), Some(&receipt(59)));
        assert_eq!(keys.get(&key("zz")), None);
        let mut seen: Vec<i64> = keys.iter().map(|(_, r)| r.order_id.0).collect();
        seen.sort_unstable();
        assert_eq!(seen.len(), 52);
        assert_eq!(seen[..2], [1, 3]);
    }
}
