//! Production mode, with the real binary: every unsafe setting is refused and named (alone, and
//! all together); a production start with every real setting supplied from files serves, has no
//! sandbox, keeps no secret in the database, and the free-order attack (paying an order at the
//! bundled sandbox) fails there while it still pays in demo mode.

use std::path::Path;
use std::sync::Arc;

use engine::ledger::Channel;
use providers::crypto::{ChannelKeys, public_pem};
use sandbox::sms::{SmsSandbox, SmsSandboxSettings};
use sandbox::verification::{Company, VerificationSandbox, VerificationSandboxSettings};
use sandbox::{Sandbox, SandboxSettings};
use sea_orm::EntityTrait;
use serde_json::json;

use crate::helpers::{Api, ChildServer, TestDb, client, company_form, run_to_exit, spawn_app, test_settings};

const PUBLIC_URL: &str = "https://shop.example.test";
const METRICS_TOKEN: &str = "metrics-token-for-the-scraper-0001";

/// One environment variable of a production deployment.
type Env = Vec<(String, String)>;

/// The SMS provider a production deployment sends codes through: its address and the keys it
/// gave us.
struct SmsProvider {
    base: String,
    secret_id: String,
    secret_key: String,
}

/// A complete, valid production environment: the channels at `sandbox_base` with `keys`, SMS
/// through `sms`, every key and the token secret in files under `dir`.
fn production_env(db: &TestDb, dir: &Path, keys: &ChannelKeys, sandbox_base: &str, sms: &SmsProvider) -> Env {
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    let pems = keys.to_pems();
    let file = |name: &str, content: &str| {
        let path = secrets.join(name);
        std::fs::write(&path, format!("{content}\n")).unwrap();
        path.display().to_string()
    };
    let token_secret: String = (0..48).map(|i| char::from(b'a' + (i * 7 % 26) as u8)).collect();
    [
        ("MODE", "production".to_owned()),
        ("DATABASE__URL", db.url.clone()),
        ("SERVER__PUBLIC_URL", PUBLIC_URL.into()),
        ("SERVER__METRICS_TOKEN", METRICS_TOKEN.into()),
        ("SANDBOX__ENABLED", "false".into()),
        ("DEMO__SEED", "false".into()),
        ("AUTH__TOKEN_SECRET_FILE", file("token_secret", &token_secret)),
        ("PAYMENTS__WECHAT__BASE_URL", format!("{sandbox_base}/sandbox/wechat")),
        ("PAYMENTS__WECHAT__MERCHANT_PRIVATE_KEY_FILE", file("wechat_merchant.pem", &pems.wechat_merchant)),
        (
            "PAYMENTS__WECHAT__PLATFORM_PUBLIC_KEY_FILE",
            file("wechat_platform.pub.pem", &public_pem(&keys.wechat_platform.to_public_key())),
        ),
        ("PAYMENTS__WECHAT__API_V3_KEY_FILE", file("wechat_api_v3_key", &pems.wechat_api_v3_key)),
        ("PAYMENTS__ALIPAY__GATEWAY_URL", format!("{sandbox_base}/sandbox/alipay/gateway.do")),
        ("PAYMENTS__ALIPAY__APP_PRIVATE_KEY_FILE", file("alipay_app.pem", &pems.alipay_app)),
        (
            "PAYMENTS__ALIPAY__ALIPAY_PUBLIC_KEY_FILE",
            file("alipay.pub.pem", &public_pem(&keys.alipay_platform.to_public_key())),
        ),
        ("SMS__PROVIDER_URL", format!("{}/sandbox/sms", sms.base)),
        ("SMS__SECRET_ID", sms.secret_id.clone()),
        ("SMS__SECRET_KEY_FILE", file("sms_secret_key", &sms.secret_key)),
        // Shipping is only called when a merchant ships; no test here does.
        ("COURIERS__PROVIDER_URL", "http://127.0.0.1:9/kdniao".into()),
        // Reviews are not run here: an unreachable service only sends merchants to a person.
        ("TRUST__VERIFICATION_FACEID_URL", "http://127.0.0.1:9/faceid".into()),
        ("TRUST__VERIFICATION_OCR_URL", "http://127.0.0.1:9/ocr".into()),
        ("TRUST__VERIFICATION_SECRET_ID", "AKIDverificationexample000000000000".into()),
        (
            "TRUST__VERIFICATION_SECRET_KEY_FILE",
            file("verification_secret_key", "a-verification-secret-key-0001"),
        ),
        ("COURIERS__EBUSINESS_ID", "1700001".into()),
        ("COURIERS__APP_KEY_FILE", file("kdniao_app_key", "a-kdniao-app-key-00000000000001")),
        // The live platforms' apps (not called by this test: their addresses need only parse).
        ("LIVE__TOKEN_KEY_FILE", file("live_token_key", &"5a".repeat(32))),
        ("LIVE__DOUYIN__API_URL", format!("{sandbox_base}/sandbox/douyin")),
        ("LIVE__DOUYIN__AUTHORIZE_URL", format!("{sandbox_base}/sandbox/douyin/authorize")),
        ("LIVE__DOUYIN__SERVICE_ID", "service-1".into()),
        ("LIVE__DOUYIN__APP_KEY", "7000000000000000001".into()),
        ("LIVE__DOUYIN__APP_SECRET_FILE", file("douyin_app_secret", "douyin-app-secret-0001")),
        ("LIVE__KUAISHOU__API_URL", format!("{sandbox_base}/sandbox/kuaishou")),
        ("LIVE__KUAISHOU__AUTHORIZE_URL", format!("{sandbox_base}/sandbox/kuaishou/oauth/authorize")),
        ("LIVE__KUAISHOU__APP_KEY", "ks100000000000000001".into()),
        ("LIVE__KUAISHOU__APP_SECRET_FILE", file("kuaishou_app_secret", "kuaishou-app-secret-01")),
        ("LIVE__KUAISHOU__SIGN_SECRET_FILE", file("kuaishou_sign_secret", "kuaishou-sign-secret-0000000001")),
        (
            "LIVE__KUAISHOU__MESSAGE_KEY_FILE",
            file("kuaishou_message_key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
        ),
        ("ADMISSION__PER_IP_PER_SEC", "0".into()),
        // The active query (run on demand here) looks at every payment, however young.
        ("PAYMENTS__QUERY_AFTER_MS", "0".into()),
        ("SERVER__WORKERS", "2".into()),
        ("LOG__LEVEL", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("FLASHSALE__{k}"), v))
    .collect()
}

/// What a row does to the valid environment.
enum Change {
    Set(&'static str, String),
    Unset(&'static str),
    /// A `config.toml` in the working directory.
    ConfigFile(String),
}

fn apply(base: &Env, changes: &[Change], dir: &Path) -> Env {
    let mut env = base.clone();
    let _ = std::fs::remove_file(dir.join("config.toml"));
    for change in changes {
        match change {
            Change::Set(key, value) => {
                let key = format!("FLASHSALE__{key}");
                env.retain(|(k, _)| *k != key);
                env.push((key, value.clone()));
            }
            Change::Unset(key) => {
                let key = format!("FLASHSALE__{key}");
                assert!(env.iter().any(|(k, _)| *k == key), "{key} is in the valid environment");
                env.retain(|(k, _)| *k != key);
            }
            Change::ConfigFile(text) => std::fs::write(dir.join("config.toml"), text).unwrap(),
        }
    }
    env
}

/// The refusal's problem lines.
fn problems(stderr: &str) -> Vec<&str> {
    stderr.lines().filter_map(|l| l.strip_prefix("  - ")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_every_unsafe_setting_and_names_it() {
    use Change::*;
    let db = TestDb::new().await;
    let dir = db.dir().to_owned();
    let keys = tokio::task::spawn_blocking(ChannelKeys::generate).await.unwrap();
    let (secret_id, secret_key) = sandbox::sms::generate_keys();
    let sms = SmsProvider { base: "http://127.0.0.1:9".into(), secret_id, secret_key };
    let base = production_env(&db, &dir, &keys, "http://127.0.0.1:9", &sms);
    let inline_key = keys.to_pems().wechat_merchant;
    let rows: Vec<(&str, Vec<Change>, &str)> = vec![
        ("a sandbox is on", vec![Set("SANDBOX__ENABLED", "true".into())], "sandbox.enabled is true"),
        ("the demo seed is on", vec![Set("DEMO__SEED", "true".into())], "demo.seed is true"),
        (
            "wechat without its URL",
            vec![Unset("PAYMENTS__WECHAT__BASE_URL")],
            "payments.wechat.base_url is not set",
        ),
        (
            "wechat without its merchant key",
            vec![Unset("PAYMENTS__WECHAT__MERCHANT_PRIVATE_KEY_FILE")],
            "payments.wechat.merchant_private_key is not set",
        ),
        (
            "wechat without its platform key",
            vec![Unset("PAYMENTS__WECHAT__PLATFORM_PUBLIC_KEY_FILE")],
            "payments.wechat.platform_public_key is not set",
        ),
        (
            "wechat without its APIv3 key",
            vec![Unset("PAYMENTS__WECHAT__API_V3_KEY_FILE")],
            "payments.wechat.api_v3_key is not set",
        ),
        (
            "alipay without its URL",
            vec![Unset("PAYMENTS__ALIPAY__GATEWAY_URL")],
            "payments.alipay.gateway_url is not set",
        ),
        (
            "alipay without its app key",
            vec![Unset("PAYMENTS__ALIPAY__APP_PRIVATE_KEY_FILE")],
            "payments.alipay.app_private_key is not set",
        ),
        (
            "alipay without its public key",
            vec![Unset("PAYMENTS__ALIPAY__ALIPAY_PUBLIC_KEY_FILE")],
            "payments.alipay.alipay_public_key is not set",
        ),
        ("no token secret", vec![Unset("AUTH__TOKEN_SECRET_FILE")], "auth.token_secret is not set"),
        (
            "the token secret inline in the config file",
            vec![
                Unset("AUTH__TOKEN_SECRET_FILE"),
                ConfigFile("[auth]\ntoken_secret = \"an-inline-secret-that-is-long-enough-0001\"\n".into()),
            ],
            "auth.token_secret is written in the configuration file",
        ),
        (
            "a private key inline in the config file",
            vec![
                Unset("PAYMENTS__WECHAT__MERCHANT_PRIVATE_KEY_FILE"),
                ConfigFile(format!("[payments.wechat]\nmerchant_private_key = '''\n{inline_key}'''\n")),
            ],
            "payments.wechat.merchant_private_key is written in the configuration file",
        ),
        (
            "a public URL that is not https",
            vec![Set("SERVER__PUBLIC_URL", "http://shop.example.test".into())],
            "server.public_url is \"http://shop.example.test\"",
        ),
        ("no public URL", vec![Unset("SERVER__PUBLIC_URL")], "server.public_url is \"\""),
        ("no SMS provider", vec![Unset("SMS__PROVIDER_URL")], "sms.provider_url is not set"),
        (
            "no Douyin app secret",
            vec![Unset("LIVE__DOUYIN__APP_SECRET_FILE")],
            "live.douyin.app_secret is not set",
        ),
        ("no live token key", vec![Unset("LIVE__TOKEN_KEY_FILE")], "live.token_key is not set"),
        (
            "a Kuaishou shop without its API",
            vec![Unset("LIVE__KUAISHOU__API_URL")],
            "live.kuaishou.api_url is not set",
        ),
        ("no SMS secret key", vec![Unset("SMS__SECRET_KEY_FILE")], "sms.secret_key is not set"),
        (
            "the SMS secret key inline in the config file",
            vec![
                Unset("SMS__SECRET_KEY_FILE"),
                ConfigFile("[sms]\nsecret_key = \"an-inline-sms-secret-key-0000001\"\n".into()),
            ],
            "sms.secret_key is written in the configuration file",
        ),
        ("no courier account", vec![Unset("COURIERS__EBUSINESS_ID")], "couriers.ebusiness_id is not set"),
        ("no courier key", vec![Unset("COURIERS__APP_KEY_FILE")], "couriers.app_key is not set"),
        (
            "a seeded operator password",
            vec![Set("OPERATOR__PASSWORD", "operator-password-1".into())],
            "operator.password is set",
        ),
    ];
    for (name, changes, named) in &rows {
        let env = apply(&base, changes, &dir);
        let run = tokio::task::block_in_place(|| run_to_exit(&dir, &["serve"], &env, ""));
        assert!(matches!(run.code, Some(code) if code != 0), "{name}: must exit non-zero, got {run:?}");
        assert!(!run.stdout.contains("listening on"), "{name}: it served: {}", run.stdout);
        let listed = problems(&run.stderr);
        assert_eq!(listed.len(), 1, "{name}: exactly its own problem: {}", run.stderr);
        assert!(listed[0].starts_with(named), "{name}: expected {named:?}, got {}", run.stderr);
        assert!(run.stderr.contains("refusing to start, 1 problem:"), "{name}: {}", run.stderr);
    }

    // Several at once: every one is named in the one refusal.
    let several = [
        (Set("SANDBOX__ENABLED", "true".into()), "sandbox.enabled is true"),
        (Set("DEMO__SEED", "true".into()), "demo.seed is true"),
        (Set("SERVER__PUBLIC_URL", "http://shop.example.test".into()), "server.public_url is"),
        (Unset("AUTH__TOKEN_SECRET_FILE"), "auth.token_secret is not set"),
        (Unset("PAYMENTS__ALIPAY__GATEWAY_URL"), "payments.alipay.gateway_url is not set"),
    ];
    let (changes, named): (Vec<Change>, Vec<&str>) = several.into_iter().unzip();
    let env = apply(&base, &changes, &dir);
    let run = tokio::task::block_in_place(|| run_to_exit(&dir, &["serve"], &env, ""));
    assert!(matches!(run.code, Some(code) if code != 0), "{run:?}");
    let listed = problems(&run.stderr);
    assert_eq!(listed.len(), named.len(), "{}", run.stderr);
    for expected in named {
        assert_eq!(
            listed.iter().filter(|l| l.starts_with(expected)).count(),
            1,
            "{expected}: {}",
            run.stderr
        );
    }
    assert!(run.stderr.contains("refusing to start, 5 problems:"), "{}", run.stderr);
}

/// The payment channels hosted apart from the platform, as the real ones are, with `keys`.
fn outside_channels(keys: ChannelKeys) -> (Arc<Sandbox>, String, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let defaults = gateway::Settings::default().payments;
    let sandbox = Arc::new(Sandbox::new(
        Arc::new(keys),
        SandboxSettings {
            wechat_mchid: defaults.wechat.mchid,
            wechat_appid: defaults.wechat.appid,
            wechat_merchant_serial: defaults.wechat.merchant_serial_no,
            wechat_platform_serial: defaults.wechat.platform_serial,
            alipay_app_id: defaults.alipay.app_id,
            public_url: base.clone(),
            // The platform's public URL is not reachable from here; the active query finds
            // payments instead.
            notify: false,
            retry_scale: 0.001,
        },
    ));
    let server = sandbox::serve(listener, sandbox.clone()).unwrap();
    let handle = server.handle();
    tokio::spawn(server);
    (sandbox, base, handle)
}

/// The verification provider hosted apart from the platform, with keys of its own: its
/// sandbox, base URL, SecretId and SecretKey.
fn outside_verification() -> (Arc<VerificationSandbox>, String, String, String, actix_web::dev::ServerHandle)
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (secret_id, secret_key) = sandbox::verification::generate_keys();
    let provider = Arc::new(VerificationSandbox::new(
        VerificationSandboxSettings {
            secret_id: secret_id.clone(),
            secret_key: secret_key.clone(),
            capacity: 64,
        },
        Arc::new(actors::SystemClock),
    ));
    let server = sandbox::verification::serve(listener, provider.clone()).unwrap();
    let handle = server.handle();
    tokio::spawn(server);
    (provider, base, secret_id, secret_key, handle)
}

/// The SMS provider hosted apart from the platform, with keys of its own.
fn outside_sms() -> (SmsProvider, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let defaults = gateway::Settings::default().sms;
    let (secret_id, secret_key) = sandbox::sms::generate_keys();
    let provider = Arc::new(SmsSandbox::new(
        SmsSandboxSettings {
            secret_id: secret_id.clone(),
            secret_key: secret_key.clone(),
            sdk_app_id: defaults.sdk_app_id,
            sign_name: defaults.sign_name,
            templates: defaults.sandbox_templates.iter().map(|t| (t.id.clone(), t.text.clone())).collect(),
            inbox_capacity: 64,
        },
        Arc::new(actors::SystemClock),
    ));
    let server = sandbox::sms::serve(listener, provider).unwrap();
    let handle = server.handle();
    tokio::spawn(server);
    (SmsProvider { base, secret_id, secret_key }, handle)
}

/// A merchant's sale and one buyer's order of one unit, with its payment created through
/// `channel`: `(merchant token, order id, out_trade_no)`. The buyer's login code is read from
/// the inbox of the SMS provider at `sms_base`.
async fn an_order_with_a_payment(
    api: &Api,
    sms_base: &str,
    verification: &VerificationSandbox,
    channel: &str,
) -> (String, i64, String) {
    // The merchant's company is known to the verification provider (hosted apart, like the
    // real one); its qualification goes through the review like any other.
    let merchant_phone = "13500000077";
    let merchant = api.unapproved_merchant(merchant_phone).await;
    let form = company_form(merchant_phone);
    let text = |field: &str| form[field].as_str().unwrap().to_owned();
    verification
        .add_company(Company {
            uscc: text("licence_number"),
            name: text("business_name"),
            legal_person_name: text("legal_person_name"),
            legal_person_id_no: text("legal_person_id_no"),
        })
        .unwrap();
    api.qualify(&merchant, merchant_phone).await;
    assert_eq!(api.review_settled(&merchant).await["review_state"], "approved");
    let (_, sale) = api.sale_of(&merchant, "商品 item", 1_000, 10, 900).await;
    let phone = "13900000077";
    let sent = api.post("/api/v1/buyers/codes", None, json!({"phone": phone})).await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    let code = Api { base: sms_base.to_owned(), client: api.client.clone() }.sms_code(phone).await;
    let session = api.post("/api/v1/buyers/sessions", None, json!({"phone": phone, "code": code})).await;
    assert_eq!(session.status, 200, "{}", session.body);
    let buyer = session.body["token"].as_str().unwrap().to_owned();
    let order = api.order(sale, &buyer, "attack-1", 1).await;
    assert_eq!(order.status, 201, "{}", order.body);
    let order_id = order.body["order_id"].as_i64().unwrap();
    let payment = api.create_payment(order_id, &buyer, channel).await;
    (merchant, order_id, payment["out_trade_no"].as_str().unwrap().to_owned())
}

async fn order_state(api: &Api, merchant: &str, order_id: i64) -> String {
    let order = api.get(&format!("/api/v1/orders/{order_id}"), Some(merchant)).await;
    assert_eq!(order.status, 200, "{}", order.body);
    order.body["state"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_production_start_serves_without_sandbox_secrets_in_the_database_or_free_orders() {
    let db = TestDb::new().await;
    let dir = db.dir().to_owned();
    let keys = tokio::task::spawn_blocking(ChannelKeys::generate).await.unwrap();
    let (channels, channels_base, channels_handle) = outside_channels(keys.clone());
    let (sms, sms_handle) = outside_sms();
    let (verification, verification_base, verification_id, verification_key, verification_handle) =
        outside_verification();
    let mut env = production_env(&db, &dir, &keys, &channels_base, &sms);
    env.push(("FLASHSALE__SERVER__METRICS_BIND".into(), "127.0.0.1:0".into()));
    let secrets = dir.join("secrets").join("verification_key");
    std::fs::write(&secrets, &verification_key).unwrap();
    env.retain(|(k, _)| !k.starts_with("FLASHSALE__TRUST__VERIFICATION_"));
    env.extend([
        (
            "FLASHSALE__TRUST__VERIFICATION_FACEID_URL".into(),
            format!("{verification_base}/sandbox/verification/faceid"),
        ),
        (
            "FLASHSALE__TRUST__VERIFICATION_OCR_URL".into(),
            format!("{verification_base}/sandbox/verification/ocr"),
        ),
        ("FLASHSALE__TRUST__VERIFICATION_SECRET_ID".into(), verification_id),
        ("FLASHSALE__TRUST__VERIFICATION_SECRET_KEY_FILE".into(), secrets.display().to_string()),
    ]);

    // Operators exist only through the command line: one with a password from stdin, one
    // generated and printed once.
    let boss = tokio::task::block_in_place(|| {
        run_to_exit(
            &dir,
            &["operator", "add", "--username", "boss", "--role", "admin", "--password-stdin"],
            &env,
            "boss-password-1\n",
        )
    });
    assert_eq!(boss.code, Some(0), "{boss:?}");
    let fin = tokio::task::block_in_place(|| {
        run_to_exit(&dir, &["operator", "add", "--username", "fin", "--role", "finance"], &env, "")
    });
    assert_eq!(fin.code, Some(0), "{fin:?}");
    let fin_password = fin
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the generated password is printed")
        .to_owned();

    let server = ChildServer::start(&dir, &env);
    let api = Api { base: server.base.clone(), client: client() };
    assert!(server.wait_for_line("public:").await.contains(PUBLIC_URL));

    // No sandbox route exists.
    for (method, path) in [
        ("POST", "/sandbox/wechat/pay"),
        ("POST", "/sandbox/alipay/pay"),
        ("POST", "/sandbox/alipay/outage"),
        ("POST", "/sandbox/wechat/outage"),
        ("GET", "/sandbox/alipay/trades/FS1A"),
        ("GET", "/sandbox/sms/messages?phone=13900000077"),
        ("POST", "/sandbox/sms"),
    ] {
        let request = if method == "POST" {
            api.client.post(api.url(path)).json(&json!({"out_trade_no": "FS1A", "down": true}))
        } else {
            api.client.get(api.url(path))
        };
        assert_eq!(request.send().await.unwrap().status(), 404, "{method} {path}");
    }
    assert_eq!(api.get("/healthz", None).await.status, 200);
    // /metrics: the token on the main listener, or the private listener.
    assert_eq!(api.get("/metrics", None).await.status, 401);
    let metrics = api.client.get(api.url("/metrics")).bearer_auth(METRICS_TOKEN).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let private = server.wait_for_line("metrics: ").await;
    let scraped = client().get(private.trim()).send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(scraped.text().await.unwrap().contains("flashsale_"));

    // The accounts from the command line log in; there is no shared "operator" identity.
    let refused = api
        .post(
            "/api/v1/operator/sessions",
            None,
            json!({"username": "operator", "password": "operator-password-1"}),
        )
        .await;
    assert_eq!(refused.status, 401);
    let boss = api.operator_as("boss", "boss-password-1").await;
    let fin = api.operator_as("fin", &fin_password).await;
    let audit = api.get("/api/v1/operator/audit?action=operator.create", Some(&boss)).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    let created: Vec<_> =
        audit.body["entries"].as_array().unwrap().iter().map(|e| e["username"].clone()).collect();
    assert_eq!(created, [json!("cli"), json!("cli")], "the command line's actions are audited");

    // The free-order attack: pay an order at the bundled sandbox's route.
    let (merchant, order_id, trade) = an_order_with_a_payment(&api, &sms.base, &verification, "alipay").await;
    for channel in ["alipay", "wechat"] {
        let attack = api.post(&format!("/sandbox/{channel}/pay"), None, json!({"out_trade_no": trade})).await;
        assert_eq!(attack.status, 404, "{}", attack.body);
    }
    // The platform asks the channel itself: not paid.
    let query = api.post("/api/v1/operator/payments/query", Some(&fin), json!({})).await;
    assert_eq!((query.body["queried"].as_u64(), query.body["found_paid"].as_u64()), (Some(1), Some(0)));
    assert_eq!(order_state(&api, &merchant, order_id).await, "pending_payment");
    assert_eq!(api.balance(&merchant).await, (0, 0, 0));

    // The real channel (here hosted apart, with its own keys) is what pays.
    channels.pay(Channel::Alipay, &trade).unwrap();
    let query = api.post("/api/v1/operator/payments/query", Some(&fin), json!({})).await;
    assert_eq!(query.body["found_paid"].as_u64(), Some(1), "{}", query.body);
    assert_eq!(order_state(&api, &merchant, order_id).await, "paid");
    assert_eq!(api.balance(&merchant).await, (998, 0, 0));

    // Nothing secret was kept in the settings table: the only rows are the order log's
    // bookkeeping (which database a log belongs to, the last event the database applied).
    let connection = db.connect().await;
    let mut stored: Vec<String> = persistence::entities::setting::Entity::find()
        .all(&connection)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.key)
        .collect();
    stored.sort();
    let bookkeeping = [persistence::order_log::APPLIED_KEY, persistence::order_log::IDENTITY_KEY];
    assert_eq!(stored, bookkeeping);
    drop(server);
    channels_handle.stop(false).await;
    sms_handle.stop(false).await;
    verification_handle.stop(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_demo_mode_the_bundled_sandbox_still_pays() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let verification = app.state.trust.sandbox.clone().expect("the bundled verification sandbox");
    let (merchant, order_id, trade) = an_order_with_a_payment(&api, &api.base, &verification, "alipay").await;
    let paid = api.post("/sandbox/alipay/pay", None, json!({"out_trade_no": trade})).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    let operator = api.operator().await;
    let query = api.post("/api/v1/operator/payments/query", Some(&operator), json!({})).await;
    assert_eq!(query.status, 200, "{}", query.body);
    assert_eq!(order_state(&api, &merchant, order_id).await, "paid");
    assert_eq!(api.balance(&merchant).await, (998, 0, 0));
    app.stop().await;
}
