//! Operators are named accounts with roles: every route checks the role it needs, every
//! state-changing action leaves an audit row, and revoking an operator's or a merchant's
//! tokens makes the old ones 401 at once.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Api, Reply, TestDb, reply, spawn_app, test_settings};

/// `(who, their token, method, path, body, expected status)`.
type Row<'a> = (&'a str, &'a str, Method, &'a str, Option<Value>, u16);

async fn call(api: &Api, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
    let mut request = api.client.request(method, api.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    reply(request.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_enforced_every_action_is_audited_and_revocation_is_immediate() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let admin = api.operator().await;
    let reviewer = api.operator_with_role("rita", "reviewer").await;
    let finance = api.operator_with_role("fei", "finance").await;
    let accounts = api.get("/api/v1/operator/operators", Some(&admin)).await;
    let id_of = |name: &str| {
        accounts.body["operators"].as_array().unwrap().iter().find(|o| o["username"] == name).unwrap()["operator_id"]
            .as_i64()
            .unwrap()
    };
    let (admin_id, rita, fei) = (id_of("operator"), id_of("rita"), id_of("fei"));

    // A merchant with money: one order of ¥100 paid at the (demo) channel.
    let (merchant, merchant_id, sale) = api.merchant_sale("13500000088", 10_000, 5, 900).await;
    let buyer = api.buyer("13900000088").await;
    let order = api.order(sale, &buyer, "roles-1", 1).await;
    let order_id = order.body["order_id"].as_i64().unwrap();
    let trade =
        api.create_payment(order_id, &buyer, "alipay").await["out_trade_no"].as_str().unwrap().to_owned();
    assert_eq!(api.post("/sandbox/alipay/pay", None, json!({"out_trade_no": trade})).await.status, 200);
    assert_eq!(api.post("/api/v1/operator/payments/query", Some(&admin), json!({})).await.status, 200);
    assert_eq!(api.balance(&merchant).await, (9_980, 0, 0));

    let kyc = format!("/api/v1/operator/merchants/{merchant_id}/kyc");
    assert_eq!(call(&api, Method::PUT, &kyc, &finance, Some(json!({"verified": true}))).await.status, 403);
    assert_eq!(call(&api, Method::PUT, &kyc, &reviewer, Some(json!({"verified": true}))).await.status, 200);
    let requested =
        api.post("/api/v1/merchants/me/withdrawals", Some(&merchant), json!({"amount_fen": 5_000})).await;
    assert_eq!(requested.status, 201, "{}", requested.body);
    let withdrawal = requested.body["withdrawal_id"].as_i64().unwrap();

    let pay = format!("/api/v1/operator/withdrawals/{withdrawal}/pay");
    let split = format!("/api/v1/operator/merchants/{merchant_id}/split");
    let revoke_fei = format!("/api/v1/operator/operators/{fei}/revoke");
    let buyer_token = buyer.clone();
    let rows: Vec<Row> = vec![
        ("reviewer", &reviewer, Method::POST, &pay, None, 403),
        ("reviewer", &reviewer, Method::GET, "/api/v1/operator/withdrawals", None, 403),
        ("reviewer", &reviewer, Method::GET, "/api/v1/operator/ledger/check", None, 403),
        ("reviewer", &reviewer, Method::GET, "/api/v1/operator/reconciliation", None, 403),
        ("reviewer", &reviewer, Method::POST, "/api/v1/operator/refunds/run", None, 403),
        ("reviewer", &reviewer, Method::POST, "/api/v1/operator/partners", Some(json!({"name": "x"})), 403),
        ("reviewer", &reviewer, Method::GET, "/api/v1/operator/audit", None, 403),
        ("reviewer", &reviewer, Method::POST, &revoke_fei, None, 403),
        ("reviewer", &reviewer, Method::GET, "/api/v1/operator/reviews", None, 200),
        ("finance", &finance, Method::GET, "/api/v1/operator/reviews", None, 403),
        ("finance", &finance, Method::POST, "/api/v1/operator/partners", Some(json!({"name": "x"})), 403),
        ("finance", &finance, Method::PUT, &split, Some(json!({"partners": []})), 403),
        ("finance", &finance, Method::GET, "/api/v1/operator/audit", None, 403),
        ("finance", &finance, Method::GET, "/api/v1/operator/operators", None, 403),
        (
            "finance",
            &finance,
            Method::POST,
            "/api/v1/operator/operators",
            Some(json!({"username": "sneaky", "role": "admin"})),
            403,
        ),
        ("finance", &finance, Method::GET, "/api/v1/operator/withdrawals", None, 200),
        ("finance", &finance, Method::GET, "/api/v1/operator/ledger/check", None, 200),
        ("merchant", &merchant, Method::POST, &pay, None, 403),
        ("buyer", &buyer_token, Method::POST, &pay, None, 403),
    ];
    for (who, token, method, path, body, status) in rows {
        let answer = call(&api, method.clone(), path, token, body).await;
        assert_eq!(answer.status.as_u16(), status, "{who} {method} {path}: {}", answer.body);
        if status == 403 {
            assert_eq!(answer.code(), "forbidden");
        }
    }
    // The refusals changed nothing; the role that may, does.
    let queue = api.get("/api/v1/operator/withdrawals?state=requested", Some(&finance)).await;
    assert_eq!(queue.body["withdrawals"].as_array().unwrap().len(), 1, "{}", queue.body);
    let paid = api.post(&pay, Some(&finance), json!({})).await;
    assert_eq!(paid.body["state"], "paid", "{}", paid.body);
    let partner = api.post("/api/v1/operator/partners", Some(&admin), json!({"name": "星光 MCN"})).await;
    assert_eq!(partner.status, 201, "{}", partner.body);
    let partner_id = partner.body["partner_id"].as_i64().unwrap();
    let shares = json!({"partners": [{"partner_id": partner_id, "bps": 1_000}]});
    assert_eq!(api.put_json(&split, &admin, shares).await.status, 200);

    // Revocation: the old token is refused at once, a new log-in works.
    let revoked = api.post(&revoke_fei, Some(&admin), json!({})).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let old = api.get("/api/v1/operator/withdrawals", Some(&finance)).await;
    assert_eq!((old.status.as_u16(), old.code()), (401, "token_revoked"));
    let finance_again = api.operator_as("fei", "fei-password-1").await;
    assert_eq!(api.get("/api/v1/operator/withdrawals", Some(&finance_again)).await.status, 200);
    // Disabling closes the account too.
    let closed = api
        .post(&format!("/api/v1/operator/operators/{rita}/revoke"), Some(&admin), json!({"disable": true}))
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(api.get("/api/v1/operator/reviews", Some(&reviewer)).await.status, 401);
    let relogin = api
        .post("/api/v1/operator/sessions", None, json!({"username": "rita", "password": "rita-password-1"}))
        .await;
    assert_eq!((relogin.status.as_u16(), relogin.code()), (401, "invalid_credentials"));

    // The audit log: who did what to what, newest first, and nothing for the refusals.
    let audit = api.get("/api/v1/operator/audit?limit=500", Some(&admin)).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    let entries = audit.body["entries"].as_array().unwrap();
    let actions: Vec<(String, String, String, String)> = entries
        .iter()
        .rev()
        .filter(|e| e["action"] != "session.create")
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_owned();
            (s("username"), s("role"), s("action"), s("target"))
        })
        .collect();
    let row = |who: &str, role: &str, action: &str, target: String| {
        (who.to_owned(), role.to_owned(), action.to_owned(), target)
    };
    assert_eq!(
        actions,
        [
            row("operator", "admin", "operator.create", format!("operator:{rita}")),
            row("operator", "admin", "operator.create", format!("operator:{fei}")),
            row("operator", "admin", "payments.query", "payments".into()),
            row("rita", "reviewer", "merchant.kyc", format!("merchant:{merchant_id}")),
            row("fei", "finance", "withdrawal.pay", format!("withdrawal:{withdrawal}")),
            row("operator", "admin", "partner.create", format!("partner:{partner_id}")),
            row("operator", "admin", "merchant.split", format!("merchant:{merchant_id}")),
            row("operator", "admin", "operator.revoke", format!("operator:{fei}")),
            row("operator", "admin", "operator.revoke", format!("operator:{rita}")),
        ]
    );
    let paid_row = entries.iter().find(|e| e["action"] == "withdrawal.pay").unwrap();
    assert_eq!(paid_row["operator_id"], fei);
    assert_eq!(paid_row["details"]["amount_fen"], 5_000);
    assert_eq!(paid_row["details"]["merchant_id"], merchant_id);
    // Log-ins are recorded too: the admin's three, rita's and fei's two.
    let sessions = |id: i64| {
        entries.iter().filter(|e| e["action"] == "session.create" && e["operator_id"] == id).count()
    };
    assert_eq!((sessions(admin_id), sessions(rita), sessions(fei)), (3, 1, 2));
    let only_fei =
        api.get(&format!("/api/v1/operator/audit?operator_id={fei}&limit=500"), Some(&admin)).await;
    assert!(only_fei.body["entries"].as_array().unwrap().iter().all(|e| e["username"] == "fei"));
    assert_eq!(only_fei.body["entries"].as_array().unwrap().len(), 3);

    // A merchant logs out everywhere: both of its tokens stop working, a new log-in works.
    let second =
        api.post("/api/v1/sessions", None, json!({"phone": "13500000088", "password": "password-123"})).await;
    let second = second.body["token"].as_str().unwrap().to_owned();
    let out = api.post("/api/v1/sessions/revoke", Some(&second), json!({})).await;
    assert_eq!(out.status, 200, "{}", out.body);
    for token in [&merchant, &second] {
        let refused = api.get("/api/v1/merchants/me/balance", Some(token)).await;
        assert_eq!((refused.status.as_u16(), refused.code()), (401, "token_revoked"));
    }
    let third =
        api.post("/api/v1/sessions", None, json!({"phone": "13500000088", "password": "password-123"})).await;
    let third = third.body["token"].as_str().unwrap().to_owned();
    assert_eq!(api.balance(&third).await, (4_980, 0, 0));

    // A revocation made on another node (here: straight in the database) while this node
    // remembers the older version: a token issued after it works at once, and once seen it
    // retires the older tokens here too.
    let connection = db.connect().await;
    persistence::access::revoke_merchant(&connection, engine::MerchantId(merchant_id)).await.unwrap();
    let fourth =
        api.post("/api/v1/sessions", None, json!({"phone": "13500000088", "password": "password-123"})).await;
    let fourth = fourth.body["token"].as_str().unwrap().to_owned();
    assert_eq!(api.get("/api/v1/merchants/me/balance", Some(&fourth)).await.status, 200);
    let stale = api.get("/api/v1/merchants/me/balance", Some(&third)).await;
    assert_eq!((stale.status.as_u16(), stale.code()), (401, "token_revoked"));
    app.stop().await;
}
