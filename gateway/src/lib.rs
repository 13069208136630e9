//! The HTTP gateway of the flash-sale engine and everything the `flashsale` binary wires
//! together: configuration, authentication, admission control, routes, start-up recovery and
//! graceful shutdown.
//!
//! Handlers are thin: parse into engine types, check the caller, ask a stock actor, a
//! repository or a workflow (`workflows`), render. The hot path is
//! `routes::orders::place_order`.

pub mod access;
pub mod admission;
pub mod app;
pub mod auth;
pub mod cli;
pub mod client;
pub mod error;
pub mod openapi;
pub mod pages;
pub mod routes;
pub mod telemetry;
pub mod trust;
pub mod wiring;

pub use app::{AppState, Application};
pub use settings::Settings;
pub use workflows::time;
