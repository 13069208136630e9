//! After-sales refunds: a buyer's request (whole or part of an order's payment, with a reason),
//! the merchant's decision, where the units went and when the channel paid it back. And a
//! product's after-sales policy: whether it takes no-reason returns after delivery (七天无理由),
//! on by default.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000009_aftersales"
    }
}

#[derive(DeriveIden)]
enum RefundRequests {
    Table,
    Id,
    OrderId,
    FlashSaleId,
    MerchantId,
    BuyerId,
    PaymentId,
    AmountFen,
    Units,
    Reason,
    Note,
    State,
    Restock,
    DecisionReason,
    RestockedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    NoReasonReturns,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RefundRequests::Table)
                    .col(big_pk_auto(RefundRequests::Id))
                    .col(big_integer(RefundRequests::OrderId))
                    .col(big_integer(RefundRequests::FlashSaleId))
                    .col(big_integer(RefundRequests::MerchantId))
                    .col(big_integer(RefundRequests::BuyerId))
                    .col(big_integer(RefundRequests::PaymentId))
                    .col(big_integer(RefundRequests::AmountFen))
                    .col(integer(RefundRequests::Units))
                    .col(string(RefundRequests::Reason))
                    .col(string(RefundRequests::Note))
                    .col(string(RefundRequests::State))
                    .col(string_null(RefundRequests::Restock))
                    .col(string(RefundRequests::DecisionReason))
                    .col(big_integer_null(RefundRequests::RestockedAt))
                    .col(big_integer(RefundRequests::CreatedAt))
                    .col(big_integer(RefundRequests::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Merchants list theirs; an order's requests are summed; the worker reads by state.
        for (name, columns) in [
            ("refund_requests_merchant", [RefundRequests::MerchantId, RefundRequests::Id]),
            ("refund_requests_order", [RefundRequests::OrderId, RefundRequests::Id]),
            ("refund_requests_state", [RefundRequests::State, RefundRequests::Id]),
            ("refund_requests_sale", [RefundRequests::FlashSaleId, RefundRequests::Id]),
        ] {
            let mut index = Index::create();
            index.name(name).table(RefundRequests::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .add_column(ColumnDef::new(Products::NoReasonReturns).boolean().not_null().default(true))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
