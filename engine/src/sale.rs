//! A flash sale and its stock ledger: the rules that make overselling impossible.
//!
//! Every unit of a sale is in exactly one of three buckets: *available*, *reserved* (held for a
//! buyer until the payment deadline) or *sold*. Operations move units between buckets and never
//! create or destroy one, so `available + reserved + sold == quantity` always; each operation
//! asserts it. A buyer's held plus bought units never exceed the sale's per-buyer limit.
//!
//! A [`FlashSale`] is owned by exactly one stock actor, which serialises access to it; nothing
//! here is shared or locked.
//!
//! Memory is bounded by what can still change: pending and sold orders are kept whole (both
//! are bounded by the quantity), while an order that was released (expired or cancelled) is
//! forgotten except for its replay receipt, which the buyer's idempotency key must keep
//! answering for the life of the sale. Paying or cancelling a forgotten order is
//! `UnknownOrder`, which callers treat like any other "no longer pending".

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use rustc_hash::FxBuildHasher;

use thiserror::Error;

use self::buyer_keys::BuyerKeys;
use crate::order::NotPayable;
use crate::{
    BuyerId, ClientNetwork, Fen, FlashSaleId, IdempotencyKey, MerchantId, Order, OrderId, OrderState,
    ProductId, Quantity, Receipt, RefundId, StateChange, Timestamp,
};

/// What a merchant set up: immutable for the life of the sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleTerms {
    pub id: FlashSaleId,
    pub merchant_id: MerchantId,
    pub product_id: ProductId,
    pub title: String,
    pub price_fen: Fen,
    pub quantity: u32,
    pub per_buyer_limit: u32,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub payment_window_secs: u32,
}

/// Why a merchant's flash-sale terms were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TermsError {
    #[error("price_fen must be from 1 to {max}", max = SaleTerms::MAX_PRICE_FEN)]
    Price,
    #[error("quantity must be from 1 to {max}", max = SaleTerms::MAX_QUANTITY)]
    Quantity,
    #[error("per_buyer_limit must be at least 1")]
    PerBuyerLimit,
    #[error("ends_at must be after starts_at")]
    Window,
    #[error("ends_at must be in the future")]
    AlreadyEnded,
    #[error("payment_window_secs must be from 1 to {max}", max = SaleTerms::MAX_PAYMENT_WINDOW_SECS)]
    PaymentWindow,
}

impl SaleTerms {
    /// One million yuan: anything above is a typo, not a livestream deal.
    pub const MAX_PRICE_FEN: i64 = 100_000_000;
    pub const MAX_QUANTITY: u32 = 10_000_000;
    pub const MAX_PAYMENT_WINDOW_SECS: u32 = 86_400;

    /// Checks terms that are being created at `now`.
    pub fn check_new(&self, now: Timestamp) -> Result<(), TermsError> {
        self.check()?;
        if self.ends_at <= now {
            return Err(TermsError::AlreadyEnded);
        }
        Ok(())
    }

    /// Checks the terms on their own, without regard to the current time.
    pub fn check(&self) -> Result<(), TermsError> {
        if !(1..=Self::MAX_PRICE_FEN).contains(&self.price_fen.as_i64()) {
            return Err(TermsError::Price);
        }
        if !(1..=Self::MAX_QUANTITY).contains(&self.quantity) {
            return Err(TermsError::Quantity);
        }
        if self.per_buyer_limit == 0 {
            return Err(TermsError::PerBuyerLimit);
        }
        if self.ends_at <= self.starts_at {
            return Err(TermsError::Window);
        }
        if !(1..=Self::MAX_PAYMENT_WINDOW_SECS).contains(&self.payment_window_secs) {
            return Err(TermsError::PaymentWindow);
        }
        Ok(())
    }

    pub fn payment_window_millis(&self) -> i64 {
        i64::from(self.payment_window_secs) * 1_000
    }

    /// Whether orders may be placed at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// The checks that need nothing but the terms: the sale window, then a single order's
    /// quantity against the per-buyer limit. [`FlashSale::reserve`] makes them first; the
    /// gateway makes them too, to refuse without a message to the stock actor.
    pub fn admits(&self, quantity: Quantity, now: Timestamp) -> Result<(), ReserveError> {
        if now < self.starts_at {
            return Err(ReserveError::NotStarted { starts_at: self.starts_at });
        }
        if now >= self.ends_at {
            return Err(ReserveError::Ended);
        }
        if quantity.get() > self.per_buyer_limit {
            return Err(ReserveError::OverLimit { per_buyer_limit: self.per_buyer_limit });
        }
        Ok(())
    }
}

/// The three stock buckets of a sale, and their sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StockCounts {
    pub quantity: u32,
    pub available: u32,
    pub reserved: u32,
    /// Sold through every door: our page and the live platforms.
    pub sold: u32,
    /// Leased to live platforms and not known to be sold (see [`doors`]).
    pub leased: u32,
}

impl StockCounts {
    pub fn is_balanced(&self) -> bool {
        u64::from(self.available) + u64::from(self.reserved) + u64::from(self.sold) + u64::from(self.leased)
            == u64::from(self.quantity)
    }
}

/// A buyer asks for units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveRequest {
    /// The id the order gets if one is placed; unused on a replay or a refusal.
    pub order_id: OrderId,
    pub buyer_id: BuyerId,
    pub quantity: Quantity,
    pub idempotency_key: IdempotencyKey,
    pub client_network: Option<ClientNetwork>,
}

/// The outcome of a successful [`FlashSale::reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// A new order now holds units.
    Placed(Order),
    /// The buyer sent this key before with the same quantity: the first answer, unchanged.
    Replayed(Receipt),
}

impl Reservation {
    pub fn receipt(&self) -> Receipt {
        match self {
            Reservation::Placed(order) => order.receipt(),
            Reservation::Replayed(receipt) => *receipt,
        }
    }
}

/// A hold that went back to stock: the change to persist, and whose hold it was (the sale
/// no longer keeps the order, see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub change: StateChange,
    pub buyer_id: BuyerId,
    pub client_network: Option<ClientNetwork>,
}

/// Why units were not reserved. Expected outcomes of a flash sale, not failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReserveError {
    #[error("the flash sale has not started yet")]
    NotStarted { starts_at: Timestamp },
    #[error("the flash sale has ended")]
    Ended,
    #[error("sold out")]
    SoldOut,
    #[error("only {available} units are left")]
    InsufficientStock { available: u32 },
    #[error("at most {per_buyer_limit} units per buyer in this flash sale")]
    OverLimit { per_buyer_limit: u32 },
    #[error("per-buyer limit reached: {remaining} more units allowed")]
    LimitExceeded { remaining: u32 },
    #[error("at most {max} orders per buyer in this flash sale, cancelled and expired ones included")]
    TooManyOrders { max: usize },
    #[error("this idempotency key was used with a different request body")]
    KeyReused,
}

/// Why a buyer could not cancel an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CancelError {
    #[error("no such order")]
    UnknownOrder,
    #[error("the order is {} and can no longer be cancelled", .0.as_str())]
    NotPending(OrderState),
}

/// Why a payment could not be applied to an order. Every variant but `AlreadyPaid` means the
/// money must go back to the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ConfirmError {
    #[error("no such order")]
    UnknownOrder,
    #[error("the order is already paid")]
    AlreadyPaid,
    /// The deadline had passed; the hold was released just now by this call, and the change
    /// must be persisted like any other expiry.
    #[error("the payment deadline had passed")]
    HoldExpired(StateChange),
    #[error("the order is {}", .0.as_str())]
    NotPending(OrderState),
}

/// Why orders loaded from storage could not be rebuilt into a sale. Any of these means the
/// stored data breaks an invariant: the sale is not started rather than served wrongly.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RestoreError {
    #[error("order {0} belongs to another flash sale")]
    ForeignOrder(OrderId),
    #[error("order {0} appears twice")]
    DuplicateOrder(OrderId),
    #[error("order {0} has quantity 0")]
    EmptyOrder(OrderId),
    #[error("orders hold or sold {claimed} units of {quantity}")]
    Oversold { claimed: u64, quantity: u32 },
    #[error("order {0} reuses an idempotency key of its buyer")]
    DuplicateKey(OrderId),
    #[error("buyer {0} holds or bought more than the per-buyer limit")]
    OverLimit(BuyerId),
    #[error("live platform slices: {0}")]
    Doors(doors::DoorRestoreError),
}

#[derive(Debug, Clone, Default)]
struct BuyerTally {
    held: u32,
    bought: u32,
    /// The first answer to every key this buyer used in this sale, released orders included:
    /// the first inline, more in a map (see [`buyer_keys`]).
    keys: BuyerKeys,
}

impl BuyerTally {
    /// The first answer to `key` if it was used before, or `KeyReused` if with another
    /// quantity.
    fn replay(&self, key: &IdempotencyKey, quantity: Quantity) -> Result<Option<Receipt>, ReserveError> {
        match self.keys.get(key) {
            None => Ok(None),
            Some(receipt) if receipt.quantity == quantity.get() => Ok(Some(*receipt)),
            Some(_) => Err(ReserveError::KeyReused),
        }
    }
}

/// One flash sale: terms, stock buckets, holds and their deadlines.
#[derive(Debug, Clone)]
pub struct FlashSale {
    terms: SaleTerms,
    available: u32,
    reserved: u32,
    sold: u32,
    /// Pending and sold orders only: released ones leave (see the module doc). Boxed: a hot
    /// sale's map grows to millions of entries, and each doubling copies (and the kernel
    /// zeroes pages for) every entry; a box is 8 bytes where an order is over 100, and the
    /// orders themselves sit packed in the allocator's pages, written once.
    orders: HashMap<OrderId, Box<Order>, FxBuildHasher>,
    /// Orders in `orders` that are pending payment.
    pending: usize,
    /// Ids are ours (not chosen by clients): hashed with Fx, which is a multiply, not SipHash.
    /// Boxed like the orders: nearly every order of a hot sale is a new buyer's.
    buyers: HashMap<BuyerId, Box<BuyerTally>, FxBuildHasher>,
    /// Hold deadlines, earliest first. Entries of orders that left `pending_payment` some other
    /// way are skipped when they come up, and compacted away when they outnumber the pending
    /// orders (see [`Self::compact_deadlines`]).
    deadlines: BinaryHeap<Reverse<(Timestamp, OrderId)>>,
    /// Units of refunded orders put back on sale, by the refund that did it (each refund at
    /// most once; at most the order's quantity per order, so bounded by the sale's quantity).
    restocked: HashMap<RefundId, (OrderId, u32)>,
    /// The live platforms' slices and orders.
    doors: doors::Doors,
}

/// Why refunded units cannot go back on sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RestockError {
    #[error("the order sold no units in this sale")]
    NotSold,
    #[error("only {left} units of the order can go back on sale")]
    MoreThanSold { left: u32 },
}

/// What a restock did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restocked {
    /// The units are available again.
    Done,
    /// This refund's units went back before: nothing changed.
    AlreadyDone,
}

impl FlashSale {
    /// Orders one buyer may place in one sale, released ones included. Each leaves a replay
    /// receipt for the life of the sale (its key must keep naming it: the database holds the
    /// key unique), so this is what bounds a sale's memory per buyer who orders and cancels.
    pub const MAX_ORDERS_PER_BUYER: usize = 100;

    /// A sale with nothing reserved or sold yet.
    pub fn new(terms: SaleTerms) -> Self {
        assert!(terms.check().is_ok(), "flash sale terms must be checked before use");
        Self {
            available: terms.quantity,
            reserved: 0,
            sold: 0,
            orders: HashMap::default(),
            pending: 0,
            buyers: HashMap::default(),
            deadlines: BinaryHeap::new(),
            restocked: HashMap::new(),
            doors: doors::Doors::default(),
            terms,
        }
    }

    /// Rebuilds a sale from its stored orders, checking every invariant on the way.
    pub fn restore(terms: SaleTerms, orders: impl IntoIterator<Item = Order>) -> Result<Self, RestoreError> {
        let mut sale = Self::new(terms);
        let mut claimed: u64 = 0;
        // Released orders are not kept, so their ids are checked for duplicates here.
        let mut seen = std::collections::HashSet::new();
        for order in orders {
            if order.flash_sale_id != sale.terms.id {
                return Err(RestoreError::ForeignOrder(order.id));
            }
            if order.quantity == 0 {
                return Err(RestoreError::EmptyOrder(order.id));
            }
            if !seen.insert(order.id) {
                return Err(RestoreError::DuplicateOrder(order.id));
            }
            let tally = sale.buyers.entry(order.buyer_id).or_default();
            if !tally.keys.insert(order.idempotency_key.clone(), order.receipt()) {
                return Err(RestoreError::DuplicateKey(order.id));
            }
            if order.state.holds_units() {
                tally.held += order.quantity;
                sale.reserved += order.quantity;
                sale.pending += 1;
                sale.deadlines.push(Reverse((order.expires_at, order.id)));
                claimed += u64::from(order.quantity);
            } else if order.state.sold_units() {
                tally.bought += order.quantity;
                sale.sold += order.quantity;
                claimed += u64::from(order.quantity);
            }
            if tally.held + tally.bought > sale.terms.per_buyer_limit {
                return Err(RestoreError::OverLimit(order.buyer_id));
            }
            if claimed > u64::from(sale.terms.quantity) {
                return Err(RestoreError::Oversold { claimed, quantity: sale.terms.quantity });
            }
            if order.state.holds_units() || order.state.sold_units() {
                sale.orders.insert(order.id, Box::new(order));
            }
        }
        sale.available = sale.terms.quantity - sale.reserved - sale.sold;
        sale.assert_balanced();
        Ok(sale)
    }

    pub fn terms(&self) -> &SaleTerms {
        &self.terms
    }

    pub fn counts(&self) -> StockCounts {
        StockCounts {
            quantity: self.terms.quantity,
            available: self.available,
            reserved: self.reserved,
            sold: self.sold,
            leased: self.doors.leased(),
        }
    }

    pub fn order(&self, id: OrderId) -> Option<&Order> {
        self.orders.get(&id).map(|order| &**order)
    }

    /// The orders still kept: pending and sold ones.
    pub fn orders(&self) -> impl Iterator<Item = &Order> {
        self.orders.values().map(|order| &**order)
    }

    /// The orders holding units, awaiting payment.
    pub fn pending_orders(&self) -> impl Iterator<Item = &Order> {
        self.orders().filter(|o| o.state.holds_units())
    }

    /// The first answer to every key used in this sale, by buyer, released orders included.
    pub fn receipts(&self) -> impl Iterator<Item = (BuyerId, &IdempotencyKey, Receipt)> {
        self.buyers.iter().flat_map(|(buyer, tally)| tally.keys.iter().map(|(key, r)| (*buyer, key, *r)))
    }

    /// Nothing about this sale can change any more: it has ended, every hold is settled
    /// (paid, expired or cancelled) and no unit is leased to a live platform. Stays true: time only moves on, and an ended sale takes
    /// no new holds.
    pub fn is_settled(&self, now: Timestamp) -> bool {
        // Units still leased to a live platform are not settled: they come back (or their
        // orders arrive) after the end.
        now >= self.terms.ends_at && self.pending == 0 && self.doors.leased() == 0
    }

    /// The earliest hold deadline still pending, if any.
    pub fn next_deadline(&mut self) -> Option<Timestamp> {
        while let Some(Reverse((at, id))) = self.deadlines.peek().copied() {
            if self.orders.get(&id).is_some_and(|o| o.state.holds_units()) {
                return Some(at);
            }
            self.deadlines.pop();
        }
        None
    }

    /// The first answer to this buyer's key, if the key was used before in this sale.
    pub fn replay(
        &self,
        buyer_id: BuyerId,
        key: &IdempotencyKey,
        quantity: Quantity,
    ) -> Result<Option<Receipt>, ReserveError> {
        self.buyers.get(&buyer_id).map_or(Ok(None), |tally| tally.replay(key, quantity))
    }

    /// Holds units for a buyer until the payment deadline, or says why not.
    ///
    /// Checks, in order: replay of the same key, the sale window, the buyer's number of orders,
    /// the per-buyer limit, stock.
    pub fn reserve(&mut self, request: ReserveRequest, now: Timestamp) -> Result<Reservation, ReserveError> {
        self.reserve_admitted(request, now, || Ok(()))
    }

    /// [`Self::reserve`], with the caller's own gate: `admit` is asked after the replay check
    /// (a replay is answered whatever it would say) and before any other, and its refusal is
    /// the answer. Nothing here has changed when it is asked. The stock actor's gate is the
    /// suspension, the journal's room and the cross-sale cap on unpaid orders.
    ///
    /// The buyer's tally is looked up once (a new buyer's is inserted once, when the order is
    /// placed: a refused buyer leaves nothing behind).
    pub fn reserve_admitted<E: From<ReserveError>>(
        &mut self,
        request: ReserveRequest,
        now: Timestamp,
        admit: impl FnOnce() -> Result<(), E>,
    ) -> Result<Reservation, E> {
        let ReserveRequest { order_id, buyer_id, quantity, idempotency_key, client_network } = request;
        let mut tally = self.buyers.get_mut(&buyer_id);
        if let Some(tally) = &tally
            && let Some(receipt) = tally.replay(&idempotency_key, quantity)?
        {
            return Ok(Reservation::Replayed(receipt));
        }
        admit()?;
        self.terms.admits(quantity, now)?;
        let wanted = quantity.get();
        let limit = self.terms.per_buyer_limit;
        if tally.as_ref().is_some_and(|t| t.keys.len() >= Self::MAX_ORDERS_PER_BUYER) {
            return Err(ReserveError::TooManyOrders { max: Self::MAX_ORDERS_PER_BUYER }.into());
        }
        let used = tally.as_ref().map_or(0, |t| t.held + t.bought);
        if used + wanted > limit {
            return Err(ReserveError::LimitExceeded { remaining: limit.saturating_sub(used) }.into());
        }
        if self.available == 0 {
            return Err(ReserveError::SoldOut.into());
        }
        if wanted > self.available {
            return Err(ReserveError::InsufficientStock { available: self.available }.into());
        }

        let amount_fen = self
            .terms
            .price_fen
            .checked_mul(wanted)
            .expect("price and quantity are bounded by the terms check");
        let expires_at = now.plus_millis(self.terms.payment_window_millis());
        let order = Order {
            id: order_id,
            flash_sale_id: self.terms.id,
            merchant_id: self.terms.merchant_id,
            buyer_id,
            quantity: wanted,
            amount_fen,
            state: OrderState::PendingPayment,
            idempotency_key,
            client_network,
            created_at: now,
            expires_at,
            updated_at: now,
        };
        let receipt = order.receipt();
        match tally.as_mut() {
            Some(tally) => {
                tally.held += wanted;
                let fresh = tally.keys.insert(order.idempotency_key.clone(), receipt);
                assert!(fresh, "a replayed key is answered before it gets here");
                assert!(tally.held + tally.bought <= limit);
            }
            None => {
                let keys = BuyerKeys::One(order.idempotency_key.clone(), receipt);
                self.buyers.insert(buyer_id, Box::new(BuyerTally { held: wanted, bought: 0, keys }));
            }
        }
        let previous = self.orders.insert(order_id, Box::new(order.clone()));
        assert!(previous.is_none(), "order id {order_id} reused");
        self.available -= wanted;
        self.reserved += wanted;
        self.pending += 1;
        self.deadlines.push(Reverse((expires_at, order_id)));
        self.assert_balanced();
        Ok(Reservation::Placed(order))
    }

    /// Expires at most `max` holds whose deadline is at or before `now`, returning their units
    /// to stock. Bounded so that one call never stalls the actor that owns the sale.
    pub fn expire_due(&mut self, now: Timestamp, max: usize) -> Vec<Release> {
        let mut released = Vec::new();
        while released.len() < max {
            let Some(Reverse((at, id))) = self.deadlines.peek().copied() else { break };
            if at > now {
                break;
            }
            self.deadlines.pop();
            if self.orders.get(&id).is_some_and(|o| o.state.holds_units()) {
                released.push(self.release(id, OrderState::Expired, now));
            }
        }
        released
    }

    /// The buyer gives up an unpaid order; its units return to stock at once.
    pub fn cancel(
        &mut self,
        order_id: OrderId,
        buyer_id: BuyerId,
        now: Timestamp,
    ) -> Result<StateChange, CancelError> {
        let order =
            self.orders.get(&order_id).filter(|o| o.buyer_id == buyer_id).ok_or(CancelError::UnknownOrder)?;
        if order.state != OrderState::PendingPayment {
            return Err(CancelError::NotPending(order.state));
        }
        Ok(self.release(order_id, OrderState::Cancelled, now).change)
    }

    /// Payment arrived for an order: its held units become sold.
    ///
    /// A payment at or after the deadline does not count, even if the expiry timer has not run
    /// yet: the hold is released now and the caller must refund.
    pub fn confirm_payment(
        &mut self,
        order_id: OrderId,
        now: Timestamp,
    ) -> Result<StateChange, ConfirmError> {
        let order = self.orders.get(&order_id).ok_or(ConfirmError::UnknownOrder)?;
        match order.payable(now) {
            Err(NotPayable::Expired) => {
                Err(ConfirmError::HoldExpired(self.release(order_id, OrderState::Expired, now).change))
            }
            Ok(()) => {
                let order = self.orders.get_mut(&order_id).expect("looked up above");
                let change = StateChange { order_id, from: order.state, to: OrderState::Paid, at: now };
                order.state = OrderState::Paid;
                order.updated_at = now;
                let quantity = order.quantity;
                let tally = self.buyers.get_mut(&order.buyer_id).expect("tally of an order");
                tally.held -= quantity;
                tally.bought += quantity;
                self.reserved -= quantity;
                self.sold += quantity;
                self.pending -= 1;
                self.compact_deadlines();
                self.assert_balanced();
                Ok(change)
            }
            Err(NotPayable::State(state)) if state.sold_units() => Err(ConfirmError::AlreadyPaid),
            Err(NotPayable::State(state)) => Err(ConfirmError::NotPending(state)),
        }
    }

    /// Puts `units` of a refunded order back on sale, once per refund: sold becomes available.
    /// The buyer's tally keeps them as bought (a refund does not raise what they may buy).
    pub fn restock(
        &mut self,
        refund: RefundId,
        order_id: OrderId,
        units: u32,
    ) -> Result<Restocked, RestockError> {
        if self.restocked.contains_key(&refund) {
            return Ok(Restocked::AlreadyDone);
        }
        let order =
            self.orders.get(&order_id).filter(|o| o.state.sold_units()).ok_or(RestockError::NotSold)?;
        let before: u32 =
            self.restocked.values().filter(|(order, _)| *order == order_id).map(|(_, units)| units).sum();
        let left = order.quantity - before;
        if units == 0 || units > left {
            return Err(RestockError::MoreThanSold { left });
        }
        self.restocked.insert(refund, (order_id, units));
        self.sold -= units;
        self.available += units;
        self.assert_balanced();
        Ok(Restocked::Done)
    }

    /// Rebuilds the restocks of a restored sale from storage: `(refund, order, units)`.
    pub fn restore_restocks(
        &mut self,
        restocks: impl IntoIterator<Item = (RefundId, OrderId, u32)>,
    ) -> Result<(), RestockError> {
        for (refund, order_id, units) in restocks {
            self.restock(refund, order_id, units)?;
        }
        Ok(())
    }

    /// Moves a pending order to `to` (expired or cancelled) and its units back to available.
    /// The order is forgotten but for its replay receipt, which its buyer's tally keeps.
    fn release(&mut self, order_id: OrderId, to: OrderState, now: Timestamp) -> Release {
        let order = self.orders.remove(&order_id).expect("released order exists");
        assert_eq!(order.state, OrderState::PendingPayment);
        assert!(order.state.can_become(to));
        let change = StateChange { order_id, from: order.state, to, at: now };
        let tally = self.buyers.get_mut(&order.buyer_id).expect("tally of an order");
        tally.held -= order.quantity;
        self.reserved -= order.quantity;
        self.available += order.quantity;
        self.pending -= 1;
        self.compact_deadlines();
        self.assert_balanced();
        Release { change, buyer_id: order.buyer_id, client_network: order.client_network }
    }

    /// Drops the deadlines of orders that are no longer pending once they outnumber the pending
    /// ones, so that buyers who cancel and order again cannot grow the heap without bound.
    /// Amortised O(1): a rebuild happens only after as many releases as there are entries left.
    fn compact_deadlines(&mut self) {
        if self.deadlines.len() > 2 * self.pending + 64 {
            let orders = &self.orders;
            self.deadlines.retain(|Reverse((_, id))| orders.get(id).is_some_and(|o| o.state.holds_units()));
        }
    }

    fn assert_balanced(&self) {
        assert!(self.counts().is_balanced(), "stock out of balance: {:?}", self.counts());
    }
}

mod buyer_keys;
pub mod doors;
mod verify;

#[cfg(test)]
mod tests;
