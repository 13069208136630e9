//! What people decide about a merchant's money: a merchant's withdrawal request, and the
//! operators' AML review, withdrawal decisions, KYC and split rules. Each goes through the
//! merchant's settlement actor, the only writer of its books, and returns once it is durable.

use actors::SettleError;
use engine::books::Withdrawal;
use engine::ledger::PartnerId;
use engine::payment::Capture;
use engine::settlement::{SplitError, SplitRule};
use engine::{Fen, MerchantId, OrderId, WithdrawalId};
use persistence::DbErr;
use persistence::money as repo;

use super::{Payments, ReportError};

/// Why a decision about a merchant's money was not made.
#[derive(Debug, thiserror::Error)]
pub enum BooksError {
    #[error("no payment of this order awaits review")]
    ReviewNotFound,
    #[error("no such withdrawal")]
    WithdrawalNotFound,
    #[error("no such merchant")]
    MerchantNotFound,
    #[error("no partner {0}")]
    UnknownPartner(i64),
    #[error(transparent)]
    InvalidSplit(SplitError),
    /// The settlement actor refused (a rule of the books) or could not take the request.
    #[error("{0}")]
    Settle(#[from] SettleError),
    /// The settlement actor could not be reached or the result was not durable in time.
    #[error("{0}")]
    Unreachable(#[from] ReportError),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

impl Payments {
    /// A merchant asks for `amount` of its available balance to be paid out.
    pub async fn withdraw(&self, merchant: MerchantId, amount: Fen) -> Result<Withdrawal, BooksError> {
        let (withdrawal, seq) = self.settlement_of(merchant).await?.withdraw(amount).await?;
        self.wait_durable(seq).await?;
        Ok(withdrawal)
    }

    /// An operator approves or rejects the payment of `order` held for AML review; a rejected
    /// one is refunded (the refund worker is woken). The capture that was reviewed.
    pub async fn decide_review(&self, order: OrderId, approved: bool) -> Result<Capture, BooksError> {
        let capture = repo::capture_of_order(&self.db, order).await?.ok_or(BooksError::ReviewNotFound)?;
        let books = self.settlement_of(capture.settlement.merchant_id).await?;
        let seq = books.review(order, approved).await?;
        self.wait_durable(seq).await?;
        if !approved {
            self.refund_owed();
        }
        Ok(capture)
    }

    /// An operator marks a pending withdrawal paid (`pay`) or rejects it with `reason`: the
    /// withdrawal as asked for, and as decided.
    pub async fn decide_withdrawal(
        &self,
        id: WithdrawalId,
        pay: bool,
        reason: String,
    ) -> Result<(Withdrawal, Withdrawal), BooksError> {
        let asked = repo::withdrawal_by_id(&self.db, id).await?.ok_or(BooksError::WithdrawalNotFound)?;
        let books = self.settlement_of(asked.merchant_id).await?;
        let (decided, seq) = books.decide_withdrawal(id, pay, reason).await?;
        self.wait_durable(seq).await?;
        Ok((asked, decided))
    }

    /// An operator records whether the merchant's identity is verified.
    pub async fn set_kyc(&self, merchant: MerchantId, verified: bool) -> Result<(), BooksError> {
        if !repo::merchant_exists(&self.db, merchant).await? {
            return Err(BooksError::MerchantNotFound);
        }
        let seq = self.settlement_of(merchant).await?.set_kyc(verified).await?;
        Ok(self.wait_durable(seq).await?)
    }

    /// An operator sets who shares the merchant's net from now on, in basis points each.
    pub async fn set_split(
        &self,
        merchant: MerchantId,
        shares: &[(PartnerId, u32)],
    ) -> Result<(), BooksError> {
        if !repo::merchant_exists(&self.db, merchant).await? {
            return Err(BooksError::MerchantNotFound);
        }
        for (partner, _) in shares {
            if !repo::partner_exists(&self.db, *partner).await? {
                return Err(BooksError::UnknownPartner(partner.0));
            }
        }
        let rule = SplitRule::new(shares.to_vec()).map_err(BooksError::InvalidSplit)?;
        let seq = self.settlement_of(merchant).await?.set_split(rule).await?;
        Ok(self.wait_durable(seq).await?)
    }
}
