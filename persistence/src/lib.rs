//! Storage of the flash-sale engine: sea-orm entities and migrations for SQLite (the embedded
//! default) and Postgres through the same code, repositories, and the write-behind journal
//! writer that turns the actors' events into group-committed transactions.
//!
//! Repositories answer in domain types (engine types or plain records such as
//! [`repo::ProductRecord`]); the sea-orm entities stay inside this crate's queries and tests.
//!
//! The database is the system of record. Actor state is never stored as such: it is rebuilt
//! from the orders table at start ([`repo::orders_of_sale`] feeding
//! [`engine::FlashSale::restore`]).

pub mod access;
pub mod addresses;
pub mod buyer_codes;
pub mod catalogue;
pub mod db;
pub mod entities;
pub mod health;
pub mod journal;
pub mod live;
pub mod live_orders;
pub mod migration;
pub mod money;
pub mod order_lists;
pub mod order_log;
pub mod outbox;
pub mod payments;
pub mod qualification;
pub mod refunds;
pub mod repo;
pub mod reports;
pub mod shipments;
pub mod trust;

pub use db::{Backend, connect};
pub use journal::{WriterSettings, WriterStatus, run_writer, run_writer_with_log};
pub use sea_orm::{DatabaseConnection, DbErr};
