//! `outbox_messages`: notices waiting for, or done with, delivery. `dedupe_key` is unique.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub dedupe_key: String,
    /// `sms`, `wechat_mp`.
    pub channel: String,
    /// `order_paid`, `order_shipped`…
    pub kind: String,
    /// The order the notice is about; its buyer is the recipient.
    pub order_id: i64,
    /// JSON object of the template's named values.
    #[sea_orm(column_type = "Text")]
    pub params: String,
    /// `pending`, `delivered`, `skipped`, `dead`.
    pub state: String,
    pub attempts: i32,
    /// When a pending row may be tried; while a worker holds it, the end of its lease.
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub delivered_at: Option<i64>,
    /// When the attempt holding it began; null when no attempt is under way.
    pub in_flight_since: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
