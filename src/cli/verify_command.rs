//! `drplan verify FILE`: run the validation checklist and print it (as text, or JSON
//! for machines); exit 1 on any failure.

use std::fmt::Write;
use std::process::ExitCode;

use serde::Serialize;

use super::{EnvironmentFile, ReportFormat};
use crate::apply::verify::{CheckOutcome, checklist};
use crate::error::Error;
use crate::session::{Session, SimFlags, block_on};

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
    /// How to print the checklist: readable text, or JSON for machines.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    #[command(flatten)]
    pub sim: SimFlags,
    /// The region active now: what `{region}` and `{to}` mean in the checks (default:
    /// home).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

/// The checklist's outcome, as `--format json` prints it.
#[derive(Serialize)]
struct Verdict<'a> {
    environment: &'a str,
    passed: bool,
    checks: &'a [CheckOutcome],
}

pub fn run(args: &VerifyArgs) -> Result<ExitCode, Error> {
    block_on(verify(args))?
}

async fn verify(args: &VerifyArgs) -> Result<ExitCode, Error> {
    let session = Session::open(&args.env.file, args.sim).await?;
    let env = &session.loaded.env;
    let region = args.region.as_deref().unwrap_or(&env.home.value);
    if env.region(region).is_none() {
        let known: Vec<&str> = env.regions.iter().map(|r| r.name.value.as_str()).collect();
        return Err(Error::UnknownActiveRegion {
            region: region.to_string(),
            known: known.join(", "),
        });
    }
    let outcomes = checklist(env, &session.connection.runtime, region).await;
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| o.name.clone())
        .collect();
    super::print(&match args.format {
        ReportFormat::Text => text(&outcomes),
        ReportFormat::Json => {
            let verdict = Verdict {
                environment: &env.name,
                passed: failed.is_empty(),
                checks: &outcomes,
            };
            serde_json::to_string_pretty(&verdict).unwrap_or_default() + "\n"
        }
    })?;
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    Err(Error::ChecksFailed { failed })
}

/// `[pass] name: detail` per check, then the count when all passed.
fn text(outcomes: &[CheckOutcome]) -> String {
    let mut out = String::new();
    for outcome in outcomes {
        let _ = writeln!(
            out,
            "[{}] {}: {}",
            if outcome.passed { "pass" } else { "FAIL" },
            outcome.name,
            outcome.detail.lines().next().unwrap_or("")
        );
    }
    if outcomes.iter().all(|o| o.passed) {
        let count = outcomes.len();
        let _ = writeln!(out, "{count} of {count} checks passed");
    }
    out
}
