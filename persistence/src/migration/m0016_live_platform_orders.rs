//! A live platform's paid order as an order of ours: `live_order_links` ties the order (a row of
//! `orders`, paid, of the platform buyer 0) to the platform's order id, once per platform order,
//! and keeps whether the waybill has been sent to the platform (attempts, next attempt, last
//! error, sent at). `live_door_pauses`: a sale's door whose slice the merchant took back and
//! that is not topped up again until the sale is bound to the platform again.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000016_live_platform_orders"
    }
}

#[derive(DeriveIden)]
enum LiveOrderLinks {
    Table,
    OrderId,
    FlashSaleId,
    MerchantId,
    Platform,
    PlatformOrderId,
    CreatedAt,
    WaybillAttempts,
    WaybillNextAt,
    WaybillError,
    WaybillSentAt,
}

#[derive(DeriveIden)]
enum LiveDoorPauses {
    Table,
    FlashSaleId,
    Platform,
    PausedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LiveOrderLinks::Table)
                    .col(big_integer(LiveOrderLinks::OrderId).primary_key())
                    .col(big_integer(LiveOrderLinks::FlashSaleId))
                    .col(big_integer(LiveOrderLinks::MerchantId))
                    .col(string(LiveOrderLinks::Platform))
                    .col(string(LiveOrderLinks::PlatformOrderId))
                    .col(big_integer(LiveOrderLinks::CreatedAt))
                    .col(integer(LiveOrderLinks::WaybillAttempts).default(0))
                    .col(big_integer_null(LiveOrderLinks::WaybillNextAt))
                    .col(text_null(LiveOrderLinks::WaybillError))
                    .col(big_integer_null(LiveOrderLinks::WaybillSentAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("live_order_links_platform_order")
                    .table(LiveOrderLinks::Table)
                    .col(LiveOrderLinks::Platform)
                    .col(LiveOrderLinks::PlatformOrderId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("live_order_links_waybill_due")
                    .table(LiveOrderLinks::Table)
                    .col(LiveOrderLinks::WaybillSentAt)
                    .col(LiveOrderLinks::WaybillNextAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LiveDoorPauses::Table)
                    .col(big_integer(LiveDoorPauses::FlashSaleId))
                    .col(string(LiveDoorPauses::Platform))
                    .col(big_integer(LiveDoorPauses::PausedAt))
                    .primary_key(
                        Index::create().col(LiveDoorPauses::FlashSaleId).col(LiveDoorPauses::Platform),
                    )
                    .to_owned(),
            )
            .await
    }
}
