//! `payments`: One attempt to pay an order through one channel. `out_trade_no` is what the channel
//! knows it by; `(order_id, channel)` and `(channel, transaction_id)` are unique. States:
//! `created` → `credited` | `refund_pending` → `refunded`; `created` → `closed`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub merchant_id: i64,
    pub buyer_id: i64,
    pub channel: String,
    pub method: String,
    #[sea_orm(unique)]
    pub out_trade_no: String,
    pub amount_fen: i64,
    pub state: String,
    pub transaction_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
