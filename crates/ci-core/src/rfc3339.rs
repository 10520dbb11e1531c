//! Serde support for times in results: RFC 3339 strings in UTC.
//!
//! Use with `#[serde(with = "ci_core::rfc3339")]` on an
//! [`OffsetDateTime`] field. Serializing converts to UTC first, so a
//! result never carries a local offset. Parsing accepts any offset and
//! converts to UTC.

use serde::{Deserialize, Deserializer, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Formats `time` as RFC 3339 in UTC, such as `2026-12-04T16:05:09Z`.
///
/// Fractional seconds appear only when they are non-zero.
pub fn format(time: OffsetDateTime) -> String {
    time.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|error| {
            // NOTE: formatting fails only for years outside 0..=9999, which
            // no clock in use produces.
            format!("invalid-time ({error})")
        })
}

/// Parses an RFC 3339 time and converts it to UTC.
pub fn parse(text: &str) -> Result<OffsetDateTime, time::error::Parse> {
    OffsetDateTime::parse(text, &Rfc3339).map(|time| time.to_offset(UtcOffset::UTC))
}

/// Returns the current time in UTC, truncated to whole milliseconds so that
/// results stay short.
pub fn now_utc() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let millis = now.millisecond();
    now.replace_millisecond(millis).unwrap_or(now)
}

/// Serializes an [`OffsetDateTime`] as an RFC 3339 string in UTC.
pub fn serialize<S: Serializer>(time: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*time))
}

/// Deserializes an RFC 3339 string into an [`OffsetDateTime`] in UTC.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(|error| {
        serde::de::Error::custom(format!(
            "invalid time {text:?}: expected RFC 3339, like 2026-12-04T16:05:09Z ({error})"
        ))
    })
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn format_converts_to_utc() {
        let local = datetime!(2026-12-04 18:05:09 +02:00);
        assert_eq!(format(local), "2026-12-04T16:05:09Z");
    }

    #[test]
    fn format_keeps_fractional_seconds() {
        let time = datetime!(2026-12-04 16:05:09.250 UTC);
        assert_eq!(format(time), "2026-12-04T16:05:09.25Z");
    }

    #[test]
    fn parse_converts_offset_to_utc() {
        let time = parse("2026-12-04T18:05:09+02:00").unwrap();
        assert_eq!(time, datetime!(2026-12-04 16:05:09 UTC));
        assert_eq!(time.offset(), UtcOffset::UTC);
    }

    #[test]
    fn parse_rejects_non_rfc3339() {
        assert!(parse("2026-12-04 16:05:09").is_err());
    }

    #[test]
    fn now_has_whole_milliseconds() {
        let now = now_utc();
        assert_eq!(now.nanosecond() % 1_000_000, 0);
        assert_eq!(now.offset(), UtcOffset::UTC);
    }
}
