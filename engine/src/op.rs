//! Operation ids: the one grammar of the [`OpId`]s that name ledger postings.
//!
//! An operation id is the posting's primary key in the database and the ledger's duplicate
//! check in memory, so the same operation must always get the same id: a provider
//! transaction's capture is `pay:{channel}:{transaction}` however often it is reported. Ids are
//! built and read back only here; the text is stored, so it never changes.

use std::fmt;

use crate::books::EntryKind;
use crate::ledger::{Channel, OpId};
use crate::{OrderId, PaymentId, RefundId, WithdrawalId};

/// What a posting does, as its operation id says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op {
    /// A payment captured for its order: `pay:{channel}:{transaction}`.
    Payment { channel: Channel, transaction_id: String },
    /// A payment that pays no order (late, double), owed back: `unmatched:{channel}:{transaction}`.
    Unmatched { channel: Channel, transaction_id: String },
    /// The channel confirmed the refund of a payment: `refund:{channel}:{payment}`.
    Refund { channel: Channel, payment_id: PaymentId },
    /// The channel confirmed part of an after-sales refund request of a payment:
    /// `refund:{channel}:{payment}.{refund}`.
    RefundPart { channel: Channel, payment_id: PaymentId, refund_id: RefundId },
    /// A live platform refunded one of its orders that was credited as ours (the platform
    /// paid the buyer back itself): `platform-refund:{channel}:{platform order}`.
    PlatformRefund { channel: Channel, platform_order_id: String },
    /// A merchant approved an after-sales refund request: the capture is reversed in
    /// proportion and the amount owed back, `refund-approved:{refund}`.
    RefundApproved(RefundId),
    /// A payment held for review was approved: `release:{order}`.
    Release(OrderId),
    /// A payment held for review was rejected: `reject:{order}`.
    Rejection(OrderId),
    /// A withdrawal was requested: `withdraw:{withdrawal}`.
    Withdrawal(WithdrawalId),
    /// A withdrawal was paid out: `withdraw-paid:{withdrawal}`.
    WithdrawalPaid(WithdrawalId),
    /// A withdrawal was rejected: `withdraw-rejected:{withdrawal}`.
    WithdrawalRejected(WithdrawalId),
}

impl Op {
    /// The operation's id, as posted and stored.
    pub fn id(&self) -> OpId {
        OpId(self.to_string())
    }

    /// Reads an operation id back; `None` if it is not one this grammar writes.
    pub fn parse(op: &OpId) -> Option<Op> {
        let (kind, rest) = op.0.split_once(':')?;
        let number = || rest.parse::<i64>().ok();
        let on_channel = || {
            let (channel, key) = rest.split_once(':')?;
            Some((Channel::parse(channel)?, key))
        };
        Some(match kind {
            "pay" => {
                let (channel, key) = on_channel()?;
                Op::Payment { channel, transaction_id: key.to_owned() }
            }
            "unmatched" => {
                let (channel, key) = on_channel()?;
                Op::Unmatched { channel, transaction_id: key.to_owned() }
            }
            "refund" => {
                let (channel, key) = on_channel()?;
                match key.split_once('.') {
                    Some((payment, refund)) => Op::RefundPart {
                        channel,
                        payment_id: PaymentId(payment.parse().ok()?),
                        refund_id: RefundId(refund.parse().ok()?),
                    },
                    None => Op::Refund { channel, payment_id: PaymentId(key.parse().ok()?) },
                }
            }
            "platform-refund" => {
                let (channel, key) = on_channel()?;
                if key.is_empty() {
                    return None;
                }
                Op::PlatformRefund { channel, platform_order_id: key.to_owned() }
            }
            "refund-approved" => Op::RefundApproved(RefundId(number()?)),
            "release" => Op::Release(OrderId(number()?)),
            "reject" => Op::Rejection(OrderId(number()?)),
            "withdraw" => Op::Withdrawal(WithdrawalId(number()?)),
            "withdraw-paid" => Op::WithdrawalPaid(WithdrawalId(number()?)),
            "withdraw-rejected" => Op::WithdrawalRejected(WithdrawalId(number()?)),
            _ => return None,
        })
    }

    /// What a posting of this operation is about, for the ledger's readers.
    pub const fn kind(&self) -> EntryKind {
        match self {
            Op::Payment { .. } => EntryKind::Payment,
            Op::Unmatched { .. } => EntryKind::Unmatched,
            Op::Refund { .. } | Op::RefundPart { .. } | Op::PlatformRefund { .. } => EntryKind::Refund,
            Op::RefundApproved(_) => EntryKind::RefundApproved,
            Op::Release(_) => EntryKind::Release,
            Op::Rejection(_) => EntryKind::Rejection,
            Op::Withdrawal(_) => EntryKind::Withdrawal,
            Op::WithdrawalPaid(_) => EntryKind::WithdrawalPaid,
            Op::WithdrawalRejected(_) => EntryKind::WithdrawalRejected,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Payment { channel, transaction_id } => write!(f, "pay:{}:{transaction_id}", channel.as_str()),
            Op::Unmatched { channel, transaction_id } => {
                write!(f, "unmatched:{}:{transaction_id}", channel.as_str())
            }
            Op::Refund { channel, payment_id } => write!(f, "refund:{}:{payment_id}", channel.as_str()),
            Op::RefundPart { channel, payment_id, refund_id } => {
                write!(f, "refund:{}:{payment_id}.{refund_id}", channel.as_str())
            }
            Op::PlatformRefund { channel, platform_order_id } => {
                write!(f, "platform-refund:{}:{platform_order_id}", channel.as_str())
            }
            Op::RefundApproved(id) => write!(f, "refund-approved:{id}"),
            Op::Release(order) => write!(f, "release:{order}"),
            Op::Rejection(order) => write!(f, "reject:{order}"),
            Op::Withdrawal(id) => write!(f, "withdraw:{id}"),
            Op::WithdrawalPaid(id) => write!(f, "withdraw-paid:{id}"),
            Op::WithdrawalRejected(id) => write!(f, "withdraw-rejected:{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_stored_text_and_read_back() {
        let cases = [
            (
                Op::Payment { channel: Channel::Wechat, transaction_id: "4200001234".into() },
                "pay:wechat:4200001234",
            ),
            (
                Op::Unmatched { channel: Channel::Alipay, transaction_id: "2026:x".into() },
                "unmatched:alipay:2026:x",
            ),
            (Op::Refund { channel: Channel::Alipay, payment_id: PaymentId(17) }, "refund:alipay:17"),
            (
                Op::RefundPart {
                    channel: Channel::Wechat,
                    payment_id: PaymentId(17),
                    refund_id: RefundId(3),
                },
                "refund:wechat:17.3",
            ),
            (
                Op::PlatformRefund { channel: Channel::Douyin, platform_order_id: "6920000000000001".into() },
                "platform-refund:douyin:6920000000000001",
            ),
            (Op::RefundApproved(RefundId(4)), "refund-approved:4"),
            (Op::Release(OrderId(5)), "release:5"),
            (Op::Rejection(OrderId(6)), "reject:6"),
            (Op::Withdrawal(WithdrawalId(7)), "withdraw:7"),
            (Op::WithdrawalPaid(WithdrawalId(8)), "withdraw-paid:8"),
            (Op::WithdrawalRejected(WithdrawalId(9)), "withdraw-rejected:9"),
        ];
        for (op, text) in cases {
            assert_eq!(op.id(), OpId(text.into()));
            assert_eq!(Op::parse(&op.id()), Some(op));
        }
    }

    #[test]
    fn foreign_ids_are_not_read() {
        for bad in [
            "",
            "pay",
            "pay:visa:1",
            "refund:wechat:x",
            "refund:wechat:1.x",
            "refund-approved:",
            "platform-refund:douyin:",
            "platform-refund:visa:1",
            "release:",
            "withdraw:1.5",
            "other:1",
        ] {
            assert_eq!(Op::parse(&OpId(bad.into())), None, "{bad}");
        }
    }
}
