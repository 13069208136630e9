//! The daily reconciliation: each channel's bill of a Beijing calendar day against what the
//! ledger recorded through that channel's clearing account, every difference listed, plus the
//! ledger's own check. Run on demand (`GET /api/v1/operator/reconciliation`) and every night
//! at 03:00 Beijing time for the day before; a night with differences is logged as an error and
//! shows in `flashsale_reconciliation_differences`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use engine::ledger::Channel;
use engine::{BeijingDay, Timestamp};
use persistence::DbErr;
use persistence::money as repo;
use serde_json::{Value, json};

use super::Payments;

/// The nightly run starts at 03:00 Beijing time.
const NIGHTLY_AT_MS: i64 = 3 * 3_600_000;

impl Payments {
    /// The report of one day.
    pub async fn reconcile(&self, day: BeijingDay) -> Result<Value, DbErr> {
        let (from, to) = (day.start(), day.end());
        let bill_date = day.to_string();
        let mut channels = Vec::new();
        let mut differences_total = 0usize;
        for channel in [Channel::Wechat, Channel::Alipay].into_iter().filter(|c| self.channels.offered(*c)) {
            let statement = match self.channels.statement(channel, &bill_date).await {
                Ok(lines) => lines,
                Err(error) => {
                    channels.push(json!({ "channel": channel.as_str(), "error": error.to_string() }));
                    differences_total += 1;
                    continue;
                }
            };
            let ledger = repo::channel_movements(&self.db, channel, from, to).await?;
            let mut theirs: BTreeMap<(String, String), i64> = BTreeMap::new();
            for line in &statement {
                *theirs.entry((line.transaction_id.clone(), line.kind.clone())).or_default() +=
                    line.amount_fen;
            }
            let mut ours: BTreeMap<(String, String), i64> = BTreeMap::new();
            for movement in &ledger {
                *ours.entry((movement.transaction_id.clone(), movement.kind.to_owned())).or_default() +=
                    movement.amount_fen;
            }
            let mut differences = Vec::new();
            let keys: std::collections::BTreeSet<_> = theirs.keys().chain(ours.keys()).cloned().collect();
            for key in keys {
                let (statement_fen, ledger_fen) = (theirs.get(&key).copied(), ours.get(&key).copied());
                let issue = match (statement_fen, ledger_fen) {
                    (Some(a), Some(b)) if a == b => continue,
                    (Some(_), Some(_)) => "amount_differs",
                    (Some(_), None) => "missing_in_ledger",
                    (None, _) => "missing_in_statement",
                };
                differences.push(json!({
                    "transaction_id": key.0,
                    "kind": key.1,
                    "statement_fen": statement_fen,
                    "ledger_fen": ledger_fen,
                    "issue": issue,
                }));
            }
            differences_total += differences.len();
            let total = |lines: &BTreeMap<(String, String), i64>, kind: &str| -> i64 {
                lines.iter().filter(|((_, k), _)| k == kind).map(|(_, v)| *v).sum()
            };
            channels.push(json!({
            "channel": channel.as_str(),
            "statement": {"lines": statement.len(), "paid_fen": total(&theirs, "PAY"), "refunded_fen": total(&theirs, "REFUND")},
            "ledger": {"lines": ledger.len(), "paid_fen": total(&ours, "PAY"), "refunded_fen": total(&ours, "REFUND")},
            "differences": differences,
        }));
        }
        let (sum, unbalanced, _) = repo::ledger_check(&self.db).await?;
        Ok(json!({
            "date": bill_date,
            "channels": channels,
            "ledger": {"sum_of_all_lines_fen": sum, "unbalanced_postings": unbalanced},
            "reconciled": differences_total == 0 && sum == 0 && unbalanced.is_empty(),
        }))
    }

    /// Every night at 03:00 Beijing time, reconciles the day before.
    pub async fn run_nightly(self: Arc<Self>) {
        loop {
            tokio::time::sleep(until_next_run(self.clock.now())).await;
            let yesterday = BeijingDay::of(self.clock.now()).previous();
            match self.reconcile(yesterday).await {
                Ok(report) => {
                    let differences: usize = report["channels"]
                        .as_array()
                        .map(|cs| cs.iter().map(|c| c["differences"].as_array().map_or(1, Vec::len)).sum())
                        .unwrap_or(0);
                    metrics::gauge!("flashsale_reconciliation_differences").set(differences as f64);
                    if report["reconciled"] == true {
                        tracing::info!(date = %yesterday, "reconciliation: the channels' bills match the ledger");
                    } else {
                        tracing::error!(date = %yesterday, differences, %report, "reconciliation found differences");
                    }
                }
                Err(error) => tracing::error!(date = %yesterday, %error, "reconciliation could not run"),
            }
        }
    }
}

/// How long until the next 03:00 in Beijing, from `now`.
fn until_next_run(now: Timestamp) -> Duration {
    let day = BeijingDay::of(now);
    let mut next = day.start().plus_millis(NIGHTLY_AT_MS);
    if next <= now {
        next = day.next().start().plus_millis(NIGHTLY_AT_MS);
    }
    Duration::from_millis((next.as_millis() - now.as_millis()) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nightly_run_is_at_three_in_beijing() {
        // 2026-11-25 02:00 Beijing = 2026-11-24 18:00 UTC: one hour to go.
        let two_am = Timestamp(
            chrono::DateTime::parse_from_rfc3339("2026-11-24T18:00:00Z").unwrap().timestamp_millis(),
        );
        assert_eq!(until_next_run(two_am), Duration::from_secs(3_600));
        // 03:00 exactly: the next one is a day later.
        let three_am = Timestamp(two_am.as_millis() + 3_600_000);
        assert_eq!(until_next_run(three_am), Duration::from_secs(86_400));
        assert_eq!(BeijingDay::of(two_am), BeijingDay::from_ymd(2026, 11, 25).unwrap());
        assert_eq!(BeijingDay::of(two_am).to_string(), "2026-11-25");
    }
}
