//! Schema migrations, the same for SQLite and Postgres. Never edit a migration that has
//! shipped: add the next one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m0001_initial::Migration)]
    }
}

mod m0001_initial {
    use super::*;

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261125_000001_initial"
        }
    }

    #[derive(DeriveIden)]
    enum Merchants {
        Table,
        Id,
        Phone,
        PasswordHash,
        DisplayName,
        CreatedAt,
    }

    #[derive(DeriveIden)]
    enum Products {
        Table,
        Id,
        MerchantId,
        Title,
        Description,
        ImageUrl,
        PriceFen,
        Stock,
        Status,
        CreatedAt,
    }

    #[derive(DeriveIden)]
    enum FlashSales {
        Table,
        Id,
        MerchantId,
        ProductId,
        Title,
        PriceFen,
        Quantity,
        PerBuyerLimit,
        StartsAt,
        EndsAt,
        PaymentWindowSecs,
        CreatedAt,
    }

    #[derive(DeriveIden)]
    enum Buyers {
        Table,
        Id,
        Phone,
        CreatedAt,
    }

    #[derive(DeriveIden)]
    enum Orders {
        Table,
        Id,
        FlashSaleId,
        MerchantId,
        BuyerId,
        Quantity,
        AmountFen,
        State,
        IdempotencyKey,
        CreatedAt,
        ExpiresAt,
        UpdatedAt,
    }

    #[derive(DeriveIden)]
    enum Settings {
        Table,
        Key,
        Value,
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .create_table(
                    Table::create()
                        .table(Merchants::Table)
                        .col(big_pk_auto(Merchants::Id))
                        .col(string_uniq(Merchants::Phone))
                        .col(string(Merchants::PasswordHash))
                        .col(string(Merchants::DisplayName))
                        .col(big_integer(Merchants::CreatedAt))
                        .to_owned(),
                )
                .await?;
            manager
                .create_table(
                    Table::create()
                        .table(Products::Table)
                        .col(big_pk_auto(Products::Id))
                        .col(big_integer(Products::MerchantId))
                        .col(string(Products::Title))
                        .col(text(Products::Description))
                        .col(string(Products::ImageUrl))
                        .col(big_integer(Products::PriceFen))
                        .col(big_integer(Products::Stock))
                        .col(string(Products::Status))
                        .col(big_integer(Products::CreatedAt))
                        .foreign_key(
                            ForeignKey::create()
                                .from(Products::Table, Products::MerchantId)
                                .to(Merchants::Table, Merchants::Id),
                        )
                        .to_owned(),
                )
                .await?;
            manager
                .create_table(
                    Table::create()
                        .table(FlashSales::Table)
                        .col(big_pk_auto(FlashSales::Id))
                        .col(big_integer(FlashSales::MerchantId))
                        .col(big_integer(FlashSales::ProductId))
                        .col(string(FlashSales::Title))
                        .col(big_integer(FlashSales::PriceFen))
                        .col(big_integer(FlashSales::Quantity))
                        .col(big_integer(FlashSales::PerBuyerLimit))
                        .col(big_integer(FlashSales::StartsAt))
                        .col(big_integer(FlashSales::EndsAt))
                        .col(big_integer(FlashSales::PaymentWindowSecs))
                        .col(big_integer(FlashSales::CreatedAt))
                        .foreign_key(
                            ForeignKey::create()
                                .from(FlashSales::Table, FlashSales::MerchantId)
                                .to(Merchants::Table, Merchants::Id),
                        )
                        .foreign_key(
                            ForeignKey::create()
                                .from(FlashSales::Table, FlashSales::ProductId)
                                .to(Products::Table, Products::Id),
                        )
                        .to_owned(),
                )
                .await?;
            manager
                .create_table(
                    Table::create()
                        .table(Buyers::Table)
                        .col(big_pk_auto(Buyers::Id))
                        .col(string_uniq(Buyers::Phone))
                        .col(big_integer(Buyers::CreatedAt))
                        .to_owned(),
                )
                .await?;
            manager
                .create_table(
                    Table::create()
                        .table(Orders::Table)
                        .col(big_integer(Orders::Id).primary_key())
                        .col(big_integer(Orders::FlashSaleId))
                        .col(big_integer(Orders::MerchantId))
                        .col(big_integer(Orders::BuyerId))
                        .col(big_integer(Orders::Quantity))
                        .col(big_integer(Orders::AmountFen))
                        .col(string(Orders::State))
                        .col(string(Orders::IdempotencyKey))
                        .col(big_integer(Orders::CreatedAt))
                        .col(big_integer(Orders::ExpiresAt))
                        .col(big_integer(Orders::UpdatedAt))
                        .foreign_key(
                            ForeignKey::create()
                                .from(Orders::Table, Orders::FlashSaleId)
                                .to(FlashSales::Table, FlashSales::Id),
                        )
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name("orders_idempotency")
                        .table(Orders::Table)
                        .col(Orders::FlashSaleId)
                        .col(Orders::BuyerId)
                        .col(Orders::IdempotencyKey)
                        .unique()
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name("orders_merchant")
                        .table(Orders::Table)
                        .col(Orders::MerchantId)
                        .col(Orders::CreatedAt)
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create().name("orders_buyer").table(Orders::Table).col(Orders::BuyerId).to_owned(),
                )
                .await?;
            manager
                .create_table(
                    Table::create()
                        .table(Settings::Table)
                        .col(string(Settings::Key).primary_key())
                        .col(text(Settings::Value))
                        .to_owned(),
                )
                .await?;
            Ok(())
        }
    }
}
