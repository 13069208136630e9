//! The outside world's wire protocols and their clients: every system the platform talks to
//! that it does not run itself.
//!
//! - [`payments`]: WeChat Pay API v3 and Alipay behind one [`payments::PaymentChannel`]
//!   trait, and [`payments::Channels`] (preference order, failover with a cool-down).
//! - [`sms`]: text messages to fans' phones behind the [`sms::SmsSender`] port; Tencent Cloud
//!   SMS (API 3.0, TC3-HMAC-SHA256) first, for buyers' login codes.
//! - [`live`]: the live-commerce platforms (Douyin shop 抖店, Kuaishou shop 快手小店) behind
//!   [`live::LivePlatform`]: OAuth grants, items and SKU stock, orders, waybills, pushes.
//! - [`wechat_mp`]: WeChat mini-program subscription messages (`subscribeMessage.send`) with
//!   access-token caching and refresh.
//! - [`crypto`]: what several providers share — SHA256withRSA, PEM in and out, nonces, the
//!   channels' key material.
//!
//! Each provider has its folder with the same shape: `protocol` (pure functions over keys,
//! headers and bodies, shared by the client, its sandbox and the tests), `client` (the HTTP
//! client that signs every request and verifies every answer), and whatever else the provider
//! has (a daily bill). The couriers' e-waybill and tracking, the live platforms (Douyin 抖店,
//! Kuaishou 快手小店) and the identity and enterprise verification service go here too, each
//! in its folder of that shape; their sandboxes go in the `sandbox` crate.
//!
//! This crate knows engine types and nothing of HTTP serving, actors or the database: time is
//! read through [`engine::time::Clock`], answers are plain values.

pub mod couriers;
pub mod crypto;
pub mod live;
pub mod payments;
pub mod sms;
pub mod tencent_cloud;
pub mod verification;
pub mod wechat_mp;
