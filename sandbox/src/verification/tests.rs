//! The sandbox served on a local port and asked by the real client (`providers`), so both
//! sides of the wire run: signatures, actions, the registry's answers, "unsure" and "down".

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use engine::Timestamp;
use providers::verification::tencent::{TencentVerification, TencentVerificationConfig};
use providers::verification::{EnterpriseCheck, Field, PersonCheck, Verdict, VerificationError, Verifier};

use super::*;

struct Wall;

impl Clock for Wall {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64)
    }
}

struct Served {
    sandbox: Arc<VerificationSandbox>,
    base: String,
}

fn serve_sandbox() -> Served {
    let sandbox = Arc::new(VerificationSandbox::new(
        VerificationSandboxSettings {
            secret_id: "AKIDsandbox".into(),
            secret_key: "sandbox-key".into(),
            capacity: 3,
        },
        Arc::new(Wall),
    ));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/sandbox/verification", listener.local_addr().unwrap());
    let server = serve(listener, sandbox.clone()).unwrap();
    actix_web::rt::spawn(server);
    Served { sandbox, base }
}

fn client(served: &Served, secret_key: &str) -> TencentVerification {
    TencentVerification::new(
        TencentVerificationConfig {
            faceid_url: format!("{}/faceid", served.base),
            ocr_url: format!("{}/ocr", served.base),
            region: "ap-guangzhou".into(),
            secret_id: "AKIDsandbox".into(),
            secret_key: secret_key.into(),
            timeout: Duration::from_secs(2),
            attempts: 2,
            retry_pause: Duration::from_millis(10),
        },
        reqwest::Client::new(),
        Arc::new(Wall),
    )
    .unwrap()
}

const USCC: &str = "91350100M000100Y43";
const ID: &str = "11010519491231002X";

fn company() -> Company {
    Company {
        uscc: USCC.into(),
        name: "福州示例科技有限公司".into(),
        legal_person_name: "张三".into(),
        legal_person_id_no: ID.into(),
    }
}

fn check(change: impl FnOnce(&mut EnterpriseCheck)) -> EnterpriseCheck {
    let mut check = EnterpriseCheck {
        business_name: "福州示例科技有限公司".into(),
        licence_number: USCC.into(),
        legal_person_name: "张三".into(),
        legal_person_id_no: ID.into(),
    };
    change(&mut check);
    check
}

fn mismatch(verdict: Result<Verdict, VerificationError>) -> Vec<Field> {
    match verdict {
        Ok(Verdict::Mismatch { fields, .. }) => fields,
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[actix_web::test]
async fn the_registry_answers_match_mismatch_per_field_and_no_record() {
    let served = serve_sandbox();
    served.sandbox.add_company(company()).unwrap();
    let client = client(&served, "sandbox-key");

    assert_eq!(client.enterprise(&check(|_| {})).await, Ok(Verdict::Match));
    assert_eq!(
        client.person(&PersonCheck { name: "张三".into(), id_no: ID.into() }).await,
        Ok(Verdict::Match)
    );

    assert_eq!(
        mismatch(client.enterprise(&check(|c| c.business_name = "别的公司".into())).await),
        [Field::BusinessName]
    );
    assert_eq!(
        mismatch(client.enterprise(&check(|c| c.legal_person_name = "李四".into())).await),
        [Field::LegalPersonName]
    );
    // another valid number (check character from Python)
    let other_id = "110105194912310003";
    assert_eq!(
        mismatch(client.enterprise(&check(|c| c.legal_person_id_no = other_id.into())).await),
        [Field::LegalPersonIdNo]
    );
    assert_eq!(
        mismatch(client.person(&PersonCheck { name: "李四".into(), id_no: ID.into() }).await),
        [Field::LegalPersonName, Field::LegalPersonIdNo]
    );

    let unknown = check(|c| c.licence_number = "91110108551385082Q".into());
    assert!(matches!(client.enterprise(&unknown).await, Ok(Verdict::Unsure { .. })));
    let stranger = PersonCheck { name: "王五".into(), id_no: other_id.into() };
    assert!(matches!(client.person(&stranger).await, Ok(Verdict::Unsure { .. })));
}

#[actix_web::test]
async fn an_entry_made_unsure_cannot_be_decided_and_a_down_service_is_unreachable() {
    let served = serve_sandbox();
    served.sandbox.add_company(company()).unwrap();
    let client = client(&served, "sandbox-key");
    let person = PersonCheck { name: "张三".into(), id_no: ID.into() };

    served.sandbox.set_unsure(USCC, true);
    served.sandbox.set_unsure(ID, true);
    assert!(matches!(client.enterprise(&check(|_| {})).await, Ok(Verdict::Unsure { .. })));
    assert!(matches!(client.person(&person).await, Ok(Verdict::Unsure { .. })));
    served.sandbox.set_unsure(USCC, false);
    served.sandbox.set_unsure(ID, false);
    assert_eq!(client.enterprise(&check(|_| {})).await, Ok(Verdict::Match));

    served.sandbox.set_down(true);
    assert!(matches!(client.person(&person).await, Err(VerificationError::Transport(_))));
    served.sandbox.set_down(false);
    assert_eq!(client.person(&person).await, Ok(Verdict::Match));
}

#[actix_web::test]
async fn a_wrong_key_is_refused_with_tencents_code() {
    let served = serve_sandbox();
    let client = client(&served, "not-the-key");
    let outcome = client.person(&PersonCheck { name: "张三".into(), id_no: ID.into() }).await;
    assert!(
        matches!(&outcome, Err(VerificationError::Refused { code, .. }) if code == "AuthFailure.SignatureFailure"),
        "{outcome:?}"
    );
}

#[actix_web::test]
async fn registration_over_http_checks_the_numbers_and_is_bounded() {
    let served = serve_sandbox();
    let http = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        let request = http.post(format!("{}/{path}", served.base)).json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let company = |uscc: &str| json!({"uscc": uscc, "name": "某公司", "legal_person_name": "张三", "legal_person_id_no": ID});
    assert_eq!(post("companies", company(USCC)).await.0, 201);
    let (status, body) = post("companies", company("91350100M000100Y44")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid")));
    assert_eq!(post("companies", company("91110108551385082Q")).await.0, 201);
    assert_eq!(post("companies", company("91110000100000000R")).await.0, 201);
    let (status, body) = post("companies", company("12100000400000624D")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("registry_full")));
    assert_eq!(post("people", json!({"name": "李四", "id_no": "11010519491231002x"})).await.0, 400);
    assert_eq!(post("down", json!({"down": true})).await.0, 200);
    assert!(served.sandbox.is_down());
}
