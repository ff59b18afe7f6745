//! The local spool of a run's journal: transitions the state backend could not take
//! (an S3 endpoint gone mid-apply) are kept in `.drplan/spool/<environment>.journal`,
//! one JSON line per group, and pushed to the state when the run resumes, so nothing
//! that ran goes unrecorded.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::JournalEntry;
use super::local::append_line;
use crate::error::Error;
use crate::fsio::{read_optional, write_error};

/// The spool of one environment.
#[derive(Debug, Clone)]
pub struct Spool {
    path: PathBuf,
}

/// One group of transitions of run `run`.
#[derive(Debug, Serialize, Deserialize)]
struct SpoolLine {
    run: String,
    entries: Vec<JournalEntry>,
}

impl Spool {
    /// The spool of `environment` at its usual place.
    pub fn new(environment: &str) -> Self {
        Self {
            path: crate::paths::file_in(
                &crate::paths::root().join("spool"),
                environment,
                "journal",
            ),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps `entries` of run `run`, durably.
    ///
    /// # Errors
    ///
    /// When the spool cannot be written.
    pub fn keep(&self, run: &str, entries: &[JournalEntry]) -> Result<(), Error> {
        let line = SpoolLine {
            run: run.to_string(),
            entries: entries.to_vec(),
        };
        let mut bytes = serde_json::to_vec(&line)
            .map_err(|error| write_error(&self.path, std::io::Error::other(error)))?;
        bytes.push(b'\n');
        let dir = crate::fsio::parent(&self.path);
        std::fs::create_dir_all(dir)
            .and_then(|()| append_line(&self.path, &bytes))
            .map_err(|source| write_error(&self.path, source))
    }

    /// The transitions of run `run` kept here, in order (a torn last line, never
    /// acknowledged, is left out).
    ///
    /// # Errors
    ///
    /// When the spool exists but cannot be read.
    pub fn pending(&self, run: &str) -> Result<Vec<JournalEntry>, Error> {
        let text = read_optional(&self.path)?.unwrap_or_default();
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str::<SpoolLine>(line).ok())
            .filter(|line| line.run == run)
            .flat_map(|line| line.entries)
            .collect())
    }

    /// Removes the spool once its transitions are in the state.
    ///
    /// # Errors
    ///
    /// When it exists and cannot be removed.
    pub fn clear(&self) -> Result<(), Error> {
        match std::fs::remove_file(&self.path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(write_error(&self.path, error))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::graph::step::StepId;
    use crate::state::StepEvent;

    fn entry(step: &str, event: StepEvent) -> JournalEntry {
        JournalEntry {
            step: StepId::new(step),
            event,
            at: SystemTime::UNIX_EPOCH,
            detail: String::new(),
            group: None,
        }
    }

    #[test]
    fn kept_transitions_of_a_run_read_back_in_order_until_cleared() {
        let dir = tempfile::tempdir().expect("a directory");
        let spool = Spool {
            path: dir.path().join("spool").join("env.journal"),
        };
        assert!(spool.pending("run-1").expect("readable").is_empty());
        let first = entry("activate:api", StepEvent::Finished);
        let second = entry("health:api", StepEvent::Started);
        spool
            .keep("run-1", std::slice::from_ref(&first))
            .expect("kept");
        spool
            .keep("run-0", &[entry("old", StepEvent::Started)])
            .expect("kept");
        spool
            .keep("run-1", std::slice::from_ref(&second))
            .expect("kept");

        assert_eq!(spool.pending("run-1").expect("readable"), [first, second]);
        spool.clear().expect("cleared");
        assert!(spool.pending("run-1").expect("readable").is_empty());
        spool.clear().expect("clearing nothing is fine");
    }
}
