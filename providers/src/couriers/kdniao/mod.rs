//! KDNiao (快递鸟): e-waybills (1007) and tracking (1008, pushed back as 101) for SF, the
//! 四通一达 and the other couriers through one protocol.

pub mod client;
pub mod protocol;

pub use client::{CourierAccount, Kdniao, KdniaoConfig};
