//! The saved plan: a self-contained, versioned JSON document that `apply` can run and
//! check for staleness (config hash, state lineage and serial, observed values).

use serde::{Deserialize, Serialize};

use super::Plan;
use crate::error::Error;
use crate::model::LoadedEnvironment;
use crate::observe::ActualState;

/// The largest plan file `apply` reads: 64 MiB (the reference's largest plan is 32 KiB).
const MAX_PLAN_FILE: u64 = 64 * 1024 * 1024;

/// The state a plan was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRef {
    /// `None` when no state existed yet.
    pub lineage: Option<String>,
    pub serial: u64,
}

/// A plan and everything needed to tell whether it is still valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    pub format_version: u32,
    pub drplan_version: String,
    /// The environment file, as given on the command line.
    pub environment_file: String,
    /// True when the plan was made (and must be applied) on the sim world.
    pub sim: bool,
    /// SHA-256 of the environment file the plan was made from.
    pub config_hash: String,
    /// Restores pick the newest backup before this time (RFC 3339), when set.
    pub at: Option<String>,
    /// The state the plan was made against; `None` for an offline plan.
    pub state: Option<StateRef>,
    /// What was observed before planning; `None` for an offline plan.
    pub observed: Option<ActualState>,
    pub plan: Plan,
}

impl PlanFile {
    pub fn new(
        plan: Plan,
        source: &LoadedEnvironment,
        sim: bool,
        state: Option<StateRef>,
        observed: Option<ActualState>,
    ) -> Self {
        Self {
            format_version: super::FORMAT_VERSION,
            drplan_version: env!("CARGO_PKG_VERSION").to_string(),
            environment_file: source.path.display().to_string(),
            sim,
            at: None,
            config_hash: source.config_hash.clone(),
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

impl PlanFile {
    /// Reads a saved plan, refusing other files, other format versions and files
    /// larger than [`MAX_PLAN_FILE`].
    pub fn read(path: &std::path::Path) -> Result<Self, Error> {
        let bytes = crate::fsio::read_bounded(path, "a plan", MAX_PLAN_FILE)?;
        let file: Self = serde_json::from_slice(&bytes).map_err(|e| Error::NotAPlan {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        if file.format_version != super::FORMAT_VERSION {
            return Err(Error::PlanFormat {
                path: path.to_path_buf(),
                found: file.format_version,
                expected: super::FORMAT_VERSION,
            });
        }
        Ok(file)
    }

    /// The environment file of the plan saved at `plan_path`: as written when planned
    /// (relative to the directory drplan ran in), else relative to the plan file.
    pub fn environment_path(&self, plan_path: &std::path::Path) -> std::path::PathBuf {
        let written = std::path::PathBuf::from(&self.environment_file);
        let beside_plan = plan_path.parent().map(|dir| dir.join(&written));
        match beside_plan {
            Some(candidate) if !written.exists() && candidate.exists() => candidate,
            _ => written,
        }
    }
}
