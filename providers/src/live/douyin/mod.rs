//! The Douyin shop open platform (抖店): [`protocol`] (signing, envelope, push) and
//! [`client`] ([`DouyinShop`], the [`crate::live::LivePlatform`] adapter).

pub mod client;
pub mod protocol;

pub use client::{DouyinShop, DouyinShopConfig};
