//! The courier sandbox against the platform's own KDNiao client: both sides run the protocol
//! code, over real HTTP, with pushes answered by a callback that verifies them.

use std::net::TcpListener;

use actix_web::{App, HttpServer};
use engine::Timestamp;
use providers::couriers::kdniao::{Kdniao, KdniaoConfig};
use providers::couriers::{CourierError, CourierGateway, Party, TrackingPush, WaybillRequest};

use super::*;

struct Stopped;

impl Clock for Stopped {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(1_700_000_000_000)
    }
}

fn settings(callback_url: Option<String>) -> CourierSandboxSettings {
    CourierSandboxSettings {
        ebusiness_id: "1700001".into(),
        app_key: "0b8e8f4c-8f7e-4b7a-9a53-2f1f0c1d2e3f".into(),
        callback_url,
        retry_scale: 0.001,
        capacity: 100,
    }
}

fn client(url: &str, app_key: &str) -> Kdniao {
    Kdniao::new(
        KdniaoConfig {
            url: url.into(),
            ebusiness_id: "1700001".into(),
            app_key: app_key.into(),
            timeout: Duration::from_secs(5),
            attempts: 2,
            backoff: Duration::from_millis(10),
            push_max_age: Duration::from_secs(600),
            accounts: vec![],
        },
        reqwest::Client::new(),
        Arc::new(Stopped),
    )
    .unwrap()
}

fn party(name: &str, city: &str) -> Party {
    Party {
        name: name.into(),
        phone: "13800000000".into(),
        province: "广东省".into(),
        city: city.into(),
        district: "南山区".into(),
        detail: "科技园路1号".into(),
    }
}

fn shipment(courier: &str, order_no: &str) -> WaybillRequest {
    WaybillRequest {
        courier: Courier::parse(courier).unwrap(),
        order_no: order_no.into(),
        sender: party("直播小店", "深圳市"),
        receiver: party("李四", "广州市"),
        goods_name: "秒杀商品".into(),
        quantity: 1,
    }
}

fn start_sandbox(sandbox: Arc<CourierSandbox>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/sandbox/courier", listener.local_addr().unwrap());
    actix_web::rt::spawn(serve(listener, sandbox).unwrap());
    url
}

#[actix_web::test]
async fn waybills_are_issued_once_per_order_in_the_couriers_shape() {
    let sandbox = Arc::new(CourierSandbox::new(settings(None), Arc::new(Stopped)));
    let url = start_sandbox(sandbox.clone());
    let client = client(&url, "0b8e8f4c-8f7e-4b7a-9a53-2f1f0c1d2e3f");

    let sf = client.request_waybill(&shipment("SF", "1001")).await.unwrap();
    assert!(sf.waybill_no.starts_with("SF") && sf.waybill_no.len() == 15, "{}", sf.waybill_no);
    assert_eq!(sf.sort_code.as_deref(), Some("广东-南山区"));
    assert_eq!(sf.package_center.as_deref(), Some("广州转运中心"));
    let zto = client.request_waybill(&shipment("ZTO", "1002")).await.unwrap();
    assert!(zto.waybill_no.len() == 12 && zto.waybill_no.bytes().all(|b| b.is_ascii_digit()));

    let again = client.request_waybill(&shipment("SF", "1001")).await.unwrap();
    assert_eq!(again.waybill_no, sf.waybill_no, "the same order finds the same waybill");
    let other = client.request_waybill(&shipment("SF", "1003")).await.unwrap();
    assert_ne!(other.waybill_no, sf.waybill_no);
    assert_eq!(sandbox.waybill(&sf.waybill_no).unwrap().order_code, "1001");
}

#[actix_web::test]
async fn a_wrong_key_or_missing_fields_are_refused_the_protocols_way() {
    let sandbox = Arc::new(CourierSandbox::new(settings(None), Arc::new(Stopped)));
    let url = start_sandbox(sandbox.clone());

    let forged = client(&url, "not-the-app-key").request_waybill(&shipment("SF", "1")).await;
    assert!(
        matches!(&forged, Err(CourierError::Refused { code, .. }) if code == BAD_SIGNATURE),
        "{forged:?}"
    );

    let mut no_address = shipment("SF", "2");
    no_address.receiver.detail.clear();
    let refused = client(&url, &settings(None).app_key).request_waybill(&no_address).await;
    assert!(
        matches!(&refused, Err(CourierError::Refused { code, reason }) if code == BAD_REQUEST && reason.contains("Receiver.Address")),
        "{refused:?}"
    );
    assert!(sandbox.waybills.lock().is_empty(), "nothing issued");

    // The raw answer carries the protocol's fields.
    let answer =
        sandbox.handle(b"RequestData=%7B%7D&EBusinessID=1700001&RequestType=1007&DataSign=x&DataType=2");
    assert_eq!(answer["Success"], false);
    assert_eq!(answer["ResultCode"], BAD_SIGNATURE);
    assert_eq!(answer["EBusinessID"], "1700001");
}

/// A platform stand-in: verifies each push with the client and answers with its answer.
async fn receive(
    client: web::Data<Kdniao>,
    received: web::Data<Mutex<Vec<TrackingPush>>>,
    body: web::Bytes,
) -> HttpResponse {
    let now = client.now();
    let taken = client.verify_push(&body, now);
    let answer = client.answer_push(taken.as_ref().map(|_| ()).map_err(|_| "refused"), now);
    if let Ok(push) = taken {
        received.lock().push(push);
    }
    HttpResponse::Ok().content_type(answer.content_type).body(answer.body)
}

#[actix_web::test]
async fn advancing_a_parcel_pushes_signed_tracking_that_the_client_verifies() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let callback = format!("http://{}/notify/courier", listener.local_addr().unwrap());
    let app_key = settings(None).app_key;
    let platform = web::Data::new(client("http://127.0.0.1:9", &app_key));
    let received = web::Data::new(Mutex::new(Vec::<TrackingPush>::new()));
    let (p, r) = (platform.clone(), received.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(p.clone()).app_data(r.clone()).route("/notify/courier", web::post().to(receive))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);

    let sandbox = Arc::new(CourierSandbox::new(settings(Some(callback)), Arc::new(Stopped)));
    let url = start_sandbox(sandbox.clone());
    let client = client(&url, &app_key);
    let waybill = client.request_waybill(&shipment("YTO", "2001")).await.unwrap();
    client.subscribe(waybill.courier, &waybill.waybill_no, Some("2001")).await.unwrap();

    for expected in [TrackingState::Collected, TrackingState::InTransit, TrackingState::Delivered] {
        let moved = sandbox.advance(&waybill.waybill_no, None).unwrap();
        assert_eq!(moved.state, expected);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while received.lock().last().map(|p| p.updates[0].state) != Some(expected) {
            assert!(std::time::Instant::now() < deadline, "no push of {expected:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let last = received.lock().last().cloned().unwrap();
    let update = &last.updates[0];
    assert_eq!(update.waybill_no, waybill.waybill_no);
    assert_eq!(update.order_no.as_deref(), Some("2001"));
    assert_eq!(update.events.len(), 3);
    assert!(update.events[0].description.contains("揽收"));
    assert!(update.events[2].description.contains("签收"));
    let record = sandbox.waybill(&waybill.waybill_no).unwrap();
    assert_eq!(record.pushes_acknowledged, 3);
    assert_eq!(sandbox.advance(&waybill.waybill_no, None).unwrap_err(), "the parcel is already there");
}

#[actix_web::test]
async fn a_typed_waybill_can_be_subscribed_and_jumped_to_delivered() {
    let sandbox = Arc::new(CourierSandbox::new(settings(None), Arc::new(Stopped)));
    let url = start_sandbox(sandbox.clone());
    let client = client(&url, &settings(None).app_key);
    client.subscribe(Courier::parse("STO").unwrap(), "773000000001", Some("3001")).await.unwrap();
    let moved = sandbox.advance("773000000001", Some(TrackingState::Delivered)).unwrap();
    assert_eq!(moved.state, TrackingState::Delivered);
    assert_eq!(moved.traces.len(), 3, "collected, in transit and delivered, in order");
    let wrong = client.subscribe(Courier::parse("SF").unwrap(), "773000000001", None).await;
    assert!(matches!(wrong, Err(CourierError::Refused { .. })));
    assert_eq!(sandbox.advance("nope", None).unwrap_err(), "no such waybill");
}

#[test]
fn provinces_lose_their_suffix_in_sort_codes() {
    assert_eq!(short_province("广东省"), "广东");
    assert_eq!(short_province("上海市"), "上海");
    assert_eq!(short_province("广西壮族自治区"), "广西");
    assert_eq!(short_province("香港特别行政区"), "香港");
}
