//! When the attempt that holds an outbox message began, cleared when its outcome is written: a
//! message taken again with it still set was being sent when its worker died, and is checked
//! against the provider's receipts before it is sent a second time.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000010_outbox_in_flight"
    }
}

#[derive(DeriveIden)]
enum OutboxMessages {
    Table,
    InFlightSince,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OutboxMessages::Table)
                    .add_column(ColumnDef::new(OutboxMessages::InFlightSince).big_integer().null())
                    .to_owned(),
            )
            .await
    }
}
