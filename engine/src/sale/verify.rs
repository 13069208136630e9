//! The full check of a sale's invariants, recomputed from its orders.

use std::collections::HashMap;

use super::FlashSale;
use crate::BuyerId;

impl FlashSale {
    /// Recomputes every invariant from the orders. O(orders): for tests and recovery checks,
    /// not for the hot path (which asserts the cheap conservation law on every change).
    pub fn verify(&self) -> Result<(), String> {
        let mut reserved = 0u64;
        let mut sold = 0u64;
        let mut pending = 0usize;
        let mut per_buyer: HashMap<BuyerId, (u32, u32)> = HashMap::new();
        for order in self.orders.values() {
            let entry = per_buyer.entry(order.buyer_id).or_default();
            if order.state.holds_units() {
                reserved += u64::from(order.quantity);
                entry.0 += order.quantity;
                pending += 1;
            } else if order.state.sold_units() {
                sold += u64::from(order.quantity);
                entry.1 += order.quantity;
            } else {
                return Err(format!("released order {} is still kept", order.id));
            }
            let kept = self.buyers.get(&order.buyer_id).and_then(|t| t.keys.get(&order.idempotency_key));
            if kept != Some(&order.receipt()) {
                return Err(format!("order {} has no replay receipt under its key", order.id));
            }
        }
        if pending != self.pending {
            return Err(format!("{pending} orders are pending, the counter says {}", self.pending));
        }
        if let Some((buyer, _)) =
            self.buyers.iter().find(|(b, t)| !per_buyer.contains_key(b) && (t.held, t.bought) != (0, 0))
        {
            return Err(format!("buyer {buyer} has units in its tally and no order"));
        }
        // Units of refunded orders put back on sale are no longer sold.
        let restocked: u64 = self.restocked.values().map(|(_, units)| u64::from(*units)).sum();
        sold = sold.checked_sub(restocked).ok_or("more units restocked than sold")?;
        for (refund, (order_id, _)) in &self.restocked {
            if !self.orders.get(order_id).is_some_and(|o| o.state.sold_units()) {
                return Err(format!("refund {refund} restocked units of order {order_id}, which sold none"));
            }
        }
        let mut door_sold = [0u64; 2];
        for order in self.doors.orders.values() {
            if order.units == super::doors::DoorUnits::Sold {
                door_sold[order.door.index()] += u64::from(order.quantity);
            }
        }
        for door in super::doors::Door::ALL {
            if door_sold[door.index()] != u64::from(self.doors.slices[door.index()].sold) {
                return Err(format!(
                    "{} orders sold {}, its slice says {:?}",
                    door.as_str(),
                    door_sold[door.index()],
                    self.doors.slices[door.index()]
                ));
            }
        }
        sold += door_sold.iter().sum::<u64>();
        let counts = self.counts();
        if !counts.is_balanced() {
            return Err(format!("buckets do not sum to the quantity: {counts:?}"));
        }
        if reserved != u64::from(counts.reserved) || sold != u64::from(counts.sold) {
            return Err(format!("orders say reserved {reserved} sold {sold}, counters say {counts:?}"));
        }
        for (buyer, (held, bought)) in per_buyer {
            let tally = self.buyers.get(&buyer).cloned().unwrap_or_default();
            if (tally.held, tally.bought) != (held, bought) {
                return Err(format!("buyer {buyer} tally {tally:?} disagrees with orders"));
            }
            if held + bought > self.terms.per_buyer_limit {
                return Err(format!("buyer {buyer} over the limit: {held} held {bought} bought"));
            }
        }
        Ok(())
    }
}
