//! Settlement: one actor per merchant, the only writer of that merchant's books.
//!
//! - [`actor`]: the [`actor::SettlementActor`] and its messages; what each one decides.
//! - [`handle`]: [`SettlementHandle`], the address the gateway asks through; every answer is
//!   one `Result<_, SettleError>`, a full mailbox included.
//! - [`registry`]: [`SettlementRegistry`], which starts a merchant's actor from its stored
//!   books on first use ([`SettlementRegistry::get_or_start`]), once, on its own thread.
//!
//! Below: the vocabulary the three share.

pub mod actor;
pub mod handle;
pub mod registry;

use std::sync::Arc;

use engine::ledger::Channel;
use engine::settlement::{RefundError, WithdrawalError, WithdrawalPolicy};
use engine::{Fen, OrderId, PaymentId};

use crate::SaleHandle;
use crate::journal::{AppendError, Seq};

pub use handle::SettlementHandle;
pub use registry::{SettlementRegistry, StartError};

/// Tuning and rules shared by every settlement actor.
#[derive(Debug, Clone)]
pub struct SettlementSettings {
    pub mailbox_capacity: usize,
    pub fee_bps_wechat: u32,
    pub fee_bps_alipay: u32,
    /// What the live platforms keep of an order paid there (their service fee).
    pub fee_bps_douyin: u32,
    pub fee_bps_kuaishou: u32,
    pub withdrawals: WithdrawalPolicy,
}

impl SettlementSettings {
    fn fee_bps(&self, channel: Channel) -> u32 {
        match channel {
            Channel::Wechat => self.fee_bps_wechat,
            Channel::Alipay => self.fee_bps_alipay,
            Channel::Douyin => self.fee_bps_douyin,
            Channel::Kuaishou => self.fee_bps_kuaishou,
        }
    }
}

/// A channel's verified word that a payment succeeded.
#[derive(Clone)]
pub struct PaymentReport {
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    pub channel: Channel,
    pub transaction_id: String,
    pub amount_fen: Fen,
    /// The stock actor of the order's sale.
    pub sale: Arc<SaleHandle>,
}

/// A live platform's order, paid there, to become an order of ours credited to the merchant.
#[derive(Debug, Clone)]
pub struct PlatformPayment {
    /// The order as ours: paid, of `engine::PLATFORM_BUYER`, its id minted by the caller (used
    /// only if this platform order was never credited).
    pub order: engine::Order,
    pub door: engine::Door,
    pub platform_order_id: String,
    pub receiver: Option<engine::address::ShippingAddress>,
}

/// Why the money of a payment goes back to the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundReason {
    /// The hold had expired (or the order was cancelled) when the money came.
    Late,
    /// The order was paid already, by another payment.
    Double,
    /// An operator rejected it in review.
    Rejected,
}

/// What became of a reported payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Captured now: credited to the merchant (or held in review when `held`).
    Credited { seq: Seq, held: bool },
    /// Reported before; nothing changed.
    Duplicate { seq: Seq },
    /// Recorded as owed back to the buyer; the refund worker pays it back.
    RefundOwed { seq: Seq, reason: RefundReason },
}

impl PaymentOutcome {
    pub fn seq(&self) -> Seq {
        match *self {
            PaymentOutcome::Credited { seq, .. }
            | PaymentOutcome::Duplicate { seq }
            | PaymentOutcome::RefundOwed { seq, .. } => seq,
        }
    }
}

/// Why a request to a settlement actor was not carried out: the one error of every
/// [`SettlementHandle`] method.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettleError {
    /// The actor did not take the request (mailbox full) or did not answer (stopped).
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    #[error("{0}")]
    Journal(AppendError),
    #[error("the sale's stock actor is at capacity")]
    SaleBusy,
    #[error("the sale's stock actor stopped")]
    SaleGone,
    #[error("no such order awaiting review")]
    NotUnderReview,
    #[error("no such withdrawal awaiting a decision")]
    NoSuchWithdrawal,
    #[error(transparent)]
    Withdrawal(#[from] WithdrawalError),
    #[error("the refund request was decided already")]
    RefundDecided,
    #[error("the order has no captured payment to refund")]
    NothingToRefund,
    #[error(transparent)]
    Refund(#[from] RefundError),
}

/// The actor did not answer: its mailbox is full, or it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error("the merchant's settlement actor is at capacity")]
    Busy,
    #[error("the settlement actor stopped")]
    Stopped,
}

#[cfg(test)]
mod tests;
