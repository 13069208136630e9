//! Values parsed from untrusted input. Each constructor is the only way to build its type, so
//! holding one means it was checked.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why an input value was refused. The messages are shown to API callers.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InputError {
    #[error("phone must be a mainland China mobile number: 11 digits starting with 13-19")]
    Phone,
    #[error("idempotency key must be 1 to {max} visible ASCII characters", max = IdempotencyKey::MAX_LEN)]
    IdempotencyKey,
    #[error("quantity must be a whole number from 1 to {max}", max = Quantity::MAX)]
    Quantity,
    #[error("code must be the 6 digits sent by SMS")]
    LoginCode,
}

/// A mainland China mobile number, e.g. `13800138000`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let raw = raw.trim();
        let bytes = raw.as_bytes();
        let well_formed = bytes.len() == 11
            && bytes[0] == b'1'
            && (b'3'..=b'9').contains(&bytes[1])
            && bytes.iter().all(u8::is_ascii_digit);
        if well_formed { Ok(Self(raw.to_owned())) } else { Err(InputError::Phone) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The client's `Idempotency-Key`: the same key with the same body gets the same answer.
///
/// One allocation shared by every copy: the order, the buyer's receipts and the journal each
/// hold the key, and cloning it is a reference count, not a string copy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(Arc<str>);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let ok = !raw.is_empty() && raw.len() <= Self::MAX_LEN && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok { Ok(Self(Arc::from(raw))) } else { Err(InputError::IdempotencyKey) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many units one order asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Quantity(u32);

impl Quantity {
    /// No single order may ask for more than this, whatever the sale allows.
    pub const MAX: u32 = 10_000;

    pub fn parse(raw: i64) -> Result<Self, InputError> {
        match u32::try_from(raw) {
            Ok(q) if (1..=Self::MAX).contains(&q) => Ok(Self(q)),
            _ => Err(InputError::Quantity),
        }
    }

    pub const fn get(self) -> u32 {
        self.0
    }
}

/// The network a request came from: the unit of every per-network limit. One IPv4 address, or
/// one IPv6 /64 (what a single subscriber line is usually given, so the 2^64 addresses behind
/// it count as one client). An IPv4-mapped IPv6 address is its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ClientNetwork(IpAddr);

impl ClientNetwork {
    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => Self(IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX)))),
            },
        }
    }

    /// Reads the text [`fmt::Display`] writes (`203.0.113.7`, `2001:db8:1:2::/64`).
    pub fn parse(raw: &str) -> Option<Self> {
        let address = match raw.strip_suffix("/64") {
            Some(v6) => IpAddr::V6(v6.parse().ok()?),
            None => IpAddr::V4(raw.parse().ok()?),
        };
        let network = Self::of(address);
        (network.0 == address).then_some(network)
    }
}

impl fmt::Display for ClientNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => v4.fmt(f),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

impl From<ClientNetwork> for String {
    fn from(network: ClientNetwork) -> Self {
        network.to_string()
    }
}

impl TryFrom<String> for ClientNetwork {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw).ok_or_else(|| format!("not a client network: {raw}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert!(Phone::parse("13800138000").is_ok());
        assert!(Phone::parse(" 19912345678 ").is_ok());
        for bad in
            ["", "1380013800", "138001380000", "12800138000", "23800138000", "1380013800a", "+8613800138000"]
        {
            assert_eq!(Phone::parse(bad), Err(InputError::Phone), "{bad}");
        }
    }

    #[test]
    fn idempotency_keys() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(64)).is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(65)).is_err());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse("中文").is_err());
    }

    #[test]
    fn quantities() {
        assert_eq!(Quantity::parse(1).map(Quantity::get), Ok(1));
        assert_eq!(Quantity::parse(10_000).map(Quantity::get), Ok(10_000));
        for bad in [0, -1, 10_001, i64::MAX, i64::MIN] {
            assert_eq!(Quantity::parse(bad), Err(InputError::Quantity), "{bad}");
        }
    }

    #[test]
    fn networks_group_ipv6_by_64_and_round_trip() {
        let of = |raw: &str| ClientNetwork::of(raw.parse().unwrap());
        let rows = [
            ("203.0.113.7", "203.0.113.7"),
            ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
            ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
            ("::ffff:198.51.100.9", "198.51.100.9"),
            ("::1", "::/64"),
        ];
        for (address, network) in rows {
            assert_eq!(of(address).to_string(), network, "{address}");
            assert_eq!(ClientNetwork::parse(network), Some(of(address)), "{network}");
        }
        assert_eq!(of("2001:db8:1:2::1"), of("2001:db8:1:2:ffff::9"));
        assert_ne!(of("2001:db8:1:2::1"), of("2001:db8:1:3::1"));
        assert_ne!(of("203.0.113.7"), of("203.0.113.8"));
        for bad in ["", "2001:db8::1", "2001:db8::1/64", "203.0.113.7/64", "1.2.3.4/32", "x"] {
            assert_eq!(ClientNetwork::parse(bad), None, "{bad}");
        }
    }
}
