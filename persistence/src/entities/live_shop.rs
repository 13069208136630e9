//! `live_shops`: a merchant's shop on a live platform and its grant (tokens sealed).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "live_shops")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    /// `douyin` or `kuaishou`.
    pub platform: String,
    /// Douyin `shop_id`, Kuaishou `open_id`.
    pub shop_id: String,
    pub shop_name: String,
    /// `connected` or `disconnected` (expired is read from `refresh_expires_at`).
    pub status: String,
    /// AES-256-GCM under the token key: base64 of nonce ‖ ciphertext.
    pub access_token_sealed: String,
    pub refresh_token_sealed: String,
    pub access_expires_at: i64,
    pub refresh_expires_at: i64,
    /// Comma-separated.
    pub scopes: String,
    /// Raised by every change of the grant, so a refresh writes only over what it read.
    pub version: i64,
    pub bound_at: i64,
    pub refreshed_at: Option<i64>,
    pub disconnected_at: Option<i64>,
    pub disconnected_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
