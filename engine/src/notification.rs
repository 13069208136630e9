//! Notifications to buyers as values: what happened ([`NoticeKind`]), by which channel it goes
//! ([`NoticeChannel`]), the one grammar of dedupe keys, and the delivery rules (exponential
//! backoff with jitter, a dead letter after a bounded number of attempts).
//!
//! A notice is written to the outbox in the same transaction as the change it reports, one
//! row per channel, under a dedupe key that names the change: writing it again (a retried
//! journal batch, a repeated request) is a no-op, and a worker that delivers at least once
//! never sends two rows for one key.

use std::collections::BTreeMap;

use crate::{Fen, OrderId, Timestamp};

/// What a buyer is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoticeKind {
    OrderPaid,
    OrderShipped,
    OrderDelivered,
    RefundApproved,
    RefundRejected,
    /// To the merchant: a shop on a live platform lost its grant (authorise again).
    ShopDisconnected,
    /// To the merchant: a SKU's stock fell to or under its low-stock threshold (once per
    /// crossing).
    LowStock,
    /// To the merchant: an operator took down its sale or product after a fan's report.
    SaleTakenDown,
    /// To the merchant: an operator banned it.
    MerchantBanned,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 9] = [
        NoticeKind::OrderPaid,
        NoticeKind::OrderShipped,
        NoticeKind::OrderDelivered,
        NoticeKind::RefundApproved,
        NoticeKind::RefundRejected,
        NoticeKind::ShopDisconnected,
        NoticeKind::LowStock,
        NoticeKind::SaleTakenDown,
        NoticeKind::MerchantBanned,
    ];

    /// Whether the merchant (by its phone, `merchant_id` among the values) hears of it, not the
    /// order's buyer.
    pub const fn is_for_merchant(self) -> bool {
        matches!(
            self,
            NoticeKind::ShopDisconnected
                | NoticeKind::LowStock
                | NoticeKind::SaleTakenDown
                | NoticeKind::MerchantBanned
        )
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            NoticeKind::OrderPaid => "order_paid",
            NoticeKind::OrderShipped => "order_shipped",
            NoticeKind::OrderDelivered => "order_delivered",
            NoticeKind::RefundApproved => "refund_approved",
            NoticeKind::RefundRejected => "refund_rejected",
            NoticeKind::ShopDisconnected => "shop_disconnected",
            NoticeKind::LowStock => "low_stock",
            NoticeKind::SaleTakenDown => "sale_taken_down",
            NoticeKind::MerchantBanned => "merchant_banned",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// How a notice reaches the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoticeChannel {
    /// A text message to the buyer's phone.
    Sms,
    /// A WeChat mini-program subscription message to the buyer's openid.
    WechatMp,
}

impl NoticeChannel {
    pub const ALL: [NoticeChannel; 2] = [NoticeChannel::Sms, NoticeChannel::WechatMp];

    pub const fn as_str(self) -> &'static str {
        match self {
            NoticeChannel::Sms => "sms",
            NoticeChannel::WechatMp => "wechat_mp",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// A notice about an order, before it is written: one per channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub order_id: OrderId,
    /// What makes this change distinct from others of its kind on the order (a refund's id, a
    /// shipment's waybill); empty when the kind happens once per order (paid, delivered).
    pub occurrence: String,
    /// Named values the templates pick from (`order_id`, `amount_yuan`, `amount_cny`,
    /// `courier`, `waybill_no`, `reason`…).
    pub params: BTreeMap<String, String>,
    pub at: Timestamp,
}

impl Notice {
    /// `order_paid:{order}:sms`, `refund_approved:{order}.{refund}:wechat_mp`.
    pub fn dedupe_key(&self, channel: NoticeChannel) -> String {
        if self.occurrence.is_empty() {
            format!("{}:{}:{}", self.kind.as_str(), self.order_id.0, channel.as_str())
        } else {
            format!("{}:{}.{}:{}", self.kind.as_str(), self.order_id.0, self.occurrence, channel.as_str())
        }
    }

    /// The buyer is told their order `order_id` was paid `amount`.
    pub fn order_paid(order_id: OrderId, amount: Fen, at: Timestamp) -> Self {
        let params = BTreeMap::from([
            ("order_id".to_owned(), order_id.0.to_string()),
            ("amount_yuan".to_owned(), amount.to_string()),
            ("amount_cny".to_owned(), format!("¥{amount}")),
        ]);
        Self { kind: NoticeKind::OrderPaid, order_id, occurrence: String::new(), params, at }
    }

    /// The buyer is told their order left with `courier` (its Chinese name) under `waybill_no`;
    /// the waybill names the occurrence.
    pub fn order_shipped(order_id: OrderId, courier: &str, waybill_no: &str, at: Timestamp) -> Self {
        let params = BTreeMap::from([
            ("order_id".to_owned(), order_id.0.to_string()),
            ("courier".to_owned(), courier.to_owned()),
            ("waybill_no".to_owned(), waybill_no.to_owned()),
        ]);
        Self { kind: NoticeKind::OrderShipped, order_id, occurrence: waybill_no.to_owned(), params, at }
    }

    /// The merchant is told its shop on `platform` (its Chinese name) lost its grant; about no
    /// order (id 0), once per disconnection (`occurrence`: the shop and the time).
    pub fn shop_disconnected(
        merchant_id: crate::MerchantId,
        platform: &str,
        shop_name: &str,
        occurrence: String,
        at: Timestamp,
    ) -> Self {
        let params = BTreeMap::from([
            ("merchant_id".to_owned(), merchant_id.0.to_string()),
            ("platform".to_owned(), platform.to_owned()),
            ("shop_name".to_owned(), shop_name.to_owned()),
        ]);
        Self { kind: NoticeKind::ShopDisconnected, order_id: OrderId(0), occurrence, params, at }
    }

    /// The merchant is told a SKU of `product_title` (`sku`: its code and spec values) is down
    /// to `stock`, at or under its `threshold`; about no order, once per crossing
    /// (`occurrence`: the SKU and how many times it crossed).
    pub fn low_stock(
        merchant_id: crate::MerchantId,
        product_title: &str,
        sku: &str,
        stock: i64,
        threshold: i64,
        occurrence: String,
        at: Timestamp,
    ) -> Self {
        let params = BTreeMap::from([
            ("merchant_id".to_owned(), merchant_id.0.to_string()),
            ("product_title".to_owned(), product_title.to_owned()),
            ("sku".to_owned(), sku.to_owned()),
            ("stock".to_owned(), stock.to_string()),
            ("threshold".to_owned(), threshold.to_string()),
        ]);
        Self { kind: NoticeKind::LowStock, order_id: OrderId(0), occurrence, params, at }
    }

    /// The merchant is told an operator took down `product_title` (and its sale, if the report
    /// named one) for `reason`; once per report (`occurrence`: the report's id).
    pub fn sale_taken_down(
        merchant_id: crate::MerchantId,
        product_title: &str,
        flash_sale_id: Option<crate::FlashSaleId>,
        reason: &str,
        report_id: i64,
        at: Timestamp,
    ) -> Self {
        let mut params = BTreeMap::from([
            ("merchant_id".to_owned(), merchant_id.0.to_string()),
            ("product_title".to_owned(), product_title.to_owned()),
            ("reason".to_owned(), reason.to_owned()),
        ]);
        if let Some(sale) = flash_sale_id {
            params.insert("flash_sale_id".to_owned(), sale.0.to_string());
        }
        Self {
            kind: NoticeKind::SaleTakenDown,
            order_id: OrderId(0),
            occurrence: format!("report{report_id}"),
            params,
            at,
        }
    }

    /// The merchant is told it was banned for `reason`; once per ban (`occurrence`: its id).
    pub fn merchant_banned(merchant_id: crate::MerchantId, reason: &str, ban_id: i64, at: Timestamp) -> Self {
        let params = BTreeMap::from([
            ("merchant_id".to_owned(), merchant_id.0.to_string()),
            ("reason".to_owned(), reason.to_owned()),
        ]);
        Self {
            kind: NoticeKind::MerchantBanned,
            order_id: OrderId(0),
            occurrence: format!("ban{ban_id}"),
            params,
            at,
        }
    }

    /// The buyer is told their order was delivered (once per order).
    pub fn order_delivered(order_id: OrderId, at: Timestamp) -> Self {
        let params = BTreeMap::from([("order_id".to_owned(), order_id.0.to_string())]);
        Self { kind: NoticeKind::OrderDelivered, order_id, occurrence: String::new(), params, at }
    }
}

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxState {
    /// Waiting for its next attempt (or being attempted under a lease).
    Pending,
    Delivered,
    /// Not to be sent: the buyer has no address on this channel, or the channel has no
    /// template for the kind.
    Skipped,
    /// Attempts spent or refused for good; waits for an operator's replay.
    Dead,
}

impl OutboxState {
    pub const fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Skipped => "skipped",
            OutboxState::Dead => "dead",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [OutboxState::Pending, OutboxState::Delivered, OutboxState::Skipped, OutboxState::Dead]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// How hard a message is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRules {
    /// Attempts before a message becomes a dead letter.
    pub max_attempts: u32,
    /// Wait after the first failure; doubled after each next one.
    pub base_delay_ms: i64,
    /// The longest wait between two attempts.
    pub max_delay_ms: i64,
    /// How long a claimed message is left to its worker before another may take it (a worker
    /// that died mid-send): longer than any one send may take.
    pub lease_ms: i64,
}

impl Default for DeliveryRules {
    fn default() -> Self {
        Self { max_attempts: 8, base_delay_ms: 5_000, max_delay_ms: 3_600_000, lease_ms: 60_000 }
    }
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(Timestamp),
    Dead,
}

impl DeliveryRules {
    /// The wait after the `attempts`-th failed attempt (1-based): `base × 2^(attempts−1)`,
    /// capped, of which the upper half is scaled by `jitter` ∈ [0, 1) ("equal jitter"): never
    /// less than half the exponential step, so the waits still grow, and workers that failed
    /// together spread out.
    pub fn delay_ms(&self, attempts: u32, jitter: f64) -> i64 {
        assert!(attempts >= 1);
        let exponent = attempts.saturating_sub(1).min(32);
        let step = self.base_delay_ms.saturating_mul(1_i64 << exponent).min(self.max_delay_ms);
        let jitter = jitter.clamp(0.0, 1.0);
        step / 2 + ((step - step / 2) as f64 * jitter) as i64
    }

    /// After a failed attempt that made `attempts` in all (1-based), at `now`.
    pub fn after_failure(&self, attempts: u32, now: Timestamp, jitter: f64) -> AfterFailure {
        if attempts >= self.max_attempts {
            AfterFailure::Dead
        } else {
            AfterFailure::RetryAt(now.plus_millis(self.delay_ms(attempts, jitter)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in NoticeKind::ALL {
            assert_eq!(NoticeKind::parse(kind.as_str()), Some(kind));
        }
        for channel in NoticeChannel::ALL {
            assert_eq!(NoticeChannel::parse(channel.as_str()), Some(channel));
        }
        assert_eq!(NoticeKind::parse("order_refunded"), None);
    }

    #[test]
    fn dedupe_keys_name_the_change_and_the_channel() {
        let paid = Notice::order_paid(OrderId(42), Fen(1_990), Timestamp(0));
        assert_eq!(paid.dedupe_key(NoticeChannel::Sms), "order_paid:42:sms");
        assert_eq!(paid.params["amount_yuan"], "19.90");
        assert_eq!(paid.params["amount_cny"], "¥19.90");
        let shipped = Notice::order_shipped(OrderId(42), "中通快递", "731234567890", Timestamp(0));
        assert_eq!(shipped.dedupe_key(NoticeChannel::Sms), "order_shipped:42.731234567890:sms");
        assert_eq!(shipped.params["courier"], "中通快递");
        let delivered = Notice::order_delivered(OrderId(42), Timestamp(0));
        assert_eq!(delivered.dedupe_key(NoticeChannel::WechatMp), "order_delivered:42:wechat_mp");
        let refund = Notice { kind: NoticeKind::RefundApproved, occurrence: "7".into(), ..paid };
        assert_eq!(refund.dedupe_key(NoticeChannel::WechatMp), "refund_approved:42.7:wechat_mp");
        // The merchant's notices are about no order: their occurrence names the change.
        let merchant = crate::MerchantId(3);
        let low = Notice::low_stock(merchant, "纯棉T恤", "C0-S", 4, 5, "17.2".into(), Timestamp(0));
        assert_eq!(low.dedupe_key(NoticeChannel::Sms), "low_stock:0.17.2:sms");
        assert!(low.kind.is_for_merchant() && low.params["merchant_id"] == "3");
        let down = Notice::sale_taken_down(merchant, "口红", None, "假货", 9, Timestamp(0));
        assert_eq!(down.dedupe_key(NoticeChannel::Sms), "sale_taken_down:0.report9:sms");
        let banned = Notice::merchant_banned(merchant, "售假", 2, Timestamp(0));
        assert_eq!(banned.dedupe_key(NoticeChannel::Sms), "merchant_banned:0.ban2:sms");
        assert!(!NoticeKind::OrderPaid.is_for_merchant());
    }

    #[test]
    fn backoff_doubles_within_its_jitter_and_caps_then_gives_up() {
        let rules = DeliveryRules { max_attempts: 5, base_delay_ms: 1_000, max_delay_ms: 6_000, lease_ms: 1 };
        let expected = [(1, 500, 1_000), (2, 1_000, 2_000), (3, 2_000, 4_000), (4, 3_000, 6_000)];
        for (attempts, low, high) in expected {
            assert_eq!(rules.delay_ms(attempts, 0.0), low);
            assert_eq!(rules.delay_ms(attempts, 0.999_999), high - 1);
            let mid = rules.delay_ms(attempts, 0.5);
            assert!(low < mid && mid < high);
        }
        assert_eq!(rules.delay_ms(60, 0.0), 3_000, "no overflow far out");
        assert_eq!(rules.after_failure(4, Timestamp(10), 0.0), AfterFailure::RetryAt(Timestamp(3_010)));
        assert_eq!(rules.after_failure(5, Timestamp(10), 0.0), AfterFailure::Dead);
    }
}
