//! A sale sold through the live platforms: `live_sale_bindings` (the sale's item and SKU on a
//! platform, one per sale and platform), `live_slices` (units leased to a platform, written
//! whole by the journal), `live_orders` (each platform order once, unique by platform and
//! platform order id) and `live_push_messages` (push message ids applied, unique: the durable
//! half of deduplication).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000013_live_sales"
    }
}

#[derive(DeriveIden)]
enum LiveSaleBindings {
    Table,
    Id,
    FlashSaleId,
    Platform,
    LiveShopId,
    ItemId,
    SkuId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LiveSlices {
    Table,
    FlashSaleId,
    Platform,
    Leased,
    LeaseSeq,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LiveOrders {
    Table,
    Id,
    FlashSaleId,
    Platform,
    PlatformOrderId,
    Quantity,
    AmountFen,
    Units,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LivePushMessages {
    Table,
    Platform,
    MessageId,
    ReceivedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LiveSaleBindings::Table)
                    .col(big_pk_auto(LiveSaleBindings::Id))
                    .col(big_integer(LiveSaleBindings::FlashSaleId))
                    .col(string(LiveSaleBindings::Platform))
                    .col(big_integer(LiveSaleBindings::LiveShopId))
                    .col(string(LiveSaleBindings::ItemId))
                    .col(string(LiveSaleBindings::SkuId))
                    .col(big_integer(LiveSaleBindings::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("live_sale_bindings_sale_platform", [LiveSaleBindings::FlashSaleId, LiveSaleBindings::Platform]),
            ("live_sale_bindings_platform_item", [LiveSaleBindings::Platform, LiveSaleBindings::ItemId]),
        ] {
            let mut index = Index::create().name(name).table(LiveSaleBindings::Table).unique().to_owned();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(LiveSlices::Table)
                    .col(big_integer(LiveSlices::FlashSaleId))
                    .col(string(LiveSlices::Platform))
                    .col(big_integer(LiveSlices::Leased))
                    .col(big_integer(LiveSlices::LeaseSeq))
                    .col(big_integer(LiveSlices::UpdatedAt))
                    .primary_key(Index::create().col(LiveSlices::FlashSaleId).col(LiveSlices::Platform))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LiveOrders::Table)
                    .col(big_pk_auto(LiveOrders::Id))
                    .col(big_integer(LiveOrders::FlashSaleId))
                    .col(string(LiveOrders::Platform))
                    .col(string(LiveOrders::PlatformOrderId))
                    .col(big_integer(LiveOrders::Quantity))
                    .col(big_integer(LiveOrders::AmountFen))
                    .col(string(LiveOrders::Units))
                    .col(string(LiveOrders::Status))
                    .col(big_integer(LiveOrders::CreatedAt))
                    .col(big_integer(LiveOrders::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("live_orders_platform_order")
                    .table(LiveOrders::Table)
                    .col(LiveOrders::Platform)
                    .col(LiveOrders::PlatformOrderId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("live_orders_sale")
                    .table(LiveOrders::Table)
                    .col(LiveOrders::FlashSaleId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LivePushMessages::Table)
                    .col(string(LivePushMessages::Platform))
                    .col(string(LivePushMessages::MessageId))
                    .col(big_integer(LivePushMessages::ReceivedAt))
                    .primary_key(
                        Index::create().col(LivePushMessages::Platform).col(LivePushMessages::MessageId),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
