//! `audit_log`: one row per state-changing operator action, never updated or deleted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `None`: done on the server's command line (`flashsale operator …`), by whoever could run it.
    pub operator_id: Option<i64>,
    /// Copied at the time of the action, so the row reads on its own.
    pub username: String,
    pub role: String,
    pub action: String,
    pub target: String,
    /// JSON object.
    pub details: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
