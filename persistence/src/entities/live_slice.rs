//! `live_slices`: units of a sale leased to a live platform, as the last journaled event left it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "live_slices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub flash_sale_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub platform: String,
    pub leased: i64,
    pub lease_seq: i64,
    pub updated_at: i64,
    /// Units of lease `lease_seq` (0 before any).
    pub lease_units: i64,
    /// The last lease the platform's stock is known to hold.
    pub placed_seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
