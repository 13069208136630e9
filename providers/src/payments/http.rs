//! Sending a request to a channel: the one retry every client makes.

use super::ChannelError;

pub(crate) fn transport(e: reqwest::Error) -> ChannelError {
    ChannelError::Transport(e.to_string())
}

/// Sends a request built by `build`, once more if the first attempt failed before an answer
/// for any reason but a timeout: a pooled keep-alive connection that the other side had just
/// closed fails that way. Every call to a channel is idempotent (`out_trade_no`,
/// `out_refund_no`), and each attempt is built, and signed, afresh.
pub(crate) async fn send_retrying_once(
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, ChannelError> {
    match build().send().await {
        Ok(response) => Ok(response),
        Err(e) if e.is_timeout() => Err(transport(e)),
        Err(first) => {
            tracing::debug!(error = %first, "channel request failed before an answer; sending it again");
            build().send().await.map_err(transport)
        }
    }
}
