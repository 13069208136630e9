//! `buyer_codes`: one-time login codes (as a keyed hash, never the digits) and their use.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "buyer_codes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub phone: String,
    /// Hex HMAC-SHA256 of phone and code under the server's code key.
    pub code_mac: String,
    /// The network that asked for the code (client IP; IPv6 as its /64).
    pub network: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub wrong_attempts: i32,
    /// When the code opened a session; `None` while it is pending.
    pub used_at: Option<i64>,
    pub used_network: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
