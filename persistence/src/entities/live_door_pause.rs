//! `live_door_pauses`: a sale's door the merchant took units back from, not topped up again
//! until the sale is bound to the platform again.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "live_door_pauses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub flash_sale_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub platform: String,
    pub paused_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
