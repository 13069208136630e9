//! `captures`: The money of a paid order, fixed when it was captured, so that refunds and reviews
//! reverse it exactly. Written only by the journal writer; `(channel, transaction_id)` is unique.
//! `review`: `none`, `pending` (held, AML), `approved`, `rejected`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "captures")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: i64,
    pub payment_id: i64,
    pub merchant_id: i64,
    pub channel: String,
    pub transaction_id: String,
    pub gross_fen: i64,
    pub fee_fen: i64,
    pub merchant_fen: i64,
    /// `partner_id:fen` pairs, comma-separated.
    pub partners: String,
    pub held: bool,
    pub review: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
