//! The stock actor with a manual clock and a journal drained by the test itself.

use std::sync::Arc;
use std::time::Duration;

use engine::{
    ConfirmError, Fen, FlashSaleId, MerchantId, OrderState, PaymentId, ProductId, SaleTerms, Timestamp,
};

use super::*;
use crate::clock::ManualClock;
use crate::journal::{JournalReceiver, journal};
use crate::{ActorSettings, StockRegistry};

const START: i64 = 1_000_000;

fn terms(quantity: u32, per_buyer_limit: u32) -> SaleTerms {
    SaleTerms {
        id: FlashSaleId(1),
        merchant_id: MerchantId(1),
        product_id: ProductId(1),
        title: "t".into(),
        price_fen: Fen(100),
        quantity,
        per_buyer_limit,
        starts_at: Timestamp(START),
        ends_at: Timestamp(START + 3_600_000),
        payment_window_secs: 2,
    }
}

/// A capture as a settlement actor would prepare it.
fn capture(order_id: OrderId) -> Box<(Capture, Entry)> {
    use engine::books::EntryKind;
    use engine::ledger::Channel;
    use engine::op::Op;
    use engine::payment::Review;
    use engine::settlement::{PaymentSettlement, SplitRule};
    let settlement =
        PaymentSettlement::compute(MerchantId(1), Channel::Wechat, Fen(200), 20, &SplitRule::merchant_only());
    let op = Op::Payment { channel: Channel::Wechat, transaction_id: order_id.0.to_string() }.id();
    let entry = Entry {
        posting: settlement.capture(op, Timestamp(START)),
        merchant_id: MerchantId(1),
        order_id: Some(order_id),
        kind: EntryKind::Payment,
    };
    let capture = Capture {
        order_id,
        payment_id: PaymentId(1),
        transaction_id: format!("t{}", order_id.0),
        settlement,
        review: Review::None,
        at: Timestamp(START),
    };
    Box::new((capture, entry))
}

fn settings() -> ActorSettings {
    ActorSettings {
        arbiters: 1,
        mailbox_capacity: 64,
        expiry_retry: Duration::from_millis(5),
        expiry_batch: 16,
    }
}

fn registry(capacity: usize) -> (StockRegistry, JournalReceiver, Arc<ManualClock>) {
    let (journal, receiver) = journal(capacity, true);
    let clock = Arc::new(ManualClock::new(Timestamp(START)));
    let ids = Arc::new(OrderIds::new(Timestamp(START), None));
    (StockRegistry::new(settings(), journal, clock.clone(), ids), receiver, clock)
}

fn request(buyer: i64, quantity: i64, key: &str) -> PlaceRequest {
    PlaceRequest {
        buyer_id: BuyerId(buyer),
        quantity: Quantity::parse(quantity).unwrap(),
        idempotency_key: IdempotencyKey::parse(key).unwrap(),
        client_network: None,
    }
}

async fn drain(receiver: &mut JournalReceiver) -> Vec<JournalEvent> {
    let mut batch = Vec::new();
    receiver.drain_ready(&mut batch, usize::MAX);
    if let Some((last, _)) = batch.last() {
        receiver.mark_durable(*last);
    }
    batch.into_iter().map(|(_, e)| e).collect()
}

#[actix::test]
async fn a_batch_is_one_journal_event_and_answers_in_order() {
    let (registry, mut receiver, _clock) = registry(16);
    let sale = registry.start(terms(3, 2), Vec::new()).unwrap();
    let answers = sale
        .try_place_batch(vec![
            request(1, 2, "a"),
            request(2, 1, "b"),
            request(1, 2, "a"), // replay inside the same batch
            request(3, 1, "c"), // nothing left
            request(2, 2, "d"), // over the limit
        ])
        .unwrap()
        .await
        .unwrap();
    assert!(matches!(answers[0], Ok(Placed { replayed: false, .. })));
    assert!(matches!(answers[1], Ok(Placed { replayed: false, .. })));
    let (first, replay) = (answers[0].unwrap(), answers[2].unwrap());
    assert!(replay.replayed);
    assert_eq!(replay.receipt, first.receipt);
    assert_eq!(answers[3], Err(PlaceError::Refused(ReserveError::SoldOut)));
    assert_eq!(answers[4], Err(PlaceError::Refused(ReserveError::LimitExceeded { remaining: 1 })));

    let events = drain(&mut receiver).await;
    assert_eq!(events.len(), 1);
    let JournalEvent::OrdersPlaced(orders) = &events[0] else { panic!("{events:?}") };
    assert_eq!(orders.len(), 2);
    assert!(sale.gauge.is_sold_out());
    let (counts, verified) = sale.verify().await.unwrap();
    assert_eq!((counts.available, counts.reserved, verified), (0, 3, Ok(())));
    registry.shutdown();
}

/// Polls `done` every 5 ms, up to 2 s (a bound for a stuck actor, not a timing assertion).
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..400 {
        if done() {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{what}");
}

#[actix::test]
async fn holds_expire_at_their_deadline_from_one_timer_and_are_journaled() {
    let (registry, mut receiver, clock) = registry(16);
    let sale = registry.start(terms(5, 5), Vec::new()).unwrap();
    assert_eq!(registry.armed_timers(), 0, "nothing held, no timer");
    let placed = sale
        .try_place(BuyerId(1), Quantity::parse(3).unwrap(), IdempotencyKey::parse("k").unwrap(), None)
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    sale.try_place(BuyerId(2), Quantity::parse(1).unwrap(), IdempotencyKey::parse("k").unwrap(), None)
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(registry.armed_timers(), 1, "one timer for every hold of the sale");
    // The manual clock passes the deadline; the timer is set in real time, so look now.
    clock.advance_millis(2_000);
    sale.tick().unwrap();
    eventually("holds did not expire", || sale.gauge.counts().available == 5).await;
    eventually("the timer outlived the holds", || registry.armed_timers() == 0).await;
    let events = drain(&mut receiver).await;
    assert_eq!(events.len(), 3, "{events:?}");
    let JournalEvent::OrdersChanged(changes) = &events[2] else { panic!("{events:?}") };
    assert_eq!(changes.len(), 2);
    assert_eq!((changes[0].order_id, changes[0].to), (placed.receipt.order_id, OrderState::Expired));
    registry.shutdown();
}

#[actix::test]
async fn the_timer_fires_at_the_deadline_in_real_time() {
    let system_clock: Arc<dyn crate::Clock> = Arc::new(crate::SystemClock);
    let (journal, _receiver) = journal(16, true);
    let ids = Arc::new(OrderIds::new(Timestamp(START), None));
    let registry = StockRegistry::new(settings(), journal, system_clock.clone(), ids);
    let now = system_clock.now().as_millis();
    let sale = registry
        .start(
            SaleTerms {
                starts_at: Timestamp(now - 1_000),
                ends_at: Timestamp(now + 3_600_000),
                payment_window_secs: 1,
                ..terms(5, 5)
            },
            Vec::new(),
        )
        .unwrap();
    sale.try_place(BuyerId(1), Quantity::parse(2).unwrap(), IdempotencyKey::parse("k").unwrap(), None)
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sale.gauge.counts().reserved, 2);
    // No tick: the timer alone brings the units back, one second later.
    eventually("the timer did not fire", || sale.gauge.counts().available == 5).await;
    assert_eq!(registry.armed_timers(), 0);
    registry.shutdown();
}

#[actix::test]
async fn a_settled_sale_leaves_once_durable_answers_late_messages_and_stops() {
    let (registry, mut receiver, clock) = registry(16);
    let sale = registry.start(terms(5, 5), Vec::new()).unwrap();
    let order = |buyer: i64| {
        sale.try_place(BuyerId(buyer), Quantity::parse(1).unwrap(), IdempotencyKey::parse("k").unwrap(), None)
            .unwrap()
    };
    let paid = order(1).await.unwrap().unwrap().receipt.order_id;
    let unpaid = order(2).await.unwrap().unwrap().receipt.order_id;
    sale.try_confirm_payment(paid, capture(paid)).unwrap().await.unwrap().unwrap();
    assert_eq!(registry.running_actors(), 1);

    // The sale ends; the hold runs out after it.
    clock.advance_millis(3_600_000);
    assert_eq!(registry.tick_ended(), 1);
    eventually("the hold did not expire", || sale.gauge.counts().reserved == 0).await;
    // Settled, but not yet durable: still registered.
    actix_rt::time::sleep(Duration::from_millis(20)).await;
    assert!(registry.get(FlashSaleId(1)).is_some(), "left before its events were durable");
    drain(&mut receiver).await;
    eventually("the settled sale stayed registered", || registry.get(FlashSaleId(1)).is_none()).await;
    assert_eq!((registry.len(), registry.armed_timers()), (0, 0));

    // A payment that arrives late through a handle taken before is still answered.
    let late = sale.try_confirm_payment(unpaid, capture(unpaid)).unwrap().await.unwrap();
    assert!(
        matches!(late, Err(ConfirmFailure::Refused { error: ConfirmError::UnknownOrder, .. })),
        "{late:?}"
    );
    assert_eq!(registry.running_actors(), 1, "alive while a handle exists");
    drop(sale);
    eventually("the actor did not stop", || registry.running_actors() == 0).await;

    // Started again on demand from what is stored, it leaves again at once.
    let stored = vec![];
    let again = registry.start(terms(5, 5), stored).unwrap();
    assert_eq!(registry.running_actors(), 1);
    drop(again);
    drain(&mut receiver).await;
    eventually("the restarted settled sale stayed", || registry.running_actors() == 0 && registry.is_empty())
        .await;
    registry.shutdown();
}

#[actix::test]
async fn unpaid_orders_are_capped_per_buyer_across_sales_under_concurrency() {
    let (registry, mut receiver, clock) = registry(1_024);
    let registry = registry.with_hold_caps(crate::HoldCaps { per_buyer: 3, per_network: 0 });
    let sales: Vec<_> = (1..=10)
        .map(|id| registry.start(SaleTerms { id: FlashSaleId(id), ..terms(100, 100) }, Vec::new()).unwrap())
        .collect();
    // 100 orders of one buyer, all sent before any is answered, spread over ten sales.
    let answers: Vec<_> = (0..100)
        .map(|n| {
            let key = IdempotencyKey::parse(&format!("k{n}")).unwrap();
            sales[n % 10].try_place(BuyerId(1), Quantity::parse(1).unwrap(), key, None).unwrap()
        })
        .collect();
    let mut placed = Vec::new();
    let mut refused = 0;
    for (n, answer) in answers.into_iter().enumerate() {
        match answer.await.unwrap() {
            Ok(p) => placed.push((n, p.receipt.order_id)),
            Err(PlaceError::TooManyUnpaid(crate::CapReached::Buyer { max: 3 })) => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!((placed.len(), refused), (3, 97));
    assert_eq!(registry.holds().of_buyer(BuyerId(1)), 3);
    let try_one = |sale: usize, key: &str| {
        sales[sale]
            .try_place(BuyerId(1), Quantity::parse(1).unwrap(), IdempotencyKey::parse(key).unwrap(), None)
            .unwrap()
    };
    // A replay of a placed key is its first answer, not a refusal nor another unpaid order.
    let (n, first) = placed[2];
    let replay = try_one(n % 10, &format!("k{n}")).await.unwrap().unwrap();
    assert_eq!((replay.replayed, replay.receipt.order_id), (true, first));
    assert_eq!(registry.holds().of_buyer(BuyerId(1)), 3);

    // A cancellation frees a place; so does a payment; so does an expiry.
    let (n, order) = placed[0];
    sales[n % 10].try_cancel(order, BuyerId(1)).unwrap().await.unwrap().unwrap();
    assert!(try_one(0, "after-cancel").await.unwrap().is_ok());
    assert!(matches!(try_one(1, "over").await.unwrap(), Err(PlaceError::TooManyUnpaid(_))));
    let (n, order) = placed[1];
    sales[n % 10].try_confirm_payment(order, capture(order)).unwrap().await.unwrap().unwrap();
    assert!(try_one(2, "after-payment").await.unwrap().is_ok());
    assert_eq!(registry.holds().of_buyer(BuyerId(1)), 3);
    clock.advance_millis(2_000);
    assert_eq!(registry.tick_all(), 10);
    eventually("expired holds were not given back", || registry.holds().of_buyer(BuyerId(1)) == 0).await;
    assert!(try_one(3, "after-expiry").await.unwrap().is_ok());
    assert_eq!(registry.holds().of_buyer(BuyerId(1)), 1);
    drain(&mut receiver).await;
    registry.shutdown();
}

#[actix::test]
async fn a_replay_comes_before_the_gate_and_a_refusal_gives_its_unpaid_count_back() {
    let (registry, mut receiver, _clock) = registry(1_024);
    let registry = registry.with_hold_caps(crate::HoldCaps { per_buyer: 5, per_network: 0 });
    let sale = registry.start(terms(2, 1), Vec::new()).unwrap();
    let place = |buyer: i64, key: &str| {
        sale.try_place(BuyerId(buyer), Quantity::parse(1).unwrap(), IdempotencyKey::parse(key).unwrap(), None)
            .unwrap()
    };
    let first = place(1, "a").await.unwrap().unwrap();
    // Refused by the sale (over the per-buyer limit, then sold out): nothing counted.
    let over = place(1, "b").await.unwrap();
    assert!(
        matches!(over, Err(PlaceError::Refused(ReserveError::LimitExceeded { remaining: 0 }))),
        "{over:?}"
    );
    assert_eq!(registry.holds().of_buyer(BuyerId(1)), 1);
    assert!(place(2, "c").await.unwrap().is_ok());
    let late = place(3, "d").await.unwrap();
    assert!(matches!(late, Err(PlaceError::Refused(ReserveError::SoldOut))), "{late:?}");
    assert_eq!(registry.holds().of_buyer(BuyerId(3)), 0);
    // Held back: a replay still gets its first answer; a new key is refused, counting nothing.
    sale.suspend(true, false).await.unwrap();
    let replay = place(1, "a").await.unwrap().unwrap();
    assert_eq!((replay.replayed, replay.receipt), (true, first.receipt));
    assert!(matches!(place(4, "e").await.unwrap(), Err(PlaceError::Suspended)));
    assert_eq!(registry.holds().of_buyer(BuyerId(4)), 0);
    assert_eq!((registry.holds().of_buyer(BuyerId(1)), registry.holds().of_buyer(BuyerId(2))), (1, 1));
    let (counts, verified) = sale.verify().await.unwrap();
    assert_eq!((verified, counts.reserved, counts.available), (Ok(()), 2, 0));
    drain(&mut receiver).await;
    registry.shutdown();
}

#[actix::test]
async fn a_full_journal_refuses_without_changing_stock() {
    let (registry, _receiver, _clock) = registry(1);
    let sale = registry.start(terms(5, 5), Vec::new()).unwrap();
    let place = |key: &str| {
        sale.try_place(BuyerId(1), Quantity::parse(1).unwrap(), IdempotencyKey::parse(key).unwrap(), None)
            .unwrap()
    };
    assert!(place("a").await.unwrap().is_ok());
    assert_eq!(place("b").await.unwrap(), Err(PlaceError::Journal(AppendError::Full)));
    assert_eq!(sale.gauge.counts().available, 4, "the refused order took no unit");
    // A replay changes nothing and needs no journal room, alone or in a batch.
    let replay = place("a").await.unwrap().unwrap();
    assert!(replay.replayed);
    let batch = sale.try_place_batch(vec![request(2, 1, "c"), request(1, 1, "a")]).unwrap().await.unwrap();
    assert_eq!(batch[0], Err(PlaceError::Journal(AppendError::Full)));
    assert!(matches!(batch[1], Ok(Placed { replayed: true, .. })), "{batch:?}");
    assert_eq!(sale.gauge.counts().available, 4);
    registry.shutdown();
}

#[actix::test]
async fn the_mailbox_has_its_capacity_from_the_first_message() {
    // 64 slots configured; actix's default would be 16 until the actor had started.
    let (registry, _receiver, _clock) = registry(1_024);
    let sale = registry.start(terms(100, 100), Vec::new()).unwrap();
    let answers: Vec<_> = (0..40)
        .map(|n| {
            sale.try_place(BuyerId(n), Quantity::parse(1).unwrap(), IdempotencyKey::parse("k").unwrap(), None)
                .expect("room in the mailbox right after start")
        })
        .collect();
    for answer in answers {
        assert!(answer.await.unwrap().is_ok());
    }
    assert_eq!(sale.gauge.counts().reserved, 40);
    registry.shutdown();
}

#[actix::test]
async fn a_payment_sells_held_units_and_a_late_one_expires_the_hold() {
    let (registry, mut receiver, clock) = registry(16);
    let sale = registry.start(terms(5, 5), Vec::new()).unwrap();
    let place = |buyer: i64, key: &str| {
        sale.try_place(BuyerId(buyer), Quantity::parse(2).unwrap(), IdempotencyKey::parse(key).unwrap(), None)
            .unwrap()
    };
    let on_time = place(1, "a").await.unwrap().unwrap().receipt.order_id;
    let late = place(2, "b").await.unwrap().unwrap().receipt.order_id;

    let (paid, _) = sale.try_confirm_payment(on_time, capture(on_time)).unwrap().await.unwrap().unwrap();
    assert_eq!((paid.from, paid.to), (OrderState::PendingPayment, OrderState::Paid));
    let again = sale.try_confirm_payment(on_time, capture(on_time)).unwrap().await.unwrap();
    assert!(matches!(again, Err(ConfirmFailure::Refused { error: ConfirmError::AlreadyPaid, .. })));
    assert_eq!((sale.gauge.counts().sold, sale.gauge.counts().reserved), (2, 2));

    // The payment window is 2 s; this payment arrives at the deadline.
    clock.advance_millis(2_000);
    let refused = sale.try_confirm_payment(late, capture(late)).unwrap().await.unwrap();
    let Err(ConfirmFailure::Refused { error: ConfirmError::HoldExpired(change), seq }) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!((change.order_id, change.to), (late, OrderState::Expired));
    let counts = sale.gauge.counts();
    assert_eq!((counts.available, counts.reserved, counts.sold), (3, 0, 2));
    // Placement, placement, paid, expired: the expiry made by the late payment is journaled.
    let events = drain(&mut receiver).await;
    assert_eq!(events.len(), 4, "{events:?}");
    let JournalEvent::OrderPaid(journaled) = &events[2] else { panic!("{:?}", events[2]) };
    assert_eq!((journaled.change, journaled.capture.order_id), (paid, on_time));
    assert_eq!(seq, 4);
    let (_, verified) = sale.verify().await.unwrap();
    assert_eq!(verified, Ok(()));
    registry.shutdown();
}
