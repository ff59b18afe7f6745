//! `drplan status FILE`: the state (lineage, serial, placement, last run, lock) and the
//! observed world side by side.

use std::fmt::Write;
use std::process::ExitCode;

use super::EnvironmentFile;
use crate::error::Error;
use crate::observe::{ActualState, BackupObservation};
use crate::session::{Session, SimFlags, block_on};
use crate::state::{LockInfo, State};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
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
    super::print(&render(
        &session.loaded.env,
        version.is_some().then_some(&state),
        holder.as_ref(),
        &observed,
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The status report as text.
pub fn render(
    env: &crate::model::Environment,
    state: Option<&State>,
    lock: Option<&LockInfo>,
    observed: &ActualState,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "environment {} (home {})", env.name, env.home.value);
    match state {
        Some(state) => {
            let _ = writeln!(
                out,
                "state: serial {}, lineage {}",
                state.serial, state.lineage
            );
            if let Some(run) = &state.run {
                let finished = crate::apply::journal::finished_steps(&run.journal);
                let steps: Vec<_> = run.plan.plan.work().collect();
                let done = steps.iter().filter(|s| finished.contains(&s.id)).count();
                let _ = writeln!(
                    out,
                    "last run: {} ({}), {done}/{} steps finished",
                    run.id,
                    run.status.name(),
                    steps.len()
                );
            }
        }
        None => out.push_str("state: none yet (nothing applied)\n"),
    }
    match lock {
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
    for service in &env.services {
        let name = &service.name.value;
        // The state records moves; a service never moved is at home.
        let recorded = state
            .map(|s| {
                s.placement
                    .get(name)
                    .map_or(env.home.value.as_str(), String::as_str)
            })
            .unwrap_or("-");
        let seen = observed.placement.get(name).map_or("-", String::as_str);
        let _ = writeln!(out, "{name:<24} {recorded:<16} {seen:<16}");
    }
    let _ = writeln!(out, "\n{:<24} routed to", "record");
    for record in &env.records {
        let sets = observed
            .records
            .get(&record.key.value)
            .cloned()
            .unwrap_or_default();
        let routed: Vec<String> = sets
            .iter()
            .filter(|s| s.weight > 0)
            .map(|s| format!("{} ({})", s.region, s.weight))
            .collect();
        let routed = if routed.is_empty() {
            "nothing".to_string()
        } else {
            routed.join(", ")
        };
        let _ = writeln!(out, "{:<24} {routed}", record.key.value);
    }
    if !observed.backups.is_empty() {
        let _ = writeln!(out, "\n{:<24} newest backup", "data set");
        for (name, backup) in &observed.backups {
            let text = match backup {
                BackupObservation::Found { url, age } => {
                    format!("{} old: {url}", super::render::duration(*age))
                }
                BackupObservation::Missing => "none found".to_string(),
                BackupObservation::Unknown => "unknown".to_string(),
            };
            let _ = writeln!(out, "{name:<24} {text}");
        }
    }
    let down: Vec<&str> = observed
        .regions
        .iter()
        .filter(|(_, up)| !**up)
        .map(|(r, _)| r.as_str())
        .collect();
    let _ = writeln!(
        out,
        "\nregions down: {}",
        if down.is_empty() {
            "none".to_string()
        } else {
            down.join(", ")
        }
    );
    out
}
