//! What `/healthz` reports about storage, kept up to date off the request path: a probe is
//! answered from memory, never with a query, so that probing a loaded server costs nothing and
//! cannot take a connection the journal writer needs.
//!
//! - the journal writer: running, the age of its last commit, failed commits in a row (it
//!   retries forever, so a failing database shows here first);
//! - the database: the result of a ping made every `PROBE_EVERY` by a background task.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{DatabaseConnection, WriterStatus};
use serde_json::{Value, json};

/// How often the background task pings the database.
pub const PROBE_EVERY: Duration = Duration::from_secs(10);
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

pub struct Health {
    pub writer: Arc<WriterStatus>,
    epoch: Instant,
    database_reachable: AtomicBool,
    /// Milliseconds after `epoch` of the last ping, plus one (0 = never).
    database_checked: AtomicU64,
}

impl Health {
    pub fn new(writer: Arc<WriterStatus>) -> Self {
        Self {
            writer,
            epoch: Instant::now(),
            database_reachable: AtomicBool::new(false),
            database_checked: AtomicU64::new(0),
        }
    }

    /// Pings the database once and remembers the answer.
    pub async fn probe(&self, db: &DatabaseConnection) {
        let answered = tokio::time::timeout(PROBE_TIMEOUT, crate::repo::ping(db)).await;
        let reachable = matches!(answered, Ok(Ok(())));
        if !reachable {
            tracing::warn!("database ping failed");
        }
        self.database_reachable.store(reachable, Ordering::Relaxed);
        self.database_checked.store(self.epoch.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
    }

    /// Healthy or not, and the report.
    pub fn report(&self) -> (bool, Value) {
        let writer_running = self.writer.running();
        let failures = self.writer.failures_in_a_row();
        let database = self.database_reachable.load(Ordering::Relaxed);
        let checked = self.database_checked.load(Ordering::Relaxed).checked_sub(1);
        let checked_age_ms = checked.map(|at| (self.epoch.elapsed().as_millis() as u64).saturating_sub(at));
        let healthy = writer_running && failures == 0 && database;
        let report = json!({
            "status": if healthy { "ok" } else { "degraded" },
            "writer": {
                "running": writer_running,
                "last_commit_age_ms": self.writer.last_commit_age().map(|age| age.as_millis() as u64),
                "failed_commits_in_a_row": failures,
            },
            "database": {
                "reachable": database,
                "checked_age_ms": checked_age_ms,
            },
        });
        (healthy, report)
    }
}
