//! Durations as people write them (`500ms`, `30s`, `5m`, `1h30m`, `7d`) and as files
//! store them (whole seconds).

use std::time::Duration;

/// Parses `500ms`, `30s`, `5m`, `1h30m`, `7d`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    if text.trim() != text || text.is_empty() {
        return None;
    }
    humantime::parse_duration(text).ok()
}

/// Formats a duration the way it is written: `1d`, `1h 30m`, `27m 50s`, `500ms`, `0s`
/// (sub-second parts of longer durations are dropped).
pub fn format_duration(duration: Duration) -> String {
    let total = duration.as_secs();
    if total == 0 {
        let millis = duration.as_millis();
        return if millis == 0 {
            "0s".to_string()
        } else {
            format!("{millis}ms")
        };
    }
    if total.is_multiple_of(86_400) {
        return format!("{}d", total / 86_400);
    }
    let parts = [
        (total / 3_600, "h"),
        (total % 3_600 / 60, "m"),
        (total % 60, "s"),
    ];
    let parts: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    parts.join(" ")
}

/// `format_duration` of the whole seconds (`0s` under a second): how plans and
/// reports show estimates, RPOs and ages.
pub fn format_seconds(duration: Duration) -> String {
    format_duration(Duration::from_secs(duration.as_secs()))
}

/// Serializes a duration as whole seconds.
pub mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(duration.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_secs)
    }
}

/// Serializes a duration as whole milliseconds.
pub mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_refuse_bare_numbers() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("ten minutes"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn durations_print_as_written() {
        assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
        assert_eq!(format_duration(Duration::from_secs(7 * 86_400)), "7d");
        assert_eq!(format_duration(Duration::from_secs(5_400)), "1h 30m");
        assert_eq!(format_duration(Duration::from_secs(1_670)), "27m 50s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
