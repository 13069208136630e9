//! Shipping addresses: a buyer's saved addresses (at most `engine::address::MAX_SAVED_ADDRESSES`
//! each, counted under a lock on the buyer's row) and the address an order ships to, set
//! before it is paid. Regions are stored by their district code; the names are kept as the
//! division table spelled them when the address was written.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000006_addresses"
    }
}

#[derive(DeriveIden)]
enum BuyerAddresses {
    Table,
    Id,
    BuyerId,
    Name,
    Phone,
    DistrictCode,
    Province,
    City,
    District,
    Detail,
    IsDefault,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrderAddresses {
    Table,
    OrderId,
    BuyerId,
    Name,
    Phone,
    DistrictCode,
    Province,
    City,
    District,
    Detail,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BuyerAddresses::Table)
                    .col(big_pk_auto(BuyerAddresses::Id))
                    .col(big_integer(BuyerAddresses::BuyerId))
                    .col(string(BuyerAddresses::Name))
                    .col(string(BuyerAddresses::Phone))
                    .col(integer(BuyerAddresses::DistrictCode))
                    .col(string(BuyerAddresses::Province))
                    .col(string(BuyerAddresses::City))
                    .col(string(BuyerAddresses::District))
                    .col(string(BuyerAddresses::Detail))
                    .col(boolean(BuyerAddresses::IsDefault).default(false))
                    .col(big_integer(BuyerAddresses::CreatedAt))
                    .col(big_integer(BuyerAddresses::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // A buyer's addresses are always read, counted and changed by buyer.
        manager
            .create_index(
                Index::create()
                    .name("buyer_addresses_buyer")
                    .table(BuyerAddresses::Table)
                    .col(BuyerAddresses::BuyerId)
                    .col(BuyerAddresses::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrderAddresses::Table)
                    .col(big_integer(OrderAddresses::OrderId).primary_key())
                    .col(big_integer(OrderAddresses::BuyerId))
                    .col(string(OrderAddresses::Name))
                    .col(string(OrderAddresses::Phone))
                    .col(integer(OrderAddresses::DistrictCode))
                    .col(string(OrderAddresses::Province))
                    .col(string(OrderAddresses::City))
                    .col(string(OrderAddresses::District))
                    .col(string(OrderAddresses::Detail))
                    .col(big_integer(OrderAddresses::CreatedAt))
                    .col(big_integer(OrderAddresses::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
