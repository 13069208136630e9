//! What the workflow tests share: a database of the test's own (SQLite, or a fresh Postgres
//! database when `TEST_DATABASE_URL` is set, as the integration suite picks them) and a
//! merchant with a live sale to hang orders on.

use engine::{Fen, FlashSaleId, MerchantId, Phone, ProductId, SaleTerms, Timestamp};
use persistence::{DatabaseConnection, repo};
use sea_orm::{ConnectionTrait as _, Database};

pub const START_MS: i64 = 1_764_000_000_000;

/// A database of the test's own, dropped with it.
pub struct TestDb {
    pub url: String,
    _dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        match std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            None => Self {
                url: format!("sqlite://{}/outbox.db", dir.path().display()),
                _dir: dir,
                postgres: None,
            },
            Some(admin_url) => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos();
                let name = format!("flashsale_outbox_{}_{nanos}", std::process::id());
                let admin = Database::connect(&admin_url).await.unwrap();
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
                admin.close().await.ok();
                let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
                Self { url: format!("{base}/{name}"), _dir: dir, postgres: Some((admin_url, name)) }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async move {
                    if let Ok(admin) = Database::connect(&admin_url).await {
                        let _ = admin
                            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

pub async fn seed_sale(db: &DatabaseConnection) -> (FlashSaleId, MerchantId) {
    let phone = Phone::parse("13900000000").unwrap();
    let merchant = repo::insert_merchant(db, &phone, "x", "店铺", Timestamp(START_MS)).await.unwrap();
    let product = repo::insert_product(
        db,
        merchant,
        repo::NewProduct {
            title: "羊毛开衫".into(),
            description: String::new(),
            image_url: String::new(),
            price_fen: Fen(1_990),
            stock: 10_000,
        },
        Timestamp(START_MS),
    )
    .await
    .unwrap();
    let terms = SaleTerms {
        id: FlashSaleId(0),
        merchant_id: merchant,
        product_id: ProductId(product.0),
        title: "秒杀".into(),
        price_fen: Fen(1_990),
        quantity: 5_000,
        per_buyer_limit: 5,
        starts_at: Timestamp(START_MS),
        ends_at: Timestamp(START_MS + 3_600_000),
        payment_window_secs: 900,
    };
    let caps = repo::SaleCaps { max_live: 0, max_scheduled: 0 };
    let sale = repo::create_flash_sale(db, &terms, Timestamp(START_MS), caps).await.unwrap();
    (sale, merchant)
}
