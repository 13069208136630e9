//! The client's requests against signatures computed apart from this code (Python's hmac and
//! hashlib over the canonical request), and its retries against a scripted local server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use engine::Timestamp;

use super::*;
use crate::verification::{Field, Verdict};

struct Stopped;

impl Clock for Stopped {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(1_700_000_000_000)
    }
}

fn verifier(faceid_url: &str, ocr_url: &str, attempts: u32) -> TencentVerification {
    TencentVerification::new(
        TencentVerificationConfig {
            faceid_url: faceid_url.into(),
            ocr_url: ocr_url.into(),
            region: "ap-guangzhou".into(),
            secret_id: "AKIDverification".into(),
            secret_key: "verification-secret".into(),
            timeout: Duration::from_millis(300),
            attempts,
            retry_pause: Duration::from_millis(10),
        },
        reqwest::Client::new(),
        Arc::new(Stopped),
    )
    .unwrap()
}

fn person() -> PersonCheck {
    PersonCheck { name: "张三".into(), id_no: "11010519491231002X".into() }
}

fn enterprise() -> EnterpriseCheck {
    EnterpriseCheck {
        business_name: "福州示例科技有限公司".into(),
        licence_number: "91350100M000100Y43".into(),
        legal_person_name: "张三".into(),
        legal_person_id_no: "11010519491231002X".into(),
    }
}

fn header<'a>(prepared: &'a PreparedRequest, name: &str) -> Option<&'a str> {
    prepared.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

#[test]
fn requests_are_signed_as_an_independent_signer_signs_them() {
    let client = verifier("https://faceid.tencentcloudapi.com", "https://ocr.tencentcloudapi.com", 1);
    let person = client.prepare_person(&person(), 1_700_000_000);
    assert_eq!(person.body, r#"{"IdCard":"11010519491231002X","Name":"张三"}"#.as_bytes());
    assert_eq!(
        header(&person, "authorization"),
        Some(
            "TC3-HMAC-SHA256 Credential=AKIDverification/2023-11-14/faceid/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=b165426bf0cfa5cf80336124d0a68a97315b2462800d5ee9cdf700fdcc4d3050"
        )
    );
    assert_eq!(header(&person, "x-tc-action"), Some("IdCardVerification"));
    assert_eq!(header(&person, "x-tc-version"), Some("2018-03-01"));
    assert_eq!(header(&person, "x-tc-region"), None, "FaceID takes no region");

    let enterprise = client.prepare_enterprise(&enterprise(), 1_700_000_000);
    assert_eq!(
        enterprise.body,
        r#"{"RealName":"张三","IdCard":"11010519491231002X","EnterpriseName":"福州示例科技有限公司","EnterpriseMark":"91350100M000100Y43"}"#
            .as_bytes()
    );
    assert!(header(&enterprise, "authorization").unwrap().ends_with(
        "Credential=AKIDverification/2023-11-14/ocr/tc3_request, SignedHeaders=content-type;host, \
         Signature=ccfba5ef8aed04c9c882d4bc4e27fdd4e4fe79080fff83a8e81cda38d0abf605"
    ));
    assert_eq!(header(&enterprise, "x-tc-action"), Some("VerifyEnterpriseFourFactors"));
    assert_eq!(header(&enterprise, "x-tc-version"), Some("2018-11-19"));
    assert_eq!(header(&enterprise, "x-tc-region"), Some("ap-guangzhou"));
}

fn answer(
    mut stream: std::net::TcpStream,
    (status, answer, delay_ms): (u16, &str, u64),
    counter: &AtomicUsize,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    counter.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(delay_ms));
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

/// A local server answering each request with the next scripted `(status, body, delay)`,
/// counting the requests it read.
struct Scripted {
    url: String,
    requests: Arc<AtomicUsize>,
}

fn scripted(script: Vec<(u16, &'static str, u64)>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let script = Mutex::new(script.into_iter());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let Some(step) = script.lock().unwrap().next() else { return };
            let counter = counter.clone();
            // one thread per connection, so a slow answer does not hold up the next request
            std::thread::spawn(move || answer(stream, step, &counter));
        }
    });
    Scripted { url, requests }
}

const MATCH: &str = r#"{"Response":{"Result":"0","Description":"姓名和身份证号一致","RequestId":"a"}}"#;
const MISMATCH: &str = r#"{"Response":{"Result":"-1","Description":"姓名和身份证号不一致","RequestId":"b"}}"#;
const INTERNAL: &str = r#"{"Response":{"Error":{"Code":"InternalError","Message":"x"},"RequestId":"c"}}"#;
const AUTH: &str =
    r#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"x"},"RequestId":"d"}}"#;

#[tokio::test]
async fn outages_are_retried_until_an_answer_and_verdicts_are_not() {
    let server = scripted(vec![(503, "", 0), (200, INTERNAL, 0), (200, MATCH, 0)]);
    let client = verifier(&server.url, &server.url, 3);
    assert_eq!(client.person(&person()).await, Ok(Verdict::Match));
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);

    let server = scripted(vec![(200, MISMATCH, 0), (200, MATCH, 0)]);
    let client = verifier(&server.url, &server.url, 3);
    assert_eq!(
        client.person(&person()).await,
        Ok(Verdict::Mismatch {
            fields: vec![Field::LegalPersonName, Field::LegalPersonIdNo],
            detail: "姓名和身份证号不一致".into()
        })
    );
    assert_eq!(server.requests.load(Ordering::SeqCst), 1, "a verdict is final");
}

#[tokio::test]
async fn a_refusal_is_not_retried_and_a_lasting_outage_gives_up_after_the_attempts() {
    let server = scripted(vec![(200, AUTH, 0), (200, MATCH, 0)]);
    let client = verifier(&server.url, &server.url, 3);
    assert_eq!(
        client.enterprise(&enterprise()).await,
        Err(VerificationError::Refused { code: "AuthFailure.SignatureFailure".into(), message: "x".into() })
    );
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);

    let server = scripted(vec![(502, "", 0), (503, "", 0), (500, "", 0), (200, MATCH, 0)]);
    let client = verifier(&server.url, &server.url, 3);
    assert!(matches!(client.person(&person()).await, Err(VerificationError::Transport(_))));
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_slow_service_times_out_each_attempt() {
    let server = scripted(vec![(200, MATCH, 1_000), (200, MATCH, 1_000)]);
    let client = verifier(&server.url, &server.url, 2);
    let started = std::time::Instant::now();
    let outcome = client.person(&person()).await;
    assert!(matches!(outcome, Err(VerificationError::Transport(_))), "{outcome:?}");
    assert!(started.elapsed() < Duration::from_millis(1_500), "{:?}", started.elapsed());
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_garbled_answer_is_a_bad_answer() {
    let server = scripted(vec![(200, r#"{"Response":{"State":"one"}}"#, 0)]);
    let client = verifier(&server.url, &server.url, 3);
    assert!(matches!(client.enterprise(&enterprise()).await, Err(VerificationError::BadAnswer(_))));
}
