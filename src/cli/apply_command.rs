//! `drplan apply PLAN`, `drplan apply FILE --scenario S` and `drplan apply --resume FILE`:
//! refuse what is stale or unsafe, take the lock, run, report, release the lock.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::plan_command::parse_time;
use super::render;
use super::session::{Session, SimFlags, block_on};
use super::{PlanFormat, Target};
use crate::apply::{self, Applied, ApplyOptions, Launch};
use crate::error::Error;
use crate::observe::live::observe;
use crate::plan::file::{PlanFile, StateRef};
use crate::plan::{Plan, stale};
use crate::state::{State, StateVersion};

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// A saved plan (JSON from `drplan plan … --out PLAN`), or the environment file
    /// with --scenario / --failback / --resume.
    #[arg(value_name = "PLAN|FILE")]
    pub input: PathBuf,
    #[command(flatten)]
    pub target: Target,
    /// Continue the interrupted or failed run of this environment; finished steps are not run again.
    #[arg(long, conflicts_with_all = ["scenario", "failback"])]
    pub resume: bool,
    /// Do not ask: approve the plan and every step that needs approval.
    #[arg(long)]
    pub auto_approve: bool,
    /// How many steps may run at once.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub parallelism: usize,
    /// After a failed step, go on with the steps that do not depend on it.
    #[arg(long)]
    pub keep_going: bool,
    /// Recover even when a backup is older than its RPO (or missing).
    #[arg(long)]
    pub accept_data_loss: bool,
    /// Wait this long for the state lock instead of failing at once (e.g. 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0s")]
    pub lock_timeout: Duration,
    /// Restores use the newest backup before this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<std::time::SystemTime>,
    /// Print only the outcome, no progress.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub sim: SimFlags,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::config::tree::parse_duration(text).ok_or_else(|| format!("`{text}` is not a duration such as 30s or 5m"))
}

pub fn run(args: &ApplyArgs) -> Result<ExitCode, Error> {
    block_on(apply(args))?
}

async fn apply(args: &ApplyArgs) -> Result<ExitCode, Error> {
    let saved = is_plan_file(&args.input).then(|| PlanFile::read(&args.input)).transpose()?;
    let env_file = saved.as_ref().map_or_else(|| args.input.clone(), |f| PathBuf::from(&f.environment_file));
    let flags = SimFlags { sim: args.sim.sim || saved.as_ref().is_some_and(|f| f.sim), ..args.sim };
    let session = Session::open(&env_file, flags).await?;
    let backend = session.connection.state.clone();
    let lock = apply::lock(backend.as_ref(), "apply", args.lock_timeout).await?;
    let result = locked(args, session, saved).await;
    backend.unlock(&lock.id).await?;
    let applied = result?;
    let execution = &applied.execution;
    println!("report: {}", applied.report.display());
    if execution.complete() {
        println!("apply complete: {} steps, state serial {}", execution.results.len(), applied.state.serial);
        return Ok(ExitCode::SUCCESS);
    }
    if execution.interrupted && execution.failed() == 0 {
        return Err(Error::Interrupted);
    }
    Err(Error::ApplyFailed { failed: execution.failed(), interrupted: execution.interrupted })
}

/// Everything done while holding the lock.
async fn locked(args: &ApplyArgs, session: Session, saved: Option<PlanFile>) -> Result<Applied, Error> {
    let (state, version) = session.state().await?;
    if args.resume {
        let version = version.ok_or_else(|| Error::Refused {
            message: format!("there is no state for {} yet, so nothing to resume", session.loaded.env.name),
            help: "start a run with `drplan apply PLAN`".to_string(),
        })?;
        check_resumable(&session, &state)?;
        return apply::resume(launch(args, session, None), state, version).await;
    }
    let file = match saved {
        Some(file) => file,
        None => plan_now(args, &session, &state, version.as_ref()).await?,
    };
    let observed = observe(&session.loaded.env, &session.connection.runtime, Some(&state), None).await?;
    stale::check(&file, &session.loaded.config_hash, &state, &observed)?;
    refuse_unsafe(args, &file.plan)?;
    if file.plan.is_empty() {
        return Err(Error::Refused {
            message: "the plan has nothing to change".to_string(),
            help: "the world already matches it; nothing was done".to_string(),
        });
    }
    let at = file.at.as_deref().and_then(|t| parse_time(t).ok());
    apply::start(launch(args, session, at), file, state, version).await
}

/// Plans now (for `apply FILE --scenario S`), shows the plan and asks for `yes`.
async fn plan_now(args: &ApplyArgs, session: &Session, state: &State, version: Option<&StateVersion>) -> Result<PlanFile, Error> {
    let env = &session.loaded.env;
    let intent = super::intent(env, &args.target)?.ok_or_else(|| Error::Usage {
        message: format!("{} is an environment file: which plan?", args.input.display()),
        help: "add --scenario NAME or --failback (or pass a saved plan, or --resume)".to_string(),
    })?;
    let observed = observe(env, &session.connection.runtime, Some(state), args.at).await?;
    let plan = Plan::build(env, intent, &observed);
    let state_ref = StateRef { lineage: version.map(|_| state.lineage.clone()), serial: state.serial };
    let file = PlanFile::new(plan, &session.loaded, session.sim, Some(state_ref), Some(observed));
    if file.plan.is_empty() {
        return Ok(file);
    }
    print!("{}", render::plan(env, &file, PlanFormat::Text));
    if !args.auto_approve {
        if !apply::interactive() {
            return Err(Error::Refused {
                message: "this plan needs approval and there is no terminal to ask".to_string(),
                help: "review it with `drplan plan`, then rerun with --auto-approve".to_string(),
            });
        }
        if apply::ask("\nApply this plan? Type `yes` to go ahead: ").trim() != "yes" {
            return Err(Error::Refused { message: "apply cancelled".to_string(), help: "nothing was changed".to_string() });
        }
    }
    Ok(file)
}

/// Refuses data loss without --accept-data-loss, and pauses no terminal can answer.
fn refuse_unsafe(args: &ApplyArgs, plan: &Plan) -> Result<(), Error> {
    let violated: Vec<&str> = plan.summary.data_at_risk.iter().filter(|d| d.violation).map(|d| d.data.as_str()).collect();
    if !violated.is_empty() && !args.accept_data_loss {
        return Err(Error::Refused {
            message: format!("recovering now loses data beyond its RPO: {}", violated.join(", ")),
            help: "see the plan's data at risk; rerun with --accept-data-loss to recover anyway".to_string(),
        });
    }
    let pauses = plan.steps.iter().any(|s| s.approval.is_some());
    if pauses && !args.auto_approve && !apply::interactive() {
        return Err(Error::Refused {
            message: "steps of this plan need a person's approval and there is no terminal to ask".to_string(),
            help: "run it from a terminal, or pass --auto-approve".to_string(),
        });
    }
    Ok(())
}

/// A run can be resumed only with the environment file it was planned from.
fn check_resumable(session: &Session, state: &State) -> Result<(), Error> {
    let Some(run) = &state.run else {
        return Err(Error::Refused { message: "there is no run to resume".to_string(), help: "start one with `drplan apply PLAN`".to_string() });
    };
    if run.plan.config_hash != session.loaded.config_hash {
        return Err(Error::StalePlan { reason: format!("the environment file changed since run {} started", run.id) });
    }
    Ok(())
}

fn launch(args: &ApplyArgs, session: Session, at: Option<std::time::SystemTime>) -> Launch {
    let env_dir = session.loaded.path.parent().map(Path::to_path_buf).unwrap_or_default();
    Launch {
        env: session.loaded.env,
        env_dir,
        runtime: session.connection.runtime,
        backend: session.connection.state,
        secrets: session.secrets,
        options: ApplyOptions {
            parallelism: args.parallelism,
            keep_going: args.keep_going,
            auto_approve: args.auto_approve,
            accept_data_loss: args.accept_data_loss,
            at: args.at.or(at),
            time_scale: session.connection.time_scale,
            quiet: args.quiet,
        },
    }
}

/// A saved plan is JSON; an environment file is TOML.
fn is_plan_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}
