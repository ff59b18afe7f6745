//! The timeline of a run: for each step, when the plan expected it to start and how
//! long it would take, against when it started and how long it took (on sim, in
//! recovery time: durations divided by the time scale); drawn as a Mermaid gantt
//! chart that run and drill reports show.

use std::fmt::Write;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::executor::Execution;
use crate::graph::StepGraph;
use crate::graph::step::{Step, StepId};

/// One step on the timeline, in milliseconds from the start of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bar {
    pub step: StepId,
    pub planned_start_ms: u128,
    pub planned_ms: u128,
    /// `None` when the step did not run.
    pub actual_start_ms: Option<u128>,
    pub actual_ms: Option<u128>,
}

/// The planned and actual times of the steps (gates left out) of a run that started
/// at `started`; `scale` is the sim time scale, when above zero.
pub fn timeline(
    steps: &[Step],
    execution: &Execution,
    started: SystemTime,
    scale: Option<f64>,
) -> Vec<Bar> {
    let estimates: Vec<Duration> = steps.iter().map(|s| s.estimate).collect();
    let planned = StepGraph::new(steps).earliest_starts(&estimates);
    let real = |d: Duration| scaled(d, scale);
    steps
        .iter()
        .zip(&execution.results)
        .zip(planned)
        .filter(|((step, _), _)| !step.action.is_gate())
        .map(|((step, result), planned_start)| Bar {
            step: step.id.clone(),
            planned_start_ms: planned_start.as_millis(),
            planned_ms: step.estimate.as_millis(),
            actual_start_ms: result
                .started
                .map(|t| real(t.duration_since(started).unwrap_or_default())),
            actual_ms: result.elapsed.map(real),
        })
        .collect()
}

/// `duration` divided by the time scale, in milliseconds.
// A duration over a positive scale is non-negative, and `as` saturates.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn scaled(duration: Duration, scale: Option<f64>) -> u128 {
    match scale.filter(|s| *s > 0.0) {
        Some(scale) => (duration.as_secs_f64() * 1000.0 / scale) as u128,
        None => duration.as_millis(),
    }
}

/// The timeline as a fenced Mermaid gantt chart: the plan's bars, then the run's.
pub fn gantt(bars: &[Bar]) -> String {
    let mut out = String::from(
        "```mermaid\ngantt\n  title Planned and actual step times\n  dateFormat x\n  axisFormat %H:%M:%S\n  section Planned\n",
    );
    for (i, bar) in bars.iter().enumerate() {
        let end = bar.planned_start_ms + bar.planned_ms;
        let _ = writeln!(
            out,
            "  {} :p{i}, {}, {end}",
            task(&bar.step),
            bar.planned_start_ms
        );
    }
    out.push_str("  section Actual\n");
    for (i, bar) in bars.iter().enumerate() {
        if let (Some(start), Some(took)) = (bar.actual_start_ms, bar.actual_ms) {
            let _ = writeln!(
                out,
                "  {} :a{i}, {start}, {}",
                task(&bar.step),
                start + took
            );
        }
    }
    out.push_str("```\n");
    out
}

/// A step id as a gantt task name: Mermaid reads `:`, `#` and `;` as syntax.
fn task(step: &StepId) -> String {
    step.as_str()
        .chars()
        .map(|c| if matches!(c, ':' | '#' | ';') { ' ' } else { c })
        .collect()
}
