//! `flash_sales`: the terms of each flash sale. Its stock buckets are not stored: they follow
//! from its orders.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "flash_sales")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub product_id: i64,
    pub title: String,
    pub price_fen: i64,
    pub quantity: i64,
    pub per_buyer_limit: i64,
    pub starts_at: i64,
    pub ends_at: i64,
    pub payment_window_secs: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
