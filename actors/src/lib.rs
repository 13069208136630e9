//! Actix actors of the flash-sale engine.
//!
//! - [`stock::StockActor`]: one per flash sale; the only owner of that sale's
//!   [`engine::FlashSale`], so every reservation is decided by one thread, in mailbox order.
//! - [`registry::StockRegistry`]: finds or starts the actor of a sale and hands out
//!   [`registry::SaleHandle`]s that the gateway uses without a message (gauge, which buyers
//!   may have ordered: [`ordered`]); a settled sale's actor leaves it and stops.
//! - [`holds::UnpaidHolds`]: unpaid orders per buyer and per network across sales, kept by
//!   the stock actors.
//! - [`settlement`]: one settlement actor per merchant, the only writer of that merchant's
//!   ledger, captures, withdrawals, KYC flag and split rule; its [`settlement::SettlementRegistry`]
//!   starts it from the stored books on first use.
//! - [`journal`]: the port through which actors persist what they decided. The actors only
//!   append; the persistence crate drains it and reports what is durable.

pub mod clock;
pub mod gauge;
pub mod holds;
pub mod ids;
pub mod journal;
pub mod ordered;
pub mod registry;
pub mod settlement;
pub mod stock;

pub use clock::{Clock, SystemClock};
pub use gauge::SaleGauge;
pub use holds::{CapReached, HoldCaps, UnpaidHolds};
pub use ids::OrderIds;
pub use journal::{AppliedMarker, DoorEvent, Journal, JournalEvent, JournalReceiver, Seq};
pub use registry::{ActorSettings, MailboxFull, SaleHandle, StartFailure, StockRegistry, StoredDoors};
pub use settlement::{
    PaymentOutcome, PaymentReport, PlatformPayment, RefundReason, SettleError, SettlementHandle,
    SettlementRegistry, SettlementSettings, StartError, Unavailable,
};
pub use stock::{
    CancelFailure, ConfirmFailure, Confirmed, DoorChanged, DoorFailure, PlaceError, PlaceRequest, Placed,
    RestockFailure,
};
