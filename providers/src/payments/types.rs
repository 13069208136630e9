//! What the platform and the payment channels say to each other, whatever the channel: the
//! requests, the answers, and why a call failed.

use engine::ledger::Channel;
use engine::{Fen, Timestamp};
use thiserror::Error;

/// Why a call to a channel did not give a usable answer.
#[derive(Debug, Clone, Error)]
pub enum ChannelError {
    #[error("channel unreachable: {0}")]
    Transport(String),
    #[error("channel answered HTTP {0}: {1}")]
    Status(u16, String),
    #[error("channel's answer failed verification: {0}")]
    Signature(String),
    #[error("channel refused: {code} {message}")]
    Refused { code: String, message: String },
    #[error("channel's answer is malformed: {0}")]
    Protocol(String),
    #[error("channel {0} is not configured")]
    Disabled(&'static str),
}

impl ChannelError {
    /// Whether the channel itself is failing (unreachable, timed out, or a 5xx), so that it
    /// should be skipped for everyone for a while. A 4xx, a refusal or an answer we could not
    /// read is about this one request (a bad `openid` a buyer typed, a trade already paid): the
    /// next buyer must still be offered the channel.
    pub fn is_outage(&self) -> bool {
        match self {
            ChannelError::Transport(_) => true,
            ChannelError::Status(status, _) => *status >= 500,
            ChannelError::Signature(_)
            | ChannelError::Refused { .. }
            | ChannelError::Protocol(_)
            | ChannelError::Disabled(_) => false,
        }
    }
}

/// `text` cut to at most `max_bytes` bytes of UTF-8, at a character boundary: the channels
/// count a description's length in bytes (WeChat's `description` is string(127), so 42 Chinese
/// characters), and refuse the whole payment when it is longer.
pub fn cut_to_bytes(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// How the buyer's page will pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayMethod {
    /// WeChat Native: a QR code (`code_url`).
    Native,
    /// WeChat JSAPI: inside WeChat, with the payer's openid.
    Jsapi,
    /// WeChat H5: a mobile browser outside WeChat.
    H5,
    /// Alipay precreate: a QR code (`qr_code`).
    Precreate,
    /// Alipay WAP: a signed redirect to the cashier.
    Wap,
}

impl PayMethod {
    pub fn parse(channel: Channel, raw: Option<&str>) -> Option<PayMethod> {
        Some(match (channel, raw) {
            (Channel::Wechat, None | Some("native")) => PayMethod::Native,
            (Channel::Wechat, Some("jsapi")) => PayMethod::Jsapi,
            (Channel::Wechat, Some("h5")) => PayMethod::H5,
            (Channel::Alipay, None | Some("precreate")) => PayMethod::Precreate,
            (Channel::Alipay, Some("wap")) => PayMethod::Wap,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PayMethod::Native => "native",
            PayMethod::Jsapi => "jsapi",
            PayMethod::H5 => "h5",
            PayMethod::Precreate => "precreate",
            PayMethod::Wap => "wap",
        }
    }

    /// The same kind of payment on another channel (failover keeps QR as QR, page as page).
    pub fn on(self, channel: Channel) -> PayMethod {
        match (channel, self) {
            (Channel::Wechat, PayMethod::Precreate) => PayMethod::Native,
            (Channel::Wechat, PayMethod::Wap) => PayMethod::H5,
            (Channel::Alipay, PayMethod::Native) => PayMethod::Precreate,
            (Channel::Alipay, PayMethod::Jsapi | PayMethod::H5) => PayMethod::Wap,
            (_, same) => same,
        }
    }
}

/// What to create at the channel.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub out_trade_no: String,
    pub amount: Fen,
    pub description: String,
    pub expires_at: Timestamp,
    pub method: PayMethod,
    pub payer_openid: Option<String>,
    pub payer_ip: String,
    /// Where the channel's page sends the buyer afterwards (Alipay WAP `return_url`, and its
    /// `quit_url` for leaving the cashier); one of the platform's own pages.
    pub return_url: Option<String>,
    /// The merchant the money goes to when the platform acts as the channel's partner
    /// (`reference/compliant-payments.md`). `None`: a direct payment to the platform's own
    /// account, the only kind the clients make today.
    pub sub_merchant: Option<SubMerchant>,
    /// How the payment is to be shared after capture (WeChat 分账, Alipay royalty). Only
    /// with a sub-merchant; `None` today.
    pub split: Option<Split>,
}

/// A merchant registered under the platform at the channel: WeChat Pay `sub_mchid` (service
/// provider, 电商收付通) or Alipay `smid` (直付通).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubMerchant {
    /// `sub_mchid` or `smid`.
    pub id: String,
    /// WeChat `sub_appid`, when the buyer pays inside the sub-merchant's own app.
    pub app_id: Option<String>,
}

/// The shares of a payment that go to others than the sub-merchant (its MCN, the platform).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub receivers: Vec<SplitReceiver>,
}

/// One share of a [`Split`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitReceiver {
    /// The receiver's account at the channel (merchant id or openid; Alipay user id).
    pub account: String,
    pub amount: Fen,
    pub description: String,
}

/// A refund to ask for; the same `out_refund_no` twice is one refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub out_trade_no: String,
    pub out_refund_no: String,
    /// What goes back.
    pub refund: Fen,
    /// What the payment was (WeChat Pay wants both).
    pub total: Fen,
}

/// What a channel says about a trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeStatus {
    Paid { transaction_id: String, amount: Fen },
    NotPaid,
    Closed,
}

/// A verified payment report (from a notification or a query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPayment {
    pub channel: Channel,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub amount: Fen,
}

/// One movement of a channel's daily statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub transaction_id: String,
    pub out_trade_no: String,
    /// `PAY` or `REFUND`.
    pub kind: String,
    pub amount_fen: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failover_keeps_the_kind_of_payment() {
        assert_eq!(PayMethod::Native.on(Channel::Alipay), PayMethod::Precreate);
        assert_eq!(PayMethod::H5.on(Channel::Alipay), PayMethod::Wap);
        assert_eq!(PayMethod::Wap.on(Channel::Wechat), PayMethod::H5);
        assert_eq!(PayMethod::Precreate.on(Channel::Alipay), PayMethod::Precreate);
        assert_eq!(PayMethod::parse(Channel::Wechat, Some("precreate")), None);
    }

    #[test]
    fn only_transport_failures_and_5xx_are_outages() {
        let refused = ChannelError::Refused { code: "ORDERPAID".into(), message: String::new() };
        for (error, outage) in [
            (ChannelError::Transport("connection refused".into()), true),
            (ChannelError::Status(500, String::new()), true),
            (ChannelError::Status(503, String::new()), true),
            (ChannelError::Status(400, "PARAM_ERROR".into()), false),
            (ChannelError::Status(404, String::new()), false),
            (ChannelError::Status(429, String::new()), false),
            (ChannelError::Signature("bad".into()), false),
            (ChannelError::Protocol("bad json".into()), false),
            (refused, false),
        ] {
            assert_eq!(error.is_outage(), outage, "{error}");
        }
    }

    #[test]
    fn descriptions_are_cut_at_a_character_boundary() {
        assert_eq!(cut_to_bytes("lipstick", 127), "lipstick");
        // 43 three-byte characters are 129 bytes: 42 of them fit in 127.
        let long = "口".repeat(43);
        let cut = cut_to_bytes(&long, 127);
        assert_eq!((cut.len(), cut.chars().count()), (126, 42));
        assert_eq!(cut_to_bytes("ab口", 3), "ab");
        assert_eq!(cut_to_bytes("ab口", 5), "ab口");
    }
}
