//! What log-ins may cost: a burst of 500 is answered at once with bounded memory (argon2 runs
//! under a semaphore, the rest is 503 busy), and repeated failures throttle an account.

use std::sync::Arc;

use serde_json::json;

use crate::helpers::{Api, ChildServer, TestDb, client, proc_status_kib, reply, spawn_app, test_settings};

const BURST: usize = 500;
/// Hashes at once in the burst test (fixed, so the bound does not depend on the machine).
const SLOTS: u64 = 2;
/// argon2id's default memory cost, 19 MiB, per hash in progress.
const HASH_KIB: u64 = 19 * 1_024;

/// `BURST` log-ins of one merchant at once: `(200s, 503 busy with Retry-After, anything else)`.
async fn burst(api: &Api) -> (usize, usize, Vec<(u16, String, bool)>) {
    let barrier = Arc::new(tokio::sync::Barrier::new(BURST));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..BURST {
        let (api, barrier) = (api.clone(), barrier.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            let response = api
                .client
                .post(api.url("/api/v1/sessions"))
                .json(&json!({"phone": "13700000500", "password": "password-123"}))
                .send()
                .await
                .expect("every log-in gets an answer");
            let retry_after = response.headers().get("retry-after").is_some();
            let answer = reply(response).await;
            (answer.status.as_u16(), answer.code().to_owned(), retry_after)
        });
    }
    let (mut ok, mut busy, mut other) = (0, 0, Vec::new());
    while let Some(done) = tasks.join_next().await {
        match done.unwrap() {
            (200, _, _) => ok += 1,
            (503, code, true) if code == "busy" => busy += 1,
            unexpected => other.push(unexpected),
        }
    }
    (ok, busy, other)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_500_logins_is_answered_with_bounded_memory() {
    let db = TestDb::new().await;
    let env = vec![
        ("FLASHSALE__DATABASE__URL", db.url.clone()),
        ("FLASHSALE__DEMO__SEED", "false".into()),
        ("FLASHSALE__ADMISSION__PER_IP_PER_SEC", "0".into()),
        ("FLASHSALE__SERVER__WORKERS", "2".into()),
        ("FLASHSALE__AUTH__HASH_CONCURRENCY", SLOTS.to_string()),
        ("FLASHSALE__LOG__LEVEL", "error".into()),
    ];
    let server = ChildServer::start(db.dir(), &env);
    let api = Api { base: server.base.clone(), client: client() };
    // Before any hash on the hashing threads: the whole cost of hashing shows in the growth.
    let started_kib = proc_status_kib(server.pid(), "VmRSS");
    api.merchant("13700000500").await;

    let started = std::time::Instant::now();
    let (ok, busy, other) = burst(&api).await;
    let elapsed = started.elapsed();
    let after_kib = proc_status_kib(server.pid(), "VmRSS");
    let peak_kib = proc_status_kib(server.pid(), "VmHWM");
    eprintln!(
        "burst of {BURST} log-ins: {ok} × 200, {busy} × 503 busy in {elapsed:?}; RSS {started_kib} KiB at start, \
         {after_kib} KiB after, peak {peak_kib} KiB (growth {} KiB)",
        peak_kib.saturating_sub(started_kib)
    );
    assert!(other.is_empty(), "only 200 or 503 busy with Retry-After: {other:?}");
    assert_eq!(ok + busy, BURST, "every request was answered");
    assert!(ok >= 1, "the semaphore lets log-ins through");
    assert!(busy >= 1, "beyond the semaphore and its short queue: 503 busy");
    // Unbounded, 500 hashes at once would hold 500 × 19 MiB ≈ 9.5 GiB. Each hashing thread
    // holds one working memory; the rest of the allowance is connections and the allocator.
    let allowance_kib = SLOTS * HASH_KIB + 64 * 1_024;
    let growth_kib = peak_kib.saturating_sub(started_kib);
    assert!(growth_kib < allowance_kib, "peak RSS grew by {growth_kib} KiB (allowed {allowance_kib})");

    // A second burst costs no more memory: the bound does not move with the load.
    let (ok, busy, other) = burst(&api).await;
    let second_peak_kib = proc_status_kib(server.pid(), "VmHWM");
    eprintln!("second burst: {ok} × 200, {busy} × 503 busy; peak {second_peak_kib} KiB");
    assert!(other.is_empty() && ok + busy == BURST, "{other:?}");
    assert!(
        second_peak_kib < peak_kib + 16 * 1_024,
        "the second burst grew the peak from {peak_kib} to {second_peak_kib} KiB"
    );
    // Still serving: the same account logs in normally afterwards.
    let session =
        api.post("/api/v1/sessions", None, json!({"phone": "13700000500", "password": "password-123"})).await;
    assert_eq!(session.status, 200, "{}", session.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_throttle_the_account_with_a_growing_wait() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.auth.login_failures_allowed = 3;
    let app = spawn_app(settings).await;
    let api = app.api();
    api.merchant("13700000601").await;
    api.merchant("13700000602").await;
    let log_in = |phone: &'static str, password: &'static str| {
        let api = api.clone();
        async move {
            let response = api
                .client
                .post(api.url("/api/v1/sessions"))
                .json(&json!({"phone": phone, "password": password}))
                .send()
                .await
                .unwrap();
            let retry_after =
                response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            let answer = reply(response).await;
            (answer.status.as_u16(), answer.code().to_owned(), retry_after)
        }
    };
    for _ in 0..3 {
        assert_eq!(log_in("13700000601", "wrong-password").await, (401, "invalid_credentials".into(), None));
    }
    // Blocked: even the right password is refused, before any hash is spent on it.
    let (status, code, retry_after) = log_in("13700000601", "password-123").await;
    assert_eq!((status, code.as_str()), (429, "login_throttled"));
    assert!(retry_after.is_some_and(|secs| secs >= 1), "{retry_after:?}");
    // Other accounts are not affected.
    assert_eq!(log_in("13700000602", "password-123").await.0, 200);
    // Operators' accounts are throttled the same way.
    for _ in 0..3 {
        let wrong = api
            .post("/api/v1/operator/sessions", None, json!({"username": "operator", "password": "nope-nope"}))
            .await;
        assert_eq!(wrong.status, 401);
    }
    let blocked = api
        .post(
            "/api/v1/operator/sessions",
            None,
            json!({"username": "operator", "password": crate::helpers::OPERATOR_PASSWORD}),
        )
        .await;
    assert_eq!((blocked.status.as_u16(), blocked.code()), (429, "login_throttled"));
    app.stop().await;
}
