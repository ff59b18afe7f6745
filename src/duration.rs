//! Durations as people write them (`500ms`, `30s`, `5m`, `1h30m`, `7d`) and as files
//! store them (whole seconds), never longer than [`MAX_DURATION`].

use std::time::Duration;

/// The longest duration drplan accepts: a year (`1y`, `366d`). Bounded durations keep
/// every sum, product and deadline drplan computes far from overflowing.
pub const MAX_DURATION: Duration = Duration::from_hours(8784);

/// Why a text is not a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadDuration {
    /// Not a number and a unit.
    Unreadable,
    /// Longer than [`MAX_DURATION`].
    TooLong,
}

/// Parses `500ms`, `30s`, `5m`, `1h30m`, `7d`, up to [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, BadDuration> {
    if text.trim() != text || text.is_empty() {
        return Err(BadDuration::Unreadable);
    }
    match humantime::parse_duration(text) {
        Ok(duration) if duration <= MAX_DURATION => Ok(duration),
        Ok(_) | Err(humantime::DurationError::NumberOverflow) => Err(BadDuration::TooLong),
        Err(_) => Err(BadDuration::Unreadable),
    }
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

/// Serializes a duration as whole seconds; reading refuses more than [`MAX_DURATION`].
pub mod seconds {
    use std::time::Duration;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::MAX_DURATION;

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(duration.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let seconds = u64::deserialize(deserializer)?;
        if seconds > MAX_DURATION.as_secs() {
            return Err(D::Error::custom(format!(
                "{seconds} seconds is longer than a year, the longest duration drplan accepts"
            )));
        }
        Ok(Duration::from_secs(seconds))
    }
}

/// Serializes an optional duration as whole seconds, as [`seconds`] does.
pub mod optional_seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    // serde's `with` hands the field by reference.
    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => super::seconds::serialize(duration, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Seconds(#[serde(with = "super::seconds")] Duration);
        Ok(Option::<Seconds>::deserialize(deserializer)?.map(|s| s.0))
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
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_hours(168)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_mins(90)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["10", "ten minutes", ""] {
            assert_eq!(parse_duration(bad), Err(BadDuration::Unreadable), "{bad}");
        }
    }

    #[test]
    fn durations_are_at_most_a_year() {
        assert_eq!(parse_duration("1y"), Ok(Duration::from_hours(8766)));
        assert_eq!(parse_duration("366d"), Ok(MAX_DURATION));
        for long in ["367d", "18446744073709551615s", "99999999999999999999999d"] {
            assert_eq!(parse_duration(long), Err(BadDuration::TooLong), "{long}");
        }
    }

    #[test]
    fn stored_durations_are_at_most_a_year() {
        let read = |json: &str| -> Result<Duration, serde_json::Error> {
            seconds::deserialize(&mut serde_json::Deserializer::from_str(json))
        };
        assert_eq!(read("60").unwrap(), Duration::from_mins(1));
        assert!(read("18446744073709551615").is_err());
    }

    #[test]
    fn durations_print_as_written() {
        assert_eq!(format_duration(Duration::from_hours(24)), "1d");
        assert_eq!(format_duration(Duration::from_hours(168)), "7d");
        assert_eq!(format_duration(Duration::from_mins(90)), "1h 30m");
        assert_eq!(format_duration(Duration::from_secs(1_670)), "27m 50s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
