//! The run report written at the end of every apply, markdown and JSON, under
//! `.drplan/runs/`: each step's start, duration and outcome, measured recovery time
//! against the estimate and the RTO target, the timeline (planned against actual), data
//! at risk.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::executor::{Execution, Outcome};
use super::timeline::{Bar, gantt, timeline};
use crate::error::Error;
use crate::fsio::{Durability, write_atomic, write_json_atomic};
use crate::graph::step::{Action, Step, StepId};
use crate::model::Phase;
use crate::paths::run_report;
use crate::plan::{DataRisk, Plan, risk};

/// The report of one run.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub format_version: u32,
    pub run_id: String,
    pub environment: String,
    pub intent: String,
    #[serde(with = "crate::timestamp")]
    pub started: SystemTime,
    pub status: String,
    /// Wall time of the run.
    pub elapsed_ms: u128,
    /// On sim: the longest chain of the steps' own durations (journal writes left
    /// out, timed notifications too), divided by the time scale: what recovery would
    /// have taken for real.
    pub simulated_ms: Option<u128>,
    #[serde(with = "crate::duration::seconds")]
    pub estimated_rto: Duration,
    #[serde(with = "crate::duration::seconds")]
    pub rto_target: Duration,
    pub within_target: bool,
    pub steps: Vec<StepReport>,
    /// The steps' planned and actual times.
    pub timeline: Vec<Bar>,
    pub data_at_risk: Vec<DataRisk>,
}

/// One step in the report.
#[derive(Debug, Serialize)]
pub struct StepReport {
    pub id: StepId,
    pub action: String,
    pub target: String,
    pub started: Option<String>,
    pub duration_ms: Option<u128>,
    pub outcome: String,
    pub detail: String,
}

impl RunReport {
    pub fn new(
        run_id: &str,
        plan: &Plan,
        steps: &[Step],
        execution: &Execution,
        started: SystemTime,
        time_scale: Option<f64>,
    ) -> Self {
        // A duration over a positive scale is non-negative, and `as` saturates.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let simulated_ms = time_scale
            .filter(|s| *s > 0.0)
            .map(|scale| (recovery_time(steps, execution).as_secs_f64() * 1000.0 / scale) as u128);
        let measured = simulated_ms.map_or(execution.elapsed, |ms| {
            Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
        });
        let status = execution.status().name();
        Self {
            format_version: 1,
            run_id: run_id.to_string(),
            environment: plan.environment.clone(),
            intent: plan.intent.name.clone(),
            started,
            status: status.to_string(),
            elapsed_ms: execution.elapsed.as_millis(),
            simulated_ms,
            estimated_rto: plan.summary.estimated_rto,
            rto_target: plan.summary.rto_target,
            within_target: execution.complete() && measured <= plan.summary.rto_target,
            steps: steps
                .iter()
                .zip(&execution.results)
                .filter(|(s, _)| !s.action.is_gate())
                .map(|(step, result)| StepReport {
                    id: step.id.clone(),
                    action: step.action.name().to_string(),
                    target: step.target(),
                    started: result
                        .started
                        .map(|t| humantime::format_rfc3339_millis(t).to_string()),
                    duration_ms: result.elapsed.map(|d| d.as_millis()),
                    outcome: match &result.outcome {
                        Outcome::AlreadyDone => "done earlier".to_string(),
                        Outcome::Finished => "finished".to_string(),
                        Outcome::Failed(_) => "failed".to_string(),
                        Outcome::NotRun => "not run".to_string(),
                        Outcome::Aborted => "aborted".to_string(),
                    },
                    detail: match &result.outcome {
                        Outcome::Failed(error) => error.clone(),
                        _ => result.detail.clone(),
                    },
                })
                .collect(),
            timeline: timeline(steps, execution, started, time_scale),
            data_at_risk: plan.summary.data_at_risk.clone(),
        }
    }

    /// The report as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# drplan run {}: {} on {}\n",
            self.run_id, self.intent, self.environment
        );
        let _ = writeln!(out, "| | |\n|---|---|");
        let _ = writeln!(out, "| Status | {} |", self.status);
        let _ = writeln!(
            out,
            "| Started | {} |",
            humantime::format_rfc3339_seconds(self.started)
        );
        let _ = writeln!(out, "| Wall time | {} |", ms(self.elapsed_ms));
        if let Some(simulated) = self.simulated_ms {
            let simulated =
                std::time::Duration::from_millis(u64::try_from(simulated).unwrap_or(u64::MAX));
            let _ = writeln!(
                out,
                "| Recovery time (sim time) | {} |",
                crate::duration::format_duration(simulated)
            );
        }
        let _ = writeln!(
            out,
            "| Estimated RTO | {} |",
            crate::duration::format_duration(self.estimated_rto)
        );
        let _ = writeln!(
            out,
            "| RTO target | {} ({}) |",
            crate::duration::format_duration(self.rto_target),
            if self.within_target { "met" } else { "NOT met" }
        );
        let _ = writeln!(
            out,
            "\n## Steps\n\n| Step | Outcome | Duration | Detail |\n|---|---|---|---|"
        );
        for step in &self.steps {
            let duration = step.duration_ms.map(ms).unwrap_or_default();
            let detail = step.detail.lines().next().unwrap_or("").replace('|', "\\|");
            let _ = writeln!(
                out,
                "| `{}` | {} | {duration} | {detail} |",
                step.id, step.outcome
            );
        }
        if !self.timeline.is_empty() {
            let _ = write!(out, "\n## Timeline\n\n{}", gantt(&self.timeline));
        }
        if !self.data_at_risk.is_empty() {
            let table = risk::table(&self.data_at_risk);
            let _ = write!(out, "\n## Data at risk\n\n{table}");
        }
        out
    }

    /// Writes `<run-id>.md` and `<run-id>.json` into the runs directory.
    pub fn write(&self) -> Result<PathBuf, Error> {
        let markdown = run_report(&self.run_id, "md");
        write_atomic(
            &markdown,
            self.markdown().as_bytes(),
            Durability::ProcessKill,
        )?;
        write_json_atomic(
            &run_report(&self.run_id, "json"),
            self,
            Durability::ProcessKill,
        )?;
        Ok(markdown)
    }
}

fn ms(ms: u128) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

/// The longest chain of the steps' measured durations up to recovery, as the plan's
/// estimate counts it: timed notifications, which hold nothing back, and the resolve
/// phase, which runs once recovery is verified, count as instant.
fn recovery_time(steps: &[Step], execution: &Execution) -> Duration {
    let worked: Vec<Duration> = steps
        .iter()
        .zip(&execution.results)
        .map(|(step, result)| match (&step.action, step.phase) {
            (Action::Notify { .. }, _) | (_, Phase::Resolve) => Duration::ZERO,
            _ => result.elapsed.unwrap_or_default(),
        })
        .collect();
    crate::graph::StepGraph::new(steps).longest_path(&worked).0
}
