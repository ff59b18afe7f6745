//! Scenarios: named situations and what recovery means for each.

use std::time::Duration;

use super::until::Until;
use super::{Command, Located};

/// A named situation.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: Located<String>,
    pub severity: String,
    pub strategy: Strategy,
    /// `manual`: each phase that changes something waits for a person; any other
    /// value names who approves the plan as a whole.
    pub approval: Option<String>,
    /// Who may approve the phases of a `manual` scenario (empty: anyone).
    pub approvers: Vec<String>,
    /// When set, only these services are recovered.
    pub services: Option<Vec<Located<String>>>,
    pub maintenance_page: Option<MaintenancePage>,
    pub steps: Vec<ScenarioStep>,
}

/// What recovery means in a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Unplanned: the region being left is presumed down; fencing it is best effort.
    Failover {
        to: Located<String>,
    },
    /// Planned, both regions up: fence the old side, wait for replication to catch
    /// up, then promote — no write lost, or a refusal.
    Switchover {
        to: Located<String>,
    },
    Restore,
    Custom,
}

impl Strategy {
    pub const NAMES: [&str; 4] = ["failover", "switchover", "restore", "custom"];

    pub fn name(&self) -> &'static str {
        match self {
            Self::Failover { .. } => "failover",
            Self::Switchover { .. } => "switchover",
            Self::Restore => "restore",
            Self::Custom => "custom",
        }
    }

    /// The region a failover or switchover moves to.
    pub fn to(&self) -> Option<&Located<String>> {
        match self {
            Self::Failover { to } | Self::Switchover { to } => Some(to),
            Self::Restore | Self::Custom => None,
        }
    }
}

/// A page uploaded while the scenario runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenancePage {
    pub bucket: Located<String>,
    pub key: String,
    pub file: String,
}

/// Where the object a maintenance page replaced is kept while the page is up.
pub fn kept_key(key: &str) -> String {
    format!("{key}.drplan-original")
}

/// A step a scenario adds to its plan.
#[derive(Debug, Clone)]
pub struct ScenarioStep {
    pub phase: Phase,
    pub name: String,
    pub action: ScenarioStepAction,
    /// How long the step is expected to take (the plan's RTO counts it).
    pub estimate: Option<Duration>,
    /// How long a `run` step may take before it is stopped.
    pub timeout: Option<Duration>,
    /// A failed `run` step is recorded and the run goes on.
    pub best_effort: bool,
    /// A condition on what a `run` step prints to wait for: it runs again every
    /// `interval` until the condition holds.
    pub until: Option<Until>,
}

/// What a scenario's own step does.
#[derive(Debug, Clone)]
pub enum ScenarioStepAction {
    Run(Command),
    Manual(String),
}

/// The phases of a plan, in the order they run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Assess,
    Notify,
    Mitigate,
    Recover,
    Switch,
    Verify,
    Resolve,
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Self::Assess,
        Self::Notify,
        Self::Mitigate,
        Self::Recover,
        Self::Switch,
        Self::Verify,
        Self::Resolve,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Assess => "assess",
            Self::Notify => "notify",
            Self::Mitigate => "mitigate",
            Self::Recover => "recover",
            Self::Switch => "switch",
            Self::Verify => "verify",
            Self::Resolve => "resolve",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|phase| phase.name() == name)
    }
}
