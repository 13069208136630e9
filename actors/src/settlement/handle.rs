//! The address of a merchant's settlement actor: one method per message, each answering a
//! single `Result<_, SettleError>` (a full mailbox or a stopped actor is
//! [`SettleError::Unavailable`]), so that callers can use `?`.

use actix::prelude::*;
use engine::aftersales::{RefundRequest, Restock};
use engine::books::{Balances, Withdrawal};
use engine::ledger::Channel;
use engine::settlement::SplitRule;
use engine::{Fen, OrderId, PaymentId, WithdrawalId};
use tokio::sync::oneshot;

use super::actor::{
    CreditPlatformOrder, DecideRefund, DecideReview, DecideWithdrawal, RefundPaid, RefundPlatformOrder,
    RefundRequestPaid, ReportPayment, SetKyc, SetSplit, SettlementActor, Verify, Withdraw,
};
use super::{PaymentOutcome, PaymentReport, PlatformPayment, SettleError, Unavailable};
use crate::journal::Seq;

/// The address of a merchant's settlement actor. Cheap to clone.
#[derive(Clone)]
pub struct SettlementHandle {
    addr: Addr<SettlementActor>,
}

impl SettlementHandle {
    pub(super) fn new(addr: Addr<SettlementActor>) -> Self {
        Self { addr }
    }

    /// Hands the actor a message without waiting for room, then waits for its reply.
    async fn ask<T, M>(&self, make: impl FnOnce(oneshot::Sender<T>) -> M) -> Result<T, Unavailable>
    where
        M: Message<Result = ()> + Send + 'static,
        SettlementActor: Handler<M>,
    {
        let (reply, answer) = oneshot::channel();
        self.addr.try_send(make(reply)).map_err(|e| match e {
            SendError::Full(_) => Unavailable::Busy,
            SendError::Closed(_) => Unavailable::Stopped,
        })?;
        answer.await.map_err(|_| Unavailable::Stopped)
    }

    /// Credits a verified payment once, or records it as owed back to its buyer.
    pub async fn payment(&self, report: PaymentReport) -> Result<PaymentOutcome, SettleError> {
        self.ask(|reply| ReportPayment { report, reply }).await?
    }

    /// Records a live platform's paid order as ours and credits it, once per platform order.
    pub async fn platform_order(&self, payment: PlatformPayment) -> Result<PaymentOutcome, SettleError> {
        self.ask(|reply| CreditPlatformOrder { payment, reply }).await?
    }

    /// Reverses a credited platform order the platform refunded, once per platform order.
    /// [`SettleError::NothingToRefund`] when nothing of it is credited.
    pub async fn platform_refund(
        &self,
        order_id: OrderId,
        door: engine::Door,
        platform_order_id: String,
    ) -> Result<Seq, SettleError> {
        self.ask(|reply| RefundPlatformOrder { order_id, door, platform_order_id, reply }).await?
    }

    /// Posts a refund the channel confirmed.
    pub async fn refund_paid(
        &self,
        payment_id: PaymentId,
        channel: Channel,
        amount: Fen,
        order_refunded: Option<OrderId>,
    ) -> Result<Seq, SettleError> {
        self.ask(|reply| RefundPaid { payment_id, channel, amount, order_refunded, reply }).await?
    }

    /// Approves (`Some` restock) or rejects (`None`) a buyer's refund request.
    pub async fn decide_refund(
        &self,
        request: RefundRequest,
        approve: Option<Restock>,
        reason: String,
    ) -> Result<Seq, SettleError> {
        self.ask(|reply| DecideRefund { request, approve, reason, reply }).await?
    }

    /// Posts the channel's confirmation of an approved refund request.
    pub async fn refund_request_paid(
        &self,
        request: RefundRequest,
        channel: Channel,
    ) -> Result<Seq, SettleError> {
        self.ask(|reply| RefundRequestPaid { request, channel, reply }).await?
    }

    /// Approves or rejects a payment held for review.
    pub async fn review(&self, order_id: OrderId, approve: bool) -> Result<Seq, SettleError> {
        self.ask(|reply| DecideReview { order_id, approve, reply }).await?
    }

    pub async fn withdraw(&self, amount: Fen) -> Result<(Withdrawal, Seq), SettleError> {
        self.ask(|reply| Withdraw { amount, reply }).await?
    }

    pub async fn decide_withdrawal(
        &self,
        id: WithdrawalId,
        pay: bool,
        reason: String,
    ) -> Result<(Withdrawal, Seq), SettleError> {
        self.ask(|reply| DecideWithdrawal { id, pay, reason, reply }).await?
    }

    /// Records an operator's KYC decision; the answer is the journal position to wait for.
    pub async fn set_kyc(&self, verified: bool) -> Result<Seq, SettleError> {
        self.ask(|reply| SetKyc { verified, reply }).await?
    }

    /// Replaces the split rule; the answer is the journal position to wait for.
    pub async fn set_split(&self, rule: SplitRule) -> Result<Seq, SettleError> {
        self.ask(|reply| SetSplit { rule, reply }).await?
    }

    /// The actor's balances and the fold check of its ledger.
    pub async fn verify(&self) -> Result<(Balances, Result<(), String>), SettleError> {
        Ok(self.ask(|reply| Verify { reply }).await?)
    }
}
