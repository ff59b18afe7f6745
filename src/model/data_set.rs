//! Data sets: what must be recovered, how, and how much loss is acceptable.

use std::time::Duration;

use super::Located;

/// A data set held by a service.
#[derive(Debug, Clone)]
pub struct DataSet {
    pub name: Located<String>,
    pub service: Located<String>,
    pub priority: String,
    pub rpo: Duration,
    pub method: DataMethod,
    pub backups: Option<BackupLocation>,
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
