//! `live_order_links`: the order of ours made from a live platform's paid order, once per
//! platform order, and the state of sending its waybill to the platform.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "live_order_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: i64,
    pub flash_sale_id: i64,
    pub merchant_id: i64,
    pub platform: String,
    pub platform_order_id: String,
    pub created_at: i64,
    /// Attempts to send the waybill so far.
    pub waybill_attempts: i32,
    /// When the next attempt may be made (after a failure).
    pub waybill_next_at: Option<i64>,
    pub waybill_error: Option<String>,
    /// When the platform took the waybill; set once.
    pub waybill_sent_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
