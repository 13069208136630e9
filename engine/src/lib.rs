//! The pure domain of the flash-sale engine: values in, values out.
//!
//! Nothing here does I/O, spawns, awaits or reads a clock: time is passed in as a
//! [`Timestamp`]. The actors own instances of these types and the gateway parses raw input into
//! them once, at the edge.

pub mod address;
pub mod aftersales;
pub mod books;
pub mod buyer_code;
pub mod calendar;
pub mod catalogue;
pub mod content;
pub mod divisions;
pub mod ids;
pub mod input;
pub mod ledger;
pub mod money;
pub mod notification;
pub mod op;
pub mod order;
pub mod payment;
pub mod qualification;
pub mod sale;
pub mod settlement;
pub mod time;

pub use calendar::BeijingDay;
pub use ids::{BuyerId, FlashSaleId, MerchantId, OrderId, PaymentId, ProductId, RefundId, WithdrawalId};
pub use input::{ClientNetwork, IdempotencyKey, InputError, Phone, Quantity};
pub use money::Fen;
pub use order::{NotPayable, Order, OrderState, Receipt, StateChange};
pub use sale::doors::{Door, DoorError, DoorOrder, DoorOutcome, DoorUnits, PLATFORM_BUYER, Slice};
pub use sale::{
    CancelError, ConfirmError, FlashSale, Release, Reservation, ReserveError, ReserveRequest, RestockError,
    Restocked, RestoreError, SaleTerms, StockCounts, TermsError,
};
pub use time::Timestamp;
