//! `shipments`: how a paid order left, one per order; `(courier, waybill_no)` is unique.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shipments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: i64,
    pub merchant_id: i64,
    /// KDNiao's `ShipperCode`.
    pub courier: String,
    pub waybill_no: String,
    /// Issued by the courier on our request (else typed by the merchant).
    pub electronic_waybill: bool,
    pub sort_code: Option<String>,
    pub package_center: Option<String>,
    /// Where it leaves from: a JSON object of the sender's name, phone and address.
    pub sender: Option<String>,
    pub tracking_state: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub delivered_at: Option<i64>,
    pub completed_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
