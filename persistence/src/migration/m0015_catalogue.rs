//! The catalogue: a product's merchant code, specs (as JSON), after-sales shipping rule, state
//! reasons and revision; its SKUs (`product_skus`, one default SKU for every product stored
//! before), images (`product_images`), edit history (`product_revisions`); and which SKU a
//! flash sale draws on (`sale_skus`, with the unsold units given back once it settled). A sale
//! created before this migration has no `sale_skus` row: its units stay where they were.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000015_catalogue"
    }
}

#[derive(DeriveIden)]
enum Products {
    Table,
    ProductCode,
    Specs,
    ReturnShipping,
    StateReason,
    Revision,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProductSkus {
    Table,
    Id,
    ProductId,
    MerchantId,
    Code,
    SpecValues,
    PriceFen,
    Stock,
    LowStockThreshold,
    Position,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProductImages {
    Table,
    Id,
    ProductId,
    Position,
    ObjectKey,
    ThumbKey,
    ContentType,
    Bytes,
    Width,
    Height,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProductRevisions {
    Table,
    Id,
    ProductId,
    Revision,
    Snapshot,
    EditedBy,
    EditedAt,
}

#[derive(DeriveIden)]
enum SaleSkus {
    Table,
    FlashSaleId,
    SkuId,
    ProductId,
    UnsoldReturned,
    ReturnedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        let columns = [
            ColumnDef::new(Products::ProductCode).string().null().to_owned(),
            ColumnDef::new(Products::Specs).text().not_null().default("[]").to_owned(),
            ColumnDef::new(Products::ReturnShipping).string().not_null().default("buyer").to_owned(),
            ColumnDef::new(Products::StateReason).string().null().to_owned(),
            ColumnDef::new(Products::Revision).big_integer().not_null().default(1).to_owned(),
            ColumnDef::new(Products::UpdatedAt).big_integer().not_null().default(0).to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(Table::alter().table(Products::Table).add_column(&mut column).to_owned())
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("products_merchant_code")
                    .table(Products::Table)
                    .col(Alias::new("merchant_id"))
                    .col(Products::ProductCode)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProductSkus::Table)
                    .col(big_pk_auto(ProductSkus::Id))
                    .col(big_integer(ProductSkus::ProductId))
                    .col(big_integer(ProductSkus::MerchantId))
                    .col(string(ProductSkus::Code))
                    .col(text(ProductSkus::SpecValues))
                    .col(big_integer(ProductSkus::PriceFen))
                    .col(big_integer(ProductSkus::Stock))
                    .col(big_integer(ProductSkus::LowStockThreshold))
                    .col(big_integer(ProductSkus::Position))
                    .col(big_integer(ProductSkus::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("product_skus_code")
                    .table(ProductSkus::Table)
                    .col(ProductSkus::ProductId)
                    .col(ProductSkus::Code)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProductImages::Table)
                    .col(big_pk_auto(ProductImages::Id))
                    .col(big_integer(ProductImages::ProductId))
                    .col(big_integer(ProductImages::Position))
                    .col(string(ProductImages::ObjectKey))
                    .col(string(ProductImages::ThumbKey))
                    .col(string(ProductImages::ContentType))
                    .col(big_integer(ProductImages::Bytes))
                    .col(big_integer(ProductImages::Width))
                    .col(big_integer(ProductImages::Height))
                    .col(big_integer(ProductImages::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("product_images_product")
                    .table(ProductImages::Table)
                    .col(ProductImages::ProductId)
                    .col(ProductImages::Position)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProductRevisions::Table)
                    .col(big_pk_auto(ProductRevisions::Id))
                    .col(big_integer(ProductRevisions::ProductId))
                    .col(big_integer(ProductRevisions::Revision))
                    .col(text(ProductRevisions::Snapshot))
                    .col(string(ProductRevisions::EditedBy))
                    .col(big_integer(ProductRevisions::EditedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("product_revisions_product")
                    .table(ProductRevisions::Table)
                    .col(ProductRevisions::ProductId)
                    .col(ProductRevisions::Revision)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SaleSkus::Table)
                    .col(big_integer(SaleSkus::FlashSaleId).primary_key())
                    .col(big_integer(SaleSkus::SkuId))
                    .col(big_integer(SaleSkus::ProductId))
                    .col(big_integer_null(SaleSkus::UnsoldReturned))
                    .col(big_integer_null(SaleSkus::ReturnedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sale_skus_due")
                    .table(SaleSkus::Table)
                    .col(SaleSkus::ReturnedAt)
                    .to_owned(),
            )
            .await?;
        // Every product stored before has one default SKU holding its price and stock.
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO product_skus \
             (product_id, merchant_id, code, spec_values, price_fen, stock, low_stock_threshold, position, created_at) \
             SELECT id, merchant_id, 'default', '{}', price_fen, stock, 0, 0, created_at FROM products",
        )
        .await?;
        db.execute_unprepared("UPDATE products SET updated_at = created_at").await?;
        Ok(())
    }
}
