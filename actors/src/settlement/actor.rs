//! The settlement actor: sole writer of one merchant's books.
//!
//! It owns the merchant's slice of the double-entry ledger (every posting it made, so a
//! repeated operation id is recognised), the captures of its paid orders, its withdrawals, its
//! KYC flag and its split rule. The engine decides the money (`engine::settlement`); the
//! actor's job is plumbing: take room in the journal before changing anything, journal what
//! was decided, apply it, and reply with the sequence number the caller waits on before it
//! answers. Replies travel on a oneshot channel inside the message, so callers `try_send` (a
//! full mailbox is an answer, not a wait).
//!
//! A payment's capture is prepared here and journaled by the sale's stock actor together with
//! the order's move to `paid`, so that the two are one database transaction. The actor handles
//! nothing else until the sale answers (`ctx.wait`): a transaction reported twice at once must
//! find the first report's posting.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use engine::aftersales::{DecidedRefund, RefundDecision, RefundRequest, Restock};
use engine::books::{Balances, Books, Entry, EntryKind, MoneyEvent, Withdrawal, WithdrawalState};
use engine::ledger::{Channel, Ledger, Posted, Posting};
use engine::op::Op;
use engine::payment::{Capture, PaymentState, Review};
use engine::settlement::{
    self, PaymentSettlement, SplitRule, withdrawal_paid, withdrawal_rejected, withdrawal_requested,
};
use engine::{BeijingDay, ConfirmError, Fen, MerchantId, OrderId, PaymentId, RefundId, WithdrawalId};
use tokio::sync::oneshot;

use super::{PaymentOutcome, PaymentReport, RefundReason, SettleError, SettlementSettings};
use crate::journal::{Journal, JournalEvent, Seq};
use crate::registry::MailboxFull;
use crate::stock::{ConfirmFailure, Confirmed};
use crate::{Clock, OrderIds};

/// A channel's verified word that a payment succeeded: credit it once, or owe it back.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReportPayment {
    pub report: PaymentReport,
    pub reply: oneshot::Sender<Result<PaymentOutcome, SettleError>>,
}

/// A live platform's paid order: record it as ours and credit it, once per platform order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CreditPlatformOrder {
    pub payment: super::PlatformPayment,
    pub reply: oneshot::Sender<Result<PaymentOutcome, SettleError>>,
}

/// A live platform refunded a platform order that was credited as ours (`order_id`).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RefundPlatformOrder {
    pub order_id: OrderId,
    pub door: engine::Door,
    pub platform_order_id: String,
    pub reply: oneshot::Sender<Result<Seq, SettleError>>,
}

/// The channel refunded a payment owed back (and with it `order_refunded`, if any).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RefundPaid {
    pub payment_id: PaymentId,
    pub channel: Channel,
    pub amount: Fen,
    pub order_refunded: Option<OrderId>,
    pub reply: oneshot::Sender<Result<Seq, SettleError>>,
}

/// The merchant approves (`Some` restock) or rejects (`None`, with a reason) a buyer's refund
/// request: approved, the capture is reversed in proportion and the amount owed back.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DecideRefund {
    pub request: RefundRequest,
    pub approve: Option<Restock>,
    pub reason: String,
    pub reply: oneshot::Sender<Result<Seq, SettleError>>,
}

/// The channel paid an approved refund request back to the buyer.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RefundRequestPaid {
    pub request: RefundRequest,
    pub channel: Channel,
    pub reply: oneshot::Sender<Result<Seq, SettleError>>,
}

/// An operator approves or rejects a payment held for review.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DecideReview {
    pub order_id: OrderId,
    pub approve: bool,
    pub reply: oneshot::Sender<Result<Seq, SettleError>>,
}

/// The merchant asks to withdraw from its available balance.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Withdraw {
    pub amount: Fen,
    pub reply: oneshot::Sender<Result<(Withdrawal, Seq), SettleError>>,
}

/// An operator pays out or rejects a requested withdrawal.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DecideWithdrawal {
    pub id: WithdrawalId,
    pub pay: bool,
    pub reason: String,
    pub reply: oneshot::Sender<Result<(Withdrawal, Seq), SettleError>>,
}

/// An operator decides whether the merchant's identity is verified (KYC).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetKyc {
    pub verified: bool,
    pub reply: oneshot::Sender<Result<Seq, SettleError>>,
}

/// An operator sets who shares the merchant's net from now on.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetSplit {
    pub rule: SplitRule,
    pub reply: oneshot::Sender<Result<Seq, SettleError>>,
}

/// The balances and the fold check of the ledger (tests and operators).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Verify {
    pub reply: oneshot::Sender<(Balances, Result<(), String>)>,
}

pub struct SettlementActor {
    merchant_id: MerchantId,
    ledger: Ledger,
    captures: HashMap<OrderId, Capture>,
    withdrawals: HashMap<WithdrawalId, Withdrawal>,
    kyc_verified: bool,
    split: SplitRule,
    /// Refund requests decided so far (approved or rejected), so that a second decision is
    /// refused and what was refunded of each capture is known.
    refunds: HashMap<RefundId, DecidedRefund>,
    journal: Journal,
    clock: Arc<dyn Clock>,
    /// Mints withdrawal ids.
    ids: Arc<OrderIds>,
    settings: Arc<SettlementSettings>,
}

/// A reported payment before its sale has answered.
enum Prepared {
    /// Decided without the sale (seen before, or its order has a capture already).
    Answered(PaymentOutcome),
    /// The sale was asked to mark the order paid and journal this capture with it.
    AskedSale { answer: oneshot::Receiver<Confirmed>, capture: Capture, posting: Posting },
}

impl SettlementActor {
    /// The actor of a merchant from its stored books; refused if they do not add up.
    pub(super) fn from_books(
        merchant_id: MerchantId,
        books: Books,
        journal: Journal,
        clock: Arc<dyn Clock>,
        ids: Arc<OrderIds>,
        settings: Arc<SettlementSettings>,
    ) -> Result<Self, String> {
        let mut ledger = Ledger::new();
        for posting in books.postings {
            if ledger.post(posting) == Posted::Duplicate {
                return Err("a stored operation appears twice".into());
            }
        }
        ledger.verify()?;
        Ok(Self {
            merchant_id,
            ledger,
            captures: books.captures.into_iter().map(|c| (c.order_id, c)).collect(),
            withdrawals: books.withdrawals.into_iter().map(|w| (w.id, w)).collect(),
            kyc_verified: books.kyc_verified,
            split: books.split,
            refunds: books.refunds.into_iter().map(|r| (r.id, r)).collect(),
            journal,
            clock,
            ids,
            settings,
        })
    }

    fn balances(&self) -> Balances {
        Balances::in_ledger(&self.ledger, self.merchant_id)
    }

    fn entry(&self, posting: Posting, order_id: Option<OrderId>, kind: EntryKind) -> Entry {
        Entry { posting, merchant_id: self.merchant_id, order_id, kind }
    }

    /// Journals `events` (room taken first), then applies their postings to the ledger.
    fn commit(&mut self, events: Vec<MoneyEvent>) -> Result<Seq, SettleError> {
        let slot = self.journal.slot().map_err(SettleError::Journal)?;
        let postings: Vec<Posting> = events.iter().filter_map(|e| e.posting().cloned()).collect();
        let seq = slot.append(JournalEvent::Money(events)).map_err(SettleError::Journal)?;
        for posting in postings {
            let posted = self.ledger.post(posting);
            debug_assert_eq!(posted, Posted::Applied);
        }
        Ok(seq)
    }

    /// A reported payment, up to asking its sale to mark the order paid.
    fn prepare_payment(&mut self, report: &PaymentReport) -> Result<Prepared, SettleError> {
        let (channel, txn) = (report.channel, report.transaction_id.clone());
        let pay = Op::Payment { channel, transaction_id: txn.clone() }.id();
        let unmatched = Op::Unmatched { channel, transaction_id: txn.clone() }.id();
        if self.ledger.contains(&pay) || self.ledger.contains(&unmatched) {
            return Ok(Prepared::Answered(PaymentOutcome::Duplicate { seq: self.journal.last_appended() }));
        }
        if self.captures.contains_key(&report.order_id) {
            return self.unmatched(report, RefundReason::Double).map(Prepared::Answered);
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
            transaction_id: txn,
            settlement,
            review: if held { Review::Pending } else { Review::None },
            at: now,
        };
        let entry = self.entry(posting.clone(), Some(report.order_id), EntryKind::Payment);
        let answer = report
            .sale
            .try_confirm_payment(report.order_id, Box::new((capture.clone(), entry)))
            .map_err(|MailboxFull| SettleError::SaleBusy)?;
        Ok(Prepared::AskedSale { answer, capture, posting })
    }

    /// What the sale's answer makes of a prepared capture.
    fn finish_payment(
        &mut self,
        report: &PaymentReport,
        capture: Capture,
        posting: Posting,
        answer: Result<Confirmed, oneshot::error::RecvError>,
    ) -> Result<PaymentOutcome, SettleError> {
        match answer.map_err(|_| SettleError::SaleGone)? {
            Ok((_, seq)) => {
                let held = capture.settlement.held;
                self.ledger.post(posting);
                self.captures.insert(report.order_id, capture);
                Ok(PaymentOutcome::Credited { seq, held })
            }
            Err(ConfirmFailure::Journal(e)) => Err(SettleError::Journal(e)),
            Err(ConfirmFailure::Refused { error: ConfirmError::AlreadyPaid, .. }) => {
                // Every capture of this merchant passes through here, so a paid order
                // without one in memory means the books are wrong: refuse loudly, but refund.
                tracing::error!(order_id = %report.order_id, "order paid without a capture in its merchant's books");
                self.unmatched(report, RefundReason::Double)
            }
            Err(ConfirmFailure::Refused { error, .. }) => {
                tracing::info!(order_id = %report.order_id, %error, "payment does not pay its order; refunding");
                self.unmatched(report, RefundReason::Late)
            }
        }
    }

    /// A payment that pays nothing: owed back to the buyer, never credited.
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

    /// A platform's paid order: its capture on the platform's channel (fee and splits as for
    /// our own orders), the order and the posting journaled as one event. Seen before (its
    /// operation id is in the ledger): nothing new.
    fn credit_platform_order(
        &mut self,
        payment: super::PlatformPayment,
    ) -> Result<PaymentOutcome, SettleError> {
        let channel = payment.door.channel();
        let pay = Op::Payment { channel, transaction_id: payment.platform_order_id.clone() }.id();
        if self.ledger.contains(&pay) {
            return Ok(PaymentOutcome::Duplicate { seq: self.journal.last_appended() });
        }
        let now = self.clock.now();
        let order = payment.order;
        let settlement = PaymentSettlement::compute(
            self.merchant_id,
            channel,
            order.amount_fen,
            self.settings.fee_bps(channel),
            &self.split,
        );
        let posting = settlement.capture(pay, now);
        let held = settlement.held;
        let capture = Capture {
            order_id: order.id,
            // The payment row's id is given by the database in the same transaction.
            payment_id: PaymentId(0),
            transaction_id: payment.platform_order_id.clone(),
            settlement,
            review: if held { Review::Pending } else { Review::None },
            at: now,
        };
        let entry = self.entry(posting, Some(order.id), EntryKind::Payment);
        let paid = engine::payment::PlatformOrderPaid {
            order,
            door: payment.door,
            platform_order_id: payment.platform_order_id,
            capture: capture.clone(),
            entry,
            receiver: payment.receiver,
        };
        let seq = self.commit(vec![MoneyEvent::PlatformOrderPaid(Box::new(paid))])?;
        self.captures.insert(capture.order_id, capture);
        Ok(PaymentOutcome::Credited { seq, held })
    }

    /// A platform's refund of a credited platform order: what is left of its capture reversed
    /// through the platform's clearing (the platform paid the buyer back; nothing is owed), the
    /// order refunded. A capture held for review is refunded from the pending balance and
    /// leaves review as rejected: nothing of it is left to release. Seen before: nothing new.
    fn refund_platform_order(&mut self, msg: &RefundPlatformOrder) -> Result<Seq, SettleError> {
        let channel = msg.door.channel();
        let op = Op::PlatformRefund { channel, platform_order_id: msg.platform_order_id.clone() }.id();
        if self.ledger.contains(&op) {
            return Ok(self.journal.last_appended());
        }
        let capture = self
            .captures
            .get(&msg.order_id)
            .filter(|c| c.transaction_id == msg.platform_order_id && c.settlement.channel == channel)
            .filter(|c| c.review != Review::Rejected)
            .ok_or(SettleError::NothingToRefund)?;
        let now = self.clock.now();
        let before = self.refunded(msg.order_id);
        let left = Fen(capture.settlement.gross_fen.as_i64() - before.as_i64());
        if left.as_i64() <= 0 {
            return Err(SettleError::NothingToRefund);
        }
        let held = capture.review == Review::Pending;
        let posting = capture.settlement.refund(op, before, left, !held, now)?;
        let mut events = vec![MoneyEvent::PlatformOrderRefunded {
            order_id: msg.order_id,
            platform_order_id: msg.platform_order_id.clone(),
            entry: self.entry(posting, Some(msg.order_id), EntryKind::Refund),
        }];
        if held {
            events.push(MoneyEvent::Reviewed { order_id: msg.order_id, review: Review::Rejected, at: now });
        }
        let seq = self.commit(events)?;
        if held && let Some(capture) = self.captures.get_mut(&msg.order_id) {
            capture.review = Review::Rejected;
        }
        metrics::counter!("flashsale_live_orders_refunded_total", "platform" => channel.as_str())
            .increment(1);
        Ok(seq)
    }

    fn refund_paid(&mut self, msg: &RefundPaid) -> Result<Seq, SettleError> {
        let op = Op::Refund { channel: msg.channel, payment_id: msg.payment_id }.id();
        if self.ledger.contains(&op) {
            return Ok(self.journal.last_appended());
        }
        let now = self.clock.now();
        let posting = settlement::refund_paid(op, msg.channel, msg.amount, now);
        let mut events = vec![
            MoneyEvent::Posted(self.entry(posting, msg.order_refunded, EntryKind::Refund)),
            MoneyEvent::Payment {
                payment_id: msg.payment_id,
                state: PaymentState::Refunded,
                transaction_id: None,
                at: now,
            },
        ];
        if let Some(order_id) = msg.order_refunded {
            events.push(MoneyEvent::OrderRefunded { order_id, at: now });
        }
        self.commit(events)
    }

    /// What approved refund requests took back of an order's capture so far.
    fn refunded(&self, order_id: OrderId) -> Fen {
        Fen(self
            .refunds
            .values()
            .filter(|r| r.approved && r.order_id == order_id)
            .map(|r| r.amount_fen.as_i64())
            .sum())
    }

    fn decide_refund(&mut self, msg: &DecideRefund) -> Result<Seq, SettleError> {
        let request = &msg.request;
        assert_eq!(request.merchant_id, self.merchant_id, "a refund reaches its merchant's books");
        if self.refunds.contains_key(&request.id) {
            return Err(SettleError::RefundDecided);
        }
        let now = self.clock.now();
        let decision = RefundDecision {
            refund_id: request.id,
            order_id: request.order_id,
            amount_fen: request.amount_fen,
            units: request.units,
            approved: msg.approve,
            reason: msg.reason.clone(),
            at: now,
        };
        let mut events = Vec::new();
        if msg.approve.is_some() {
            let capture = self
                .captures
                .get(&request.order_id)
                .filter(|c| c.payment_id == request.payment_id && c.review != Review::Rejected)
                .ok_or(SettleError::NothingToRefund)?;
            let settlement = &capture.settlement;
            let before = self.refunded(request.order_id);
            let released = capture.review != Review::Pending;
            let op = Op::RefundApproved(request.id).id();
            let posting = settlement.refund_owed(op, before, request.amount_fen, released, now)?;
            let whole = before.as_i64() + request.amount_fen.as_i64() == settlement.gross_fen.as_i64();
            events.push(MoneyEvent::Posted(self.entry(
                posting,
                Some(request.order_id),
                EntryKind::RefundApproved,
            )));
            events.push(MoneyEvent::RefundDecided(decision));
            if whole {
                events.push(MoneyEvent::OrderRefunded { order_id: request.order_id, at: now });
            }
        } else {
            events.push(MoneyEvent::RefundDecided(decision));
        }
        let seq = self.commit(events)?;
        let decided = DecidedRefund {
            id: request.id,
            order_id: request.order_id,
            amount_fen: request.amount_fen,
            approved: msg.approve.is_some(),
        };
        self.refunds.insert(request.id, decided);
        Ok(seq)
    }

    fn refund_request_paid(&mut self, msg: &RefundRequestPaid) -> Result<Seq, SettleError> {
        let request = &msg.request;
        if !self.refunds.get(&request.id).is_some_and(|r| r.approved) {
            return Err(SettleError::NothingToRefund);
        }
        let op =
            Op::RefundPart { channel: msg.channel, payment_id: request.payment_id, refund_id: request.id }
                .id();
        if self.ledger.contains(&op) {
            return Ok(self.journal.last_appended());
        }
        let now = self.clock.now();
        let posting = settlement::refund_paid(op, msg.channel, request.amount_fen, now);
        self.commit(vec![
            MoneyEvent::Posted(self.entry(posting, Some(request.order_id), EntryKind::Refund)),
            MoneyEvent::RefundRequestPaid { refund_id: request.id, at: now },
        ])
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
            // What was refunded while it was held stays with the buyer.
            let refunded = self.refunded(order_id);
            let posting = capture.settlement.release(op, refunded, now).expect("a held capture releases");
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
        let (merchant, amount) = (self.merchant_id, withdrawal.amount_fen);
        let (posting, kind) = if pay {
            withdrawal.state = WithdrawalState::Paid;
            (withdrawal_paid(Op::WithdrawalPaid(id).id(), merchant, amount, now), EntryKind::WithdrawalPaid)
        } else {
            withdrawal.state = WithdrawalState::Rejected;
            let op = Op::WithdrawalRejected(id).id();
            (withdrawal_rejected(op, merchant, amount, now), EntryKind::WithdrawalRejected)
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

    fn set_kyc(&mut self, verified: bool) -> Result<Seq, SettleError> {
        let at = self.clock.now();
        let seq =
            self.commit(vec![MoneyEvent::KycDecided { merchant_id: self.merchant_id, verified, at }])?;
        self.kyc_verified = verified;
        Ok(seq)
    }

    fn set_split(&mut self, rule: SplitRule) -> Result<Seq, SettleError> {
        let at = self.clock.now();
        let event = MoneyEvent::SplitRuleSet { merchant_id: self.merchant_id, rule: rule.clone(), at };
        let seq = self.commit(vec![event])?;
        self.split = rule;
        Ok(seq)
    }
}

impl Actor for SettlementActor {
    type Context = Context<Self>;
}

impl Handler<ReportPayment> for SettlementActor {
    type Result = ();

    fn handle(&mut self, msg: ReportPayment, ctx: &mut Self::Context) {
        let ReportPayment { report, reply } = msg;
        match self.prepare_payment(&report) {
            Ok(Prepared::AskedSale { answer, capture, posting }) => {
                // Nothing else is handled until the sale answers.
                ctx.wait(answer.into_actor(self).map(move |answer, actor, _| {
                    // The caller may have given up (timeout, disconnect); the outcome stands.
                    let _ = reply.send(actor.finish_payment(&report, capture, posting, answer));
                }));
            }
            Ok(Prepared::Answered(outcome)) => {
                let _ = reply.send(Ok(outcome));
            }
            Err(error) => {
                let _ = reply.send(Err(error));
            }
        }
    }
}

impl Handler<CreditPlatformOrder> for SettlementActor {
    type Result = ();

    fn handle(&mut self, msg: CreditPlatformOrder, _: &mut Self::Context) {
        let _ = msg.reply.send(self.credit_platform_order(msg.payment));
    }
}

impl Handler<RefundPlatformOrder> for SettlementActor {
    type Result = ();

    fn handle(&mut self, msg: RefundPlatformOrder, _: &mut Self::Context) {
        let outcome = self.refund_platform_order(&msg);
        let _ = msg.reply.send(outcome);
    }
}

impl Handler<RefundPaid> for SettlementActor {
    type Result = ();

    fn handle(&mut self, msg: RefundPaid, _: &mut Self::Context) {
        let outcome = self.refund_paid(&msg);
        let _ = msg.reply.send(outcome);
    }
}

impl Handler<DecideRefund> for SettlementActor {
    type Result = ();

    fn handle(&mut self, msg: DecideRefund, _: &mut Self::Context) {
        let outcome = self.decide_refund(&msg);
        let _ = msg.reply.send(outcome);
    }
}

impl Handler<RefundRequestPaid> for SettlementActor {
    type Result = ();

    fn handle(&mut self, msg: RefundRequestPaid, _: &mut Self::Context) {
        let outcome = self.refund_request_paid(&msg);
        let _ = msg.reply.send(outcome);
    }
}

impl Handler<DecideReview> for SettlementActor {
    type Result = ();

    fn handle(&mut self, msg: DecideReview, _: &mut Self::Context) {
        let _ = msg.reply.send(self.review(msg.order_id, msg.approve));
    }
}

impl Handler<Withdraw> for SettlementActor {
    type Result = ();

    fn handle(&mut self, msg: Withdraw, _: &mut Self::Context) {
        let _ = msg.reply.send(self.withdraw(msg.amount));
    }
}

impl Handler<DecideWithdrawal> for SettlementActor {
    type Result = ();

    fn handle(&mut self, msg: DecideWithdrawal, _: &mut Self::Context) {
        let _ = msg.reply.send(self.decide_withdrawal(msg.id, msg.pay, msg.reason));
    }
}

impl Handler<SetKyc> for SettlementActor {
    type Result = ();

    fn handle(&mut self, msg: SetKyc, _: &mut Self::Context) {
        let _ = msg.reply.send(self.set_kyc(msg.verified));
    }
}

impl Handler<SetSplit> for SettlementActor {
    type Result = ();

    fn handle(&mut self, msg: SetSplit, _: &mut Self::Context) {
        let _ = msg.reply.send(self.set_split(msg.rule));
    }
}

impl Handler<Verify> for SettlementActor {
    type Result = ();

    fn handle(&mut self, msg: Verify, _: &mut Self::Context) {
        let _ = msg.reply.send((self.balances(), self.ledger.verify()));
    }
}
