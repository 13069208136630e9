//! Notifications: the outbox worker that tells buyers what happened to their orders, by SMS
//! (`providers::sms::SmsSender`, Tencent Cloud SMS) and WeChat subscription messages
//! (`providers::wechat_mp`), and merchants by SMS what happened to their shops, stock, sales
//! and account (`NoticeKind::is_for_merchant`); and what operators do with the messages that
//! could not go.
//!
//! Notices are written to the outbox by whoever makes the change, in its transaction
//! (`persistence::outbox`). The worker ([`Notifications::deliver_due`]) takes a bounded batch
//! of due messages, claims each under a lease, sends it, and records the outcome: delivered;
//! skipped (the buyer has no openid, the kind has no template on that channel); or failed, to
//! be tried again after an exponential, jittered wait on the injected clock, and after
//! `max_attempts` (or at once, for a refusal that cannot change, such as WeChat's 43101) a
//! dead letter that an operator can list and replay. Delivery is at least once: a worker that
//! dies between the provider's acceptance and the mark may leave that message unmarked.
//!
//! SMS carries the dedupe key as Tencent's `SessionContext`. A message claimed again with its
//! last attempt unfinished (`in_flight_since`) is first looked for among the number's delivery
//! receipts (`PullSmsSendStatusByPhoneNumber`): found, it is marked delivered without a second
//! text; not found (or receipts unavailable), it is sent again. So a text is sent twice only if
//! the provider has not reported the first by the time the lease ends (a minute by default).
//! WeChat subscription messages have no receipts: a crash mid-send can send one twice.

pub mod templates;

use std::sync::Arc;
use std::time::Duration;

use engine::notification::{AfterFailure, DeliveryRules, NoticeChannel, OutboxState};
use engine::time::Clock;
use persistence::outbox::{self, OutboxMessage};
use persistence::{DatabaseConnection, DbErr};
use providers::sms::SmsSender;
use providers::wechat_mp::WechatMp;
use rand::Rng as _;

pub use templates::{NoticeTemplate, NotificationSettings};

/// Most dead letters one listing returns.
pub const DEAD_LETTER_PAGE_MAX: u64 = 200;

/// The worker's context.
pub struct Notifications {
    db: DatabaseConnection,
    sms: Arc<dyn SmsSender>,
    /// `None`: the platform has no mini program configured; WeChat messages are skipped.
    wechat: Option<Arc<WechatMp>>,
    settings: NotificationSettings,
    rules: DeliveryRules,
    clock: Arc<dyn Clock>,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: u32,
    pub skipped: u32,
    /// Failed and waiting for another attempt.
    pub retrying: u32,
    pub dead: u32,
    /// Taken by another worker between the read and the claim.
    pub taken_elsewhere: u32,
}

impl DeliveryReport {
    pub fn handled(&self) -> u32 {
        self.delivered + self.skipped + self.retrying + self.dead
    }
}

/// How an attempt ended.
enum Outcome {
    Sent,
    Skip(String),
    Failed { error: String, permanent: bool },
}

impl Notifications {
    pub fn new(
        db: DatabaseConnection,
        sms: Arc<dyn SmsSender>,
        wechat: Option<Arc<WechatMp>>,
        settings: NotificationSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let rules = settings.rules();
        assert!(settings.problems().is_empty(), "notification settings: {:?}", settings.problems());
        Self { db, sms, wechat, settings, rules, clock }
    }

    /// One pass: at most `batch_size` due messages, each claimed, sent and recorded.
    pub async fn deliver_due(&self) -> Result<DeliveryReport, DbErr> {
        let mut report = DeliveryReport::default();
        let now = self.clock.now();
        for message in outbox::due(&self.db, now, self.settings.batch_size).await? {
            let now = self.clock.now();
            if !outbox::claim(&self.db, &message, now.plus_millis(self.rules.lease_ms), now).await? {
                report.taken_elsewhere += 1;
                continue;
            }
            let outcome = self.attempt(&message).await?;
            let now = self.clock.now();
            match outcome {
                Outcome::Sent => {
                    outbox::mark_delivered(&self.db, message.id, now).await?;
                    report.delivered += 1;
                    metrics::counter!("flashsale_notifications_total", "channel" => message.channel.as_str(), "outcome" => "delivered").increment(1);
                }
                Outcome::Skip(reason) => {
                    outbox::mark_skipped(&self.db, message.id, &reason, now).await?;
                    report.skipped += 1;
                }
                Outcome::Failed { error, permanent } => {
                    let attempts = message.attempts + 1;
                    let after = if permanent {
                        AfterFailure::Dead
                    } else {
                        self.rules.after_failure(attempts, now, rand::rng().random::<f64>())
                    };
                    outbox::record_failure(&self.db, message.id, attempts, after, &error, now).await?;
                    tracing::warn!(id = message.id, key = %message.dedupe_key, attempts, %error, dead = matches!(after, AfterFailure::Dead), "notification not delivered");
                    match after {
                        AfterFailure::Dead => {
                            report.dead += 1;
                            metrics::counter!("flashsale_notifications_total", "channel" => message.channel.as_str(), "outcome" => "dead").increment(1);
                        }
                        AfterFailure::RetryAt(_) => report.retrying += 1,
                    }
                }
            }
        }
        Ok(report)
    }

    /// Sends one message; a database error is the caller's, everything else an outcome.
    async fn attempt(&self, message: &OutboxMessage) -> Result<Outcome, DbErr> {
        let template = self.settings.template(message.kind);
        let recipient = if message.kind.is_for_merchant() {
            match message.params.get("merchant_id").and_then(|m| m.parse().ok()) {
                Some(merchant) => {
                    outbox::recipient_of_merchant(&self.db, engine::MerchantId(merchant)).await?
                }
                None => None,
            }
        } else {
            outbox::recipient_of_order(&self.db, message.order_id).await?
        };
        let Some(recipient) = recipient else {
            return Ok(Outcome::Failed {
                error: "the order, its buyer or the merchant is gone".into(),
                permanent: true,
            });
        };
        let missing = |name: &str| Outcome::Failed {
            error: format!("the notice has no value {name:?}"),
            permanent: true,
        };
        match message.channel {
            NoticeChannel::Sms => {
                if template.sms_template_id.is_empty() {
                    return Ok(Outcome::Skip("no sms template for this kind".into()));
                }
                let mut params = Vec::with_capacity(template.sms_params.len());
                for name in &template.sms_params {
                    match templates::value_of(name, &message.params) {
                        Some(value) => params.push(value.to_owned()),
                        None => return Ok(missing(name)),
                    }
                }
                // The last attempt was cut short (its worker died after claiming it): the
                // provider may have taken it. Its receipts say; without evidence it goes again.
                if let Some(since) = message.in_flight_since {
                    match self.sms.already_sent(&recipient.phone, since, &message.dedupe_key).await {
                        Ok(true) => {
                            tracing::info!(id = message.id, key = %message.dedupe_key, "taken before the crash, not sent again");
                            metrics::counter!("flashsale_notifications_recovered_total").increment(1);
                            return Ok(Outcome::Sent);
                        }
                        Ok(false) => {}
                        Err(error) => {
                            tracing::warn!(id = message.id, %error, "receipts unavailable; sending again")
                        }
                    }
                }
                let sent = self
                    .sms
                    .send_with_context(
                        &recipient.phone,
                        &template.sms_template_id,
                        &params,
                        &message.dedupe_key,
                    )
                    .await;
                Ok(match sent {
                    Ok(_) => Outcome::Sent,
                    // A refusal of the whole request (keys, template) may be mended by an
                    // operator; it is retried like an outage and ends as a dead letter.
                    Err(error) => Outcome::Failed { error: error.to_string(), permanent: false },
                })
            }
            NoticeChannel::WechatMp => {
                let Some(wechat) = &self.wechat else {
                    return Ok(Outcome::Skip("wechat subscription messages are not configured".into()));
                };
                if template.wechat_template_id.is_empty() {
                    return Ok(Outcome::Skip("no wechat template for this kind".into()));
                }
                let Some(openid) = recipient.wechat_openid.as_deref() else {
                    return Ok(Outcome::Skip("the buyer has no wechat openid".into()));
                };
                let mut data = Vec::with_capacity(template.wechat_data.len());
                for (key, source) in &template.wechat_data {
                    match templates::value_of(source, &message.params) {
                        Some(value) => data.push((key.clone(), value.to_owned())),
                        None => return Ok(missing(source)),
                    }
                }
                let page = template.wechat_page.replace("{order_id}", &message.order_id.0.to_string());
                let page = (!page.is_empty()).then_some(page.as_str());
                Ok(match wechat.send(openid, &template.wechat_template_id, page, &data).await {
                    Ok(()) => Outcome::Sent,
                    Err(error) => {
                        Outcome::Failed { permanent: error.is_permanent(), error: error.to_string() }
                    }
                })
            }
        }
    }

    /// Runs passes until `shutdown` resolves: at once again after a full batch, else after the
    /// poll interval. A database error is logged and the pass retried after the interval.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        let idle = Duration::from_millis(self.settings.poll_interval_ms.max(10));
        tokio::pin!(shutdown);
        loop {
            let wait = match self.deliver_due().await {
                Ok(report)
                    if u64::from(report.handled() + report.taken_elsewhere) >= self.settings.batch_size =>
                {
                    Duration::ZERO
                }
                Ok(_) => idle,
                Err(error) => {
                    tracing::error!(%error, "notification pass failed");
                    idle
                }
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Dead letters after `after_id`, at most `limit` (capped at [`DEAD_LETTER_PAGE_MAX`]).
    pub async fn dead_letters(&self, after_id: i64, limit: u64) -> Result<Vec<OutboxMessage>, DbErr> {
        outbox::dead_letters(&self.db, after_id, limit.clamp(1, DEAD_LETTER_PAGE_MAX)).await
    }

    /// Gives a dead letter its attempts back, due now; false if it is not a dead letter.
    pub async fn replay(&self, id: i64) -> Result<bool, DbErr> {
        let replayed = outbox::replay(&self.db, id, self.clock.now()).await?;
        if replayed {
            tracing::info!(id, "dead letter replayed");
        }
        Ok(replayed)
    }

    /// How many messages wait, and how many are dead letters (for health and metrics).
    pub async fn backlog(&self) -> Result<(u64, u64), DbErr> {
        Ok((
            outbox::count(&self.db, OutboxState::Pending).await?,
            outbox::count(&self.db, OutboxState::Dead).await?,
        ))
    }
}

#[cfg(test)]
mod tests;
