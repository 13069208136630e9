//! WeChat Pay API v3: [`protocol`] (signatures, encryption, times), [`client`] (the HTTP
//! client) and [`bill`] (the daily trade bill).

pub mod bill;
pub mod client;
pub mod protocol;

pub use client::WechatClient;
