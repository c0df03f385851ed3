//! `expires` timestamps: read leniently (fractional seconds, offsets), written as `...Z`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Parses an RFC 3339 timestamp (`2030-01-01T00:00:00Z`, `...00.123Z`, `...+02:00`).
pub fn parse_expires(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Formats a timestamp as TUF writes it: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_expires(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_expires(t))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    parse_expires(&s).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "{s:?} is not an RFC 3339 timestamp like 2030-01-01T00:00:00Z"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fractions_and_offsets_writes_z() {
        let a = parse_expires("2030-01-01T00:00:00.123Z").unwrap();
        assert_eq!(format_expires(&a), "2030-01-01T00:00:00Z");
        let b = parse_expires("2030-01-01T02:00:00+02:00").unwrap();
        assert_eq!(format_expires(&b), "2030-01-01T00:00:00Z");
        assert!(parse_expires("2030-01-01").is_none());
        assert!(parse_expires("soon").is_none());
    }
}
