//! Shipping addresses in storage: a buyer's saved addresses (at most
//! [`MAX_SAVED_ADDRESSES`], counted under a lock on the buyer's row) and the address each
//! order ships to, which only its buyer sets, and only while the order is pending.
//! Everything answers in [`ShippingAddress`], read back through the division table.

use engine::address::{MAX_SAVED_ADDRESSES, ShippingAddress};
use engine::{BuyerId, OrderId, OrderState, Phone, Timestamp};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use thiserror::Error;

use crate::entities::{buyer, buyer_address, order, order_address};

/// A saved address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedAddress {
    pub id: i64,
    pub buyer_id: BuyerId,
    pub address: ShippingAddress,
    pub is_default: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Error)]
pub enum SaveAddressError {
    #[error("at most {max} addresses may be saved")]
    TooMany { max: u64 },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Why an order's address was not set.
#[derive(Debug, Error)]
pub enum OrderAddressError {
    /// No such order of this buyer (someone else's order looks the same).
    #[error("order not found")]
    NotFound,
    /// Paid, expired or cancelled: the address is fixed once the order is paid.
    #[error("the order is {0}, its address can no longer change")]
    NotPending(&'static str),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn restore(name: String, phone: &str, district_code: i32, detail: String) -> Result<ShippingAddress, DbErr> {
    let phone = Phone::parse(phone).map_err(|_| DbErr::Custom(format!("stored address phone {phone:?}")))?;
    let code = u32::try_from(district_code).map_err(|_| DbErr::Custom("stored district code".into()))?;
    ShippingAddress::restore(name, phone, code, detail)
        .ok_or_else(|| DbErr::Custom(format!("stored district code {district_code} is not in the table")))
}

fn saved_of(row: buyer_address::Model) -> Result<SavedAddress, DbErr> {
    Ok(SavedAddress {
        id: row.id,
        buyer_id: BuyerId(row.buyer_id),
        address: restore(row.name, &row.phone, row.district_code, row.detail)?,
        is_default: row.is_default,
        created_at: Timestamp(row.created_at),
        updated_at: Timestamp(row.updated_at),
    })
}

fn district_code(address: &ShippingAddress) -> i32 {
    i32::try_from(address.district_code).expect("district codes have 6 digits")
}

/// Saves an address for `buyer`; the first one, or one asked to be, becomes the default.
pub async fn save(
    db: &DatabaseConnection,
    buyer: BuyerId,
    address: &ShippingAddress,
    make_default: bool,
    now: Timestamp,
) -> Result<SavedAddress, SaveAddressError> {
    let txn = crate::db::begin_write(db).await?;
    // The first statement is a write on the buyer's row: on Postgres it locks the row until
    // commit, on SQLite it takes the write lock, so two saves at once count each other.
    buyer::Entity::update_many()
        .col_expr(buyer::Column::CreatedAt, Expr::col(buyer::Column::CreatedAt))
        .filter(buyer::Column::Id.eq(buyer.0))
        .exec(&txn)
        .await?;
    let count =
        buyer_address::Entity::find().filter(buyer_address::Column::BuyerId.eq(buyer.0)).count(&txn).await?;
    if count >= MAX_SAVED_ADDRESSES {
        return Err(SaveAddressError::TooMany { max: MAX_SAVED_ADDRESSES });
    }
    let is_default = make_default || count == 0;
    if is_default {
        clear_default(&txn, buyer).await?;
    }
    let row = buyer_address::ActiveModel {
        id: NotSet,
        buyer_id: Set(buyer.0),
        name: Set(address.name.clone()),
        phone: Set(address.phone.as_str().to_owned()),
        district_code: Set(district_code(address)),
        province: Set(address.province.clone()),
        city: Set(address.city.clone()),
        district: Set(address.district.clone()),
        detail: Set(address.detail.clone()),
        is_default: Set(is_default),
        created_at: Set(now.as_millis()),
        updated_at: Set(now.as_millis()),
    };
    let id = buyer_address::Entity::insert(row).exec(&txn).await?.last_insert_id;
    txn.commit().await?;
    Ok(SavedAddress {
        id,
        buyer_id: buyer,
        address: address.clone(),
        is_default,
        created_at: now,
        updated_at: now,
    })
}

async fn clear_default(txn: &impl ConnectionTrait, buyer: BuyerId) -> Result<(), DbErr> {
    buyer_address::Entity::update_many()
        .col_expr(buyer_address::Column::IsDefault, Expr::value(false))
        .filter(buyer_address::Column::BuyerId.eq(buyer.0))
        .filter(buyer_address::Column::IsDefault.eq(true))
        .exec(txn)
        .await
        .map(drop)
}

/// A buyer's addresses, the default first, then the newest.
pub async fn of_buyer(db: &DatabaseConnection, buyer: BuyerId) -> Result<Vec<SavedAddress>, DbErr> {
    buyer_address::Entity::find()
        .filter(buyer_address::Column::BuyerId.eq(buyer.0))
        .order_by_desc(buyer_address::Column::IsDefault)
        .order_by_desc(buyer_address::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(saved_of)
        .collect()
}

/// One of `buyer`'s addresses (another buyer's is not found).
pub async fn saved(db: &DatabaseConnection, buyer: BuyerId, id: i64) -> Result<Option<SavedAddress>, DbErr> {
    let row = buyer_address::Entity::find_by_id(id)
        .filter(buyer_address::Column::BuyerId.eq(buyer.0))
        .one(db)
        .await?;
    row.map(saved_of).transpose()
}

/// Replaces one of `buyer`'s addresses; whether it existed.
pub async fn update(
    db: &DatabaseConnection,
    buyer: BuyerId,
    id: i64,
    address: &ShippingAddress,
    make_default: bool,
    now: Timestamp,
) -> Result<bool, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    if make_default {
        clear_default(&txn, buyer).await?;
    }
    let mut update = buyer_address::Entity::update_many()
        .col_expr(buyer_address::Column::Name, Expr::value(address.name.clone()))
        .col_expr(buyer_address::Column::Phone, Expr::value(address.phone.as_str()))
        .col_expr(buyer_address::Column::DistrictCode, Expr::value(district_code(address)))
        .col_expr(buyer_address::Column::Province, Expr::value(address.province.clone()))
        .col_expr(buyer_address::Column::City, Expr::value(address.city.clone()))
        .col_expr(buyer_address::Column::District, Expr::value(address.district.clone()))
        .col_expr(buyer_address::Column::Detail, Expr::value(address.detail.clone()))
        .col_expr(buyer_address::Column::UpdatedAt, Expr::value(now.as_millis()));
    if make_default {
        update = update.col_expr(buyer_address::Column::IsDefault, Expr::value(true));
    }
    let updated = update
        .filter(buyer_address::Column::Id.eq(id))
        .filter(buyer_address::Column::BuyerId.eq(buyer.0))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(false); // dropped: rolls back the cleared default
    }
    txn.commit().await?;
    Ok(true)
}

/// Deletes one of `buyer`'s addresses; whether it existed. Orders keep their own copy.
pub async fn delete(db: &DatabaseConnection, buyer: BuyerId, id: i64) -> Result<bool, DbErr> {
    let deleted = buyer_address::Entity::delete_many()
        .filter(buyer_address::Column::Id.eq(id))
        .filter(buyer_address::Column::BuyerId.eq(buyer.0))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected == 1)
}

/// Sets (or replaces) where `order` ships to, if it is `buyer`'s and still pending.
pub async fn set_for_order(
    db: &DatabaseConnection,
    order_id: OrderId,
    buyer: BuyerId,
    address: &ShippingAddress,
    now: Timestamp,
) -> Result<(), OrderAddressError> {
    let txn = crate::db::begin_write(db).await?;
    // Touching the order's row first locks it (Postgres) or the database (SQLite) until
    // commit, so the state read below cannot change before the address is written, except
    // through the journal writer, which waits for this commit.
    let touched = order::Entity::update_many()
        .col_expr(order::Column::UpdatedAt, Expr::col(order::Column::UpdatedAt))
        .filter(order::Column::Id.eq(order_id.0))
        .filter(order::Column::BuyerId.eq(buyer.0))
        .exec(&txn)
        .await?;
    if touched.rows_affected != 1 {
        return Err(OrderAddressError::NotFound);
    }
    let row = order::Entity::find_by_id(order_id.0).one(&txn).await?.ok_or(OrderAddressError::NotFound)?;
    let state =
        OrderState::parse(&row.state).ok_or_else(|| DbErr::Custom(format!("order {order_id} state")))?;
    if state != OrderState::PendingPayment {
        return Err(OrderAddressError::NotPending(state.as_str()));
    }
    let row = order_address::ActiveModel {
        order_id: Set(order_id.0),
        buyer_id: Set(buyer.0),
        name: Set(address.name.clone()),
        phone: Set(address.phone.as_str().to_owned()),
        district_code: Set(district_code(address)),
        province: Set(address.province.clone()),
        city: Set(address.city.clone()),
        district: Set(address.district.clone()),
        detail: Set(address.detail.clone()),
        created_at: Set(now.as_millis()),
        updated_at: Set(now.as_millis()),
    };
    let columns = [
        order_address::Column::Name,
        order_address::Column::Phone,
        order_address::Column::DistrictCode,
        order_address::Column::Province,
        order_address::Column::City,
        order_address::Column::District,
        order_address::Column::Detail,
        order_address::Column::UpdatedAt,
    ];
    order_address::Entity::insert(row)
        .on_conflict(OnConflict::column(order_address::Column::OrderId).update_columns(columns).to_owned())
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Where `order` ships to, if its buyer said.
pub async fn of_order(
    db: &impl ConnectionTrait,
    order_id: OrderId,
) -> Result<Option<ShippingAddress>, DbErr> {
    let row = order_address::Entity::find_by_id(order_id.0).one(db).await?;
    row.map(|r| restore(r.name, &r.phone, r.district_code, r.detail)).transpose()
}

/// Where each of `orders` ships to, for those whose buyer said.
pub async fn of_orders(
    db: &DatabaseConnection,
    orders: &[OrderId],
) -> Result<Vec<(OrderId, ShippingAddress)>, DbErr> {
    if orders.is_empty() {
        return Ok(Vec::new());
    }
    order_address::Entity::find()
        .filter(order_address::Column::OrderId.is_in(orders.iter().map(|o| o.0)))
        .all(db)
        .await?
        .into_iter()
        .map(|r| Ok((OrderId(r.order_id), restore(r.name, &r.phone, r.district_code, r.detail)?)))
        .collect()
}
