//! Demo mode's seeds: on an empty database, a merchant, a product and a flash sale that is
//! live now, so that a newcomer can order within a minute of the first start; and, while no
//! operator account exists, an admin. Passwords are generated (or, for the admin, taken from
//! `operator.password`) and printed once: nothing guessable is ever seeded.

use actors::StockRegistry;
use engine::{Fen, FlashSaleId, MerchantId, Phone, ProductId, SaleTerms, Timestamp};
use persistence::DatabaseConnection;
use persistence::access;
use persistence::repo::{self, InsertError, NewProduct};

use crate::accounts::passwords::{generate_password, hash_password};
use crate::accounts::roles::{self, OperatorRole};

pub const DEMO_PHONE: &str = "13800138000";

/// What was seeded.
#[derive(Debug, Clone)]
pub struct Demo {
    pub merchant_id: MerchantId,
    pub product_id: ProductId,
    pub flash_sale_id: FlashSaleId,
    /// The merchant's generated password, shown once.
    pub merchant_password: String,
}

/// The admin account seeded in demo mode.
#[derive(Debug, Clone)]
pub struct SeededOperator {
    pub username: String,
    /// Generated on this start, to be shown once; `None` when `operator.password` was used.
    pub generated_password: Option<String>,
}

/// In demo mode with no operator account yet: an admin named `username` (the setting
/// `operator.username`), with the password `configured` or, when that is empty, a generated one.
pub async fn seed_operator(
    db: &DatabaseConnection,
    username: &str,
    configured: &str,
    now: Timestamp,
) -> anyhow::Result<Option<SeededOperator>> {
    if access::operator_count(db).await? > 0 {
        return Ok(None);
    }
    let configured = configured.to_owned();
    anyhow::ensure!(
        configured.is_empty() || configured.chars().count() >= 8,
        "operator.password must be at least 8 characters"
    );
    let generated = configured.is_empty().then(generate_password);
    let password = generated.clone().unwrap_or(configured);
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let username = roles::username(username).map_err(|e| anyhow::anyhow!("operator.username: {e}"))?;
    match access::insert_operator(db, &username, &hash, OperatorRole::Admin.as_str(), now).await {
        Ok(_) => Ok(Some(SeededOperator { username, generated_password: generated })),
        // Two first starts at once: the other one seeded it.
        Err(InsertError::Duplicate) => Ok(None),
        Err(InsertError::Db(e)) => Err(e.into()),
    }
}

/// On a database without merchants: the demo merchant, its product and a flash sale live from
/// `now` for 30 days, its stock actor started.
pub async fn seed_if_empty(
    db: &DatabaseConnection,
    registry: &StockRegistry,
    now: Timestamp,
) -> anyhow::Result<Option<Demo>> {
    if repo::merchant_count(db).await? > 0 {
        return Ok(None);
    }
    let phone = Phone::parse(DEMO_PHONE).expect("demo phone is valid");
    let merchant_password = generate_password();
    let password = merchant_password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let merchant_id = repo::insert_merchant(db, &phone, &hash, "演示小店 Demo Shop", now).await?;
    approve_demo_merchant(db, merchant_id, now).await?;
    let product = NewProduct {
        title: "网红口红 Lipstick #520".into(),
        description: "直播间专享秒杀价 livestream-only flash price".into(),
        image_url: String::new(),
        price_fen: Fen(12_900),
        stock: 1_000,
    };
    let product_id = repo::insert_product(db, merchant_id, product, now).await?;
    let terms = SaleTerms {
        id: FlashSaleId(0),
        merchant_id,
        product_id,
        title: "网红口红 Lipstick #520 秒杀".into(),
        price_fen: Fen(990),
        quantity: 100,
        per_buyer_limit: 2,
        starts_at: now,
        ends_at: now.plus_millis(30 * 24 * 3_600 * 1_000),
        payment_window_secs: 900,
    };
    let flash_sale_id = repo::create_flash_sale(db, &terms, now, repo::SaleCaps::default()).await?;
    crate::sales::start(db, registry, SaleTerms { id: flash_sale_id, ..terms }).await?;
    Ok(Some(Demo { merchant_id, product_id, flash_sale_id, merchant_password }))
}

/// The demo merchant's qualification, approved: only approved merchants open flash sales.
async fn approve_demo_merchant(
    db: &DatabaseConnection,
    merchant: engine::MerchantId,
    now: Timestamp,
) -> anyhow::Result<()> {
    use engine::qualification::{self, QualificationInput, QualificationRules, ReviewState};
    use persistence::qualification as stored;
    let input = QualificationInput {
        entity_type: "company".into(),
        business_name: Some("演示小店科技有限公司".into()),
        licence_number: Some("91350100M000100Y43".into()),
        legal_person_name: "张三".into(),
        legal_person_id_no: "11010519491231002X".into(),
        contact_name: "李四".into(),
        contact_phone: DEMO_PHONE.into(),
        categories: vec!["cosmetics".into()],
        permits: vec![engine::qualification::PermitInput {
            kind: "cosmetics_production".into(),
            number: "粤妆20160001".into(),
        }],
    };
    let checked = qualification::check(&input, &QualificationRules::default(), engine::BeijingDay::of(now))
        .map_err(|reasons| anyhow::anyhow!("the demo qualification is invalid: {reasons:?}"))?;
    let revision = stored::submit(db, merchant, &checked, now).await?;
    stored::record_review(db, merchant, revision, &[ReviewState::Pending], ReviewState::Approved, &[], now)
        .await?;
    Ok(())
}
