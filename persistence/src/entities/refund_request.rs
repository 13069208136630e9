//! `refund_requests`: buyers' after-sales refund requests, `requested` → `approved` →
//! `refunded`, or `rejected`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refund_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub flash_sale_id: i64,
    pub merchant_id: i64,
    pub buyer_id: i64,
    pub payment_id: i64,
    pub amount_fen: i64,
    pub units: i32,
    pub reason: String,
    pub note: String,
    pub state: String,
    /// `sale`, `product` or `none`, once approved.
    pub restock: Option<String>,
    pub decision_reason: String,
    pub restocked_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
