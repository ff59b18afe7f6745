//! The data a plan puts at risk: each data set of the services it recovers, its RPO
//! against its newest backup, and for a replicated one against the measured lag of
//! the copy to be promoted; and the one table plans, run reports and drill reports
//! show it in.

use std::fmt::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::changes::Movement;
use crate::duration::format_seconds;
use crate::model::{DataMethod, DataSet};
use crate::observe::{ActualState, BackupObservation, ReplicaObservation, StateSource};

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
    /// For a replicated data set: the copy to be promoted, and how far behind it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<Replica>,
    /// True when recovering loses data beyond the RPO: the newest backup is older
    /// (or missing), or the copy to be promoted is further behind and cannot catch up.
    pub violation: bool,
}

/// The copy of a replicated data set that the plan promotes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replica {
    pub region: String,
    pub observed: ReplicaObservation,
    /// Whether the plan waits for it to catch up before promoting it.
    pub waits: bool,
}

/// The columns of the data-at-risk table, in the order of `DataRisk::cells`.
const COLUMNS: [&str; 7] = [
    "Data set",
    "Service",
    "Priority",
    "Method",
    "RPO",
    "Newest backup",
    "Replica promoted",
];

impl DataRisk {
    /// The risk to `data`, as `actual` saw its newest backup and, when the plan moves
    /// it to `target`, the copy there.
    pub fn new(
        data: &DataSet,
        actual: &ActualState,
        target: Option<&str>,
        movement: Option<Movement>,
    ) -> Self {
        let backup = data.backups.as_ref().map(|_| {
            actual
                .backups
                .get(&data.name.value)
                .cloned()
                .unwrap_or(BackupObservation::Unknown)
        });
        let backup_violated = match &backup {
            Some(BackupObservation::Missing) => true,
            Some(BackupObservation::Found { age, .. }) => *age > data.rpo,
            _ => false,
        };
        let replica = replica(data, actual, target, movement);
        let violation =
            backup_violated || replica.as_ref().is_some_and(|r| r.loses_beyond(data.rpo));
        Self {
            data: data.name.value.clone(),
            service: data.service.value.clone(),
            priority: data.priority.clone(),
            method: data.method.name().to_string(),
            rpo: data.rpo,
            backup,
            replica,
            violation,
        }
    }

    /// The data set, with why it is at risk when the loss comes from its replica.
    pub fn named_with_gap(&self) -> String {
        match &self.replica {
            Some(replica) if replica.loses_beyond(self.rpo) => {
                format!("{} ({})", self.data, replica.describe())
            }
            _ => self.data.clone(),
        }
    }

    /// One row of the table: data set, service, priority, method, RPO, newest backup.
    pub fn cells(&self) -> [String; 7] {
        [
            self.data.clone(),
            self.service.clone(),
            self.priority.clone(),
            self.method.clone(),
            format_seconds(self.rpo),
            self.newest_backup(),
            self.replica_promoted(),
        ]
    }

    /// The copy promoted and what was measured of it, with the verdict on the RPO.
    fn replica_promoted(&self) -> String {
        let Some(replica) = &self.replica else {
            return "-".to_string();
        };
        let verdict = if replica.loses_beyond(self.rpo) {
            " (RPO VIOLATED)"
        } else if replica.waits {
            " (promoted once caught up)"
        } else if matches!(replica.observed, ReplicaObservation::Following { .. }) {
            " (within RPO)"
        } else {
            ""
        };
        format!("{}{verdict}", replica.describe())
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

/// The copy of `data` in `target` that a move promotes, as observed.
fn replica(
    data: &DataSet,
    actual: &ActualState,
    target: Option<&str>,
    movement: Option<Movement>,
) -> Option<Replica> {
    if data.method != DataMethod::Replicate {
        return None;
    }
    let (target, movement) = (target?, movement?);
    let observed = match actual.source {
        StateSource::Observed => actual
            .replication
            .get(&data.name.value)
            .and_then(|copies| copies.get(target))
            .cloned()
            .unwrap_or(ReplicaObservation::NotMeasured),
        _ => ReplicaObservation::NotMeasured,
    };
    Some(Replica {
        region: target.to_string(),
        observed,
        waits: movement != Movement::Failover,
    })
}

impl Replica {
    /// Whether promoting this copy loses writes beyond `rpo`: in a failover (promoted
    /// as it is) when it lags more or nothing feeds it; when the plan waits for it,
    /// only when nothing can make it catch up (replication stopped, or a detached
    /// copy that no resync re-attaches).
    pub fn loses_beyond(&self, rpo: Duration) -> bool {
        match &self.observed {
            ReplicaObservation::Following { lag, behind_writes } => {
                !self.waits && *lag > rpo && *behind_writes != Some(0)
            }
            ReplicaObservation::NotFollowing {
                behind_writes,
                stopped,
            } => *behind_writes != Some(0) && (!self.waits || *stopped),
            ReplicaObservation::NotMeasured | ReplicaObservation::Unreadable { .. } => false,
        }
    }

    /// `us-east-1: 12 write(s) behind, replication stopped`.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.region, self.observed.describe())
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
