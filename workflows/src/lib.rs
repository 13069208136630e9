//! The application's use cases: what joins the engine's rules, the actors, the database and
//! the outside systems into one step a caller asks for. No HTTP here: the gateway parses,
//! authenticates, calls one of these and renders the answer.
//!
//! - [`payments`]: creating a payment with failover, applying a verified payment report, the
//!   active query, the refund worker and the daily reconciliation, behind [`payments::Payments`].
//! - [`addresses`]: a buyer's saved addresses and an order's shipping address.
//! - [`buyer_codes`]: the verified-buyer login codes.
//! - [`notifications`]: the outbox worker (SMS and WeChat subscription messages, backoff,
//!   dead letters and their replay) and the notification templates.
//! - [`sales`]: a sale's stock actor, rebuilt from its stored orders (also on demand).
//! - [`accounts`]: password hashing with bounded work, the per-account log-in throttle and the
//!   token-version memory.

pub mod accounts;
pub mod addresses;
pub mod buyer_codes;
pub mod notifications;
pub mod payments;
pub mod sales;
#[cfg(test)]
mod testing;
