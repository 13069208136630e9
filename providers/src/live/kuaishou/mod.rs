//! The Kuaishou shop open platform (快手小店): [`protocol`] (signing, OAuth answers, push
//! decryption) and [`client`] ([`KuaishouShop`], the [`crate::live::LivePlatform`] adapter).

pub mod client;
pub mod protocol;

pub use client::{KuaishouShop, KuaishouShopConfig};
