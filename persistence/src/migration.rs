//! Schema migrations, the same for SQLite and Postgres. Never edit a migration that has
//! shipped: add the next one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

mod m0003_access;
mod m0004_buyer_codes;
mod m0005_sale_lifecycle;
mod m0006_addresses;
mod m0007_outbox;
mod m0008_qualification;
mod m0009_aftersales;
mod m0010_outbox_in_flight;
mod m0011_shipments;
mod m0012_live_shops;
mod m0013_live_sales;
mod m0014_trust;
mod m0015_catalogue;
mod m0016_live_platform_orders;
mod m0018_low_stock_warnings;
mod m0019_live_lease_placement;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_money::Migration),
            Box::new(m0003_access::Migration),
            Box::new(m0004_buyer_codes::Migration),
            Box::new(m0005_sale_lifecycle::Migration),
            Box::new(m0006_addresses::Migration),
            Box::new(m0007_outbox::Migration),
            Box::new(m0008_qualification::Migration),
            Box::new(m0009_aftersales::Migration),
            Box::new(m0010_outbox_in_flight::Migration),
            Box::new(m0011_shipments::Migration),
            Box::new(m0012_live_shops::Migration),
            Box::new(m0013_live_sales::Migration),
            Box::new(m0014_trust::Migration),
            Box::new(m0015_catalogue::Migration),
            Box::new(m0016_live_platform_orders::Migration),
            Box::new(m0018_low_stock_warnings::Migration),
            Box::new(m0019_live_lease_placement::Migration),
        ]
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

/// Payments, the ledger, settlement records, withdrawals, KYC and profit-sharing rules.
mod m0002_money {
    use super::*;

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261125_000002_money"
        }
    }

    #[derive(DeriveIden)]
    enum Merchants {
        Table,
        KycVerified,
    }

    #[derive(DeriveIden)]
    enum Partners {
        Table,
        Id,
        Name,
        CreatedAt,
    }

    #[derive(DeriveIden)]
    enum SplitRules {
        Table,
        MerchantId,
        PartnerId,
        Bps,
    }

    #[derive(DeriveIden)]
    enum Payments {
        Table,
        Id,
        OrderId,
        MerchantId,
        BuyerId,
        Channel,
        Method,
        OutTradeNo,
        AmountFen,
        State,
        TransactionId,
        CreatedAt,
        UpdatedAt,
    }

    #[derive(DeriveIden)]
    enum Captures {
        Table,
        OrderId,
        PaymentId,
        MerchantId,
        Channel,
        TransactionId,
        GrossFen,
        FeeFen,
        MerchantFen,
        Partners,
        Held,
        Review,
        CreatedAt,
        UpdatedAt,
    }

    #[derive(DeriveIden)]
    enum Postings {
        Table,
        OpId,
        MerchantId,
        OrderId,
        Kind,
        CreatedAt,
    }

    #[derive(DeriveIden)]
    enum PostingLines {
        Table,
        OpId,
        LineNo,
        MerchantId,
        Account,
        AmountFen,
        CreatedAt,
    }

    #[derive(DeriveIden)]
    enum Withdrawals {
        Table,
        Id,
        MerchantId,
        AmountFen,
        State,
        Reason,
        CreatedAt,
        UpdatedAt,
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .alter_table(
                    Table::alter()
                        .table(Merchants::Table)
                        .add_column(boolean(Merchants::KycVerified).default(false))
                        .to_owned(),
                )
                .await?;
            manager
                .create_table(
                    Table::create()
                        .table(Partners::Table)
                        .col(big_pk_auto(Partners::Id))
                        .col(string(Partners::Name))
                        .col(big_integer(Partners::CreatedAt))
                        .to_owned(),
                )
                .await?;
            manager
                .create_table(
                    Table::create()
                        .table(SplitRules::Table)
                        .col(big_integer(SplitRules::MerchantId))
                        .col(big_integer(SplitRules::PartnerId))
                        .col(integer(SplitRules::Bps))
                        .primary_key(Index::create().col(SplitRules::MerchantId).col(SplitRules::PartnerId))
                        .to_owned(),
                )
                .await?;
            manager
                .create_table(
                    Table::create()
                        .table(Payments::Table)
                        .col(big_pk_auto(Payments::Id))
                        .col(big_integer(Payments::OrderId))
                        .col(big_integer(Payments::MerchantId))
                        .col(big_integer(Payments::BuyerId))
                        .col(string(Payments::Channel))
                        .col(string(Payments::Method))
                        .col(string_uniq(Payments::OutTradeNo))
                        .col(big_integer(Payments::AmountFen))
                        .col(string(Payments::State))
                        .col(string_null(Payments::TransactionId))
                        .col(big_integer(Payments::CreatedAt))
                        .col(big_integer(Payments::UpdatedAt))
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name("payments_order_channel")
                        .table(Payments::Table)
                        .col(Payments::OrderId)
                        .col(Payments::Channel)
                        .unique()
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name("payments_transaction")
                        .table(Payments::Table)
                        .col(Payments::Channel)
                        .col(Payments::TransactionId)
                        .unique()
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name("payments_state")
                        .table(Payments::Table)
                        .col(Payments::State)
                        .col(Payments::CreatedAt)
                        .to_owned(),
                )
                .await?;
            manager
                .create_table(
                    Table::create()
                        .table(Captures::Table)
                        .col(big_integer(Captures::OrderId).primary_key())
                        .col(big_integer(Captures::PaymentId))
                        .col(big_integer(Captures::MerchantId))
                        .col(string(Captures::Channel))
                        .col(string(Captures::TransactionId))
                        .col(big_integer(Captures::GrossFen))
                        .col(big_integer(Captures::FeeFen))
                        .col(big_integer(Captures::MerchantFen))
                        .col(text(Captures::Partners))
                        .col(boolean(Captures::Held))
                        .col(string(Captures::Review))
                        .col(big_integer(Captures::CreatedAt))
                        .col(big_integer(Captures::UpdatedAt))
                        .to_owned(),
                )
                .await?;
            // A provider transaction is credited at most once, whatever the code above does.
            manager
                .create_index(
                    Index::create()
                        .name("captures_transaction")
                        .table(Captures::Table)
                        .col(Captures::Channel)
                        .col(Captures::TransactionId)
                        .unique()
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name("captures_merchant")
                        .table(Captures::Table)
                        .col(Captures::MerchantId)
                        .to_owned(),
                )
                .await?;
            manager
                .create_table(
                    Table::create()
                        .table(Postings::Table)
                        .col(string(Postings::OpId).primary_key())
                        .col(big_integer(Postings::MerchantId))
                        .col(big_integer_null(Postings::OrderId))
                        .col(string(Postings::Kind))
                        .col(big_integer(Postings::CreatedAt))
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name("postings_merchant")
                        .table(Postings::Table)
                        .col(Postings::MerchantId)
                        .col(Postings::CreatedAt)
                        .to_owned(),
                )
                .await?;
            manager
                .create_table(
                    Table::create()
                        .table(PostingLines::Table)
                        .col(string(PostingLines::OpId))
                        .col(integer(PostingLines::LineNo))
                        .col(big_integer(PostingLines::MerchantId))
                        .col(string(PostingLines::Account))
                        .col(big_integer(PostingLines::AmountFen))
                        .col(big_integer(PostingLines::CreatedAt))
                        .primary_key(Index::create().col(PostingLines::OpId).col(PostingLines::LineNo))
                        .foreign_key(
                            ForeignKey::create()
                                .from(PostingLines::Table, PostingLines::OpId)
                                .to(Postings::Table, Postings::OpId),
                        )
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name("posting_lines_account")
                        .table(PostingLines::Table)
                        .col(PostingLines::Account)
                        .col(PostingLines::CreatedAt)
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name("posting_lines_merchant")
                        .table(PostingLines::Table)
                        .col(PostingLines::MerchantId)
                        .to_owned(),
                )
                .await?;
            manager
                .create_table(
                    Table::create()
                        .table(Withdrawals::Table)
                        .col(big_integer(Withdrawals::Id).primary_key())
                        .col(big_integer(Withdrawals::MerchantId))
                        .col(big_integer(Withdrawals::AmountFen))
                        .col(string(Withdrawals::State))
                        .col(string(Withdrawals::Reason))
                        .col(big_integer(Withdrawals::CreatedAt))
                        .col(big_integer(Withdrawals::UpdatedAt))
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name("withdrawals_merchant")
                        .table(Withdrawals::Table)
                        .col(Withdrawals::MerchantId)
                        .col(Withdrawals::CreatedAt)
                        .to_owned(),
                )
                .await?;
            Ok(())
        }
    }
}
