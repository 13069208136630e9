//! The merchants' shops on the live platforms: `live_shops` (one row per platform and shop,
//! the grant's tokens encrypted, its state and when it was lost), `live_oauth_states` (the
//! pending authorisation round trips, kept only as a keyed hash of the `state`, single use).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000012_live_shops"
    }
}

#[derive(DeriveIden)]
enum LiveShops {
    Table,
    Id,
    MerchantId,
    Platform,
    ShopId,
    ShopName,
    Status,
    AccessTokenSealed,
    RefreshTokenSealed,
    AccessExpiresAt,
    RefreshExpiresAt,
    Scopes,
    Version,
    BoundAt,
    RefreshedAt,
    DisconnectedAt,
    DisconnectedReason,
}

#[derive(DeriveIden)]
enum LiveOauthStates {
    Table,
    Id,
    StateMac,
    MerchantId,
    Platform,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LiveShops::Table)
                    .col(big_pk_auto(LiveShops::Id))
                    .col(big_integer(LiveShops::MerchantId))
                    .col(string(LiveShops::Platform))
                    .col(string(LiveShops::ShopId))
                    .col(string(LiveShops::ShopName))
                    .col(string(LiveShops::Status))
                    .col(text(LiveShops::AccessTokenSealed))
                    .col(text(LiveShops::RefreshTokenSealed))
                    .col(big_integer(LiveShops::AccessExpiresAt))
                    .col(big_integer(LiveShops::RefreshExpiresAt))
                    .col(string(LiveShops::Scopes))
                    .col(big_integer(LiveShops::Version))
                    .col(big_integer(LiveShops::BoundAt))
                    .col(big_integer_null(LiveShops::RefreshedAt))
                    .col(big_integer_null(LiveShops::DisconnectedAt))
                    .col(string_null(LiveShops::DisconnectedReason))
                    .to_owned(),
            )
            .await?;
        // A shop is bound once per platform; the sweep reads connected grants by expiry.
        manager
            .create_index(
                Index::create()
                    .name("live_shops_platform_shop")
                    .table(LiveShops::Table)
                    .col(LiveShops::Platform)
                    .col(LiveShops::ShopId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("live_shops_status_expiry")
                    .table(LiveShops::Table)
                    .col(LiveShops::Status)
                    .col(LiveShops::AccessExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("live_shops_merchant")
                    .table(LiveShops::Table)
                    .col(LiveShops::MerchantId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LiveOauthStates::Table)
                    .col(big_pk_auto(LiveOauthStates::Id))
                    .col(string_uniq(LiveOauthStates::StateMac))
                    .col(big_integer(LiveOauthStates::MerchantId))
                    .col(string(LiveOauthStates::Platform))
                    .col(big_integer(LiveOauthStates::CreatedAt))
                    .col(big_integer(LiveOauthStates::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("live_oauth_states_merchant")
                    .table(LiveOauthStates::Table)
                    .col(LiveOauthStates::MerchantId)
                    .col(LiveOauthStates::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
