//! `merchants`: streamers and brands selling through the platform.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "merchants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub phone: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub display_name: String,
    pub created_at: i64,
    /// Identity verified by an operator (KYC): required to withdraw.
    pub kyc_verified: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
