//! The automated qualification review. A submission is checked locally first
//! (`engine::qualification::check`: formats, check characters, dates, permits, every reason at
//! once); a form with reasons is refused as it is and nothing is stored. A clean form is
//! stored `pending` and reviewed: the documents it needs are there, its numbers are not
//! banned or another merchant's, then the verification service is asked (the enterprise's four
//! facts for a business, the person's name and ID number for everyone). The outcome:
//!
//! - every answer a match → `approved`;
//! - any field the service says does not match → `rejected`, with a reason per field (a
//!   definite mismatch wins over another answer's doubt);
//! - the service cannot say, or cannot be reached after its retries → `manual`: a person
//!   decides. Never approved by default.
//!
//! Each submission is a new revision and reviewed afresh; a review's outcome is written only
//! for the revision it read (see `persistence::qualification`), so a resubmission during a
//! slow review is never overwritten by the older answer. A submission whose review was cut
//! short by a crash stays `pending` and [`Reviews::review_pending`] picks it up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use engine::qualification::{
    self, EntityType, FieldReason, QualificationInput, QualificationRules, ReviewState,
};
use engine::time::Clock;
use engine::{BeijingDay, MerchantId};
use persistence::qualification::{self as stored, NumberKind, QualificationRecord};
use persistence::{DatabaseConnection, DbErr};
use providers::verification::{EnterpriseCheck, Field, PersonCheck, Verdict, VerificationError, Verifier};
use thiserror::Error;

use super::documents::DocumentSettings;

/// The review's settings; from configuration.
#[derive(Debug, Clone)]
pub struct ReviewSettings {
    pub rules: QualificationRules,
    /// Require the licence, both ID card sides and each permit's image before asking the
    /// service.
    pub require_documents: bool,
    /// A `pending` submission older than this is reviewed again by the sweep.
    pub stuck_after: Duration,
}

/// Why a submission was not taken.
#[derive(Debug, Error)]
pub enum SubmitError {
    /// The form's own problems, one or more per field; nothing was stored.
    #[error("the qualification has {} problem(s)", .0.len())]
    Invalid(Vec<FieldReason>),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Where a submission stands after its review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub revision: i64,
    pub state: ReviewState,
    pub reasons: Vec<FieldReason>,
}

/// The review workflow's context.
pub struct Reviews {
    db: DatabaseConnection,
    verifier: Arc<dyn Verifier>,
    clock: Arc<dyn Clock>,
    settings: ReviewSettings,
}

fn field_reason(field: Field, code: &str, message: String) -> FieldReason {
    FieldReason::new(field.as_str(), code, message)
}

/// The outcome of the service's answers: a definite mismatch rejects (reasons per field,
/// each field once), otherwise any doubt or failure goes to a person, otherwise approved.
pub fn decide(answers: &[Result<Verdict, VerificationError>]) -> (ReviewState, Vec<FieldReason>) {
    let mut mismatched: BTreeMap<Field, String> = BTreeMap::new();
    let mut doubts = Vec::new();
    for answer in answers {
        match answer {
            Ok(Verdict::Match) => {}
            Ok(Verdict::Mismatch { fields, detail }) => {
                for field in fields {
                    mismatched.entry(*field).or_insert_with(|| detail.clone());
                }
            }
            Ok(Verdict::Unsure { detail }) => doubts.push(FieldReason::new(
                "verification",
                "unsure",
                format!("the verification service cannot say: {detail}"),
            )),
            Err(error) => doubts.push(FieldReason::new(
                "verification",
                "service_unavailable",
                format!("the verification service could not be asked: {error}"),
            )),
        }
    }
    if !mismatched.is_empty() {
        let reasons = mismatched
            .into_iter()
            .map(|(field, detail)| {
                field_reason(field, "mismatch", format!("does not match the authority's records: {detail}"))
            })
            .collect();
        return (ReviewState::Rejected, reasons);
    }
    if !doubts.is_empty() {
        return (ReviewState::Manual, doubts);
    }
    (ReviewState::Approved, Vec::new())
}

impl Reviews {
    pub fn new(
        db: DatabaseConnection,
        verifier: Arc<dyn Verifier>,
        clock: Arc<dyn Clock>,
        settings: ReviewSettings,
    ) -> Result<Self, String> {
        settings.rules.check()?;
        Ok(Self { db, verifier, clock, settings })
    }

    pub fn settings(&self) -> &ReviewSettings {
        &self.settings
    }

    /// Checks `input` locally and stores it as the merchant's current qualification, `pending`;
    /// its revision. Call [`review`](Self::review) next (at once, or from a task).
    pub async fn submit(&self, merchant: MerchantId, input: &QualificationInput) -> Result<i64, SubmitError> {
        let now = self.clock.now();
        let checked = qualification::check(input, &self.settings.rules, BeijingDay::of(now))
            .map_err(SubmitError::Invalid)?;
        Ok(stored::submit(&self.db, merchant, &checked, now).await?)
    }

    /// [`submit`](Self::submit), then [`review`](Self::review) of that revision.
    pub async fn submit_and_review(
        &self,
        merchant: MerchantId,
        input: &QualificationInput,
    ) -> Result<Review, SubmitError> {
        let revision = self.submit(merchant, input).await?;
        Ok(self.review(merchant, revision).await?)
    }

    /// Reviews the merchant's stored qualification if it is still `revision` and `pending`;
    /// where it stands afterwards (also when another review or a newer submission got there
    /// first).
    pub async fn review(&self, merchant: MerchantId, revision: i64) -> Result<Review, DbErr> {
        let Some(record) = stored::qualification(&self.db, merchant).await? else {
            return Ok(Review { revision, state: ReviewState::None, reasons: Vec::new() });
        };
        if record.revision != revision || record.review_state != ReviewState::Pending {
            return Ok(Review {
                revision: record.revision,
                state: record.review_state,
                reasons: record.review_reasons,
            });
        }
        let (state, reasons) = self.decide_record(&record).await?;
        let written = stored::record_review(
            &self.db,
            merchant,
            revision,
            &[ReviewState::Pending],
            state,
            &reasons,
            self.clock.now(),
        )
        .await?;
        if written {
            tracing::info!(merchant = merchant.0, revision, state = state.as_str(), "qualification reviewed");
            return Ok(Review { revision, state, reasons });
        }
        let (state, reasons) = stored::review_of(&self.db, merchant).await?;
        let current = stored::qualification(&self.db, merchant).await?.map_or(revision, |q| q.revision);
        Ok(Review { revision: current, state, reasons })
    }

    async fn decide_record(
        &self,
        record: &QualificationRecord,
    ) -> Result<(ReviewState, Vec<FieldReason>), DbErr> {
        let mut reasons = Vec::new();
        if self.settings.require_documents {
            let have = stored::documents_of(&self.db, record.merchant_id, 1_000).await?;
            for kind in required_documents(record) {
                if !have.iter().any(|d| d.kind == kind) {
                    reasons.push(FieldReason::new(
                        format!("documents.{kind}"),
                        "document_missing",
                        format!("upload the {kind} image"),
                    ));
                }
            }
        }
        let mut numbers =
            vec![(NumberKind::IdNo, Field::LegalPersonIdNo, record.legal_person_id_no.as_str())];
        if let Some(licence) = &record.licence_number {
            numbers.push((NumberKind::LicenceNumber, Field::LicenceNumber, licence.as_str()));
        }
        for (kind, field, number) in numbers {
            if stored::number_is_banned(&self.db, kind, number).await? {
                reasons.push(field_reason(
                    field,
                    "banned",
                    "this number belongs to a banned merchant".into(),
                ));
            } else if stored::number_held_by_another(&self.db, kind, number, record.merchant_id).await? {
                reasons.push(field_reason(field, "in_use", "this number is another merchant's".into()));
            }
        }
        if !reasons.is_empty() {
            return Ok((ReviewState::Rejected, reasons));
        }
        let person =
            PersonCheck { name: record.legal_person_name.clone(), id_no: record.legal_person_id_no.clone() };
        let mut answers = vec![self.verifier.person(&person).await];
        if let (Some(licence_number), Some(business_name)) = (&record.licence_number, &record.business_name) {
            let enterprise = EnterpriseCheck {
                business_name: business_name.clone(),
                licence_number: licence_number.clone(),
                legal_person_name: record.legal_person_name.clone(),
                legal_person_id_no: record.legal_person_id_no.clone(),
            };
            answers.push(self.verifier.enterprise(&enterprise).await);
        }
        Ok(decide(&answers))
    }

    /// Reviews up to `limit` submissions left `pending` for longer than `stuck_after` (a crash
    /// or a full review queue); how many it reviewed.
    pub async fn review_pending(&self, limit: u64) -> Result<usize, DbErr> {
        let before = self.clock.now().plus_millis(-(self.settings.stuck_after.as_millis() as i64));
        let stuck = stored::in_state(&self.db, ReviewState::Pending, before, limit).await?;
        for record in &stuck {
            self.review(record.merchant_id, record.revision).await?;
        }
        Ok(stuck.len())
    }
}

/// The document kinds a qualification needs: the licence for a business, both sides of the ID
/// card, and each declared permit's image.
pub fn required_documents(record: &QualificationRecord) -> Vec<String> {
    let mut kinds = Vec::new();
    if record.entity_type != EntityType::Individual {
        kinds.push(DocumentSettings::BUSINESS_LICENCE.to_owned());
    }
    kinds.push(DocumentSettings::ID_CARD_FRONT.to_owned());
    kinds.push(DocumentSettings::ID_CARD_BACK.to_owned());
    kinds.extend(record.permits.iter().map(|p| p.kind.clone()));
    kinds
}

#[cfg(test)]
mod tests;
