//! `order_addresses`: where an order ships to, set by its buyer before payment.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_addresses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: i64,
    pub buyer_id: i64,
    pub name: String,
    pub phone: String,
    pub district_code: i32,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
