//! `banned_numbers`: the licence and ID numbers a ban bars from signing up again, while the ban
//! is not lifted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "banned_numbers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub ban_id: i64,
    /// `licence_number` or `id_no`.
    pub kind: String,
    pub number: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
