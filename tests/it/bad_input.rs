//! Bad input: every malformed, forged, oversized or misdirected request gets a 4xx JSON error
//! with a stable `error.code`, the sale is untouched, and the server keeps serving.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Api, TestDb, reply, spawn_app, stored_orders, test_settings};
use crate::storm::assert_server_healthy;

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    token: Option<String>,
    key: Option<String>,
    content_type: &'static str,
    body: String,
    status: u16,
    code: &'static str,
}

async fn send(api: &Api, case: &Case) -> crate::helpers::Reply {
    let mut request = api.client.request(case.method.clone(), api.url(&case.path));
    if let Some(token) = &case.token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    if let Some(key) = &case.key {
        request = request.header("Idempotency-Key", key);
    }
    if !case.body.is_empty() {
        request = request.header("Content-Type", case.content_type).body(case.body.clone());
    }
    reply(request.send().await.expect("sent")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_cleanly_and_changes_nothing() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let sale = api.live_sale(50, 2, 600).await;
    let id = sale.flash_sale_id;
    let buyer = api.buyer("13500000001").await;
    let merchant = sale.merchant_token.clone();
    let other_merchant = api.merchant("13600000009").await;
    let orders = format!("/api/v1/flash-sales/{id}/orders");
    // A token with a valid shape signed with another secret.
    let forged = {
        let other = gateway::auth::Tokens::new(b"not-the-server-secret-at-all!!!!");
        other
            .issue(
                gateway::auth::Role::Buyer,
                1,
                engine::Timestamp(chrono::Utc::now().timestamp_millis()),
                600,
            )
            .0
    };
    let now = chrono::Utc::now();
    let sale_body = |starts: chrono::DateTime<chrono::Utc>, ends: chrono::DateTime<chrono::Utc>| {
        json!({"product_id": sale.product_id, "price_fen": 100, "quantity": 1, "per_buyer_limit": 1,
               "starts_at": starts.to_rfc3339(), "ends_at": ends.to_rfc3339(), "payment_window_secs": 60})
        .to_string()
    };

    let order = |name, token: Option<&str>, key: Option<&str>, body: &str, status, code| Case {
        name,
        method: Method::POST,
        path: orders.clone(),
        token: token.map(str::to_owned),
        key: key.map(str::to_owned),
        content_type: "application/json",
        body: body.to_owned(),
        status,
        code,
    };
    let post = |name, path: &str, token: Option<&str>, body: String, status, code| Case {
        name,
        method: Method::POST,
        path: path.to_owned(),
        token: token.map(str::to_owned),
        key: None,
        content_type: "application/json",
        body,
        status,
        code,
    };
    let b = Some(buyer.as_str());
    let k = Some("key-1");
    // One row per case reads as a table; rustfmt would spread each over eight lines.
    #[rustfmt::skip]
    let cases = vec![
        order("malformed json", b, k, r#"{"quantity":"#, 400, "malformed_json"),
        order("not an object", b, k, r#""two please""#, 422, "invalid_body"),
        order("missing quantity", b, k, "{}", 422, "invalid_body"),
        order("quantity as text", b, k, r#"{"quantity":"2"}"#, 422, "invalid_body"),
        order("zero quantity", b, k, r#"{"quantity":0}"#, 422, "invalid_quantity"),
        order("negative quantity", b, k, r#"{"quantity":-1}"#, 422, "invalid_quantity"),
        order("huge quantity", b, k, r#"{"quantity":4294967297}"#, 422, "invalid_quantity"),
        order("beyond i64", b, k, r#"{"quantity":99999999999999999999999}"#, 422, "invalid_body"),
        order("fractional quantity", b, k, r#"{"quantity":1.5}"#, 422, "invalid_body"),
        order("no token", None, k, r#"{"quantity":1}"#, 401, "unauthorized"),
        order("garbage token", Some("abc.def.ghi"), k, r#"{"quantity":1}"#, 401, "invalid_token"),
        order("forged token", Some(&forged), k, r#"{"quantity":1}"#, 401, "invalid_token"),
        order("merchant token", Some(&merchant), k, r#"{"quantity":1}"#, 403, "forbidden"),
        order("no idempotency key", b, None, r#"{"quantity":1}"#, 400, "idempotency_key_required"),
        order("key too long", b, Some(&"k".repeat(65)), r#"{"quantity":1}"#, 422, "invalid_idempotency_key"),
        order("body over the cap", b, k, &format!(r#"{{"quantity":1,"pad":"{}"}}"#, "x".repeat(20_000)), 413, "payload_too_large"),
        Case { content_type: "text/plain", ..order("not json", b, k, r#"{"quantity":1}"#, 415, "unsupported_media_type") },
        Case { path: "/api/v1/flash-sales/987654/orders".into(), ..order("unknown sale", b, k, r#"{"quantity":1}"#, 404, "flash_sale_not_found") },
        Case { path: "/api/v1/flash-sales/abc/orders".into(), ..order("sale id not a number", b, k, r#"{"quantity":1}"#, 404, "not_found") },
        post("buyer on a merchant route", "/api/v1/products", b, json!({"title":"x","price_fen":1,"stock":1}).to_string(), 403, "forbidden"),
        post("sale ending before it starts", "/api/v1/flash-sales", Some(&merchant), sale_body(now + chrono::Duration::hours(2), now + chrono::Duration::hours(1)), 422, "invalid_window"),
        post("sale already over", "/api/v1/flash-sales", Some(&merchant), sale_body(now - chrono::Duration::hours(2), now - chrono::Duration::hours(1)), 422, "invalid_window"),
        post("sale of someone else's product", "/api/v1/flash-sales", Some(&other_merchant), sale_body(now, now + chrono::Duration::hours(1)), 404, "product_not_found"),
        post("bad buyer phone", "/api/v1/buyers/sessions", None, json!({"phone":"12345"}).to_string(), 422, "invalid_phone"),
        post("bad merchant phone", "/api/v1/merchants", None, json!({"phone":"+86 138","password":"password-1","display_name":"x"}).to_string(), 422, "invalid_phone"),
        post("short password", "/api/v1/merchants", None, json!({"phone":"13700000077","password":"short","display_name":"x"}).to_string(), 422, "invalid_password"),
        post("duplicate merchant", "/api/v1/merchants", None, json!({"phone":"13600000000","password":"password-1","display_name":"x"}).to_string(), 409, "phone_taken"),
        post("wrong password", "/api/v1/sessions", None, json!({"phone":"13600000000","password":"password-999"}).to_string(), 401, "invalid_credentials"),
        post("unknown merchant", "/api/v1/sessions", None, json!({"phone":"13600000055","password":"password-999"}).to_string(), 401, "invalid_credentials"),
        Case { method: Method::GET, ..post("unknown route", "/api/v1/nothing-here", None, String::new(), 404, "not_found") },
    ];

    for case in &cases {
        let got = send(&api, case).await;
        assert_eq!(
            (got.status.as_u16(), got.code()),
            (case.status, case.code),
            "{}: got {} {}",
            case.name,
            got.status,
            String::from_utf8_lossy(&got.bytes)
        );
        assert!(
            got.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}: no message",
            case.name
        );
    }

    // Nothing above moved a unit or wrote an order.
    assert_eq!(api.counts(id).await, (50, 0, 0, 50));
    assert!(stored_orders(&db.connect().await, id).await.is_empty());

    // Orders are private: another buyer and another merchant get 404, as for a missing order.
    let placed = api.order(id, &buyer, "mine", 1).await;
    assert_eq!(placed.status, 201);
    let order_id = placed.body["order_id"].as_i64().unwrap();
    let stranger = api.buyer("13500000002").await;
    for token in [&stranger, &other_merchant] {
        let got = api.get(&format!("/api/v1/orders/{order_id}"), Some(token)).await;
        assert_eq!((got.status.as_u16(), got.code()), (404, "order_not_found"));
    }
    assert_eq!(api.get(&format!("/api/v1/orders/{order_id}"), Some(&merchant)).await.status, 200);
    assert_eq!(api.get(&format!("/api/v1/orders/{order_id}"), Some(&buyer)).await.status, 200);

    // The same key with another body is refused, and changes nothing.
    let reused = api.order(id, &buyer, "mine", 2).await;
    assert_eq!((reused.status.as_u16(), reused.code()), (422, "idempotency_key_reused"));
    assert_eq!(api.counts(id).await, (49, 1, 0, 50));
    assert_server_healthy(&api).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_limits_answer_at_once_with_retry_after() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.admission.per_buyer_per_sec = 1;
    settings.admission.per_buyer_burst = 2;
    settings.admission.retry_after_secs = 7;
    let app = spawn_app(settings).await;
    let api = app.api();
    let sale = api.live_sale(100, 100, 600).await;
    let buyer = api.buyer("13500000003").await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let response = api
            .client
            .post(api.url(&format!("/api/v1/flash-sales/{}/orders", sale.flash_sale_id)))
            .bearer_auth(&buyer)
            .header("Idempotency-Key", format!("burst-{i}"))
            .json(&json!({"quantity": 1}))
            .send()
            .await
            .unwrap();
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let got = reply(response).await;
        statuses.push((got.status.as_u16(), got.code().to_owned(), retry_after));
    }
    assert_eq!(statuses[0].0, 201);
    assert_eq!(statuses[1].0, 201);
    assert_eq!(statuses[2], (429, "rate_limited".to_owned(), Some("7".to_owned())));
    assert_eq!(api.counts(sale.flash_sale_id).await, (98, 2, 0, 100));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_flight_cap_answers_503_and_frees_up_again() {
    use tokio::io::AsyncWriteExt;

    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.admission.max_in_flight = 1;
    settings.admission.retry_after_secs = 2;
    let app = spawn_app(settings).await;
    let api = app.api();
    // /livez is outside /api: probes keep working whatever the API's load.
    let live = api.client.get(api.url("/livez")).send().await.unwrap();
    assert_eq!((live.status().as_u16(), live.text().await.unwrap()), (200, "ok".to_owned()));

    // A request that sent its headers and half its body holds the only slot: the server is
    // still reading it.
    let addr = api.base.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (first_half, second_half) = (r#"{"phone":"#, r#""13500000009"}"#);
    let length = first_half.len() + second_half.len();
    let head = format!(
        "POST /api/v1/buyers/codes HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n{first_half}"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let refused = api.client.get(api.url("/api/v1/flash-sales/1")).send().await.unwrap();
    let retry_after = refused.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let refused = reply(refused).await;
    assert_eq!((refused.status.as_u16(), refused.code()), (503, "overloaded"));
    assert_eq!(retry_after.as_deref(), Some("2"));
    // Probes are not counted against the cap.
    assert_eq!(api.get("/healthz", None).await.status, 200);
    // A refused order's body is read before the answer, so its connection stays open: under
    // overload, shedding must not cost every refused client a new TCP handshake.
    let mut kept = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = r#"{"quantity":1}"#;
    let post = format!(
        "POST /api/v1/flash-sales/1/orders HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    kept.write_all(post.as_bytes()).await.unwrap();
    let shed = read_answer(&mut kept).await;
    assert!(shed.starts_with("HTTP/1.1 503"), "{shed}");
    assert!(!shed.to_ascii_lowercase().contains("connection: close"), "{shed}");

    // Once the slow request completes, the slot is free again.
    slow.write_all(second_half.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut slow, &mut answer),
    )
    .await
    .expect("the completed request is answered")
    .unwrap();
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 202"));
    drop(slow);
    let again = api.get("/api/v1/flash-sales/1", None).await;
    assert_eq!((again.status.as_u16(), again.code()), (404, "flash_sale_not_found"));
    // The connection of the refused order serves the next request.
    kept.write_all(format!("GET /api/v1/flash-sales/1 HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let next = read_answer(&mut kept).await;
    assert!(next.starts_with("HTTP/1.1 404"), "{next}");
    app.stop().await;
}

/// One answer's head and body as text, read off a raw connection (small answers only).
async fn read_answer(stream: &mut tokio::net::TcpStream) -> String {
    let mut answer = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            tokio::io::AsyncReadExt::read(stream, &mut chunk),
        )
        .await
        .expect("an answer")
        .unwrap();
        assert!(read > 0, "connection closed after {:?}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
    }
}
