//! Settlement rules: what a captured payment, a refund and a withdrawal post to the ledger.
//!
//! - Channel fee: `gross × fee_bps / 10,000`, rounded half up to the fen.
//! - Profit sharing of the net (gross − fee): each partner's share is floored; the merchant
//!   gets the rest, so the shares always sum exactly to the net.
//! - Payments of 50,000 CNY or more are held (merchant pending) until an operator approves.
//! - A refund reverses the capture proportionally. The parts refunded so far are always
//!   `floor(part × refunded / gross)` for the fee and each partner, the merchant taking the rest,
//!   so refunding the whole gross in any number of steps reverses the capture exactly.

use thiserror::Error;

use crate::ledger::{Account, Channel, Line, OpId, PartnerId, Posting, PostingError};
use crate::{Fen, MerchantId, Timestamp};

/// Basis points in one whole.
pub const BPS: u32 = 10_000;

/// Payments of this amount or more wait for manual review before they are credited (AML).
pub const AML_REVIEW_THRESHOLD_FEN: i64 = 5_000_000;

pub fn needs_aml_review(gross: Fen) -> bool {
    gross.as_i64() >= AML_REVIEW_THRESHOLD_FEN
}

/// The channel's fee on `gross`, rounded half up to the fen.
pub fn channel_fee(gross: Fen, fee_bps: u32) -> Fen {
    assert!(gross.as_i64() >= 0 && fee_bps <= BPS);
    let scaled = i128::from(gross.as_i64()) * i128::from(fee_bps);
    Fen(((scaled + i128::from(BPS / 2)) / i128::from(BPS)) as i64)
}

/// `part × numerator / denominator`, floored, without overflow.
fn pro_rata(part: i64, numerator: i64, denominator: i64) -> i64 {
    assert!(denominator > 0 && (0..=denominator).contains(&numerator) && part >= 0);
    (i128::from(part) * i128::from(numerator) / i128::from(denominator)) as i64
}

/// Who shares a merchant's net, in basis points; the merchant keeps what is left.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SplitRule {
    partners: Vec<(PartnerId, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SplitError {
    #[error("partner shares add up to more than 10,000 basis points")]
    OverAllocated,
    #[error("a partner share must be at least 1 basis point")]
    ZeroShare,
    #[error("partner {0:?} appears twice")]
    DuplicatePartner(PartnerId),
}

impl SplitRule {
    pub fn merchant_only() -> Self {
        Self::default()
    }

    pub fn new(partners: Vec<(PartnerId, u32)>) -> Result<Self, SplitError> {
        let mut total = 0u32;
        for (i, (partner, bps)) in partners.iter().enumerate() {
            if *bps == 0 {
                return Err(SplitError::ZeroShare);
            }
            if partners[..i].iter().any(|(p, _)| p == partner) {
                return Err(SplitError::DuplicatePartner(*partner));
            }
            total = total.saturating_add(*bps);
        }
        if total > BPS {
            return Err(SplitError::OverAllocated);
        }
        Ok(Self { partners })
    }

    pub fn partners(&self) -> &[(PartnerId, u32)] {
        &self.partners
    }
}

/// The money of one captured payment, fixed at capture so that refunds reverse it exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSettlement {
    pub merchant_id: MerchantId,
    pub channel: Channel,
    pub gross_fen: Fen,
    pub fee_fen: Fen,
    pub merchant_fen: Fen,
    pub partners: Vec<(PartnerId, Fen)>,
    /// Held for review: credited to the merchant's pending balance until released.
    pub held: bool,
}

/// Why a refund cannot be posted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RefundError {
    #[error("a refund must be at least 1 fen")]
    NotPositive,
    #[error("refunds would exceed the payment: {refunded} of {gross} fen already refunded")]
    ExceedsPayment { refunded: i64, gross: i64 },
}

impl PaymentSettlement {
    /// Fee and shares of a payment of `gross` through `channel`.
    pub fn compute(
        merchant_id: MerchantId,
        channel: Channel,
        gross: Fen,
        fee_bps: u32,
        rule: &SplitRule,
    ) -> PaymentSettlement {
        assert!(gross.as_i64() > 0);
        let fee = channel_fee(gross, fee_bps);
        let net = gross.as_i64() - fee.as_i64();
        let partners: Vec<(PartnerId, Fen)> = rule
            .partners
            .iter()
            .map(|(partner, bps)| (*partner, Fen(pro_rata(net, i64::from(*bps), i64::from(BPS)))))
            .collect();
        let partner_total: i64 = partners.iter().map(|(_, f)| f.as_i64()).sum();
        PaymentSettlement {
            merchant_id,
            channel,
            gross_fen: gross,
            fee_fen: fee,
            merchant_fen: Fen(net - partner_total),
            partners,
            held: needs_aml_review(gross),
        }
    }

    fn merchant_side(&self, released: bool) -> Account {
        if self.held && !released {
            Account::MerchantPending(self.merchant_id)
        } else {
            Account::MerchantAvailable(self.merchant_id)
        }
    }

    fn partner_side(&self, partner: PartnerId, released: bool) -> Account {
        if self.held && !released {
            Account::MerchantPending(self.merchant_id)
        } else {
            Account::PartnerAvailable(partner)
        }
    }

    /// The channel collected the gross: fee to the channel, shares to merchant and partners
    /// (all to the merchant's pending balance when held).
    pub fn capture(&self, op: OpId, at: Timestamp) -> Posting {
        let mut lines = vec![
            Line { account: Account::ChannelClearing(self.channel), amount_fen: self.gross_fen.as_i64() },
            Line { account: Account::ChannelFees(self.channel), amount_fen: -self.fee_fen.as_i64() },
            Line { account: self.merchant_side(false), amount_fen: -self.merchant_fen.as_i64() },
        ];
        for (partner, share) in &self.partners {
            lines.push(Line { account: self.partner_side(*partner, false), amount_fen: -share.as_i64() });
        }
        Posting::new(op, lines, at).expect("capture lines balance by construction")
    }

    /// An operator approved a held payment: pending becomes available, shares go out.
    /// `refunded` is what was refunded while it was held.
    pub fn release(&self, op: OpId, refunded: Fen, at: Timestamp) -> Result<Posting, PostingError> {
        assert!(self.held, "only held payments are released");
        let (_, merchant_back, partners_back) = self.refunded_parts(refunded.as_i64());
        let mut lines = vec![Line {
            account: Account::MerchantAvailable(self.merchant_id),
            amount_fen: -(self.merchant_fen.as_i64() - merchant_back),
        }];
        for ((partner, share), back) in self.partners.iter().zip(partners_back) {
            lines.push(Line {
                account: Account::PartnerAvailable(*partner),
                amount_fen: -(share.as_i64() - back),
            });
        }
        let out: i64 = lines.iter().map(|l| l.amount_fen).sum();
        lines.push(Line { account: Account::MerchantPending(self.merchant_id), amount_fen: -out });
        Posting::new(op, lines, at)
    }

    /// `(fee, merchant, partners)` reversed once `refunded` fen of the gross went back.
    fn refunded_parts(&self, refunded: i64) -> (i64, i64, Vec<i64>) {
        let gross = self.gross_fen.as_i64();
        let fee = pro_rata(self.fee_fen.as_i64(), refunded, gross);
        let partners: Vec<i64> =
            self.partners.iter().map(|(_, share)| pro_rata(share.as_i64(), refunded, gross)).collect();
        let merchant = refunded - fee - partners.iter().sum::<i64>();
        (fee, merchant, partners)
    }

    /// Gives `refund` fen back to the buyer, `refunded_before` having been refunded already,
    /// reversing fee and shares in proportion. `released` says whether a held payment's money
    /// has moved to the available balances yet.
    pub fn refund(
        &self,
        op: OpId,
        refunded_before: Fen,
        refund: Fen,
        released: bool,
        at: Timestamp,
    ) -> Result<Posting, RefundError> {
        self.reverse(op, refunded_before, refund, released, at, Account::ChannelClearing(self.channel))
    }

    /// An approved after-sales refund: fee and shares reversed exactly as [`Self::refund`]
    /// does, but the amount is owed to the buyer (`RefundsPayable`) until the channel confirms
    /// it ([`refund_paid`]). The two postings together are [`Self::refund`].
    pub fn refund_owed(
        &self,
        op: OpId,
        refunded_before: Fen,
        refund: Fen,
        released: bool,
        at: Timestamp,
    ) -> Result<Posting, RefundError> {
        self.reverse(op, refunded_before, refund, released, at, Account::RefundsPayable(self.channel))
    }

    fn reverse(
        &self,
        op: OpId,
        refunded_before: Fen,
        refund: Fen,
        released: bool,
        at: Timestamp,
        paid_from: Account,
    ) -> Result<Posting, RefundError> {
        let (before, amount, gross) = (refunded_before.as_i64(), refund.as_i64(), self.gross_fen.as_i64());
        if amount <= 0 {
            return Err(RefundError::NotPositive);
        }
        if before < 0 || before + amount > gross {
            return Err(RefundError::ExceedsPayment { refunded: before, gross });
        }
        let (fee_0, merchant_0, partners_0) = self.refunded_parts(before);
        let (fee_1, merchant_1, partners_1) = self.refunded_parts(before + amount);
        let mut lines = vec![
            Line { account: paid_from, amount_fen: -amount },
            Line { account: Account::ChannelFees(self.channel), amount_fen: fee_1 - fee_0 },
            Line { account: self.merchant_side(released), amount_fen: merchant_1 - merchant_0 },
        ];
        for (((partner, _), p0), p1) in self.partners.iter().zip(partners_0).zip(partners_1) {
            lines.push(Line { account: self.partner_side(*partner, released), amount_fen: p1 - p0 });
        }
        Ok(Posting::new(op, lines, at).expect("refund lines balance by construction"))
    }
}

impl PaymentSettlement {
    /// An operator rejected a held payment in review: everything the capture credited goes
    /// back, owed to the buyer until the channel confirms the refund ([`refund_paid`]).
    pub fn reject_held(&self, op: OpId, at: Timestamp) -> Posting {
        assert!(self.held, "only held payments are rejected in review");
        let lines = [
            Line { account: Account::ChannelFees(self.channel), amount_fen: self.fee_fen.as_i64() },
            Line {
                account: Account::MerchantPending(self.merchant_id),
                amount_fen: self.gross_fen.as_i64() - self.fee_fen.as_i64(),
            },
            Line { account: Account::RefundsPayable(self.channel), amount_fen: -self.gross_fen.as_i64() },
        ];
        Posting::new(op, lines, at).expect("a rejection reverses a balanced capture")
    }
}

/// The channel collected a payment that pays no order (it came after the hold expired, or the
/// order was paid already): the money is owed back to the buyer, never credited.
pub fn payment_unmatched(op: OpId, channel: Channel, gross: Fen, at: Timestamp) -> Posting {
    let lines = [
        Line { account: Account::ChannelClearing(channel), amount_fen: gross.as_i64() },
        Line { account: Account::RefundsPayable(channel), amount_fen: -gross.as_i64() },
    ];
    Posting::new(op, lines, at).expect("two opposite lines balance")
}

/// The channel confirmed a refund of money that was owed back to the buyer.
pub fn refund_paid(op: OpId, channel: Channel, amount: Fen, at: Timestamp) -> Posting {
    let lines = [
        Line { account: Account::RefundsPayable(channel), amount_fen: amount.as_i64() },
        Line { account: Account::ChannelClearing(channel), amount_fen: -amount.as_i64() },
    ];
    Posting::new(op, lines, at).expect("two opposite lines balance")
}

/// Limits on withdrawals to a merchant's bank account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WithdrawalPolicy {
    pub daily_limit_fen: i64,
    pub minimum_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WithdrawalError {
    #[error("the merchant's identity (KYC) is not verified")]
    KycRequired,
    #[error("a withdrawal must be at least {0} fen")]
    BelowMinimum(i64),
    #[error("only {available} fen are available")]
    InsufficientFunds { available: i64 },
    #[error("the daily limit leaves {remaining} fen today")]
    DailyLimit { remaining: i64 },
}

impl WithdrawalPolicy {
    /// Whether a merchant may withdraw `amount` now.
    pub fn check(
        &self,
        kyc_verified: bool,
        available: Fen,
        withdrawn_today: Fen,
        amount: Fen,
    ) -> Result<(), WithdrawalError> {
        if !kyc_verified {
            return Err(WithdrawalError::KycRequired);
        }
        if amount.as_i64() < self.minimum_fen.max(1) {
            return Err(WithdrawalError::BelowMinimum(self.minimum_fen.max(1)));
        }
        if amount > available {
            return Err(WithdrawalError::InsufficientFunds { available: available.as_i64() });
        }
        let remaining = self.daily_limit_fen - withdrawn_today.as_i64();
        if amount.as_i64() > remaining {
            return Err(WithdrawalError::DailyLimit { remaining: remaining.max(0) });
        }
        Ok(())
    }
}

/// A withdrawal moves money from available to in flight…
pub fn withdrawal_requested(op: OpId, merchant: MerchantId, amount: Fen, at: Timestamp) -> Posting {
    let lines = [
        Line { account: Account::MerchantAvailable(merchant), amount_fen: amount.as_i64() },
        Line { account: Account::MerchantWithdrawing(merchant), amount_fen: -amount.as_i64() },
    ];
    Posting::new(op, lines, at).expect("two opposite lines balance")
}

/// …then out of the platform's bank when paid…
pub fn withdrawal_paid(op: OpId, merchant: MerchantId, amount: Fen, at: Timestamp) -> Posting {
    let lines = [
        Line { account: Account::MerchantWithdrawing(merchant), amount_fen: amount.as_i64() },
        Line { account: Account::PlatformBank, amount_fen: -amount.as_i64() },
    ];
    Posting::new(op, lines, at).expect("two opposite lines balance")
}

/// …or back to available when rejected.
pub fn withdrawal_rejected(op: OpId, merchant: MerchantId, amount: Fen, at: Timestamp) -> Posting {
    let lines = [
        Line { account: Account::MerchantWithdrawing(merchant), amount_fen: amount.as_i64() },
        Line { account: Account::MerchantAvailable(merchant), amount_fen: -amount.as_i64() },
    ];
    Posting::new(op, lines, at).expect("two opposite lines balance")
}

#[cfg(test)]
mod tests;
