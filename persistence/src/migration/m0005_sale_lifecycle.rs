//! Sale lifecycle: the network each order was placed from (so the per-network cap on unpaid
//! orders can be rebuilt at start), and the indexes that keep boot and the per-merchant sale
//! caps from scanning whole tables.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000005_sale_lifecycle"
    }
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    FlashSaleId,
    State,
    ClientNetwork,
}

#[derive(DeriveIden)]
enum FlashSales {
    Table,
    MerchantId,
    StartsAt,
    EndsAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(ColumnDef::new(Orders::ClientNetwork).string().null())
                    .to_owned(),
            )
            .await?;
        // Boot loads the sales with a pending order; the state comes first so that the lookup
        // reads only the pending orders' entries.
        manager
            .create_index(
                Index::create()
                    .name("orders_state_sale")
                    .table(Orders::Table)
                    .col(Orders::State)
                    .col(Orders::FlashSaleId)
                    .to_owned(),
            )
            .await?;
        // Boot also loads the sales that have not ended.
        manager
            .create_index(
                Index::create()
                    .name("flash_sales_ends_at")
                    .table(FlashSales::Table)
                    .col(FlashSales::EndsAt)
                    .to_owned(),
            )
            .await?;
        // A merchant's sales that have not ended, for the caps on live and scheduled sales.
        manager
            .create_index(
                Index::create()
                    .name("flash_sales_merchant_ends_at")
                    .table(FlashSales::Table)
                    .col(FlashSales::MerchantId)
                    .col(FlashSales::EndsAt)
                    .col(FlashSales::StartsAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
