//! The merchants' shops on the live platforms and the authorisation round trips that bind them.
//! Tokens arrive here already sealed (`workflows::live` encrypts them); a `state` arrives as
//! its keyed hash. Every change is one guarded statement or one transaction, so a state opens
//! one binding and a refresh writes only over the grant it read (`version`).
//!
//! And a sale sold through the platforms: its bindings (item and SKU per platform), the
//! journal's door events (slices written whole, platform orders unique by platform and id),
//! and the push message ids applied.

use actors::{DoorEvent, StoredDoors};
use engine::{Door, DoorOrder, DoorUnits, Timestamp};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::entities::live_shop::{self, Column, Entity};
use crate::entities::{live_oauth_state, live_order, live_push_message, live_sale_binding, live_slice};

pub const CONNECTED: &str = "connected";
pub const DISCONNECTED: &str = "disconnected";

/// A bound shop as stored (tokens sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopRecord {
    pub id: i64,
    pub merchant_id: i64,
    pub platform: String,
    pub shop_id: String,
    pub shop_name: String,
    /// [`CONNECTED`] or [`DISCONNECTED`].
    pub status: String,
    pub access_token_sealed: String,
    pub refresh_token_sealed: String,
    pub access_expires_at: Timestamp,
    pub refresh_expires_at: Timestamp,
    pub scopes: Vec<String>,
    pub version: i64,
    pub bound_at: Timestamp,
    pub refreshed_at: Option<Timestamp>,
    pub disconnected_at: Option<Timestamp>,
    pub disconnected_reason: Option<String>,
}

fn record(row: live_shop::Model) -> ShopRecord {
    ShopRecord {
        id: row.id,
        merchant_id: row.merchant_id,
        platform: row.platform,
        shop_id: row.shop_id,
        shop_name: row.shop_name,
        status: row.status,
        access_token_sealed: row.access_token_sealed,
        refresh_token_sealed: row.refresh_token_sealed,
        access_expires_at: Timestamp(row.access_expires_at),
        refresh_expires_at: Timestamp(row.refresh_expires_at),
        scopes: row.scopes.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        version: row.version,
        bound_at: Timestamp(row.bound_at),
        refreshed_at: row.refreshed_at.map(Timestamp),
        disconnected_at: row.disconnected_at.map(Timestamp),
        disconnected_reason: row.disconnected_reason,
    }
}

/// A grant to store, its tokens sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedGrant {
    pub shop_id: String,
    pub shop_name: String,
    pub access_token_sealed: String,
    pub refresh_token_sealed: String,
    pub access_expires_at: Timestamp,
    pub refresh_expires_at: Timestamp,
    pub scopes: Vec<String>,
}

/// Records a round trip's state (as `state_mac`) unless the merchant already has `max_pending`
/// unexpired ones; whether it was recorded. Expired states of the merchant are dropped first.
pub async fn insert_state(
    db: &DatabaseConnection,
    state_mac: &str,
    merchant_id: i64,
    platform: &str,
    now: Timestamp,
    expires_at: Timestamp,
    max_pending: u64,
) -> Result<bool, DbErr> {
    live_oauth_state::Entity::delete_many()
        .filter(live_oauth_state::Column::MerchantId.eq(merchant_id))
        .filter(live_oauth_state::Column::ExpiresAt.lte(now.as_millis()))
        .exec(db)
        .await?;
    let pending = live_oauth_state::Entity::find()
        .filter(live_oauth_state::Column::MerchantId.eq(merchant_id))
        .count(db)
        .await?;
    if pending >= max_pending {
        return Ok(false);
    }
    let row = live_oauth_state::ActiveModel {
        id: NotSet,
        state_mac: Set(state_mac.to_owned()),
        merchant_id: Set(merchant_id),
        platform: Set(platform.to_owned()),
        created_at: Set(now.as_millis()),
        expires_at: Set(expires_at.as_millis()),
    };
    live_oauth_state::Entity::insert(row).exec_without_returning(db).await?;
    Ok(true)
}

/// Uses up the state whose hash is `state_mac`: the merchant it was issued to, when it was
/// issued for `platform` and has not expired. A state is used once whatever the outcome: the
/// row is deleted by the one caller that finds it.
pub async fn take_state(
    db: &DatabaseConnection,
    state_mac: &str,
    platform: &str,
    now: Timestamp,
) -> Result<Option<i64>, DbErr> {
    let Some(row) = live_oauth_state::Entity::find()
        .filter(live_oauth_state::Column::StateMac.eq(state_mac))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let deleted = live_oauth_state::Entity::delete_many()
        .filter(live_oauth_state::Column::Id.eq(row.id))
        .exec(db)
        .await?;
    let valid = deleted.rows_affected == 1 && row.platform == platform && row.expires_at > now.as_millis();
    Ok(valid.then_some(row.merchant_id))
}

/// What storing a grant did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// The shop's row (new, or the merchant's own shop bound again).
    Shop(Box<ShopRecord>),
    /// Another merchant has bound this shop.
    TakenByAnother,
}

/// Binds `grant`'s shop to `merchant_id`: a new row, or the merchant's row of that shop
/// connected again with the new tokens.
pub async fn bind(
    db: &DatabaseConnection,
    merchant_id: i64,
    platform: &str,
    grant: &SealedGrant,
    now: Timestamp,
) -> Result<Bound, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let existing = Entity::find()
        .filter(Column::Platform.eq(platform))
        .filter(Column::ShopId.eq(grant.shop_id.as_str()))
        .one(&txn)
        .await?;
    let scopes = grant.scopes.join(",");
    let row = match existing {
        Some(row) if row.merchant_id != merchant_id => return Ok(Bound::TakenByAnother),
        Some(row) => {
            let mut active: live_shop::ActiveModel = row.clone().into();
            active.shop_name = Set(grant.shop_name.clone());
            active.status = Set(CONNECTED.to_owned());
            active.access_token_sealed = Set(grant.access_token_sealed.clone());
            active.refresh_token_sealed = Set(grant.refresh_token_sealed.clone());
            active.access_expires_at = Set(grant.access_expires_at.as_millis());
            active.refresh_expires_at = Set(grant.refresh_expires_at.as_millis());
            active.scopes = Set(scopes);
            active.version = Set(row.version + 1);
            active.bound_at = Set(now.as_millis());
            active.refreshed_at = Set(None);
            active.disconnected_at = Set(None);
            active.disconnected_reason = Set(None);
            Entity::update(active).exec(&txn).await?
        }
        None => {
            let active = live_shop::ActiveModel {
                id: NotSet,
                merchant_id: Set(merchant_id),
                platform: Set(platform.to_owned()),
                shop_id: Set(grant.shop_id.clone()),
                shop_name: Set(grant.shop_name.clone()),
                status: Set(CONNECTED.to_owned()),
                access_token_sealed: Set(grant.access_token_sealed.clone()),
                refresh_token_sealed: Set(grant.refresh_token_sealed.clone()),
                access_expires_at: Set(grant.access_expires_at.as_millis()),
                refresh_expires_at: Set(grant.refresh_expires_at.as_millis()),
                scopes: Set(scopes),
                version: Set(1),
                bound_at: Set(now.as_millis()),
                refreshed_at: Set(None),
                disconnected_at: Set(None),
                disconnected_reason: Set(None),
            };
            Entity::insert(active).exec_with_returning(&txn).await?
        }
    };
    txn.commit().await?;
    Ok(Bound::Shop(Box::new(record(row))))
}

/// A merchant's shops, oldest binding first.
pub async fn shops_of(db: &DatabaseConnection, merchant_id: i64) -> Result<Vec<ShopRecord>, DbErr> {
    let rows = Entity::find()
        .filter(Column::MerchantId.eq(merchant_id))
        .order_by_asc(Column::Id)
        .limit(crate::live::MAX_SHOPS_LISTED)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(record).collect())
}

/// Shops listed per merchant, at most.
pub const MAX_SHOPS_LISTED: u64 = 100;

/// One shop by its row id.
pub async fn shop(db: &DatabaseConnection, id: i64) -> Result<Option<ShopRecord>, DbErr> {
    Ok(Entity::find_by_id(id).one(db).await?.map(record))
}

/// The merchant's connected shop on `platform` (the latest bound), if any.
pub async fn connected_shop(
    db: &DatabaseConnection,
    merchant_id: i64,
    platform: &str,
) -> Result<Option<ShopRecord>, DbErr> {
    Ok(Entity::find()
        .filter(Column::MerchantId.eq(merchant_id))
        .filter(Column::Platform.eq(platform))
        .filter(Column::Status.eq(CONNECTED))
        .order_by_desc(Column::BoundAt)
        .one(db)
        .await?
        .map(record))
}

/// The connected shop of `platform` whose platform-side id is `shop_id`.
pub async fn shop_by_platform_id(
    db: &DatabaseConnection,
    platform: &str,
    shop_id: &str,
) -> Result<Option<ShopRecord>, DbErr> {
    Ok(Entity::find()
        .filter(Column::Platform.eq(platform))
        .filter(Column::ShopId.eq(shop_id))
        .one(db)
        .await?
        .map(record))
}

/// Connected shops whose access token expires at or before `before`, soonest first, at most
/// `limit`.
pub async fn due_for_refresh(
    db: &DatabaseConnection,
    before: Timestamp,
    limit: u64,
) -> Result<Vec<ShopRecord>, DbErr> {
    let rows = Entity::find()
        .filter(Column::Status.eq(CONNECTED))
        .filter(Column::AccessExpiresAt.lte(before.as_millis()))
        .order_by_asc(Column::AccessExpiresAt)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(record).collect())
}

/// Connected shops, by row id from `after`, at most `limit` (the polling backstop's round).
pub async fn connected_shops(
    db: &DatabaseConnection,
    after: i64,
    limit: u64,
) -> Result<Vec<ShopRecord>, DbErr> {
    let rows = Entity::find()
        .filter(Column::Status.eq(CONNECTED))
        .filter(Column::Id.gt(after))
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(record).collect())
}

/// Stores a refreshed grant over the one read at `version`; whether it was the one stored.
pub async fn store_refreshed(
    db: &DatabaseConnection,
    id: i64,
    version: i64,
    grant: &SealedGrant,
    now: Timestamp,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::AccessTokenSealed, Expr::value(grant.access_token_sealed.clone()))
        .col_expr(Column::RefreshTokenSealed, Expr::value(grant.refresh_token_sealed.clone()))
        .col_expr(Column::AccessExpiresAt, Expr::value(grant.access_expires_at.as_millis()))
        .col_expr(Column::RefreshExpiresAt, Expr::value(grant.refresh_expires_at.as_millis()))
        .col_expr(Column::RefreshedAt, Expr::value(now.as_millis()))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .filter(Column::Id.eq(id))
        .filter(Column::Version.eq(version))
        .filter(Column::Status.eq(CONNECTED))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Marks the shop disconnected (its grant is gone) unless it was bound again since `version`,
/// and writes `notice` (the merchant is told) in the same transaction; whether this call did it.
pub async fn disconnect(
    db: &DatabaseConnection,
    id: i64,
    version: i64,
    reason: &str,
    now: Timestamp,
    notice: &engine::notification::Notice,
) -> Result<bool, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let updated = Entity::update_many()
        .col_expr(Column::Status, Expr::value(DISCONNECTED))
        .col_expr(Column::DisconnectedAt, Expr::value(now.as_millis()))
        .col_expr(Column::DisconnectedReason, Expr::value(reason.chars().take(200).collect::<String>()))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .filter(Column::Id.eq(id))
        .filter(Column::Version.eq(version))
        .filter(Column::Status.eq(CONNECTED))
        .exec(&txn)
        .await?;
    let done = updated.rows_affected == 1;
    if done {
        crate::outbox::enqueue(&txn, notice).await?;
    }
    txn.commit().await?;
    Ok(done)
}

// ---- a sale sold through the live platforms ----

/// A sale's item and SKU on a platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleBinding {
    pub flash_sale_id: engine::FlashSaleId,
    pub platform: String,
    pub live_shop_id: i64,
    pub item_id: String,
    pub sku_id: String,
    pub created_at: Timestamp,
}

fn binding(row: live_sale_binding::Model) -> SaleBinding {
    SaleBinding {
        flash_sale_id: engine::FlashSaleId(row.flash_sale_id),
        platform: row.platform,
        live_shop_id: row.live_shop_id,
        item_id: row.item_id,
        sku_id: row.sku_id,
        created_at: Timestamp(row.created_at),
    }
}

/// Stores a sale's binding to a platform; `false` when the sale is bound there already.
pub async fn insert_binding(db: &DatabaseConnection, b: &SaleBinding) -> Result<bool, DbErr> {
    let row = live_sale_binding::ActiveModel {
        id: NotSet,
        flash_sale_id: Set(b.flash_sale_id.0),
        platform: Set(b.platform.clone()),
        live_shop_id: Set(b.live_shop_id),
        item_id: Set(b.item_id.clone()),
        sku_id: Set(b.sku_id.clone()),
        created_at: Set(b.created_at.as_millis()),
    };
    let inserted = live_sale_binding::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                live_sale_binding::Column::FlashSaleId,
                live_sale_binding::Column::Platform,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// Every sale binding, at most `limit` (a node keeps them in memory to route platform orders).
pub async fn bindings(db: &DatabaseConnection, limit: u64) -> Result<Vec<SaleBinding>, DbErr> {
    let rows = live_sale_binding::Entity::find()
        .order_by_asc(live_sale_binding::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(binding).collect())
}

/// The sale bindings of one sale.
pub async fn bindings_of_sale(
    db: &DatabaseConnection,
    sale: engine::FlashSaleId,
) -> Result<Vec<SaleBinding>, DbErr> {
    let rows = live_sale_binding::Entity::find()
        .filter(live_sale_binding::Column::FlashSaleId.eq(sale.0))
        .order_by_asc(live_sale_binding::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(binding).collect())
}

/// A sale's binding on `platform`, if it is sold there.
pub async fn binding_of_sale(
    db: &DatabaseConnection,
    sale: engine::FlashSaleId,
    platform: &str,
) -> Result<Option<SaleBinding>, DbErr> {
    let row = live_sale_binding::Entity::find()
        .filter(live_sale_binding::Column::FlashSaleId.eq(sale.0))
        .filter(live_sale_binding::Column::Platform.eq(platform))
        .one(db)
        .await?;
    Ok(row.map(binding))
}

fn door_order(row: live_order::Model) -> Option<DoorOrder> {
    Some(DoorOrder {
        door: Door::parse(&row.platform)?,
        platform_order_id: row.platform_order_id,
        quantity: u32::try_from(row.quantity).ok()?,
        amount_fen: engine::Fen(row.amount_fen),
        units: DoorUnits::parse(&row.units)?,
        status: row.status,
        created_at: Timestamp(row.created_at),
        updated_at: Timestamp(row.updated_at),
    })
}

/// What the stock actor of `sale` is rebuilt from, besides its own orders.
pub async fn doors_of_sale(db: &DatabaseConnection, sale: engine::FlashSaleId) -> Result<StoredDoors, DbErr> {
    let slices = live_slice::Entity::find()
        .filter(live_slice::Column::FlashSaleId.eq(sale.0))
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            let door = Door::parse(&row.platform)
                .ok_or_else(|| DbErr::Custom(format!("live slice of unknown platform {}", row.platform)))?;
            let leased = u32::try_from(row.leased).map_err(|e| DbErr::Custom(format!("live slice: {e}")))?;
            Ok((door, leased, u64::try_from(row.lease_seq).unwrap_or(0)))
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    let orders = live_order::Entity::find()
        .filter(live_order::Column::FlashSaleId.eq(sale.0))
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            let id = row.id;
            door_order(row).ok_or_else(|| DbErr::Custom(format!("live order {id} does not parse")))
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    Ok(StoredDoors { slices, orders })
}

/// A sale's platform orders, oldest first, at most `limit` (merchants, tests).
pub async fn orders_of_sale(
    db: &DatabaseConnection,
    sale: engine::FlashSaleId,
    limit: u64,
) -> Result<Vec<DoorOrder>, DbErr> {
    let rows = live_order::Entity::find()
        .filter(live_order::Column::FlashSaleId.eq(sale.0))
        .order_by_asc(live_order::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(door_order).collect())
}

/// The journal writer's side: a door event, inside the batch's transaction. The slice is
/// written whole; the order is inserted or moved to its recorded state.
pub async fn apply_door_event(txn: &DatabaseTransaction, event: &DoorEvent) -> Result<(), DbErr> {
    let slice = live_slice::ActiveModel {
        flash_sale_id: Set(event.flash_sale_id.0),
        platform: Set(event.door.as_str().to_owned()),
        leased: Set(i64::from(event.slice.leased)),
        lease_seq: Set(i64::try_from(event.slice.lease_seq).unwrap_or(i64::MAX)),
        updated_at: Set(event.at.as_millis()),
        // A lease records its units; other events leave the last lease's as they are.
        lease_units: if event.granted > 0 { Set(i64::from(event.granted)) } else { NotSet },
        // Written by the workflow once the platform's stock holds the lease.
        placed_seq: NotSet,
    };
    let mut updated =
        vec![live_slice::Column::Leased, live_slice::Column::LeaseSeq, live_slice::Column::UpdatedAt];
    if event.granted > 0 {
        updated.push(live_slice::Column::LeaseUnits);
    }
    live_slice::Entity::insert(slice)
        .on_conflict(
            OnConflict::columns([live_slice::Column::FlashSaleId, live_slice::Column::Platform])
                .update_columns(updated)
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    if let Some(order) = &event.order {
        let row = live_order::ActiveModel {
            id: NotSet,
            flash_sale_id: Set(event.flash_sale_id.0),
            platform: Set(order.door.as_str().to_owned()),
            platform_order_id: Set(order.platform_order_id.clone()),
            quantity: Set(i64::from(order.quantity)),
            amount_fen: Set(order.amount_fen.as_i64()),
            units: Set(order.units.as_str().to_owned()),
            status: Set(order.status.clone()),
            created_at: Set(order.created_at.as_millis()),
            updated_at: Set(order.updated_at.as_millis()),
        };
        live_order::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([live_order::Column::Platform, live_order::Column::PlatformOrderId])
                    .update_columns([
                        live_order::Column::Units,
                        live_order::Column::Status,
                        live_order::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// Whether a push message was applied before.
pub async fn message_seen(db: &DatabaseConnection, platform: &str, message_id: &str) -> Result<bool, DbErr> {
    Ok(live_push_message::Entity::find_by_id((platform.to_owned(), message_id.to_owned()))
        .one(db)
        .await?
        .is_some())
}

/// Records a push message as applied (a second record of the same id changes nothing).
pub async fn record_message(
    db: &DatabaseConnection,
    platform: &str,
    message_id: &str,
    now: Timestamp,
) -> Result<(), DbErr> {
    let row = live_push_message::ActiveModel {
        platform: Set(platform.to_owned()),
        message_id: Set(message_id.to_owned()),
        received_at: Set(now.as_millis()),
    };
    live_push_message::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([live_push_message::Column::Platform, live_push_message::Column::MessageId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Units a sale sold through the platforms and still leases to them (for a sale with no
/// actor, read from what was journaled).
pub async fn sale_door_units(
    db: &DatabaseConnection,
    sale: engine::FlashSaleId,
) -> Result<(u32, u32), DbErr> {
    let stored = doors_of_sale(db, sale).await?;
    let sold: u32 = stored.orders.iter().filter(|o| o.units == DoorUnits::Sold).map(|o| o.quantity).sum();
    let leased: u32 = stored.slices.iter().map(|(_, leased, _)| *leased).sum();
    Ok((sold, leased))
}

/// Slices that still hold units, at most `limit`: `(sale, platform)`.
pub async fn held_slices(
    db: &DatabaseConnection,
    limit: u64,
) -> Result<Vec<(engine::FlashSaleId, String)>, DbErr> {
    let rows = live_slice::Entity::find()
        .filter(live_slice::Column::Leased.gt(0))
        .order_by_asc(live_slice::Column::FlashSaleId)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (engine::FlashSaleId(r.flash_sale_id), r.platform)).collect())
}

/// A lease journaled and not known to be on the platform's stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnplacedLease {
    pub flash_sale_id: engine::FlashSaleId,
    pub platform: String,
    pub lease_seq: u64,
    pub units: u32,
}

/// Slices whose last lease has not been placed on the platform's stock (the process died, or
/// the platform did not answer, between the lease and its stock call), at most `limit`.
pub async fn unplaced_leases(db: &DatabaseConnection, limit: u64) -> Result<Vec<UnplacedLease>, DbErr> {
    let rows = live_slice::Entity::find()
        .filter(live_slice::Column::LeaseUnits.gt(0))
        .filter(Expr::col(live_slice::Column::PlacedSeq).lt(Expr::col(live_slice::Column::LeaseSeq)))
        .order_by_asc(live_slice::Column::FlashSaleId)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| UnplacedLease {
            flash_sale_id: engine::FlashSaleId(r.flash_sale_id),
            platform: r.platform,
            lease_seq: u64::try_from(r.lease_seq).unwrap_or(0),
            units: u32::try_from(r.lease_units).unwrap_or(0),
        })
        .collect())
}

/// The platform's stock holds lease `lease_seq` of the slice (and every one before it).
pub async fn mark_lease_placed(
    db: &DatabaseConnection,
    sale: engine::FlashSaleId,
    platform: &str,
    lease_seq: u64,
) -> Result<(), DbErr> {
    let seq = i64::try_from(lease_seq).unwrap_or(i64::MAX);
    live_slice::Entity::update_many()
        .col_expr(live_slice::Column::PlacedSeq, Expr::value(seq))
        .filter(live_slice::Column::FlashSaleId.eq(sale.0))
        .filter(live_slice::Column::Platform.eq(platform))
        .filter(live_slice::Column::PlacedSeq.lt(seq))
        .exec(db)
        .await?;
    Ok(())
}

/// The slice's last lease when it has not been placed on the platform's stock.
pub async fn unplaced_lease(
    db: &DatabaseConnection,
    sale: engine::FlashSaleId,
    platform: &str,
) -> Result<Option<UnplacedLease>, DbErr> {
    let row = live_slice::Entity::find_by_id((sale.0, platform.to_owned())).one(db).await?;
    Ok(row.filter(|r| r.lease_units > 0 && r.placed_seq < r.lease_seq).map(|r| UnplacedLease {
        flash_sale_id: sale,
        platform: r.platform,
        lease_seq: u64::try_from(r.lease_seq).unwrap_or(0),
        units: u32::try_from(r.lease_units).unwrap_or(0),
    }))
}
