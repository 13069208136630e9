//! Fulfilment: what happens to a paid order until it is completed — the shipment (typed
//! waybill or e-waybill), the label ([`label`]), tracking pushes, receipt and completion
//! ([`shipping`]).

pub mod label;
pub mod shipping;
