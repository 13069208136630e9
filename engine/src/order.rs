//! Orders and their state machine.
//!
//! ```text
//! pending_payment ──pay──▶ paid ──ship──▶ shipped ──receive──▶ completed
//!        │                   │                │                    │
//!        ├──deadline──▶ expired               └──────refund────────┴──▶ refunded
//!        └──cancel────▶ cancelled            (paid, too)
//! ```
//!
//! While an order is `pending_payment` its units are *reserved*; from `paid` on they are *sold*;
//! `expired` and `cancelled` give them back to *available*.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{BuyerId, ClientNetwork, Fen, FlashSaleId, IdempotencyKey, MerchantId, OrderId, Timestamp};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    PendingPayment,
    Paid,
    Shipped,
    Completed,
    Expired,
    Cancelled,
    Refunded,
}

impl OrderState {
    pub const ALL: [OrderState; 7] = [
        OrderState::PendingPayment,
        OrderState::Paid,
        OrderState::Shipped,
        OrderState::Completed,
        OrderState::Expired,
        OrderState::Cancelled,
        OrderState::Refunded,
    ];

    /// The name used in the HTTP API and the database column alike.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderState::PendingPayment => "pending_payment",
            OrderState::Paid => "paid",
            OrderState::Shipped => "shipped",
            OrderState::Completed => "completed",
            OrderState::Expired => "expired",
            OrderState::Cancelled => "cancelled",
            OrderState::Refunded => "refunded",
        }
    }

    pub fn parse(raw: &str) -> Option<OrderState> {
        OrderState::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether the state machine has an edge `self → next`.
    pub const fn can_become(self, next: OrderState) -> bool {
        use OrderState::*;
        matches!(
            (self, next),
            (PendingPayment, Paid | Expired | Cancelled)
                | (Paid, Shipped | Refunded)
                | (Shipped, Completed | Refunded)
                | (Completed, Refunded)
        )
    }

    /// Units of an order in this state are held for its buyer, awaiting payment.
    pub const fn holds_units(self) -> bool {
        matches!(self, OrderState::PendingPayment)
    }

    /// Units of an order in this state have left the sale for good.
    pub const fn sold_units(self) -> bool {
        matches!(self, OrderState::Paid | OrderState::Shipped | OrderState::Completed | OrderState::Refunded)
    }
}

/// One order of a flash sale, as the stock actor and the database know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub flash_sale_id: FlashSaleId,
    pub merchant_id: MerchantId,
    pub buyer_id: BuyerId,
    pub quantity: u32,
    pub amount_fen: Fen,
    pub state: OrderState,
    pub idempotency_key: IdempotencyKey,
    /// Where the order was placed from (the unit of the per-network cap on unpaid orders);
    /// `None` for orders placed before it was recorded, or without a known client address.
    pub client_network: Option<ClientNetwork>,
    pub created_at: Timestamp,
    /// The hold deadline: unpaid at this instant, the order expires.
    pub expires_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Order {
    /// What the buyer was told when the order was placed; replayed unchanged for the same key.
    pub fn receipt(&self) -> Receipt {
        Receipt {
            order_id: self.id,
            quantity: self.quantity,
            amount_fen: self.amount_fen,
            expires_at: self.expires_at,
        }
    }
}

/// Why an order cannot be paid (any more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum NotPayable {
    /// Its hold ran out: the deadline passed, whether or not the expiry was processed yet.
    #[error("the order is expired")]
    Expired,
    /// It left `pending_payment` (paid, cancelled, expired, …).
    #[error("the order is {}", .0.as_str())]
    State(OrderState),
}

impl Order {
    /// Whether the order can still be paid at `now`: it awaits payment and its hold has not
    /// run out. The one payability rule, for the stock actor and the gateway alike.
    pub fn payable(&self, now: Timestamp) -> Result<(), NotPayable> {
        match self.state {
            OrderState::PendingPayment if now < self.expires_at => Ok(()),
            OrderState::PendingPayment => Err(NotPayable::Expired),
            state => Err(NotPayable::State(state)),
        }
    }
}

/// The facts of a freshly placed order that the `201 Created` answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub order_id: OrderId,
    pub quantity: u32,
    pub amount_fen: Fen,
    pub expires_at: Timestamp,
}

/// An order moved from one state to another; what the journal persists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    pub order_id: OrderId,
    pub from: OrderState,
    pub to: OrderState,
    pub at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for state in OrderState::ALL {
            assert_eq!(OrderState::parse(state.as_str()), Some(state));
        }
        assert_eq!(OrderState::parse("PAID"), None);
    }

    #[test]
    fn only_documented_edges_exist() {
        use OrderState::*;
        let edges: Vec<(OrderState, OrderState)> = OrderState::ALL
            .into_iter()
            .flat_map(|a| OrderState::ALL.into_iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            edges,
            vec![
                (PendingPayment, Paid),
                (PendingPayment, Expired),
                (PendingPayment, Cancelled),
                (Paid, Shipped),
                (Paid, Refunded),
                (Shipped, Completed),
                (Shipped, Refunded),
                (Completed, Refunded),
            ]
        );
    }

    #[test]
    fn only_a_pending_order_within_its_hold_is_payable() {
        let mut order = Order {
            id: OrderId(1),
            flash_sale_id: FlashSaleId(1),
            merchant_id: MerchantId(1),
            buyer_id: BuyerId(1),
            quantity: 1,
            amount_fen: Fen(100),
            state: OrderState::PendingPayment,
            idempotency_key: IdempotencyKey::parse("k").unwrap(),
            client_network: None,
            created_at: Timestamp(0),
            expires_at: Timestamp(1_000),
            updated_at: Timestamp(0),
        };
        assert_eq!(order.payable(Timestamp(999)), Ok(()));
        assert_eq!(order.payable(Timestamp(1_000)), Err(NotPayable::Expired));
        assert_eq!(NotPayable::Expired.to_string(), "the order is expired");
        order.state = OrderState::Paid;
        assert_eq!(order.payable(Timestamp(0)), Err(NotPayable::State(OrderState::Paid)));
        assert_eq!(NotPayable::State(OrderState::Cancelled).to_string(), "the order is cancelled");
    }

    #[test]
    fn every_state_is_held_sold_or_released() {
        for state in OrderState::ALL {
            let released = matches!(state, OrderState::Expired | OrderState::Cancelled);
            let roles = [state.holds_units(), state.sold_units(), released];
            assert_eq!(roles.iter().filter(|r| **r).count(), 1, "{state:?}");
        }
    }
}
