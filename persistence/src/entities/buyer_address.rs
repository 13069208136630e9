//! `buyer_addresses`: the addresses a buyer keeps for later orders.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "buyer_addresses")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub buyer_id: i64,
    pub name: String,
    pub phone: String,
    pub district_code: i32,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
    pub is_default: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
