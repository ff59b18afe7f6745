//! What each watcher saw, published beside the state so that every watcher judges the
//! triggers from all of them: per trigger, what it watched for, whether that held,
//! since when, and when it was observed. One record per watcher, written only by that
//! watcher (`drplan watch --as NAME`), replaced whole at every evaluation.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// One watcher's latest observations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observations {
    pub watcher: String,
    /// The region the watcher runs in.
    pub region: String,
    /// Trigger name → what the watcher saw of it last.
    pub triggers: BTreeMap<String, Observation>,
}

/// What one watcher saw of one trigger at its latest probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub watching: Watching,
    /// Whether the condition held at the latest probe.
    pub holds: bool,
    /// The first probe of the current run of probes where it held (the latest probe
    /// when it does not hold).
    #[serde(with = "crate::timestamp")]
    pub since: SystemTime,
    /// How many consecutive probes saw it hold.
    pub probes: u32,
    /// The latest probe, on the watcher's clock.
    #[serde(with = "crate::timestamp")]
    pub observed: SystemTime,
    /// Every probe of the watcher failed (it may be the one cut off).
    pub blind: bool,
    pub detail: String,
}

/// The condition a watcher looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Watching {
    /// The trigger's services failing (its scenario is not applied).
    Incident,
    /// Home healthy again (after the trigger's failover).
    Home,
}

impl Watching {
    /// `failing`, `home healthy`: what it means that the condition holds.
    pub fn holding(self) -> &'static str {
        match self {
            Self::Incident => "failing",
            Self::Home => "home healthy",
        }
    }
}

/// The file name (local) or key suffix (S3) of `watcher`'s observations, beside the
/// state: `<state>.watchers/<watcher>.json`.
pub fn entry_name(watcher: &str) -> String {
    format!("{watcher}.json")
}
