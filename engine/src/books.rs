//! A merchant's books: the records its settlement actor decides and the journal persists
//! ([`MoneyEvent`]: postings with what they are about, payment states, reviews, withdrawals,
//! KYC and split decisions), what the actor starts from ([`Books`]) and the balances they fold
//! to ([`Balances`]).

use crate::aftersales::{DecidedRefund, RefundDecision};
use crate::ledger::{Account, Ledger, OpId, Posting};
use crate::payment::{Capture, PaymentState, Review};
use crate::settlement::SplitRule;
use crate::{Fen, MerchantId, OrderId, PaymentId, RefundId, Timestamp, WithdrawalId};

/// What a posting is about, for the ledger's readers (entries API, CSV, reconciliation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Payment,
    Unmatched,
    Release,
    Rejection,
    Refund,
    RefundApproved,
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
            EntryKind::RefundApproved => "refund_approved",
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

/// A merchant's withdrawal to its bank account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    pub id: WithdrawalId,
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
    /// A paid order's money went back to its buyer, whole. Its units stay sold unless the
    /// merchant put them back on sale (an after-sales refund's restock, journaled apart).
    OrderRefunded {
        order_id: OrderId,
        at: Timestamp,
    },
    /// A merchant approved or rejected a buyer's refund request (the buyer is told in the same
    /// transaction).
    RefundDecided(RefundDecision),
    /// The channel paid an approved refund request back to the buyer.
    RefundRequestPaid {
        refund_id: RefundId,
        at: Timestamp,
    },
    Withdrawal(Withdrawal),
    /// An operator decided whether the merchant's identity is verified (KYC).
    KycDecided {
        merchant_id: MerchantId,
        verified: bool,
        at: Timestamp,
    },
    /// A live platform's paid order became an order of ours, credited (its capture's payment id
    /// is the database's, given when the payment row is inserted).
    PlatformOrderPaid(Box<crate::payment::PlatformOrderPaid>),
    /// A live platform refunded a paid order of its that was credited as ours: the capture
    /// reversed through the platform's clearing (the platform paid the buyer back itself), the
    /// payment and the order refunded, in one transaction.
    PlatformOrderRefunded {
        order_id: OrderId,
        platform_order_id: String,
        entry: Entry,
    },
    /// Who shares the merchant's net from now on; replaces the rule before.
    SplitRuleSet {
        merchant_id: MerchantId,
        rule: SplitRule,
        at: Timestamp,
    },
}

impl MoneyEvent {
    /// The posting it makes, if any.
    pub fn posting(&self) -> Option<&Posting> {
        match self {
            MoneyEvent::Posted(entry) => Some(&entry.posting),
            MoneyEvent::PlatformOrderPaid(paid) => Some(&paid.entry.posting),
            MoneyEvent::PlatformOrderRefunded { entry, .. } => Some(&entry.posting),
            _ => None,
        }
    }

    /// When it was decided.
    pub fn at(&self) -> Timestamp {
        match self {
            MoneyEvent::Posted(entry) => entry.posting.at,
            MoneyEvent::Payment { at, .. }
            | MoneyEvent::Reviewed { at, .. }
            | MoneyEvent::OrderRefunded { at, .. }
            | MoneyEvent::RefundRequestPaid { at, .. }
            | MoneyEvent::KycDecided { at, .. }
            | MoneyEvent::SplitRuleSet { at, .. } => *at,
            MoneyEvent::Withdrawal(w) => w.updated_at,
            MoneyEvent::RefundDecided(decision) => decision.at,
            MoneyEvent::PlatformOrderPaid(paid) => paid.capture.at,
            MoneyEvent::PlatformOrderRefunded { entry, .. } => entry.posting.at,
        }
    }
}

/// A merchant's books as stored, to start its settlement actor from.
#[derive(Debug, Clone, Default)]
pub struct Books {
    pub postings: Vec<Posting>,
    pub captures: Vec<Capture>,
    pub withdrawals: Vec<Withdrawal>,
    pub kyc_verified: bool,
    pub split: SplitRule,
    /// Refund requests already decided (approved or rejected).
    pub refunds: Vec<DecidedRefund>,
}

/// What a merchant has: what the platform owes it on each of its accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balances {
    pub available: Fen,
    pub pending: Fen,
    pub withdrawing: Fen,
}

impl Balances {
    /// The merchant's three accounts, in the order of the fields.
    pub const fn accounts(merchant_id: MerchantId) -> [Account; 3] {
        [
            Account::MerchantAvailable(merchant_id),
            Account::MerchantPending(merchant_id),
            Account::MerchantWithdrawing(merchant_id),
        ]
    }

    /// The merchant's balances in a ledger.
    pub fn in_ledger(ledger: &Ledger, merchant_id: MerchantId) -> Balances {
        let [available, pending, withdrawing] = Balances::accounts(merchant_id).map(|a| ledger.owed(a));
        Balances { available, pending, withdrawing }
    }
}
