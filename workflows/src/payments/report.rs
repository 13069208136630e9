//! What happens to a verified payment, whoever reported it: checked against the stored
//! payment (amount, channel), handed to the merchant's settlement actor (credited once, or
//! recorded as owed back to the buyer), answered once what was decided is durable.

use actors::{PaymentOutcome, PaymentReport};
use persistence::payments as payment_repo;
use persistence::{DbErr, repo as core_repo};
use providers::payments::VerifiedPayment;
use thiserror::Error;

use super::Payments;

/// Why a verified payment report (or another step through a settlement actor) was not applied.
#[derive(Debug, Error)]
pub enum ReportError {
    #[error("no payment of ours has out_trade_no {0}")]
    UnknownTrade(String),
    #[error("the payment was made through {reported}, not {expected}")]
    WrongChannel { reported: &'static str, expected: String },
    #[error("the channel says {reported} fen, the payment is {expected} fen")]
    AmountMismatch { reported: i64, expected: i64 },
    #[error("try again: {0}")]
    Busy(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

pub(super) fn busy(e: impl std::fmt::Display) -> ReportError {
    ReportError::Busy(e.to_string())
}

impl Payments {
    /// Applies a verified payment: credited once, or recorded as owed back to the buyer.
    /// Returns once what was decided is durable.
    pub async fn report(&self, paid: VerifiedPayment) -> Result<PaymentOutcome, ReportError> {
        let payment = payment_repo::payment_by_out_trade_no(&self.db, &paid.out_trade_no)
            .await?
            .ok_or_else(|| ReportError::UnknownTrade(paid.out_trade_no.clone()))?;
        if payment.channel != paid.channel {
            return Err(ReportError::WrongChannel {
                reported: paid.channel.as_str(),
                expected: payment.channel.as_str().to_owned(),
            });
        }
        if paid.amount != payment.amount_fen {
            metrics::counter!("flashsale_payment_reports_refused_total", "reason" => "amount").increment(1);
            return Err(ReportError::AmountMismatch {
                reported: paid.amount.as_i64(),
                expected: payment.amount_fen.as_i64(),
            });
        }
        let order = core_repo::order(&self.db, payment.order_id)
            .await?
            .ok_or_else(|| ReportError::Db(DbErr::RecordNotFound(format!("order {}", payment.order_id))))?;
        // A settled sale's actor is started for the payment's verdict (late: refunded) and
        // leaves again once it has answered.
        let sale = crate::sales::running_or_started(&self.db, &self.stock, order.flash_sale_id)
            .await
            .map_err(busy)?
            .ok_or_else(|| {
                busy(format!("flash sale {} of order {} is gone", order.flash_sale_id, order.id))
            })?;
        let settlement = self.settlement_of(payment.merchant_id).await?;
        let report = PaymentReport {
            payment_id: payment.id,
            order_id: order.id,
            channel: paid.channel,
            transaction_id: paid.transaction_id,
            amount_fen: paid.amount,
            sale,
        };
        let outcome = settlement.payment(report).await.map_err(busy)?;
        self.wait_durable(outcome.seq()).await?;
        let label = match outcome {
            PaymentOutcome::Credited { held: false, .. } => "credited",
            PaymentOutcome::Credited { held: true, .. } => "held_for_review",
            PaymentOutcome::Duplicate { .. } => "duplicate",
            PaymentOutcome::RefundOwed { .. } => "refund_owed",
        };
        metrics::counter!("flashsale_payment_reports_total", "outcome" => label).increment(1);
        if matches!(outcome, PaymentOutcome::RefundOwed { .. }) {
            self.refund_owed();
        }
        Ok(outcome)
    }
}
