//! Shipping addresses as the buyer uses them: saved addresses (validated, bounded per buyer,
//! listed masked) and the address an order ships to, taken from a saved one or typed, set
//! only by the order's buyer and only while it is unpaid. The rules are
//! `engine::address`'s; storage is `persistence::addresses`.

use engine::address::{AddressError, AddressInput, MaskedAddress, ShippingAddress};
use engine::{BuyerId, OrderId, Timestamp};
use persistence::addresses::{self, OrderAddressError, SaveAddressError, SavedAddress};
use persistence::{DatabaseConnection, DbErr};
use thiserror::Error;

/// Why an address was not saved or set.
#[derive(Debug, Error)]
pub enum AddressFailure {
    #[error(transparent)]
    Invalid(#[from] AddressError),
    #[error("at most {max} addresses may be saved")]
    TooMany { max: u64 },
    /// The saved address or the order is not the buyer's (or does not exist).
    #[error("not found")]
    NotFound,
    #[error("the order is {0}, its address can no longer change")]
    NotPending(&'static str),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<SaveAddressError> for AddressFailure {
    fn from(error: SaveAddressError) -> Self {
        match error {
            SaveAddressError::TooMany { max } => AddressFailure::TooMany { max },
            SaveAddressError::Db(e) => AddressFailure::Db(e),
        }
    }
}

impl From<OrderAddressError> for AddressFailure {
    fn from(error: OrderAddressError) -> Self {
        match error {
            OrderAddressError::NotFound => AddressFailure::NotFound,
            OrderAddressError::NotPending(state) => AddressFailure::NotPending(state),
            OrderAddressError::Db(e) => AddressFailure::Db(e),
        }
    }
}

/// A saved address as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedAddress {
    pub id: i64,
    pub is_default: bool,
    pub address: MaskedAddress,
}

/// Validates and saves an address for `buyer`.
pub async fn save(
    db: &DatabaseConnection,
    buyer: BuyerId,
    input: &AddressInput<'_>,
    make_default: bool,
    now: Timestamp,
) -> Result<SavedAddress, AddressFailure> {
    let address = ShippingAddress::parse(input)?;
    Ok(addresses::save(db, buyer, &address, make_default, now).await?)
}

/// The buyer's saved addresses, masked, the default first.
pub async fn list(db: &DatabaseConnection, buyer: BuyerId) -> Result<Vec<ListedAddress>, DbErr> {
    let saved = addresses::of_buyer(db, buyer).await?;
    Ok(saved
        .into_iter()
        .map(|s| ListedAddress { id: s.id, is_default: s.is_default, address: s.address.masked() })
        .collect())
}

/// Where the order ships to: one of the buyer's saved addresses, or one typed for it.
pub enum OrderAddress<'a> {
    Saved(i64),
    Typed(AddressInput<'a>),
}

/// Sets the address of `order` for its buyer while it is unpaid.
pub async fn set_for_order(
    db: &DatabaseConnection,
    order: OrderId,
    buyer: BuyerId,
    source: OrderAddress<'_>,
    now: Timestamp,
) -> Result<ShippingAddress, AddressFailure> {
    let address = match source {
        OrderAddress::Saved(id) => {
            addresses::saved(db, buyer, id).await?.ok_or(AddressFailure::NotFound)?.address
        }
        OrderAddress::Typed(input) => ShippingAddress::parse(&input)?,
    };
    addresses::set_for_order(db, order, buyer, &address, now).await?;
    Ok(address)
}

#[cfg(test)]
mod tests;
