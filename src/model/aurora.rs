//! Aurora global databases: a service whose data lives in an Aurora global cluster
//! names the member cluster of each region, and drplan moves the writer itself —
//! `SwitchoverGlobalCluster` when both regions are up (no data loss), and in a
//! failover either detach-and-promote (`RemoveFromGlobalCluster`) or, when data
//! loss is accepted, `FailoverGlobalCluster` with `AllowDataLoss`.

use std::time::Duration;

use super::Located;

/// The Aurora global database of a service.
#[derive(Debug, Clone)]
pub struct AuroraGlobal {
    /// The global cluster identifier.
    pub global_cluster: String,
    /// Region → DB cluster identifier of the member cluster there.
    pub clusters: Vec<(Located<String>, String)>,
    /// How long a move may take before drplan stops waiting for `available`.
    pub timeout: Duration,
    /// Where `aurora` is written, for diagnostics.
    pub span: crate::error::Span,
}

/// How long a move may take when `aurora` declares no `timeout`.
pub const DEFAULT_AURORA_TIMEOUT: Duration = Duration::from_mins(30);

impl AuroraGlobal {
    /// The member cluster in `region`.
    pub fn cluster(&self, region: &str) -> Option<&str> {
        self.clusters
            .iter()
            .find(|(r, _)| r.value == region)
            .map(|(_, id)| id.as_str())
    }
}

/// How the writer of a global cluster is moved, as the plan decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuroraMove {
    /// Planned, both regions up: `SwitchoverGlobalCluster` waits until the target
    /// holds every write, so nothing is lost; the old primary becomes a secondary.
    Switchover,
    /// Unplanned, the primary's region presumed down: the target cluster is detached
    /// from the global cluster (`RemoveFromGlobalCluster`), which makes it a writable
    /// standalone cluster; under `--accept-data-loss`, `FailoverGlobalCluster` with
    /// `AllowDataLoss` instead, which keeps the global cluster together.
    Failover,
}

/// The AWS call that moves the writer: the one the plan's move stands for, given
/// whether data loss is accepted. The real provider sends it; the sim plays it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuroraCall {
    /// `SwitchoverGlobalCluster`: needs the primary up; the old primary becomes a
    /// secondary.
    Switchover,
    /// `FailoverGlobalCluster` with `AllowDataLoss`: keeps every member; the old
    /// primary rejoins as a secondary once its region is back.
    Failover,
    /// `RemoveFromGlobalCluster`: the target becomes a standalone writable cluster; no
    /// other cluster follows it until a new secondary is made (the reprotect).
    Detach,
}

impl AuroraCall {
    /// The call for `how`: a failover detaches unless data loss is accepted.
    pub fn of(how: AuroraMove, accept_data_loss: bool) -> Self {
        match (how, accept_data_loss) {
            (AuroraMove::Switchover, _) => Self::Switchover,
            (AuroraMove::Failover, true) => Self::Failover,
            (AuroraMove::Failover, false) => Self::Detach,
        }
    }

    /// The AWS API action's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Switchover => "SwitchoverGlobalCluster",
            Self::Failover => "FailoverGlobalCluster",
            Self::Detach => "RemoveFromGlobalCluster",
        }
    }
}
