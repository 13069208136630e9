//! The repository against a fresh SQLite file: submissions raise the revision, reviews are
//! written only for the revision and state they expect, bans bar numbers while in force and
//! are audited.

use engine::qualification::{self, QualificationInput, QualificationRules};
use engine::{BeijingDay, Phone};

use super::*;
use crate::access::{AuditFilter, audit_entries};

async fn database() -> (tempfile::TempDir, DatabaseConnection) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/test.db", dir.path().display());
    let db = crate::connect(&url, 2, false).await.unwrap();
    (dir, db)
}

async fn merchant(db: &DatabaseConnection, phone: &str) -> MerchantId {
    crate::repo::insert_merchant(db, &Phone::parse(phone).unwrap(), "hash", "店", Timestamp(1)).await.unwrap()
}

fn company() -> Qualification {
    let input = QualificationInput {
        entity_type: "company".into(),
        business_name: Some("福州示例科技有限公司".into()),
        licence_number: Some("91350100M000100Y43".into()),
        legal_person_name: "张三".into(),
        legal_person_id_no: "11010519491231002X".into(),
        contact_name: "李四".into(),
        contact_phone: "13800000000".into(),
        categories: vec!["food".into()],
        permits: vec![qualification::PermitInput {
            kind: "food_operation".into(),
            number: "JY14403050012345".into(),
        }],
    };
    qualification::check(&input, &QualificationRules::default(), BeijingDay::from_ymd(2026, 11, 26).unwrap())
        .unwrap()
}

fn reason(field: &str) -> FieldReason {
    FieldReason::new(field, "mismatch", "does not match")
}

fn entry(action: &str, merchant: MerchantId) -> AuditEntry {
    AuditEntry {
        id: 0,
        operator_id: None,
        username: "ops".into(),
        role: "admin".into(),
        action: action.into(),
        target: format!("merchant:{}", merchant.0),
        details: "{}".into(),
        created_at: Timestamp(5),
    }
}

#[tokio::test]
async fn a_submission_reads_back_whole_and_each_one_raises_the_revision() {
    let (_dir, db) = database().await;
    let m = merchant(&db, "13800000001").await;
    assert_eq!(review_of(&db, m).await.unwrap(), (ReviewState::None, vec![]));
    assert_eq!(submit(&db, m, &company(), Timestamp(10)).await.unwrap(), 1);
    let stored = qualification(&db, m).await.unwrap().unwrap();
    assert_eq!(stored.revision, 1);
    assert_eq!(stored.entity_type, EntityType::Company);
    assert_eq!(stored.licence_number.as_deref(), Some("91350100M000100Y43"));
    assert_eq!(stored.legal_person_id_no, "11010519491231002X");
    assert_eq!(stored.permits, [Permit { kind: "food_operation".into(), number: "JY14403050012345".into() }]);
    assert_eq!(stored.review_state, ReviewState::Pending);
    assert_eq!(submit(&db, m, &company(), Timestamp(20)).await.unwrap(), 2);
    assert_eq!(qualification(&db, m).await.unwrap().unwrap().submitted_at, Timestamp(20));
}

#[tokio::test]
async fn a_review_is_written_only_for_its_revision_and_expected_state() {
    let (_dir, db) = database().await;
    let m = merchant(&db, "13800000001").await;
    submit(&db, m, &company(), Timestamp(10)).await.unwrap();
    submit(&db, m, &company(), Timestamp(11)).await.unwrap();
    let pending = [ReviewState::Pending];
    // the review of the first submission comes back late: ignored
    assert!(!record_review(&db, m, 1, &pending, ReviewState::Approved, &[], Timestamp(12)).await.unwrap());
    assert_eq!(review_of(&db, m).await.unwrap().0, ReviewState::Pending);
    let reasons = [reason("legal_person_name")];
    assert!(
        record_review(&db, m, 2, &pending, ReviewState::Rejected, &reasons, Timestamp(13)).await.unwrap()
    );
    assert_eq!(review_of(&db, m).await.unwrap(), (ReviewState::Rejected, reasons.to_vec()));
    // already decided: a second writer expecting pending changes nothing
    assert!(!record_review(&db, m, 2, &pending, ReviewState::Approved, &[], Timestamp(14)).await.unwrap());
    assert_eq!(review_of(&db, m).await.unwrap().0, ReviewState::Rejected);
    // resubmission: pending again, reasons cleared
    submit(&db, m, &company(), Timestamp(15)).await.unwrap();
    assert_eq!(review_of(&db, m).await.unwrap(), (ReviewState::Pending, vec![]));
}

#[tokio::test]
async fn the_queue_and_numbers_held_by_others() {
    let (_dir, db) = database().await;
    let (a, b) = (merchant(&db, "13800000001").await, merchant(&db, "13800000002").await);
    submit(&db, a, &company(), Timestamp(10)).await.unwrap();
    submit(&db, b, &company(), Timestamp(11)).await.unwrap();
    let licence = "91350100M000100Y43";
    assert!(
        !number_held_by_another(&db, NumberKind::LicenceNumber, licence, b).await.unwrap(),
        "pending holds nothing"
    );
    record_review(&db, a, 1, &[ReviewState::Pending], ReviewState::Manual, &[], Timestamp(12)).await.unwrap();
    assert!(number_held_by_another(&db, NumberKind::LicenceNumber, licence, b).await.unwrap());
    assert!(number_held_by_another(&db, NumberKind::IdNo, "11010519491231002X", b).await.unwrap());
    assert!(
        !number_held_by_another(&db, NumberKind::LicenceNumber, licence, a).await.unwrap(),
        "not by itself"
    );
    let queue = in_state(&db, ReviewState::Manual, Timestamp(100), 10).await.unwrap();
    assert_eq!(queue.iter().map(|q| q.merchant_id).collect::<Vec<_>>(), [a]);
    let pending = in_state(&db, ReviewState::Pending, Timestamp(11), 10).await.unwrap();
    assert!(pending.is_empty(), "submitted_before is exclusive");
}

#[tokio::test]
async fn bans_bar_their_numbers_while_in_force_and_are_audited() {
    let (_dir, db) = database().await;
    let m = merchant(&db, "13800000001").await;
    let numbers = [
        (NumberKind::LicenceNumber, "91350100M000100Y43".to_owned()),
        (NumberKind::IdNo, "11010519491231002X".to_owned()),
    ];
    let ban_id =
        ban(&db, m, "counterfeit goods", &numbers, &entry("merchant.ban", m), Timestamp(20)).await.unwrap();
    assert!(matches!(
        ban(&db, m, "again", &numbers, &entry("merchant.ban", m), Timestamp(21)).await,
        Err(InsertError::Duplicate)
    ));
    let active = active_ban(&db, m).await.unwrap().unwrap();
    assert_eq!(
        (active.id, active.reason.as_str(), active.banned_by.as_str()),
        (ban_id, "counterfeit goods", "ops")
    );
    assert!(number_is_banned(&db, NumberKind::LicenceNumber, "91350100M000100Y43").await.unwrap());
    assert!(number_is_banned(&db, NumberKind::IdNo, "11010519491231002X").await.unwrap());
    assert!(!number_is_banned(&db, NumberKind::IdNo, "91350100M000100Y43").await.unwrap(), "kinds are apart");

    assert_eq!(
        lift_ban(&db, m, "appeal upheld", &entry("merchant.unban", m), Timestamp(30)).await.unwrap(),
        Some(ban_id)
    );
    assert_eq!(lift_ban(&db, m, "twice", &entry("merchant.unban", m), Timestamp(31)).await.unwrap(), None);
    assert!(active_ban(&db, m).await.unwrap().is_none());
    assert!(!number_is_banned(&db, NumberKind::LicenceNumber, "91350100M000100Y43").await.unwrap());
    let history = bans_of(&db, m, 10).await.unwrap();
    assert_eq!(history[0].lifted_at, Some(Timestamp(30)));
    assert_eq!(history[0].lift_reason.as_deref(), Some("appeal upheld"));

    let audited = audit_entries(&db, &AuditFilter { limit: 10, ..AuditFilter::default() }).await.unwrap();
    let actions: Vec<&str> = audited.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["merchant.unban", "merchant.ban"], "one row per change, none for refusals");
}

#[tokio::test]
async fn documents_read_back_newest_first() {
    let (_dir, db) = database().await;
    let m = merchant(&db, "13800000001").await;
    let document = |kind: &str| DocumentRecord {
        id: 0,
        merchant_id: m,
        kind: kind.into(),
        path: format!("merchants/{}/{kind}.png", m.0),
        content_type: "image/png".into(),
        size_bytes: 1_234,
        width: 800,
        height: 600,
        sha256: "ab".repeat(32),
        uploaded_at: Timestamp(7),
    };
    insert_document(&db, &document("business_licence")).await.unwrap();
    let id = insert_document(&db, &document("id_card_front")).await.unwrap();
    let stored = documents_of(&db, m, 10).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0], DocumentRecord { id, ..document("id_card_front") });
    assert_eq!(document_count(&db, m).await.unwrap(), 2);
}
