//! Payments as the settlement side records them: the state of a payment attempt, the capture
//! of a paid order (its money, fixed once) and its place in anti-money-laundering review.

use crate::books::Entry;
use crate::ledger::PartnerId;
use crate::settlement::PaymentSettlement;
use crate::{Fen, OrderId, PaymentId, StateChange, Timestamp};

/// The state of a payment attempt, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentState {
    /// Offered to the buyer; no money seen yet.
    Created,
    /// Paid and captured (credited, or held in review).
    Credited,
    /// Paid, but it pays nothing (late, double, rejected in review): to be refunded.
    RefundPending,
    Refunded,
    /// Never paid and no longer payable.
    Closed,
}

impl PaymentState {
    pub const fn as_str(self) -> &'static str {
        match self {
            PaymentState::Created => "created",
            PaymentState::Credited => "credited",
            PaymentState::RefundPending => "refund_pending",
            PaymentState::Refunded => "refunded",
            PaymentState::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            PaymentState::Created,
            PaymentState::Credited,
            PaymentState::RefundPending,
            PaymentState::Refunded,
            PaymentState::Closed,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// Where a captured payment stands in anti-money-laundering review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Review {
    /// Not held: credited to the available balances at once.
    None,
    /// Held in the merchant's pending balance until an operator decides.
    Pending,
    Approved,
    Rejected,
}

impl Review {
    pub const fn as_str(self) -> &'static str {
        match self {
            Review::None => "none",
            Review::Pending => "pending",
            Review::Approved => "approved",
            Review::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<Review> {
        [Review::None, Review::Pending, Review::Approved, Review::Rejected]
            .into_iter()
            .find(|r| r.as_str() == raw)
    }
}

/// The money of a paid order, fixed at capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub order_id: OrderId,
    pub payment_id: PaymentId,
    pub transaction_id: String,
    pub settlement: PaymentSettlement,
    pub review: Review,
    pub at: Timestamp,
}

impl Capture {
    /// `partner:fen,partner:fen`, as stored.
    pub fn partners_text(&self) -> String {
        self.settlement
            .partners
            .iter()
            .map(|(p, f)| format!("{}:{}", p.0, f.as_i64()))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn parse_partners(raw: &str) -> Option<Vec<(PartnerId, Fen)>> {
        if raw.is_empty() {
            return Some(Vec::new());
        }
        raw.split(',')
            .map(|pair| {
                let (p, f) = pair.split_once(':')?;
                Some((PartnerId(p.parse().ok()?), Fen(f.parse().ok()?)))
            })
            .collect()
    }
}

/// An order paid: the stock actor's state change, the capture and its posting, persisted in
/// one transaction, so that an order is never paid without its credit or credited unpaid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidOrder {
    pub change: StateChange,
    pub capture: Capture,
    pub entry: Entry,
}

/// A live platform's order, paid there, recorded as an order of ours: the order (paid, of
/// [`crate::PLATFORM_BUYER`]), its capture on the platform's channel and the posting that
/// credits the merchant, with where it ships to when the platform said. Persisted in one
/// transaction, once per platform order (the posting's operation id is
/// `pay:{platform}:{platform order id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformOrderPaid {
    pub order: crate::Order,
    pub door: crate::Door,
    pub platform_order_id: String,
    pub capture: Capture,
    pub entry: Entry,
    pub receiver: Option<crate::address::ShippingAddress>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for state in [
            PaymentState::Created,
            PaymentState::Credited,
            PaymentState::RefundPending,
            PaymentState::Refunded,
            PaymentState::Closed,
        ] {
            assert_eq!(PaymentState::parse(state.as_str()), Some(state));
        }
        for review in [Review::None, Review::Pending, Review::Approved, Review::Rejected] {
            assert_eq!(Review::parse(review.as_str()), Some(review));
        }
        assert_eq!(Capture::parse_partners(""), Some(Vec::new()));
        assert_eq!(
            Capture::parse_partners("3:998,4:1"),
            Some(vec![(PartnerId(3), Fen(998)), (PartnerId(4), Fen(1))])
        );
        assert_eq!(Capture::parse_partners("3"), None);
    }
}
