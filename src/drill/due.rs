//! The DR testing calendar: for each `[drills.NAME]`, the last report filed under
//! `drills/` for its scenario, and whether the drill is overdue by its `every`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::error::Error;
use crate::model::{Drill, Environment};

/// What the calendar needs of a filed drill report.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Filed {
    pub environment: String,
    pub scenario: String,
    #[serde(with = "crate::timestamp")]
    pub started: SystemTime,
    pub passed: bool,
}

/// Where one drill of the calendar stands.
#[derive(Debug, Clone)]
pub struct Due<'e> {
    pub drill: &'e Drill,
    /// The last report filed for its scenario.
    pub last: Option<Filed>,
    pub status: DueStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueStatus {
    /// No report was ever filed.
    Never,
    Overdue(Duration),
    DueIn(Duration),
}

impl DueStatus {
    pub fn is_overdue(self) -> bool {
        !matches!(self, Self::DueIn(_))
    }
}

/// Every drill report (JSON) in `dir`; files that are not drill reports are skipped,
/// and a missing directory has none.
pub fn filed(dir: &Path) -> Result<Vec<Filed>, Error> {
    let read_error = |source| Error::Read {
        path: dir.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(read_error(error)),
    };
    let mut reports = Vec::new();
    for entry in entries {
        let path = entry.map_err(read_error)?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        reports.extend(serde_json::from_str::<Filed>(&text).ok());
    }
    Ok(reports)
}

/// Each drill of `env` against the reports `filed`, at `now`.
pub fn calendar<'e>(env: &'e Environment, filed: &[Filed], now: SystemTime) -> Vec<Due<'e>> {
    env.drills
        .iter()
        .map(|drill| {
            let last = filed
                .iter()
                .filter(|f| f.environment == env.name && f.scenario == drill.scenario.value)
                .max_by_key(|f| f.started)
                .cloned();
            let status = match &last {
                None => DueStatus::Never,
                Some(last) => match last.started.checked_add(drill.every) {
                    Some(next) => match now.duration_since(next) {
                        Ok(late) => DueStatus::Overdue(late),
                        Err(early) => DueStatus::DueIn(early.duration()),
                    },
                    // A report dated at the end of time: due never.
                    None => DueStatus::DueIn(Duration::MAX),
                },
            };
            Due {
                drill,
                last,
                status,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_hours(24);

    fn production() -> Environment {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/production.toml");
        crate::model::load(&path).unwrap().env
    }

    fn filed_at(scenario: &str, started: SystemTime) -> Filed {
        Filed {
            environment: "production".to_string(),
            scenario: scenario.to_string(),
            started,
            passed: true,
        }
    }

    #[test]
    fn a_drill_is_due_every_its_period_after_the_last_report_of_its_scenario() {
        let env = production();
        let now = SystemTime::UNIX_EPOCH + 1000 * DAY;
        let filed = [
            filed_at("regional-failure", now - 10 * DAY),
            filed_at("regional-failure", now - 2 * DAY),
            Filed {
                environment: "staging".to_string(),
                ..filed_at("complete-outage", now)
            },
        ];

        let drills = calendar(&env, &filed, now);

        let statuses: Vec<(&str, DueStatus)> = drills
            .iter()
            .map(|due| (due.drill.name.as_str(), due.status))
            .collect();
        assert_eq!(
            statuses,
            [
                ("restoration", DueStatus::DueIn(5 * DAY)),
                ("full-dr-test", DueStatus::Never),
            ]
        );
        assert_eq!(drills[0].last, Some(filed[1].clone()));

        let later = calendar(&env, &filed, now + 6 * DAY);
        assert_eq!(later[0].status, DueStatus::Overdue(DAY));
        assert!(later.iter().all(|due| due.status.is_overdue()));
    }

    #[test]
    fn only_drill_reports_are_read_and_a_missing_directory_has_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(filed(&dir.path().join("none")).unwrap(), []);
        std::fs::write(dir.path().join("notes.json"), "{}").unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            r#"{"environment": "production", "scenario": "regional-failure", "started": "2026-11-29T15:00:00.000Z", "passed": false, "more": 1}"#,
        )
        .unwrap();
        let read = filed(dir.path()).unwrap();
        assert_eq!(read.len(), 1);
        assert!(!read[0].passed);
    }
}
