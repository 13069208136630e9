//! The demo seed: on an empty database, a merchant, a product and a flash sale that is live
//! now, so that a newcomer can order within a minute of the first start.

use engine::{Fen, FlashSaleId, MerchantId, Phone, ProductId, SaleTerms};
use persistence::repo::{self, NewProduct};

use crate::AppState;
use crate::auth::hash_password;

pub const DEMO_PHONE: &str = "13800138000";
pub const DEMO_PASSWORD: &str = "flashsale-demo";

/// What was seeded.
#[derive(Debug, Clone)]
pub struct Demo {
    pub merchant_id: MerchantId,
    pub product_id: ProductId,
    pub flash_sale_id: FlashSaleId,
}

pub async fn seed_if_empty(state: &AppState) -> anyhow::Result<Option<Demo>> {
    if repo::merchant_count(&state.db).await? > 0 {
        return Ok(None);
    }
    let now = state.clock.now();
    let phone = Phone::parse(DEMO_PHONE).expect("demo phone is valid");
    let hash = hash_password(DEMO_PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    let merchant_id = repo::insert_merchant(&state.db, &phone, &hash, "演示小店 Demo Shop", now).await?;
    let product = NewProduct {
        title: "网红口红 Lipstick #520".into(),
        description: "直播间专享秒杀价 livestream-only flash price".into(),
        image_url: String::new(),
        price_fen: Fen(12_900),
        stock: 1_000,
    };
    let product_id = repo::insert_product(&state.db, merchant_id, product, now).await?;
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
    let flash_sale_id = repo::create_flash_sale(&state.db, &terms, now).await?;
    state.start_sale(SaleTerms { id: flash_sale_id, ..terms }).await?;
    Ok(Some(Demo { merchant_id, product_id, flash_sale_id }))
}
