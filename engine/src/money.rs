//! Money is an integer number of fen (分, 1/100 CNY). Never floating point.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of money in fen. Arithmetic is checked: an overflow is a bug or bad input,
/// never a silently wrong amount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub const fn as_i64(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }

    pub fn checked_mul(self, times: u32) -> Option<Fen> {
        self.0.checked_mul(i64::from(times)).map(Fen)
    }
}

impl fmt::Display for Fen {
    /// Renders as yuan with two decimals, e.g. `Fen(990)` → `9.90`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_yuan() {
        assert_eq!(Fen(990).to_string(), "9.90");
        assert_eq!(Fen(5).to_string(), "0.05");
        assert_eq!(Fen(-1234).to_string(), "-12.34");
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Fen(i64::MAX).checked_add(Fen(1)), None);
        assert_eq!(Fen(i64::MAX).checked_mul(2), None);
        assert_eq!(Fen(300).checked_mul(3), Some(Fen(900)));
        assert_eq!(Fen(3).checked_sub(Fen(5)), Some(Fen(-2)));
    }
}
