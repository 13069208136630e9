//! The money records that settlement actors decide and the journal persists: captures,
//! ledger entries, payment and withdrawal states.

use engine::ledger::{OpId, PartnerId, Posting};
use engine::settlement::PaymentSettlement;
use engine::{Fen, MerchantId, OrderId, StateChange, Timestamp};

/// A payment attempt, as the `payments` table numbers it.
pub type PaymentId = i64;

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

/// What a posting is about, for the ledger's readers (entries API, CSV, reconciliation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Payment,
    Unmatched,
    Release,
    Rejection,
    Refund,
    Withdrawal,
    WithdrawalPaid,
    WithdrawalRejected,
}

impl EntryKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryKind::Payment => "payment",
            EntryKind::Unmatched => "unmatched_payment",
            EntryKind::Release => "review_release",
            EntryKind::Rejection => "review_rejection",
            EntryKind::Refund => "refund",
            EntryKind::Withdrawal => "withdrawal",
            EntryKind::WithdrawalPaid => "withdrawal_paid",
            EntryKind::WithdrawalRejected => "withdrawal_rejected",
        }
    }
}

/// A posting and what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub posting: Posting,
    pub merchant_id: MerchantId,
    pub order_id: Option<OrderId>,
    pub kind: EntryKind,
}

impl Entry {
    pub fn op(&self) -> &OpId {
        &self.posting.op
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

/// A merchant's withdrawal to its bank account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    pub id: i64,
    pub merchant_id: MerchantId,
    pub amount_fen: Fen,
    pub state: WithdrawalState,
    pub reason: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawalState {
    Requested,
    Paid,
    Rejected,
}

impl WithdrawalState {
    pub const fn as_str(self) -> &'static str {
        match self {
            WithdrawalState::Requested => "requested",
            WithdrawalState::Paid => "paid",
            WithdrawalState::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [WithdrawalState::Requested, WithdrawalState::Paid, WithdrawalState::Rejected]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

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

/// One settlement-side fact for the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoneyEvent {
    Posted(Entry),
    Payment {
        payment_id: PaymentId,
        state: PaymentState,
        transaction_id: Option<String>,
        at: Timestamp,
    },
    Reviewed {
        order_id: OrderId,
        review: Review,
        at: Timestamp,
    },
    /// A paid order's money went back to its buyer. Units stay sold: a flash-sale unit is not
    /// put back on sale after a refund.
    OrderRefunded {
        order_id: OrderId,
        at: Timestamp,
    },
    Withdrawal(Withdrawal),
}
