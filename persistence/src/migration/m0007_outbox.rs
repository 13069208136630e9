//! The notification outbox: one row per notice and channel, written in the same transaction
//! as the change it reports, unique by its dedupe key; the worker's attempts, next attempt
//! time (also its lease while it sends) and dead letters. And a buyer's WeChat openid, the
//! address of subscription messages.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000007_outbox"
    }
}

#[derive(DeriveIden)]
enum OutboxMessages {
    Table,
    Id,
    DedupeKey,
    Channel,
    Kind,
    OrderId,
    Params,
    State,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
    UpdatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum Buyers {
    Table,
    WechatOpenid,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OutboxMessages::Table)
                    .col(big_pk_auto(OutboxMessages::Id))
                    .col(string_uniq(OutboxMessages::DedupeKey))
                    .col(string(OutboxMessages::Channel))
                    .col(string(OutboxMessages::Kind))
                    .col(big_integer(OutboxMessages::OrderId))
                    .col(text(OutboxMessages::Params))
                    .col(string(OutboxMessages::State))
                    .col(integer(OutboxMessages::Attempts))
                    .col(big_integer(OutboxMessages::NextAttemptAt))
                    .col(string_null(OutboxMessages::LastError))
                    .col(big_integer(OutboxMessages::CreatedAt))
                    .col(big_integer(OutboxMessages::UpdatedAt))
                    .col(big_integer_null(OutboxMessages::DeliveredAt))
                    .to_owned(),
            )
            .await?;
        // The worker reads the pending rows that are due; operators read the dead letters.
        manager
            .create_index(
                Index::create()
                    .name("outbox_messages_state_due")
                    .table(OutboxMessages::Table)
                    .col(OutboxMessages::State)
                    .col(OutboxMessages::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Buyers::Table)
                    .add_column(ColumnDef::new(Buyers::WechatOpenid).string().null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
