//! Fulfilment: what happens to a paid order until it is delivered. So far the shipping
//! label ([`label`]); shipments, tracking and completion join it.

pub mod label;
