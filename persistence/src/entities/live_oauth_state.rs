//! `live_oauth_states`: a pending authorisation round trip, kept as a keyed hash of its state.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "live_oauth_states")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Hex HMAC-SHA256 of the state under the server's key: the state itself is never stored.
    pub state_mac: String,
    pub merchant_id: i64,
    pub platform: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
