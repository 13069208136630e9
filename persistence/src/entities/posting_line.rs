//! `posting_lines`: The lines of postings: signed fen, debit positive. Every posting's lines sum to zero.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "posting_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub op_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub line_no: i32,
    pub merchant_id: i64,
    /// `engine::ledger::Account` by name, e.g. `merchant_available:7`.
    pub account: String,
    pub amount_fen: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
