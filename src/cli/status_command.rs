//! `drplan status FILE`: the state (lineage, serial, placement, last run, lock) and the
//! observed world side by side, as text or JSON (`apply::status::Status`); with
//! `[watch]`, each watcher's last published observation and its age.

use std::fmt::Write;
use std::process::ExitCode;
use std::time::SystemTime;

use super::{EnvironmentFile, ReportFormat};
use crate::apply::status::{RecordStatus, Status};
use crate::duration::format_seconds;
use crate::error::Error;
use crate::observe::BackupObservation;
use crate::session::{Session, SimFlags, block_on};
use crate::state::observations::Observations;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
    /// How to print the status: readable text, or JSON for machines.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    #[command(flatten)]
    pub sim: SimFlags,
}

pub fn run(args: &StatusArgs) -> Result<ExitCode, Error> {
    block_on(status(args))?
}

async fn status(args: &StatusArgs) -> Result<ExitCode, Error> {
    let session = Session::open(&args.env.file, args.sim).await?;
    let (state, version) = session.state().await?;
    let holder = session.state_backend.lock_holder().await?;
    let observed = session.observe(&state, None).await?;
    let status = Status::new(
        &session.loaded.env,
        version.is_some().then_some(&state),
        holder,
        &observed,
    );
    let watchers = session.state_backend.observations().await?;
    super::print(&match args.format {
        ReportFormat::Text => render(&status) + &render_watchers(&watchers, SystemTime::now()),
        ReportFormat::Json => {
            let mut json = serde_json::to_value(&status).unwrap_or_default();
            if let (false, Some(object)) = (watchers.is_empty(), json.as_object_mut()) {
                object.insert("watchers".into(), serde_json::json!(watchers));
            }
            serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The status report as text.
pub fn render(status: &Status) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "environment {} (home {})",
        status.environment, status.home
    );
    match &status.state {
        Some(state) => {
            let _ = writeln!(
                out,
                "state: serial {}, lineage {}",
                state.serial, state.lineage
            );
            if let Some(run) = &state.last_run {
                let _ = writeln!(
                    out,
                    "last run: {} ({}), {}/{} steps finished",
                    run.id, run.status, run.finished, run.steps
                );
            }
        }
        None => out.push_str("state: none yet (nothing applied)\n"),
    }
    match &status.lock {
        Some(lock) => {
            let since = humantime::format_rfc3339_seconds(lock.created);
            let _ = writeln!(
                out,
                "lock: held by {} since {since} ({}, id {})",
                lock.who, lock.operation, lock.id
            );
        }
        None => out.push_str("lock: free\n"),
    }
    let _ = writeln!(
        out,
        "\n{:<24} {:<16} {:<16}",
        "service", "state", "observed"
    );
    for service in &status.services {
        let recorded = service.recorded.as_deref().unwrap_or("-");
        let seen = service.observed.as_deref().unwrap_or("-");
        let _ = writeln!(out, "{:<24} {recorded:<16} {seen:<16}", service.name);
    }
    let _ = writeln!(out, "\n{:<24} routed to", "record");
    for record in &status.records {
        let _ = writeln!(out, "{:<24} {}", record.key, routed(record));
    }
    if !status.backups.is_empty() {
        let _ = writeln!(out, "\n{:<24} newest backup", "data set");
        for (name, backup) in &status.backups {
            let text = match backup {
                BackupObservation::Found { url, age } => {
                    format!("{} old: {url}", format_seconds(*age))
                }
                BackupObservation::Missing => "none found".to_string(),
                BackupObservation::Unknown => "unknown".to_string(),
            };
            let _ = writeln!(out, "{name:<24} {text}");
        }
    }
    if !status.replication.is_empty() {
        let _ = writeln!(out, "\n{:<24} copies", "replicated data");
        for (name, copies) in &status.replication {
            let copies: Vec<String> = copies
                .iter()
                .map(|(region, observed)| format!("{region}: {}", observed.describe()))
                .collect();
            let _ = writeln!(out, "{name:<24} {}", copies.join("; "));
        }
    }
    let down = if status.regions_down.is_empty() {
        "none".to_string()
    } else {
        status.regions_down.join(", ")
    };
    let _ = writeln!(out, "\nregions down: {down}");
    out
}

/// `us-east-1 (100)`, or `nothing`.
fn routed(record: &RecordStatus) -> String {
    if record.routed.is_empty() {
        return "nothing".to_string();
    }
    let routed: Vec<String> = record
        .routed
        .iter()
        .map(|(region, weight)| format!("{region} ({weight})"))
        .collect();
    routed.join(", ")
}

/// Each watcher's last observation of each trigger, and how old it is at `now`
/// (nothing when no watcher published).
pub fn render_watchers(watchers: &[Observations], now: SystemTime) -> String {
    let mut out = String::new();
    if watchers.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\n{:<16} {:<16} {:<24} last observation",
        "watcher", "region", "trigger"
    );
    for watcher in watchers {
        for (trigger, seen) in &watcher.triggers {
            let condition = seen.watching.holding();
            let what = if seen.holds {
                let held = seen.observed.duration_since(seen.since).unwrap_or_default();
                format!(
                    "{condition} for {} ({} probes)",
                    crate::duration::format_duration(held),
                    seen.probes
                )
            } else {
                format!("not {condition}")
            };
            let when = humantime::format_rfc3339_seconds(seen.observed);
            let age = match now.duration_since(seen.observed) {
                Ok(age) => format!("{} old", crate::duration::format_duration(age)),
                Err(_) => "ahead of this clock (a sim watch's clock)".to_string(),
            };
            let blind = if seen.blind {
                "; every probe failed"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "{:<16} {:<16} {trigger:<24} {what}{blind}: {}; observed {when}, {age}",
                watcher.watcher, watcher.region, seen.detail
            );
        }
    }
    out
}
