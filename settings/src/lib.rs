//! What the operator of a deployment decides: the typed settings of `config.toml` and the
//! environment ([`Settings`]), the checks that refuse an unsafe production start
//! ([`production`]), which proxies are believed about who is calling ([`proxies`]), and each
//! component's own settings struct made from them (`Settings::stock_actors`, …).
//!
//! Read once at start-up by the `flashsale` binary; nothing here does I/O after that.

mod components;
pub mod production;
pub mod proxies;
mod sections;
pub mod trust;

pub use sections::*;
