//! The settlement actor: one per merchant, the only writer of that merchant's books.
//!
//! It owns the merchant's slice of the double-entry ledger (every posting it made, so a
//! repeated operation id is recognised), the captures of its paid orders and its
//! withdrawals. Commands are handled one at a time, in mailbox order; a payment's capture is
//! prepared here and journaled by the sale's stock actor together with the order's move to
//! `paid`, so that the two are one database transaction. Everything else it decides it journals
//! itself. Callers wait for the returned sequence number to be durable before they answer.
//!
//! The actor is a task on the registry's dedicated thread with a bounded mailbox: a full one
//! is an answer (`MailboxFull`), not a wait.

use std::collections::HashMap;
use std::sync::Arc;

use actix::{Arbiter, ArbiterHandle};
use dashmap::DashMap;
use engine::books::{Balances, Books, Entry, EntryKind, MoneyEvent, Withdrawal, WithdrawalState};
use engine::ledger::{Channel, Ledger, Posted, Posting};
use engine::op::Op;
use engine::payment::{Capture, PaymentState, Review};
use engine::settlement::{
    self, PaymentSettlement, SplitRule, WithdrawalError, WithdrawalPolicy, withdrawal_paid,
    withdrawal_rejected, withdrawal_requested,
};
use engine::{BeijingDay, ConfirmError, Fen, MerchantId, OrderId, PaymentId, WithdrawalId};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::journal::{AppendError, Journal, JournalEvent, Seq};
use crate::registry::MailboxFull;
use crate::stock::ConfirmFailure;
use crate::{Clock, OrderIds, SaleHandle};

/// Tuning and rules shared by every settlement actor.
#[derive(Debug, Clone)]
pub struct SettlementSettings {
    pub mailbox_capacity: usize,
    pub fee_bps_wechat: u32,
    pub fee_bps_alipay: u32,
    pub withdrawals: WithdrawalPolicy,
}

impl SettlementSettings {
    fn fee_bps(&self, channel: Channel) -> u32 {
        match channel {
            Channel::Wechat => self.fee_bps_wechat,
            Channel::Alipay => self.fee_bps_alipay,
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

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettleError {
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
}

enum Command {
    Payment(PaymentReport, oneshot::Sender<Result<PaymentOutcome, SettleError>>),
    RefundPaid {
        payment_id: PaymentId,
        channel: Channel,
        amount: Fen,
        order_refunded: Option<OrderId>,
        reply: oneshot::Sender<Result<Seq, SettleError>>,
    },
    Review {
        order_id: OrderId,
        approve: bool,
        reply: oneshot::Sender<Result<Seq, SettleError>>,
    },
    Withdraw {
        amount: Fen,
        reply: oneshot::Sender<Result<(Withdrawal, Seq), SettleError>>,
    },
    DecideWithdrawal {
        id: WithdrawalId,
        pay: bool,
        reason: String,
        reply: oneshot::Sender<Result<(Withdrawal, Seq), SettleError>>,
    },
    SetKyc(bool, oneshot::Sender<()>),
    SetSplit(SplitRule, oneshot::Sender<()>),
    Verify(oneshot::Sender<(Balances, Result<(), String>)>),
}

struct SettlementActor {
    merchant_id: MerchantId,
    ledger: Ledger,
    captures: HashMap<OrderId, Capture>,
    withdrawals: HashMap<WithdrawalId, Withdrawal>,
    kyc_verified: bool,
    split: SplitRule,
    journal: Journal,
    clock: Arc<dyn Clock>,
    ids: Arc<OrderIds>,
    settings: Arc<SettlementSettings>,
}

impl SettlementActor {
    fn balances(&self) -> Balances {
        Balances::in_ledger(&self.ledger, self.merchant_id)
    }

    fn entry(&self, posting: Posting, order_id: Option<OrderId>, kind: EntryKind) -> Entry {
        Entry { posting, merchant_id: self.merchant_id, order_id, kind }
    }

    /// Journals `events` (room taken first), then applies their postings to the ledger.
    fn commit(&mut self, events: Vec<MoneyEvent>) -> Result<Seq, SettleError> {
        let slot = self.journal.slot().map_err(SettleError::Journal)?;
        let postings: Vec<Posting> = events
            .iter()
            .filter_map(|e| match e {
                MoneyEvent::Posted(entry) => Some(entry.posting.clone()),
                _ => None,
            })
            .collect();
        let seq = slot.append(JournalEvent::Money(events)).map_err(SettleError::Journal)?;
        for posting in postings {
            let posted = self.ledger.post(posting);
            debug_assert_eq!(posted, Posted::Applied);
        }
        Ok(seq)
    }

    async fn payment(&mut self, report: PaymentReport) -> Result<PaymentOutcome, SettleError> {
        let (channel, txn) = (report.channel, report.transaction_id.as_str());
        let pay = Op::Payment { channel, transaction_id: txn.to_owned() }.id();
        let unmatched = Op::Unmatched { channel, transaction_id: txn.to_owned() }.id();
        if self.ledger.contains(&pay) || self.ledger.contains(&unmatched) {
            return Ok(PaymentOutcome::Duplicate { seq: self.journal.last_appended() });
        }
        if self.captures.contains_key(&report.order_id) {
            return self.unmatched(&report, RefundReason::Double);
        }
        let now = self.clock.now();
        let settlement = PaymentSettlement::compute(
            self.merchant_id,
            channel,
            report.amount_fen,
            self.settings.fee_bps(channel),
            &self.split,
        );
        let posting = settlement.capture(pay, now);
        let held = settlement.held;
        let capture = Capture {
            order_id: report.order_id,
            payment_id: report.payment_id,
            transaction_id: txn.to_owned(),
            settlement,
            review: if held { Review::Pending } else { Review::None },
            at: now,
        };
        let entry = self.entry(posting.clone(), Some(report.order_id), EntryKind::Payment);
        let answer = report
            .sale
            .try_confirm_payment(report.order_id, Box::new((capture.clone(), entry)))
            .map_err(|MailboxFull| SettleError::SaleBusy)?;
        match answer.await.map_err(|_| SettleError::SaleGone)? {
            Ok((_, seq)) => {
                self.ledger.post(posting);
                self.captures.insert(report.order_id, capture);
                Ok(PaymentOutcome::Credited { seq, held })
            }
            Err(ConfirmFailure::Journal(e)) => Err(SettleError::Journal(e)),
            Err(ConfirmFailure::Refused { error: ConfirmError::AlreadyPaid, .. }) => {
                // Every capture of this merchant passes through here, so a paid order
                // without one in memory means the books are wrong: refuse loudly, but refund.
                tracing::error!(order_id = %report.order_id, "order paid without a capture in its merchant's books");
                self.unmatched(&report, RefundReason::Double)
            }
            Err(ConfirmFailure::Refused { error, .. }) => {
                tracing::info!(order_id = %report.order_id, %error, "payment does not pay its order; refunding");
                self.unmatched(&report, RefundReason::Late)
            }
        }
    }

    fn unmatched(
        &mut self,
        report: &PaymentReport,
        reason: RefundReason,
    ) -> Result<PaymentOutcome, SettleError> {
        let now = self.clock.now();
        let op = Op::Unmatched { channel: report.channel, transaction_id: report.transaction_id.clone() };
        let posting = settlement::payment_unmatched(op.id(), report.channel, report.amount_fen, now);
        let events = vec![
            MoneyEvent::Posted(self.entry(posting, Some(report.order_id), EntryKind::Unmatched)),
            MoneyEvent::Payment {
                payment_id: report.payment_id,
                state: PaymentState::RefundPending,
                transaction_id: Some(report.transaction_id.clone()),
                at: now,
            },
        ];
        let seq = self.commit(events)?;
        metrics::counter!("flashsale_payments_refund_owed_total").increment(1);
        Ok(PaymentOutcome::RefundOwed { seq, reason })
    }

    fn refund_paid(
        &mut self,
        payment_id: PaymentId,
        channel: Channel,
        amount: Fen,
        order_refunded: Option<OrderId>,
    ) -> Result<Seq, SettleError> {
        let op = Op::Refund { channel, payment_id }.id();
        if self.ledger.contains(&op) {
            return Ok(self.journal.last_appended());
        }
        let now = self.clock.now();
        let posting = settlement::refund_paid(op, channel, amount, now);
        let mut events = vec![
            MoneyEvent::Posted(self.entry(posting, order_refunded, EntryKind::Refund)),
            MoneyEvent::Payment { payment_id, state: PaymentState::Refunded, transaction_id: None, at: now },
        ];
        if let Some(order_id) = order_refunded {
            events.push(MoneyEvent::OrderRefunded { order_id, at: now });
        }
        self.commit(events)
    }

    fn review(&mut self, order_id: OrderId, approve: bool) -> Result<Seq, SettleError> {
        let capture = self
            .captures
            .get(&order_id)
            .filter(|c| c.review == Review::Pending)
            .ok_or(SettleError::NotUnderReview)?
            .clone();
        let now = self.clock.now();
        let mut events = Vec::new();
        let review = if approve {
            let op = Op::Release(order_id).id();
            let posting =
                capture.settlement.release(op, Fen::ZERO, now).expect("a held capture releases in full");
            events.push(MoneyEvent::Posted(self.entry(posting, Some(order_id), EntryKind::Release)));
            Review::Approved
        } else {
            let posting = capture.settlement.reject_held(Op::Rejection(order_id).id(), now);
            events.push(MoneyEvent::Posted(self.entry(posting, Some(order_id), EntryKind::Rejection)));
            events.push(MoneyEvent::Payment {
                payment_id: capture.payment_id,
                state: PaymentState::RefundPending,
                transaction_id: None,
                at: now,
            });
            Review::Rejected
        };
        events.push(MoneyEvent::Reviewed { order_id, review, at: now });
        let seq = self.commit(events)?;
        self.captures.get_mut(&order_id).expect("looked up above").review = review;
        Ok(seq)
    }

    fn withdraw(&mut self, amount: Fen) -> Result<(Withdrawal, Seq), SettleError> {
        let now = self.clock.now();
        let today = BeijingDay::of(now);
        let withdrawn_today: i64 = self
            .withdrawals
            .values()
            .filter(|w| w.state != WithdrawalState::Rejected && BeijingDay::of(w.created_at) == today)
            .map(|w| w.amount_fen.as_i64())
            .sum();
        self.settings.withdrawals.check(
            self.kyc_verified,
            self.balances().available,
            Fen(withdrawn_today),
            amount,
        )?;
        let id = WithdrawalId(self.ids.next().0);
        let withdrawal = Withdrawal {
            id,
            merchant_id: self.merchant_id,
            amount_fen: amount,
            state: WithdrawalState::Requested,
            reason: String::new(),
            created_at: now,
            updated_at: now,
        };
        let posting = withdrawal_requested(Op::Withdrawal(id).id(), self.merchant_id, amount, now);
        let seq = self.commit(vec![
            MoneyEvent::Posted(self.entry(posting, None, EntryKind::Withdrawal)),
            MoneyEvent::Withdrawal(withdrawal.clone()),
        ])?;
        self.withdrawals.insert(id, withdrawal.clone());
        Ok((withdrawal, seq))
    }

    fn decide_withdrawal(
        &mut self,
        id: WithdrawalId,
        pay: bool,
        reason: String,
    ) -> Result<(Withdrawal, Seq), SettleError> {
        let mut withdrawal = self
            .withdrawals
            .get(&id)
            .filter(|w| w.state == WithdrawalState::Requested)
            .ok_or(SettleError::NoSuchWithdrawal)?
            .clone();
        let now = self.clock.now();
        let (posting, kind) = if pay {
            withdrawal.state = WithdrawalState::Paid;
            let op = Op::WithdrawalPaid(id).id();
            (withdrawal_paid(op, self.merchant_id, withdrawal.amount_fen, now), EntryKind::WithdrawalPaid)
        } else {
            withdrawal.state = WithdrawalState::Rejected;
            let op = Op::WithdrawalRejected(id).id();
            (
                withdrawal_rejected(op, self.merchant_id, withdrawal.amount_fen, now),
                EntryKind::WithdrawalRejected,
            )
        };
        withdrawal.reason = reason;
        withdrawal.updated_at = now;
        let seq = self.commit(vec![
            MoneyEvent::Posted(self.entry(posting, None, kind)),
            MoneyEvent::Withdrawal(withdrawal.clone()),
        ])?;
        self.withdrawals.insert(id, withdrawal.clone());
        Ok((withdrawal, seq))
    }

    async fn run(mut self, mut mailbox: mpsc::Receiver<Command>) {
        while let Some(command) = mailbox.recv().await {
            match command {
                Command::Payment(report, reply) => {
                    let _ = reply.send(self.payment(report).await);
                }
                Command::RefundPaid { payment_id, channel, amount, order_refunded, reply } => {
                    let _ = reply.send(self.refund_paid(payment_id, channel, amount, order_refunded));
                }
                Command::Review { order_id, approve, reply } => {
                    let _ = reply.send(self.review(order_id, approve));
                }
                Command::Withdraw { amount, reply } => {
                    let _ = reply.send(self.withdraw(amount));
                }
                Command::DecideWithdrawal { id, pay, reason, reply } => {
                    let _ = reply.send(self.decide_withdrawal(id, pay, reason));
                }
                Command::SetKyc(verified, reply) => {
                    self.kyc_verified = verified;
                    let _ = reply.send(());
                }
                Command::SetSplit(rule, reply) => {
                    self.split = rule;
                    let _ = reply.send(());
                }
                Command::Verify(reply) => {
                    let _ = reply.send((self.balances(), self.ledger.verify()));
                }
            }
        }
    }
}

/// The address of a merchant's settlement actor. Cheap to clone.
#[derive(Clone)]
pub struct SettlementHandle {
    tx: mpsc::Sender<Command>,
}

/// The actor did not answer: its mailbox is full, or it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error("the merchant's settlement actor is at capacity")]
    Busy,
    #[error("the settlement actor stopped")]
    Stopped,
}

impl SettlementHandle {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Unavailable> {
        let (reply, answer) = oneshot::channel();
        self.tx.try_send(make(reply)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Unavailable::Busy,
            mpsc::error::TrySendError::Closed(_) => Unavailable::Stopped,
        })?;
        answer.await.map_err(|_| Unavailable::Stopped)
    }

    pub async fn payment(
        &self,
        report: PaymentReport,
    ) -> Result<Result<PaymentOutcome, SettleError>, Unavailable> {
        self.ask(|reply| Command::Payment(report, reply)).await
    }

    pub async fn refund_paid(
        &self,
        payment_id: PaymentId,
        channel: Channel,
        amount: Fen,
        order_refunded: Option<OrderId>,
    ) -> Result<Result<Seq, SettleError>, Unavailable> {
        self.ask(|reply| Command::RefundPaid { payment_id, channel, amount, order_refunded, reply }).await
    }

    pub async fn review(
        &self,
        order_id: OrderId,
        approve: bool,
    ) -> Result<Result<Seq, SettleError>, Unavailable> {
        self.ask(|reply| Command::Review { order_id, approve, reply }).await
    }

    pub async fn withdraw(&self, amount: Fen) -> Result<Result<(Withdrawal, Seq), SettleError>, Unavailable> {
        self.ask(|reply| Command::Withdraw { amount, reply }).await
    }

    pub async fn decide_withdrawal(
        &self,
        id: WithdrawalId,
        pay: bool,
        reason: String,
    ) -> Result<Result<(Withdrawal, Seq), SettleError>, Unavailable> {
        self.ask(|reply| Command::DecideWithdrawal { id, pay, reason, reply }).await
    }

    pub async fn set_kyc(&self, verified: bool) -> Result<(), Unavailable> {
        self.ask(|reply| Command::SetKyc(verified, reply)).await
    }

    pub async fn set_split(&self, rule: SplitRule) -> Result<(), Unavailable> {
        self.ask(|reply| Command::SetSplit(rule, reply)).await
    }

    /// The actor's balances and the fold check of its ledger.
    pub async fn verify(&self) -> Result<(Balances, Result<(), String>), Unavailable> {
        self.ask(Command::Verify).await
    }
}

/// Every running settlement actor, by merchant, on one dedicated thread.
pub struct SettlementRegistry {
    actors: DashMap<MerchantId, SettlementHandle>,
    arbiter: Mutex<Option<Arbiter>>,
    handle: ArbiterHandle,
    journal: Journal,
    clock: Arc<dyn Clock>,
    ids: Arc<OrderIds>,
    settings: Arc<SettlementSettings>,
    /// Held while an actor is being started, so that one merchant never gets two.
    pub starting: tokio::sync::Mutex<()>,
}

impl SettlementRegistry {
    /// Starts the thread. `ids` mints withdrawal numbers.
    pub fn new(
        settings: SettlementSettings,
        journal: Journal,
        clock: Arc<dyn Clock>,
        ids: Arc<OrderIds>,
    ) -> Self {
        assert!(settings.mailbox_capacity > 0);
        let arbiter = Arbiter::new();
        let handle = arbiter.handle();
        Self {
            actors: DashMap::new(),
            arbiter: Mutex::new(Some(arbiter)),
            handle,
            journal,
            clock,
            ids,
            settings: Arc::new(settings),
            starting: tokio::sync::Mutex::new(()),
        }
    }

    pub fn get(&self, merchant_id: MerchantId) -> Option<SettlementHandle> {
        self.actors.get(&merchant_id).map(|h| h.clone())
    }

    /// Starts the actor of a merchant from its stored books (or returns the running one).
    /// The books must be read while holding [`SettlementRegistry::starting`].
    pub fn start(&self, merchant_id: MerchantId, books: Books) -> Result<SettlementHandle, String> {
        if let Some(running) = self.get(merchant_id) {
            return Ok(running);
        }
        let mut ledger = Ledger::new();
        for posting in books.postings {
            if ledger.post(posting) == Posted::Duplicate {
                return Err(format!("merchant {merchant_id}: a stored operation appears twice"));
            }
        }
        ledger.verify().map_err(|e| format!("merchant {merchant_id}: {e}"))?;
        let actor = SettlementActor {
            merchant_id,
            ledger,
            captures: books.captures.into_iter().map(|c| (c.order_id, c)).collect(),
            withdrawals: books.withdrawals.into_iter().map(|w| (w.id, w)).collect(),
            kyc_verified: books.kyc_verified,
            split: books.split,
            journal: self.journal.clone(),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            settings: self.settings.clone(),
        };
        let (tx, rx) = mpsc::channel(self.settings.mailbox_capacity);
        if !self.handle.spawn(actor.run(rx)) {
            return Err("the settlement thread has stopped".into());
        }
        let handle = SettlementHandle { tx };
        self.actors.insert(merchant_id, handle.clone());
        Ok(handle)
    }

    pub fn len(&self) -> usize {
        self.actors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actors.is_empty()
    }

    /// Stops every actor (they finish the command in hand) and joins the thread.
    pub fn shutdown(&self) {
        self.actors.clear();
        if let Some(arbiter) = self.arbiter.lock().take() {
            arbiter.stop();
            let _ = arbiter.join();
        }
    }
}

#[cfg(test)]
mod tests;
