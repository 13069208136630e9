//! Settlement actors against real stock actors, a manual clock and a journal the test drains.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use engine::books::{Balances, Books, MoneyEvent};
use engine::ledger::PartnerId;
use engine::settlement::{SplitRule, WithdrawalError, WithdrawalPolicy};
use engine::{
    BuyerId, FlashSaleId, IdempotencyKey, MerchantId, OrderId, OrderState, PaymentId, ProductId, Quantity,
    SaleTerms, Timestamp,
};

use super::*;
use crate::clock::ManualClock;
use crate::journal::{JournalEvent, JournalReceiver, journal};
use crate::{ActorSettings, OrderIds, StockRegistry};

const START: i64 = 1_000_000;
const M: MerchantId = MerchantId(7);
const MCN: PartnerId = PartnerId(3);

struct World {
    stock: StockRegistry,
    books: SettlementRegistry,
    receiver: JournalReceiver,
    clock: Arc<ManualClock>,
    sale: Arc<SaleHandle>,
    merchant: SettlementHandle,
}

async fn world(price_fen: i64) -> World {
    let (journal, receiver) = journal(1_024, true);
    let clock = Arc::new(ManualClock::new(Timestamp(START)));
    let ids = Arc::new(OrderIds::new(Timestamp(START), None));
    let stock = StockRegistry::new(
        ActorSettings {
            arbiters: 1,
            mailbox_capacity: 64,
            expiry_retry: Duration::from_millis(5),
            expiry_batch: 16,
        },
        journal.clone(),
        clock.clone(),
        ids.clone(),
    );
    let terms = SaleTerms {
        id: FlashSaleId(1),
        merchant_id: M,
        product_id: ProductId(1),
        title: "t".into(),
        price_fen: Fen(price_fen),
        quantity: 10,
        per_buyer_limit: 10,
        starts_at: Timestamp(START),
        ends_at: Timestamp(START + 3_600_000),
        payment_window_secs: 60,
    };
    let sale = stock.start(terms, Vec::new()).unwrap();
    let books = SettlementRegistry::new(
        SettlementSettings {
            mailbox_capacity: 64,
            fee_bps_wechat: 20,
            fee_bps_alipay: 60,
            fee_bps_douyin: 500,
            fee_bps_kuaishou: 500,
            withdrawals: WithdrawalPolicy { daily_limit_fen: 1_000_000, minimum_fen: 100 },
        },
        journal,
        clock.clone(),
        ids,
    );
    let split = SplitRule::new(vec![(MCN, 1_000)]).unwrap();
    let merchant = books
        .get_or_start(M, || async { Ok::<_, Infallible>(Books { split, ..Books::default() }) })
        .await
        .unwrap();
    World { stock, books, receiver, clock, sale, merchant }
}

impl World {
    async fn order(&self, buyer: i64) -> OrderId {
        let answer = self
            .sale
            .try_place(BuyerId(buyer), Quantity::parse(1).unwrap(), IdempotencyKey::parse("k").unwrap(), None)
            .unwrap();
        answer.await.unwrap().unwrap().receipt.order_id
    }

    fn report(&self, order_id: OrderId, channel: Channel, txn: &str, amount: i64) -> PaymentReport {
        PaymentReport {
            payment_id: PaymentId(order_id.0 * 10 + channel as i64),
            order_id,
            channel,
            transaction_id: txn.into(),
            amount_fen: Fen(amount),
            sale: self.sale.clone(),
        }
    }

    async fn pay(&self, report: PaymentReport) -> PaymentOutcome {
        self.merchant.payment(report).await.unwrap()
    }

    fn drain(&mut self) -> Vec<JournalEvent> {
        let mut batch = Vec::new();
        self.receiver.drain_ready(&mut batch, usize::MAX);
        if let Some((last, _)) = batch.last() {
            self.receiver.mark_durable(*last);
        }
        batch.into_iter().map(|(_, e)| e).collect()
    }

    async fn balances(&self) -> Balances {
        let (balances, verified) = self.merchant.verify().await.unwrap();
        assert_eq!(verified, Ok(()));
        balances
    }

    fn stop(&self) {
        self.books.shutdown();
        self.stock.shutdown();
    }
}

#[actix::test]
async fn a_payment_is_credited_once_with_its_order_in_one_event() {
    let mut w = world(10_000).await;
    let order = w.order(1).await;
    w.drain();
    let outcome = w.pay(w.report(order, Channel::Wechat, "T1", 10_000)).await;
    assert!(matches!(outcome, PaymentOutcome::Credited { held: false, .. }), "{outcome:?}");
    // fee 20; net 9,980; MCN 998; merchant 8,982
    assert_eq!(w.balances().await.available, Fen(8_982));
    let events = w.drain();
    assert_eq!(events.len(), 1);
    let JournalEvent::OrderPaid(paid) = &events[0] else { panic!("{events:?}") };
    assert_eq!((paid.change.to, paid.capture.transaction_id.as_str()), (OrderState::Paid, "T1"));

    for _ in 0..3 {
        let again = w.pay(w.report(order, Channel::Wechat, "T1", 10_000)).await;
        assert!(matches!(again, PaymentOutcome::Duplicate { .. }), "{again:?}");
    }
    assert!(w.drain().is_empty(), "a duplicate journals nothing");
    assert_eq!(w.balances().await.available, Fen(8_982));
    assert_eq!(w.sale.gauge.counts().sold, 1);
    w.stop();
}

#[actix::test]
async fn a_second_payment_or_a_late_one_is_owed_back_never_credited() {
    let mut w = world(500).await;
    let order = w.order(1).await;
    let late_order = w.order(2).await;
    w.pay(w.report(order, Channel::Wechat, "W1", 500)).await;
    let double = w.pay(w.report(order, Channel::Alipay, "A1", 500)).await;
    assert!(matches!(double, PaymentOutcome::RefundOwed { reason: RefundReason::Double, .. }), "{double:?}");
    let again = w.pay(w.report(order, Channel::Alipay, "A1", 500)).await;
    assert!(matches!(again, PaymentOutcome::Duplicate { .. }), "{again:?}");

    w.clock.advance_millis(60_000);
    let late = w.pay(w.report(late_order, Channel::Alipay, "A2", 500)).await;
    assert!(matches!(late, PaymentOutcome::RefundOwed { reason: RefundReason::Late, .. }), "{late:?}");
    let counts = w.sale.gauge.counts();
    assert_eq!((counts.available, counts.reserved, counts.sold), (9, 0, 1));
    // 500 at 0.2% = 1 fen fee; net 499; MCN 49; merchant 450. Nothing of the other two.
    assert_eq!(w.balances().await.available, Fen(450));

    let paid = w.merchant.refund_paid(PaymentId(order.0 * 10 + 1), Channel::Alipay, Fen(500), None).await;
    assert!(paid.is_ok());
    w.drain();
    let stored: Vec<_> = w.drain();
    assert!(stored.is_empty());
    assert_eq!(w.balances().await.available, Fen(450));
    w.stop();
}

#[actix::test]
async fn a_large_payment_waits_for_review() {
    let w = world(6_000_000).await;
    let order = w.order(1).await;
    let outcome = w.pay(w.report(order, Channel::Wechat, "BIG", 6_000_000)).await;
    assert!(matches!(outcome, PaymentOutcome::Credited { held: true, .. }), "{outcome:?}");
    let b = w.balances().await;
    assert_eq!((b.available, b.pending), (Fen(0), Fen(6_000_000 - 12_000)));
    w.merchant.review(order, true).await.unwrap();
    assert_eq!(w.merchant.review(order, true).await, Err(SettleError::NotUnderReview));
    let b = w.balances().await;
    // net 5,988,000; MCN 598,800; merchant 5,389,200
    assert_eq!((b.available, b.pending), (Fen(5_389_200), Fen(0)));
    w.stop();
}

#[actix::test]
async fn withdrawals_need_kyc_and_hold_funds_in_flight() {
    let w = world(10_000).await;
    let order = w.order(1).await;
    w.pay(w.report(order, Channel::Wechat, "T1", 10_000)).await;
    let refused = w.merchant.withdraw(Fen(1_000)).await;
    assert_eq!(refused.unwrap_err(), SettleError::Withdrawal(WithdrawalError::KycRequired));
    w.merchant.set_kyc(true).await.unwrap();
    let (first, _) = w.merchant.withdraw(Fen(5_000)).await.unwrap();
    let (second, _) = w.merchant.withdraw(Fen(3_000)).await.unwrap();
    let b = w.balances().await;
    assert_eq!((b.available, b.withdrawing), (Fen(982), Fen(8_000)));
    let too_much = w.merchant.withdraw(Fen(983)).await;
    assert!(matches!(too_much, Err(SettleError::Withdrawal(WithdrawalError::InsufficientFunds { .. }))));
    w.merchant.decide_withdrawal(first.id, true, String::new()).await.unwrap();
    w.merchant.decide_withdrawal(second.id, false, "bank account closed".into()).await.unwrap();
    let again = w.merchant.decide_withdrawal(first.id, false, String::new()).await;
    assert_eq!(again.unwrap_err(), SettleError::NoSuchWithdrawal);
    let b = w.balances().await;
    assert_eq!((b.available, b.withdrawing), (Fen(3_982), Fen(0)));
    w.stop();
}

#[actix::test]
async fn kyc_and_split_decisions_are_journaled_and_then_apply() {
    let mut w = world(10_000).await;
    let order = w.order(1).await;
    w.drain();
    let seq = w.merchant.set_kyc(true).await.unwrap();
    let rule = SplitRule::new(vec![(MCN, 2_000)]).unwrap();
    let later = w.merchant.set_split(rule.clone()).await.unwrap();
    assert!(later > seq);
    let events = w.drain();
    let [JournalEvent::Money(kyc), JournalEvent::Money(split)] = &events[..] else { panic!("{events:?}") };
    assert!(matches!(kyc[..], [MoneyEvent::KycDecided { merchant_id: M, verified: true, .. }]), "{kyc:?}");
    assert!(
        matches!(&split[..], [MoneyEvent::SplitRuleSet { merchant_id: M, rule: r, .. }] if *r == rule),
        "{split:?}"
    );
    // fee 20; net 9,980; MCN 1,996 at the new rule; merchant 7,984. KYC lets it withdraw.
    w.pay(w.report(order, Channel::Wechat, "T1", 10_000)).await;
    assert_eq!(w.balances().await.available, Fen(7_984));
    w.merchant.withdraw(Fen(1_000)).await.unwrap();
    w.stop();
}

#[actix::test]
async fn concurrent_first_uses_start_one_actor_from_one_load() {
    let w = world(10_000).await;
    let loads = AtomicUsize::new(0);
    let other = MerchantId(8);
    let start = || {
        w.books.get_or_start(other, || async {
            loads.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok::<_, Infallible>(Books::default())
        })
    };
    let (a, b, c, d) = tokio::join!(start(), start(), start(), start());
    let handles = [a, b, c, d];
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert!(handles.iter().all(Result::is_ok));
    assert_eq!(w.books.len(), 2);
    // A failed load starts nothing, and the next use tries again.
    let third = MerchantId(9);
    let failed = w.books.get_or_start(third, || async { Err::<Books, _>("database down") }).await;
    assert!(matches!(failed, Err(StartError::Load("database down"))));
    assert!(w.books.get(third).is_none());
    w.books.get_or_start(third, || async { Ok::<_, Infallible>(Books::default()) }).await.unwrap();
    assert_eq!(w.books.len(), 3);
    w.stop();
}
