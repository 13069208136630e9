//! Whether a slice's last lease reached the platform's stock: `live_slices.lease_units` (the
//! units of lease `lease_seq`, written by the journal with the lease) and `placed_seq` (the
//! last lease the platform's stock is known to hold, written once the platform answered). A
//! lease journaled and not placed when the process died is put on the platform's stock after
//! the restart, under its own key.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000019_live_lease_placement"
    }
}

#[derive(DeriveIden)]
enum LiveSlices {
    Table,
    LeaseUnits,
    PlacedSeq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(LiveSlices::Table)
                    .add_column(ColumnDef::new(LiveSlices::LeaseUnits).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(LiveSlices::Table)
                    .add_column(ColumnDef::new(LiveSlices::PlacedSeq).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
