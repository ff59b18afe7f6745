//! What the benches that race drplan against an `aws` CLI script on moto share
//! (`benches/route53.rs`, `benches/aws_failover.rs`): timing a process, medians, the
//! printed rows, API calls by operation (named by the counting proxy's
//! `fixture::operation`) and the run reports drplan writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `aws` CLI: `$DRPLAN_AWS_CLI`, else the one `scripts/test` installs.
pub fn aws_cli() -> PathBuf {
    std::env::var_os("DRPLAN_AWS_CLI").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/aws"),
        PathBuf::from,
    )
}

/// Runs `command` to success; returns its wall time.
pub fn time(command: &mut Command) -> Duration {
    let started = Instant::now();
    let output = command.output().expect("the command starts");
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    took
}

/// Requests by operation, `name` giving each request's.
pub fn count(requests: &[String], name: fn(&str) -> String) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in requests {
        *counts.entry(name(request)).or_insert(0) += 1;
    }
    counts
}

/// `7 (s3:GetObject 2, …)`: the total, then each operation's count.
pub fn calls_text(counts: &BTreeMap<String, usize>) -> String {
    let total: usize = counts.values().sum();
    let each: Vec<String> = counts
        .iter()
        .map(|(operation, n)| format!("{operation} {n}"))
        .collect();
    format!("{total} ({})", each.join(", "))
}

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

pub fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// One row of a table of medians.
pub fn row(label: &str, duration: Duration) {
    println!("{label:<58} {:>7.0} ms", secs(duration) * 1000.0);
}

pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// The JSON run reports in `dir` (`.drplan/runs`).
pub fn reports(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| Some(entry.ok()?.path()))
                .filter(|path| path.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default()
}

/// The JSON run report in `dir` that is not among `before`.
pub fn new_report(dir: &Path, before: &[PathBuf]) -> Value {
    let report = reports(dir)
        .into_iter()
        .find(|path| !before.contains(path))
        .expect("a new run report");
    serde_json::from_str(&std::fs::read_to_string(report).expect("the report"))
        .expect("the report is JSON")
}

/// The duration of the report's step `id`.
pub fn step(report: &Value, id: &str) -> Duration {
    let millis = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["id"] == id)
        .and_then(|step| step["duration_ms"].as_u64())
        .unwrap_or_else(|| panic!("no step {id} with a duration"));
    Duration::from_millis(millis)
}

/// The longest duration of the report's steps whose action is `action`.
pub fn longest_step(report: &Value, action: &str) -> Duration {
    let millis = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|step| step["action"] == action)
        .filter_map(|step| step["duration_ms"].as_u64())
        .max()
        .unwrap_or_else(|| panic!("{action} steps with durations"));
    Duration::from_millis(millis)
}
