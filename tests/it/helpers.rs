//! Test harness: fresh databases, the server in-process (`spawn_app`) or as a child process
//! (`ChildServer`), and the API calls every test needs.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use gateway::{AppState, Application, Settings};
use reqwest::{Client, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

/// A database of this test's own: a SQLite file in a temporary directory, or a fresh Postgres
/// database when `TEST_DATABASE_URL` is set. Dropped with the test.
pub struct TestDb {
    pub url: String,
    dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            None => {
                let url = format!("sqlite://{}/flashsale.db", dir.path().display());
                TestDb { url, dir, postgres: None }
            }
            Some(admin_url) => {
                let name = format!("flashsale_it_{}_{}", std::process::id(), rand_suffix());
                let admin = Database::connect(&admin_url).await.expect("connecting to TEST_DATABASE_URL");
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
                admin.close().await.ok();
                let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin_url.clone());
                TestDb { url: format!("{base}/{name}"), dir, postgres: Some((admin_url, name)) }
            }
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    pub async fn connect(&self) -> sea_orm::DatabaseConnection {
        Database::connect(&self.url).await.expect("connecting to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            // Drop runs outside any runtime we may block: use a thread with its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async move {
                    if let Ok(admin) = Database::connect(&admin_url).await {
                        let _ = admin
                            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    h.finish() % 1_000_000_000
}

/// Settings for a test server: port 0, this test's database, no demo data, admission limits
/// out of the way (tests that test them set their own).
pub fn test_settings(db: &TestDb) -> Settings {
    let mut s = Settings::default();
    s.server.bind = "127.0.0.1:0".into();
    s.server.workers = 2;
    s.server.shutdown_timeout_secs = 2;
    s.database.url = db.url.clone();
    s.database.sqlite_synchronous_full = false;
    s.journal.log_path = db.dir().join("orders.log").display().to_string();
    s.demo.seed = false;
    s.admission.per_ip_per_sec = 0;
    s.admission.per_buyer_per_sec = 0;
    // Every test buyer orders from 127.0.0.1; the caps have tests of their own.
    s.admission.max_unpaid_orders_per_buyer = 0;
    s.admission.max_unpaid_orders_per_network = 0;
    s.admission.max_in_flight = 50_000;
    s.log.level = "warn".into();
    s.operator.password = OPERATOR_PASSWORD.into();
    // Notifications are delivered by the tests themselves (chaos), unless a test turns them on.
    s.sandbox.notify = false;
    s.sandbox.retry_scale = 0.001;
    // The active query runs when a test asks for it, and then looks at every payment.
    s.payments.query_interval_ms = 3_600_000;
    s.payments.query_after_ms = 0;
    s.payments.refund_interval_ms = 3_600_000;
    // A loaded CI machine can be slow to answer; only a real outage should fail over.
    s.payments.channel_timeout_ms = 30_000;
    // Thousands of buyers come from 127.0.0.1 here: the per-network and daily code caps are
    // for people, and the tests that test them set their own.
    s.buyer_codes.phone_daily_limit = 0;
    s.buyer_codes.network_daily_limit = 0;
    s.buyer_codes.network_sessions_per_hour = 0;
    // Document images of this test's own, removed with it.
    s.trust.document_dir = db.dir().join("documents").display().to_string();
    s
}

/// The same caps lifted for a server started as a child process.
pub fn code_caps_off_env() -> Vec<(&'static str, String)> {
    vec![
        ("FLASHSALE__BUYER_CODES__PHONE_DAILY_LIMIT", "0".into()),
        ("FLASHSALE__BUYER_CODES__NETWORK_DAILY_LIMIT", "0".into()),
        ("FLASHSALE__BUYER_CODES__NETWORK_SESSIONS_PER_HOUR", "0".into()),
    ]
}

pub const OPERATOR_PASSWORD: &str = "operator-password-1";

/// A server running in-process, on its own actix system thread.
pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub state: actix_web::web::Data<AppState>,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub async fn spawn_app(settings: Settings) -> TestApp {
    spawn_app_with_clock(settings, std::sync::Arc::new(actors::SystemClock)).await
}

/// [`spawn_app`] on the given clock (a `ManualClock` moves time for the whole platform).
pub async fn spawn_app_with_clock(settings: Settings, clock: std::sync::Arc<dyn actors::Clock>) -> TestApp {
    let _ = rlimit::increase_nofile_limit(65_536);
    gateway::telemetry::init_logs(&settings.log.level);
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build_with_clock(settings, clock).await.expect("server starts");
            tx.send((app.base_url().to_owned(), app.handle(), app.state())).unwrap();
            app.run(false).await.expect("server runs");
        })
    });
    let (base, handle, state) = tokio::task::spawn_blocking(move || {
        rx.recv_timeout(Duration::from_secs(60)).expect("server started")
    })
    .await
    .unwrap();
    TestApp { base, client: client(), state, handle, thread: Some(thread) }
}

impl TestApp {
    /// Stops gracefully: requests finish, the journal drains, the thread ends.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(thread) = self.thread.take() {
            tokio::task::spawn_blocking(move || thread.join().unwrap()).await.unwrap();
        }
    }

    pub fn api(&self) -> Api {
        Api { base: self.base.clone(), client: self.client.clone() }
    }
}

pub fn client() -> Client {
    Client::builder()
        .pool_max_idle_per_host(4_096)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// The server binary as a child process, for crash tests and the newcomer path.
pub struct ChildServer {
    pub base: String,
    pub child: Child,
    /// Everything it printed on stdout.
    pub lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ChildServer {
    /// Starts `flashsale serve` in `cwd` with the given environment, and waits for the
    /// "listening on" line.
    pub fn start<K: AsRef<str>>(cwd: &Path, env: &[(K, String)]) -> ChildServer {
        let mut command = Command::new(binary());
        command.arg("serve").current_dir(cwd).stdout(Stdio::piped()).stderr(Stdio::null());
        for (k, v) in env {
            command.env(k.as_ref(), v);
        }
        if !env.iter().any(|(k, _)| k.as_ref() == "FLASHSALE__SERVER__BIND") {
            command.env("FLASHSALE__SERVER__BIND", "127.0.0.1:0");
        }
        let mut child = command.spawn().expect("starting the flashsale binary");
        let stdout = child.stdout.take().unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let url = line.strip_prefix("flashsale listening on ").map(|u| u.trim().to_owned());
                sink.lock().unwrap().push(line);
                if let Some(url) = url {
                    let _ = tx.send(url);
                }
            }
        });
        let base = rx.recv_timeout(Duration::from_secs(120)).expect("the server printed its address");
        ChildServer { base, child, lines }
    }

    /// The process id, to read its memory from /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no drain, no flush.
    pub fn kill_9(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }

    /// The first printed line that starts with `prefix` (after trimming), waiting for it.
    pub async fn wait_for_line(&self, prefix: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let found = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.trim().strip_prefix(prefix).map(str::to_owned));
            if let Some(rest) = found {
                return rest;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never printed {prefix:?}: {:?}",
                self.lines.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_flashsale-under-test"))
}

/// How a run of the binary ended.
#[derive(Debug)]
pub struct Exited {
    /// `None`: it was still running after a minute and was killed.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `flashsale ARGS` in `cwd` with `env` and `stdin` to its end (killed after a minute:
/// a command that should have exited but serves instead).
pub fn run_to_exit<K: AsRef<str>>(cwd: &Path, args: &[&str], env: &[(K, String)], stdin: &str) -> Exited {
    use std::io::{Read, Write};
    let mut command = Command::new(binary());
    command.args(args).current_dir(cwd).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k.as_ref(), v);
    }
    if !env.iter().any(|(k, _)| k.as_ref() == "FLASHSALE__SERVER__BIND") {
        command.env("FLASHSALE__SERVER__BIND", "127.0.0.1:0");
    }
    let mut child = command.spawn().expect("starting the flashsale binary");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Exited { code, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

/// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`, …).
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("reading /proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls of the API that tests share.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: Client,
}

/// A response's status and JSON body (Null when not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let bytes = response.bytes().await.expect("body").to_vec();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply { status, body, bytes }
}

/// A merchant with a product and a live flash sale.
pub struct SaleSetup {
    pub merchant_token: String,
    pub product_id: i64,
    pub flash_sale_id: i64,
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        let mut request = self.client.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        reply(request.send().await.expect("request sent")).await
    }

    pub async fn put_json(&self, path: &str, token: &str, body: Value) -> Reply {
        reply(
            self.client
                .put(self.url(path))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        reply(request.send().await.expect("request sent")).await
    }

    /// A merchant with a product and a sale at `price_fen`, live for an hour.
    pub async fn merchant_sale(
        &self,
        phone: &str,
        price_fen: i64,
        quantity: i64,
        payment_window_secs: i64,
    ) -> (String, i64, i64) {
        self.merchant_sale_titled(phone, "商品 item", price_fen, quantity, payment_window_secs).await
    }

    /// [`Api::merchant_sale`] of a product called `title`.
    pub async fn merchant_sale_titled(
        &self,
        phone: &str,
        title: &str,
        price_fen: i64,
        quantity: i64,
        payment_window_secs: i64,
    ) -> (String, i64, i64) {
        let token = self.merchant(phone).await;
        let (merchant_id, sale) = self.sale_of(&token, title, price_fen, quantity, payment_window_secs).await;
        (token, merchant_id, sale)
    }

    /// A product called `title` and a sale of it for the merchant of `token`, live for an hour:
    /// `(merchant id, sale id)`.
    pub async fn sale_of(
        &self,
        token: &str,
        title: &str,
        price_fen: i64,
        quantity: i64,
        payment_window_secs: i64,
    ) -> (i64, i64) {
        let token = token.to_owned();
        let merchant_id = self.get("/api/v1/merchants/me/balance", Some(&token)).await.body["merchant_id"]
            .as_i64()
            .unwrap();
        let product = self
            .post(
                "/api/v1/products",
                Some(&token),
                json!({"title": title, "price_fen": price_fen, "stock": quantity}),
            )
            .await;
        assert_eq!(product.status, 201, "{}", product.body);
        let now = chrono::Utc::now();
        let sale = self
            .post(
                "/api/v1/flash-sales",
                Some(&token),
                json!({
                    "product_id": product.body["product_id"],
                    "price_fen": price_fen,
                    "quantity": quantity,
                    "per_buyer_limit": quantity,
                    "starts_at": (now - chrono::Duration::seconds(1)).to_rfc3339(),
                    "ends_at": (now + chrono::Duration::hours(1)).to_rfc3339(),
                    "payment_window_secs": payment_window_secs,
                }),
            )
            .await;
        assert_eq!(sale.status, 201, "{}", sale.body);
        (merchant_id, sale.body["flash_sale_id"].as_i64().unwrap())
    }

    /// A merchant approved through the real flow: signed up, its company registered in the
    /// verification sandbox, its documents uploaded, its qualification submitted and reviewed
    /// (approved). Its token.
    pub async fn merchant(&self, phone: &str) -> String {
        let token = self.unapproved_merchant(phone).await;
        self.register_company(phone).await;
        self.qualify(&token, phone).await;
        let me = self.review_settled(&token).await;
        assert_eq!(me["review_state"], "approved", "{me}");
        token
    }

    /// A merchant signed up and logged in, without a qualification.
    pub async fn unapproved_merchant(&self, phone: &str) -> String {
        let signed_up = self
            .post(
                "/api/v1/merchants",
                None,
                json!({"phone": phone, "password": "password-123", "display_name": "test shop"}),
            )
            .await;
        assert_eq!(signed_up.status, 201, "{}", signed_up.body);
        let session =
            self.post("/api/v1/sessions", None, json!({"phone": phone, "password": "password-123"})).await;
        assert_eq!(session.status, 200, "{}", session.body);
        session.body["token"].as_str().unwrap().to_owned()
    }

    /// Registers the company of `phone` (as [`company_form`] describes it) in the verification
    /// sandbox this server serves.
    pub async fn register_company(&self, phone: &str) {
        let form = company_form(phone);
        let registered = self
            .post(
                "/sandbox/verification/companies",
                None,
                json!({
                    "uscc": form["licence_number"],
                    "name": form["business_name"],
                    "legal_person_name": form["legal_person_name"],
                    "legal_person_id_no": form["legal_person_id_no"],
                }),
            )
            .await;
        assert_eq!(registered.status, 201, "{}", registered.body);
    }

    /// Uploads the documents of the merchant of `token` and submits its qualification (as
    /// [`company_form`] of `phone`), reviewed in the background.
    pub async fn qualify(&self, token: &str, phone: &str) {
        let form = company_form(phone);
        for kind in ["business_licence", "id_card_front", "id_card_back"] {
            let uploaded = self.upload_document(token, kind, "image/png", &png_header(800, 600)).await;
            assert_eq!(uploaded.status, 201, "{kind}: {}", uploaded.body);
        }
        let submitted = self.put_json("/api/v1/merchants/me/qualification", token, form).await;
        assert_eq!(submitted.status, 202, "{}", submitted.body);
    }

    /// `GET /merchants/me` once its review has left `pending`.
    pub async fn review_settled(&self, token: &str) -> Value {
        for _ in 0..2_000 {
            let me = self.get("/api/v1/merchants/me", Some(token)).await;
            assert_eq!(me.status, 200, "{}", me.body);
            if me.body["review_state"] != "pending" {
                return me.body;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the qualification review did not finish");
    }

    /// `POST /merchants/me/documents` with a multipart body of `kind` and `file`.
    pub async fn upload_document(&self, token: &str, kind: &str, content_type: &str, bytes: &[u8]) -> Reply {
        let boundary = "----flashsale-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n")
                .as_bytes(),
        );
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"doc\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend(bytes);
        body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
        reply(
            self.client
                .post(self.url("/api/v1/merchants/me/documents"))
                .bearer_auth(token)
                .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
                .body(body)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    /// A merchant, a product and a sale live from a second ago for an hour.
    pub async fn live_sale(
        &self,
        quantity: i64,
        per_buyer_limit: i64,
        payment_window_secs: i64,
    ) -> SaleSetup {
        let merchant_token = self.merchant("13600000000").await;
        let product = self
            .post(
                "/api/v1/products",
                Some(&merchant_token),
                json!({"title": "口红 lipstick", "price_fen": 12_900, "stock": quantity}),
            )
            .await;
        assert_eq!(product.status, 201, "{}", product.body);
        let product_id = product.body["product_id"].as_i64().unwrap();
        let now = chrono::Utc::now();
        let sale = self
            .post(
                "/api/v1/flash-sales",
                Some(&merchant_token),
                json!({
                    "product_id": product_id,
                    "price_fen": 990,
                    "quantity": quantity,
                    "per_buyer_limit": per_buyer_limit,
                    "starts_at": (now - chrono::Duration::seconds(1)).to_rfc3339(),
                    "ends_at": (now + chrono::Duration::hours(1)).to_rfc3339(),
                    "payment_window_secs": payment_window_secs,
                }),
            )
            .await;
        assert_eq!(sale.status, 201, "{}", sale.body);
        SaleSetup { merchant_token, product_id, flash_sale_id: sale.body["flash_sale_id"].as_i64().unwrap() }
    }

    /// A verified buyer's token: a code is requested, read from the SMS sandbox's inbox, and
    /// traded for a session, as a fan's phone would.
    pub async fn buyer(&self, phone: &str) -> String {
        let sent = self.post("/api/v1/buyers/codes", None, json!({"phone": phone})).await;
        assert_eq!(sent.status, 202, "{}", sent.body);
        let code = self.sms_code(phone).await;
        let session = self.post("/api/v1/buyers/sessions", None, json!({"phone": phone, "code": code})).await;
        assert_eq!(session.status, 200, "{}", session.body);
        session.body["token"].as_str().unwrap().to_owned()
    }

    /// The code in the newest login-code message the SMS sandbox delivered to `phone` (order
    /// notices go to the same inbox).
    pub async fn sms_code(&self, phone: &str) -> String {
        let inbox = self.get(&format!("/sandbox/sms/messages?phone={phone}"), None).await;
        assert_eq!(inbox.status, 200, "{}", inbox.body);
        let login_template = Settings::default().sms.template_id_login;
        let newest_code = inbox.body["messages"]
            .as_array()
            .and_then(|all| all.iter().find(|m| m["template_id"] == login_template.as_str()));
        let text = newest_code
            .and_then(|m| m["text"].as_str())
            .unwrap_or_else(|| panic!("no login code SMS to {phone}"));
        code_in(text).unwrap_or_else(|| panic!("no code in {text:?}"))
    }

    /// Verified sessions for `count` buyers with phones from `first`, `concurrency` at a time.
    pub async fn buyers(&self, first: u64, count: u64, concurrency: usize) -> Vec<String> {
        let mut tokens = HashMap::new();
        let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..count {
            let api = self.clone();
            let permit = semaphore.clone().acquire_owned().await.unwrap();
            tasks.spawn(async move {
                let token = api.buyer(&(first + i).to_string()).await;
                drop(permit);
                (i, token)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (i, token) = done.unwrap();
            tokens.insert(i, token);
        }
        (0..count).map(|i| tokens.remove(&i).unwrap()).collect()
    }

    pub async fn order(&self, sale: i64, token: &str, key: &str, quantity: i64) -> Reply {
        let response = self
            .client
            .post(self.url(&format!("/api/v1/flash-sales/{sale}/orders")))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&json!({"quantity": quantity}))
            .send()
            .await
            .expect("request sent");
        reply(response).await
    }

    /// The reconciliation of every Beijing day from `first` to `last`, each asserted
    /// reconciled. A test's payments and refunds can fall on several days' bills: a run across
    /// Beijing midnight (16:00 UTC), or a clock the test moves on. See [`by_channel`].
    pub async fn reconcile_days(
        &self,
        operator: &str,
        first: engine::BeijingDay,
        last: engine::BeijingDay,
    ) -> Vec<Value> {
        let mut days = Vec::new();
        let mut day = first;
        while day <= last {
            let reconciliation =
                self.get(&format!("/api/v1/operator/reconciliation?date={day}"), Some(operator)).await;
            assert_eq!(reconciliation.body["reconciled"], true, "{day}: {}", reconciliation.body);
            days.push(reconciliation.body);
            day = day.next();
        }
        days
    }

    /// A token of the admin that demo mode seeds from `operator.password`.
    pub async fn operator(&self) -> String {
        self.operator_as("operator", OPERATOR_PASSWORD).await
    }

    /// A token of the operator `username`.
    pub async fn operator_as(&self, username: &str, password: &str) -> String {
        let session = self
            .post("/api/v1/operator/sessions", None, json!({"username": username, "password": password}))
            .await;
        assert_eq!(session.status, 200, "{}", session.body);
        session.body["token"].as_str().unwrap().to_owned()
    }

    /// An operator account with `role`, created by the seeded admin; its token.
    pub async fn operator_with_role(&self, username: &str, role: &str) -> String {
        let admin = self.operator().await;
        let password = format!("{username}-password-1");
        let created = self
            .post(
                "/api/v1/operator/operators",
                Some(&admin),
                json!({"username": username, "role": role, "password": password}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        self.operator_as(username, &password).await
    }

    /// Gives an unpaid order its shipping address (a typed one), as every order needs before
    /// it can be paid.
    pub async fn set_address(&self, order_id: i64, buyer: &str) {
        let set = self.put_json(&format!("/api/v1/orders/{order_id}/address"), buyer, test_address()).await;
        assert_eq!(set.status, 200, "{}", set.body);
    }

    /// Creates the payment of an order through `channel` (its address set first); the 201 body.
    pub async fn create_payment(&self, order_id: i64, buyer: &str, channel: &str) -> Value {
        self.set_address(order_id, buyer).await;
        let created = self
            .post(&format!("/api/v1/orders/{order_id}/payments"), Some(buyer), json!({"channel": channel}))
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        created.body
    }

    /// `(available, pending, withdrawing)` of the merchant whose token this is.
    pub async fn balance(&self, merchant: &str) -> (i64, i64, i64) {
        let got = self.get("/api/v1/merchants/me/balance", Some(merchant)).await;
        assert_eq!(got.status, 200, "{}", got.body);
        let n = |k: &str| got.body[k].as_i64().unwrap();
        (n("available_fen"), n("pending_fen"), n("withdrawing_fen"))
    }

    /// Posts a sandbox notification to wherever it is addressed; the status and body.
    pub async fn deliver(&self, notification: &sandbox::Notification) -> (StatusCode, String) {
        let mut request = self
            .client
            .post(&notification.url)
            .header("Content-Type", notification.content_type)
            .body(notification.body.clone());
        for (name, value) in &notification.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.send().await.expect("notification sent");
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }

    /// The sale's `(available, reserved, sold, quantity)` as the API reports them.
    pub async fn counts(&self, sale: i64) -> (i64, i64, i64, i64) {
        let got = self.get(&format!("/api/v1/flash-sales/{sale}"), None).await;
        assert_eq!(got.status, 200, "{}", got.body);
        let n = |k: &str| got.body[k].as_i64().unwrap();
        (n("available"), n("reserved"), n("sold"), n("quantity"))
    }
}

/// A valid shipping address.
pub fn test_address() -> Value {
    json!({
        "name": "张三",
        "phone": "13800138000",
        "province": "广东省",
        "city": "深圳市",
        "district": "南山区",
        "detail": "科技园南区1栋101",
    })
}

/// The bundled SMS sandbox's SecretId and SecretKey, as the server stored them.
pub async fn sms_sandbox_keys(app: &TestApp) -> (String, String) {
    let stored =
        persistence::repo::setting(&app.state.db, "sms_sandbox_keys").await.unwrap().expect("stored keys");
    let keys: Value = serde_json::from_str(&stored).unwrap();
    (keys["secret_id"].as_str().unwrap().to_owned(), keys["secret_key"].as_str().unwrap().to_owned())
}

/// The first run of exactly six digits in a message: the login code.
pub fn code_in(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if run == 6 {
            return Some(chars[i..i + 6].iter().collect());
        }
        i += run.max(1);
    }
    None
}

/// Polls `done` every 20 ms until it holds, failing after 30 s: a bound for something stuck,
/// not a timing assertion.
pub async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The texts of `kind` the SMS sandbox delivered to `phone`, newest first, read once the
/// server's outbox worker has nothing pending (every message written so far was sent, skipped
/// or given up): what a merchant's phone shows, with nothing still on its way.
pub async fn texts_of_kind(
    app: &TestApp,
    phone: &str,
    kind: engine::notification::NoticeKind,
) -> Vec<String> {
    use engine::notification::OutboxState;
    let db = app.state.db.clone();
    eventually("the outbox has nothing pending", || async {
        persistence::outbox::count(&db, OutboxState::Pending).await.unwrap() == 0
    })
    .await;
    let template = Settings::default().notifications.template(kind).sms_template_id.clone();
    let inbox = app.api().get(&format!("/sandbox/sms/messages?phone={phone}"), None).await;
    assert_eq!(inbox.status, 200, "{}", inbox.body);
    inbox.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["template_id"] == template.as_str())
        .filter_map(|m| m["text"].as_str().map(str::to_owned))
        .collect()
}

/// `(state, Σquantity, count)` of a sale's orders, straight from the database.
pub async fn stored_orders(db: &sea_orm::DatabaseConnection, sale: i64) -> HashMap<String, (i64, i64)> {
    use persistence::entities::order;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let rows = order::Entity::find().filter(order::Column::FlashSaleId.eq(sale)).all(db).await.unwrap();
    let mut by_state: HashMap<String, (i64, i64)> = HashMap::new();
    for row in rows {
        let entry = by_state.entry(row.state).or_default();
        entry.0 += row.quantity;
        entry.1 += 1;
    }
    by_state
}

/// Deterministic pseudo-random numbers (SplitMix64) so a failing run can be replayed from its
/// printed seed.
pub struct Rng(u64);

impl Rng {
    pub fn from_env_or_time(name: &str) -> Self {
        let seed = std::env::var("TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        });
        eprintln!("{name}: seed {seed} (rerun with TEST_SEED={seed})");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// A PNG's signature and header of `width` × `height` (the document checks read no further).
pub fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    bytes.extend(width.to_be_bytes());
    bytes.extend(height.to_be_bytes());
    bytes.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
    bytes.extend(b"\x00\x00\x00\x00IEND\xae\x42\x60\x82");
    bytes
}

/// A unified social credit code (GB 32100: `91` company, region, organisation code, check
/// character) and a resident ID number (GB 11643) of their own for `seed` (a phone).
pub fn qualification_numbers(seed: &str) -> (String, String) {
    const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let digits: String = seed.chars().filter(char::is_ascii_digit).collect();
    let n: u64 = digits.parse().unwrap_or(0);
    let mut org = Vec::new();
    let mut rest = n;
    for _ in 0..9 {
        org.push(ALPHABET[(rest % 31) as usize]);
        rest /= 31;
    }
    let body = format!("91110101{}", String::from_utf8(org).unwrap());
    let (mut sum, mut weight) = (0u32, 1u32);
    for byte in body.bytes() {
        sum += ALPHABET.iter().position(|&c| c == byte).unwrap() as u32 * weight;
        weight = weight * 3 % 31;
    }
    let uscc = format!("{body}{}", ALPHABET[((31 - sum % 31) % 31) as usize] as char);
    let mixed = n % 9_999_991;
    let born = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).unwrap()
        + chrono::Duration::days((mixed % 10_000) as i64);
    let id17 = format!("110101{}{:03}", born.format("%Y%m%d"), mixed / 10_000);
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = id17.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    let id = format!("{id17}{}", b"10X98765432"[(sum % 11) as usize] as char);
    (uscc, id)
}

/// A company's qualification form for `phone`, matching what [`Api::qualify`] registers.
pub fn company_form(phone: &str) -> Value {
    let (uscc, id) = qualification_numbers(phone);
    json!({
        "entity_type": "company",
        "business_name": format!("测试商贸有限公司{phone}"),
        "licence_number": uscc,
        "legal_person_name": "王测试",
        "legal_person_id_no": id,
        "contact_name": "王测试",
        "contact_phone": phone,
        "categories": ["apparel"],
        "permits": [],
    })
}

/// A field of each channel's reconciliation (a JSON pointer, `/statement/refunded_fen`),
/// summed by channel over the days of [`Api::reconcile_days`].
pub fn by_channel(days: &[Value], field: &str) -> std::collections::BTreeMap<String, i64> {
    let mut sums = std::collections::BTreeMap::new();
    for channel in days.iter().flat_map(|day| day["channels"].as_array().unwrap()) {
        *sums.entry(channel["channel"].as_str().unwrap().to_owned()).or_default() +=
            channel.pointer(field).and_then(Value::as_i64).unwrap();
    }
    sums
}
