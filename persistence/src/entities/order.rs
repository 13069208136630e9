//! `orders`: every order ever placed. Written only by the journal writer; ids come from the
//! stock actors. `(flash_sale_id, buyer_id, idempotency_key)` is unique.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub flash_sale_id: i64,
    pub merchant_id: i64,
    pub buyer_id: i64,
    pub quantity: i64,
    pub amount_fen: i64,
    pub state: String,
    pub idempotency_key: String,
    /// The client's network when placed (`203.0.113.7`, `2001:db8:1:2::/64`), if known.
    pub client_network: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
