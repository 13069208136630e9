//! The application's use cases: what joins the engine's rules, the actors, the database and
//! the outside systems into one step a caller asks for. No HTTP here: the gateway parses,
//! authenticates, calls one of these and renders the answer.
//!
//! - [`payments`]: creating a payment with failover, applying a verified payment report, the
//!   active query, the refund worker and the daily reconciliation, behind [`payments::Payments`].
//! - [`buyer_codes`]: the verified-buyer login codes.
//! - [`merchants`]: merchants' qualification — document uploads behind an object store and
//!   the automated review through the verification service.
//! - [`sales`]: a sale's stock actor, rebuilt from its stored orders (also on demand).
//! - [`accounts`]: password hashing with bounded work, the per-account log-in throttle and the
//!   token-version memory.

pub mod accounts;
pub mod buyer_codes;
pub mod merchants;
pub mod payments;
pub mod sales;
