//! Doors: a sale sold through live platforms besides our own page.
//!
//! A platform (Douyin shop, Kuaishou shop) sells from its own item stock, without asking us
//! per unit, so it is given a **slice**: units leased out of *available* into the door's
//! `leased` bucket, which the workflow then adds to the platform's stock. A platform order
//! moves its units from the door's slice to *sold*; a platform order cancelled before payment
//! gives them back to the slice (the platform puts them back on its stock); a refund agreed
//! after payment gives them back to *available* (the platform does not restock them). Units
//! come back from a slice only after the platform's stock was lowered by as many
//! ([`FlashSale::unlease`]), so that a platform never holds more than its slice.
//!
//! Conservation, asserted on every change: `available + Σ leased + reserved + sold ==
//! quantity`, where `sold` counts the units sold through every door, ours included.

use std::collections::HashMap;

use thiserror::Error;

use super::FlashSale;
use crate::{Fen, Timestamp};

/// A live platform through which the sale's units are sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Door {
    Douyin,
    Kuaishou,
}

impl Door {
    pub const ALL: [Door; 2] = [Door::Douyin, Door::Kuaishou];

    pub const fn index(self) -> usize {
        match self {
            Door::Douyin => 0,
            Door::Kuaishou => 1,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Door::Douyin => "douyin",
            Door::Kuaishou => "kuaishou",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == name)
    }

    /// The channel a platform order is paid on: the platform collects the money.
    pub const fn channel(self) -> crate::ledger::Channel {
        match self {
            Door::Douyin => crate::ledger::Channel::Douyin,
            Door::Kuaishou => crate::ledger::Channel::Kuaishou,
        }
    }
}

/// The buyer of an order of ours made from a platform order: the platform knows the fan, we do
/// not. Such orders are paid when recorded and their units are counted by the door's slice, so
/// a sale's actor is rebuilt without them.
pub const PLATFORM_BUYER: crate::BuyerId = crate::BuyerId(0);

/// One door's share of the sale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slice {
    /// Leased to the platform and not known to be sold: what the platform may still sell, plus
    /// what it sold that we have not heard of yet.
    pub leased: u32,
    /// Sold through this door (orders recorded and not given back).
    pub sold: u32,
    /// Raised by every lease, so that the platform call that follows has a key of its own.
    pub lease_seq: u64,
}

/// Where a platform order's units are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DoorUnits {
    /// Sold through the door (placed, paid, shipped, completed).
    Sold,
    /// Cancelled before payment: back in the door's slice.
    Returned,
    /// Refunded after payment: back in available.
    Refunded,
}

impl DoorUnits {
    pub const fn as_str(self) -> &'static str {
        match self {
            DoorUnits::Sold => "sold",
            DoorUnits::Returned => "returned",
            DoorUnits::Refunded => "refunded",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [DoorUnits::Sold, DoorUnits::Returned, DoorUnits::Refunded].into_iter().find(|u| u.as_str() == name)
    }
}

/// A platform order as the sale records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorOrder {
    pub door: Door,
    pub platform_order_id: String,
    pub quantity: u32,
    pub amount_fen: Fen,
    pub units: DoorUnits,
    /// The platform's own status, for people (`unpaid`, `paid`, `shipped`, …).
    pub status: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What recording a platform order did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoorOutcome {
    /// Nothing new: the order is already recorded in this state.
    Unchanged,
    /// Recorded or moved: persist it.
    Changed(DoorOrder),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DoorError {
    #[error("the slice holds {leased} units, fewer than {wanted}")]
    SliceShort { leased: u32, wanted: u32 },
    /// The platform reports more units sold than its slice and the free units together: it
    /// sold past what it was given. Nothing is changed; the order is reported for a person.
    #[error("the platform sold {wanted} units, only {backed} are backed by its slice and the free units")]
    Overdrawn { wanted: u32, backed: u32 },
    #[error("a given-back order cannot be sold again")]
    Final,
    #[error("a platform order of 0 units")]
    Empty,
}

/// Why stored slices and platform orders could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DoorRestoreError {
    #[error("slices and orders claim {claimed} units of {quantity}")]
    Oversold { claimed: u64, quantity: u32 },
    #[error("platform order {0} appears twice")]
    Duplicate(String),
}

/// The doors of one sale: slices and the platform orders seen.
#[derive(Debug, Clone, Default)]
pub(super) struct Doors {
    pub slices: [Slice; 2],
    /// Every platform order recorded, by door and platform id (bounded by the platforms'
    /// orders for this sale, each of at least one unit).
    pub orders: HashMap<(Door, String), DoorOrder>,
}

impl Doors {
    pub fn leased(&self) -> u32 {
        self.slices.iter().map(|s| s.leased).sum()
    }
}

impl FlashSale {
    /// The door's slice.
    pub fn slice(&self, door: Door) -> Slice {
        self.doors.slices[door.index()]
    }

    /// A recorded platform order.
    pub fn door_order(&self, door: Door, platform_order_id: &str) -> Option<&DoorOrder> {
        self.doors.orders.get(&(door, platform_order_id.to_owned()))
    }

    /// Leases up to `wanted` free units to `door`; how many were leased (0 when nothing is
    /// free) and the lease's sequence number.
    pub fn lease(&mut self, door: Door, wanted: u32) -> (u32, u64) {
        let granted = wanted.min(self.available);
        let slice = &mut self.doors.slices[door.index()];
        if granted > 0 {
            self.available -= granted;
            slice.leased += granted;
            slice.lease_seq += 1;
        }
        let seq = slice.lease_seq;
        self.assert_balanced();
        (granted, seq)
    }

    /// Takes `units` back from `door`'s slice into available. Call only after the platform's
    /// stock was lowered by as many: the slice then still covers every sale the platform made.
    pub fn unlease(&mut self, door: Door, units: u32) -> Result<(), DoorError> {
        let slice = &mut self.doors.slices[door.index()];
        if slice.leased < units {
            return Err(DoorError::SliceShort { leased: slice.leased, wanted: units });
        }
        slice.leased -= units;
        self.available += units;
        self.assert_balanced();
        Ok(())
    }

    /// Records a platform order in `order.units`, moving its units accordingly; a repeat of
    /// what is recorded changes nothing. A new order's units come from its door's slice, and
    /// only when the slice is short (a lease lost before the platform heard of it, or the
    /// sale's end took the slice back) from available.
    pub fn record_door_order(&mut self, order: DoorOrder) -> Result<DoorOutcome, DoorError> {
        if order.quantity == 0 {
            return Err(DoorError::Empty);
        }
        let key = (order.door, order.platform_order_id.clone());
        let d = order.door.index();
        let previous = self.doors.orders.get(&key).map(|o| (o.units, o.status.clone(), o.quantity));
        let q = order.quantity;
        match previous {
            None => {
                if order.units == DoorUnits::Sold {
                    self.take_for_door(order.door, q)?;
                    self.doors.slices[d].sold += q;
                    self.sold += q;
                }
                // An order first seen cancelled before payment moved nothing (the platform
                // restocked it); one first seen refunded left the platform's stock for good,
                // and its units are free again.
                if order.units == DoorUnits::Refunded {
                    self.take_for_door(order.door, q)?;
                    self.available += q;
                }
            }
            Some((units, status, _)) if units == order.units && status == order.status => {
                return Ok(DoorOutcome::Unchanged);
            }
            Some((DoorUnits::Sold, _, quantity)) => match order.units {
                DoorUnits::Sold => {}
                DoorUnits::Returned => {
                    self.sold -= quantity;
                    self.doors.slices[d].sold -= quantity;
                    self.doors.slices[d].leased += quantity;
                }
                DoorUnits::Refunded => {
                    self.sold -= quantity;
                    self.doors.slices[d].sold -= quantity;
                    self.available += quantity;
                }
            },
            Some((given_back, _, _)) => {
                if order.units == DoorUnits::Sold {
                    return Err(DoorError::Final);
                }
                if order.units != given_back {
                    // Returned and refunded are both final; keep the first word.
                    return Ok(DoorOutcome::Unchanged);
                }
            }
        }
        let stored = DoorOrder { quantity: previous.map_or(q, |(_, _, quantity)| quantity), ..order };
        self.doors.orders.insert(key, stored.clone());
        self.assert_balanced();
        Ok(DoorOutcome::Changed(stored))
    }

    fn take_for_door(&mut self, door: Door, units: u32) -> Result<(), DoorError> {
        let slice = &mut self.doors.slices[door.index()];
        let from_slice = units.min(slice.leased);
        let rest = units - from_slice;
        if rest > self.available {
            return Err(DoorError::Overdrawn { wanted: units, backed: from_slice + self.available });
        }
        slice.leased -= from_slice;
        self.available -= rest;
        Ok(())
    }

    /// Adds the stored slices and platform orders to a sale restored from its own orders.
    pub fn restore_doors(
        &mut self,
        slices: impl IntoIterator<Item = (Door, u32, u64)>,
        orders: impl IntoIterator<Item = DoorOrder>,
    ) -> Result<(), DoorRestoreError> {
        for (door, leased, lease_seq) in slices {
            let slice = &mut self.doors.slices[door.index()];
            slice.leased = leased;
            slice.lease_seq = lease_seq;
        }
        for order in orders {
            if order.units == DoorUnits::Sold {
                self.doors.slices[order.door.index()].sold += order.quantity;
            }
            let key = (order.door, order.platform_order_id.clone());
            if self.doors.orders.insert(key, order.clone()).is_some() {
                return Err(DoorRestoreError::Duplicate(order.platform_order_id));
            }
        }
        let door_sold: u64 = self.doors.slices.iter().map(|s| u64::from(s.sold)).sum();
        let claimed = u64::from(self.reserved)
            + u64::from(self.sold)
            + door_sold
            + self.doors.slices.iter().map(|s| u64::from(s.leased)).sum::<u64>();
        if claimed > u64::from(self.terms.quantity) {
            return Err(DoorRestoreError::Oversold { claimed, quantity: self.terms.quantity });
        }
        self.sold += u32::try_from(door_sold).expect("bounded by the quantity");
        self.available = self.terms.quantity - u32::try_from(claimed).expect("bounded by the quantity");
        self.assert_balanced();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::sale::{SaleTerms, StockCounts};
    use crate::{FlashSaleId, MerchantId, ProductId};

    fn sale(quantity: u32) -> FlashSale {
        FlashSale::new(SaleTerms {
            id: FlashSaleId(7),
            merchant_id: MerchantId(3),
            product_id: ProductId(5),
            title: "lipstick".into(),
            price_fen: Fen(990),
            quantity,
            per_buyer_limit: 5,
            starts_at: Timestamp(1_000),
            ends_at: Timestamp(60_000),
            payment_window_secs: 3,
        })
    }

    fn order(door: Door, id: &str, quantity: u32, units: DoorUnits, status: &str) -> DoorOrder {
        DoorOrder {
            door,
            platform_order_id: id.into(),
            quantity,
            amount_fen: Fen(990 * i64::from(quantity)),
            units,
            status: status.into(),
            created_at: Timestamp(2_000),
            updated_at: Timestamp(2_000),
        }
    }

    #[test]
    fn slices_lease_sell_return_refund_and_come_back_exactly() {
        let mut s = sale(10);
        assert_eq!(s.lease(Door::Douyin, 4), (4, 1));
        assert_eq!(s.lease(Door::Kuaishou, 100), (6, 1), "only what is free");
        assert_eq!(s.lease(Door::Kuaishou, 1), (0, 1), "nothing free: no lease, same sequence");
        assert_eq!(s.counts(), StockCounts { quantity: 10, available: 0, reserved: 0, sold: 0, leased: 10 });

        let sold = order(Door::Douyin, "d1", 2, DoorUnits::Sold, "paid");
        assert!(matches!(s.record_door_order(sold.clone()), Ok(DoorOutcome::Changed(_))));
        assert_eq!(s.record_door_order(sold), Ok(DoorOutcome::Unchanged), "a repeat moves nothing");
        assert_eq!(s.slice(Door::Douyin), Slice { leased: 2, sold: 2, lease_seq: 1 });
        // Shipped: the same units, a new status.
        assert!(matches!(
            s.record_door_order(order(Door::Douyin, "d1", 2, DoorUnits::Sold, "shipped")),
            Ok(DoorOutcome::Changed(_))
        ));
        assert_eq!(s.counts().sold, 2);

        // Cancelled before payment: back in the platform's slice.
        s.record_door_order(order(Door::Kuaishou, "k1", 1, DoorUnits::Sold, "unpaid")).unwrap();
        s.record_door_order(order(Door::Kuaishou, "k1", 1, DoorUnits::Returned, "cancelled")).unwrap();
        assert_eq!(s.slice(Door::Kuaishou), Slice { leased: 6, sold: 0, lease_seq: 1 });
        assert_eq!(
            s.record_door_order(order(Door::Kuaishou, "k1", 1, DoorUnits::Sold, "paid")),
            Err(DoorError::Final),
            "a cancelled order is not sold again"
        );
        // Refunded after payment: back in available, for our page.
        s.record_door_order(order(Door::Douyin, "d1", 2, DoorUnits::Refunded, "cancelled")).unwrap();
        assert_eq!(s.counts(), StockCounts { quantity: 10, available: 2, reserved: 0, sold: 0, leased: 8 });

        // Taking back: never more than the slice.
        assert_eq!(s.unlease(Door::Douyin, 3), Err(DoorError::SliceShort { leased: 2, wanted: 3 }));
        s.unlease(Door::Douyin, 2).unwrap();
        assert_eq!(s.counts().available, 4);
        // A platform that reports more than its slice and the free units: refused, nothing moves.
        let before = s.counts();
        assert_eq!(
            s.record_door_order(order(Door::Douyin, "d2", 5, DoorUnits::Sold, "paid")),
            Err(DoorError::Overdrawn { wanted: 5, backed: 4 })
        );
        assert_eq!(s.counts(), before);
        assert_eq!(s.verify(), Ok(()));
    }

    #[test]
    fn a_sale_restored_with_its_slices_and_platform_orders_is_the_same_sale() {
        let mut s = sale(20);
        s.lease(Door::Douyin, 8);
        s.lease(Door::Kuaishou, 5);
        let orders = [
            order(Door::Douyin, "d1", 3, DoorUnits::Sold, "paid"),
            order(Door::Kuaishou, "k1", 2, DoorUnits::Sold, "paid"),
            order(Door::Kuaishou, "k2", 1, DoorUnits::Sold, "unpaid"),
            order(Door::Kuaishou, "k2", 1, DoorUnits::Returned, "cancelled"),
        ];
        for o in orders {
            s.record_door_order(o).unwrap();
        }
        let slices: Vec<_> =
            Door::ALL.iter().map(|d| (*d, s.slice(*d).leased, s.slice(*d).lease_seq)).collect();
        let stored: Vec<DoorOrder> = s.doors.orders.values().cloned().collect();
        let mut again = sale(20);
        again.restore_doors(slices, stored).unwrap();
        assert_eq!(again.counts(), s.counts());
        for door in Door::ALL {
            assert_eq!(again.slice(door), s.slice(door));
        }
        assert_eq!(again.verify(), Ok(()));
        let mut too_much = sale(4);
        assert_eq!(
            too_much.restore_doors(
                [(Door::Douyin, 3, 1)],
                [order(Door::Douyin, "d1", 2, DoorUnits::Sold, "paid")]
            ),
            Err(DoorRestoreError::Oversold { claimed: 5, quantity: 4 })
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Lease(usize, u32),
        Unlease(usize, u32),
        Sell(usize, u8, u32),
        Return(usize, u8),
        Refund(usize, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..2usize, 0..8u32).prop_map(|(d, n)| Op::Lease(d, n)),
            (0..2usize, 0..8u32).prop_map(|(d, n)| Op::Unlease(d, n)),
            (0..2usize, 0..12u8, 1..4u32).prop_map(|(d, id, n)| Op::Sell(d, id, n)),
            (0..2usize, 0..12u8).prop_map(|(d, id)| Op::Return(d, id)),
            (0..2usize, 0..12u8).prop_map(|(d, id)| Op::Refund(d, id)),
        ]
    }

    proptest! {
        /// Any sequence of leases, take-backs and platform orders (repeated, shuffled, given
        /// back) keeps every unit in exactly one bucket, matching a naive model, and a sale
        /// rebuilt from what would be stored is the same sale.
        #[test]
        fn doors_match_a_naive_model(quantity in 1..30u32, ops in proptest::collection::vec(op(), 0..80)) {
            let mut s = sale(quantity);
            let mut available = i64::from(quantity);
            let mut leased = [0i64; 2];
            let mut sold = [0i64; 2];
            // id → (quantity, units)
            let mut known: std::collections::HashMap<(usize, u8), (u32, DoorUnits)> = Default::default();
            for op in ops {
                match op {
                    Op::Lease(d, n) => {
                        let (granted, _) = s.lease(Door::ALL[d], n);
                        prop_assert_eq!(i64::from(granted), i64::from(n).min(available));
                        available -= i64::from(granted);
                        leased[d] += i64::from(granted);
                    }
                    Op::Unlease(d, n) => {
                        let ok = s.unlease(Door::ALL[d], n).is_ok();
                        prop_assert_eq!(ok, i64::from(n) <= leased[d]);
                        if ok { leased[d] -= i64::from(n); available += i64::from(n); }
                    }
                    Op::Sell(d, id, n) => {
                        let o = order(Door::ALL[d], &id.to_string(), n, DoorUnits::Sold, "paid");
                        match (s.record_door_order(o), known.get(&(d, id)).copied()) {
                            (Ok(_), None) => {
                                let from_slice = i64::from(n).min(leased[d]);
                                leased[d] -= from_slice;
                                available -= i64::from(n) - from_slice;
                                sold[d] += i64::from(n);
                                known.insert((d, id), (n, DoorUnits::Sold));
                            }
                            (Err(DoorError::Overdrawn { .. }), None) => {
                                prop_assert!(i64::from(n) > leased[d] + available);
                            }
                            (Ok(DoorOutcome::Unchanged), Some((_, DoorUnits::Sold))) => {}
                            (Err(DoorError::Final), Some((_, units))) => prop_assert_ne!(units, DoorUnits::Sold),
                            (outcome, model) => prop_assert!(false, "{:?} with {:?}", outcome, model),
                        }
                    }
                    Op::Return(d, id) | Op::Refund(d, id) => {
                        let units = if matches!(op, Op::Return(..)) { DoorUnits::Returned } else { DoorUnits::Refunded };
                        let Some((n, DoorUnits::Sold)) = known.get(&(d, id)).copied() else { continue };
                        s.record_door_order(order(Door::ALL[d], &id.to_string(), n, units, "cancelled")).unwrap();
                        sold[d] -= i64::from(n);
                        if units == DoorUnits::Returned { leased[d] += i64::from(n) } else { available += i64::from(n) }
                        known.insert((d, id), (n, units));
                    }
                }
                let c = s.counts();
                prop_assert_eq!(i64::from(c.available), available);
                prop_assert_eq!(i64::from(c.leased), leased[0] + leased[1]);
                prop_assert_eq!(i64::from(c.sold), sold[0] + sold[1]);
                prop_assert!(c.is_balanced());
            }
            prop_assert_eq!(s.verify(), Ok(()));
            let slices: Vec<_> = Door::ALL.iter().map(|d| (*d, s.slice(*d).leased, s.slice(*d).lease_seq)).collect();
            let mut again = sale(quantity);
            again.restore_doors(slices, s.doors.orders.values().cloned()).unwrap();
            prop_assert_eq!(again.counts(), s.counts());
        }
    }
}
