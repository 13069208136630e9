//! Paying an order: a payment is recorded per order and channel, then created at the wanted
//! channel; a channel that fails is marked down and the next one in the failover order is
//! tried. A channel that answers "no" stays up but is skipped for this payment.

use engine::ledger::Channel;
use engine::payment::PaymentState;
use engine::{BuyerId, Fen, NotPayable, Order, OrderId, PaymentId, Timestamp};
use persistence::DbErr;
use persistence::payments::{self as repo, NewPayment};
use providers::payments::{ChannelError, CreateRequest, PayMethod};
use thiserror::Error;

use super::Payments;

/// What the buyer asked for, parsed; the order is one the buyer may see.
pub struct NewPaymentRequest {
    pub order: Order,
    pub buyer: BuyerId,
    pub wanted: Channel,
    pub method: PayMethod,
    /// The payer's openid, for WeChat JSAPI payments inside WeChat.
    pub openid: Option<String>,
    pub payer_ip: String,
}

/// A payment a channel took, with what the channel answered for the buyer's page.
pub struct PaymentCreated {
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    pub channel: Channel,
    pub method: PayMethod,
    pub requested_channel: Channel,
    pub out_trade_no: String,
    pub amount_fen: Fen,
    pub expires_at: Timestamp,
    /// The channel's own fields (`code_url`, `h5_url`, `qr_code`, …), passed through.
    pub offer: serde_json::Value,
}

impl PaymentCreated {
    /// Another channel than the one asked for took the payment.
    pub fn failover(&self) -> bool {
        self.channel != self.requested_channel
    }
}

/// Why no payment was created.
#[derive(Debug, Error)]
pub enum CreateError {
    #[error(transparent)]
    NotPayable(NotPayable),
    /// The buyer has not said where the order ships to.
    #[error("set the order's shipping address before paying")]
    AddressRequired,
    /// Every channel in the failover order failed or refused; the last reason.
    #[error("no payment channel could take the payment ({0})")]
    ChannelsUnavailable(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The channel's order number for an order: the order id and a channel letter.
pub fn out_trade_no(order_id: OrderId, channel: Channel) -> String {
    format!("FS{}{}", order_id.0, if channel == Channel::Wechat { "W" } else { "A" })
}

impl Payments {
    /// Creates the payment of a payable order, failing over between channels.
    pub async fn create(&self, request: NewPaymentRequest) -> Result<PaymentCreated, CreateError> {
        let NewPaymentRequest { order, buyer, wanted, method, openid, payer_ip } = request;
        let now = self.clock.now();
        order.payable(now).map_err(CreateError::NotPayable)?;
        if persistence::addresses::of_order(&self.db, order.id).await?.is_none() {
            return Err(CreateError::AddressRequired);
        }
        let title = self
            .stock
            .get(order.flash_sale_id)
            .map(|sale| sale.terms.title.clone())
            .unwrap_or_else(|| format!("order {}", order.id));
        let mut last_error = None;
        for channel in self.channels.failover_order(wanted) {
            let method = method.on(channel);
            let new = NewPayment {
                order_id: order.id,
                merchant_id: order.merchant_id,
                buyer_id: buyer,
                channel,
                method: method.as_str().to_owned(),
                out_trade_no: out_trade_no(order.id, channel),
                amount_fen: order.amount_fen,
            };
            let payment = repo::payment_for(&self.db, new, now).await?;
            if payment.state != PaymentState::Created {
                continue;
            }
            let create = CreateRequest {
                out_trade_no: payment.out_trade_no.clone(),
                amount: order.amount_fen,
                description: title.clone(),
                expires_at: order.expires_at,
                method,
                payer_openid: openid.clone(),
                payer_ip: payer_ip.clone(),
                sub_merchant: None,
                split: None,
            };
            match self.channels.create(channel, &create).await {
                Ok(offer) => {
                    self.channels.mark_up(channel);
                    metrics::counter!("flashsale_payments_created_total", "channel" => channel.as_str())
                        .increment(1);
                    return Ok(PaymentCreated {
                        payment_id: payment.id,
                        order_id: order.id,
                        channel,
                        method,
                        requested_channel: wanted,
                        out_trade_no: payment.out_trade_no,
                        amount_fen: order.amount_fen,
                        expires_at: order.expires_at,
                        offer,
                    });
                }
                Err(ChannelError::Refused { code, message }) => {
                    // The channel is up and said no (e.g. the trade is already paid there).
                    tracing::warn!(channel = channel.as_str(), %code, %message, "channel refused a payment");
                    last_error = Some(format!("{}: {code} {message}", channel.as_str()));
                }
                Err(error) if error.is_outage() => {
                    tracing::warn!(channel = channel.as_str(), %error, "channel failed to create a payment; failing over");
                    self.channels.mark_down(channel);
                    last_error = Some(format!("{}: {error}", channel.as_str()));
                }
                Err(error) => {
                    // About this request only (a 4xx: a mistyped openid, a field the channel
                    // would not take): this buyer is offered the next channel, and the channel
                    // stays offered to everyone else.
                    tracing::warn!(channel = channel.as_str(), %error, "channel refused this payment; trying the next");
                    last_error = Some(format!("{}: {error}", channel.as_str()));
                }
            }
        }
        Err(CreateError::ChannelsUnavailable(last_error.unwrap_or_default()))
    }
}
