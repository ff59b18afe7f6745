//! The trigger history: each trigger's streaks (toward an incident, toward a
//! failback). A long-running watcher keeps it in memory; `watch --once` keeps it
//! between runs in `.drplan/watch/<environment>.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::streak::Streak;
use crate::error::Error;
use crate::fsio::{Durability, read_optional, write_json_atomic};

/// Every trigger's streaks, by trigger name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub triggers: BTreeMap<String, TriggerHistory>,
}

/// The streaks of one trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerHistory {
    /// Probes that found the trigger's condition failing.
    pub incident: Streak,
    /// After its failover: probes that found home healthy.
    pub home: Streak,
}

impl History {
    /// The history of `environment` kept by earlier `--once` runs (empty when none).
    pub fn load(environment: &str) -> Result<Self, Error> {
        let path = path(environment);
        let Some(text) = read_optional(&path)? else {
            return Ok(Self::default());
        };
        serde_json::from_str(&text).map_err(|error| Error::CorruptState {
            path,
            detail: format!("{error} (delete the file to start the trigger history afresh)"),
        })
    }

    pub fn save(&self, environment: &str) -> Result<(), Error> {
        write_json_atomic(&path(environment), self, Durability::PowerLoss)
    }

    /// The streaks of `trigger`.
    pub fn of(&mut self, trigger: &str) -> &mut TriggerHistory {
        self.triggers.entry(trigger.to_string()).or_default()
    }
}

fn path(environment: &str) -> PathBuf {
    crate::paths::watch_file(environment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_history_is_kept_between_runs_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        crate::paths::with_root(dir.path().to_path_buf(), async {
            assert_eq!(History::load("example").unwrap(), History::default());
            let mut history = History::default();
            history.of("region-down");
            history.save("example").unwrap();
            assert_eq!(History::load("example").unwrap(), history);
        })
        .await;
        assert!(dir.path().join("watch/example.json").exists());
    }
}
