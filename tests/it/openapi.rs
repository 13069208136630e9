//! The API's own document checked against the API: every operation whose documentation shows
//! the answer it gives is called, in the order a newcomer takes them, with the documented
//! request example as its body, and must answer the documented success status with every field
//! of the documented answer, each of the same JSON type. The ids in the examples are the first
//! ones a fresh database hands out; path ids come from the answers before; the SMS code is the
//! one the sandbox delivered.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::{Api, TestDb, png_header, reply, spawn_app, test_settings};

/// The documented operation at `path` (as written in the document) and `method`.
fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not in the document");
    op
}

/// The success status and its example answer.
fn success(op: &Value) -> (u16, Value) {
    let responses = op["responses"].as_object().expect("responses");
    let (status, response) = responses
        .iter()
        .find(|(status, _)| status.starts_with('2') || status.starts_with('3'))
        .expect("a documented success");
    (status.parse().unwrap(), response["content"]["application/json"]["example"].clone())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every field of `example` is in `actual` with the same JSON type.
fn same_shape(example: &Value, actual: &Value, at: &str) {
    let fields = example.as_object().unwrap_or_else(|| panic!("{at}: the example is not an object"));
    for (field, value) in fields {
        let got = actual
            .get(field)
            .unwrap_or_else(|| panic!("{at}: `{field}` is documented, not answered: {actual}"));
        assert_eq!(kind(got), kind(value), "{at}: `{field}` is documented as {value}, answered {got}");
    }
}

struct Walk<'a> {
    api: &'a Api,
    doc: &'a Value,
    walked: BTreeSet<(String, String)>,
}

impl Walk<'_> {
    /// Calls the documented operation with its request example (patched by `patch`), on the
    /// concrete `url` path, and checks the answer against the documented one.
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        url: &str,
        token: Option<&str>,
        patch: impl FnOnce(&mut Value),
    ) -> Value {
        let op = operation(self.doc, method, path);
        let mut body = op["requestBody"]["content"]["application/json"]["example"].clone();
        patch(&mut body);
        let mut request = match method {
            "get" => self.api.client.get(self.api.url(url)),
            "post" => self.api.client.post(self.api.url(url)),
            "patch" => self.api.client.patch(self.api.url(url)),
            "put" => self.api.client.put(self.api.url(url)),
            other => panic!("{other}"),
        };
        if !body.is_null() {
            request = request.json(&body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if path.ends_with("/orders") && method == "post" {
            request = request.header("Idempotency-Key", "openapi-walk-1");
        }
        let answer = reply(request.send().await.expect("request sent")).await;
        let (status, example) = success(op);
        let at = format!("{} {path}", method.to_uppercase());
        assert_eq!(answer.status.as_u16(), status, "{at} sent {body}: {}", answer.body);
        if !example.is_null() {
            same_shape(&example, &answer.body, &at);
        }
        self.walked.insert((method.to_owned(), path.to_owned()));
        answer.body
    }
}

#[tokio::test]
async fn every_documented_example_answers_as_documented() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let doc = api.get("/api/v1/openapi.json", None).await.body;
    assert!(doc["openapi"].as_str().unwrap_or_default().starts_with("3.1"), "{}", doc["openapi"]);
    let page = reply(api.client.get(api.url("/api/v1/docs")).send().await.unwrap()).await;
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.bytes).contains("/api/v1/flash-sales/{id}/orders"));

    let mut walk = Walk { api: &api, doc: &doc, walked: BTreeSet::new() };
    let none = |_: &mut Value| {};
    walk.call("post", "/api/v1/merchants", "/api/v1/merchants", None, none).await;
    let session = walk.call("post", "/api/v1/sessions", "/api/v1/sessions", None, none).await;
    let merchant = session["token"].as_str().unwrap().to_owned();
    let m = Some(merchant.as_str());
    // Only approved merchants open sales: the documented qualification, its company known to
    // the verification sandbox, its documents uploaded, reviewed in the background.
    let form = &operation(&doc, "put", "/api/v1/merchants/me/qualification")["requestBody"]["content"]["application/json"]
        ["example"];
    let registered = api
        .post(
            "/sandbox/verification/companies",
            None,
            json!({
                "uscc": form["licence_number"], "name": form["business_name"],
                "legal_person_name": form["legal_person_name"], "legal_person_id_no": form["legal_person_id_no"],
            }),
        )
        .await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    for kind in ["business_licence", "id_card_front", "id_card_back", "food_operation"] {
        let uploaded = api.upload_document(&merchant, kind, "image/png", &png_header(1_200, 800)).await;
        assert_eq!(uploaded.status, 201, "{kind}: {}", uploaded.body);
    }
    let path = "/api/v1/merchants/me/qualification";
    walk.call("put", path, path, m, none).await;
    assert_eq!(api.review_settled(&merchant).await["review_state"], "approved");
    walk.call("get", "/api/v1/merchants/me", "/api/v1/merchants/me", m, none).await;
    let product = walk.call("post", "/api/v1/products", "/api/v1/products", m, none).await;
    let product = product["product_id"].as_i64().unwrap();
    walk.call("get", "/api/v1/products/{id}", &format!("/api/v1/products/{product}"), None, none).await;
    walk.call("get", "/api/v1/products", "/api/v1/products", m, none).await;
    let edited =
        walk.call("patch", "/api/v1/products/{id}", &format!("/api/v1/products/{product}"), m, none).await;
    assert_eq!(
        (edited["title"].as_str(), edited["price_fen"].as_i64()),
        (Some("网红口红 Lipstick 新色"), Some(13_900))
    );
    let sale = walk.call("post", "/api/v1/flash-sales", "/api/v1/flash-sales", m, none).await;
    let sale = sale["flash_sale_id"].as_i64().unwrap();
    walk.call("get", "/api/v1/flash-sales/{id}", &format!("/api/v1/flash-sales/{sale}"), None, none).await;
    let sku =
        api.get(&format!("/api/v1/products/{product}"), None).await.body["skus"][0]["id"].as_i64().unwrap();
    let sku_path = format!("/api/v1/products/{product}/skus/{sku}");
    walk.call("patch", "/api/v1/products/{id}/skus/{sku_id}", &sku_path, m, none).await;
    walk.call("get", "/api/v1/products/low-stock", "/api/v1/products/low-stock", m, none).await;
    let revisions = format!("/api/v1/products/{product}/revisions");
    walk.call("get", "/api/v1/products/{id}/revisions", &revisions, m, none).await;
    let share = format!("/api/v1/flash-sales/{sale}/share");
    walk.call("get", "/api/v1/flash-sales/{id}/share", &share, m, none).await;

    let code = walk.call("post", "/api/v1/buyers/codes", "/api/v1/buyers/codes", None, none).await;
    assert!(code["expires_at"].is_string());
    let phone = operation(&doc, "post", "/api/v1/buyers/codes")["requestBody"]["content"]["application/json"]
        ["example"]["phone"]
        .as_str()
        .unwrap()
        .to_owned();
    let sms = api.sms_code(&phone).await;
    let buyer = walk
        .call("post", "/api/v1/buyers/sessions", "/api/v1/buyers/sessions", None, |body| {
            body["code"] = json!(sms)
        })
        .await;
    let buyer = buyer["token"].as_str().unwrap().to_owned();
    let b = Some(buyer.as_str());
    let order = walk
        .call(
            "post",
            "/api/v1/flash-sales/{id}/orders",
            &format!("/api/v1/flash-sales/{sale}/orders"),
            b,
            none,
        )
        .await;
    let order = order["order_id"].as_i64().unwrap();
    walk.call("get", "/api/v1/orders/{id}", &format!("/api/v1/orders/{order}"), b, none).await;
    let reports = format!("/api/v1/flash-sales/{sale}/reports");
    walk.call("post", "/api/v1/flash-sales/{id}/reports", &reports, b, none).await;
    let reports = format!("/api/v1/products/{product}/reports");
    walk.call("post", "/api/v1/products/{id}/reports", &reports, b, none).await;
    walk.call("post", "/api/v1/buyers/me/addresses", "/api/v1/buyers/me/addresses", b, none).await;
    walk.call("get", "/api/v1/buyers/me/addresses", "/api/v1/buyers/me/addresses", b, none).await;
    let address = format!("/api/v1/orders/{order}/address");
    walk.call("put", "/api/v1/orders/{id}/address", &address, b, none).await;
    let payments = format!("/api/v1/orders/{order}/payments");
    walk.call("post", "/api/v1/orders/{id}/payments", &payments, b, none).await;
    walk.call("get", "/api/v1/orders/{id}/payments", &payments, b, none).await;
    walk.call("post", "/api/v1/orders/{id}/cancel", &format!("/api/v1/orders/{order}/cancel"), b, none).await;
    walk.call("get", "/api/v1/merchants/me/ledger", "/api/v1/merchants/me/ledger", m, none).await;
    walk.call("get", "/api/v1/merchants/me/withdrawals", "/api/v1/merchants/me/withdrawals", m, none).await;
    walk.call("get", "/api/v1/merchants/me/orders", "/api/v1/merchants/me/orders", m, none).await;
    let status = format!("/api/v1/products/{product}/status");
    walk.call("post", "/api/v1/products/{id}/status", &status, m, none).await;

    // Every operation that documents its answer was called: a new example is checked too, or
    // this fails until it is.
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !success(op).1.is_null() {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let unchecked: Vec<_> = documented.difference(&walk.walked).collect();
    assert!(unchecked.is_empty(), "documented answers nobody checked: {unchecked:?}");
    app.stop().await;
}
