//! The data a plan puts at risk: each data set of the services it recovers, its RPO
//! against its newest backup; and the one table plans, run reports and drill reports
//! show it in.

use std::fmt::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::format_seconds;
use crate::model::DataSet;
use crate::observe::{ActualState, BackupObservation};

/// The loss a data set may suffer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRisk {
    pub data: String,
    pub service: String,
    pub priority: String,
    pub method: String,
    #[serde(with = "crate::duration::seconds")]
    pub rpo: Duration,
    pub backup: Option<BackupObservation>,
    /// True when the newest backup is older than the RPO (or missing).
    pub violation: bool,
}

/// The columns of the data-at-risk table, in the order of `DataRisk::cells`.
const COLUMNS: [&str; 6] = [
    "Data set",
    "Service",
    "Priority",
    "Method",
    "RPO",
    "Newest backup",
];

impl DataRisk {
    /// The risk to `data`, as `actual` saw its newest backup.
    pub fn new(data: &DataSet, actual: &ActualState) -> Self {
        let backup = data.backups.as_ref().map(|_| {
            actual
                .backups
                .get(&data.name.value)
                .cloned()
                .unwrap_or(BackupObservation::Unknown)
        });
        let violation = match &backup {
            Some(BackupObservation::Missing) => true,
            Some(BackupObservation::Found { age, .. }) => *age > data.rpo,
            _ => false,
        };
        Self {
            data: data.name.value.clone(),
            service: data.service.value.clone(),
            priority: data.priority.clone(),
            method: data.method.name().to_string(),
            rpo: data.rpo,
            backup,
            violation,
        }
    }

    /// One row of the table: data set, service, priority, method, RPO, newest backup.
    pub fn cells(&self) -> [String; 6] {
        [
            self.data.clone(),
            self.service.clone(),
            self.priority.clone(),
            self.method.clone(),
            format_seconds(self.rpo),
            self.newest_backup(),
        ]
    }

    /// What is known of the newest backup, in words, with the verdict on the RPO.
    fn newest_backup(&self) -> String {
        match &self.backup {
            None => format!("no backups ({} on recovery)", self.method),
            Some(BackupObservation::Unknown) => "age unknown (offline plan)".to_string(),
            Some(BackupObservation::Missing) => {
                "MISSING: no backup found (RPO violated)".to_string()
            }
            Some(BackupObservation::Found { url, age }) => {
                let verdict = if self.violation {
                    "RPO VIOLATED"
                } else {
                    "within RPO"
                };
                format!("{} old, {url} ({verdict})", format_seconds(*age))
            }
        }
    }
}

/// The data-at-risk table in markdown: a header and one row per data set.
pub fn table(risks: &[DataRisk]) -> String {
    let mut table = String::new();
    let _ = writeln!(table, "| {} |", COLUMNS.join(" | "));
    let _ = writeln!(table, "|{}", "---|".repeat(COLUMNS.len()));
    for risk in risks {
        let _ = writeln!(table, "| {} |", risk.cells().join(" | "));
    }
    table
}
