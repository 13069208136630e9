//! Shipments and tracking: one shipment per order (the courier, its waybill number, the
//! sender it leaves from, where the parcel is, when it was delivered and when the order
//! completed), unique by `(courier, waybill_no)` so that a push names one order; and the
//! tracking events the courier pushed, unique per order by `(at, description)` so that a
//! repeated push stores nothing twice.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000009_shipments"
    }
}

#[derive(DeriveIden)]
enum Shipments {
    Table,
    OrderId,
    MerchantId,
    Courier,
    WaybillNo,
    ElectronicWaybill,
    SortCode,
    PackageCenter,
    Sender,
    TrackingState,
    CreatedAt,
    UpdatedAt,
    DeliveredAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum TrackingEvents {
    Table,
    Id,
    OrderId,
    At,
    Description,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Shipments::Table)
                    .col(big_integer(Shipments::OrderId).primary_key())
                    .col(big_integer(Shipments::MerchantId))
                    .col(string(Shipments::Courier))
                    .col(string(Shipments::WaybillNo))
                    .col(boolean(Shipments::ElectronicWaybill))
                    .col(string_null(Shipments::SortCode))
                    .col(string_null(Shipments::PackageCenter))
                    .col(text_null(Shipments::Sender))
                    .col(string(Shipments::TrackingState))
                    .col(big_integer(Shipments::CreatedAt))
                    .col(big_integer(Shipments::UpdatedAt))
                    .col(big_integer_null(Shipments::DeliveredAt))
                    .col(big_integer_null(Shipments::CompletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("shipments_courier_waybill")
                    .table(Shipments::Table)
                    .col(Shipments::Courier)
                    .col(Shipments::WaybillNo)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The completion sweep reads delivered, not yet completed shipments, oldest first.
        manager
            .create_index(
                Index::create()
                    .name("shipments_delivered_open")
                    .table(Shipments::Table)
                    .col(Shipments::CompletedAt)
                    .col(Shipments::DeliveredAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TrackingEvents::Table)
                    .col(big_pk_auto(TrackingEvents::Id))
                    .col(big_integer(TrackingEvents::OrderId))
                    .col(big_integer(TrackingEvents::At))
                    .col(string(TrackingEvents::Description))
                    .col(big_integer(TrackingEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tracking_events_once")
                    .table(TrackingEvents::Table)
                    .col(TrackingEvents::OrderId)
                    .col(TrackingEvents::At)
                    .col(TrackingEvents::Description)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The merchant's order list filters by merchant, state and time.
        manager
            .create_index(
                Index::create()
                    .name("orders_merchant_created")
                    .table(Orders::Table)
                    .col(Orders::MerchantId)
                    .col(Orders::CreatedAt)
                    .col(Orders::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    MerchantId,
    CreatedAt,
    Id,
}
