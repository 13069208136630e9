//! A merchant's orders: the list with its filters and keyset paging ([`list`]), each order's
//! address shown whole only while there is something to ship, and exports as CSV or XLSX
//! ([`export`]), answered at once when small and as a job with a download link when large.
//! The HTTP API and the merchant console both read orders through here.

pub mod export;

use std::collections::HashMap;

use engine::address::{MaskedAddress, ShippingAddress};
use engine::{FlashSaleId, MerchantId, Order, OrderState, Timestamp};
use persistence::order_lists::{self, Cursor, OrderFilter};
use persistence::shipments::{self, ShipmentRecord};
use persistence::{DatabaseConnection, DbErr, addresses};
use thiserror::Error;

use crate::fulfilment::shipping::address_is_whole;
use crate::time::parse_rfc3339;

/// Rows one page holds at most.
pub const MAX_PAGE: u64 = 100;

/// An address as the merchant may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShownAddress {
    Whole(ShippingAddress),
    Masked(MaskedAddress),
}

/// One order of a list.
#[derive(Debug, Clone)]
pub struct OrderRow {
    pub order: Order,
    pub address: Option<ShownAddress>,
    pub shipment: Option<ShipmentRecord>,
}

/// A page of a list and where the next one starts.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub rows: Vec<OrderRow>,
    /// `None` on the last page.
    pub next: Option<String>,
}

/// The list's parameters as the caller sent them, text.
#[derive(Debug, Clone, Default)]
pub struct OrderQuery<'a> {
    /// An order state, or `to_ship` (= `paid`).
    pub state: Option<&'a str>,
    pub flash_sale_id: Option<i64>,
    /// RFC 3339: created at or after.
    pub from: Option<&'a str>,
    /// RFC 3339: created before.
    pub to: Option<&'a str>,
    pub cursor: Option<&'a str>,
    pub limit: Option<u64>,
}

#[derive(Debug, Error)]
pub enum ListError {
    #[error("state must be to_ship or an order state (pending_payment, paid, shipped, completed, …)")]
    InvalidState,
    #[error("{0} must be an RFC 3339 time")]
    InvalidTime(&'static str),
    #[error("from must be before to")]
    EmptyRange,
    #[error("cursor is not one this list gave")]
    InvalidCursor,
    #[error("limit must be 1 to {MAX_PAGE}")]
    InvalidLimit,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The filter a query asks for.
pub fn parse_filter(query: &OrderQuery<'_>) -> Result<OrderFilter, ListError> {
    let state = match query.state {
        None | Some("") => None,
        Some("to_ship") => Some(OrderState::Paid),
        Some(raw) => Some(OrderState::parse(raw).ok_or(ListError::InvalidState)?),
    };
    let time = |raw: Option<&str>, name: &'static str| -> Result<Option<Timestamp>, ListError> {
        match raw {
            None | Some("") => Ok(None),
            Some(raw) => parse_rfc3339(raw).map(Some).ok_or(ListError::InvalidTime(name)),
        }
    };
    let (from, to) = (time(query.from, "from")?, time(query.to, "to")?);
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(ListError::EmptyRange);
    }
    Ok(OrderFilter { state, flash_sale_id: query.flash_sale_id.map(FlashSaleId), from, to })
}

fn encode_cursor(order: &Order) -> String {
    format!("{}_{}", order.created_at.as_millis(), order.id.0)
}

fn decode_cursor(raw: &str) -> Result<Cursor, ListError> {
    let (at, id) = raw.split_once('_').ok_or(ListError::InvalidCursor)?;
    Ok(Cursor {
        created_at: Timestamp(at.parse().map_err(|_| ListError::InvalidCursor)?),
        id: id.parse().map_err(|_| ListError::InvalidCursor)?,
    })
}

/// Joins each order with its address (whole while there is something to ship) and shipment.
pub async fn rows_of(db: &DatabaseConnection, orders: Vec<Order>) -> Result<Vec<OrderRow>, DbErr> {
    let ids: Vec<_> = orders.iter().map(|o| o.id).collect();
    let mut addresses: HashMap<_, _> = addresses::of_orders(db, &ids).await?.into_iter().collect();
    let mut shipments: HashMap<_, _> =
        shipments::of_orders(db, &ids).await?.into_iter().map(|s| (s.order_id, s)).collect();
    Ok(orders
        .into_iter()
        .map(|order| {
            let shipment = shipments.remove(&order.id);
            let address = addresses.remove(&order.id).map(|a| {
                if address_is_whole(order.state, shipment.as_ref()) {
                    ShownAddress::Whole(a)
                } else {
                    ShownAddress::Masked(a.masked())
                }
            });
            OrderRow { order, address, shipment }
        })
        .collect())
}

/// A page of `merchant`'s orders, newest first.
pub async fn list(
    db: &DatabaseConnection,
    merchant: MerchantId,
    query: &OrderQuery<'_>,
) -> Result<OrderPage, ListError> {
    let filter = parse_filter(query)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ListError::InvalidLimit);
    }
    let cursor = query.cursor.filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
    // One more than asked tells whether there is a next page.
    let mut orders = order_lists::merchant_orders(db, merchant, &filter, cursor, limit + 1).await?;
    let more = orders.len() as u64 > limit;
    orders.truncate(limit as usize);
    let next = if more { orders.last().map(encode_cursor) } else { None };
    Ok(OrderPage { rows: rows_of(db, orders).await?, next })
}

/// One of `merchant`'s orders (another merchant's is not found).
pub async fn detail(
    db: &DatabaseConnection,
    merchant: MerchantId,
    order: engine::OrderId,
) -> Result<Option<OrderRow>, DbErr> {
    let Some(order) = persistence::repo::order(db, order).await?.filter(|o| o.merchant_id == merchant) else {
        return Ok(None);
    };
    Ok(rows_of(db, vec![order]).await?.pop())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_cursors_parse_or_say_why_not() {
        let query = OrderQuery {
            state: Some("to_ship"),
            flash_sale_id: Some(7),
            from: Some("2026-11-25T00:00:00+08:00"),
            to: Some("2026-11-26T00:00:00Z"),
            ..OrderQuery::default()
        };
        let filter = parse_filter(&query).unwrap();
        assert_eq!(filter.state, Some(OrderState::Paid));
        assert_eq!(filter.flash_sale_id, Some(FlashSaleId(7)));
        assert_eq!(filter.from, parse_rfc3339("2026-11-24T16:00:00Z"));
        assert!(matches!(
            parse_filter(&OrderQuery { state: Some("lost"), ..OrderQuery::default() }),
            Err(ListError::InvalidState)
        ));
        assert!(matches!(
            parse_filter(&OrderQuery { from: Some("yesterday"), ..OrderQuery::default() }),
            Err(ListError::InvalidTime("from"))
        ));
        assert!(matches!(
            parse_filter(&OrderQuery {
                from: Some("2026-11-26T00:00:00Z"),
                to: Some("2026-11-26T00:00:00Z"),
                ..OrderQuery::default()
            }),
            Err(ListError::EmptyRange)
        ));
        assert_eq!(
            decode_cursor("1700000000000_42").unwrap(),
            Cursor { created_at: Timestamp(1_700_000_000_000), id: 42 }
        );
        assert!(decode_cursor("42").is_err() && decode_cursor("a_b").is_err());
    }
}
