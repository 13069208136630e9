//! The application's use cases: what joins the engine's rules, the actors, the database and
//! the outside systems into one step a caller asks for. No HTTP here: the gateway parses,
//! authenticates, calls one of these and renders the answer.
//!
//! - [`payments`]: creating a payment with failover, applying a verified payment report, the
//!   active query, the refund worker and the daily reconciliation, behind [`payments::Payments`].
//! - [`addresses`]: a buyer's saved addresses and an order's shipping address.
//! - [`buyer_codes`]: the verified-buyer login codes.
//! - [`catalogue`]: products with specs and SKUs, the banned-word check, the review queue,
//!   pictures, bulk import, and unsold units given back to their SKU.
//! - [`dashboard`]: a merchant's period report (CSV, XLSX) and the live boards' figures.
//! - [`statements`]: a merchant's ledger statement as CSV; [`time`]: the API's RFC 3339 text.
//! - [`fulfilment`]: shipping a paid order (typed waybill or e-waybill), labels (100 × 150 mm
//!   PDF, Code 128, an embedded CJK subset), tracking pushes, receipt and completion.
//! - [`orders`]: a merchant's order list (filters, keyset paging) and its CSV / XLSX exports.
//! - [`notifications`]: the outbox worker (SMS and WeChat subscription messages, backoff,
//!   dead letters and their replay) and the notification templates.
//! - [`merchants`]: merchants' qualification — document uploads behind an object store and
//!   the automated review through the verification service.
//! - [`live`]: the Douyin and Kuaishou shops a merchant binds (OAuth round trip, tokens
//!   sealed at rest, the refresh sweep, revocation).
//! - [`sales`]: a sale's stock actor, rebuilt from its stored orders (also on demand).
//! - [`accounts`]: password hashing with bounded work, the per-account log-in throttle, the
//!   token-version memory, bearer tokens, operators' roles and accounts.
//! - [`admission`]: the in-flight cap and the token buckets that refuse work before it starts.
//! - [`demo`]: demo mode's seeded merchant, sale and admin; [`kept_keys`]: the bundled
//!   sandboxes' keys, generated once and kept.

pub mod accounts;
pub mod addresses;
pub mod admission;
pub mod buyer_codes;
pub mod catalogue;
pub mod dashboard;
pub mod demo;
pub mod fulfilment;
pub mod kept_keys;
pub mod live;
pub mod merchants;
pub mod notifications;
pub mod orders;
pub mod payments;
pub mod sales;
pub mod statements;
#[cfg(test)]
mod testing;
pub mod time;
