//! `drplan verify FILE`: run the validation checklist and print it; exit 1 on any failure.

use std::process::ExitCode;

use super::EnvironmentFile;
use crate::apply::verify::checklist;
use crate::error::Error;
use crate::session::{Session, SimFlags, block_on};

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
    #[command(flatten)]
    pub sim: SimFlags,
    /// The region active now: what `{region}` and `{to}` mean in the checks (default:
    /// home).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

pub fn run(args: &VerifyArgs) -> Result<ExitCode, Error> {
    block_on(verify(args))?
}

async fn verify(args: &VerifyArgs) -> Result<ExitCode, Error> {
    let session = Session::open(&args.env.file, args.sim).await?;
    let env = &session.loaded.env;
    let mut failed = Vec::new();
    let region = args.region.as_deref().unwrap_or(&env.home.value);
    if env.region(region).is_none() {
        let known: Vec<&str> = env.regions.iter().map(|r| r.name.value.as_str()).collect();
        return Err(Error::UnknownActiveRegion {
            region: region.to_string(),
            known: known.join(", "),
        });
    }
    for outcome in checklist(env, &session.connection.runtime, region).await {
        super::print(&format!(
            "[{}] {}: {}\n",
            if outcome.passed { "pass" } else { "FAIL" },
            outcome.name,
            outcome.detail.lines().next().unwrap_or("")
        ))?;
        if !outcome.passed {
            failed.push(outcome.name);
        }
    }
    if failed.is_empty() {
        let count = env.checks.len();
        super::print(&format!("{count} of {count} checks passed\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    Err(Error::ChecksFailed { failed })
}
