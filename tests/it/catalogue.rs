//! The catalogue: products with specs and SKUs, a flash sale per SKU whose unsold units go back
//! to that SKU exactly once (also across kill -9), bulk import of 10,000 rows as CSV and XLSX,
//! the banned-word check at listing, and the operators' review queue.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use engine::notification::NoticeKind;

use crate::helpers::{
    Api, ChildServer, Reply, TestDb, client, code_caps_off_env, eventually, reply, spawn_app, test_settings,
    texts_of_kind,
};

const COLOURS: [&str; 3] = ["红", "蓝", "白"];
const SIZES: [&str; 3] = ["S", "M", "L"];

/// A 3 × 3 product of `stock` units per SKU; its id and SKU ids by code.
async fn three_by_three(api: &Api, token: &str, stock: i64) -> (i64, BTreeMap<String, i64>) {
    let skus: Vec<Value> = COLOURS
        .iter()
        .enumerate()
        .flat_map(|(c, colour)| {
            SIZES.iter().map(move |size| {
                json!({"code": format!("C{c}-{size}"), "values": {"颜色": colour, "尺码": size}, "price_fen": 5_990, "stock": stock, "low_stock_threshold": 5})
            })
        })
        .collect();
    let created = api
        .post(
            "/api/v1/products",
            Some(token),
            json!({
                "title": "纯棉T恤",
                "product_code": "TEE-3X3",
                "description": "夏季新款",
                "specs": [{"name": "颜色", "values": COLOURS}, {"name": "尺码", "values": SIZES}],
                "skus": skus,
                "after_sales": {"no_reason_returns": true, "return_shipping": "seller"},
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["status"], "listed");
    let id = created.body["product_id"].as_i64().unwrap();
    let product = api.get(&format!("/api/v1/products/{id}"), None).await;
    let skus = product.body["skus"].as_array().unwrap();
    assert_eq!(skus.len(), 9);
    (id, skus.iter().map(|s| (s["code"].as_str().unwrap().to_owned(), s["id"].as_i64().unwrap())).collect())
}

async fn sku_stocks(api: &Api, product: i64) -> BTreeMap<String, i64> {
    let got = api.get(&format!("/api/v1/products/{product}"), None).await;
    assert_eq!(got.status, 200, "{}", got.body);
    got.body["skus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["code"].as_str().unwrap().to_owned(), s["stock"].as_i64().unwrap()))
        .collect()
}

fn child_env(db: &TestDb) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("FLASHSALE__DATABASE__URL", db.url.clone()),
        ("FLASHSALE__DEMO__SEED", "false".into()),
        ("FLASHSALE__ADMISSION__PER_IP_PER_SEC", "0".into()),
        ("FLASHSALE__ADMISSION__MAX_UNPAID_ORDERS_PER_NETWORK", "0".into()),
        ("FLASHSALE__ADMISSION__MAX_UNPAID_ORDERS_PER_BUYER", "0".into()),
        ("FLASHSALE__ADMISSION__PER_BUYER_PER_SEC", "0".into()),
        ("FLASHSALE__SERVER__WORKERS", "2".into()),
        ("FLASHSALE__LOG__LEVEL", "warn".into()),
        ("FLASHSALE__CATALOGUE__UNSOLD_RETURN_INTERVAL_MS", "100".into()),
        ("FLASHSALE__CATALOGUE__UNSOLD_RETURN_GRACE_MS", "200".into()),
    ];
    env.extend(code_caps_off_env());
    env
}

const SKU_STOCK: i64 = 50;
const SALE_UNITS: i64 = 20;
const PAID_PER_SALE: usize = 5;
const FANS: u64 = 45;

/// Nine sales, one per SKU of a 3 × 3 product, stormed at once: each sells exactly its units.
/// Five orders of each are paid and the rest expire; when the sales end their unsold units go
/// back to their own SKU, once, although the server is killed with SIGKILL as they end and
/// started again twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sku_storms_each_sell_exactly_and_unsold_units_return_once() {
    let db = TestDb::new().await;
    let mut server = ChildServer::start(db.dir(), &child_env(&db));
    let api = Api { base: server.base.clone(), client: client() };
    let merchant = api.merchant("13700000001").await;
    let (product, skus) = three_by_three(&api, &merchant, SKU_STOCK).await;
    let fans = Arc::new(api.buyers(13_500_000_000, FANS, 32).await);

    let now = chrono::Utc::now();
    let ends_at = now + chrono::Duration::seconds(40);
    let mut sales: Vec<(String, i64)> = Vec::new();
    for (code, sku) in &skus {
        let sale = api
            .post(
                "/api/v1/flash-sales",
                Some(&merchant),
                json!({
                    "product_id": product,
                    "sku_id": sku,
                    "price_fen": 990,
                    "quantity": SALE_UNITS,
                    "per_buyer_limit": 1,
                    "starts_at": (now - chrono::Duration::seconds(1)).to_rfc3339(),
                    "ends_at": ends_at.to_rfc3339(),
                    "payment_window_secs": 20,
                }),
            )
            .await;
        assert_eq!(sale.status, 201, "{}", sale.body);
        sales.push((code.clone(), sale.body["flash_sale_id"].as_i64().unwrap()));
    }
    // A product of several SKUs needs one named.
    let unnamed = api
        .post(
            "/api/v1/flash-sales",
            Some(&merchant),
            json!({"product_id": product, "price_fen": 990, "quantity": 1, "per_buyer_limit": 1,
                   "starts_at": now.to_rfc3339(), "ends_at": ends_at.to_rfc3339(), "payment_window_secs": 60}),
        )
        .await;
    assert_eq!((unnamed.status, unnamed.code()), (StatusCode::UNPROCESSABLE_ENTITY, "sku_required"));
    let before = sku_stocks(&api, product).await;
    assert!(before.values().all(|s| *s == SKU_STOCK - SALE_UNITS), "{before:?}");

    // Nine storms at once: every fan asks every sale for one unit.
    let mut tasks = tokio::task::JoinSet::new();
    for (_, sale) in &sales {
        for fan in 0..FANS as usize {
            let (api, fans, sale) = (api.clone(), fans.clone(), *sale);
            tasks.spawn(async move {
                let placed = api.order(sale, &fans[fan], &format!("sku-{sale}-{fan}"), 1).await;
                (sale, fan, placed.status.as_u16(), placed.body["order_id"].as_i64())
            });
        }
    }
    let mut won: HashMap<i64, Vec<(usize, i64)>> = HashMap::new();
    while let Some(done) = tasks.join_next().await {
        let (sale, fan, status, order) = done.unwrap();
        assert!(matches!(status, 201 | 409), "unexpected {status}");
        if status == 201 {
            won.entry(sale).or_default().push((fan, order.unwrap()));
        }
    }
    for (code, sale) in &sales {
        assert_eq!(won[sale].len(), SALE_UNITS as usize, "sale of {code}: every unit once");
        assert_eq!(api.counts(*sale).await, (0, SALE_UNITS, 0, SALE_UNITS), "sale of {code}");
    }

    // Some orders of each sale are paid; the others' holds expire.
    for (_, sale) in &sales {
        for (fan, order) in won[sale].iter().take(PAID_PER_SALE) {
            let payment = api.create_payment(*order, &fans[*fan], "wechat").await;
            let pay = &payment["sandbox_pay"];
            let paid = api.client.post(pay["url"].as_str().unwrap()).json(&pay["body"]).send().await.unwrap();
            assert_eq!(paid.status(), 200);
        }
    }
    for (code, sale) in &sales {
        let sale = *sale;
        eventually(&format!("sale of {code}: paid and expired"), || {
            let api = api.clone();
            async move {
                api.counts(sale).await
                    == (SALE_UNITS - PAID_PER_SALE as i64, 0, PAID_PER_SALE as i64, SALE_UNITS)
            }
        })
        .await;
    }
    // Nothing goes back before the end.
    assert_eq!(sku_stocks(&api, product).await, before);

    // Killed as the sales end, while the sweep gives their units back.
    let end = ends_at + chrono::Duration::milliseconds(250);
    let wait = (end - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    server.kill_9();
    drop(server);

    let expected: BTreeMap<String, i64> = before
        .iter()
        .map(|(code, stock)| (code.clone(), stock + SALE_UNITS - PAID_PER_SALE as i64))
        .collect();
    for round in 0..2 {
        let mut server = ChildServer::start(db.dir(), &child_env(&db));
        let api = Api { base: server.base.clone(), client: client() };
        for (code, sale) in &sales {
            let sale = *sale;
            eventually(&format!("round {round}: sale of {code} gave its unsold units back"), || {
                let api = api.clone();
                async move {
                    let got = api.get(&format!("/api/v1/flash-sales/{sale}"), None).await;
                    got.body["unsold_returned"].as_i64() == Some(SALE_UNITS - PAID_PER_SALE as i64)
                }
            })
            .await;
            let got = api.get(&format!("/api/v1/flash-sales/{sale}"), None).await;
            assert_eq!(got.body["sku_id"], skus[code], "sale of {code}");
        }
        // Each SKU: before − sold, whichever SKU, after a crash and after a restart.
        assert_eq!(sku_stocks(&api, product).await, expected, "round {round}");
        let got = api.get(&format!("/api/v1/products/{product}"), None).await;
        assert_eq!(got.body["stock"], expected.values().sum::<i64>());
        assert_eq!(got.body["status"], "listed");
        server.kill_9();
    }
    use persistence::entities::sale_sku;
    let rows = sale_sku::Entity::find().all(&db.connect().await).await.unwrap();
    assert_eq!(rows.len(), 9);
    assert!(
        rows.iter()
            .all(|r| r.returned_at.is_some() && r.unsold_returned == Some(SALE_UNITS - PAID_PER_SALE as i64))
    );
}

// ---- import -------------------------------------------------------------------------------

const HEADER: [&str; 10] = [
    "product_code",
    "title",
    "description",
    "sku_code",
    "specs",
    "price",
    "stock",
    "low_stock_threshold",
    "no_reason_returns",
    "return_shipping",
];

/// 10,000 rows: 2,500 products of four SKUs, with 50 rows broken in ten ways (at most one per
/// product); the rows and the `(row, column)` of each broken one.
fn import_rows() -> (Vec<Vec<String>>, Vec<(usize, &'static str)>) {
    let mut rows: Vec<Vec<String>> = vec![HEADER.iter().map(|h| (*h).to_owned()).collect()];
    for p in 0..2_500 {
        for (i, (colour, size)) in [("黑", "M"), ("黑", "L"), ("白", "M"), ("白", "L")].iter().enumerate()
        {
            rows.push(
                [
                    format!("P{p:05}"),
                    format!("短袖T恤 {p}"),
                    "纯棉".to_owned(),
                    format!("P{p:05}-{i}"),
                    format!("颜色={colour};尺码={size}"),
                    "59.90".to_owned(),
                    format!("{}", 10 + i),
                    "3".to_owned(),
                    "是".to_owned(),
                    "buyer".to_owned(),
                ]
                .to_vec(),
            );
        }
    }
    let mut bad = Vec::new();
    for k in 0..50 {
        // Product 50k + 7, its SKU k % 4 (the duplicate kind takes the SKU after the first).
        let product = 50 * k + 7;
        let kind = k % 10;
        let sku = if kind == 9 { 1 + k % 3 } else { k % 4 };
        let row = 1 + product * 4 + sku; // index in `rows`; the spreadsheet's number is +1
        let cells = &mut rows[row];
        let column = match kind {
            0 => {
                cells[5] = "abc".into();
                "price"
            }
            1 => {
                cells[6] = "-5".into();
                "stock"
            }
            2 => {
                cells[1] = String::new();
                "title"
            }
            3 => {
                cells[0] = "P 1".into();
                "product_code"
            }
            4 => {
                cells[4] = "颜色黑;尺码=M".into();
                "specs"
            }
            5 => {
                cells[8] = "maybe".into();
                "no_reason_returns"
            }
            6 => {
                cells[9] = "free".into();
                "return_shipping"
            }
            7 => {
                cells[5] = "1.234".into();
                "price"
            }
            8 => {
                cells[7] = "x".into();
                "low_stock_threshold"
            }
            _ => {
                cells[3] = format!("P{product:05}-0");
                "sku_code"
            }
        };
        bad.push((row + 1, column));
    }
    bad.sort();
    (rows, bad)
}

fn csv_of(rows: &[Vec<String>]) -> Vec<u8> {
    rows.iter().map(|r| r.join(",")).collect::<Vec<_>>().join("\n").into_bytes()
}

/// A multipart body of one file field.
fn multipart(name: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----catalogue-test-boundary-7f3a";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(api: &Api, path: &str, token: &str, name: &str, content_type: &str, bytes: &[u8]) -> Reply {
    let (header, body) = multipart(name, content_type, bytes);
    reply(
        api.client
            .post(api.url(path))
            .bearer_auth(token)
            .header("Content-Type", header)
            .body(body)
            .send()
            .await
            .expect("request sent"),
    )
    .await
}

async fn merchant_counts(db: &sea_orm::DatabaseConnection, merchant: i64) -> (u64, u64, u64) {
    use persistence::entities::{product, product_revision, product_sku};
    let products =
        product::Entity::find().filter(product::Column::MerchantId.eq(merchant)).count(db).await.unwrap();
    let skus = product_sku::Entity::find()
        .filter(product_sku::Column::MerchantId.eq(merchant))
        .count(db)
        .await
        .unwrap();
    let ids: Vec<i64> = product::Entity::find()
        .filter(product::Column::MerchantId.eq(merchant))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    let mut revisions = 0;
    for chunk in ids.chunks(500) {
        revisions += product_revision::Entity::find()
            .filter(product_revision::Column::ProductId.is_in(chunk.to_vec()))
            .count(db)
            .await
            .unwrap();
    }
    (products, skus, revisions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_of_10000_rows_as_csv_and_xlsx_takes_exactly_the_good_rows_once() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let conn = db.connect().await;
    let (rows, bad) = import_rows();
    assert_eq!(rows.len(), 10_001);
    let files = [
        ("13700000011", "products.csv", "text/csv", csv_of(&rows)),
        (
            "13700000012",
            "products.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            workflows::catalogue::import::xlsx_of(&rows).unwrap(),
        ),
    ];
    for (phone, name, content_type, bytes) in files {
        let token = api.merchant(phone).await;
        let merchant =
            api.get("/api/v1/merchants/me/balance", Some(&token)).await.body["merchant_id"].as_i64().unwrap();

        // The dry run reports every bad row and writes nothing.
        let dry =
            upload(&api, "/api/v1/products/import?dry_run=true", &token, name, content_type, &bytes).await;
        assert_eq!(dry.status, 200, "{name}: {}", dry.body);
        let faults: Vec<(usize, &str)> = dry.body["faults"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["row"].as_u64().unwrap() as usize, f["column"].as_str().unwrap()))
            .collect();
        assert_eq!(faults, bad, "{name}: every bad row, with its row and column, and nothing else");
        assert_eq!(
            (dry.body["rows"].as_u64(), dry.body["good_rows"].as_u64(), dry.body["bad_rows"].as_u64()),
            (Some(10_000), Some(9_950), Some(50))
        );
        assert!(dry.body["imported"].is_null());
        assert_eq!(merchant_counts(&conn, merchant).await, (0, 0, 0), "{name}: a dry run writes nothing");

        // The apply writes every good row and no bad one.
        let started = std::time::Instant::now();
        let applied = upload(&api, "/api/v1/products/import", &token, name, content_type, &bytes).await;
        eprintln!("import of {name}: 10,000 rows applied in {:?}", started.elapsed());
        assert_eq!(applied.status, 200, "{name}: {}", applied.body);
        assert_eq!(
            applied.body["imported"],
            json!({"products_created": 2500, "products_updated": 0, "products_unchanged": 0, "skus_created": 9950, "skus_updated": 0}),
            "{name}"
        );
        assert_eq!(merchant_counts(&conn, merchant).await, (2_500, 9_950, 2_500), "{name}");

        // A bad row's SKU is not there; its product's other SKUs are.
        let broken_product = format!("P{:05}", 7);
        use persistence::entities::{product, product_sku};
        let p = product::Entity::find()
            .filter(product::Column::MerchantId.eq(merchant))
            .filter(product::Column::ProductCode.eq(broken_product.clone()))
            .one(&conn)
            .await
            .unwrap()
            .unwrap();
        let mut codes: Vec<String> = product_sku::Entity::find()
            .filter(product_sku::Column::ProductId.eq(p.id))
            .all(&conn)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.code)
            .collect();
        codes.sort();
        assert_eq!(
            codes,
            [format!("{broken_product}-1"), format!("{broken_product}-2"), format!("{broken_product}-3")]
        );
        assert_eq!((p.stock, p.status.as_str()), (11 + 12 + 13, "listed"));

        // The same file again changes nothing.
        let again = upload(&api, "/api/v1/products/import", &token, name, content_type, &bytes).await;
        assert_eq!(again.status, 200, "{name}: {}", again.body);
        assert_eq!(
            again.body["imported"],
            json!({"products_created": 0, "products_updated": 0, "products_unchanged": 2500, "skus_created": 0, "skus_updated": 0}),
            "{name}"
        );
        assert_eq!(
            merchant_counts(&conn, merchant).await,
            (2_500, 9_950, 2_500),
            "{name}: nothing written twice"
        );
    }

    // The templates read back as they are.
    for format in ["csv", "xlsx"] {
        let template = api.get(&format!("/api/v1/products/import/template?format={format}"), None).await;
        assert_eq!(template.status, 200);
        let token = api.merchant(&format!("1370000002{}", format.len())).await;
        let name = format!("template.{format}");
        let checked = upload(
            &api,
            "/api/v1/products/import?dry_run=true",
            &token,
            &name,
            "application/octet-stream",
            &template.bytes,
        )
        .await;
        assert_eq!(
            (checked.body["good_rows"].as_u64(), checked.body["bad_rows"].as_u64()),
            (Some(3), Some(0)),
            "{}",
            checked.body
        );
    }
    app.stop().await;
}

// ---- the banned-word check and the review queue -----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn banned_words_hidden_by_full_width_letters_and_spaces_are_caught_at_listing() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.catalogue.banned_words_action = workflows::catalogue::BannedAction::Reject;
    let app = spawn_app(settings).await;
    let api = app.api();
    let token = api.merchant("13700000031").await;
    let hidden: [(&str, &[&str]); 6] = [
        ("全网最低 面膜", &["全网最低"]),
        ("全 网 最 低 面膜", &["全网最低"]),
        ("ＮＯ．１ 口红", &["NO.1"]),
        ("国\u{3000}家\u{3000}级 茶叶", &["国家级"]),
        ("顶\u{200B}级牛排 第*一品牌", &["顶级", "第一品牌"]),
        ("ｔｏｐ 1 面霜", &["TOP1"]),
    ];
    for (title, words) in hidden {
        let refused = api
            .post("/api/v1/products", Some(&token), json!({"title": title, "price_fen": 100, "stock": 1}))
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "banned_words"),
            "{title:?}: {}",
            refused.body
        );
        assert_eq!(refused.body["error"]["words"], json!(words), "{title:?}");
    }
    // In a description and a spec name too.
    let in_description = api
        .post(
            "/api/v1/products",
            Some(&token),
            json!({"title": "面膜", "description": "药 到 病 除", "price_fen": 100, "stock": 1}),
        )
        .await;
    assert_eq!(in_description.code(), "banned_words");
    let in_spec = api
        .post(
            "/api/v1/products",
            Some(&token),
            json!({"title": "面膜", "specs": [{"name": "极品规格", "values": ["大"]}],
                   "skus": [{"code": "A", "values": {"极品规格": "大"}, "price_fen": 100, "stock": 1}]}),
        )
        .await;
    assert_eq!(in_spec.code(), "banned_words", "{}", in_spec.body);
    // Clean titles pass, listed at once.
    for title in ["纯棉短袖T恤 夏季新款", "最近上新的连衣裙", "第二件半价", "100g 装 坚果"]
    {
        let listed = api
            .post("/api/v1/products", Some(&token), json!({"title": title, "price_fen": 100, "stock": 1}))
            .await;
        assert_eq!(
            (listed.status, listed.body["status"].as_str()),
            (StatusCode::CREATED, Some("listed")),
            "{title:?}: {}",
            listed.body
        );
    }
    // An edit that hides a word is caught as well.
    let listed = api
        .post("/api/v1/products", Some(&token), json!({"title": "面霜", "price_fen": 100, "stock": 1}))
        .await;
    let id = listed.body["product_id"].as_i64().unwrap();
    let edited = api
        .client
        .patch(api.url(&format!("/api/v1/products/{id}")))
        .bearer_auth(&token)
        .json(&json!({"title": "面霜 Ｎｏ.1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), 422);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_queue_holds_banned_products_until_an_operator_decides() {
    let db = TestDb::new().await;
    let app = spawn_app(test_settings(&db)).await;
    let api = app.api();
    let token = api.merchant("13700000041").await;
    let held = api
        .post(
            "/api/v1/products",
            Some(&token),
            json!({"title": "国 家 级 好茶", "price_fen": 100, "stock": 5}),
        )
        .await;
    assert_eq!(
        (held.status, held.body["status"].as_str()),
        (StatusCode::CREATED, Some("under_review")),
        "{}",
        held.body
    );
    let held = held.body["product_id"].as_i64().unwrap();
    let other = api
        .post(
            "/api/v1/products",
            Some(&token),
            json!({"title": "祖传秘方 药膏", "price_fen": 100, "stock": 5}),
        )
        .await;
    let other = other.body["product_id"].as_i64().unwrap();
    let clean = api
        .post("/api/v1/products", Some(&token), json!({"title": "好茶", "price_fen": 100, "stock": 5}))
        .await;
    assert_eq!(clean.body["status"], "listed");

    // Not on sale while under review.
    let now = chrono::Utc::now();
    let sale = |product: i64| {
        json!({"product_id": product, "price_fen": 90, "quantity": 1, "per_buyer_limit": 1,
               "starts_at": now.to_rfc3339(), "ends_at": (now + chrono::Duration::hours(1)).to_rfc3339(), "payment_window_secs": 600})
    };
    let refused = api.post("/api/v1/flash-sales", Some(&token), sale(held)).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "product_not_listed"));
    // Nor can the merchant list it itself.
    let listing =
        api.post(&format!("/api/v1/products/{held}/status"), Some(&token), json!({"status": "listed"})).await;
    assert_eq!((listing.status, listing.code()), (StatusCode::CONFLICT, "invalid_transition"));

    // Finance may not decide; a reviewer sees the queue, oldest first.
    let finance = api.operator_with_role("cashier", "finance").await;
    assert_eq!(api.get("/api/v1/operator/product-reviews", Some(&finance)).await.status, 403);
    let reviewer = api.operator_with_role("censor", "reviewer").await;
    let queue = api.get("/api/v1/operator/product-reviews", Some(&reviewer)).await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    let ids: Vec<i64> =
        queue.body["products"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [held, other]);
    assert_eq!(queue.body["products"][0]["status_reason"], "banned words: 国家级");

    let no_reason = api
        .post(
            &format!("/api/v1/operator/product-reviews/{other}"),
            Some(&reviewer),
            json!({"decision": "reject"}),
        )
        .await;
    assert_eq!(no_reason.code(), "reason_required");
    let approved = api
        .post(
            &format!("/api/v1/operator/product-reviews/{held}"),
            Some(&reviewer),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(
        (approved.status, approved.body["status"].as_str()),
        (StatusCode::OK, Some("listed")),
        "{}",
        approved.body
    );
    let rejected = api
        .post(
            &format!("/api/v1/operator/product-reviews/{other}"),
            Some(&reviewer),
            json!({"decision": "reject", "reason": "医疗用语"}),
        )
        .await;
    assert_eq!(rejected.body["status"], "delisted");
    assert_eq!(rejected.body["status_reason"], "rejected: 医疗用语");
    let twice = api
        .post(
            &format!("/api/v1/operator/product-reviews/{held}"),
            Some(&reviewer),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((twice.status, twice.code()), (StatusCode::CONFLICT, "not_under_review"));
    assert_eq!(
        api.get("/api/v1/operator/product-reviews", Some(&reviewer)).await.body["products"],
        json!([])
    );

    // Approved, it sells; both decisions are in the audit log.
    assert_eq!(api.post("/api/v1/flash-sales", Some(&token), sale(held)).await.status, 201);
    let admin = api.operator().await;
    for (action, target) in [("product_review_approved", held), ("product_review_rejected", other)] {
        let audit = api.get(&format!("/api/v1/operator/audit?action={action}"), Some(&admin)).await;
        let entries = audit.body["entries"].as_array().unwrap_or_else(|| panic!("{}", audit.body));
        assert_eq!(entries.len(), 1, "{action}: {}", audit.body);
        assert_eq!(entries[0]["target"], format!("product:{target}"));
        assert_eq!(entries[0]["username"], "censor");
    }
    app.stop().await;
}

// ---- the editor: pictures, revisions, low stock, sold out ---------------------------------

fn png(width: u32, height: u32) -> Vec<u8> {
    let picture =
        image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pictures_revisions_low_stock_and_sold_out_relisting() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.catalogue.images_dir = db.dir().join("products").display().to_string();
    settings.catalogue.images_per_product = 3;
    settings.catalogue.image_max_bytes = 2_000_000;
    let app = spawn_app(settings).await;
    let api = app.api();
    let token = api.merchant("13700000051").await;
    let (product, skus) = three_by_three(&api, &token, 6).await;

    // Pictures: kept in upload order, thumbnails made, type and size checked, at most three.
    let not_image = upload(
        &api,
        &format!("/api/v1/products/{product}/images"),
        &token,
        "a.gif",
        "image/gif",
        b"GIF89a....",
    )
    .await;
    assert_eq!(
        (not_image.status, not_image.code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let mut ids = Vec::new();
    for (w, h) in [(800, 600), (300, 900), (50, 50)] {
        let added = upload(
            &api,
            &format!("/api/v1/products/{product}/images"),
            &token,
            "p.png",
            "image/png",
            &png(w, h),
        )
        .await;
        assert_eq!(added.status, 201, "{}", added.body);
        assert_eq!(
            (added.body["width"].as_u64(), added.body["height"].as_u64()),
            (Some(u64::from(w)), Some(u64::from(h)))
        );
        ids.push(added.body["id"].as_i64().unwrap());
    }
    let thumb = api.get(&format!("/api/v1/product-images/{}?size=thumb", ids[0]), None).await;
    assert_eq!(thumb.status, 200);
    let thumb = image::load_from_memory(&thumb.bytes).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (240, 180));
    let full = api.get(&format!("/api/v1/product-images/{}", ids[1]), None).await;
    assert_eq!(full.bytes, png(300, 900));
    let fourth = upload(
        &api,
        &format!("/api/v1/products/{product}/images"),
        &token,
        "p.png",
        "image/png",
        &png(10, 10),
    )
    .await;
    assert_eq!(fourth.code(), "too_many_images");
    let reordered = api
        .put_json(
            &format!("/api/v1/products/{product}/images/order"),
            &token,
            json!({"image_ids": [ids[2], ids[0], ids[1]]}),
        )
        .await;
    assert_eq!(reordered.status, 200, "{}", reordered.body);
    let order: Vec<i64> =
        reordered.body["images"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(order, [ids[2], ids[0], ids[1]]);

    // Each edit is a revision.
    let edited = api
        .client
        .patch(api.url(&format!("/api/v1/products/{product}")))
        .bearer_auth(&token)
        .json(&json!({"title": "纯棉T恤 新款", "after_sales": {"no_reason_returns": false, "return_shipping": "insurance"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), 200);
    let revisions = api.get(&format!("/api/v1/products/{product}/revisions"), Some(&token)).await;
    let revisions = revisions.body["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(
        (revisions[0]["revision"].as_i64(), revisions[0]["product"]["title"].as_str()),
        (Some(2), Some("纯棉T恤 新款"))
    );
    assert_eq!(revisions[1]["product"]["title"], "纯棉T恤");
    assert_eq!(revisions[0]["product"]["return_shipping"], "insurance");

    // Low stock: at or under the threshold (5) is a warning.
    let sku = skus["C0-S"];
    let lowered = api
        .client
        .patch(api.url(&format!("/api/v1/products/{product}/skus/{sku}")))
        .bearer_auth(&token)
        .json(&json!({"stock": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(lowered.status(), 200);
    let low = api.get("/api/v1/products/low-stock", Some(&token)).await;
    let low: Vec<&str> =
        low.body["skus"].as_array().unwrap().iter().map(|s| s["code"].as_str().unwrap()).collect();
    assert_eq!(low, ["C0-S"]);
    // The merchant is told by text, once per crossing: lower still is not a second warning.
    let phone = "13700000051";
    let sku_patch = |id: i64, body: Value| {
        let request =
            api.client.patch(api.url(&format!("/api/v1/products/{product}/skus/{id}"))).bearer_auth(&token);
        async move { request.json(&body).send().await.unwrap().status() }
    };
    assert_eq!(sku_patch(sku, json!({"stock": 3})).await, 200);
    let warned = texts_of_kind(&app, phone, NoticeKind::LowStock).await;
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        ["纯棉T恤 新款", "C0-S", "仅剩4件", "预警值5"].iter().all(|part| warned[0].contains(part)),
        "{}",
        warned[0]
    );

    // Stock 0 everywhere: delisted as sold out; restocked: listed again by itself.
    for id in skus.values() {
        let zero = api
            .client
            .patch(api.url(&format!("/api/v1/products/{product}/skus/{id}")))
            .bearer_auth(&token)
            .json(&json!({"stock": 0}))
            .send()
            .await
            .unwrap();
        assert_eq!(zero.status(), 200);
    }
    let got = api.get(&format!("/api/v1/products/{product}"), None).await;
    assert_eq!(
        (got.body["status"].as_str(), got.body["status_reason"].as_str(), got.body["stock"].as_i64()),
        (Some("delisted"), Some("sold_out"), Some(0))
    );
    // The eight others crossed now, each told once; C0-S was low already.
    let warned = texts_of_kind(&app, phone, NoticeKind::LowStock).await;
    assert_eq!(warned.len(), 9, "{warned:?}");
    for code in skus.keys() {
        assert_eq!(warned.iter().filter(|t| t.contains(code.as_str())).count(), 1, "{code}: {warned:?}");
    }
    let restock = api
        .client
        .patch(api.url(&format!("/api/v1/products/{product}/skus/{sku}")))
        .bearer_auth(&token)
        .json(&json!({"stock": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(restock.status(), 200);
    let got = api.get(&format!("/api/v1/products/{product}"), None).await;
    assert_eq!((got.body["status"].as_str(), got.body["stock"].as_i64()), (Some("listed"), Some(30)));

    // A merchant's delisting is not undone by a restock.
    let delisted = api
        .post(&format!("/api/v1/products/{product}/status"), Some(&token), json!({"status": "delisted"}))
        .await;
    assert_eq!(delisted.body["status"], "delisted");
    api.client
        .patch(api.url(&format!("/api/v1/products/{product}/skus/{sku}")))
        .bearer_auth(&token)
        .json(&json!({"stock": 31}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.get(&format!("/api/v1/products/{product}"), None).await.body["status"], "delisted");

    // Restocked above the threshold, C0-S is armed again: falling under it again is told again.
    assert_eq!(sku_patch(sku, json!({"stock": 2})).await, 200);
    let warned = texts_of_kind(&app, phone, NoticeKind::LowStock).await;
    assert_eq!(warned.len(), 10, "{warned:?}");
    assert_eq!(warned.iter().filter(|t| t.contains("C0-S")).count(), 2, "{warned:?}");
    assert!(warned[0].contains("C0-S") && warned[0].contains("仅剩2件"), "newest first: {}", warned[0]);
    app.stop().await;
}
