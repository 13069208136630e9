//! Unit and property tests of the stock ledger against a deliberately naive reference model.

use proptest::prelude::*;

use super::*;

const START: i64 = 1_000;
const END: i64 = 60_000;

fn terms(quantity: u32, per_buyer_limit: u32) -> SaleTerms {
    SaleTerms {
        id: FlashSaleId(7),
        merchant_id: MerchantId(3),
        product_id: ProductId(5),
        title: "lipstick".into(),
        price_fen: Fen(990),
        quantity,
        per_buyer_limit,
        starts_at: Timestamp(START),
        ends_at: Timestamp(END),
        payment_window_secs: 3,
    }
}

fn request(order: i64, buyer: i64, quantity: u32, key: &str) -> ReserveRequest {
    ReserveRequest {
        order_id: OrderId(order),
        buyer_id: BuyerId(buyer),
        quantity: Quantity::parse(i64::from(quantity)).unwrap(),
        idempotency_key: IdempotencyKey::parse(key).unwrap(),
        client_network: None,
    }
}

#[test]
fn reserve_moves_units_and_prices_the_order() {
    let mut sale = FlashSale::new(terms(10, 3));
    let placed = sale.reserve(request(1, 1, 2, "a"), Timestamp(START)).unwrap();
    let Reservation::Placed(order) = placed else { panic!("expected a new order") };
    assert_eq!(order.amount_fen, Fen(1_980));
    assert_eq!(order.expires_at, Timestamp(START + 3_000));
    assert_eq!(order.state, OrderState::PendingPayment);
    assert_eq!(sale.counts(), StockCounts { quantity: 10, available: 8, reserved: 2, sold: 0, leased: 0 });
}

#[test]
fn window_limit_and_stock_are_enforced_in_that_order() {
    let mut sale = FlashSale::new(terms(3, 2));
    assert_eq!(
        sale.reserve(request(1, 1, 1, "a"), Timestamp(START - 1)),
        Err(ReserveError::NotStarted { starts_at: Timestamp(START) })
    );
    assert_eq!(sale.reserve(request(1, 1, 1, "a"), Timestamp(END)), Err(ReserveError::Ended));
    assert_eq!(
        sale.reserve(request(1, 1, 3, "a"), Timestamp(START)),
        Err(ReserveError::OverLimit { per_buyer_limit: 2 })
    );
    sale.reserve(request(1, 1, 2, "a"), Timestamp(START)).unwrap();
    assert_eq!(
        sale.reserve(request(2, 2, 2, "b"), Timestamp(START)),
        Err(ReserveError::InsufficientStock { available: 1 })
    );
    sale.reserve(request(3, 2, 1, "c"), Timestamp(START)).unwrap();
    assert_eq!(sale.reserve(request(4, 3, 1, "d"), Timestamp(START)), Err(ReserveError::SoldOut));
    assert_eq!(
        sale.reserve(request(5, 1, 1, "e"), Timestamp(START)),
        Err(ReserveError::LimitExceeded { remaining: 0 })
    );
}

#[test]
fn same_key_replays_the_first_answer_even_after_sell_out_and_end() {
    let mut sale = FlashSale::new(terms(1, 1));
    let first = sale.reserve(request(1, 1, 1, "k"), Timestamp(START)).unwrap().receipt();
    let again = sale.reserve(request(2, 1, 1, "k"), Timestamp(END + 5)).unwrap();
    assert_eq!(again, Reservation::Replayed(first));
    assert_eq!(sale.reserve(request(3, 1, 2, "k"), Timestamp(START)), Err(ReserveError::KeyReused));
    // another buyer's identical key is another request
    assert_eq!(sale.reserve(request(4, 2, 1, "k"), Timestamp(START)), Err(ReserveError::SoldOut));
}

#[test]
fn expiry_returns_units_exactly_at_the_deadline() {
    let mut sale = FlashSale::new(terms(5, 5));
    sale.reserve(request(1, 1, 2, "a"), Timestamp(START)).unwrap();
    sale.reserve(request(2, 2, 3, "b"), Timestamp(START + 500)).unwrap();
    assert_eq!(sale.next_deadline(), Some(Timestamp(START + 3_000)));
    assert!(sale.expire_due(Timestamp(START + 2_999), 100).is_empty());
    let expired = sale.expire_due(Timestamp(START + 3_000), 100);
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].change.order_id, OrderId(1));
    assert_eq!(expired[0].change.to, OrderState::Expired);
    assert_eq!(expired[0].buyer_id, BuyerId(1));
    assert_eq!(sale.counts(), StockCounts { quantity: 5, available: 2, reserved: 3, sold: 0, leased: 0 });
    // the freed units sell again
    sale.reserve(request(3, 3, 2, "c"), Timestamp(START + 3_001)).unwrap();
    assert_eq!(sale.counts().available, 0);
    sale.verify().unwrap();
}

#[test]
fn expiry_is_bounded_per_call() {
    let mut sale = FlashSale::new(terms(100, 1));
    for i in 0..10 {
        sale.reserve(request(i, i, 1, "a"), Timestamp(START)).unwrap();
    }
    let late = Timestamp(START + 10_000);
    assert_eq!(sale.expire_due(late, 4).len(), 4);
    assert_eq!(sale.expire_due(late, 4).len(), 4);
    assert_eq!(sale.expire_due(late, 4).len(), 2);
    assert_eq!(sale.counts().available, 100);
}

#[test]
fn payment_after_the_deadline_releases_the_hold_instead() {
    let mut sale = FlashSale::new(terms(2, 2));
    sale.reserve(request(1, 1, 1, "a"), Timestamp(START)).unwrap();
    sale.reserve(request(2, 2, 1, "b"), Timestamp(START)).unwrap();
    let paid = sale.confirm_payment(OrderId(1), Timestamp(START + 2_999)).unwrap();
    assert_eq!((paid.from, paid.to), (OrderState::PendingPayment, OrderState::Paid));
    assert_eq!(sale.confirm_payment(OrderId(1), Timestamp(START + 3_500)), Err(ConfirmError::AlreadyPaid));
    let Err(ConfirmError::HoldExpired(change)) = sale.confirm_payment(OrderId(2), Timestamp(START + 3_000))
    else {
        panic!("a late payment must not be applied")
    };
    assert_eq!(change.to, OrderState::Expired);
    assert_eq!(sale.counts(), StockCounts { quantity: 2, available: 1, reserved: 0, sold: 1, leased: 0 });
    // The expired order is forgotten: paying it again is as unknown as an order never placed.
    assert_eq!(sale.confirm_payment(OrderId(2), Timestamp(START + 3_001)), Err(ConfirmError::UnknownOrder));
    assert_eq!(sale.confirm_payment(OrderId(99), Timestamp(START)), Err(ConfirmError::UnknownOrder));
}

#[test]
fn refunded_units_go_back_on_sale_once_per_refund_and_survive_a_restore() {
    let mut sale = FlashSale::new(terms(5, 3));
    sale.reserve(request(1, 1, 3, "a"), Timestamp(START)).unwrap();
    sale.reserve(request(2, 2, 1, "b"), Timestamp(START)).unwrap();
    sale.confirm_payment(OrderId(1), Timestamp(START + 1)).unwrap();
    assert_eq!(sale.restock(RefundId(9), OrderId(2), 1), Err(RestockError::NotSold), "unpaid");
    assert_eq!(sale.restock(RefundId(9), OrderId(1), 1), Ok(Restocked::Done));
    assert_eq!(sale.restock(RefundId(9), OrderId(1), 1), Ok(Restocked::AlreadyDone));
    assert_eq!(sale.counts(), StockCounts { quantity: 5, available: 2, reserved: 1, sold: 2, leased: 0 });
    assert_eq!(sale.restock(RefundId(10), OrderId(1), 3), Err(RestockError::MoreThanSold { left: 2 }));
    assert_eq!(sale.restock(RefundId(10), OrderId(1), 2), Ok(Restocked::Done));
    assert_eq!(sale.counts(), StockCounts { quantity: 5, available: 4, reserved: 1, sold: 0, leased: 0 });
    sale.verify().unwrap();
    // Rebuilt from storage: the same counts, and the same refunds are recognised.
    let orders: Vec<Order> = sale.orders().cloned().collect();
    let mut restored = FlashSale::restore(terms(5, 3), orders).unwrap();
    restored.restore_restocks([(RefundId(9), OrderId(1), 1), (RefundId(10), OrderId(1), 2)]).unwrap();
    assert_eq!(restored.counts(), sale.counts());
    assert_eq!(restored.restock(RefundId(10), OrderId(1), 2), Ok(Restocked::AlreadyDone));
    restored.verify().unwrap();
}

#[test]
fn only_the_buyer_cancels_and_only_while_unpaid() {
    let mut sale = FlashSale::new(terms(2, 2));
    sale.reserve(request(1, 1, 2, "a"), Timestamp(START)).unwrap();
    assert_eq!(sale.cancel(OrderId(1), BuyerId(2), Timestamp(START)), Err(CancelError::UnknownOrder));
    sale.cancel(OrderId(1), BuyerId(1), Timestamp(START)).unwrap();
    assert_eq!(sale.cancel(OrderId(1), BuyerId(1), Timestamp(START)), Err(CancelError::UnknownOrder));
    assert_eq!(sale.counts().available, 2);
    sale.reserve(request(2, 1, 1, "b"), Timestamp(START)).unwrap();
    sale.confirm_payment(OrderId(2), Timestamp(START)).unwrap();
    assert_eq!(
        sale.cancel(OrderId(2), BuyerId(1), Timestamp(START)),
        Err(CancelError::NotPending(OrderState::Paid))
    );
}

#[test]
fn released_orders_leave_memory_but_their_keys_still_replay() {
    let mut sale = FlashSale::new(terms(1_000, 1_000));
    let max = FlashSale::MAX_ORDERS_PER_BUYER as i64;
    // A buyer who orders and cancels, over and over, until the sale says no more.
    for n in 0..max {
        let key = format!("k{n}");
        sale.reserve(request(n, 1, 1, &key), Timestamp(START)).unwrap();
        sale.cancel(OrderId(n), BuyerId(1), Timestamp(START)).unwrap();
    }
    assert_eq!(
        sale.reserve(request(max, 1, 1, "one-more"), Timestamp(START)),
        Err(ReserveError::TooManyOrders { max: max as usize })
    );
    sale.reserve(request(1_000, 2, 1, "held"), Timestamp(START)).unwrap();
    sale.reserve(request(1_001, 3, 1, "paid"), Timestamp(START)).unwrap();
    sale.confirm_payment(OrderId(1_001), Timestamp(START)).unwrap();
    assert_eq!(sale.orders().count(), 2, "only the pending and the paid order are kept");
    assert_eq!(sale.pending_orders().map(|o| o.id).collect::<Vec<_>>(), vec![OrderId(1_000)]);
    assert!(sale.deadlines.len() <= 2 * sale.pending + 64, "{} deadlines kept", sale.deadlines.len());
    assert_eq!(sale.receipts().count(), max as usize + 2);
    // The first answer to a released order's key is still the answer.
    let replayed = sale.reserve(request(2_000, 1, 1, "k7"), Timestamp(START)).unwrap();
    let Reservation::Replayed(receipt) = replayed else { panic!("{replayed:?}") };
    assert_eq!(receipt.order_id, OrderId(7));
    assert_eq!(sale.reserve(request(2_001, 1, 2, "k7"), Timestamp(START)), Err(ReserveError::KeyReused));
    sale.verify().unwrap();
}

#[test]
fn a_sale_is_settled_once_ended_with_no_hold_left() {
    let mut sale = FlashSale::new(terms(5, 5));
    assert!(!sale.is_settled(Timestamp(START)));
    assert!(sale.is_settled(Timestamp(END)), "ended with nothing held");
    sale.reserve(request(1, 1, 1, "a"), Timestamp(END - 1)).unwrap();
    assert!(!sale.is_settled(Timestamp(END)), "a hold outlives the end");
    assert_eq!(sale.expire_due(Timestamp(END + 3_000), 10).len(), 1);
    assert!(sale.is_settled(Timestamp(END + 3_000)));
}

#[test]
fn restore_rebuilds_the_same_sale_and_refuses_broken_data() {
    let mut sale = FlashSale::new(terms(10, 3));
    sale.reserve(request(1, 1, 2, "a"), Timestamp(START)).unwrap();
    sale.reserve(request(2, 2, 3, "b"), Timestamp(START)).unwrap();
    sale.reserve(request(3, 3, 1, "c"), Timestamp(START)).unwrap();
    sale.confirm_payment(OrderId(2), Timestamp(START + 10)).unwrap();
    let mut cancelled = sale.order(OrderId(3)).unwrap().clone();
    sale.cancel(OrderId(3), BuyerId(3), Timestamp(START + 10)).unwrap();
    cancelled.state = OrderState::Cancelled;
    // What the database holds: every order, the cancelled one too.
    let mut orders: Vec<Order> = sale.orders().cloned().collect();
    orders.sort_by_key(|o| o.id);
    orders.push(cancelled);
    let mut restored = FlashSale::restore(terms(10, 3), orders.clone()).unwrap();
    assert_eq!(restored.counts(), sale.counts());
    assert_eq!(restored.next_deadline(), Some(Timestamp(START + 3_000)));
    assert_eq!(restored.orders().count(), 2);
    assert_eq!(
        restored
            .replay(BuyerId(3), &IdempotencyKey::parse("c").unwrap(), Quantity::parse(1).unwrap())
            .unwrap()
            .map(|r| r.order_id),
        Some(OrderId(3))
    );
    restored.verify().unwrap();

    assert_eq!(
        FlashSale::restore(terms(4, 3), orders.clone()).unwrap_err(),
        RestoreError::Oversold { claimed: 5, quantity: 4 }
    );
    assert_eq!(
        FlashSale::restore(terms(10, 2), orders.clone()).unwrap_err(),
        RestoreError::OverLimit(BuyerId(2))
    );
    let mut twice = orders.clone();
    twice.push(orders[0].clone());
    assert!(matches!(FlashSale::restore(terms(10, 3), twice).unwrap_err(), RestoreError::DuplicateOrder(_)));
}

// ---- property tests -------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Reserve { buyer: i64, quantity: u32, key: u8 },
    Advance { millis: i64 },
    Expire,
    Cancel { pick: usize, own: bool },
    Confirm { pick: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..6i64, 1..4u32, 0..4u8).prop_map(|(buyer, quantity, key)| Op::Reserve { buyer, quantity, key }),
        2 => (0..2_500i64).prop_map(|millis| Op::Advance { millis }),
        1 => Just(Op::Expire),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, own)| Op::Cancel { pick, own }),
        2 => any::<usize>().prop_map(|pick| Op::Confirm { pick }),
    ]
}

/// The reference: a flat list of orders and nothing clever.
#[derive(Debug, Clone)]
struct ModelOrder {
    id: i64,
    buyer: i64,
    quantity: u32,
    key: u8,
    state: OrderState,
    expires_at: i64,
}

struct Model {
    quantity: u32,
    limit: u32,
    orders: Vec<ModelOrder>,
}

impl Model {
    fn units(&self, pred: impl Fn(&ModelOrder) -> bool) -> u32 {
        self.orders.iter().filter(|o| pred(o)).map(|o| o.quantity).sum()
    }

    fn reserved(&self) -> u32 {
        self.units(|o| o.state.holds_units())
    }

    fn sold(&self) -> u32 {
        self.units(|o| o.state.sold_units())
    }

    fn available(&self) -> u32 {
        self.quantity - self.reserved() - self.sold()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn ledger_matches_the_model(
        quantity in 1..12u32,
        limit in 1..5u32,
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let mut sale = FlashSale::new(terms(quantity, limit));
        let mut model = Model { quantity, limit, orders: Vec::new() };
        // Every order as the database would hold it, released ones included.
        let mut stored: HashMap<OrderId, Order> = HashMap::new();
        let mut now = 0i64;
        let mut next_id = 0i64;

        for op in ops {
            match op {
                Op::Reserve { buyer, quantity: wanted, key } => {
                    next_id += 1;
                    let key_text = format!("key-{key}");
                    let got = sale.reserve(request(next_id, buyer, wanted, &key_text), Timestamp(now));
                    let earlier = model.orders.iter().position(|o| o.buyer == buyer && o.key == key);
                    let used: u32 = model.orders.iter()
                        .filter(|o| o.buyer == buyer && (o.state.holds_units() || o.state.sold_units()))
                        .map(|o| o.quantity).sum();
                    let expected = if let Some(i) = earlier {
                        if model.orders[i].quantity == wanted { Ok(true) } else { Err(ReserveError::KeyReused) }
                    } else if now < START {
                        Err(ReserveError::NotStarted { starts_at: Timestamp(START) })
                    } else if now >= END {
                        Err(ReserveError::Ended)
                    } else if wanted > model.limit {
                        Err(ReserveError::OverLimit { per_buyer_limit: model.limit })
                    } else if model.orders.iter().filter(|o| o.buyer == buyer).count() >= FlashSale::MAX_ORDERS_PER_BUYER {
                        Err(ReserveError::TooManyOrders { max: FlashSale::MAX_ORDERS_PER_BUYER })
                    } else if used + wanted > model.limit {
                        Err(ReserveError::LimitExceeded { remaining: model.limit - used })
                    } else if model.available() == 0 {
                        Err(ReserveError::SoldOut)
                    } else if wanted > model.available() {
                        Err(ReserveError::InsufficientStock { available: model.available() })
                    } else {
                        model.orders.push(ModelOrder {
                            id: next_id, buyer, quantity: wanted, key,
                            state: OrderState::PendingPayment,
                            expires_at: now + 3_000,
                        });
                        Ok(false)
                    };
                    match (got, expected) {
                        (Ok(Reservation::Placed(order)), Ok(false)) => {
                            prop_assert_eq!(order.id, OrderId(next_id));
                            prop_assert_eq!(order.amount_fen, Fen(990 * i64::from(wanted)));
                            stored.insert(order.id, order);
                        }
                        (Ok(Reservation::Replayed(receipt)), Ok(true)) => {
                            prop_assert_eq!(receipt.quantity, wanted);
                        }
                        (Err(got), Err(expected)) => prop_assert_eq!(got, expected),
                        (got, expected) => prop_assert!(false, "engine {got:?}, model {expected:?}"),
                    }
                }
                Op::Advance { millis } => now += millis,
                Op::Expire => {
                    let changes = sale.expire_due(Timestamp(now), usize::MAX);
                    for released in &changes {
                        stored.get_mut(&released.change.order_id).unwrap().state = released.change.to;
                    }
                    let mut expected = 0;
                    for o in model.orders.iter_mut() {
                        if o.state == OrderState::PendingPayment && o.expires_at <= now {
                            o.state = OrderState::Expired;
                            expected += 1;
                        }
                    }
                    prop_assert_eq!(changes.len(), expected);
                }
                Op::Cancel { pick, own } => {
                    if model.orders.is_empty() { continue; }
                    let i = pick % model.orders.len();
                    let id = OrderId(model.orders[i].id);
                    let who = if own { model.orders[i].buyer } else { model.orders[i].buyer + 100 };
                    let got = sale.cancel(id, BuyerId(who), Timestamp(now));
                    let o = &mut model.orders[i];
                    if !own || released(o.state) {
                        prop_assert_eq!(got, Err(CancelError::UnknownOrder));
                    } else if o.state == OrderState::PendingPayment {
                        prop_assert!(got.is_ok());
                        o.state = OrderState::Cancelled;
                        stored.get_mut(&id).unwrap().state = o.state;
                    } else {
                        prop_assert_eq!(got, Err(CancelError::NotPending(o.state)));
                    }
                }
                Op::Confirm { pick } => {
                    if model.orders.is_empty() { continue; }
                    let i = pick % model.orders.len();
                    let id = OrderId(model.orders[i].id);
                    let got = sale.confirm_payment(id, Timestamp(now));
                    let o = &mut model.orders[i];
                    match o.state {
                        OrderState::PendingPayment if now >= o.expires_at => {
                            prop_assert!(matches!(got, Err(ConfirmError::HoldExpired(_))));
                            o.state = OrderState::Expired;
                        }
                        OrderState::PendingPayment => {
                            prop_assert!(got.is_ok());
                            o.state = OrderState::Paid;
                        }
                        OrderState::Paid => prop_assert_eq!(got, Err(ConfirmError::AlreadyPaid)),
                        state if released(state) => prop_assert_eq!(got, Err(ConfirmError::UnknownOrder)),
                        state => prop_assert_eq!(got, Err(ConfirmError::NotPending(state))),
                    }
                    stored.get_mut(&id).unwrap().state = o.state;
                }
            }
            let counts = sale.counts();
            prop_assert_eq!(counts.available, model.available());
            prop_assert_eq!(counts.reserved, model.reserved());
            prop_assert_eq!(counts.sold, model.sold());
            prop_assert!(counts.is_balanced());
            prop_assert_eq!(sale.verify(), Ok(()));
            let kept = model.orders.iter().filter(|o| !released(o.state)).count();
            prop_assert_eq!(sale.orders().count(), kept);
        }

        // whatever happened, a restore from the stored orders is the same sale
        let mut orders: Vec<Order> = stored.into_values().collect();
        orders.sort_by_key(|o| o.id);
        let restored = FlashSale::restore(terms(quantity, limit), orders).unwrap();
        prop_assert_eq!(restored.counts(), sale.counts());
        prop_assert_eq!(restored.receipts().count(), sale.receipts().count());
    }
}

/// Expired and cancelled: the states whose orders the sale forgets.
fn released(state: OrderState) -> bool {
    matches!(state, OrderState::Expired | OrderState::Cancelled)
}
