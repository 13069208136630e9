//! `live_sale_bindings`: a sale's item and SKU on a live platform.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "live_sale_bindings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub flash_sale_id: i64,
    pub platform: String,
    /// The bound shop (`live_shops.id`) whose grant calls the platform.
    pub live_shop_id: i64,
    pub item_id: String,
    pub sku_id: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
