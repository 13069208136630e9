//! Conversions between engine timestamps and the RFC 3339 text of the HTTP API.

use chrono::{DateTime, SecondsFormat, Utc};
use engine::Timestamp;

/// `2026-11-25T08:30:00.000Z`: UTC, millisecond precision, always the same shape, so that a
/// replayed answer is byte for byte the first one.
pub fn rfc3339(at: Timestamp) -> String {
    DateTime::<Utc>::from_timestamp_millis(at.as_millis())
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses RFC 3339 with any offset into a UTC timestamp.
pub fn parse_rfc3339(raw: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(raw).ok().map(|t| Timestamp(t.timestamp_millis()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let at = parse_rfc3339("2026-11-25T16:30:00+08:00").unwrap();
        assert_eq!(rfc3339(at), "2026-11-25T08:30:00.000Z");
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
