//! Data sets: what must be recovered, how, and how much loss is acceptable.

use std::time::Duration;

pub use super::until::Extract;
use super::until::Until;
use super::{Command, Located, Template};

/// A data set held by a service.
#[derive(Debug, Clone)]
pub struct DataSet {
    pub name: Located<String>,
    pub service: Located<String>,
    pub priority: String,
    pub rpo: Duration,
    pub method: DataMethod,
    pub backups: Option<BackupLocation>,
    /// How to read the replication lag of a `replicate` data set's copy in a region.
    pub lag: Option<LagProbe>,
}

/// How to read replication lag: a URL's body or a command's output, the value taken
/// from it (a JSON pointer, a regex's first group, or all of it) as a duration; a bare
/// number counts in `unit`. With `until`, only an output that meets the condition is
/// read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LagProbe {
    pub source: LagSource,
    pub extract: Extract,
    pub unit: Duration,
    pub timeout: Duration,
    /// A condition its output must meet before the lag in it counts (e.g. the
    /// replication state is `streaming`): the probe is tried again until it does.
    pub until: Option<Until>,
}

/// Where a lag probe reads from; `{region}` is the region of the copy measured.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LagSource {
    Url(Template),
    Command(Command),
}

impl LagSource {
    /// The URL or the arguments.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            Self::Url(url) => vec![url],
            Self::Command(argv) => argv.0.iter().collect(),
        }
    }
}

impl LagProbe {
    /// The units a bare number may count in.
    pub const UNITS: [&str; 3] = ["ms", "s", "m"];

    /// The duration of `unit` (one of [`Self::UNITS`]).
    pub fn unit(unit: &str) -> Option<Duration> {
        match unit {
            "ms" => Some(Duration::from_millis(1)),
            "s" => Some(Duration::from_secs(1)),
            "m" => Some(Duration::from_mins(1)),
            _ => None,
        }
    }

    /// The lag in `output`, or why it is not there.
    pub fn read(&self, output: &str) -> Result<Duration, String> {
        let text = self.extract.apply(output)?;
        if let Ok(duration) = crate::duration::parse_duration(&text) {
            return Ok(duration);
        }
        let number: f64 = text
            .parse()
            .map_err(|_| format!("`{text}` is neither a duration nor a number"))?;
        if !number.is_finite() || number < 0.0 {
            return Err(format!("`{text}` is not a lag"));
        }
        Duration::try_from_secs_f64(number * self.unit.as_secs_f64())
            .map_err(|_| format!("`{text}` is too large a lag"))
    }
}

/// How a data set is recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataMethod {
    Restore,
    Replicate,
    Regenerate,
    Rescrape,
    Aggregate,
}

impl DataMethod {
    pub const NAMES: [&str; 5] = [
        "restore",
        "replicate",
        "regenerate",
        "rescrape",
        "aggregate",
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "restore" => Self::Restore,
            "replicate" => Self::Replicate,
            "regenerate" => Self::Regenerate,
            "rescrape" => Self::Rescrape,
            "aggregate" => Self::Aggregate,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// True for data that must be carried over, not rebuilt: restored or replicated.
    /// A copy of it left behind is stale until resynced.
    pub fn is_persistent(self) -> bool {
        matches!(self, Self::Restore | Self::Replicate)
    }
}

/// An `s3://bucket/prefix` location of backups.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct BackupLocation {
    pub bucket: String,
    pub prefix: String,
}

impl BackupLocation {
    /// Parses `s3://bucket/prefix`.
    pub fn parse(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        (!bucket.is_empty()).then(|| Self {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(extract: Extract, unit: u64) -> LagProbe {
        LagProbe {
            source: LagSource::Url(crate::model::Template::text("http://db/lag")),
            extract,
            unit: Duration::from_millis(unit),
            timeout: Duration::from_secs(5),
            until: None,
        }
    }

    #[test]
    fn lag_is_read_from_json_a_regex_or_the_whole_output() {
        let json = probe(Extract::Json("/replication/lag_ms".to_string()), 1);
        assert_eq!(
            json.read(r#"{"replication": {"lag_ms": 1500}}"#),
            Ok(Duration::from_millis(1500))
        );
        let regex = probe(Extract::Regex("lag: ([0-9.]+)".to_string()), 1000);
        assert_eq!(
            regex.read("state: streaming\nlag: 2.5\n"),
            Ok(Duration::from_millis(2500))
        );
        let whole = probe(Extract::Whole, 1000);
        assert_eq!(whole.read(" 30s\n"), Ok(Duration::from_secs(30)));
        assert_eq!(whole.read("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn unreadable_lag_is_an_error_not_a_guess() {
        let json = probe(Extract::Json("/lag".to_string()), 1000);
        assert!(json.read("not json").is_err());
        assert!(json.read(r#"{"other": 1}"#).is_err());
        assert!(json.read(r#"{"lag": "soon"}"#).is_err());
        let whole = probe(Extract::Whole, 1000);
        assert!(whole.read("-1").is_err());
        assert!(whole.read("NaN").is_err());
        assert!(whole.read("1e300").is_err());
    }
}
