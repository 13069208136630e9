//! The consoles over HTTP: sign-in to the cookie (CSRF first), pages behind it, a live board's
//! figures counted exactly, the dashboard's report and exports, the product edit, and the
//! operator console's pages by role.

use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{Api, TestDb, reply, spawn_app, test_settings};

/// A client that does not follow redirects, to see them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn cookie_of(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|header| {
        let (key, value) = header.split(';').next()?.trim().split_once('=')?;
        (key == name).then(|| (value.to_owned(), header.to_owned()))
    })
}

/// Signs in at `login_path` ({phone, password} or {username, password}) as a page would: the
/// CSRF cookie from the sign-in page, then the session cookie. `Cookie:` to send afterwards.
pub(crate) async fn page_session(
    api: &Api,
    page: &str,
    login_path: &str,
    body: Value,
    cookie: &str,
) -> String {
    let client = no_redirects();
    let sign_in_page = client.get(api.url(page)).send().await.unwrap();
    assert_eq!(sign_in_page.status(), 200);
    let policy = sign_in_page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "{policy}");
    let (csrf, _) = cookie_of(&sign_in_page, "fs_csrf").expect("the sign-in page sets the CSRF cookie");

    // Without the header, no session.
    let refused = client
        .post(api.url(login_path))
        .header(COOKIE, format!("fs_csrf={csrf}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let refused = reply(refused).await;
    assert_eq!((refused.status.as_u16(), refused.code()), (403, "csrf_failed"));

    let signed_in = client
        .post(api.url(login_path))
        .header(COOKIE, format!("fs_csrf={csrf}"))
        .header("X-CSRF-Token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let (token, header) = cookie_of(&signed_in, cookie).expect("the session cookie");
    assert!(header.contains("HttpOnly") && header.contains("SameSite=Lax"), "{header}");
    format!("fs_csrf={csrf}; {cookie}={token}")
}

pub(crate) async fn page(api: &Api, path: &str, cookies: &str) -> (u16, String) {
    let answer = no_redirects().get(api.url(path)).header(COOKIE, cookies).send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_signs_in_to_the_console_and_its_board_counts_orders_exactly() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let sale = api.live_sale(50, 3, 900).await;

    // Without a session every console page sends to the sign-in page.
    for path in
        ["/console", "/console/products", "/console/money", &format!("/console/sales/{}", sale.flash_sale_id)]
    {
        let answer = no_redirects().get(api.url(path)).send().await.unwrap();
        assert_eq!(answer.status(), 303, "{path}");
        assert_eq!(answer.headers()[LOCATION], "/console/login", "{path}");
    }
    let figures_path = format!("/console/sales/{}/figures", sale.flash_sale_id);
    assert_eq!(page(&api, &figures_path, "").await.0, 401);

    let cookies = page_session(
        &api,
        "/console/login",
        "/console/session",
        json!({"phone": "13600000000", "password": "password-123"}),
        "fs_merchant",
    )
    .await;
    let (status, home) = page(&api, "/console", &cookies).await;
    assert_eq!(status, 200);
    assert!(
        home.contains("我的秒杀") && home.contains("口红 lipstick") && home.contains("50 / 50"),
        "{home}"
    );

    // Three orders by two buyers; one is cancelled and no longer counts.
    let (first, second) = (api.buyer("13700000001").await, api.buyer("13700000002").await);
    let a = api.order(sale.flash_sale_id, &first, "a", 2).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(api.order(sale.flash_sale_id, &second, "b", 3).await.status, 201);
    let c = api.order(sale.flash_sale_id, &first, "c", 1).await;
    assert_eq!(c.status, 201);
    let cancelled =
        api.post(&format!("/api/v1/orders/{}/cancel", c.body["order_id"]), Some(&first), json!({})).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);

    // The figures are at most a second old: wait until the read after the cancellation is in.
    let mut figures = Value::Null;
    for _ in 0..40 {
        let (status, body) = page(&api, &figures_path, &cookies).await;
        assert_eq!(status, 200, "{body}");
        figures = serde_json::from_str(&body).unwrap();
        if figures["orders"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(figures["available"], 45, "{figures}");
    assert_eq!(figures["reserved"], 5, "{figures}");
    assert_eq!(figures["sold"], 0, "{figures}");
    assert_eq!(figures["orders"], 2, "{figures}");
    assert_eq!(figures["buyers"], 2, "{figures}");
    assert_eq!(figures["gmv_fen"], 5 * 990, "{figures}");
    assert_eq!(figures["average_order_fen"], 5 * 990 / 2, "{figures}");
    assert_eq!(figures["paid_fen"], 0, "{figures}");
    assert_eq!(figures["state"], "live", "{figures}");

    // The orders page lists them through the orders workflow, filters in the URL.
    let (_, pending) = page(&api, "/console/orders?state=pending_payment", &cookies).await;
    for id in [&a.body["order_id"], &c.body["order_id"]] {
        let link = format!(r#"href="/console/orders/{id}""#);
        assert_eq!(pending.contains(&link), id == &a.body["order_id"], "{id} in {pending}");
    }
    let (status, order) = page(&api, &format!("/console/orders/{}", a.body["order_id"]), &cookies).await;
    assert_eq!(status, 200);
    assert!(order.contains(r#"<dd id="order-state">待付款</dd>"#) && order.contains("¥19.80"), "{order}");

    // The board shows them and the share link of `GET …/share`.
    let (status, board) = page(&api, &format!("/console/sales/{}", sale.flash_sale_id), &cookies).await;
    assert_eq!(status, 200);
    let shared = api
        .get(&format!("/api/v1/flash-sales/{}/share", sale.flash_sale_id), Some(&sale.merchant_token))
        .await;
    assert!(board.contains(shared.body["short_url"].as_str().unwrap()), "{board}");
    assert!(board.contains(r#"<strong id="f-available">45</strong>"#), "{board}");
    assert!(!board.contains("<script>") && !board.contains(" style="), "inline script or style");

    // Another merchant sees neither the board nor its figures.
    api.merchant("13600000009").await;
    let other_cookies = page_session(
        &api,
        "/console/login",
        "/console/session",
        json!({"phone": "13600000009", "password": "password-123"}),
        "fs_merchant",
    )
    .await;
    assert_eq!(page(&api, &format!("/console/sales/{}", sale.flash_sale_id), &other_cookies).await.0, 404);
    assert_eq!(page(&api, &figures_path, &other_cookies).await.0, 404);

    // Today's dashboard and its exports count the same orders.
    let (_, dashboard) = page(&api, "/console/dashboard", &cookies).await;
    assert!(dashboard.contains("订单填写收货地址后"), "no addresses yet: {dashboard}");
    assert!(dashboard.contains(r#"<strong id="d-orders">2</strong>"#), "{dashboard}");
    assert!(dashboard.contains(r#"<strong id="d-gmv">¥49.50</strong>"#), "{dashboard}");
    // Fans by region: the ship-to province of the orders that carry an address.
    let address = json!({"name": "张三", "phone": "13800138000", "province": "广东省", "city": "深圳市", "district": "南山区", "detail": "科技园南区1栋101"});
    let set = reply(
        api.client
            .put(api.url(&format!("/api/v1/orders/{}/address", a.body["order_id"])))
            .bearer_auth(&first)
            .json(&address)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let (_, dashboard) = page(&api, "/console/dashboard?period=month", &cookies).await;
    assert!(
        dashboard
            .contains("<tr><td>广东省</td><td class=\"number\">1</td><td class=\"number\">¥19.80</td></tr>"),
        "{dashboard}"
    );
    let csv = no_redirects()
        .get(api.url("/console/dashboard.csv?period=week"))
        .header(COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    assert!(csv.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    for line in
        ["orders,2", "units,5", "gmv_cny,49.50", "buyers,2", "average_order_cny,24.75", "广东省,1,19.80"]
    {
        assert!(csv.lines().any(|l| l == line), "{line} in {csv}");
    }
    assert!(csv.contains(&format!("{},口红 lipstick,2,5,49.50,0.00", sale.product_id)), "{csv}");
    let xlsx =
        no_redirects().get(api.url("/console/dashboard.xlsx")).header(COOKIE, &cookies).send().await.unwrap();
    assert_eq!(xlsx.status(), 200);
    assert!(xlsx.headers()[CONTENT_TYPE].to_str().unwrap().contains("spreadsheetml"));
    assert_eq!(&xlsx.bytes().await.unwrap()[..2], b"PK");

    // Sign-out ends the page session.
    let out = no_redirects()
        .post(api.url("/console/logout"))
        .header(COOKIE, &cookies)
        .header("X-CSRF-Token", cookies.split(';').next().unwrap().trim_start_matches("fs_csrf="))
        .send()
        .await
        .unwrap();
    let (_, ended) = cookie_of(&out, "fs_merchant").expect("the cookie is ended");
    assert!(ended.contains("Max-Age=0"), "{ended}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_calls_the_api_with_its_cookie_and_a_product_is_edited_by_its_merchant_only() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let sale = api.live_sale(10, 1, 900).await;
    let cookies = page_session(
        &api,
        "/console/login",
        "/console/session",
        json!({"phone": "13600000000", "password": "password-123"}),
        "fs_merchant",
    )
    .await;
    let csrf = cookies.split(';').next().unwrap().trim_start_matches("fs_csrf=").to_owned();
    let product = format!("/api/v1/products/{}", sale.product_id);

    // The console's script: the merchant cookie, named by X-Session, and the CSRF token.
    let patch = |headers: Vec<(&'static str, String)>, body: Value| {
        let mut request = api.client.patch(api.url(&product)).header(COOKIE, &cookies).json(&body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move { reply(request.send().await.unwrap()).await }
    };
    // Without X-Session the buyer cookie would be lent, and there is none.
    let no_session = patch(vec![("X-CSRF-Token", csrf.clone())], json!({"title": "x"})).await;
    assert_eq!(no_session.status, 401, "{}", no_session.body);
    let no_csrf = patch(vec![("X-Session", "merchant".into())], json!({"title": "x"})).await;
    assert_eq!((no_csrf.status.as_u16(), no_csrf.code()), (403, "csrf_failed"));
    let edited = patch(
        vec![("X-Session", "merchant".into()), ("X-CSRF-Token", csrf.clone())],
        json!({"title": "口红 新色", "price_fen": 13_900, "description": "更新"}),
    )
    .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    let stored = api.get(&product, None).await.body;
    assert_eq!((stored["title"].as_str(), stored["price_fen"].as_i64()), (Some("口红 新色"), Some(13_900)));
    assert_eq!((stored["description"].as_str(), stored["stock"].as_i64()), (Some("更新"), Some(0)));

    // Refusals: bad fields change nothing; another merchant's product is not found.
    let mine = sale.merchant_token.as_str();
    for (body, status, code) in [
        (json!({"price_fen": 0}), 422, "invalid_price"),
        (json!({"title": "  "}), 422, "invalid_field"),
        (json!({"description": "长".repeat(5_001)}), 422, "invalid_field"),
    ] {
        let refused =
            reply(api.client.patch(api.url(&product)).bearer_auth(mine).json(&body).send().await.unwrap())
                .await;
        assert_eq!((refused.status.as_u16(), refused.code()), (status, code), "{body}");
    }
    let other = api.merchant("13600000009").await;
    let theirs = reply(
        api.client
            .patch(api.url(&product))
            .bearer_auth(&other)
            .json(&json!({"title": "mine"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((theirs.status.as_u16(), theirs.code()), (404, "product_not_found"));
    let missing = reply(
        api.client
            .patch(api.url("/api/v1/products/999999"))
            .bearer_auth(mine)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(api.get(&product, None).await.body, stored, "nothing changed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_console_shows_each_role_its_pages_only() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    api.operator_with_role("reviewer1", "reviewer").await;
    api.operator_with_role("finance1", "finance").await;
    let answer = no_redirects().get(api.url("/admin/reviews")).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    assert_eq!(answer.headers()[LOCATION], "/admin/login");

    let sign_in = |username: &'static str| {
        let api = &api;
        async move {
            let body = json!({"username": username, "password": format!("{username}-password-1")});
            page_session(api, "/admin/login", "/admin/session", body, "fs_operator").await
        }
    };
    let reviewer = sign_in("reviewer1").await;
    let finance = sign_in("finance1").await;
    for (cookies, path, status) in [
        (&reviewer, "/admin/reviews", 200),
        (&reviewer, "/admin/merchants", 200),
        (&reviewer, "/admin/withdrawals", 403),
        (&reviewer, "/admin/reconciliation", 403),
        (&reviewer, "/admin/ledger", 403),
        (&finance, "/admin/reviews", 403),
        (&finance, "/admin/merchants", 403),
        (&finance, "/admin/withdrawals", 200),
        (&finance, "/admin/reconciliation", 200),
        (&finance, "/admin/ledger", 200),
    ] {
        assert_eq!(page(&api, path, cookies).await.0, status, "{path}");
    }
    let (_, ledger) = page(&api, "/admin/ledger", &finance).await;
    assert!(ledger.contains("✓ 账本平衡"), "{ledger}");
    let (_, reviews) = page(&api, "/admin/reviews", &reviewer).await;
    assert!(reviews.contains("风控审核") && !reviews.contains(r#"href="/admin/withdrawals""#), "{reviews}");
    // A merchant's cookie is no operator's.
    api.merchant("13600000000").await;
    let merchant = page_session(
        &api,
        "/console/login",
        "/console/session",
        json!({"phone": "13600000000", "password": "password-123"}),
        "fs_merchant",
    )
    .await;
    assert_eq!(page(&api, "/admin/reviews", &merchant.replace("fs_merchant", "fs_operator")).await.0, 303);
    app.stop().await;
}

#[tokio::test]
async fn the_new_sale_form_picks_a_sku_and_the_sale_draws_on_it() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let phone = "13600000071";
    let token = api.merchant(phone).await;
    let tee = api
        .post(
            "/api/v1/products",
            Some(&token),
            json!({
                "title": "纯棉T恤", "product_code": "TEE",
                "specs": [{"name": "颜色", "values": ["白", "黑"]}],
                "skus": [
                    {"code": "W", "values": {"颜色": "白"}, "price_fen": 5_990, "stock": 7},
                    {"code": "B", "values": {"颜色": "黑"}, "price_fen": 5_990, "stock": 9},
                ],
            }),
        )
        .await;
    assert_eq!(tee.status, 201, "{}", tee.body);
    let tee = tee.body["product_id"].as_i64().unwrap();
    let cup = api
        .post("/api/v1/products", Some(&token), json!({"title": "马克杯", "price_fen": 1_990, "stock": 5}))
        .await;
    assert_eq!(cup.status, 201, "{}", cup.body);
    let cup = cup.body["product_id"].as_i64().unwrap();
    let skus = |product: i64| {
        let api = api.clone();
        async move {
            let got = api.get(&format!("/api/v1/products/{product}"), None).await;
            got.body["skus"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["code"].as_str().unwrap().to_owned(),
                        (s["id"].as_i64().unwrap(), s["stock"].as_i64().unwrap()),
                    )
                })
                .collect::<std::collections::BTreeMap<_, _>>()
        }
    };
    let tee_skus = skus(tee).await;
    let (white, black) = (tee_skus["W"].0, tee_skus["B"].0);
    let cup_sku = skus(cup).await["default"].0;

    // The picker offers the first product's SKUs with their stock (the first chosen), and
    // carries the other products' for the script to offer when that product is chosen.
    let cookies = page_session(
        &api,
        "/console/login",
        "/console/session",
        json!({"phone": phone, "password": "password-123"}),
        "fs_merchant",
    )
    .await;
    let (status, html) = page(&api, "/console/sales/new", &cookies).await;
    assert_eq!(status, 200);
    let option = |sku: i64, product: i64, stock: i64| {
        format!(r#"<option value="{sku}" data-product="{product}" data-stock="{stock}""#)
    };
    assert!(html.contains(r#"name="sku_id" data-kind="int" data-follows="product_id""#), "{html}");
    assert!(!html.contains(r#"id="sku-field" hidden"#), "a product of two SKUs shows the picker: {html}");
    assert!(html.contains(&format!("{} selected>颜色 白 · W（库存 7）", option(white, tee, 7))), "{html}");
    assert!(html.contains(&format!("{}>颜色 黑 · B（库存 9）", option(black, tee, 9))), "{html}");
    assert!(
        html.contains(&format!("{} hidden disabled>default（库存 5）", option(cup_sku, cup, 5))),
        "{html}"
    );

    // What the form sends: the chosen SKU's units go into the sale; without one, refused.
    let csrf = cookies.split(';').next().unwrap().trim_start_matches("fs_csrf=").to_owned();
    let now = chrono::Utc::now();
    let create = |sku_id: Option<i64>| {
        let mut body = json!({
            "product_id": tee, "price_fen": 990, "quantity": 4, "per_buyer_limit": 1,
            "payment_window_secs": 900,
            "starts_at": (now + chrono::Duration::minutes(1)).to_rfc3339(),
            "ends_at": (now + chrono::Duration::hours(1)).to_rfc3339(),
        });
        if let Some(sku) = sku_id {
            body["sku_id"] = json!(sku);
        }
        let request = api
            .client
            .post(api.url("/api/v1/flash-sales"))
            .header(COOKIE, &cookies)
            .header("X-Session", "merchant")
            .header("X-CSRF-Token", &csrf)
            .json(&body);
        async move { reply(request.send().await.unwrap()).await }
    };
    let refused = create(None).await;
    assert_eq!((refused.status.as_u16(), refused.code()), (422, "sku_required"));
    let created = create(Some(black)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let after = skus(tee).await;
    assert_eq!((after["W"].1, after["B"].1), (7, 5));
    let (_, html) = page(&api, "/console/sales/new", &cookies).await;
    assert!(html.contains(&format!("{}>颜色 黑 · B（库存 5）", option(black, tee, 5))), "{html}");
    app.stop().await;
}
