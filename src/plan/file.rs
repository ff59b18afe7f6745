//! The saved plan: a self-contained, versioned JSON document that `apply` can run and
//! check for staleness (config hash, state lineage and serial, observed values).

use serde::{Deserialize, Serialize};

use super::Plan;
use crate::observe::ActualState;

/// The state a plan was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRef {
    pub lineage: String,
    pub serial: u64,
}

/// A plan and everything needed to tell whether it is still valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    pub format_version: u32,
    pub drplan_version: String,
    /// SHA-256 of the environment file the plan was made from.
    pub config_hash: String,
    /// The state the plan was made against; `None` for an offline plan.
    pub state: Option<StateRef>,
    /// What was observed before planning; `None` for an offline plan.
    pub observed: Option<ActualState>,
    pub plan: Plan,
}

impl PlanFile {
    pub fn new(plan: Plan, config_hash: String, state: Option<StateRef>, observed: Option<ActualState>) -> Self {
        Self {
            format_version: super::FORMAT_VERSION,
            drplan_version: env!("CARGO_PKG_VERSION").to_string(),
            config_hash,
            state,
            observed,
            plan,
        }
    }

    /// Pretty JSON with a trailing newline; the same plan gives the same bytes.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }
}
