//! Verified buyers: a session needs the code the SMS sandbox delivered. Wrong, missing,
//! expired, locked and superseded codes open nothing; resends wait a minute; the caps per
//! phone and per network hold, also under concurrency; and the code is in no log line and in
//! no answer of the API (only the phone, i.e. the sandbox inbox, ever shows it).

use std::sync::Arc;

use actors::clock::ManualClock;
use engine::Timestamp;
use serde_json::json;

use crate::helpers::{
    Api, ChildServer, Reply, TestDb, client, code_caps_off_env, spawn_app_with_clock, test_settings,
};

fn manual_clock() -> Arc<ManualClock> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    Arc::new(ManualClock::new(Timestamp(now)))
}

async fn ask_code(api: &Api, phone: &str) -> Reply {
    api.post("/api/v1/buyers/codes", None, json!({ "phone": phone })).await
}

async fn open_session(api: &Api, phone: &str, code: &str) -> Reply {
    api.post("/api/v1/buyers/sessions", None, json!({ "phone": phone, "code": code })).await
}

/// A code of six digits that is not `code`.
fn other_than(code: &str, n: u32) -> String {
    let value: u32 = code.parse().unwrap();
    format!("{:06}", (value + 1 + n) % 1_000_000)
}

fn assert_no_token(reply: &Reply) {
    assert!(reply.body.get("token").is_none(), "a token was handed out: {}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_right_code_opens_a_session_and_six_wrong_tries_lock_it() {
    let db = TestDb::new().await;
    let clock = manual_clock();
    let app = spawn_app_with_clock(test_settings(&db), clock.clone()).await;
    let api = app.api();
    let phone = "13911110001";
    let mut answers = Vec::new();

    // No code asked for yet, no code given, a malformed code: no token.
    let never_asked = open_session(&api, phone, "123456").await;
    assert_eq!((never_asked.status.as_u16(), never_asked.code()), (401, "no_code"));
    let sent = ask_code(&api, phone).await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    assert!(sent.body["expires_at"].is_string() && sent.body["resend_after_secs"] == 60);
    let code = api.sms_code(phone).await;
    let missing = api.post("/api/v1/buyers/sessions", None, json!({ "phone": phone })).await;
    assert_eq!((missing.status.as_u16(), missing.code()), (422, "invalid_code"));
    let malformed = open_session(&api, phone, "12ab56").await;
    assert_eq!((malformed.status.as_u16(), malformed.code()), (422, "invalid_code"));
    let someone_else = open_session(&api, "13911110002", &code).await;
    assert_eq!((someone_else.status.as_u16(), someone_else.code()), (401, "no_code"));

    // Five wrong tries are answered with the tries left; the sixth finds the code locked,
    // and then even the right code opens nothing.
    for n in 0..5 {
        let wrong = open_session(&api, phone, &other_than(&code, n)).await;
        assert_eq!((wrong.status.as_u16(), wrong.code()), (401, "wrong_code"), "try {n}: {}", wrong.body);
        assert!(wrong.body["error"]["message"].as_str().unwrap().contains(&format!("{} tries left", 4 - n)));
        answers.push(wrong);
    }
    let sixth = open_session(&api, phone, &other_than(&code, 5)).await;
    assert_eq!((sixth.status.as_u16(), sixth.code()), (429, "code_locked"));
    let right_but_locked = open_session(&api, phone, &code).await;
    assert_eq!((right_but_locked.status.as_u16(), right_but_locked.code()), (429, "code_locked"));
    for reply in [&never_asked, &missing, &malformed, &someone_else, &sixth, &right_but_locked] {
        assert_no_token(reply);
    }

    // A minute later a new code may be sent; it replaces the locked one and opens a session
    // exactly once.
    clock.advance_millis(60_000);
    assert_eq!(ask_code(&api, phone).await.status, 202);
    let fresh = api.sms_code(phone).await;
    if fresh != code {
        let old = open_session(&api, phone, &code).await;
        assert_eq!(old.code(), "wrong_code", "a superseded code is just a wrong one");
    }
    let session = open_session(&api, phone, &fresh).await;
    assert_eq!(session.status, 200, "{}", session.body);
    let token = session.body["token"].as_str().unwrap();
    assert_eq!(api.get("/api/v1/orders/1", Some(token)).await.status, 404, "the token works");
    let again = open_session(&api, phone, &fresh).await;
    assert_eq!((again.status.as_u16(), again.code()), (401, "no_code"), "a code opens one session");

    // Outside the sandbox no answer carries a code.
    answers.extend([
        never_asked,
        sent,
        missing,
        malformed,
        someone_else,
        sixth,
        right_but_locked,
        session,
        again,
    ]);
    for reply in &answers {
        let text = String::from_utf8_lossy(&reply.bytes);
        assert!(!text.contains(&code) && !text.contains(&fresh), "an answer shows a code: {text}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_expire_after_five_minutes_and_resends_wait_a_minute() {
    let db = TestDb::new().await;
    let clock = manual_clock();
    let app = spawn_app_with_clock(test_settings(&db), clock.clone()).await;
    let api = app.api();
    let (late, on_time) = ("13922220001", "13922220002");
    assert_eq!(ask_code(&api, late).await.status, 202);
    assert_eq!(ask_code(&api, on_time).await.status, 202);
    let (late_code, on_time_code) = (api.sms_code(late).await, api.sms_code(on_time).await);

    // A resend within the minute: 429 with how long to wait.
    clock.advance_millis(20_000);
    let too_soon = ask_code(&api, late).await;
    assert_eq!((too_soon.status.as_u16(), too_soon.code()), (429, "code_resend_too_soon"));
    assert_no_token(&too_soon);
    assert_eq!(api.sms_code(late).await, late_code, "nothing was sent");

    clock.advance_millis(300_000 - 20_000 - 1);
    assert_eq!(
        open_session(&api, on_time, &on_time_code).await.status,
        200,
        "valid until the last millisecond"
    );
    clock.advance_millis(1);
    let expired = open_session(&api, late, &late_code).await;
    assert_eq!((expired.status.as_u16(), expired.code()), (401, "code_expired"));
    assert_no_token(&expired);

    // The resend window, to the second: 59 s after a code, still too soon; at 60 s, fine.
    assert_eq!(ask_code(&api, late).await.status, 202);
    clock.advance_millis(59_000);
    let wait = api
        .client
        .post(api.url("/api/v1/buyers/codes"))
        .json(&json!({ "phone": late }))
        .send()
        .await
        .unwrap();
    assert_eq!(wait.status(), 429);
    assert_eq!(wait.headers()["retry-after"], "1");
    clock.advance_millis(1_000);
    assert_eq!(ask_code(&api, late).await.status, 202);
    let code = api.sms_code(late).await;
    assert_eq!(open_session(&api, late, &code).await.status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn caps_per_phone_and_per_network_hold_also_when_hammered() {
    let db = TestDb::new().await;
    let clock = manual_clock();
    let mut settings = test_settings(&db);
    settings.buyer_codes.resend_after_secs = 0;
    settings.buyer_codes.phone_daily_limit = 3;
    settings.buyer_codes.network_daily_limit = 10;
    settings.buyer_codes.network_sessions_per_hour = 4;
    let app = spawn_app_with_clock(settings, clock.clone()).await;
    let api = app.api();
    let sandbox = app.state.sms_sandbox.clone().expect("the SMS sandbox is mounted");
    let delivered = || sandbox.messages(None, usize::MAX).len();

    // Per phone: three codes a day, the fourth refused and not sent.
    for _ in 0..3 {
        assert_eq!(ask_code(&api, "13933330000").await.status, 202);
    }
    let fourth = ask_code(&api, "13933330000").await;
    assert_eq!((fourth.status.as_u16(), fourth.code()), (429, "phone_daily_limit"));
    assert_eq!(delivered(), 3);

    // Per network (all of this comes from 127.0.0.1): 50 phones at once for the 7 codes left.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 1..=50 {
        let api = api.clone();
        tasks.spawn(async move { ask_code(&api, &format!("139333{i:05}")).await });
    }
    let mut accepted = 0;
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.unwrap();
        match reply.status.as_u16() {
            202 => accepted += 1,
            429 => assert_eq!(reply.code(), "network_daily_limit"),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    // One node issues a network's codes one at a time: exactly the 7 left go out, however the
    // racers interleave.
    assert_eq!(accepted, 7, "{accepted} codes went out for the 7 left under the cap");
    assert_eq!(delivered(), 3 + accepted);
    // Refused racers withdrew their codes: the network fills up to exactly its cap.
    let mut phone = 60;
    while ask_code(&api, &format!("139333{phone:05}")).await.status == 202 {
        phone += 1;
    }
    assert_eq!(delivered(), 10, "exactly the network's daily cap went out");
    let stored = {
        use sea_orm::{EntityTrait, PaginatorTrait};
        persistence::entities::buyer_code::Entity::find().count(&db.connect().await).await.unwrap()
    };
    assert_eq!(stored, 10, "refused codes are not kept");

    // Sessions per network per hour: 4 of the delivered codes open sessions, the fifth not.
    let phones: Vec<String> = sandbox
        .messages(None, usize::MAX)
        .iter()
        .map(|m| m.phone.trim_start_matches("+86").to_owned())
        .filter(|p| p != "13933330000")
        .collect();
    let mut opened = 0;
    for phone in &phones[..5] {
        let code = api.sms_code(phone).await;
        let session = open_session(&api, phone, &code).await;
        match session.status.as_u16() {
            200 => opened += 1,
            429 => {
                assert_eq!(session.code(), "too_many_sessions");
                assert_no_token(&session);
            }
            other => panic!("unexpected {other}: {}", session.body),
        }
    }
    assert_eq!(opened, 4);

    // A day later the network and the phone may ask again.
    clock.advance_millis(24 * 3_600_000 + 1);
    assert_eq!(ask_code(&api, "13933330000").await.status, 202);
    let code = api.sms_code("13933330000").await;
    assert_eq!(open_session(&api, "13933330000", &code).await.status, 200, "the hour has passed too");
    app.stop().await;
}

/// The real binary at debug level, its whole output kept: no code ever shows up in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_is_never_logged() {
    let db = TestDb::new().await;
    let mut env = vec![
        ("FLASHSALE__DATABASE__URL", db.url.clone()),
        ("FLASHSALE__DEMO__SEED", "false".into()),
        ("FLASHSALE__LOG__LEVEL", "debug".into()),
        ("FLASHSALE__SERVER__WORKERS", "1".into()),
    ];
    env.extend(code_caps_off_env());
    let server = ChildServer::start(db.dir(), &env);
    let api = Api { base: server.base.clone(), client: client() };
    let mut codes = Vec::new();
    for i in 0..5 {
        let phone = format!("1394444000{i}");
        assert_eq!(ask_code(&api, &phone).await.status, 202);
        let code = api.sms_code(&phone).await;
        assert_eq!(open_session(&api, &phone, &other_than(&code, 0)).await.code(), "wrong_code");
        assert_eq!(open_session(&api, &phone, &code).await.status, 200);
        codes.push(code);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let lines = server.lines.lock().unwrap().clone();
    assert!(lines.len() > 20, "debug logging is on: {} lines", lines.len());
    for line in &lines {
        for code in &codes {
            let shown = line.match_indices(code.as_str()).any(|(at, _)| {
                let before = line[..at].chars().next_back();
                let after = line[at + code.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
            });
            assert!(!shown, "the code {code} is in the log: {line}");
        }
    }
}

/// Our own client against the sandbox, keys and clocks off on purpose: Tencent's error codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sms_sandbox_checks_signatures_and_keeps_a_bounded_inbox() {
    use providers::sms::tencent::{TencentSms, TencentSmsConfig};
    use providers::sms::{SmsError, SmsSender};

    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.sms.sandbox_inbox_capacity = 3;
    let app = crate::helpers::spawn_app(settings).await;
    let (secret_id, secret_key) = crate::helpers::sms_sandbox_keys(&app).await;
    let sms = app.state.settings.sms.clone();
    let sender = |id: &str, key: &str, skew_secs: i64| {
        let clock = manual_clock();
        clock.advance_millis(skew_secs * 1_000);
        TencentSms::new(
            TencentSmsConfig {
                url: format!("{}/sandbox/sms", app.base),
                region: sms.region.clone(),
                secret_id: id.into(),
                secret_key: key.into(),
                sdk_app_id: sms.sdk_app_id.clone(),
                sign_name: sms.sign_name.clone(),
            },
            reqwest::Client::new(),
            clock,
        )
        .unwrap()
    };
    let phone = engine::Phone::parse("13955550000").unwrap();
    let params = ["246810".to_owned(), "5".to_owned()];
    let refused = |outcome: Result<providers::sms::Sent, SmsError>| match outcome {
        Err(SmsError::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let good = sender(&secret_id, &secret_key, 0);
    assert_eq!(
        refused(sender(&secret_id, "not-the-key", 0).send(&phone, "2000001", &params).await),
        "AuthFailure.SignatureFailure"
    );
    assert_eq!(
        refused(sender("AKIDnobody", &secret_key, 0).send(&phone, "2000001", &params).await),
        "AuthFailure.SecretIdNotFound"
    );
    // Ten minutes off either way: far enough past the five-minute window that the time the
    // request takes cannot bring it back in (the exact edge is a unit test of the protocol).
    assert_eq!(
        refused(sender(&secret_id, &secret_key, -600).send(&phone, "2000001", &params).await),
        "AuthFailure.SignatureExpire"
    );
    assert_eq!(
        refused(sender(&secret_id, &secret_key, 600).send(&phone, "2000001", &params).await),
        "AuthFailure.SignatureExpire"
    );
    assert_eq!(
        refused(good.send(&phone, "999", &params).await),
        "FailedOperation.TemplateIncorrectOrUnapproved"
    );
    assert_eq!(
        refused(good.send(&phone, "2000001", &params[..1]).await),
        "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"
    );
    let sandbox = app.state.sms_sandbox.clone().unwrap();
    assert!(sandbox.messages(None, 10).is_empty(), "refused requests deliver nothing");

    // Five messages into an inbox of three: the three newest stay, newest first.
    for i in 0..5 {
        let sent = good.send(&phone, "2000001", &[format!("10000{i}"), "5".into()]).await.unwrap();
        assert_eq!(sent.fee, 1);
    }
    let inbox = api_inbox(&app.api(), "13955550000").await;
    let codes: Vec<String> = inbox.iter().map(|t| crate::helpers::code_in(t).unwrap()).collect();
    assert_eq!(codes, ["100004", "100003", "100002"]);
    assert_eq!(inbox[0], "【直播秒杀】您的验证码为100004，5分钟内有效。如非本人操作，请忽略本短信。");
    app.stop().await;
}

/// SMS configured to go to a provider that does not answer, the payment sandboxes still
/// served: asking for a code is a clean 503 that issues nothing (the next ask is not told to
/// wait for a resend), and the SMS sandbox's routes, mounted with the others but without their
/// sandbox, answer 404 instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_sms_provider_issues_no_code() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.sms.provider_url = format!("http://{closed}");
    settings.sms.secret_id = "AKIDunreachable".into();
    settings.sms.secret_key = "unreachable-secret-key".into();
    let app = crate::helpers::spawn_app(settings).await;
    assert!(app.state.sms_sandbox.is_none() && app.state.sandbox.is_some());
    let api = app.api();
    for _ in 0..2 {
        let refused = ask_code(&api, "13966660000").await;
        assert_eq!((refused.status.as_u16(), refused.code()), (503, "sms_unavailable"), "{}", refused.body);
        assert_no_token(&refused);
    }
    let inbox = api.get("/sandbox/sms/messages?phone=13966660000", None).await;
    assert_eq!((inbox.status.as_u16(), inbox.code()), (404, "not_found"));
    let send = api.post("/sandbox/sms", None, json!({})).await;
    assert_eq!((send.status.as_u16(), send.code()), (404, "not_found"));
    app.stop().await;
}

async fn api_inbox(api: &Api, phone: &str) -> Vec<String> {
    let inbox = api.get(&format!("/sandbox/sms/messages?phone={phone}"), None).await;
    assert_eq!(inbox.status, 200);
    inbox.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}
