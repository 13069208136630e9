//! After-sales refunds as values: when a buyer may ask ([`may_ask`], the return window), how
//! much a request is ([`RefundAsk::amount`]: a whole order, a number of units, or an amount,
//! never more than what is left), where a request stands ([`RefundState`]), what becomes of
//! the refunded units ([`Restock`]) and what a merchant's decision records
//! ([`RefundDecision`]).
//!
//! The money of an approved refund is the engine's proportional rule
//! (`settlement::PaymentSettlement::refund_owed`): fee and shares reversed in proportion, the
//! amount owed to the buyer until the channel confirms.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::notification::{Notice, NoticeKind};
use crate::{BuyerId, Fen, MerchantId, OrderId, OrderState, PaymentId, RefundId, Timestamp};

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// Longest reason or note a buyer or merchant may write, in characters.
pub const TEXT_MAX_CHARS: usize = 200;

/// The after-sales policy of the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReturnPolicy {
    /// Days after delivery in which a buyer may return a product without a reason (七天无理由).
    pub no_reason_days: u32,
}

impl Default for ReturnPolicy {
    fn default() -> Self {
        Self { no_reason_days: 7 }
    }
}

/// Why a buyer may not ask for a refund of an order now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WindowError {
    #[error("an order that is {} cannot be refunded", .0.as_str())]
    NotRefundable(OrderState),
    #[error("this product takes no returns without a reason once it has shipped")]
    NoReasonReturnsRefused,
    #[error("the {days}-day return window after delivery has closed")]
    WindowClosed { days: u32 },
}

/// Whether the buyer of an order in `state` may ask for a refund at `now`.
///
/// Not shipped yet (`paid`): any time. Once shipped, only where the product takes no-reason
/// returns: while in transit, and until `no_reason_days` after delivery. A completed order
/// without a delivery time (received before any tracking said delivered) counts as in transit.
pub fn may_ask(
    state: OrderState,
    delivered_at: Option<Timestamp>,
    now: Timestamp,
    policy: ReturnPolicy,
    no_reason_returns: bool,
) -> Result<(), WindowError> {
    match state {
        OrderState::Paid => Ok(()),
        OrderState::Shipped | OrderState::Completed => {
            if !no_reason_returns {
                return Err(WindowError::NoReasonReturnsRefused);
            }
            let Some(delivered_at) = delivered_at else { return Ok(()) };
            let closes = delivered_at.as_millis().saturating_add(i64::from(policy.no_reason_days) * DAY_MS);
            if now.as_millis() < closes {
                Ok(())
            } else {
                Err(WindowError::WindowClosed { days: policy.no_reason_days })
            }
        }
        other => Err(WindowError::NotRefundable(other)),
    }
}

/// What a buyer asks back: everything left, a number of units, or an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundAsk {
    Whole,
    Units(u32),
    Amount(Fen),
}

/// What is asked or refunded of an order so far (requests not rejected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Taken {
    pub amount: Fen,
    pub units: u32,
}

/// The money and units of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundAmount {
    pub amount: Fen,
    /// Units that go back with it (0 for an amount-only refund such as a price adjustment).
    pub units: u32,
}

/// Why a request's amount is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AskError {
    #[error("a refund must be at least 1 fen or 1 unit")]
    NotPositive,
    #[error("only {left} fen ({units_left} units) of the order are left to refund")]
    ExceedsWhatIsLeft { left: i64, units_left: u32 },
}

impl RefundAsk {
    /// The request's amount on an order of `quantity` units paid `paid`, `taken` being asked or
    /// refunded already. A unit is `paid / quantity` (exact: an order's amount is its unit
    /// price times its quantity).
    pub fn amount(self, paid: Fen, quantity: u32, taken: Taken) -> Result<RefundAmount, AskError> {
        assert!(quantity > 0 && paid.as_i64() % i64::from(quantity) == 0, "amount = price × quantity");
        let left = paid.as_i64() - taken.amount.as_i64();
        let units_left = quantity.saturating_sub(taken.units);
        let exceeds = AskError::ExceedsWhatIsLeft { left: left.max(0), units_left };
        let unit = paid.as_i64() / i64::from(quantity);
        let asked = match self {
            RefundAsk::Whole => RefundAmount { amount: Fen(left), units: units_left },
            RefundAsk::Units(0) => return Err(AskError::NotPositive),
            RefundAsk::Units(units) if units > units_left => return Err(exceeds),
            RefundAsk::Units(units) => RefundAmount { amount: Fen(unit * i64::from(units)), units },
            RefundAsk::Amount(amount) if amount.as_i64() <= 0 => return Err(AskError::NotPositive),
            RefundAsk::Amount(amount) => RefundAmount { amount, units: 0 },
        };
        if asked.amount.as_i64() <= 0 {
            return Err(exceeds);
        }
        if asked.amount.as_i64() > left {
            return Err(exceeds);
        }
        Ok(asked)
    }
}

/// Where a refund request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundState {
    /// Asked by the buyer; the merchant has not decided.
    Requested,
    /// Approved: owed to the buyer until the channel confirms.
    Approved,
    /// The channel paid it back.
    Refunded,
    Rejected,
}

impl RefundState {
    pub const ALL: [RefundState; 4] =
        [RefundState::Requested, RefundState::Approved, RefundState::Refunded, RefundState::Rejected];

    pub const fn as_str(self) -> &'static str {
        match self {
            RefundState::Requested => "requested",
            RefundState::Approved => "approved",
            RefundState::Refunded => "refunded",
            RefundState::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// Where the units of an approved refund go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Restock {
    /// Back on sale in the order's flash sale (only units not shipped).
    Sale,
    /// Back to the product's stock in the merchant's catalogue.
    Product,
    /// Nowhere (damaged, kept by the buyer, not shipped back).
    None,
}

impl Restock {
    pub const ALL: [Restock; 3] = [Restock::Sale, Restock::Product, Restock::None];

    pub const fn as_str(self) -> &'static str {
        match self {
            Restock::Sale => "sale",
            Restock::Product => "product",
            Restock::None => "none",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// A buyer's refund request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub id: RefundId,
    pub order_id: OrderId,
    pub merchant_id: MerchantId,
    pub buyer_id: BuyerId,
    /// The payment that paid the order, which the refund goes back through.
    pub payment_id: PaymentId,
    pub amount_fen: Fen,
    pub units: u32,
    pub reason: String,
    pub note: String,
    pub state: RefundState,
    /// Where the units go; set on approval.
    pub restock: Option<Restock>,
    /// The merchant's reason for a rejection.
    pub decision_reason: String,
    /// When the units went back to the sale (a restock to the sale, done once).
    pub restocked_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl RefundRequest {
    /// The channel's `out_refund_no` of this request: the same for every retry.
    pub fn out_refund_no(&self) -> String {
        format!("A{}", self.id)
    }
}

/// A refund request that was decided, as a settlement actor remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecidedRefund {
    pub id: RefundId,
    pub order_id: OrderId,
    pub amount_fen: Fen,
    pub approved: bool,
}

/// A merchant's decision on a request, journaled with its posting (if approved) and the
/// buyer's notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundDecision {
    pub refund_id: RefundId,
    pub order_id: OrderId,
    pub amount_fen: Fen,
    pub units: u32,
    /// `Some` where the units go when approved; `None` when rejected.
    pub approved: Option<Restock>,
    /// The merchant's reason, for a rejection.
    pub reason: String,
    pub at: Timestamp,
}

impl RefundDecision {
    /// What the buyer is told.
    pub fn notice(&self) -> Notice {
        let mut params = BTreeMap::from([("order_id".to_owned(), self.order_id.0.to_string())]);
        let kind = match self.approved {
            Some(_) => {
                params.insert("amount_yuan".to_owned(), self.amount_fen.to_string());
                params.insert("amount_cny".to_owned(), format!("¥{}", self.amount_fen));
                NoticeKind::RefundApproved
            }
            None => {
                // WeChat's `thing` values hold 20 characters.
                params.insert("reason".to_owned(), self.reason.chars().take(20).collect());
                NoticeKind::RefundRejected
            }
        };
        Notice { kind, order_id: self.order_id, occurrence: self.refund_id.to_string(), params, at: self.at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = DAY_MS;

    #[test]
    fn before_shipping_any_time_after_delivery_seven_days_where_allowed() {
        let policy = ReturnPolicy::default();
        let far = Timestamp(400 * DAY);
        assert_eq!(may_ask(OrderState::Paid, None, far, policy, false), Ok(()));
        // In transit: allowed where the product takes no-reason returns.
        assert_eq!(may_ask(OrderState::Shipped, None, far, policy, true), Ok(()));
        assert_eq!(
            may_ask(OrderState::Shipped, None, far, policy, false),
            Err(WindowError::NoReasonReturnsRefused)
        );
        let delivered = Some(Timestamp(10 * DAY));
        assert_eq!(may_ask(OrderState::Shipped, delivered, Timestamp(17 * DAY - 1), policy, true), Ok(()));
        assert_eq!(
            may_ask(OrderState::Completed, delivered, Timestamp(17 * DAY), policy, true),
            Err(WindowError::WindowClosed { days: 7 })
        );
        assert_eq!(
            may_ask(OrderState::Completed, delivered, Timestamp(11 * DAY), policy, false),
            Err(WindowError::NoReasonReturnsRefused)
        );
        let longer = ReturnPolicy { no_reason_days: 15 };
        assert_eq!(may_ask(OrderState::Completed, delivered, Timestamp(17 * DAY), longer, true), Ok(()));
        for state in
            [OrderState::PendingPayment, OrderState::Expired, OrderState::Cancelled, OrderState::Refunded]
        {
            assert_eq!(
                may_ask(state, None, Timestamp(0), policy, true),
                Err(WindowError::NotRefundable(state))
            );
        }
    }

    #[test]
    fn amounts_are_whole_units_or_fen_and_never_more_than_is_left() {
        // 3 units at 33.33 yuan.
        let (paid, quantity) = (Fen(9_999), 3);
        let none = Taken::default();
        assert_eq!(
            RefundAsk::Whole.amount(paid, quantity, none),
            Ok(RefundAmount { amount: paid, units: 3 })
        );
        assert_eq!(
            RefundAsk::Units(1).amount(paid, quantity, none),
            Ok(RefundAmount { amount: Fen(3_333), units: 1 })
        );
        let one = Taken { amount: Fen(3_333), units: 1 };
        assert_eq!(
            RefundAsk::Whole.amount(paid, quantity, one),
            Ok(RefundAmount { amount: Fen(6_666), units: 2 })
        );
        assert_eq!(
            RefundAsk::Units(3).amount(paid, quantity, one),
            Err(AskError::ExceedsWhatIsLeft { left: 6_666, units_left: 2 })
        );
        assert_eq!(
            RefundAsk::Amount(Fen(6_667)).amount(paid, quantity, one),
            Err(AskError::ExceedsWhatIsLeft { left: 6_666, units_left: 2 })
        );
        assert_eq!(
            RefundAsk::Amount(Fen(1)).amount(paid, quantity, one),
            Ok(RefundAmount { amount: Fen(1), units: 0 })
        );
        assert_eq!(RefundAsk::Units(0).amount(paid, quantity, none), Err(AskError::NotPositive));
        assert_eq!(RefundAsk::Amount(Fen(0)).amount(paid, quantity, none), Err(AskError::NotPositive));
        let all = Taken { amount: paid, units: 3 };
        assert_eq!(
            RefundAsk::Whole.amount(paid, quantity, all),
            Err(AskError::ExceedsWhatIsLeft { left: 0, units_left: 0 })
        );
    }

    #[test]
    fn names_round_trip_and_decisions_tell_the_buyer() {
        for state in RefundState::ALL {
            assert_eq!(RefundState::parse(state.as_str()), Some(state));
        }
        for restock in Restock::ALL {
            assert_eq!(Restock::parse(restock.as_str()), Some(restock));
        }
        let approved = RefundDecision {
            refund_id: RefundId(9),
            order_id: OrderId(4),
            amount_fen: Fen(3_333),
            units: 1,
            approved: Some(Restock::Sale),
            reason: String::new(),
            at: Timestamp(5),
        };
        let notice = approved.notice();
        assert_eq!(notice.kind, NoticeKind::RefundApproved);
        assert_eq!(notice.params["amount_yuan"], "33.33");
        assert_eq!(notice.dedupe_key(crate::notification::NoticeChannel::Sms), "refund_approved:4.9:sms");
        let rejected = RefundDecision {
            approved: None,
            reason: "商品已拆封使用，影响二次销售，按平台规则无法退款".into(),
            ..approved
        };
        let notice = rejected.notice();
        assert_eq!(notice.kind, NoticeKind::RefundRejected);
        assert_eq!(notice.params["reason"].chars().count(), 20);
    }
}
