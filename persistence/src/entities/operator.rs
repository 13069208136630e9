//! `operators`: the platform's staff accounts, each with one role.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operators")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// `reviewer`, `finance` or `admin`.
    pub role: String,
    /// Tokens carry the version they were issued at; bumping it revokes them all.
    pub token_version: i64,
    /// When set, the account can no longer log in.
    pub disabled_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
