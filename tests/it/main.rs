//! Integration tests: the real server over real HTTP, on a fresh database per test.
//!
//! SQLite by default; set `TEST_DATABASE_URL=postgres://…` to run every test against Postgres
//! (each test creates and drops its own database).

mod aftersales;
mod bad_input;
mod buyer_codes;
mod caps;
mod catalogue;
mod conformance;
mod consoles;
mod courier_conformance;
mod crash;
mod expiry;
mod fulfilment;
mod helpers;
mod lifecycle;
mod live;
mod logins;
mod newcomer;
mod openapi;
mod operators;
mod pages;
mod payments;
mod production;
mod sms_conformance;
mod storm;
mod trust;
