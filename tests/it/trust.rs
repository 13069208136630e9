//! Who may sell, and operators keeping it honest, through HTTP and the verification sandbox:
//! the check characters of licence and ID numbers, the automated review (approved, rejected
//! with reasons per field, unsure → a person, the service down → a person, never approved),
//! only approved merchants open sales, a ban in the middle of a storm, and a fan's report
//! taken down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use engine::BeijingDay;
use engine::notification::NoticeKind;
use engine::qualification::{CreditCode, CreditCodeError, ResidentId, ResidentIdError};
use serde_json::{Value, json};

use crate::helpers::{
    Api, TestDb, company_form, png_header, spawn_app, stored_orders, test_settings, texts_of_kind,
};

/// The (field, reason) pairs of a review or a refusal.
fn pairs(reasons: &Value) -> Vec<(String, String)> {
    reasons
        .as_array()
        .unwrap_or_else(|| panic!("no reasons in {reasons}"))
        .iter()
        .map(|r| (r["field"].as_str().unwrap().to_owned(), r["reason"].as_str().unwrap().to_owned()))
        .collect()
}

fn pair(field: &str, reason: &str) -> (String, String) {
    (field.to_owned(), reason.to_owned())
}

/// An ID number of `id17` with its right check character.
fn with_check(id17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = id17.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    format!("{id17}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

#[test]
fn checksum_tables_give_each_number_its_exact_verdict() {
    use CreditCodeError as C;
    let codes: Vec<(&str, Result<(), C>)> = vec![
        ("91350100M000100Y43", Ok(())),
        (" 91350100M000100Y43 ", Ok(())),
        ("91350100m000100Y43", Err(C::Lowercase { position: 9, character: 'm' })),
        ("91350100M000100y43", Err(C::Lowercase { position: 16, character: 'y' })),
        ("91350100M000100Y4", Err(C::WrongLength { chars: 17 })),
        ("91350100M000100Y433", Err(C::WrongLength { chars: 19 })),
        ("", Err(C::WrongLength { chars: 0 })),
        ("91350100I000100Y43", Err(C::ForbiddenCharacter { position: 9, character: 'I' })),
        ("91350100O000100Y43", Err(C::ForbiddenCharacter { position: 9, character: 'O' })),
        ("91350100S000100Y43", Err(C::ForbiddenCharacter { position: 9, character: 'S' })),
        ("91350100V000100Y43", Err(C::ForbiddenCharacter { position: 9, character: 'V' })),
        ("91350100Z000100Y43", Err(C::ForbiddenCharacter { position: 9, character: 'Z' })),
        ("91350100M000100Y4Z", Err(C::ForbiddenCharacter { position: 18, character: 'Z' })),
        ("91350100M000100Y4-", Err(C::ForbiddenCharacter { position: 18, character: '-' })),
        ("91350100M000100Y44", Err(C::BadCheckCharacter { expected: '3', found: '4' })),
        ("９1350100M000100Y43", Err(C::ForbiddenCharacter { position: 1, character: '９' })),
    ];
    for (raw, verdict) in codes {
        assert_eq!(CreditCode::parse(raw).map(drop), verdict, "{raw:?}");
    }

    use ResidentIdError as R;
    let today = BeijingDay::from_ymd(2026, 11, 26).unwrap();
    let future = with_check("11010520301231002");
    let impossible = with_check("11010519490231002");
    let too_early = with_check("11010518991231002");
    let no_region = with_check("00010519491231002");
    let ids: Vec<(&str, Result<(), R>)> = vec![
        ("11010519491231002X", Ok(())),
        ("11010519491231002x", Err(R::Lowercase { position: 18 })),
        ("11010519491231002", Err(R::WrongLength { chars: 17 })),
        ("11010519491231002X0", Err(R::WrongLength { chars: 19 })),
        ("110105194912310O2X", Err(R::ForbiddenCharacter { position: 16, character: 'O' })),
        ("11010519491231002Z", Err(R::ForbiddenCharacter { position: 18, character: 'Z' })),
        ("110105194912310021", Err(R::BadCheckCharacter { expected: 'X', found: '1' })),
        (&no_region, Err(R::BadRegion { code: "000105".into() })),
        (&impossible, Err(R::ImpossibleBirthDate { digits: "19490231".into() })),
        (&too_early, Err(R::ImpossibleBirthDate { digits: "18991231".into() })),
        (&future, Err(R::BirthDateInFuture { digits: "20301231".into() })),
    ];
    for (raw, verdict) in ids {
        assert_eq!(ResidentId::parse(raw, today).map(drop), verdict, "{raw:?}");
    }
}

/// A product and a sale of `quantity` live for an hour; (product, sale), or the refusal.
async fn open_sale(api: &Api, token: &str, quantity: i64) -> Result<(i64, i64), crate::helpers::Reply> {
    let product = api
        .post(
            "/api/v1/products",
            Some(token),
            // One unit more than the sale takes: the product stays listed (not sold out), so
            // what a ban or a takedown does to it is what is seen.
            json!({"title": "口红 lipstick", "price_fen": 990, "stock": quantity + 1}),
        )
        .await;
    assert_eq!(product.status, 201, "{}", product.body);
    let now = chrono::Utc::now();
    let sale = api
        .post(
            "/api/v1/flash-sales",
            Some(token),
            json!({
                "product_id": product.body["product_id"], "price_fen": 990, "quantity": quantity,
                "per_buyer_limit": quantity, "payment_window_secs": 600,
                "starts_at": (now - chrono::Duration::seconds(1)).to_rfc3339(),
                "ends_at": (now + chrono::Duration::hours(1)).to_rfc3339(),
            }),
        )
        .await;
    let product_id = product.body["product_id"].as_i64().unwrap();
    if sale.status != 201 {
        return Err(sale);
    }
    Ok((product_id, sale.body["flash_sale_id"].as_i64().unwrap()))
}

fn opened(sale: Result<(i64, i64), crate::helpers::Reply>) -> (i64, i64) {
    sale.unwrap_or_else(|refused| panic!("the sale was refused: {} {}", refused.status, refused.body))
}

async fn audit_actions(api: &Api, operator: &str) -> Vec<String> {
    let log = api.get("/api/v1/operator/audit", Some(operator)).await;
    assert_eq!(log.status, 200, "{}", log.body);
    log.body["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_review_approves_rejects_per_field_and_sends_doubt_to_a_person() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();

    // Approved: every fact matches the registry.
    let approved = api.merchant("13800000101").await;
    let me = api.get("/api/v1/merchants/me", Some(&approved)).await.body;
    assert_eq!((me["review_state"].as_str(), pairs(&me["review_reasons"])), (Some("approved"), vec![]));
    assert!(open_sale(&api, &approved, 10).await.is_ok());

    // Rejected: the registry knows another legal person for this company and ID number.
    let phone = "13800000102";
    let rejected = api.unapproved_merchant(phone).await;
    let form = company_form(phone);
    let registered = api
        .post(
            "/sandbox/verification/companies",
            None,
            json!({"uscc": form["licence_number"], "name": form["business_name"],
                   "legal_person_name": "李真名", "legal_person_id_no": form["legal_person_id_no"]}),
        )
        .await;
    assert_eq!(registered.status, 201);
    for kind in ["business_licence", "id_card_front", "id_card_back"] {
        assert_eq!(
            api.upload_document(&rejected, kind, "image/png", &png_header(800, 600)).await.status,
            201
        );
    }
    let put = api.put_json("/api/v1/merchants/me/qualification", &rejected, form.clone()).await;
    assert_eq!(put.status, 202, "{}", put.body);
    let me = api.review_settled(&rejected).await;
    assert_eq!(me["review_state"], "rejected", "{me}");
    // The authority says the name and the number do not belong together (both named), and
    // the enterprise check names the legal person.
    assert_eq!(
        pairs(&me["review_reasons"]),
        vec![pair("legal_person_name", "mismatch"), pair("legal_person_id_no", "mismatch")]
    );
    assert_eq!(open_sale(&api, &rejected, 10).await.unwrap_err().code(), "merchant_not_approved");
    // A resubmission is reviewed afresh.
    let mut fixed = form.clone();
    fixed["legal_person_name"] = json!("李真名");
    assert_eq!(api.put_json("/api/v1/merchants/me/qualification", &rejected, fixed).await.status, 202);
    let me = api.review_settled(&rejected).await;
    assert_eq!(
        (me["review_state"].as_str(), me["qualification"]["revision"].as_i64()),
        (Some("approved"), Some(2))
    );

    // Unsure: the registry cannot say about this company → a person decides.
    let phone = "13800000103";
    let unsure = api.unapproved_merchant(phone).await;
    let uscc = company_form(phone)["licence_number"].as_str().unwrap().to_owned();
    assert_eq!(
        api.post("/sandbox/verification/unsure", None, json!({"key": uscc, "unsure": true})).await.status,
        200
    );
    api.register_company(phone).await;
    api.qualify(&unsure, phone).await;
    let me = api.review_settled(&unsure).await;
    assert_eq!(me["review_state"], "manual", "{me}");
    assert_eq!(pairs(&me["review_reasons"]), vec![pair("verification", "unsure")]);
    assert_eq!(open_sale(&api, &unsure, 10).await.unwrap_err().code(), "merchant_not_approved");

    // The operator's queue holds it (and only it); a rejection needs reasons, an approval lets
    // it sell; both are audited.
    let operator = api.operator().await;
    let queue = api.get("/api/v1/operator/qualifications", Some(&operator)).await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    let items = queue.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", queue.body);
    let merchant_id = items[0]["merchant_id"].as_i64().unwrap();
    let decision = format!("/api/v1/operator/qualifications/{merchant_id}/decision");
    let no_reasons = api.post(&decision, Some(&operator), json!({"revision": 1, "approve": false})).await;
    assert_eq!((no_reasons.status.as_u16(), no_reasons.code()), (422, "reasons_required"));
    let stale = api.post(&decision, Some(&operator), json!({"revision": 7, "approve": true})).await;
    assert_eq!((stale.status.as_u16(), stale.code()), (409, "not_in_review"));
    let decided = api.post(&decision, Some(&operator), json!({"revision": 1, "approve": true})).await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    assert_eq!(api.review_settled(&unsure).await["review_state"], "approved");
    assert!(open_sale(&api, &unsure, 10).await.is_ok());
    assert_eq!(
        audit_actions(&api, &operator).await.iter().filter(|a| *a == "qualification.approve").count(),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn the_service_down_sends_the_merchant_to_a_person_never_approves() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.trust.verification_retry_pause_ms = 1;
    let app = spawn_app(settings).await;
    let api = app.api();
    assert_eq!(api.post("/sandbox/verification/down", None, json!({"down": true})).await.status, 200);
    let phone = "13800000201";
    let token = api.unapproved_merchant(phone).await;
    api.register_company(phone).await;
    api.qualify(&token, phone).await;
    let me = api.review_settled(&token).await;
    assert_eq!(me["review_state"], "manual", "{me}");
    let reasons = pairs(&me["review_reasons"]);
    assert!(
        !reasons.is_empty() && reasons.iter().all(|r| *r == pair("verification", "service_unavailable")),
        "{reasons:?}"
    );
    assert_eq!(open_sale(&api, &token, 10).await.unwrap_err().code(), "merchant_not_approved");
    app.stop().await;
}

#[tokio::test]
async fn a_form_and_documents_are_refused_with_a_reason_for_each_problem() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.trust.document_max_bytes = 2_000;
    let app = spawn_app(settings).await;
    let api = app.api();
    let token = api.unapproved_merchant("13800000301").await;
    let me = api.get("/api/v1/merchants/me", Some(&token)).await.body;
    assert_eq!((me["review_state"].as_str(), pairs(&me["review_reasons"])), (Some("none"), vec![]));
    // No qualification: no sale.
    let refused = open_sale(&api, &token, 10).await.unwrap_err();
    assert_eq!((refused.status.as_u16(), refused.code()), (403, "merchant_not_approved"));

    let mut form = company_form("13800000301");
    form["licence_number"] = json!("91350100m000100Y43");
    form["legal_person_id_no"] = json!("11010519491231002");
    form["categories"] = json!(["food"]);
    let put = api.put_json("/api/v1/merchants/me/qualification", &token, form).await;
    assert_eq!((put.status.as_u16(), put.code()), (422, "invalid_qualification"), "{}", put.body);
    let got = pairs(&put.body["error"]["reasons"]);
    for expected in [pair("licence_number", "lowercase"), pair("legal_person_id_no", "wrong_length")] {
        assert!(got.contains(&expected), "{expected:?} in {got:?}");
    }
    assert!(got.iter().any(|(f, _)| f.starts_with("permits")), "a food seller needs a permit: {got:?}");
    assert_eq!(api.get("/api/v1/merchants/me", Some(&token)).await.body["review_state"], "none");

    let jpeg_as_png = {
        let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        bytes.extend(b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00");
        bytes.extend([0xFF, 0xC0, 0x00, 0x11, 0x08, 0x03, 0x20, 0x04, 0x00]);
        bytes.extend([0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xD9]);
        bytes
    };
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("passport", "image/png", png_header(800, 600), 422, "invalid_kind"),
        ("id_card_front", "image/png", Vec::new(), 422, "empty_file"),
        ("id_card_front", "image/gif", b"GIF89a\x01\x00\x01\x00".to_vec(), 415, "unsupported_image_type"),
        ("id_card_front", "image/png", jpeg_as_png, 415, "content_type_mismatch"),
        ("id_card_front", "image/png", png_header(200, 600), 422, "invalid_dimensions"),
        ("id_card_front", "image/png", png_header(800, 9_000), 422, "invalid_dimensions"),
        ("id_card_front", "image/png", vec![0; 2_001], 413, "file_too_large"),
    ];
    for (kind, content_type, bytes, status, code) in cases {
        let answer = api.upload_document(&token, kind, content_type, &bytes).await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (status, code),
            "{kind} {content_type}: {}",
            answer.body
        );
    }
    let ok = api.upload_document(&token, "id_card_front", "image/png", &png_header(800, 600)).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    let me = api.get("/api/v1/merchants/me", Some(&token)).await.body;
    assert_eq!(me["documents"].as_array().unwrap().len(), 1, "only the good upload is kept: {me}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ban_mid_storm_stops_the_merchants_sales_and_accepts_nothing_after_its_answer() {
    // Enough that the storm rarely sells out before the ban answers (a buyer may place at most
    // `FlashSale::MAX_ORDERS_PER_BUYER` orders: 30,000 in all, more than this).
    const QUANTITY: i64 = 20_000;
    const BUYERS: u64 = 300;
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let phone = "13800000401";
    let merchant = api.merchant(phone).await;
    let (product, storm_sale) = opened(open_sale(&api, &merchant, QUANTITY).await);
    let (_, other_sale) = opened(open_sale(&api, &merchant, 100).await);
    let tokens = Arc::new(api.buyers(13_100_000_000, BUYERS, 64).await);
    let operator = api.operator().await;
    let merchant_id = merchant_id(&api, phone).await;

    // Each buyer orders one unit after another until told to stop; every answer is kept with
    // whether its request was sent after the ban's answer had arrived.
    let stop = Arc::new(AtomicBool::new(false));
    let banned = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicUsize::new(0));
    let sent_after_ban = Arc::new(AtomicUsize::new(0));
    let mut storm = tokio::task::JoinSet::new();
    for buyer in 0..BUYERS as usize {
        let (api, tokens) = (api.clone(), tokens.clone());
        let (stop, banned, accepted, sent_after_ban) =
            (stop.clone(), banned.clone(), accepted.clone(), sent_after_ban.clone());
        storm.spawn(async move {
            let mut answers = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let after = banned.load(Ordering::SeqCst);
                let reply = api.order(storm_sale, &tokens[buyer], &format!("b{buyer}-{n}"), 1).await;
                if reply.status == 201 {
                    accepted.fetch_add(1, Ordering::SeqCst);
                }
                if after {
                    sent_after_ban.fetch_add(1, Ordering::SeqCst);
                }
                answers.push((after, reply.status.as_u16(), reply.code().to_owned()));
            }
            answers
        });
    }
    while accepted.load(Ordering::SeqCst) < 500 {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let ban = api
        .post(
            &format!("/api/v1/operator/merchants/{merchant_id}/ban"),
            Some(&operator),
            json!({"reason": "counterfeit goods"}),
        )
        .await;
    assert_eq!(ban.status, 200, "{}", ban.body);
    banned.store(true, Ordering::SeqCst);
    let accepted_at_ban = accepted.load(Ordering::SeqCst);
    // The storm goes on against the banned sale for two more requests per buyer on average.
    while sent_after_ban.load(Ordering::SeqCst) < 2 * BUYERS as usize {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut answers = Vec::new();
    while let Some(done) = storm.join_next().await {
        answers.extend(done.unwrap());
    }
    let after: Vec<_> = answers.iter().filter(|(after, _, _)| *after).collect();
    assert!(after.len() >= 2 * BUYERS as usize);
    for (_, status, code) in &after {
        assert_eq!(
            (*status, code.as_str()),
            (409, "sale_suspended"),
            "an answer to a request sent after the ban"
        );
    }
    let created = answers.iter().filter(|(_, status, _)| *status == 201).count();
    assert_eq!(created, accepted.load(Ordering::SeqCst));
    // Requests in flight when the ban answered may have been accepted before it: one a buyer.
    assert!(created >= 500 && created <= accepted_at_ban + BUYERS as usize, "{created}");
    // Before the ban's answer: placed, held back, or — when a loaded machine makes the ban
    // slow enough for the storm to take every unit first — sold out.
    let odd: Vec<_> = answers
        .iter()
        .filter(|(_, s, c)| {
            !(*s == 201 || (*s == 409 && ["sale_suspended", "sold_out"].contains(&c.as_str())))
        })
        .collect();
    assert!(odd.is_empty(), "{odd:?}");

    // Counters exact: the actor's invariants, the gauge, the database.
    let handle = app.state.registry.get(engine::FlashSaleId(storm_sale)).expect("the sale's actor");
    let (counts, verified) = handle.verify().await.expect("the actor answers");
    verified.expect("the stock invariants hold");
    assert_eq!(counts.reserved as usize, created);
    assert_eq!((counts.available + counts.reserved) as i64, QUANTITY);
    // The database holds every acknowledged order once it has caught up with the order log.
    app.state.journal.caught_up().await;
    let conn = db.connect().await;
    let stored = stored_orders(&conn, storm_sale).await;
    let created_i64 = created as i64;
    assert_eq!(stored, [("pending_payment".to_owned(), (created_i64, created_i64))].into_iter().collect());
    assert_eq!(api.counts(storm_sale).await, (QUANTITY - created as i64, created as i64, 0, QUANTITY));
    let shown = api.get(&format!("/api/v1/flash-sales/{storm_sale}"), None).await.body;
    assert_eq!(shown["state"], "suspended");

    // Its other sale stopped too, its product delisted, its tokens and log-in refused.
    let buyer = api.buyer("13100009999").await;
    let other = api.order(other_sale, &buyer, "after-ban", 1).await;
    assert_eq!((other.status.as_u16(), other.code()), (409, "sale_suspended"));
    assert_eq!(api.get(&format!("/api/v1/products/{product}"), None).await.body["status"], "delisted");
    assert_eq!(api.get("/api/v1/merchants/me", Some(&merchant)).await.status, 401);
    let login = api.post("/api/v1/sessions", None, json!({"phone": phone, "password": "password-123"})).await;
    assert_eq!((login.status.as_u16(), login.code()), (403, "merchant_banned"));

    // A new sign-up with the same licence and ID number is refused.
    let again = api.unapproved_merchant("13800000402").await;
    let same = api.put_json("/api/v1/merchants/me/qualification", &again, company_form(phone)).await;
    assert_eq!((same.status.as_u16(), same.code()), (403, "number_banned"), "{}", same.body);
    let mut refused = pairs(&same.body["error"]["reasons"]);
    refused.sort();
    assert_eq!(refused, vec![pair("legal_person_id_no", "banned"), pair("licence_number", "banned")]);

    // The merchant was told by text, once, with the reason.
    let told = texts_of_kind(&app, phone, NoticeKind::MerchantBanned).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("封禁") && told[0].contains("counterfeit goods"), "{}", told[0]);

    // Unban gives back what the ban took (not the old tokens).
    let unban = api
        .post(
            &format!("/api/v1/operator/merchants/{merchant_id}/unban"),
            Some(&operator),
            json!({"reason": "appeal upheld"}),
        )
        .await;
    assert_eq!(unban.status, 200, "{}", unban.body);
    assert_eq!(api.order(other_sale, &buyer, "after-unban", 1).await.status, 201);
    assert_eq!(api.get(&format!("/api/v1/products/{product}"), None).await.body["status"], "listed");
    assert_eq!(api.get("/api/v1/merchants/me", Some(&merchant)).await.status, 401);
    let login = api.post("/api/v1/sessions", None, json!({"phone": phone, "password": "password-123"})).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let actions = audit_actions(&api, &operator).await;
    assert_eq!(actions.iter().filter(|a| *a == "merchant.ban").count(), 1, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "merchant.unban").count(), 1, "{actions:?}");
    app.stop().await;
}

/// The id of the merchant of `phone` (its token read from a fresh log-in).
async fn merchant_id(api: &Api, phone: &str) -> i64 {
    let session =
        api.post("/api/v1/sessions", None, json!({"phone": phone, "password": "password-123"})).await;
    assert_eq!(session.status, 200, "{}", session.body);
    session.body["merchant_id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_report_taken_down_stops_the_sale_tells_the_merchant_and_is_audited() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.trust.reports_per_buyer_per_hour = 3;
    let app = spawn_app(settings).await;
    let api = app.api();
    let merchant = api.merchant("13800000501").await;
    let (product, sale) = opened(open_sale(&api, &merchant, 20).await);
    let fan = api.buyer("13100000501").await;
    assert_eq!(api.order(sale, &fan, "before", 1).await.status, 201);

    let path = format!("/api/v1/flash-sales/{sale}/reports");
    let unknown = api.post(&path, Some(&fan), json!({"reason": "i_dont_like_it"})).await;
    assert_eq!((unknown.status.as_u16(), unknown.code()), (422, "invalid_reason"));
    let long = api.post(&path, Some(&fan), json!({"reason": "other", "text": "很".repeat(501)})).await;
    assert_eq!((long.status.as_u16(), long.code()), (422, "invalid_text"));
    let anonymous = api.post(&path, None, json!({"reason": "counterfeit"})).await;
    assert_eq!(anonymous.status, 401);
    let filed = api.post(&path, Some(&fan), json!({"reason": "counterfeit", "text": "假货"})).await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let report = filed.body["report_id"].as_i64().unwrap();
    // Bounded per buyer: three an hour here.
    for _ in 0..2 {
        assert_eq!(
            api.post(
                &format!("/api/v1/products/{product}/reports"),
                Some(&fan),
                json!({"reason": "price_fraud"})
            )
            .await
            .status,
            201
        );
    }
    let over = api.post(&path, Some(&fan), json!({"reason": "counterfeit"})).await;
    assert_eq!((over.status.as_u16(), over.code()), (429, "too_many_reports"));

    let operator = api.operator().await;
    let queue = api.get("/api/v1/operator/reports", Some(&operator)).await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert_eq!(queue.body["items"].as_array().unwrap().len(), 3);
    assert_eq!(queue.body["items"][0]["id"].as_i64(), Some(report));
    let takedown = format!("/api/v1/operator/reports/{report}/takedown");
    let done = api.post(&takedown, Some(&operator), json!({"reason": "counterfeit confirmed"})).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["state"], "taken_down");
    let twice = api.post(&takedown, Some(&operator), json!({"reason": "again"})).await;
    assert_eq!((twice.status.as_u16(), twice.code()), (409, "already_decided"));

    let refused = api.order(sale, &api.buyer("13100000502").await, "after", 1).await;
    assert_eq!((refused.status.as_u16(), refused.code()), (409, "sale_suspended"));
    // A replay of an order placed before is still its answer.
    assert_eq!(api.order(sale, &fan, "before", 1).await.status, 201);
    assert_eq!(api.get(&format!("/api/v1/products/{product}"), None).await.body["status"], "delisted");
    // The merchant cannot undo the takedown by listing the product again.
    let relist = api
        .post(&format!("/api/v1/products/{product}/status"), Some(&merchant), json!({"status": "listed"}))
        .await;
    assert_eq!((relist.status.as_u16(), relist.code()), (409, "product_held_back"), "{}", relist.body);
    assert_eq!(api.get(&format!("/api/v1/products/{product}"), None).await.body["status"], "delisted");
    let me = api.get("/api/v1/merchants/me", Some(&merchant)).await.body;
    assert_eq!(
        me["suspended_sales"],
        json!([{"flash_sale_id": sale, "reason": "takedown: counterfeit confirmed"}])
    );
    let open = api.get("/api/v1/operator/reports", Some(&operator)).await.body;
    assert_eq!(open["items"].as_array().unwrap().len(), 2);
    let actions = audit_actions(&api, &operator).await;
    assert_eq!(actions.iter().filter(|a| *a == "report.take_down").count(), 1, "{actions:?}");
    // The merchant was told by text, once (the second decision was refused), with the reason.
    let told = texts_of_kind(&app, "13800000501", NoticeKind::SaleTakenDown).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("口红 lipstick") && told[0].contains("counterfeit confirmed"), "{}", told[0]);

    // Still suspended after a restart of its actor from storage.
    app.stop().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let after = api.order(sale, &api.buyer("13100000503").await, "restart", 1).await;
    assert_eq!((after.status.as_u16(), after.code()), (409, "sale_suspended"));
    app.stop().await;
}

#[tokio::test]
async fn a_ban_set_to_release_holds_cancels_the_unpaid_orders_at_once() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.trust.ban_holds = "release".into();
    let app = spawn_app(settings).await;
    let api = app.api();
    let phone = "13800000601";
    let merchant = api.merchant(phone).await;
    let (_, sale) = opened(open_sale(&api, &merchant, 10).await);
    for (n, fan) in ["13100000601", "13100000602", "13100000603"].into_iter().enumerate() {
        let fan = api.buyer(fan).await;
        assert_eq!(api.order(sale, &fan, &format!("k{n}"), 2).await.status, 201);
    }
    assert_eq!(api.counts(sale).await, (4, 6, 0, 10));
    let operator = api.operator().await;
    let id = merchant_id(&api, phone).await;
    let ban = api
        .post(&format!("/api/v1/operator/merchants/{id}/ban"), Some(&operator), json!({"reason": "fraud"}))
        .await;
    assert_eq!(ban.status, 200, "{}", ban.body);
    // Released with the ban's answer: every unit back, every order cancelled and stored so.
    assert_eq!(api.counts(sale).await, (10, 0, 0, 10));
    let stored = stored_orders(&db.connect().await, sale).await;
    assert_eq!(stored, [("cancelled".to_owned(), (6, 3))].into_iter().collect());
    app.stop().await;
}

#[tokio::test]
async fn the_console_pages_show_the_review_the_queue_the_reports_and_the_bans() {
    use crate::consoles::{page, page_session};
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let phone = "13800000701";
    let token = api.unapproved_merchant(phone).await;
    api.register_company(phone).await;
    let uscc = company_form(phone)["licence_number"].as_str().unwrap().to_owned();
    assert_eq!(
        api.post("/sandbox/verification/unsure", None, json!({"key": uscc, "unsure": true})).await.status,
        200
    );
    api.qualify(&token, phone).await;
    assert_eq!(api.review_settled(&token).await["review_state"], "manual");

    let login = json!({"phone": phone, "password": "password-123"});
    let merchant = page_session(&api, "/console/login", "/console/session", login, "fs_merchant").await;
    let (status, shown) = page(&api, "/console/qualification", &merchant).await;
    assert_eq!(status, 200);
    assert!(
        shown.contains("人工审核中") && shown.contains("data-upload") && shown.contains("营业执照"),
        "{shown}"
    );

    let approved = api.merchant("13800000702").await;
    let (_, sale) = opened(open_sale(&api, &approved, 5).await);
    let fan = api.buyer("13100000701").await;
    let report = api
        .post(&format!("/api/v1/flash-sales/{sale}/reports"), Some(&fan), json!({"reason": "counterfeit"}))
        .await;
    assert_eq!(report.status, 201);

    let login = json!({"username": "operator", "password": crate::helpers::OPERATOR_PASSWORD});
    let operator = page_session(&api, "/admin/login", "/admin/session", login, "fs_operator").await;
    let (status, queue) = page(&api, "/admin/qualifications", &operator).await;
    assert_eq!(status, 200);
    assert!(queue.contains(&uscc) && queue.contains("驳回"), "{queue}");
    let (status, reports) = page(&api, "/admin/reports", &operator).await;
    assert_eq!(status, 200);
    assert!(reports.contains("counterfeit") && reports.contains("/takedown"), "{reports}");
    let (status, bans) = page(&api, "/admin/bans", &operator).await;
    assert_eq!(status, 200);
    assert!(bans.contains("没有被封禁的商家"), "{bans}");
    app.stop().await;
}
