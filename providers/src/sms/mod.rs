//! Text messages to fans' phones: the [`SmsSender`] port and its adapter for Tencent Cloud SMS.
//! Login codes and order notifications (through the outbox) use it.

pub mod tencent;

use std::future::Future;
use std::pin::Pin;

use engine::{Phone, Timestamp};
use thiserror::Error;

/// What the provider said about a message it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The provider's serial number of the message, for support requests.
    pub serial_no: String,
    /// Billed message parts.
    pub fee: u32,
}

/// Why a message did not go out. Never carries the message's parameters: they may be codes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SmsError {
    /// The provider could not be reached or did not answer in time.
    #[error("sms provider unreachable: {0}")]
    Transport(String),
    /// The provider refused the request as a whole (signature, keys, template, parameters).
    #[error("sms provider refused the request: {code}: {message}")]
    Refused { code: String, message: String },
    /// The request was accepted but this number was not sent to (limits, blocked number).
    #[error("sms provider did not send to the number: {code}: {message}")]
    NotSent { code: String, message: String },
    /// The answer was not what the protocol promises.
    #[error("sms provider answered something unexpected: {0}")]
    BadAnswer(String),
}

/// The future a sender returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Sent, SmsError>> + Send + 'a>>;

/// The future of [`SmsSender::already_sent`].
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, SmsError>> + Send + 'a>>;

/// Sends one templated text message. `template_id` names a template approved at the provider;
/// `params` fill its `{1}`, `{2}`… in order.
pub trait SmsSender: Send + Sync {
    fn send<'a>(&'a self, phone: &'a Phone, template_id: &'a str, params: &'a [String]) -> SendFuture<'a>;

    /// As [`SmsSender::send`], tagged with the caller's reference for the message (Tencent's
    /// `SessionContext`, handed back unchanged): the outbox passes its dedupe key, so that a
    /// message can be told apart from a second copy. Senders without such a field just send.
    fn send_with_context<'a>(
        &'a self,
        phone: &'a Phone,
        template_id: &'a str,
        params: &'a [String],
        context: &'a str,
    ) -> SendFuture<'a> {
        let _ = context;
        self.send(phone, template_id, params)
    }

    /// Whether the provider already took a message to `phone` sent with `context` since
    /// `since` (Tencent: a delivery receipt with that `SessionContext`). The outbox asks before
    /// it sends again a message whose earlier attempt was cut short by a crash. `false` means
    /// no evidence of it (and is all a sender without receipts can say): it is sent again.
    fn already_sent<'a>(&'a self, phone: &'a Phone, since: Timestamp, context: &'a str) -> CheckFuture<'a> {
        let _ = (phone, since, context);
        Box::pin(async { Ok(false) })
    }
}
