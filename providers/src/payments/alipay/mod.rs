//! Alipay open platform (RSA2): [`protocol`] (signed parameters, notifications, times),
//! [`client`] (the HTTP client) and [`bill`] (the daily business detail bill).

pub mod bill;
pub mod client;
pub mod protocol;

pub use client::AlipayClient;
