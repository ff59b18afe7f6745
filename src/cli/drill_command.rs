//! `drplan drill FILE --scenario S`: rehearse a scenario and its failback on a sim copy
//! (or `--target` test environment) and file the report under `drills/`;
//! `drplan drill FILE --due`: the DR testing calendar against the reports filed.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use super::{EnvironmentFile, print};
use crate::drill::due::{self, Due, DueStatus};
use crate::drill::{DrillOptions, REPORTS_DIR, drill};
use crate::error::Error;
use crate::session::block_on;

#[derive(Debug, clap::Args)]
pub struct DrillArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
    /// The scenario to rehearse.
    #[arg(long, value_name = "NAME", required_unless_present = "due")]
    pub scenario: Option<String>,
    /// List the drills of the [drills] calendar, their last report and whether they are overdue.
    #[arg(long, conflicts_with_all = ["scenario", "target", "keep", "accept_data_loss", "time_scale"])]
    pub due: bool,
    /// Rehearse on this test environment's own providers instead of a sim copy.
    #[arg(long, value_name = "FILE")]
    pub target: Option<PathBuf>,
    /// On sim, multiply every wait by this (0: no waiting; default 0.002, or $DRPLAN_TIME_SCALE).
    #[arg(long, value_name = "X")]
    #[allow(clippy::doc_markdown)]
    // clap prints this doc as --help, where backticks would show
    pub time_scale: Option<f64>,
    /// Keep the drill's private world, state and run reports (.drplan/drills/…).
    #[arg(long)]
    pub keep: bool,
    /// Recover even when a backup is older than its RPO (or missing).
    #[arg(long)]
    pub accept_data_loss: bool,
}

pub fn run(args: &DrillArgs) -> Result<ExitCode, Error> {
    match &args.scenario {
        Some(scenario) if !args.due => rehearse(args, scenario),
        _ => calendar(&args.env.file),
    }
}

fn rehearse(args: &DrillArgs, scenario: &str) -> Result<ExitCode, Error> {
    let options = DrillOptions {
        scenario: scenario.to_string(),
        target: args.target.clone(),
        time_scale: args.time_scale,
        keep: args.keep,
        accept_data_loss: args.accept_data_loss,
    };
    let (report, path) = block_on(drill(&args.env.file, &options))??;
    print(&format!(
        "{}\nreport: {}\n",
        report.markdown(),
        path.display()
    ))?;
    match report.failures().len() {
        0 => Ok(ExitCode::SUCCESS),
        failures => Err(Error::DrillFailed {
            failures,
            report: path.display().to_string(),
        }),
    }
}

fn calendar(file: &Path) -> Result<ExitCode, Error> {
    let env = crate::model::load(file)?.env;
    let filed = due::filed(Path::new(REPORTS_DIR))?;
    let calendar = due::calendar(&env, &filed, SystemTime::now());
    print(&render(&calendar))?;
    Ok(ExitCode::SUCCESS)
}

/// The calendar as a table.
fn render(calendar: &[Due<'_>]) -> String {
    let rows: Vec<[String; 5]> = calendar
        .iter()
        .map(|due| {
            let last = due.last.as_ref().map_or("never".to_string(), |last| {
                let result = if last.passed { "passed" } else { "FAILED" };
                format!(
                    "{} ({result})",
                    humantime::format_rfc3339_seconds(last.started)
                )
            });
            let status = match due.status {
                DueStatus::Never => "OVERDUE: never drilled".to_string(),
                DueStatus::Overdue(late) => format!("OVERDUE by {}", days(late)),
                DueStatus::DueIn(early) => format!("due in {}", days(early)),
            };
            [
                due.drill.name.clone(),
                due.drill.scenario.value.clone(),
                days(due.drill.every),
                last,
                status,
            ]
        })
        .collect();
    let header = ["drill", "scenario", "every", "last report", "status"].map(String::from);
    let mut widths = [0; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    if calendar.is_empty() {
        let _ = writeln!(out, "(no [drills] declared)");
    }
    out
}

/// A calendar duration to the minute: `90d`, `6d 23h 59m`.
fn days(duration: Duration) -> String {
    let minutes = duration.as_secs() / 60;
    let parts: Vec<String> = [
        (minutes / 1440, "d"),
        (minutes / 60 % 24, "h"),
        (minutes % 60, "m"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, unit)| format!("{count}{unit}"))
    .collect();
    if parts.is_empty() {
        "less than a minute".to_string()
    } else {
        parts.join(" ")
    }
}
