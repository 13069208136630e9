//! The active query: every `created` payment without news for `query_after` is asked about
//! at its channel. Paid ones go through [`Payments::report`], like a notification; unpaid ones
//! whose order can no longer be paid (`engine::Order::payable`) are closed at the channel.

use engine::payment::PaymentState;
use engine::{PaymentId, Timestamp};
use persistence::payments::{self as payment_repo, PaymentRecord};
use persistence::{DbErr, repo as core_repo};
use providers::payments::{TradeStatus, VerifiedPayment};

use super::Payments;

/// What one pass of the active query did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct QuerySweep {
    pub queried: u32,
    pub found_paid: u32,
    pub closed: u32,
    pub failed: u32,
}

enum Swept {
    Paid,
    Closed,
    Waiting,
}

impl Payments {
    /// One pass: every `created` payment older than `query_after` is asked about.
    pub async fn query_sweep(&self) -> Result<QuerySweep, DbErr> {
        let now = self.clock.now();
        let query_after_ms = i64::try_from(self.settings.query_after.as_millis()).unwrap_or(i64::MAX);
        let before = Timestamp(now.as_millis().saturating_sub(query_after_ms));
        let mut sweep = QuerySweep::default();
        let mut after_id = PaymentId(0);
        loop {
            let page =
                payment_repo::payments_in_state(&self.db, PaymentState::Created, before, after_id, 500)
                    .await?;
            let Some(last) = page.last() else { break };
            after_id = last.id;
            let full = page.len() == 500;
            for payment in page {
                sweep.queried += 1;
                match self.query_one(&payment, now).await {
                    Ok(Swept::Paid) => sweep.found_paid += 1,
                    Ok(Swept::Closed) => sweep.closed += 1,
                    Ok(Swept::Waiting) => {}
                    Err(error) => {
                        sweep.failed += 1;
                        tracing::warn!(payment_id = payment.id.0, %error, "active query failed");
                    }
                }
            }
            if !full {
                break;
            }
        }
        if sweep.found_paid > 0 {
            metrics::counter!("flashsale_active_query_found_total").increment(u64::from(sweep.found_paid));
        }
        Ok(sweep)
    }

    async fn query_one(&self, payment: &PaymentRecord, now: Timestamp) -> anyhow::Result<Swept> {
        let channel = payment.channel;
        match self.channels.query(channel, &payment.out_trade_no).await? {
            TradeStatus::Paid { transaction_id, amount } => {
                let paid = VerifiedPayment {
                    channel,
                    out_trade_no: payment.out_trade_no.clone(),
                    transaction_id,
                    amount,
                };
                self.report(paid).await?;
                Ok(Swept::Paid)
            }
            TradeStatus::Closed => {
                payment_repo::close_payment(&self.db, payment.id, now).await?;
                Ok(Swept::Closed)
            }
            TradeStatus::NotPaid => {
                // Unpaid and its order can no longer be paid: close it at the channel, so that
                // a buyer who still scans the code cannot pay into nothing.
                let order = core_repo::order(&self.db, payment.order_id).await?;
                let payable = order.is_some_and(|o| o.payable(now).is_ok());
                if payable {
                    return Ok(Swept::Waiting);
                }
                self.channels.close(channel, &payment.out_trade_no).await?;
                // A payment that raced the close is found paid by the next query instead.
                match self.channels.query(channel, &payment.out_trade_no).await? {
                    TradeStatus::Paid { .. } => Ok(Swept::Waiting),
                    _ => {
                        payment_repo::close_payment(&self.db, payment.id, now).await?;
                        Ok(Swept::Closed)
                    }
                }
            }
        }
    }
}
