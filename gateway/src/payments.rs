//! What happens to a verified payment, whoever reported it (a notification or the active
//! query), and the two background loops that make sure no payment is lost or kept:
//!
//! - the **active query** asks the channels about payments that had no news for
//!   `payments.query_after_ms` (a dropped notification, a crash before the credit) and feeds
//!   the paid ones through the same path as a notification; never-paid attempts whose order is
//!   gone are closed at the channel;
//! - the **refund worker** pays back every payment recorded as owed to its buyer (late,
//!   double, rejected in review), idempotently (`out_refund_no` = `R` + payment id), and posts
//!   the refund once the channel confirms.

use std::sync::Arc;
use std::time::Duration;

use actors::{PaymentOutcome, PaymentReport, SettlementHandle, StartError};
use engine::payment::{PaymentState, Review};
use engine::{MerchantId, PaymentId, Timestamp};
use persistence::payments::{self as payment_repo, PaymentRecord};
use persistence::{DbErr, money as repo, repo as core_repo};
use providers::payments::{TradeStatus, VerifiedPayment};
use thiserror::Error;

use crate::AppState;

/// Why a verified payment report was not applied.
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

/// The settlement actor of a merchant, started from its stored books on first use.
pub async fn settlement_of(
    state: &AppState,
    merchant_id: MerchantId,
) -> Result<SettlementHandle, ReportError> {
    let load_books = || repo::books(&state.db, merchant_id);
    state.settlements.get_or_start(merchant_id, load_books).await.map_err(|e| match e {
        StartError::Load(e) => ReportError::Db(e),
        other => ReportError::Db(DbErr::Custom(other.to_string())),
    })
}

fn busy(e: impl std::fmt::Display) -> ReportError {
    ReportError::Busy(e.to_string())
}

/// Applies a verified payment: credited once, or recorded as owed back to the buyer. Returns
/// once what was decided is durable.
pub async fn report(state: &AppState, paid: VerifiedPayment) -> Result<PaymentOutcome, ReportError> {
    let payment = payment_repo::payment_by_out_trade_no(&state.db, &paid.out_trade_no)
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
    let order = core_repo::order(&state.db, payment.order_id)
        .await?
        .ok_or_else(|| ReportError::Db(DbErr::RecordNotFound(format!("order {}", payment.order_id))))?;
    // A settled sale's actor is started for the payment's verdict (late: refunded) and leaves
    // again once it has answered.
    let sale =
        state.sale(order.flash_sale_id).await.map_err(busy)?.ok_or_else(|| {
            busy(format!("flash sale {} of order {} is gone", order.flash_sale_id, order.id))
        })?;
    let settlement = settlement_of(state, payment.merchant_id).await?;
    let report = PaymentReport {
        payment_id: payment.id,
        order_id: order.id,
        channel: paid.channel,
        transaction_id: paid.transaction_id,
        amount_fen: paid.amount,
        sale,
    };
    let outcome = settlement.payment(report).await.map_err(busy)?;
    wait_durable(state, outcome.seq()).await?;
    let label = match outcome {
        PaymentOutcome::Credited { held: false, .. } => "credited",
        PaymentOutcome::Credited { held: true, .. } => "held_for_review",
        PaymentOutcome::Duplicate { .. } => "duplicate",
        PaymentOutcome::RefundOwed { .. } => "refund_owed",
    };
    metrics::counter!("flashsale_payment_reports_total", "outcome" => label).increment(1);
    if matches!(outcome, PaymentOutcome::RefundOwed { .. }) {
        state.refunds_due.notify_one();
    }
    Ok(outcome)
}

pub async fn wait_durable(state: &AppState, seq: actors::Seq) -> Result<(), ReportError> {
    match tokio::time::timeout(state.settings.ack_timeout(), state.journal.wait_durable(seq)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(busy(e)),
        Err(_) => Err(busy("not durable in time")),
    }
}

/// What one pass of the active query did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct QuerySweep {
    pub queried: u32,
    pub found_paid: u32,
    pub closed: u32,
    pub failed: u32,
}

/// One pass: every `created` payment older than `query_after_ms` is asked about.
pub async fn query_sweep(state: &AppState) -> Result<QuerySweep, DbErr> {
    let now = state.clock.now();
    let before = Timestamp(now.as_millis() - state.settings.payments.query_after_ms as i64);
    let mut sweep = QuerySweep::default();
    let mut after_id = PaymentId(0);
    loop {
        let page =
            payment_repo::payments_in_state(&state.db, PaymentState::Created, before, after_id, 500).await?;
        let Some(last) = page.last() else { break };
        after_id = last.id;
        let full = page.len() == 500;
        for payment in page {
            sweep.queried += 1;
            match query_one(state, &payment, now).await {
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

enum Swept {
    Paid,
    Closed,
    Waiting,
}

async fn query_one(state: &AppState, payment: &PaymentRecord, now: Timestamp) -> anyhow::Result<Swept> {
    let channel = payment.channel;
    match state.channels.query(channel, &payment.out_trade_no).await? {
        TradeStatus::Paid { transaction_id, amount } => {
            let paid = VerifiedPayment {
                channel,
                out_trade_no: payment.out_trade_no.clone(),
                transaction_id,
                amount,
            };
            report(state, paid).await?;
            Ok(Swept::Paid)
        }
        TradeStatus::Closed => {
            payment_repo::close_payment(&state.db, payment.id, now).await?;
            Ok(Swept::Closed)
        }
        TradeStatus::NotPaid => {
            // Unpaid and its order can no longer be paid: close it at the channel, so that a
            // buyer who still scans the code cannot pay into nothing.
            let order = core_repo::order(&state.db, payment.order_id).await?;
            let payable = order.is_some_and(|o| o.payable(now).is_ok());
            if payable {
                return Ok(Swept::Waiting);
            }
            state.channels.close(channel, &payment.out_trade_no).await?;
            // A payment that raced the close is found paid by the next query instead.
            match state.channels.query(channel, &payment.out_trade_no).await? {
                TradeStatus::Paid { .. } => Ok(Swept::Waiting),
                _ => {
                    payment_repo::close_payment(&state.db, payment.id, now).await?;
                    Ok(Swept::Closed)
                }
            }
        }
    }
}

/// One pass of the refund worker; how many refunds were confirmed.
pub async fn refund_sweep(state: &AppState) -> Result<u32, DbErr> {
    let (mut done, mut after_id) = (0, PaymentId(0));
    loop {
        let owed = payment_repo::payments_in_state(
            &state.db,
            PaymentState::RefundPending,
            Timestamp(i64::MAX),
            after_id,
            500,
        )
        .await?;
        let Some(last) = owed.last() else { break };
        after_id = last.id;
        for payment in &owed {
            match refund_one(state, payment).await {
                Ok(true) => done += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(payment_id = payment.id.0, %error, "refund not confirmed yet; will retry")
                }
            }
        }
    }
    Ok(done)
}

async fn refund_one(state: &AppState, payment: &PaymentRecord) -> anyhow::Result<bool> {
    let (channel, amount) = (payment.channel, payment.amount_fen);
    let out_refund_no = format!("R{}", payment.id);
    if !state.channels.refund(channel, &payment.out_trade_no, &out_refund_no, amount).await? {
        return Ok(false); // still processing at the channel
    }
    // A payment rejected in review refunds its order; a late or double one leaves the order be.
    let capture = repo::capture_of_order(&state.db, payment.order_id).await?;
    let order_refunded =
        capture.filter(|c| c.payment_id == payment.id && c.review == Review::Rejected).map(|c| c.order_id);
    let settlement = settlement_of(state, payment.merchant_id).await?;
    let seq = settlement.refund_paid(payment.id, channel, amount, order_refunded).await?;
    wait_durable(state, seq).await?;
    metrics::counter!("flashsale_refunds_total", "channel" => channel.as_str()).increment(1);
    Ok(true)
}

/// Runs the loops (and the nightly reconciliation) until the process stops.
pub fn spawn_background(state: Arc<AppState>) -> Vec<tokio::task::JoinHandle<()>> {
    let query = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(Duration::from_millis(state.settings.payments.query_interval_ms));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(error) = query_sweep(&state).await {
                    tracing::warn!(%error, "active query pass failed");
                }
            }
        })
    };
    let nightly = tokio::spawn(crate::reconciliation::run_nightly(state.clone()));
    let refunds = tokio::spawn(async move {
        let every = Duration::from_millis(state.settings.payments.refund_interval_ms);
        loop {
            // Woken at once when a refund becomes owed, else on the interval (retries).
            let _ = tokio::time::timeout(every, state.refunds_due.notified()).await;
            if let Err(error) = refund_sweep(&state).await {
                tracing::warn!(%error, "refund pass failed");
            }
        }
    });
    vec![query, refunds, nightly]
}
