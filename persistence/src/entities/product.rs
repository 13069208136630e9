//! `products`: a merchant's catalogue. `stock` is what is left to allocate to flash sales.

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
    /// `listed` or `delisted`.
    pub status: String,
    pub created_at: i64,
    /// Takes no-reason returns within the window after delivery (七天无理由).
    pub no_reason_returns: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
