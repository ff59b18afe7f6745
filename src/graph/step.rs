//! A step of a plan: what it does, to what, what changes, and what it waits for.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::RecordSet;
use crate::model::{BackupLocation, Command, HealthProbe, Phase};

/// What a step does, with everything `apply` needs to do it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// A barrier: a tier or a phase is done.
    Gate,
    /// A precondition: the target region answers.
    CheckRegion { region: String },
    /// A precondition: the newest backup of a data set is within its RPO.
    CheckRpo { data: String },
    /// An entry of the communication timeline (`notify` index), sent `after` the start.
    Notify {
        index: usize,
        #[serde(with = "crate::duration::seconds")]
        after: Duration,
        status: NotifyStatus,
    },
    /// Upload the scenario's maintenance page, keeping what it replaces.
    Upload {
        bucket: String,
        key: String,
        file: String,
    },
    /// Take the maintenance page down once recovery is verified: put back what it
    /// replaced, or remove it when nothing was there.
    Revert {
        bucket: String,
        key: String,
        file: String,
    },
    /// Bring a service up in a region.
    Activate {
        service: String,
        region: String,
        command: Option<Vec<String>>,
    },
    /// Load the newest backup (or the newest before `--at`) into a service.
    Restore {
        service: String,
        region: String,
        backups: BackupLocation,
        command: Option<Vec<String>>,
    },
    /// Wait until a service is healthy in a region.
    Health {
        service: String,
        region: String,
        probe: Option<HealthProbe>,
    },
    /// Move a DNS record's weights.
    Switch {
        record: String,
        before: Vec<RecordSet>,
        after: Vec<RecordSet>,
    },
    /// Run a check of the validation checklist (`checks` index).
    Verify { index: usize },
    /// A scenario's own command.
    Run { argv: Command },
    /// A scenario's own manual action: apply pauses until a person confirms.
    Manual { instruction: String },
}

/// Whether a notification announces the incident or its resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyStatus {
    Started,
    Resolved,
}

impl Action {
    /// The action's name in the plan vocabulary.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Gate => "gate",
            Self::CheckRegion { .. } | Self::CheckRpo { .. } => "check",
            Self::Notify { .. } => "notify",
            Self::Upload { .. } => "upload",
            Self::Revert { .. } => "revert",
            Self::Activate { .. } => "activate",
            Self::Restore { .. } => "restore",
            Self::Health { .. } => "health",
            Self::Switch { .. } => "switch",
            Self::Verify { .. } => "verify",
            Self::Run { .. } => "run",
            Self::Manual { .. } => "manual",
        }
    }

    /// True for the gates that join a tier or a phase: bookkeeping, not work.
    pub fn is_gate(&self) -> bool {
        matches!(self, Self::Gate)
    }

    /// True for steps that change the world (what `--detailed-exitcode` counts).
    pub fn is_change(&self) -> bool {
        matches!(
            self,
            Self::Upload { .. }
                | Self::Revert { .. }
                | Self::Activate { .. }
                | Self::Restore { .. }
                | Self::Switch { .. }
                | Self::Run { .. }
                | Self::Manual { .. }
        )
    }
}

/// One node of the step graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: String,
    pub phase: Phase,
    pub action: Action,
    /// What the step acts on, in words.
    pub target: String,
    /// The state before and after, one line each (or several for record sets).
    pub before: Option<String>,
    pub after: Option<String>,
    /// Steps that must finish before this one starts.
    pub depends_on: Vec<String>,
    /// Who must approve this step before it runs, when someone must.
    pub approval: Option<String>,
    #[serde(with = "crate::duration::seconds")]
    pub estimate: Duration,
}

/// Fixed estimates for steps whose duration the environment does not declare.
pub mod estimates {
    use std::time::Duration;

    pub const CHECK: Duration = Duration::from_secs(5);
    pub const UPLOAD: Duration = Duration::from_secs(5);
    pub const RUN: Duration = Duration::from_secs(60);
    pub const MANUAL: Duration = Duration::from_secs(300);
    pub const VERIFY: Duration = Duration::from_secs(5);
}
