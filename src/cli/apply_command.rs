//! `drplan apply PLAN`, `drplan apply FILE --scenario S` and `drplan apply --resume FILE`:
//! refuse what is stale or unsafe, take the lock, run, report, release the lock.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::render;
use super::{PlanFormat, Target, print};
use crate::apply::run::{self, Request};
use crate::apply::{self, ApplyOptions};
use crate::error::Error;
use crate::model::Environment;
use crate::plan::Intent;
use crate::plan::file::PlanFile;
use crate::session::{Session, SimFlags, block_on};

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
    #[arg(long, value_name = "DURATION", value_parser = super::duration_arg, default_value = "0s")]
    pub lock_timeout: Duration,
    /// Restores use the newest backup before this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = super::time_arg)]
    pub at: Option<std::time::SystemTime>,
    /// Print only the outcome, no progress.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub sim: SimFlags,
}

pub fn run(args: &ApplyArgs) -> Result<ExitCode, Error> {
    block_on(apply(args))?
}

async fn apply(args: &ApplyArgs) -> Result<ExitCode, Error> {
    let saved = is_plan_file(&args.input)
        .then(|| PlanFile::read(&args.input))
        .transpose()?;
    let env_file = saved
        .as_ref()
        .map_or_else(|| args.input.clone(), |f| f.environment_path(&args.input));
    let flags = SimFlags {
        sim: args.sim.sim || saved.as_ref().is_some_and(|f| f.sim),
        ..args.sim
    };
    let session = Session::open(&env_file, flags).await?;
    let rehearsal = saved.as_ref().is_some_and(|f| f.sim);
    if rehearsal && !args.sim.sim && !session.loaded.env.providers.is_sim() {
        return Err(Error::SimPlan {
            path: args.input.clone(),
        });
    }
    let request = match (saved, args.resume) {
        (Some(file), _) => Request::Saved(Box::new(file)),
        (None, true) => Request::Resume,
        (None, false) => Request::Plan(scenario(args, &session)?),
    };
    let env = session.loaded.env.clone();
    let confirm = |file: &PlanFile| confirm(args, &env, file);
    let applied = match run::run(session, request, options(args), args.lock_timeout, &confirm).await
    {
        Err(Error::NoChanges) => {
            print("No changes: the world already matches the plan; nothing was done.\n")?;
            return Ok(ExitCode::SUCCESS);
        }
        result => result?,
    };
    let execution = &applied.execution;
    let plan = applied.state.run.as_ref().map(|run| &run.plan.plan);
    let steps = plan.map_or(&[][..], |plan| plan.steps.as_slice());
    print(&format!("report: {}\n", applied.report.display()))?;
    if execution.complete() {
        print(&format!(
            "apply complete: {} steps, state serial {}\n",
            plan.map_or(0, |plan| plan.work().count()),
            applied.state.serial
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    if execution.aborted {
        return Err(Error::Aborted);
    }
    if execution.interrupted && execution.failed() == 0 {
        return Err(Error::Interrupted);
    }
    let failed = execution.failed_steps(steps);
    Err(Error::ApplyFailed {
        failed: failed.iter().map(ToString::to_string).collect(),
        interrupted: execution.interrupted,
    })
}

/// The scenario named by --scenario, or `None` for --failback.
fn scenario(args: &ApplyArgs, session: &Session) -> Result<Option<String>, Error> {
    match super::intent(&session.loaded.env, &args.target)? {
        Some(Intent::Scenario(scenario)) => Ok(Some(scenario.name.value.clone())),
        Some(Intent::Failback) => Ok(None),
        None => Err(Error::Usage {
            message: format!(
                "{} is an environment file: which plan?",
                args.input.display()
            ),
            help: "add --scenario NAME or --failback (or pass a saved plan, or --resume)"
                .to_string(),
        }),
    }
}

/// Shows a freshly made plan (unless --quiet) and asks for `yes` (unless --auto-approve).
fn confirm(args: &ApplyArgs, env: &Environment, file: &PlanFile) -> Result<(), Error> {
    if !args.quiet {
        print(&render::plan(env, file, PlanFormat::Text))?;
    }
    if args.auto_approve {
        return Ok(());
    }
    if !apply::interactive() {
        return Err(Error::NoTerminal);
    }
    if apply::ask("\nApply this plan? Type `yes` to go ahead: ").trim() != "yes" {
        return Err(Error::Cancelled);
    }
    Ok(())
}

fn options(args: &ApplyArgs) -> ApplyOptions {
    ApplyOptions {
        parallelism: args.parallelism,
        keep_going: args.keep_going,
        auto_approve: args.auto_approve,
        accept_data_loss: args.accept_data_loss,
        at: args.at,
        time_scale: None,
        quiet: args.quiet,
    }
}

/// A saved plan is JSON; an environment file is TOML.
pub fn is_plan_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}
