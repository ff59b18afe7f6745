//! The drill report, the record a team files after a DR test: what was rehearsed and
//! where, the failure injected, time to detect, time to recover against the estimate
//! and the RTO target, data at risk per data set against its RPO, the checks after
//! recovery and after failback, and every failure. Written as markdown and JSON under
//! `drills/`.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::detect::{self, TriggerDetection};
use crate::apply::timeline::{Bar, gantt};
use crate::apply::verify::CheckOutcome;
use crate::error::Error;
use crate::fsio::{Durability, write_atomic};
use crate::graph::step::StepId;
use crate::paths::file_in;
use crate::plan::{DataRisk, risk};

/// The version of the JSON drill report.
pub const FORMAT_VERSION: u32 = 1;

/// One drill, start to end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillReport {
    pub format_version: u32,
    pub environment: String,
    /// The environment file, as given on the command line.
    pub environment_file: String,
    pub scenario: String,
    pub severity: String,
    pub strategy: String,
    /// `a sim copy of …`, or `test environment …`.
    pub ground: String,
    /// On sim: every wait was multiplied by this.
    pub time_scale: Option<f64>,
    #[serde(with = "crate::timestamp")]
    pub started: SystemTime,
    pub injected: String,
    /// Why time to detect was not measured, when it was not.
    pub detection_note: Option<String>,
    pub detection: Vec<TriggerDetection>,
    /// Wall time of the detection phase.
    pub detection_wall_ms: u128,
    /// After a failover, once home was repaired: the triggers watching home.
    #[serde(default)]
    pub failback_detection: Vec<TriggerDetection>,
    pub recovery: RunSummary,
    #[serde(with = "crate::duration::seconds")]
    pub rto_target: Duration,
    pub data_at_risk: Vec<DataRisk>,
    /// What became of the writes the drill made to each replicated data set.
    #[serde(default)]
    pub writes: Vec<DataWrites>,
    pub checks_after_recovery: Vec<CheckOutcome>,
    /// `None` when the scenario moved nothing to move back.
    pub failback: Option<RunSummary>,
    pub checks_after_failback: Vec<CheckOutcome>,
    /// The drill's private directory, when `--keep` kept it.
    pub kept: Option<String>,
}

/// One apply of the drill (the recovery, or the failback).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The scenario, or `failback`.
    pub intent: String,
    pub run_id: Option<String>,
    /// `finished`, `failed`, `interrupted`, or `not run`.
    pub status: String,
    pub steps: usize,
    pub failed_steps: Vec<FailedStep>,
    /// Why the run did not happen or stopped, in drplan's words.
    pub error: Option<String>,
    #[serde(with = "crate::duration::seconds")]
    pub estimated: Duration,
    pub wall_ms: u128,
    /// On sim: the run report's simulated time (the longest chain of the steps' own
    /// durations divided by the time scale); `None` at time scale 0 or for real.
    pub simulated_ms: Option<u128>,
    /// The steps' planned and actual times.
    #[serde(default)]
    pub timeline: Vec<Bar>,
}

/// The first trigger to fire among `detections`, and what it does then (`alone` when
/// automatic, `waits` otherwise).
fn detection_text(detections: &[TriggerDetection], alone: &str, waits: &str) -> String {
    match detect::first(detections) {
        Some(first) => format!(
            "{} ({} probes) by trigger `{}`{}, {}",
            duration(first.detected_after.unwrap_or_default()),
            first.probes,
            first.trigger,
            first
                .quorum
                .as_ref()
                .map(|quorum| format!(" ({quorum})"))
                .unwrap_or_default(),
            if first.automatic { alone } else { waits }
        ),
        None => "NOT detected by any trigger".to_string(),
    }
}

/// A section listing what each trigger did, when any probed.
fn detection_table(out: &mut String, title: &str, detections: &[TriggerDetection]) {
    if detections.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n## {title}\n\n| Trigger | Automatic | For | Probes | Detected after | Last probe |\n|---|---|---|---|---|---|"
    );
    for d in detections {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            d.trigger,
            yes_no(d.automatic),
            duration(d.hold),
            d.probes,
            d.detected_after
                .map_or("not detected".to_string(), duration),
            cell(&d.last_finding)
        );
    }
}

/// The writes a drill made to one replicated data set, and what was lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataWrites {
    pub data: String,
    #[serde(with = "crate::duration::seconds")]
    pub rpo: Duration,
    /// Writes accepted over the drill.
    pub writes: u64,
    /// Writes lost by promotions.
    pub lost: u64,
    /// Of those, the ones older than the RPO when lost (or of unknown age).
    pub lost_beyond_rpo: u64,
    /// Writes lost by the failback's promotion of home: a failback loses none.
    pub lost_failing_back: u64,
    /// How many writes home's copy held at the end, when the drill failed back.
    pub on_home: Option<u64>,
}

/// A step that failed, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedStep {
    pub step: StepId,
    pub error: String,
}

impl RunSummary {
    pub fn finished(&self) -> bool {
        self.status == "finished"
    }

    /// The measured time: simulated on sim, wall otherwise.
    pub fn measured(&self) -> Duration {
        millis(self.simulated_ms.unwrap_or(self.wall_ms))
    }
}

impl DrillReport {
    /// The time to detect: the first trigger to fire.
    pub fn time_to_detect(&self) -> Option<&TriggerDetection> {
        detect::first(&self.detection)
    }

    /// False when the drill ran on sim at time scale 0: nothing was waited, so its
    /// times stand for nothing.
    fn timed(&self) -> bool {
        self.time_scale != Some(0.0)
    }

    /// Detection plus recovery against the RTO target, once recovery finished (and
    /// only when the drill was timed).
    pub fn within_rto(&self) -> Option<bool> {
        (self.recovery.finished() && self.timed())
            .then(|| self.detected_and_recovered() <= self.rto_target)
    }

    /// The time to detect (zero when nothing detected) plus the measured recovery.
    fn detected_and_recovered(&self) -> Duration {
        let detected = self
            .time_to_detect()
            .and_then(|d| d.detected_after)
            .unwrap_or_default();
        detected.saturating_add(self.recovery.measured())
    }

    /// Every failure: steps, runs that did not finish, checks, an undetected failure.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        if self.detection_note.is_none() && self.time_to_detect().is_none() {
            failures.push("no trigger detected the injected failure".to_string());
        }
        if !self.failback_detection.is_empty() && detect::first(&self.failback_detection).is_none()
        {
            failures.push("no trigger detected that home was repaired".to_string());
        }
        let runs = std::iter::once(&self.recovery).chain(&self.failback);
        for run in runs {
            failures.extend(
                run.failed_steps
                    .iter()
                    .map(|f| format!("{}: step `{}` failed: {}", run.intent, f.step, f.error)),
            );
            if let Some(error) = &run.error {
                failures.push(format!("{} {}: {error}", run.intent, run.status));
            }
        }
        if self.within_rto() == Some(false) {
            failures.push(format!(
                "detection + recovery took {}, over the RTO target {}",
                duration(self.detected_and_recovered()),
                duration(self.rto_target)
            ));
        }
        for data in &self.writes {
            if data.lost_beyond_rpo > 0 {
                failures.push(format!(
                    "`{}`: {} write(s) lost beyond its RPO of {}",
                    data.data,
                    data.lost_beyond_rpo,
                    duration(data.rpo)
                ));
            }
            if data.lost_failing_back > 0 {
                failures.push(format!(
                    "`{}`: the failback lost {} write(s)",
                    data.data, data.lost_failing_back
                ));
            }
        }
        let checks = [
            ("after recovery", &self.checks_after_recovery),
            ("after failback", &self.checks_after_failback),
        ];
        for (when, outcomes) in checks {
            failures.extend(
                outcomes
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| format!("check \"{}\" {when}: {}", c.name, c.detail)),
            );
        }
        failures
    }

    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    /// `production-regional-failure-20261129T150102Z`.
    pub fn file_stem(&self) -> String {
        format!(
            "{}-{}-{}",
            self.environment,
            self.scenario,
            stamp(self.started)
        )
    }

    /// Writes `<stem>.md` and `<stem>.json` into `dir`; returns the markdown's path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, Error> {
        let markdown = file_in(dir, &self.file_stem(), "md");
        write_atomic(
            &markdown,
            self.markdown().as_bytes(),
            Durability::ProcessKill,
        )?;
        let mut json = serde_json::to_value(self).unwrap_or_default();
        json["passed"] = self.passed().into();
        json["failures"] = self.failures().into();
        let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
        let json = file_in(dir, &self.file_stem(), "json");
        write_atomic(&json, text.as_bytes(), Durability::ProcessKill)?;
        Ok(markdown)
    }

    /// The report as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        self.summary(&mut out);
        self.detection_section(&mut out);
        self.runs_section(&mut out);
        self.data_section(&mut out);
        self.checks_section(&mut out);
        self.failures_section(&mut out);
        self.notes_section(&mut out);
        out
    }

    fn summary(&self, out: &mut String) {
        let failures = self.failures();
        let _ = writeln!(
            out,
            "# DR drill: {} on {}\n",
            self.scenario, self.environment
        );
        let _ = writeln!(
            out,
            "**Result: {}**\n",
            match failures.len() {
                0 => "PASSED (no failures)".to_string(),
                n => format!("FAILED ({n} failure(s), listed below)"),
            }
        );
        let rows = [
            (
                "Environment",
                format!("{} (`{}`)", self.environment, self.environment_file),
            ),
            (
                "Scenario",
                format!("{}: {}, {}", self.scenario, self.severity, self.strategy),
            ),
            ("Rehearsed on", self.ground.clone()),
            ("Started", stamp_rfc3339(self.started)),
            ("Failure injected", self.injected.clone()),
            ("Time to detect", self.time_to_detect_text()),
            ("Time to recover", Self::run_text(&self.recovery)),
            ("Detection + recovery", self.rto_text()),
            ("Writes lost", self.writes_text()),
            ("Time to detect home repaired", self.home_detect_text()),
            (
                "Failback",
                self.failback.as_ref().map_or_else(
                    || "not needed: the scenario moved nothing".to_string(),
                    Self::run_text,
                ),
            ),
        ];
        let _ = writeln!(out, "| | |\n|---|---|");
        for (name, value) in rows {
            let _ = writeln!(out, "| {name} | {} |", cell(&value));
        }
    }

    fn writes_text(&self) -> String {
        if self.writes.is_empty() {
            return "not measured: no replicated data set on a sim world".to_string();
        }
        self.writes
            .iter()
            .map(|d| {
                let home = d.on_home.map_or_else(String::new, |n| {
                    format!(", {n} of {} on home after failback", d.writes)
                });
                format!(
                    "`{}`: {} of {} against the RPO {} ({} beyond){home}",
                    d.data,
                    d.lost,
                    d.writes,
                    duration(d.rpo),
                    d.lost_beyond_rpo
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn time_to_detect_text(&self) -> String {
        match &self.detection_note {
            Some(note) => format!("not measured: {note}"),
            None => detection_text(
                &self.detection,
                "which starts the recovery alone",
                "which notifies and waits for a person to approve",
            ),
        }
    }

    fn home_detect_text(&self) -> String {
        match (&self.failback, &self.detection_note) {
            (None, _) => "not needed: the scenario moved nothing".to_string(),
            (_, Some(note)) => format!("not measured: {note}"),
            (Some(_), None) => detection_text(
                &self.failback_detection,
                "which fails back alone",
                "which notifies and waits for a person to approve the failback",
            ),
        }
    }

    fn run_text(run: &RunSummary) -> String {
        if let Some(error) = &run.error {
            return format!("{}: {error}", run.status);
        }
        if !run.finished() {
            return format!("{}: {} step(s) failed", run.status, run.failed_steps.len());
        }
        let measured = match run.simulated_ms {
            Some(simulated) => format!(
                "{} simulated ({} wall)",
                duration(millis(simulated)),
                seconds(run.wall_ms)
            ),
            None => seconds(run.wall_ms),
        };
        format!(
            "{measured} against the estimate {} ({} steps)",
            duration(run.estimated),
            run.steps
        )
    }

    fn rto_text(&self) -> String {
        let target = duration(self.rto_target);
        match self.within_rto() {
            None if !self.timed() => {
                format!(
                    "not measured at time scale 0 (rehearse with a time scale above 0); RTO target {target}"
                )
            }
            None => format!("not measured (recovery did not finish); RTO target {target}"),
            Some(within) => format!(
                "{} against the RTO target {target}: {}",
                duration(self.detected_and_recovered()),
                if within { "met" } else { "NOT met" }
            ),
        }
    }

    fn detection_section(&self, out: &mut String) {
        detection_table(out, "Detection", &self.detection);
        detection_table(out, "Detection of home repaired", &self.failback_detection);
    }

    fn runs_section(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "\n## Runs\n\n| Run | Intent | Status | Steps | Failed | Estimate | Simulated | Wall |\n|---|---|---|---|---|---|---|---|"
        );
        for run in std::iter::once(&self.recovery).chain(&self.failback) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                run.run_id
                    .as_deref()
                    .map_or("-".to_string(), |id| format!("`{id}`")),
                run.intent,
                run.status,
                run.steps,
                run.failed_steps.len(),
                duration(run.estimated),
                run.simulated_ms
                    .map_or("-".to_string(), |ms| duration(millis(ms))),
                seconds(run.wall_ms)
            );
        }
        for run in std::iter::once(&self.recovery).chain(&self.failback) {
            if !run.timeline.is_empty() {
                let _ = write!(
                    out,
                    "\n### Timeline: {}\n\n{}",
                    run.intent,
                    gantt(&run.timeline)
                );
            }
        }
    }

    fn data_section(&self, out: &mut String) {
        if self.data_at_risk.is_empty() {
            return;
        }
        let table = risk::table(&self.data_at_risk);
        let _ = write!(out, "\n## Data at risk\n\n{table}");
    }

    fn checks_section(&self, out: &mut String) {
        let after_failback = |name: &str| {
            self.checks_after_failback
                .iter()
                .find(|c| c.name == name)
                .map_or("-".to_string(), verdict)
        };
        if self.checks_after_recovery.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n## Checks\n\n| Check | After recovery | After failback |\n|---|---|---|"
        );
        for check in &self.checks_after_recovery {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                cell(&check.name),
                verdict(check),
                after_failback(&check.name)
            );
        }
    }

    fn failures_section(&self, out: &mut String) {
        let failures = self.failures();
        let _ = writeln!(out, "\n## Failures\n");
        if failures.is_empty() {
            let _ = writeln!(out, "None.");
        }
        for failure in failures {
            let _ = writeln!(out, "- {}", failure.lines().next().unwrap_or(""));
        }
    }

    fn notes_section(&self, out: &mut String) {
        let _ = writeln!(out, "\n## Notes\n");
        match self.time_scale {
            Some(0.0) => {
                let _ = writeln!(
                    out,
                    "- Rehearsed at time scale 0: nothing was waited, so the run times are drplan's own overhead and the RTO is not judged; time to detect is counted in watch time (each probe interval once)."
                );
            }
            Some(scale) => {
                let _ = writeln!(
                    out,
                    "- Rehearsed at time scale {scale}: time to detect is counted in watch time (each probe interval once); simulated run times are the longest chain of the steps' own durations divided by {scale}."
                );
            }
            None => {}
        }
        let _ = writeln!(
            out,
            "- {}",
            self.kept.as_deref().map_or_else(
                || "The drill's private world and state were removed (`--keep` keeps them)."
                    .to_string(),
                |dir| format!(
                    "The drill's private world, state and run reports are kept in `{dir}`."
                ),
            )
        );
    }
}

fn verdict(check: &CheckOutcome) -> String {
    if check.passed {
        "pass".to_string()
    } else {
        format!("FAIL: {}", cell(&check.detail))
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// Text safe for a table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.lines().next().unwrap_or("").replace('|', "\\|")
}

fn duration(duration: Duration) -> String {
    humantime::format_duration(Duration::from_secs(duration.as_secs())).to_string()
}

fn millis(ms: u128) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

fn seconds(ms: u128) -> String {
    format!("{:.1}s", millis(ms).as_secs_f64())
}

fn stamp_rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// `20261129T150102Z`.
pub fn stamp(time: SystemTime) -> String {
    stamp_rfc3339(time).replace([':', '-'], "")
}
