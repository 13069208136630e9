//! `sale_skus`: the SKU a flash sale's units came out of, and its unsold units given back
//! (once: `returned_at` is set by the one guarded update that adds them to the SKU).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sale_skus")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub flash_sale_id: i64,
    pub sku_id: i64,
    pub product_id: i64,
    pub unsold_returned: Option<i64>,
    pub returned_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
