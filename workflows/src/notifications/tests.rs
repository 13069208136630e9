//! The outbox end to end: notices written with (and only with) their change, the worker
//! against the bundled SMS and WeChat sandboxes over HTTP, on a manual clock. SQLite by
//! default; a fresh Postgres database when `TEST_DATABASE_URL` is set, as the integration
//! suite picks them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::testing::{START_MS, TestDb, seed_sale};
use actors::clock::ManualClock;
use engine::notification::{Notice, NoticeKind};
use engine::{Fen, FlashSaleId, IdempotencyKey, MerchantId, Order, OrderId, OrderState, Phone, Timestamp};
use persistence::outbox::change_and_enqueue;
use persistence::repo;
use providers::sms::tencent::{TencentSms, TencentSmsConfig};
use providers::sms::{CheckFuture, SendFuture};
use providers::wechat_mp::WechatMpConfig;
use sandbox::sms::{SmsSandbox, SmsSandboxSettings};
use sandbox::wechat_mp::{WechatMpSandbox, WechatMpSandboxSettings};
use sea_orm::EntityTrait as _;

use super::*;

/// The SMS client, optionally stopping for good at its `n`-th send (a worker that dies
/// mid-batch): before the provider has the message, or — `stall_after_provider` — once the
/// provider took it, before the worker could mark it. A fault put in front of the real
/// client, not a stand-in for it.
struct StallingSms {
    inner: TencentSms,
    sends: AtomicUsize,
    stall_at: Option<usize>,
    stall_after_provider: bool,
}

impl SmsSender for StallingSms {
    fn send<'a>(&'a self, phone: &'a Phone, template_id: &'a str, params: &'a [String]) -> SendFuture<'a> {
        self.inner.send(phone, template_id, params)
    }

    fn send_with_context<'a>(
        &'a self,
        phone: &'a Phone,
        template_id: &'a str,
        params: &'a [String],
        context: &'a str,
    ) -> SendFuture<'a> {
        let n = self.sends.fetch_add(1, Ordering::SeqCst);
        if self.stall_at.is_some_and(|at| n >= at) {
            if self.stall_after_provider {
                let sent = self.inner.send_with_context(phone, template_id, params, context);
                return Box::pin(async move {
                    let _ = sent.await;
                    std::future::pending().await
                });
            }
            return Box::pin(std::future::pending());
        }
        self.inner.send_with_context(phone, template_id, params, context)
    }

    fn already_sent<'a>(&'a self, phone: &'a Phone, since: Timestamp, context: &'a str) -> CheckFuture<'a> {
        self.inner.already_sent(phone, since, context)
    }
}

struct World {
    _db_guard: TestDb,
    db: DatabaseConnection,
    clock: Arc<ManualClock>,
    sms_sandbox: Arc<SmsSandbox>,
    sms_url: String,
    sms_keys: (String, String),
    wechat_sandbox: Arc<WechatMpSandbox>,
    wechat_url: String,
    wechat_credentials: (String, String),
    sale: FlashSaleId,
    merchant: MerchantId,
}

impl World {
    async fn new() -> Self {
        let guard = TestDb::new().await;
        let db = persistence::connect(&guard.url, 8, false).await.unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp(START_MS)));
        let settings = NotificationSettings::default();
        let sms_keys = sandbox::sms::generate_keys();
        let sms_sandbox = Arc::new(SmsSandbox::new(
            SmsSandboxSettings {
                secret_id: sms_keys.0.clone(),
                secret_key: sms_keys.1.clone(),
                sdk_app_id: "1400000001".into(),
                sign_name: "直播秒杀".into(),
                templates: settings.sms_templates(),
                inbox_capacity: 10_000,
            },
            clock.clone(),
        ));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let sms_url = format!("http://{}/sandbox/sms", listener.local_addr().unwrap());
        tokio::spawn(sandbox::sms::serve(listener, sms_sandbox.clone()).unwrap());
        let wechat_credentials = sandbox::wechat_mp::generate_credentials();
        let wechat_sandbox = Arc::new(WechatMpSandbox::new(
            WechatMpSandboxSettings {
                appid: wechat_credentials.0.clone(),
                secret: wechat_credentials.1.clone(),
                token_ttl_secs: 7_200,
                templates: settings.wechat_templates(),
                inbox_capacity: 10_000,
            },
            clock.clone(),
        ));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let wechat_url = format!("http://{}/sandbox/wechat-mp", listener.local_addr().unwrap());
        tokio::spawn(sandbox::wechat_mp::serve(listener, wechat_sandbox.clone()).unwrap());
        let (sale, merchant) = seed_sale(&db).await;
        World {
            _db_guard: guard,
            db,
            clock,
            sms_sandbox,
            sms_url,
            sms_keys,
            wechat_sandbox,
            wechat_url,
            wechat_credentials,
            sale,
            merchant,
        }
    }

    fn worker(&self, settings: NotificationSettings, stall_sms_at: Option<usize>) -> Notifications {
        self.worker_stalling(settings, stall_sms_at, false)
    }

    fn worker_stalling(
        &self,
        settings: NotificationSettings,
        stall_sms_at: Option<usize>,
        stall_after_provider: bool,
    ) -> Notifications {
        let sms = TencentSms::new(
            TencentSmsConfig {
                url: self.sms_url.clone(),
                region: "ap-guangzhou".into(),
                secret_id: self.sms_keys.0.clone(),
                secret_key: self.sms_keys.1.clone(),
                sdk_app_id: "1400000001".into(),
                sign_name: "直播秒杀".into(),
            },
            reqwest::Client::new(),
            self.clock.clone(),
        )
        .unwrap();
        let wechat = WechatMp::new(
            WechatMpConfig {
                url: self.wechat_url.clone(),
                appid: self.wechat_credentials.0.clone(),
                secret: self.wechat_credentials.1.clone(),
                miniprogram_state: "formal".into(),
                lang: "zh_CN".into(),
                refresh_before_secs: 300,
            },
            reqwest::Client::new(),
            self.clock.clone(),
        )
        .unwrap();
        let sms = StallingSms {
            inner: sms,
            sends: AtomicUsize::new(0),
            stall_at: stall_sms_at,
            stall_after_provider,
        };
        Notifications::new(
            self.db.clone(),
            Arc::new(sms),
            Some(Arc::new(wechat)),
            settings,
            self.clock.clone(),
        )
    }

    /// A pending order `id` of a new buyer with phone `1380000{id:04}`, with an openid or not.
    async fn order(&self, id: i64, openid: bool) -> (OrderId, Phone) {
        let phone = Phone::parse(&format!("1380000{id:04}")).unwrap();
        let buyer = repo::buyer_for_phone(&self.db, &phone, Timestamp(START_MS)).await.unwrap();
        if openid {
            assert!(outbox::set_wechat_openid(&self.db, buyer, Some(&format!("openid-{id}"))).await.unwrap());
        }
        let order = Order {
            id: OrderId(id),
            flash_sale_id: self.sale,
            merchant_id: self.merchant,
            buyer_id: buyer,
            quantity: 1,
            amount_fen: Fen(1_990),
            state: OrderState::PendingPayment,
            idempotency_key: IdempotencyKey::parse(&format!("key-{id}")).unwrap(),
            client_network: None,
            created_at: Timestamp(START_MS),
            expires_at: Timestamp(START_MS + 900_000),
            updated_at: Timestamp(START_MS),
        };
        persistence::entities::order::Entity::insert(repo::order_row(&order)).exec(&self.db).await.unwrap();
        (OrderId(id), phone)
    }

    /// SMS messages per dedupe key (Tencent's SessionContext).
    fn sms_by_key(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for message in self.sms_sandbox.messages(None, usize::MAX) {
            *counts.entry(message.session_context).or_default() += 1;
        }
        counts
    }
}

fn paid(order: OrderId) -> Notice {
    Notice::order_paid(order, Fen(1_990), Timestamp(START_MS))
}

async fn drain(worker: &Notifications) -> DeliveryReport {
    let mut total = DeliveryReport::default();
    for _ in 0..100 {
        let report = worker.deliver_due().await.unwrap();
        if report.handled() + report.taken_elsewhere == 0 {
            return total;
        }
        total.delivered += report.delivered;
        total.skipped += report.skipped;
        total.retrying += report.retrying;
        total.dead += report.dead;
    }
    panic!("the outbox did not drain in 100 passes");
}

#[tokio::test]
async fn a_notice_is_written_with_its_change_or_not_at_all() {
    let world = World::new().await;
    let (order, _) = world.order(1, false).await;
    let refused: Result<(), DbErr> =
        change_and_enqueue(&world.db, async |txn: &sea_orm::DatabaseTransaction| {
            // The change itself happened in the transaction, then failed.
            outbox::enqueue(txn, &paid(order)).await?;
            Err(DbErr::Custom("the change was refused".into()))
        })
        .await;
    assert!(refused.is_err());
    assert!(
        outbox::of_order(&world.db, order).await.unwrap().is_empty(),
        "a rolled-back change left a message"
    );
    let written: Result<u32, DbErr> =
        change_and_enqueue(&world.db, async |_txn: &sea_orm::DatabaseTransaction| Ok((7, vec![paid(order)])))
            .await;
    assert_eq!(written.unwrap(), 7);
    let messages = outbox::of_order(&world.db, order).await.unwrap();
    let keys: Vec<&str> = messages.iter().map(|m| m.dedupe_key.as_str()).collect();
    assert_eq!(keys, ["order_paid:1:sms", "order_paid:1:wechat_mp"]);
    // Written again (a retried batch): nothing new.
    assert_eq!(outbox::enqueue(&world.db, &paid(order)).await.unwrap(), 0);
    assert_eq!(outbox::of_order(&world.db, order).await.unwrap().len(), 2);
}

#[tokio::test]
async fn two_workers_at_once_deliver_every_message_exactly_once() {
    let world = World::new().await;
    let orders = 40;
    for id in 1..=orders {
        let (order, _) = world.order(id, id % 2 == 0).await;
        outbox::enqueue(&world.db, &paid(order)).await.unwrap();
    }
    let settings = NotificationSettings { batch_size: 7, ..NotificationSettings::default() };
    let (a, b) = (world.worker(settings.clone(), None), world.worker(settings, None));
    let (ra, rb) = tokio::join!(drain(&a), drain(&b));
    assert_eq!(ra.delivered + rb.delivered, 40 + 20, "every sms, and a wechat message to each openid");
    assert_eq!(ra.skipped + rb.skipped, 20, "no openid, no wechat message");
    let sms = world.sms_by_key();
    assert_eq!(sms.len(), 40);
    assert!(sms.values().all(|&n| n == 1), "{sms:?}");
    let text = &world.sms_sandbox.messages(Some("13800000001"), 1)[0].text;
    assert_eq!(text, "【直播秒杀】您的订单1已付款19.90元，商家将尽快为您发货。");
    let wechat = world.wechat_sandbox.messages(None, usize::MAX);
    assert_eq!(wechat.len(), 20);
    let mut openids: Vec<&str> = wechat.iter().map(|m| m.openid.as_str()).collect();
    openids.sort_unstable();
    openids.dedup();
    assert_eq!(openids.len(), 20);
    let first = world.wechat_sandbox.messages(Some("openid-2"), 1).pop().unwrap();
    assert_eq!(first.page.as_deref(), Some("pages/order/detail?id=2"));
    assert!(first.data.contains(&("amount2".to_owned(), "¥19.90".to_owned())));
    assert_eq!(outbox::count(&world.db, OutboxState::Pending).await.unwrap(), 0);
}

#[tokio::test]
async fn a_worker_that_dies_mid_batch_is_followed_by_one_that_sends_the_rest_once() {
    let world = World::new().await;
    for id in 1..=10 {
        let (order, _) = world.order(id, false).await;
        outbox::enqueue(&world.db, &paid(order)).await.unwrap();
    }
    let settings = NotificationSettings { batch_size: 100, ..NotificationSettings::default() };
    // The first worker sends 4 text messages and hangs inside the 5th send; it is then killed.
    let dying = world.worker(settings.clone(), Some(4));
    let pass = tokio::time::timeout(Duration::from_millis(1_500), dying.deliver_due()).await;
    assert!(pass.is_err(), "the dying worker should hang");
    drop(dying);
    assert_eq!(world.sms_by_key().len(), 4);
    let successor = world.worker(settings.clone(), None);
    // Everything but the message the dead worker held is sent now; that one after its lease.
    let report = drain(&successor).await;
    assert_eq!((report.delivered, report.skipped), (5, 10 - 4));
    assert_eq!(world.sms_by_key().len(), 9);
    world.clock.advance_millis(settings.lease_ms);
    let report = drain(&successor).await;
    assert_eq!(report.delivered, 1);
    let sms = world.sms_by_key();
    assert_eq!(sms.len(), 10);
    assert!(sms.values().all(|&n| n == 1), "{sms:?}");
}

/// The worker dies after the provider took a text and before it could mark it: its successor
/// finds the text among the number's receipts (`PullSmsSendStatusByPhoneNumber`, by the dedupe
/// key as `SessionContext`) and marks it delivered without sending it a second time.
#[tokio::test]
async fn a_text_the_provider_took_before_its_worker_died_is_not_sent_twice() {
    let world = World::new().await;
    for id in 1..=6 {
        let (order, _) = world.order(id, false).await;
        outbox::enqueue(&world.db, &paid(order)).await.unwrap();
    }
    let settings = NotificationSettings { batch_size: 100, ..NotificationSettings::default() };
    let dying = world.worker_stalling(settings.clone(), Some(3), true);
    let pass = tokio::time::timeout(Duration::from_millis(1_500), dying.deliver_due()).await;
    assert!(pass.is_err(), "the dying worker should hang");
    drop(dying);
    // Three sent and marked, the fourth taken by the provider and never marked.
    assert_eq!(world.sms_by_key().len(), 4);
    let stuck = outbox::due(&world.db, Timestamp(i64::MAX), 100).await.unwrap();
    let held: Vec<_> = stuck.iter().filter(|m| m.in_flight_since.is_some()).collect();
    assert_eq!(held.len(), 1, "exactly the message in flight carries its attempt's start");
    let successor = world.worker(settings.clone(), None);
    let report = drain(&successor).await;
    assert_eq!(report.delivered, 2, "the two never tried");
    world.clock.advance_millis(settings.lease_ms);
    let report = drain(&successor).await;
    assert_eq!(report.delivered, 1, "the held one, found among the receipts");
    let sms = world.sms_by_key();
    assert_eq!(sms.len(), 6);
    assert!(sms.values().all(|&n| n == 1), "no text twice: {sms:?}");
    assert_eq!(outbox::count(&world.db, OutboxState::Pending).await.unwrap(), 0);
    let rows = outbox::due(&world.db, Timestamp(i64::MAX), 100).await.unwrap();
    assert!(rows.is_empty());
}

#[tokio::test]
async fn failures_back_off_then_become_dead_letters_that_a_replay_delivers() {
    let world = World::new().await;
    let (order, _) = world.order(1, true).await;
    outbox::enqueue(&world.db, &paid(order)).await.unwrap();
    let settings = NotificationSettings {
        max_attempts: 3,
        base_delay_ms: 1_000,
        max_delay_ms: 60_000,
        ..NotificationSettings::default()
    };
    let worker = world.worker(settings, None);
    world.wechat_sandbox.set_down(true);
    let key = "order_paid:1:wechat_mp";
    let report = worker.deliver_due().await.unwrap();
    assert_eq!((report.delivered, report.retrying), (1, 1), "the sms goes, the wechat message waits");
    let waiting = outbox::by_key(&world.db, key).await.unwrap().unwrap();
    let first_wait = waiting.next_attempt_at.as_millis() - START_MS;
    assert!((500..1_000).contains(&first_wait), "{first_wait}");
    assert_eq!(waiting.attempts, 1);
    assert!(waiting.last_error.as_deref().unwrap().contains("-1"));
    // Not due before its time.
    world.clock.advance_millis(first_wait - 1);
    assert_eq!(worker.deliver_due().await.unwrap().handled(), 0);
    world.clock.advance_millis(1);
    assert_eq!(worker.deliver_due().await.unwrap().retrying, 1);
    let waiting = outbox::by_key(&world.db, key).await.unwrap().unwrap();
    let second_wait = waiting.next_attempt_at.as_millis() - world.clock.now().as_millis();
    assert!((1_000..2_000).contains(&second_wait), "{second_wait}");
    world.clock.advance_millis(second_wait);
    assert_eq!(worker.deliver_due().await.unwrap().dead, 1);
    world.clock.advance_millis(3_600_000);
    assert_eq!(worker.deliver_due().await.unwrap().handled(), 0, "a dead letter is not retried");
    let dead = worker.dead_letters(0, 50).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].dedupe_key.as_str(), dead[0].attempts), (key, 3));
    assert!(world.wechat_sandbox.messages(None, 10).is_empty());
    // The operator heals the channel and replays.
    world.wechat_sandbox.set_down(false);
    assert!(worker.replay(dead[0].id).await.unwrap());
    assert!(!worker.replay(dead[0].id).await.unwrap(), "only a dead letter is replayed");
    assert_eq!(worker.deliver_due().await.unwrap().delivered, 1);
    assert_eq!(world.wechat_sandbox.messages(Some("openid-1"), 10).len(), 1);
    assert!(worker.dead_letters(0, 50).await.unwrap().is_empty());
    let delivered = outbox::by_key(&world.db, key).await.unwrap().unwrap();
    assert_eq!(delivered.state, OutboxState::Delivered);
    assert!(!worker.replay(delivered.id).await.unwrap());
    assert_eq!(world.sms_by_key().len(), 1);
}

#[tokio::test]
async fn a_user_who_refused_is_a_dead_letter_at_once() {
    let world = World::new().await;
    let (order, _) = world.order(1, true).await;
    outbox::enqueue(&world.db, &paid(order)).await.unwrap();
    world.wechat_sandbox.refuse("openid-1");
    let worker = world.worker(NotificationSettings::default(), None);
    let report = worker.deliver_due().await.unwrap();
    assert_eq!((report.delivered, report.dead, report.retrying), (1, 1, 0));
    let dead = worker.dead_letters(0, 10).await.unwrap();
    assert_eq!(dead[0].attempts, 1);
    assert!(dead[0].last_error.as_deref().unwrap().contains("43101"));
}

#[tokio::test]
async fn a_kind_without_a_template_is_skipped_and_a_missing_value_is_dead() {
    let world = World::new().await;
    let (order, _) = world.order(1, true).await;
    let mut settings = NotificationSettings::default();
    settings.order_shipped.wechat_template_id.clear();
    // A shipment notice that lacks the courier its SMS text needs.
    let shipped = Notice {
        kind: NoticeKind::OrderShipped,
        occurrence: "SF100".into(),
        params: std::collections::BTreeMap::from([("order_id".to_owned(), "1".to_owned())]),
        ..paid(order)
    };
    outbox::enqueue(&world.db, &shipped).await.unwrap();
    let worker = world.worker(settings, None);
    let report = worker.deliver_due().await.unwrap();
    assert_eq!((report.skipped, report.dead), (1, 1));
    let dead = worker.dead_letters(0, 10).await.unwrap();
    assert_eq!(dead[0].dedupe_key, "order_shipped:1.SF100:sms");
    assert!(world.sms_by_key().is_empty());
}
