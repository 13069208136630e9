//! `product_skus`: what a flash sale draws its units from. One per spec combination of a
//! product (colour × size), or one `default` SKU for a product without specs.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_skus")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub product_id: i64,
    pub merchant_id: i64,
    /// The merchant's code, unique within the product.
    pub code: String,
    /// JSON object: spec name → value.
    pub spec_values: String,
    pub price_fen: i64,
    pub stock: i64,
    /// At or under this many units the merchant is warned; 0: never.
    pub low_stock_threshold: i64,
    /// The merchant was told the stock is at or under the threshold; cleared when it is above
    /// again, so each crossing is told once.
    pub low_stock_warned: bool,
    /// How many times the merchant was told (names each warning in the outbox).
    pub low_stock_warnings: i64,
    pub position: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
