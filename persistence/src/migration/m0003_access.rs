//! Who may do what: named operator accounts with roles, the audit log of what they did, and
//! the token versions that revoke a merchant's sessions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000003_access"
    }
}

#[derive(DeriveIden)]
enum Operators {
    Table,
    Id,
    Username,
    PasswordHash,
    Role,
    TokenVersion,
    DisabledAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    OperatorId,
    Username,
    Role,
    Action,
    Target,
    Details,
    CreatedAt,
}

/// A table of its own rather than a column of `merchants`: only log-in, "log out everywhere"
/// and the token check touch it, and the merchants row stays as every other query reads it.
#[derive(DeriveIden)]
enum MerchantTokenVersions {
    Table,
    MerchantId,
    TokenVersion,
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Operators::Table)
                    .col(big_pk_auto(Operators::Id))
                    .col(string_uniq(Operators::Username))
                    .col(string(Operators::PasswordHash))
                    .col(string(Operators::Role))
                    .col(big_integer(Operators::TokenVersion).default(0))
                    .col(big_integer_null(Operators::DisabledAt))
                    .col(big_integer(Operators::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(big_pk_auto(AuditLog::Id))
                    .col(big_integer_null(AuditLog::OperatorId))
                    .col(string(AuditLog::Username))
                    .col(string(AuditLog::Role))
                    .col(string(AuditLog::Action))
                    .col(string(AuditLog::Target))
                    .col(text(AuditLog::Details))
                    .col(big_integer(AuditLog::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditLog::Table, AuditLog::OperatorId)
                            .to(Operators::Table, Operators::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_log_operator")
                    .table(AuditLog::Table)
                    .col(AuditLog::OperatorId)
                    .col(AuditLog::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MerchantTokenVersions::Table)
                    .col(big_integer(MerchantTokenVersions::MerchantId).primary_key())
                    .col(big_integer(MerchantTokenVersions::TokenVersion))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MerchantTokenVersions::Table, MerchantTokenVersions::MerchantId)
                            .to(Merchants::Table, Merchants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
