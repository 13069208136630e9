//! `products`: a merchant's catalogue. `stock` is the sum of its SKUs' stock: what is left to
//! allocate to flash sales. `price_fen` is its lowest SKU price.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub title: String,
    pub description: String,
    pub image_url: String,
    pub price_fen: i64,
    pub stock: i64,
    /// `draft`, `under_review`, `listed` or `delisted` (`engine::catalogue::ProductState`).
    pub status: String,
    pub created_at: i64,
    /// Takes no-reason returns within the window after delivery (七天无理由).
    pub no_reason_returns: bool,
    /// The merchant's own code, unique per merchant; what an import is keyed by.
    pub product_code: Option<String>,
    /// JSON: `[{"name": "颜色", "values": ["红", "蓝"]}]`.
    pub specs: String,
    /// Who pays a return's postage: `buyer`, `seller`, `insurance`.
    pub return_shipping: String,
    /// Why it is delisted (`sold_out`, `merchant`, an operator's reason) or under review (the
    /// banned words found).
    pub state_reason: Option<String>,
    /// Raised by every edit; `product_revisions` keeps each.
    pub revision: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
