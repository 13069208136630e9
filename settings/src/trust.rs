//! `[trust]`: who may sell and how operators keep it honest — the identity and enterprise
//! verification service, the qualification review, document uploads, what a ban does to the
//! orders a merchant holds, and fans' reports.

use std::time::Duration;

use engine::qualification::QualificationRules;
use serde::Deserialize;
use workflows::merchants::documents::DocumentSettings;
use workflows::merchants::review::ReviewSettings;

use crate::Settings;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Trust {
    /// Tencent Cloud FaceID endpoint (`https://faceid.tencentcloudapi.com`); empty = the bundled
    /// verification sandbox of this server (demo mode), keys generated and kept.
    pub verification_faceid_url: String,
    /// Tencent Cloud OCR endpoint (`https://ocr.tencentcloudapi.com`); empty = the sandbox.
    pub verification_ocr_url: String,
    pub verification_region: String,
    pub verification_secret_id: String,
    pub verification_secret_key: String,
    /// A file holding the SecretKey (read at start when `verification_secret_key` is empty).
    pub verification_secret_key_file: String,
    /// Each attempt's limit, and attempts per check.
    pub verification_timeout_ms: u64,
    pub verification_attempts: u32,
    pub verification_retry_pause_ms: u64,
    /// Companies and people the bundled sandbox's registry holds at most (each).
    pub sandbox_registry_capacity: usize,
    /// Require the licence, both ID card sides and each permit's image before the review
    /// asks the service.
    pub require_documents: bool,
    /// A submission still `pending` after this long is reviewed again by the sweep (a crash
    /// cut its review short); the sweep runs this often.
    pub review_stuck_after_secs: u64,
    pub review_sweep_secs: u64,
    /// Where document images are kept (a directory; relative to the working directory).
    pub document_dir: String,
    pub document_max_bytes: usize,
    pub document_min_side_px: u32,
    pub document_max_side_px: u32,
    pub documents_per_merchant: u64,
    /// What a ban does to the unpaid orders of the merchant's sales: `honour` (they may still
    /// be paid within their window) or `release` (cancelled at once, the units back).
    pub ban_holds: String,
    /// Reports one buyer may file per hour (all sales), and the text's length.
    pub reports_per_buyer_per_hour: u32,
    pub report_text_max_chars: usize,
    /// The permit table: which permit each regulated category needs and its number's shape
    /// (`[trust.rules]`, `[[trust.rules.permits]]`, `[[trust.rules.categories]]`); the shipped
    /// table when absent.
    pub rules: QualificationRules,
}

impl Default for Trust {
    fn default() -> Self {
        Self {
            verification_faceid_url: String::new(),
            verification_ocr_url: String::new(),
            verification_region: "ap-guangzhou".into(),
            verification_secret_id: String::new(),
            verification_secret_key: String::new(),
            verification_secret_key_file: String::new(),
            verification_timeout_ms: 5_000,
            verification_attempts: 2,
            verification_retry_pause_ms: 200,
            sandbox_registry_capacity: 100_000,
            require_documents: true,
            review_stuck_after_secs: 120,
            review_sweep_secs: 30,
            document_dir: "data/documents".into(),
            document_max_bytes: 5 * 1024 * 1024,
            document_min_side_px: 300,
            document_max_side_px: 8_000,
            documents_per_merchant: 40,
            ban_holds: "honour".into(),
            reports_per_buyer_per_hour: 5,
            report_text_max_chars: 500,
            rules: QualificationRules::default(),
        }
    }
}

impl Trust {
    /// Whether a ban cancels the unpaid orders of the merchant's sales.
    pub fn ban_releases_holds(&self) -> bool {
        self.ban_holds == "release"
    }

    pub fn check(&self) -> Result<(), String> {
        if !["honour", "release"].contains(&self.ban_holds.as_str()) {
            return Err(format!("trust.ban_holds must be honour or release, not {:?}", self.ban_holds));
        }
        if self.document_min_side_px > self.document_max_side_px {
            return Err("trust.document_min_side_px is above trust.document_max_side_px".into());
        }
        self.rules.check()?;
        if self.verification_attempts == 0 || self.verification_timeout_ms == 0 {
            return Err("trust.verification_attempts and verification_timeout_ms must be above zero".into());
        }
        Ok(())
    }
}

impl Settings {
    /// The qualification review's settings (the permit table is the shipped one).
    pub fn review_settings(&self) -> ReviewSettings {
        ReviewSettings {
            rules: self.trust.rules.clone(),
            require_documents: self.trust.require_documents,
            stuck_after: Duration::from_secs(self.trust.review_stuck_after_secs),
        }
    }

    /// Upload limits, accepting the permits of the review's rules.
    pub fn document_settings(&self, rules: &QualificationRules) -> DocumentSettings {
        let t = &self.trust;
        let mut settings = DocumentSettings::with_permits(rules.permits.iter().map(|p| p.kind.as_str()));
        settings.max_bytes = t.document_max_bytes;
        settings.min_side_px = t.document_min_side_px;
        settings.max_side_px = t.document_max_side_px;
        settings.max_per_merchant = t.documents_per_merchant;
        settings
    }
}
