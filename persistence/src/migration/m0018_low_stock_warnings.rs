//! A SKU's low-stock warning: whether the merchant was told it is at or under its threshold
//! (cleared when it goes above again, so each crossing is told once), and how many times it
//! was told (which names each warning in the outbox).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000018_low_stock_warnings"
    }
}

#[derive(DeriveIden)]
enum ProductSkus {
    Table,
    LowStockWarned,
    LowStockWarnings,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column a statement: SQLite alters a table one column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(ProductSkus::Table)
                    .add_column(
                        ColumnDef::new(ProductSkus::LowStockWarned).boolean().not_null().default(false),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ProductSkus::Table)
                    .add_column(
                        ColumnDef::new(ProductSkus::LowStockWarnings).big_integer().not_null().default(0),
                    )
                    .to_owned(),
            )
            .await
    }
}
