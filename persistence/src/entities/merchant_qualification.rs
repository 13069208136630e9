//! `merchant_qualifications`: a merchant's submitted qualification, its review state and
//! reasons. One row per merchant, replaced by each submission (`revision` raised).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "merchant_qualifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub merchant_id: i64,
    pub revision: i64,
    pub entity_type: String,
    pub business_name: Option<String>,
    pub licence_number: Option<String>,
    pub legal_person_name: String,
    pub legal_person_id_no: String,
    pub contact_name: String,
    pub contact_phone: String,
    /// JSON array of category keys.
    pub categories: String,
    /// JSON array of `{kind, number}`.
    pub permits: String,
    pub review_state: String,
    /// JSON array of `{field, code, message}`.
    pub review_reasons: String,
    pub submitted_at: i64,
    pub reviewed_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
