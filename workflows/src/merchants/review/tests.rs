//! The review through the real verification client against the verification sandbox served on
//! a local port, with a fresh SQLite database per test: approved, rejected with reasons per
//! field, unsure and down (both to a person, never approved), refused locally, re-checked on
//! resubmission.

use std::time::{SystemTime, UNIX_EPOCH};

use engine::Timestamp;
use engine::qualification::PermitInput;
use persistence::access::AuditEntry;
use providers::verification::tencent::{TencentVerification, TencentVerificationConfig};
use sandbox::verification::{Company, VerificationSandbox, VerificationSandboxSettings};

use super::*;
use crate::merchants::documents::fixtures::png;
use crate::merchants::documents::{DocumentSettings, Documents};
use crate::merchants::store::FsStore;

struct Wall;

impl Clock for Wall {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64)
    }
}

struct World {
    _dir: tempfile::TempDir,
    db: DatabaseConnection,
    sandbox: Arc<VerificationSandbox>,
    reviews: Reviews,
    documents: Documents,
}

const USCC: &str = "91350100M000100Y43";
const ID: &str = "11010519491231002X";
const NAME: &str = "福州示例科技有限公司";

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let db =
        persistence::connect(&format!("sqlite://{}/t.db", dir.path().display()), 2, false).await.unwrap();
    let sandbox = Arc::new(VerificationSandbox::new(
        VerificationSandboxSettings {
            secret_id: "AKIDsandbox".into(),
            secret_key: "sandbox-key".into(),
            capacity: 100,
        },
        Arc::new(Wall),
    ));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/sandbox/verification", listener.local_addr().unwrap());
    actix_web::rt::spawn(sandbox::verification::serve(listener, sandbox.clone()).unwrap());
    let verifier = TencentVerification::new(
        TencentVerificationConfig {
            faceid_url: format!("{base}/faceid"),
            ocr_url: format!("{base}/ocr"),
            region: "ap-guangzhou".into(),
            secret_id: "AKIDsandbox".into(),
            secret_key: "sandbox-key".into(),
            timeout: Duration::from_secs(2),
            attempts: 2,
            retry_pause: Duration::from_millis(10),
        },
        reqwest::Client::new(),
        Arc::new(Wall),
    )
    .unwrap();
    let settings = ReviewSettings {
        rules: QualificationRules::default(),
        require_documents: true,
        stuck_after: Duration::from_secs(60),
    };
    let reviews = Reviews::new(db.clone(), Arc::new(verifier), Arc::new(Wall), settings).unwrap();
    let documents = Documents::new(
        db.clone(),
        Arc::new(FsStore::new(dir.path().join("documents"))),
        Arc::new(Wall),
        DocumentSettings::with_permits(["food_production", "food_operation", "cosmetics_production"]),
    );
    sandbox
        .add_company(Company {
            uscc: USCC.into(),
            name: NAME.into(),
            legal_person_name: "张三".into(),
            legal_person_id_no: ID.into(),
        })
        .unwrap();
    World { _dir: dir, db, sandbox, reviews, documents }
}

async fn merchant(world: &World, phone: &str) -> MerchantId {
    let phone = engine::Phone::parse(phone).unwrap();
    let id = persistence::repo::insert_merchant(&world.db, &phone, "hash", "店", Timestamp(1)).await.unwrap();
    for (i, kind) in
        ["business_licence", "id_card_front", "id_card_back", "food_operation"].iter().enumerate()
    {
        world.documents.upload(id, kind, Some("image/png"), png(800 + i as u32, 600)).await.unwrap();
    }
    id
}

fn company() -> QualificationInput {
    QualificationInput {
        entity_type: "company".into(),
        business_name: Some(NAME.into()),
        licence_number: Some(USCC.into()),
        legal_person_name: "张三".into(),
        legal_person_id_no: ID.into(),
        contact_name: "李四".into(),
        contact_phone: "13800000000".into(),
        categories: vec!["food".into()],
        permits: vec![PermitInput { kind: "food_operation".into(), number: "JY14403050012345".into() }],
    }
}

fn fields(review: &Review) -> Vec<(&str, &str)> {
    review.reasons.iter().map(|r| (r.field.as_str(), r.code.as_str())).collect()
}

#[actix_web::test]
async fn a_known_company_is_approved() {
    let world = world().await;
    let m = merchant(&world, "13800000001").await;
    let review = world.reviews.submit_and_review(m, &company()).await.unwrap();
    assert_eq!((review.revision, review.state, review.reasons), (1, ReviewState::Approved, vec![]));
    assert_eq!(stored::review_of(&world.db, m).await.unwrap(), (ReviewState::Approved, vec![]));
}

#[actix_web::test]
async fn mismatches_are_rejected_with_a_reason_per_field_and_a_resubmission_is_checked_again() {
    let world = world().await;
    let m = merchant(&world, "13800000001").await;
    let mut wrong_person = company();
    wrong_person.legal_person_name = "李四".into();
    let review = world.reviews.submit_and_review(m, &wrong_person).await.unwrap();
    assert_eq!(review.state, ReviewState::Rejected);
    // the person check cannot tell which of name and number is wrong; the enterprise check
    // names the name
    assert_eq!(fields(&review), [("legal_person_name", "mismatch"), ("legal_person_id_no", "mismatch")]);
    assert_eq!(stored::review_of(&world.db, m).await.unwrap().1, review.reasons);

    let mut wrong_name = company();
    wrong_name.business_name = Some("福州别的公司".into());
    let review = world.reviews.submit_and_review(m, &wrong_name).await.unwrap();
    assert_eq!((review.revision, review.state), (2, ReviewState::Rejected));
    assert_eq!(fields(&review), [("business_name", "mismatch")]);

    let review = world.reviews.submit_and_review(m, &company()).await.unwrap();
    assert_eq!((review.revision, review.state, review.reasons), (3, ReviewState::Approved, vec![]));
}

#[actix_web::test]
async fn an_unsure_service_and_a_down_service_queue_for_a_person_and_never_approve() {
    let world = world().await;
    let m = merchant(&world, "13800000001").await;
    world.sandbox.set_unsure(USCC, true);
    let review = world.reviews.submit_and_review(m, &company()).await.unwrap();
    assert_eq!(review.state, ReviewState::Manual);
    assert_eq!(fields(&review), [("verification", "unsure")]);
    world.sandbox.set_unsure(USCC, false);

    world.sandbox.set_down(true);
    let review = world.reviews.submit_and_review(m, &company()).await.unwrap();
    assert_eq!((review.revision, review.state), (2, ReviewState::Manual));
    assert_eq!(
        fields(&review),
        [("verification", "service_unavailable"), ("verification", "service_unavailable")]
    );
    assert_eq!(stored::review_of(&world.db, m).await.unwrap().0, ReviewState::Manual);

    // a definite mismatch still rejects even when the other check cannot say
    world.sandbox.set_down(false);
    world.sandbox.set_unsure(ID, true);
    let mut wrong_name = company();
    wrong_name.business_name = Some("福州别的公司".into());
    let review = world.reviews.submit_and_review(m, &wrong_name).await.unwrap();
    assert_eq!((review.state, fields(&review)), (ReviewState::Rejected, vec![("business_name", "mismatch")]));
}

#[actix_web::test]
async fn a_form_with_problems_is_refused_whole_and_nothing_is_stored() {
    let world = world().await;
    let m = merchant(&world, "13800000001").await;
    let mut input = company();
    input.licence_number = Some("91350100m000100Y43".into());
    input.legal_person_id_no = "110105194912310021".into();
    match world.reviews.submit_and_review(m, &input).await {
        Err(SubmitError::Invalid(reasons)) => {
            let codes: Vec<_> = reasons.iter().map(|r| (r.field.as_str(), r.code.as_str())).collect();
            assert_eq!(
                codes,
                [("licence_number", "lowercase"), ("legal_person_id_no", "bad_check_character")]
            );
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(stored::review_of(&world.db, m).await.unwrap(), (ReviewState::None, vec![]));
}

#[actix_web::test]
async fn missing_documents_banned_numbers_and_numbers_in_use_are_rejected_before_asking() {
    let world = world().await;
    let phone = engine::Phone::parse("13800000009").unwrap();
    let bare = persistence::repo::insert_merchant(&world.db, &phone, "h", "店", Timestamp(1)).await.unwrap();
    world.documents.upload(bare, "id_card_front", None, png(800, 600)).await.unwrap();
    let review = world.reviews.submit_and_review(bare, &company()).await.unwrap();
    assert_eq!(
        fields(&review),
        [
            ("documents.business_licence", "document_missing"),
            ("documents.id_card_back", "document_missing"),
            ("documents.food_operation", "document_missing"),
        ]
    );

    let first = merchant(&world, "13800000001").await;
    assert_eq!(
        world.reviews.submit_and_review(first, &company()).await.unwrap().state,
        ReviewState::Approved
    );
    let second = merchant(&world, "13800000002").await;
    let review = world.reviews.submit_and_review(second, &company()).await.unwrap();
    assert_eq!(fields(&review), [("legal_person_id_no", "in_use"), ("licence_number", "in_use")]);

    let entry = AuditEntry {
        id: 0,
        operator_id: None,
        username: "ops".into(),
        role: "admin".into(),
        action: "merchant.ban".into(),
        target: format!("merchant:{}", first.0),
        details: "{}".into(),
        created_at: Timestamp(2),
    };
    let numbers = [(NumberKind::LicenceNumber, USCC.to_owned()), (NumberKind::IdNo, ID.to_owned())];
    stored::ban(&world.db, first, "fraud", &numbers, &entry, Timestamp(2)).await.unwrap();
    let review = world.reviews.submit_and_review(second, &company()).await.unwrap();
    assert_eq!(fields(&review), [("legal_person_id_no", "banned"), ("licence_number", "banned")]);
}

#[actix_web::test]
async fn a_stale_review_never_overwrites_a_newer_submission() {
    let world = world().await;
    let m = merchant(&world, "13800000001").await;
    let first = world.reviews.submit(m, &company()).await.unwrap();
    let second = world.reviews.submit(m, &company()).await.unwrap();
    let stale = world.reviews.review(m, first).await.unwrap();
    assert_eq!(
        (stale.revision, stale.state),
        (second, ReviewState::Pending),
        "the old revision is not reviewed"
    );
    assert_eq!(world.reviews.review(m, second).await.unwrap().state, ReviewState::Approved);
}

#[test]
fn a_definite_mismatch_outweighs_doubt_and_doubt_outweighs_matches() {
    let mismatch = |fields: Vec<Field>| Ok(Verdict::Mismatch { fields, detail: "x".into() });
    let down = Err(VerificationError::Transport("refused".into()));
    let (state, reasons) =
        decide(&[down.clone(), mismatch(vec![Field::LegalPersonIdNo, Field::LegalPersonName])]);
    assert_eq!(state, ReviewState::Rejected);
    let named: Vec<_> = reasons.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(named, ["legal_person_name", "legal_person_id_no"]);
    assert_eq!(decide(&[Ok(Verdict::Match), down]).0, ReviewState::Manual);
    assert_eq!(
        decide(&[Ok(Verdict::Match), Ok(Verdict::Unsure { detail: "x".into() })]).0,
        ReviewState::Manual
    );
    assert_eq!(decide(&[Ok(Verdict::Match), Ok(Verdict::Match)]), (ReviewState::Approved, vec![]));
}
