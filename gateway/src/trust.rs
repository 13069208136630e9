//! Wiring of who may sell: the verification client (Tencent Cloud, or in demo mode the bundled
//! sandbox on this server with keys generated once and kept), the qualification review and
//! its sweep, document uploads behind the object store, bans and takedowns.

use std::sync::Arc;
use std::time::Duration;

use actors::{Journal, StockRegistry};
use anyhow::Context as _;
use engine::time::Clock;
use persistence::DatabaseConnection;
use providers::verification::Verifier;
use providers::verification::tencent::{TencentVerification, TencentVerificationConfig};
use sandbox::verification::{VerificationSandbox, VerificationSandboxSettings};
use settings::Settings;
use workflows::kept_keys;
use workflows::merchants::documents::Documents;
use workflows::merchants::review::Reviews;
use workflows::merchants::store::FsStore;
use workflows::merchants::trust::Trust;

/// The verification sandbox's keys as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct VerificationKeys {
    secret_id: String,
    secret_key: String,
}

/// What the trust routes share.
pub struct TrustState {
    pub reviews: Arc<Reviews>,
    pub documents: Documents,
    pub trust: Trust,
    /// The bundled verification sandbox, when this server serves it.
    pub sandbox: Option<Arc<VerificationSandbox>>,
}

impl TrustState {
    pub async fn build(
        db: &DatabaseConnection,
        settings: &Settings,
        base_url: &str,
        clock: &Arc<dyn Clock>,
        registry: Arc<StockRegistry>,
        journal: Journal,
    ) -> anyhow::Result<Self> {
        let t = &settings.trust;
        let sandboxed = t.verification_faceid_url.is_empty()
            && t.verification_ocr_url.is_empty()
            && settings.sandbox.enabled
            && settings.mode == settings::Mode::Demo;
        let (faceid_url, ocr_url, secret_id, secret_key, sandbox) = if sandboxed {
            let VerificationKeys { secret_id, secret_key } =
                kept_keys::kept(db, "verification_sandbox_keys", || {
                    let (secret_id, secret_key) = sandbox::verification::generate_keys();
                    VerificationKeys { secret_id, secret_key }
                })
                .await?;
            let sandbox = VerificationSandbox::new(
                VerificationSandboxSettings {
                    secret_id: secret_id.clone(),
                    secret_key: secret_key.clone(),
                    capacity: t.sandbox_registry_capacity,
                },
                clock.clone(),
            );
            (
                format!("{base_url}/sandbox/verification/faceid"),
                format!("{base_url}/sandbox/verification/ocr"),
                secret_id,
                secret_key,
                Some(Arc::new(sandbox)),
            )
        } else {
            anyhow::ensure!(
                !t.verification_faceid_url.is_empty() && !t.verification_ocr_url.is_empty(),
                "trust.verification_faceid_url and trust.verification_ocr_url: set both, or neither (the bundled sandbox, demo mode)"
            );
            (
                t.verification_faceid_url.clone(),
                t.verification_ocr_url.clone(),
                t.verification_secret_id.clone(),
                t.verification_secret_key.clone(),
                None,
            )
        };
        let timeout = Duration::from_millis(t.verification_timeout_ms);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(4))
            .build()
            .context("building the verification HTTP client")?;
        let verifier: Arc<dyn Verifier> = Arc::new(
            TencentVerification::new(
                TencentVerificationConfig {
                    faceid_url,
                    ocr_url,
                    region: t.verification_region.clone(),
                    secret_id,
                    secret_key,
                    timeout,
                    attempts: t.verification_attempts,
                    retry_pause: Duration::from_millis(t.verification_retry_pause_ms),
                },
                http,
                clock.clone(),
            )
            .map_err(anyhow::Error::msg)?,
        );
        let review_settings = settings.review_settings();
        let document_settings = settings.document_settings(&review_settings.rules);
        let reviews = Arc::new(
            Reviews::new(db.clone(), verifier, clock.clone(), review_settings).map_err(anyhow::Error::msg)?,
        );
        let store = Arc::new(FsStore::new(&t.document_dir));
        let documents = Documents::new(db.clone(), store, clock.clone(), document_settings);
        let trust = Trust::new(db.clone(), registry, journal, t.ban_releases_holds());
        Ok(Self { reviews, documents, trust, sandbox })
    }

    /// The sweep that reviews submissions whose review was cut short (a crash), every
    /// `review_sweep_secs`.
    pub fn spawn_sweep(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let reviews = self.reviews.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every.max(Duration::from_secs(1)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = reviews.review_pending(100).await {
                    tracing::warn!(%error, "qualification review sweep failed");
                }
            }
        })
    }

    /// Reviews `revision` of the merchant's qualification in the background.
    pub fn review_later(&self, merchant: engine::MerchantId, revision: i64) {
        let reviews = self.reviews.clone();
        tokio::spawn(async move {
            if let Err(error) = reviews.review(merchant, revision).await {
                // Left pending: the sweep reviews it again.
                tracing::warn!(%error, merchant = merchant.0, revision, "qualification review failed");
            }
        });
    }
}
