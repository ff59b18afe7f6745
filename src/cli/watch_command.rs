//! `drplan watch FILE`: probe every trigger on its interval and act on the decision
//! matrix (apply, or notify and wait), until `--max-duration` or Ctrl-C; `--once` for
//! cron.

use std::process::ExitCode;
use std::time::Duration;

use super::EnvironmentFile;
use crate::error::Error;
use crate::session::{SimFlags, block_on};
use crate::watch::{WatchOptions, watch};

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
    /// Evaluate every trigger once and exit (for cron); the trigger history is kept
    /// between runs in .drplan/watch/<environment>.json.
    #[arg(long, conflicts_with = "max_duration")]
    pub once: bool,
    /// Stop after this long, e.g. 1h (on sim: simulated time).
    #[arg(long, value_name = "DURATION", value_parser = super::duration_arg)]
    pub max_duration: Option<Duration>,
    /// Which watcher of `[watch]` this is (required when the environment declares them).
    #[arg(long = "as", value_name = "NAME")]
    pub watcher: Option<String>,
    #[command(flatten)]
    pub sim: SimFlags,
}

pub fn run(args: &WatchArgs) -> Result<ExitCode, Error> {
    let options = WatchOptions {
        watcher: args.watcher.clone(),
        once: args.once,
        max_duration: args.max_duration,
        sim: args.sim,
        render_plan: |env, plan| super::render::plan(env, plan, super::PlanFormat::Markdown),
    };
    block_on(watch(&args.env.file, options))??;
    Ok(ExitCode::SUCCESS)
}
