//! Merchant qualification: one submitted qualification per merchant with its review state and
//! reasons, the document images behind it, and bans with the licence and ID numbers they bar
//! from signing up again. Every ban and unban is also written to `audit_log` in the same
//! transaction.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000008_qualification"
    }
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MerchantQualifications {
    Table,
    MerchantId,
    /// Raised by each submission; a review result is written only for the revision it read.
    Revision,
    EntityType,
    BusinessName,
    LicenceNumber,
    LegalPersonName,
    LegalPersonIdNo,
    ContactName,
    ContactPhone,
    /// JSON array of category keys.
    Categories,
    /// JSON array of `{kind, number}`.
    Permits,
    /// `pending`, `manual`, `approved` or `rejected` (`none` is the absence of a row).
    ReviewState,
    /// JSON array of `{field, code, message}`.
    ReviewReasons,
    SubmittedAt,
    ReviewedAt,
}

#[derive(DeriveIden)]
enum MerchantDocuments {
    Table,
    Id,
    MerchantId,
    Kind,
    /// The object store's key.
    Path,
    ContentType,
    SizeBytes,
    Width,
    Height,
    Sha256,
    UploadedAt,
}

#[derive(DeriveIden)]
enum MerchantBans {
    Table,
    Id,
    MerchantId,
    Reason,
    BannedBy,
    BannedAt,
    LiftedAt,
    LiftedBy,
    LiftReason,
}

#[derive(DeriveIden)]
enum BannedNumbers {
    Table,
    Id,
    BanId,
    /// `licence_number` or `id_no`.
    Kind,
    Number,
}

fn merchant_fk(table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(table, column).to(Merchants::Table, Merchants::Id).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MerchantQualifications::Table)
                    .col(big_integer(MerchantQualifications::MerchantId).primary_key())
                    .col(big_integer(MerchantQualifications::Revision))
                    .col(string(MerchantQualifications::EntityType))
                    .col(string_null(MerchantQualifications::BusinessName))
                    .col(string_null(MerchantQualifications::LicenceNumber))
                    .col(string(MerchantQualifications::LegalPersonName))
                    .col(string(MerchantQualifications::LegalPersonIdNo))
                    .col(string(MerchantQualifications::ContactName))
                    .col(string(MerchantQualifications::ContactPhone))
                    .col(text(MerchantQualifications::Categories))
                    .col(text(MerchantQualifications::Permits))
                    .col(string(MerchantQualifications::ReviewState))
                    .col(text(MerchantQualifications::ReviewReasons))
                    .col(big_integer(MerchantQualifications::SubmittedAt))
                    .col(big_integer_null(MerchantQualifications::ReviewedAt))
                    .foreign_key(&mut merchant_fk(
                        MerchantQualifications::Table,
                        MerchantQualifications::MerchantId,
                    ))
                    .to_owned(),
            )
            .await?;
        // The operators' queue (state `manual`) and the check that a licence or ID number is
        // not already another merchant's.
        for (name, column) in [
            ("merchant_qualifications_state", MerchantQualifications::ReviewState),
            ("merchant_qualifications_licence", MerchantQualifications::LicenceNumber),
            ("merchant_qualifications_id_no", MerchantQualifications::LegalPersonIdNo),
        ] {
            manager
                .create_index(
                    Index::create().name(name).table(MerchantQualifications::Table).col(column).to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(MerchantDocuments::Table)
                    .col(big_pk_auto(MerchantDocuments::Id))
                    .col(big_integer(MerchantDocuments::MerchantId))
                    .col(string(MerchantDocuments::Kind))
                    .col(string(MerchantDocuments::Path))
                    .col(string(MerchantDocuments::ContentType))
                    .col(big_integer(MerchantDocuments::SizeBytes))
                    .col(integer(MerchantDocuments::Width))
                    .col(integer(MerchantDocuments::Height))
                    .col(string(MerchantDocuments::Sha256))
                    .col(big_integer(MerchantDocuments::UploadedAt))
                    .foreign_key(&mut merchant_fk(MerchantDocuments::Table, MerchantDocuments::MerchantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("merchant_documents_merchant_kind")
                    .table(MerchantDocuments::Table)
                    .col(MerchantDocuments::MerchantId)
                    .col(MerchantDocuments::Kind)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MerchantBans::Table)
                    .col(big_pk_auto(MerchantBans::Id))
                    .col(big_integer(MerchantBans::MerchantId))
                    .col(text(MerchantBans::Reason))
                    .col(string(MerchantBans::BannedBy))
                    .col(big_integer(MerchantBans::BannedAt))
                    .col(big_integer_null(MerchantBans::LiftedAt))
                    .col(string_null(MerchantBans::LiftedBy))
                    .col(text_null(MerchantBans::LiftReason))
                    .foreign_key(&mut merchant_fk(MerchantBans::Table, MerchantBans::MerchantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("merchant_bans_merchant")
                    .table(MerchantBans::Table)
                    .col(MerchantBans::MerchantId)
                    .col(MerchantBans::LiftedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BannedNumbers::Table)
                    .col(big_pk_auto(BannedNumbers::Id))
                    .col(big_integer(BannedNumbers::BanId))
                    .col(string(BannedNumbers::Kind))
                    .col(string(BannedNumbers::Number))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BannedNumbers::Table, BannedNumbers::BanId)
                            .to(MerchantBans::Table, MerchantBans::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Sign-up looks a number up.
        manager
            .create_index(
                Index::create()
                    .name("banned_numbers_kind_number")
                    .table(BannedNumbers::Table)
                    .col(BannedNumbers::Kind)
                    .col(BannedNumbers::Number)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
