//! The fan's pages over HTTP: the share link and its QR codes (the PNG decoded by an
//! independent decoder back to the link), the page's headers and size, the live figure, and
//! the cookie + CSRF path through the API that the page's script takes.

use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{Api, TestDb, reply, spawn_app, test_settings};

/// `name=value` of a `Set-Cookie` the response carries, with the whole header.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|header| {
        let pair = header.split(';').next()?.trim();
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| (value.to_owned(), header.to_owned()))
    })
}

/// The content of `<meta name="csrf-token" content="…">`.
fn meta_csrf(html: &str) -> String {
    let at = html.find(r#"name="csrf-token" content=""#).expect("the page carries a CSRF token");
    let rest = &html[at + r#"name="csrf-token" content=""#.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn gzipped_len(bytes: &[u8]) -> usize {
    gateway::pages::assets::gzip(bytes).len()
}

async fn share_of(api: &Api, merchant: &str, sale: i64) -> Value {
    let shared = api.get(&format!("/api/v1/flash-sales/{sale}/share"), Some(merchant)).await;
    assert_eq!(shared.status, 200, "{}", shared.body);
    shared.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_share_link_and_its_qr_codes_lead_to_the_fans_page() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let sale = api.live_sale(50, 2, 900).await;
    let shared = share_of(&api, &sale.merchant_token, sale.flash_sale_id).await;
    let short_url = shared["short_url"].as_str().unwrap().to_owned();
    let code = short_url.rsplit('/').next().unwrap().to_owned();
    assert_eq!(short_url, format!("{}/s/{code}", api.base));
    assert_eq!(code.len(), 9, "{code}");
    assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()), "{code}");
    assert_ne!(code.trim_start_matches('0'), sale.flash_sale_id.to_string(), "the code is the sale id");
    assert_eq!(shared["qr_png_url"], format!("{short_url}/qr.png"));
    assert_eq!(shared["qr_svg_url"], format!("{short_url}/qr.svg"));

    // Only the sale's merchant is told the link.
    let other = api.merchant("13600000001").await;
    let theirs = api.get(&format!("/api/v1/flash-sales/{}/share", sale.flash_sale_id), Some(&other)).await;
    assert_eq!((theirs.status.as_u16(), theirs.code()), (404, "flash_sale_not_found"));
    let anonymous = api.get(&format!("/api/v1/flash-sales/{}/share", sale.flash_sale_id), None).await;
    assert_eq!(anonymous.status, 401);
    let buyer = api.buyer("13700000001").await;
    let as_buyer = api.get(&format!("/api/v1/flash-sales/{}/share", sale.flash_sale_id), Some(&buyer)).await;
    assert_eq!(as_buyer.status, 403);
    let missing = api.get("/api/v1/flash-sales/999999/share", Some(&sale.merchant_token)).await;
    assert_eq!(missing.status, 404);

    // The PNG, read by a decoder that shares nothing with the encoder, is the link.
    let png = api.client.get(format!("{short_url}/qr.png")).send().await.unwrap();
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()[CONTENT_TYPE], "image/png");
    let picture = image::load_from_memory_with_format(&png.bytes().await.unwrap(), image::ImageFormat::Png)
        .expect("a PNG")
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        picture.width() as usize,
        picture.height() as usize,
        |x, y| picture.get_pixel(x as u32, y as u32).0[0],
    );
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    assert_eq!(content, short_url);

    let svg = api.client.get(format!("{short_url}/qr.svg")).send().await.unwrap();
    assert_eq!(svg.status(), 200);
    assert_eq!(svg.headers()[CONTENT_TYPE], "image/svg+xml");
    let svg = svg.text().await.unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");

    // The page: the sale, its figures, a strict policy; unknown codes are a 404 page.
    let page = api.client.get(&short_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let policy = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(html.contains("口红 lipstick") && html.contains("¥9.90") && html.contains("¥129.00"), "{html}");
    assert!(html.contains(r#"<strong id="available" aria-live="polite">50</strong>"#), "{html}");
    assert!(html.contains("每人限购"));
    assert!(!html.contains("<script>") && !html.contains(" style="), "inline script or style: {html}");
    for bad in ["/s/zzzzzzzzz", "/s/000000000", "/s/short", "/s/zzzzzzzzz/qr.png", "/s/zzzzzzzzz/live"] {
        let answer = api.client.get(api.url(bad)).send().await.unwrap();
        assert_eq!(answer.status(), 404, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_buys_with_its_cookie_only_when_it_sends_its_csrf_token() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let sale = api.live_sale(20, 3, 900).await;
    let short_url = share_of(&api, &sale.merchant_token, sale.flash_sale_id).await["short_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = api.client.get(&short_url).send().await.unwrap();
    let (csrf, csrf_header) = set_cookie(&page, "fs_csrf").expect("the page sets its CSRF cookie");
    assert!(csrf_header.contains("HttpOnly") && csrf_header.contains("SameSite=Strict"), "{csrf_header}");
    let html = page.text().await.unwrap();
    assert_eq!(meta_csrf(&html), csrf);

    let phone = "13700000002";
    let sent = api.post("/api/v1/buyers/codes", None, json!({"phone": phone})).await;
    assert_eq!(sent.status, 202);
    let code = api.sms_code(phone).await;
    let session = |with_header: bool| {
        let mut request = api
            .client
            .post(api.url("/s/session"))
            .header(COOKIE, format!("fs_csrf={csrf}"))
            .json(&json!({"phone": phone, "code": code}));
        if with_header {
            request = request.header("X-CSRF-Token", &csrf);
        }
        request.send()
    };
    let forged = reply(session(false).await.unwrap()).await;
    assert_eq!((forged.status.as_u16(), forged.code()), (403, "csrf_failed"));
    let signed_in = session(true).await.unwrap();
    assert_eq!(signed_in.status(), 200);
    let (token, cookie_header) = set_cookie(&signed_in, "fs_buyer").expect("the buyer cookie");
    assert!(cookie_header.contains("HttpOnly") && cookie_header.contains("SameSite=Lax"), "{cookie_header}");
    let body = reply(signed_in).await;
    assert!(body.body.get("token").is_none(), "the token stays out of the page's reach: {}", body.body);
    let cookies = format!("fs_csrf={csrf}; fs_buyer={token}");

    let order = |csrf_header: Option<&str>, key: &str| {
        let mut request = api
            .client
            .post(api.url(&format!("/api/v1/flash-sales/{}/orders", sale.flash_sale_id)))
            .header(COOKIE, &cookies)
            .header("Idempotency-Key", key)
            .json(&json!({"quantity": 2}));
        if let Some(value) = csrf_header {
            request = request.header("X-CSRF-Token", value);
        }
        request.send()
    };
    for wrong in [None, Some("0123456789abcdef0123456789abcdef")] {
        let refused = reply(order(wrong, "page-key-1").await.unwrap()).await;
        assert_eq!((refused.status.as_u16(), refused.code()), (403, "csrf_failed"));
    }
    assert_eq!(api.counts(sale.flash_sale_id).await.0, 20, "a refused request changed nothing");
    let placed = reply(order(Some(&csrf), "page-key-1").await.unwrap()).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    // The buy button's retry sends the same key: the same order, not a second one.
    let again = reply(order(Some(&csrf), "page-key-1").await.unwrap()).await;
    assert_eq!(again.bytes, placed.bytes);

    let order_id = placed.body["order_id"].as_i64().unwrap();
    let read = api
        .client
        .get(api.url(&format!("/api/v1/orders/{order_id}")))
        .header(COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(reply(read).await.body["state"], "pending_payment");

    let live: Value = api.client.get(format!("{short_url}/live")).send().await.unwrap().json().await.unwrap();
    assert_eq!((live["available"].as_i64(), live["state"].as_str()), (Some(18), Some("live")));

    // The order's page, the sale's page, its stylesheet and its script: within 60 KB gzipped.
    let order_page = api.client.get(format!("{short_url}/o/{order_id}")).send().await.unwrap();
    assert_eq!(order_page.status(), 200);
    let mut total = gzipped_len(html.as_bytes());
    for asset in ["app.css", "fan.js"] {
        let answer = api.client.get(api.url(&format!("/assets/{asset}"))).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{asset}");
        total += gzipped_len(&answer.bytes().await.unwrap());
    }
    println!("fan page, stylesheet and script: {total} bytes gzipped");
    assert!(total <= 60 * 1024, "{total} bytes gzipped");
}

/// A phone pays at Alipay's WAP cashier, which sends it back to the order's page (the signed
/// `return_url`, also the cashier's `quit_url`); a desk is shown the channel's scan-to-pay link
/// as a QR code, and only such links are drawn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cashier_returns_to_the_order_page_and_a_desk_gets_the_payment_qr_code() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let sale = api.live_sale(20, 3, 900).await;
    let buyer = api.buyer("13700000031").await;
    let placed = api.order(sale.flash_sale_id, &buyer, "return-1", 1).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let order_id = placed.body["order_id"].as_i64().unwrap();
    let back = format!("{}/s/anycode/o/{order_id}", api.base);
    api.set_address(order_id, &buyer).await;

    let created = api
        .post(
            &format!("/api/v1/orders/{order_id}/payments"),
            Some(&buyer),
            json!({"channel": "alipay", "method": "wap", "return_url": back}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let pay_url = reqwest::Url::parse(created.body["pay_url"].as_str().unwrap()).unwrap();
    let param = |name: &str| pay_url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    assert_eq!(param("return_url").as_deref(), Some(back.as_str()));
    let biz: Value = serde_json::from_str(&param("biz_content").unwrap()).unwrap();
    assert_eq!(biz["quit_url"], back.as_str());

    // The cashier takes the signed request (return_url included in what is signed) and, once
    // paid, sends the browser back to the order's page.
    let cashier = api.client.get(pay_url.clone()).send().await.unwrap();
    assert_eq!(cashier.status(), 200);
    assert!(cashier.text().await.unwrap().contains(&format!("name=return_to value=\"{back}\"")));
    let no_redirects =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let out_trade_no = created.body["out_trade_no"].as_str().unwrap();
    let paid = no_redirects
        .post(api.url("/sandbox/alipay/pay-form"))
        .form(&[("out_trade_no", out_trade_no), ("return_to", back.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    assert_eq!(paid.headers()["location"].to_str().unwrap(), back);

    // A desk's QR code: drawn for the channels' scan-to-pay links, refused for anything else.
    for link in ["weixin://wxpay/bizpayurl?pr=FS1W", "https://qr.alipay.com/sandboxFS1A"] {
        let mut url = reqwest::Url::parse(&api.url("/pay/qr.svg")).unwrap();
        url.query_pairs_mut().append_pair("u", link);
        let qr = api.client.get(url).send().await.unwrap();
        assert_eq!(qr.status(), 200, "{link}");
        assert_eq!(qr.headers()[CONTENT_TYPE], "image/svg+xml");
        assert!(qr.text().await.unwrap().contains("<svg"), "{link}");
    }
    for link in ["https://evil.example/pay", "javascript:alert(1)", ""] {
        let mut url = reqwest::Url::parse(&api.url("/pay/qr.svg")).unwrap();
        url.query_pairs_mut().append_pair("u", link);
        let refused = reply(api.client.get(url).send().await.unwrap()).await;
        assert_eq!((refused.status.as_u16(), refused.code()), (400, "invalid_payment_link"), "{link}");
    }
    app.stop().await;
}
