//! A step of a plan: its id, what it does, the value it changes (before and after),
//! and what it waits for. Values, not prose: `cli::render` words them, and
//! `Step::target` is the one wording apply's progress lines and reports share.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::format_duration;
use crate::model::RecordSet;
use crate::model::service::DEFAULT_LIFECYCLE_TIMEOUT;
use crate::model::until::Until;
use crate::model::{AuroraMove, BackupLocation, Command, DEFAULT_RETRIES, HealthProbe, Phase};

/// A step's id, `ACTION:KEY` (`activate:postgres`, `gate:tier-1`), unique in its plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepId(String);

impl StepId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a step does, with everything `apply` needs to do it. A new action is a variant
/// here (the compiler then asks for its name, target, estimate and how apply does
/// it); one that changes a value the planner adds with its `Change`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// A barrier: a tier (`tier`) or the step's phase is done.
    Gate { tier: Option<u32> },
    /// A precondition: the target region answers.
    CheckRegion { region: String },
    /// A precondition of a planned move of an Aurora service, before anything is
    /// fenced: every declared cluster is a member of the global cluster, so the
    /// switchover to `region` leaves no write behind (a cluster a failover detached
    /// holds writes it would not carry).
    CheckMembers { service: String, region: String },
    /// A precondition: the newest backup of a data set is within its RPO.
    CheckRpo {
        data: String,
        #[serde(with = "crate::duration::seconds")]
        rpo: Duration,
    },
    /// An entry of the communication timeline (`notify` index, to `to`), sent `after`
    /// the start.
    Notify {
        index: usize,
        to: String,
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
        /// For an Aurora service: how its global cluster's writer moves there.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        aurora: Option<AuroraMove>,
        /// How long the command may run (omitted from the plan file when the default).
        #[serde(
            with = "crate::duration::seconds",
            default = "lifecycle_timeout",
            skip_serializing_if = "is_lifecycle_timeout"
        )]
        timeout: Duration,
        /// How many times a failed activation is tried again (omitted when the default).
        #[serde(
            default = "default_retries",
            skip_serializing_if = "is_default_retries"
        )]
        retries: u32,
    },
    /// Load the newest backup (or the newest before `--at`) into a service.
    Restore {
        service: String,
        region: String,
        backups: BackupLocation,
        command: Option<Vec<String>>,
        /// How long the command may run (omitted from the plan file when the default).
        #[serde(
            with = "crate::duration::seconds",
            default = "lifecycle_timeout",
            skip_serializing_if = "is_lifecycle_timeout"
        )]
        timeout: Duration,
    },
    /// Fence, demote or stop a service in the region being left. Best effort in a
    /// failover (the region is presumed down: a failure is recorded and recovery goes
    /// on); mandatory in a switchover and a failback (never two writers).
    Deactivate {
        service: String,
        region: String,
        command: Vec<String>,
        #[serde(with = "crate::duration::seconds")]
        timeout: Duration,
        best_effort: bool,
    },
    /// Back a service up in `region` (the side a planned move leaves, once fenced),
    /// before it is restored where it moves: the step fails unless a backup that was
    /// not there before it lands under each of `backups` (else the restore would load
    /// an older one, without the writes made since).
    Backup {
        service: String,
        region: String,
        command: Vec<String>,
        backups: Vec<BackupLocation>,
        #[serde(with = "crate::duration::seconds")]
        timeout: Duration,
    },
    /// Make a service's copy in `region` a replica of the active one in `from`.
    Resync {
        service: String,
        region: String,
        from: String,
        command: Vec<String>,
        #[serde(with = "crate::duration::seconds")]
        timeout: Duration,
    },
    /// Wait until a replicated data set's copy in `region` holds every write of the
    /// active copy: a copy that is behind is never promoted (unless data loss is
    /// accepted, and then the step says how far behind it was).
    CatchUp {
        data: String,
        region: String,
        #[serde(with = "crate::duration::seconds")]
        timeout: Duration,
    },
    /// Wait until a service is healthy in a region.
    Health {
        service: String,
        region: String,
        probe: Option<HealthProbe>,
    },
    /// Move a DNS record's weights (`record` is its key under `[dns]`; the weights are
    /// the step's `Change::Weights`).
    Switch {
        record: String,
        name: String,
        record_type: String,
    },
    /// Before a switchover, lower a record's TTL to `ttl` (the step's `Change::Weights`:
    /// its current sets, differing only in TTL), then wait out `wait`, the old TTL, so
    /// that no resolver still holds an answer cached for longer when the switch comes:
    /// the switch then takes effect within `ttl`.
    LowerTtl {
        record: String,
        name: String,
        record_type: String,
        #[serde(with = "crate::duration::seconds")]
        ttl: Duration,
        #[serde(with = "crate::duration::seconds")]
        wait: Duration,
    },
    /// Once the switchover is verified, put back a record's declared TTL, `ttl`, that a
    /// `LowerTtl` step lowered (the sets are the step's `Change::Weights`).
    RestoreTtl {
        record: String,
        name: String,
        record_type: String,
        #[serde(with = "crate::duration::seconds")]
        ttl: Duration,
    },
    /// Run a check of the validation checklist (`checks` index); a failed check is
    /// tried again `retries` times (omitted from the plan file when the default); a
    /// client-facing check reached through a record this plan switches first waits out
    /// that record's old TTL.
    Verify {
        index: usize,
        name: String,
        #[serde(
            default = "default_retries",
            skip_serializing_if = "is_default_retries"
        )]
        retries: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl_wait: Option<TtlWait>,
    },
    /// A scenario's own command: stopped after `timeout` when it declares one; when
    /// `best_effort`, a failure is recorded and the run goes on.
    Run {
        name: String,
        argv: Command,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "crate::duration::optional_seconds"
        )]
        timeout: Option<Duration>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        best_effort: bool,
        /// A condition on what the command prints: it runs again every interval
        /// until the condition holds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Until>,
    },
    /// A scenario's own manual action: apply pauses until a person confirms.
    Manual { name: String, instruction: String },
    /// The approval of a phase that changes something (`approval = "manual"`): apply
    /// pauses once, before the phase's first step, until a person approves.
    Approve,
}

/// Whether a notification announces the incident or its resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyStatus {
    Started,
    Resolved,
}

/// The old TTL a check waits out after a record it reaches through was switched, so
/// that resolvers no longer hold the answer from before the switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TtlWait {
    /// The record's key under `[dns]`.
    pub record: String,
    /// Its DNS name.
    pub name: String,
    #[serde(with = "crate::duration::seconds")]
    pub ttl: Duration,
}

impl Action {
    /// The action's name in the plan vocabulary.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Gate { .. } => "gate",
            Self::CheckRegion { .. } | Self::CheckMembers { .. } | Self::CheckRpo { .. } => "check",
            Self::Notify { .. } => "notify",
            Self::Upload { .. } => "upload",
            Self::Revert { .. } => "revert",
            Self::Activate { .. } => "activate",
            Self::Restore { .. } => "restore",
            Self::Deactivate { .. } => "deactivate",
            Self::Resync { .. } => "resync",
            Self::Backup { .. } => "backup",
            Self::CatchUp { .. } => "catch-up",
            Self::Health { .. } => "health",
            Self::Switch { .. } => "switch",
            Self::LowerTtl { .. } => "lower-ttl",
            Self::RestoreTtl { .. } => "restore-ttl",
            Self::Verify { .. } => "verify",
            Self::Run { .. } => "run",
            Self::Manual { .. } => "manual",
            Self::Approve => "approve",
        }
    }

    /// True for the gates that join a tier or a phase: bookkeeping, not work.
    pub fn is_gate(&self) -> bool {
        matches!(self, Self::Gate { .. })
    }

    /// True for steps that change the world (what `--detailed-exitcode` counts).
    pub fn is_change(&self) -> bool {
        matches!(
            self,
            Self::Upload { .. }
                | Self::Revert { .. }
                | Self::Activate { .. }
                | Self::Restore { .. }
                | Self::Deactivate { .. }
                | Self::Resync { .. }
                | Self::Backup { .. }
                | Self::Switch { .. }
                | Self::LowerTtl { .. }
                | Self::RestoreTtl { .. }
                | Self::Run { .. }
                | Self::Manual { .. }
        )
    }
}

/// A value a step changes: `before` as the plan found it, `after` as the step leaves
/// it. A new kind of value is a new variant, worded in `cli::render`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Change {
    /// Where a service is active (`activate`, `restore`).
    Placement { before: Placement, after: Placement },
    /// A DNS record's weighted record sets (`switch`; `lower-ttl` and `restore-ttl`,
    /// whose sets differ only in TTL).
    Weights {
        before: Vec<RecordSet>,
        after: Vec<RecordSet>,
    },
}

/// Where a service is active, and what a restore loads into it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub region: String,
    /// The backups whose newest one is restored.
    pub restored_from: Option<BackupLocation>,
}

/// One node of the step graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: StepId,
    pub phase: Phase,
    pub action: Action,
    /// The value the step changes; `None` when it changes none drplan observes.
    pub change: Option<Change>,
    /// Steps that must finish before this one starts.
    pub depends_on: Vec<StepId>,
    /// Who must approve this step before it runs, when someone must.
    pub approval: Option<String>,
    #[serde(with = "crate::duration::seconds")]
    pub estimate: Duration,
}

impl Step {
    /// What the step acts on, in words (`postgres in eu-central-1`, `tier 1 healthy`):
    /// the one wording of plans, graphs, progress lines, prompts and run reports.
    pub fn target(&self) -> String {
        match &self.action {
            Action::Gate { tier: Some(tier) } => format!("tier {tier} healthy"),
            Action::Gate { tier: None } => format!("{} done", self.phase.name()),
            Action::Approve => format!("{} approved", self.phase.name()),
            Action::CheckRegion { region } => format!("region {region} is up"),
            Action::CheckMembers { service, region } => {
                format!("{service} can switch over to {region} (no cluster detached)")
            }
            Action::CheckRpo { data, rpo } => {
                format!("newest backup of {data} within {}", format_duration(*rpo))
            }
            Action::Notify {
                to,
                after,
                status: NotifyStatus::Started,
                ..
            } => format!("{to} at +{}", format_duration(*after)),
            Action::Notify {
                to,
                status: NotifyStatus::Resolved,
                ..
            } => format!("{to}: recovered"),
            Action::Upload { bucket, key, .. } => {
                format!("maintenance page to s3://{bucket}/{key}")
            }
            Action::Revert { bucket, key, .. } => {
                format!("maintenance page off s3://{bucket}/{key}")
            }
            Action::Activate {
                service, region, ..
            }
            | Action::Restore {
                service, region, ..
            }
            | Action::Health {
                service, region, ..
            }
            | Action::Deactivate {
                service, region, ..
            }
            | Action::Backup {
                service, region, ..
            } => format!("{service} in {region}"),
            Action::Resync {
                service,
                region,
                from,
                ..
            } => format!("{service} in {region}, from {from}"),
            Action::CatchUp { data, region, .. } => format!("{data} in {region}"),
            Action::Switch {
                name, record_type, ..
            }
            | Action::LowerTtl {
                name, record_type, ..
            }
            | Action::RestoreTtl {
                name, record_type, ..
            } => format!("{name} {record_type}"),
            Action::Verify { name, .. }
            | Action::Run { name, .. }
            | Action::Manual { name, .. } => name.clone(),
        }
    }
}

fn lifecycle_timeout() -> Duration {
    DEFAULT_LIFECYCLE_TIMEOUT
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_lifecycle_timeout(timeout: &Duration) -> bool {
    *timeout == DEFAULT_LIFECYCLE_TIMEOUT
}

fn default_retries() -> u32 {
    DEFAULT_RETRIES
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_default_retries(retries: &u32) -> bool {
    *retries == DEFAULT_RETRIES
}

/// Fixed estimates for steps whose duration the environment does not declare.
pub mod estimates {
    use std::time::Duration;

    pub const CHECK: Duration = Duration::from_secs(5);
    pub const UPLOAD: Duration = Duration::from_secs(5);
    pub const RUN: Duration = Duration::from_mins(1);
    pub const MANUAL: Duration = Duration::from_mins(5);
    pub const VERIFY: Duration = Duration::from_secs(5);
    pub const CATCH_UP: Duration = Duration::from_secs(30);
    /// How long a best-effort fence of a region presumed down may take.
    pub const FENCE_BOUND: Duration = Duration::from_mins(2);
    /// How long a promotion waits for its copy to catch up.
    pub const CATCH_UP_TIMEOUT: Duration = Duration::from_mins(10);
}
