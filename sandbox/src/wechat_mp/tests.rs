//! The subscription-message client (`providers::wechat_mp`) against this sandbox over HTTP,
//! each on a manual clock of its own, so that tokens expire exactly when told.

use std::sync::atomic::AtomicI64;

use providers::wechat_mp::{MpError, WechatMp, WechatMpConfig};

use super::*;

#[derive(Default)]
struct TestClock(AtomicI64);

impl TestClock {
    fn at(millis: i64) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(millis)))
    }
    fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1_000, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

const START_MS: i64 = 1_764_000_000_000;
const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

struct Setup {
    sandbox: Arc<WechatMpSandbox>,
    client: WechatMp,
    sandbox_clock: Arc<TestClock>,
    client_clock: Arc<TestClock>,
}

fn setup(secret_as_client_knows_it: Option<&str>) -> Setup {
    let (appid, secret) = generate_credentials();
    let sandbox_clock = TestClock::at(START_MS);
    let client_clock = TestClock::at(START_MS);
    let sandbox = Arc::new(WechatMpSandbox::new(
        WechatMpSandboxSettings {
            appid: appid.clone(),
            secret: secret.clone(),
            token_ttl_secs: 7_200,
            templates: vec![
                ("tpl-paid".into(), vec!["character_string1".into(), "amount2".into(), "thing3".into()]),
                ("tpl-state".into(), vec!["phrase1".into()]),
            ],
            inbox_capacity: 8,
        },
        sandbox_clock.clone(),
    ));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    actix_web::rt::spawn(serve(listener, sandbox.clone()).unwrap());
    let client = WechatMp::new(
        WechatMpConfig {
            url: format!("http://127.0.0.1:{port}/sandbox/wechat-mp"),
            appid,
            secret: secret_as_client_knows_it.map_or(secret, str::to_owned),
            miniprogram_state: "trial".into(),
            lang: "zh_CN".into(),
            refresh_before_secs: 300,
        },
        reqwest::Client::new(),
        client_clock.clone(),
    )
    .unwrap();
    Setup { sandbox, client, sandbox_clock, client_clock }
}

fn paid(order: &str) -> Vec<(String, String)> {
    vec![
        ("character_string1".into(), order.into()),
        ("amount2".into(), "¥19.90".into()),
        ("thing3".into(), "秋季新款羊毛混纺宽松休闲针织开衫外套女士款".into()),
    ]
}

#[actix_web::test]
async fn a_token_is_reused_until_shortly_before_it_expires() {
    let s = setup(None);
    s.client.send(OPENID, "tpl-paid", Some("pages/order/detail?id=1"), &paid("1")).await.unwrap();
    s.client.send(OPENID, "tpl-paid", None, &paid("2")).await.unwrap();
    assert_eq!(s.sandbox.tokens_issued(), 1);
    // 7,200 s minus the 300 s margin: the next send fetches a new token first.
    for clock in [&s.sandbox_clock, &s.client_clock] {
        clock.advance_secs(6_899);
    }
    s.client.send(OPENID, "tpl-paid", None, &paid("3")).await.unwrap();
    assert_eq!(s.sandbox.tokens_issued(), 1);
    for clock in [&s.sandbox_clock, &s.client_clock] {
        clock.advance_secs(2);
    }
    s.client.send(OPENID, "tpl-paid", None, &paid("4")).await.unwrap();
    assert_eq!(s.sandbox.tokens_issued(), 2);
    let inbox = s.sandbox.messages(Some(OPENID), 10);
    let value =
        |m: &MpMessage, key: &str| m.data.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap();
    let orders: Vec<String> = inbox.iter().map(|m| value(m, "character_string1")).collect();
    assert_eq!(orders, ["4", "3", "2", "1"]);
    let first = inbox.last().unwrap();
    assert_eq!(first.page.as_deref(), Some("pages/order/detail?id=1"));
    assert_eq!(first.miniprogram_state, "trial");
    // The product title was cut to the 20 characters a `thing` takes.
    assert_eq!(value(first, "thing3").chars().count(), 20);
    assert_eq!(value(first, "amount2"), "¥19.90");
    assert!(s.sandbox.messages(Some("someone-else"), 10).is_empty());
}

#[actix_web::test]
async fn a_token_the_api_calls_stale_is_replaced_once_and_the_message_still_goes() {
    let s = setup(None);
    s.client.send(OPENID, "tpl-paid", None, &paid("1")).await.unwrap();
    // WeChat's clock says the token expired, ours does not yet: 42001, then one new token.
    s.sandbox_clock.advance_secs(7_201);
    s.client.send(OPENID, "tpl-paid", None, &paid("2")).await.unwrap();
    assert_eq!(s.sandbox.tokens_issued(), 2);
    // Someone else fetched a token with the same secret; ours works for the overlap only,
    // then 40001, then one new token.
    s.sandbox.issue_token("client_credential", s.sandbox.appid(), &s.sandbox.settings.secret).unwrap();
    s.client.send(OPENID, "tpl-paid", None, &paid("3")).await.unwrap();
    assert_eq!(s.sandbox.tokens_issued(), 3);
    s.sandbox_clock.advance_secs(protocol::TOKEN_OVERLAP_SECS + 1);
    s.client.send(OPENID, "tpl-paid", None, &paid("4")).await.unwrap();
    assert_eq!(s.sandbox.tokens_issued(), 4);
    assert_eq!(s.sandbox.messages(Some(OPENID), 10).len(), 4);
}

#[actix_web::test]
async fn refusals_are_permanent_and_outages_are_not() {
    let s = setup(None);
    let errcode = |outcome: Result<(), MpError>| match outcome {
        Err(error @ MpError::Refused { errcode, .. }) => (errcode, error.is_permanent()),
        other => panic!("expected a refusal, got {other:?}"),
    };
    s.sandbox.set_down(true);
    assert_eq!(
        errcode(s.client.send(OPENID, "tpl-paid", None, &paid("1")).await),
        (protocol::SYSTEM_BUSY, false)
    );
    s.sandbox.set_down(false);
    let cases = [
        ("tpl-unknown", vec![], protocol::INVALID_TEMPLATE_ID),
        ("tpl-state", vec![("phrase1".to_owned(), "shipped".to_owned())], protocol::ARGUMENT_INVALID),
        ("tpl-state", vec![], protocol::ARGUMENT_INVALID),
    ];
    for (template, data, expected) in cases {
        assert_eq!(
            errcode(s.client.send(OPENID, template, None, &data).await),
            (expected, true),
            "{template}"
        );
    }
    assert_eq!(
        errcode(s.client.send("", "tpl-paid", None, &paid("1")).await),
        (protocol::INVALID_OPENID, true)
    );
    s.sandbox.refuse(OPENID);
    assert_eq!(
        errcode(s.client.send(OPENID, "tpl-paid", None, &paid("1")).await),
        (protocol::USER_REFUSED, true)
    );
    assert!(s.sandbox.messages(None, 10).is_empty());
    s.client.send("another-openid", "tpl-state", None, &[("phrase1".into(), "已发货".into())]).await.unwrap();
    assert_eq!(s.sandbox.messages(None, 10).len(), 1);
}

#[actix_web::test]
async fn a_wrong_secret_gets_no_token() {
    let s = setup(Some("0123456789abcdef0123456789abcdef"));
    match s.client.send(OPENID, "tpl-paid", None, &paid("1")).await {
        Err(MpError::Token { errcode, .. }) => assert_eq!(errcode, protocol::INVALID_APPSECRET),
        other => panic!("expected a token refusal, got {other:?}"),
    }
    assert_eq!(s.sandbox.tokens_issued(), 0);
}
