//! `live_orders`: an order placed on a live platform, once per platform order id.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "live_orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub flash_sale_id: i64,
    pub platform: String,
    pub platform_order_id: String,
    pub quantity: i64,
    pub amount_fen: i64,
    /// `sold`, `returned` (cancelled unpaid: back in the slice) or `refunded` (back in stock).
    pub units: String,
    /// The platform's status: `unpaid`, `paid`, `shipped`, `completed`, `cancelled`.
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
