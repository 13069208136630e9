//! Time as a value (unix milliseconds, always passed in by the caller) and the port through
//! which the shell reads it.

use serde::{Deserialize, Serialize};

/// A point in time, in milliseconds since the unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// `self + millis`, saturating: deadlines far in the future stay far in the future.
    pub const fn plus_millis(self, millis: i64) -> Self {
        Self(self.0.saturating_add(millis))
    }
}

/// A source of the current time: the port through which the shell (actors, channel clients)
/// reads it. Declared here so that every crate names the same trait; the engine itself never
/// calls it, its functions take `now` as an argument.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}
