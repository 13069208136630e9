//! Payment channels: WeChat Pay API v3 and Alipay, each behind [`PaymentChannel`], and
//! [`Channels`], which offers them in order of preference with failover.
//!
//! Each channel has its folder: `protocol` (pure functions over keys, headers and bodies,
//! shared by the client, the sandbox and the tests), `client` (the HTTP client that signs every
//! request and verifies every answer) and `bill` (its daily statement). Opening a
//! notification stays a method of each client: what arrives (signed headers and an encrypted
//! JSON body, or a signed form) and how it is refused differ per channel.

pub mod alipay;
pub mod failover;
mod http;
pub mod types;
pub mod wechat;
pub mod yuan;

use std::future::Future;
use std::pin::Pin;

use engine::ledger::Channel;
use serde_json::Value;

pub use alipay::AlipayClient;
pub use failover::Channels;
pub use types::{
    ChannelError, CreateRequest, PayMethod, RefundRequest, Split, SplitReceiver, StatementLine, SubMerchant,
    TradeStatus, VerifiedPayment,
};
pub use wechat::WechatClient;

/// The future a [`PaymentChannel`] method returns: boxed, so that the trait is usable as
/// `dyn PaymentChannel`.
pub type ChannelFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ChannelError>> + Send + 'a>>;

/// What the platform asks of a payment channel. Every call is idempotent at the channel
/// (`out_trade_no`, `out_refund_no`), so a call may be repeated after a failure.
pub trait PaymentChannel: Send + Sync {
    /// Which channel this is.
    fn channel(&self) -> Channel;

    /// Creates the payment; the answer is what the buyer's page needs (`code_url`,
    /// JSAPI parameters, `h5_url`, `qr_code`, `pay_url`).
    fn create<'a>(&'a self, request: &'a CreateRequest) -> ChannelFuture<'a, Value>;

    /// What the channel says about a trade (the active query behind lost notifications).
    fn query<'a>(&'a self, out_trade_no: &'a str) -> ChannelFuture<'a, TradeStatus>;

    /// Closes an unpaid trade, so that it can no longer be paid.
    fn close<'a>(&'a self, out_trade_no: &'a str) -> ChannelFuture<'a, ()>;

    /// Asks for a refund; whether the channel says the money went back.
    fn refund<'a>(&'a self, request: &'a RefundRequest) -> ChannelFuture<'a, bool>;

    /// The channel's movements of a Beijing calendar day (`yyyy-MM-dd`).
    fn statement<'a>(&'a self, bill_date: &'a str) -> ChannelFuture<'a, Vec<StatementLine>>;
}

/// Both channels write times in Beijing time (UTC+8), whatever the server's zone.
pub(crate) fn beijing() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3_600).expect("UTC+8")
}
