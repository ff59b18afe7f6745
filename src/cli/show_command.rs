//! `drplan show PLAN`: a saved plan rendered again exactly as `plan` rendered it, and
//! on standard error whether it is still current against the environment and the world.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{PlanFormat, eprint, print, render};
use crate::error::Error;
use crate::plan::file::PlanFile;
use crate::plan::stale;
use crate::session::{Session, SimFlags, block_on};

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// A saved plan (JSON from `drplan plan … --out PLAN`).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

pub fn run(args: &ShowArgs) -> Result<ExitCode, Error> {
    let file = PlanFile::read(&args.plan)?;
    let env_file = file.environment_path(&args.plan);
    let verdict = if file.observed.is_some() {
        block_on(live_verdict(&file, &env_file))??
    } else {
        offline_verdict(&file, &env_file)?
    };
    let env = crate::model::load(&env_file)?.env;
    print(&render::plan(&env, &file, args.format))?;
    eprint(&verdict);
    Ok(ExitCode::SUCCESS)
}

/// An offline plan cannot be applied; it is current while the environment file is.
fn offline_verdict(file: &PlanFile, env_file: &std::path::Path) -> Result<String, Error> {
    let loaded = crate::model::load(env_file)?;
    Ok(match stale::check_config(file, &loaded.config_hash) {
        Ok(()) => format!(
            "note: an offline plan, made against an assumed state from the current {}; plan without --offline to apply\n",
            env_file.display()
        ),
        Err(stale) => format!("warning: {stale}\n"),
    })
}

/// A live plan is current while the environment file, the state and every resource it
/// touches are as they were when it was made.
async fn live_verdict(file: &PlanFile, env_file: &std::path::Path) -> Result<String, Error> {
    let flags = SimFlags {
        sim: file.sim,
        ..SimFlags::default()
    };
    let session = Session::open(env_file, flags).await?;
    let (state, version) = session.state().await?;
    Ok(
        match session.check_fresh(file, &state, version.as_ref()).await {
            Ok(()) => "note: the plan is current: the environment file, the state and the world are as when it was made\n".to_string(),
            Err(refusal @ (Error::StalePlan { .. } | Error::EditedPlan { .. })) => {
                format!("warning: {refusal}\n")
            }
            Err(other) => return Err(other),
        },
    )
}
