//! `buyer_codes`: one-time login codes sent by SMS, kept only as a keyed hash, with the
//! network that asked for each and the network that used it (for the caps).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000004_buyer_codes"
    }
}

#[derive(DeriveIden)]
enum BuyerCodes {
    Table,
    Id,
    Phone,
    CodeMac,
    Network,
    IssuedAt,
    ExpiresAt,
    WrongAttempts,
    UsedAt,
    UsedNetwork,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BuyerCodes::Table)
                    .col(big_pk_auto(BuyerCodes::Id))
                    .col(string(BuyerCodes::Phone))
                    .col(string(BuyerCodes::CodeMac))
                    .col(string(BuyerCodes::Network))
                    .col(big_integer(BuyerCodes::IssuedAt))
                    .col(big_integer(BuyerCodes::ExpiresAt))
                    .col(integer(BuyerCodes::WrongAttempts))
                    .col(big_integer_null(BuyerCodes::UsedAt))
                    .col(string_null(BuyerCodes::UsedNetwork))
                    .to_owned(),
            )
            .await?;
        // Each cap counts rows of one phone or one network inside a time window.
        for (name, first, second) in [
            ("buyer_codes_phone", BuyerCodes::Phone, BuyerCodes::IssuedAt),
            ("buyer_codes_network", BuyerCodes::Network, BuyerCodes::IssuedAt),
            ("buyer_codes_used_network", BuyerCodes::UsedNetwork, BuyerCodes::UsedAt),
        ] {
            manager
                .create_index(
                    Index::create().name(name).table(BuyerCodes::Table).col(first).col(second).to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
