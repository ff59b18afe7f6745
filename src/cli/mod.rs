//! The command line: clap definitions, one module per command, and the renderers of
//! plans and graphs.

mod apply_command;
mod drill_command;
pub mod graph_command;
mod plan_command;
pub mod render;
mod schema_command;
mod shell_command;
mod show_command;
mod sim_command;
mod status_command;
mod unlock_command;
pub mod validate_command;
mod verify_command;
mod watch_command;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::Error;

/// drplan — a disaster-recovery runbook as code.
///
/// Declare regions, services, DNS, backups and scenarios in TOML; drplan builds the
/// dependency graph, plans a failover (or failback, or restore) that people review,
/// and runs it in dependency order.
#[derive(Debug, Parser)]
#[command(
    name = "drplan",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check an environment file and report every problem found.
    Validate(validate_command::ValidateArgs),
    /// Print the step graph of a scenario (or the service graph without one).
    Graph(graph_command::GraphArgs),
    /// Plan a scenario or the failback: what will change, in which order, how long.
    Plan(plan_command::PlanArgs),
    /// Print a saved plan again, as `plan` did, and say whether it is still current.
    Show(show_command::ShowArgs),
    /// Run a saved plan (or plan and run a scenario): in order, in parallel, journaled, resumable.
    Apply(apply_command::ApplyArgs),
    /// Show the state and the observed world side by side.
    Status(status_command::StatusArgs),
    /// Remove a lock left by an operation that died.
    ForceUnlock(unlock_command::ForceUnlockArgs),
    /// Run the validation checklist ([[checks]]) against the world.
    Verify(verify_command::VerifyArgs),
    /// Create, change and show the sim world: the stand-in for DNS, backups and services.
    Sim(sim_command::SimArgs),
    /// Watch the triggers: after `for` of failure, apply their scenario or notify and wait.
    Watch(watch_command::WatchArgs),
    /// Rehearse a scenario and its failback on a sim copy and file the report; or list drills due.
    Drill(drill_command::DrillArgs),
    /// Print the JSON Schema of environment files, for editors (Taplo, Even Better TOML).
    Schema(schema_command::SchemaArgs),
    /// Print the shell completion script of bash, zsh, fish, elvish or powershell.
    Completions(shell_command::CompletionsArgs),
    /// Print the man page, drplan(1).
    Man,
}

/// Which plan to make.
#[derive(Debug, Clone, clap::Args)]
#[group(required = false, multiple = false)]
pub struct Target {
    /// The scenario to plan.
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// Plan the failback: every service back in the home region.
    #[arg(long)]
    pub failback: bool,
}

/// Output formats of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Markdown,
    Json,
}

/// Output formats of reports (`status`, `verify`): readable text, or JSON for machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

/// Whether to colour what goes to standard error: not when `NO_COLOR` is set (see
/// no-color.org), always when `CLICOLOR_FORCE` is, else when it is a terminal.
pub fn colour() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    if set("NO_COLOR") {
        return false;
    }
    set("CLICOLOR_FORCE") || std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// Runs the command and returns the process exit code.
pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Validate(args) => validate_command::run(&args),
        Command::Graph(args) => graph_command::run(&args),
        Command::Plan(args) => plan_command::run(&args),
        Command::Show(args) => show_command::run(&args),
        Command::Apply(args) => apply_command::run(&args),
        Command::Status(args) => status_command::run(&args),
        Command::ForceUnlock(args) => unlock_command::run(&args),
        Command::Verify(args) => verify_command::run(&args),
        Command::Sim(args) => sim_command::run(&args),
        Command::Watch(args) => watch_command::run(&args),
        Command::Drill(args) => drill_command::run(&args),
        Command::Schema(args) => schema_command::run(&args),
        Command::Completions(args) => shell_command::completions(&args),
        Command::Man => shell_command::man(),
    }
}

/// Writes `text` to standard output. Unlike `print!`, which panics, a failed write (a
/// full disk, a closed file) ends the command with an error.
pub fn print(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| Error::Stdout { source })
}

/// Writes `text` to standard error, as far as it can: there is nowhere left to report
/// a failure to.
pub fn eprint(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Resolves `--scenario` / `--failback` against the environment.
pub fn intent<'e>(
    env: &'e crate::model::Environment,
    target: &Target,
) -> Result<Option<crate::plan::Intent<'e>>, Error> {
    if target.failback {
        return Ok(Some(crate::plan::Intent::Failback));
    }
    let Some(name) = &target.scenario else {
        return Ok(None);
    };
    Ok(Some(crate::plan::Intent::Scenario(
        env.resolve_scenario(name)?,
    )))
}

/// The environment file argument every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct EnvironmentFile {
    /// The environment file (TOML), e.g. environments/production.toml.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Parses a `--flag DURATION` value (`250ms`, `30s`, `5m`, `1h30m`), at most a year.
pub fn duration_arg(text: &str) -> Result<std::time::Duration, String> {
    crate::duration::parse_duration(text).map_err(|bad| match bad {
        crate::duration::BadDuration::Unreadable => {
            format!("`{text}` is not a duration; write e.g. 250ms, 30s, 5m, 1h30m")
        }
        crate::duration::BadDuration::TooLong => {
            format!("`{text}` is longer than a year, the longest duration drplan accepts")
        }
    })
}

/// Parses a `--flag TIME` value (RFC 3339, e.g. 2026-11-29T10:00:00Z).
pub fn time_arg(text: &str) -> Result<std::time::SystemTime, String> {
    humantime::parse_rfc3339_weak(text)
        .map_err(|e| format!("{e}: write a time such as 2026-11-29T10:00:00Z"))
}
