//! The payment workflow, behind [`Payments`]: the narrow context it needs (database, channels,
//! the stock and settlement registries, the journal, the clock) and nothing of HTTP.
//!
//! - [`create`]: a payment at the wanted channel, failing over to the next one;
//! - [`report`]: what a verified payment report does, whoever made it (a notification or the
//!   active query);
//! - [`query`]: the **active query** asks the channels about payments that had no news for
//!   `query_after_ms` (a dropped notification, a crash before the credit) and feeds the paid
//!   ones through the same path as a notification; never-paid attempts whose order is gone are
//!   closed at the channel;
//! - [`refunds`]: the **refund worker** pays back every payment recorded as owed to its buyer
//!   (late, double, rejected in review), idempotently (`out_refund_no` = `R` + payment id), and
//!   posts the refund once the channel confirms;
//! - [`aftersales`]: buyers' refund requests and merchants' decisions; approved ones are paid
//!   back by the same worker (`out_refund_no` = `A` + request id), their units put back on
//!   sale through the stock actor once;
//! - [`reconciliation`]: each channel's daily bill against the ledger, on demand and nightly.

pub mod aftersales;
pub mod books;
pub mod create;
pub mod query;
pub mod reconciliation;
pub mod refunds;
pub mod report;

use std::sync::Arc;
use std::time::Duration;

use actors::{Clock, Journal, SettlementHandle, SettlementRegistry, StartError, StockRegistry};
use engine::MerchantId;
use persistence::{DatabaseConnection, DbErr, money as repo};
use providers::payments::Channels;
use tokio::sync::Notify;

pub use aftersales::AfterSalesError;
pub use books::BooksError;
pub use create::{CreateError, NewPaymentRequest, PaymentCreated};
pub use query::QuerySweep;
pub use report::ReportError;

/// What the payment workflow reads from configuration.
#[derive(Debug, Clone, Copy)]
pub struct PaymentSettings {
    /// How long a step waits for its journal batch to be durable.
    pub ack_timeout: Duration,
    /// A `created` payment without news for this long is asked about.
    pub query_after: Duration,
    /// How often the active query runs on its own.
    pub query_interval: Duration,
    /// How often the refund worker retries what is still owed.
    pub refund_interval: Duration,
    /// When a buyer may ask for an after-sales refund.
    pub return_policy: engine::aftersales::ReturnPolicy,
}

/// The payment workflow's context: everything payments touch, and nothing else.
pub struct Payments {
    pub db: DatabaseConnection,
    pub channels: Channels,
    pub stock: Arc<StockRegistry>,
    pub settlements: Arc<SettlementRegistry>,
    pub journal: Journal,
    pub clock: Arc<dyn Clock>,
    pub settings: PaymentSettings,
    /// Woken when a refund becomes owed, so the refund worker sends it at once.
    refunds_due: Notify,
}

impl Payments {
    pub fn new(
        db: DatabaseConnection,
        channels: Channels,
        stock: Arc<StockRegistry>,
        settlements: Arc<SettlementRegistry>,
        journal: Journal,
        clock: Arc<dyn Clock>,
        settings: PaymentSettings,
    ) -> Self {
        Self { db, channels, stock, settlements, journal, clock, settings, refunds_due: Notify::new() }
    }

    /// A refund became owed (a payment that paid nothing, a rejected review): send it now
    /// rather than on the next interval.
    pub fn refund_owed(&self) {
        self.refunds_due.notify_one();
    }

    /// The settlement actor of a merchant, started from its stored books on first use.
    pub async fn settlement_of(&self, merchant_id: MerchantId) -> Result<SettlementHandle, ReportError> {
        let load_books = || repo::books(&self.db, merchant_id);
        self.settlements.get_or_start(merchant_id, load_books).await.map_err(|e| match e {
            StartError::Load(e) => ReportError::Db(e),
            other => ReportError::Db(DbErr::Custom(other.to_string())),
        })
    }

    /// Waits until the journal has committed `seq`, at most `ack_timeout`.
    pub async fn wait_durable(&self, seq: actors::Seq) -> Result<(), ReportError> {
        match tokio::time::timeout(self.settings.ack_timeout, self.journal.wait_durable(seq)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(report::busy(e)),
            Err(_) => Err(report::busy("not durable in time")),
        }
    }

    /// Runs the active query, the refund worker and the nightly reconciliation until the
    /// process stops.
    pub fn spawn_background(self: Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let query = {
            let payments = self.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(payments.settings.query_interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if let Err(error) = payments.query_sweep().await {
                        tracing::warn!(%error, "active query pass failed");
                    }
                }
            })
        };
        let nightly = tokio::spawn(self.clone().run_nightly());
        let refunds = tokio::spawn(async move {
            let every = self.settings.refund_interval;
            loop {
                // Woken at once when a refund becomes owed, else on the interval (retries).
                let _ = tokio::time::timeout(every, self.refunds_due.notified()).await;
                if let Err(error) = self.refund_sweep().await {
                    tracing::warn!(%error, "refund pass failed");
                }
            }
        });
        vec![query, refunds, nightly]
    }
}
