//! `product_revisions`: every state of a product's text, specs and SKUs an edit left, whole.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_revisions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub product_id: i64,
    pub revision: i64,
    /// JSON of the product as it was after this edit.
    pub snapshot: String,
    /// `merchant`, `import` or `operator:{username}`.
    pub edited_by: String,
    pub edited_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
