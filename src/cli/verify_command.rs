//! `drplan verify FILE`: run the validation checklist and print it; exit 1 on any failure.

use std::process::ExitCode;

use super::EnvironmentFile;
use crate::apply::verify::run_check;
use crate::error::Error;
use crate::session::{Session, SimFlags, block_on};

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
    #[command(flatten)]
    pub sim: SimFlags,
}

pub fn run(args: &VerifyArgs) -> Result<ExitCode, Error> {
    block_on(verify(args))?
}

async fn verify(args: &VerifyArgs) -> Result<ExitCode, Error> {
    let session = Session::open(&args.env.file, args.sim).await?;
    let env = &session.loaded.env;
    let mut failed = Vec::new();
    for check in &env.checks {
        let result = run_check(env, &session.connection.runtime, check).await;
        let (passed, detail) = match result {
            Ok(result) => (result.healthy, result.detail),
            Err(error) => (false, error.to_string()),
        };
        super::print(&format!(
            "[{}] {}: {}\n",
            if passed { "pass" } else { "FAIL" },
            check.name,
            detail.lines().next().unwrap_or("")
        ))?;
        if !passed {
            failed.push(check.name.clone());
        }
    }
    if failed.is_empty() {
        let count = env.checks.len();
        super::print(&format!("{count} of {count} checks passed\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    Err(Error::ChecksFailed { failed })
}
