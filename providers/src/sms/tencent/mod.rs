//! Tencent Cloud SMS (API 3.0, `SendSms` version 2021-01-11): the wire protocol and the
//! client. The bundled sandbox speaks the same protocol with its own keys.

pub mod client;
pub mod protocol;

pub use client::{TencentSms, TencentSmsConfig};
