//! Keeping sellers honest: a sale or product held back by an operator (a merchant's ban, a
//! takedown) says why in `suspended_reason` (`ban: …` or `takedown: …`; null = not held), and
//! fans' reports of a sale or product queue in `fan_reports` for operators.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000014_trust"
    }
}

#[derive(DeriveIden)]
enum FlashSales {
    Table,
    SuspendedReason,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    SuspendedReason,
}

#[derive(DeriveIden)]
enum FanReports {
    Table,
    Id,
    BuyerId,
    MerchantId,
    FlashSaleId,
    ProductId,
    Reason,
    Text,
    State,
    CreatedAt,
    DecidedAt,
    DecidedBy,
    Decision,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(FlashSales::Table)
                    .add_column(ColumnDef::new(FlashSales::SuspendedReason).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .add_column(ColumnDef::new(Products::SuspendedReason).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FanReports::Table)
                    .col(big_pk_auto(FanReports::Id))
                    .col(big_integer(FanReports::BuyerId))
                    .col(big_integer(FanReports::MerchantId))
                    .col(big_integer_null(FanReports::FlashSaleId))
                    .col(big_integer(FanReports::ProductId))
                    .col(string(FanReports::Reason))
                    .col(string(FanReports::Text))
                    .col(string(FanReports::State))
                    .col(big_integer(FanReports::CreatedAt))
                    .col(big_integer_null(FanReports::DecidedAt))
                    .col(string_null(FanReports::DecidedBy))
                    .col(string_null(FanReports::Decision))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("fan_reports_state", [FanReports::State, FanReports::Id]),
            ("fan_reports_buyer", [FanReports::BuyerId, FanReports::CreatedAt]),
        ] {
            let mut index = Index::create();
            index.name(name).table(FanReports::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }
}
