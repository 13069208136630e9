//! The refund worker: every payment recorded as owed back (late, double, rejected in review)
//! — and every approved after-sales refund request (`aftersales.rs`) — is refunded at its channel under `out_refund_no` = `R` + payment id (so a retry is the same
//! refund), and posted through the merchant's settlement actor once the channel confirms.

use engine::payment::{PaymentState, Review};
use engine::{PaymentId, Timestamp};
use persistence::payments::{self as payment_repo, PaymentRecord};
use persistence::{DbErr, money as repo};

use super::Payments;

impl Payments {
    /// One pass of the refund worker; how many refunds were confirmed.
    pub async fn refund_sweep(&self) -> Result<u32, DbErr> {
        let (mut done, mut after_id) = (0, PaymentId(0));
        loop {
            let owed = payment_repo::payments_in_state(
                &self.db,
                PaymentState::RefundPending,
                Timestamp(i64::MAX),
                after_id,
                500,
            )
            .await?;
            let Some(last) = owed.last() else { break };
            after_id = last.id;
            for payment in &owed {
                match self.refund_one(payment).await {
                    Ok(true) => done += 1,
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(payment_id = payment.id.0, %error, "refund not confirmed yet; will retry")
                    }
                }
            }
        }
        // After-sales refunds approved by merchants go back the same way.
        done += self.aftersales_sweep().await?;
        Ok(done)
    }

    async fn refund_one(&self, payment: &PaymentRecord) -> anyhow::Result<bool> {
        let (channel, amount) = (payment.channel, payment.amount_fen);
        let out_refund_no = format!("R{}", payment.id);
        if !self.channels.refund(channel, &payment.out_trade_no, &out_refund_no, amount).await? {
            return Ok(false); // still processing at the channel
        }
        // A payment rejected in review refunds its order; a late or double one leaves the
        // order be.
        let capture = repo::capture_of_order(&self.db, payment.order_id).await?;
        let order_refunded = capture
            .filter(|c| c.payment_id == payment.id && c.review == Review::Rejected)
            .map(|c| c.order_id);
        let settlement = self.settlement_of(payment.merchant_id).await?;
        let seq = settlement.refund_paid(payment.id, channel, amount, order_refunded).await?;
        self.wait_durable(seq).await?;
        metrics::counter!("flashsale_refunds_total", "channel" => channel.as_str()).increment(1);
        Ok(true)
    }
}
