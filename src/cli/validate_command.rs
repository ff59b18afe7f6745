//! `drplan validate FILE`: load and check, then one line of summary.

use std::process::ExitCode;

use super::EnvironmentFile;
use crate::error::Error;
use crate::model::Environment;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
}

pub fn run(args: &ValidateArgs) -> Result<ExitCode, Error> {
    let loaded = crate::config::load(&args.env.file)?;
    println!("{}: {}", args.env.file.display(), summary(&loaded.env));
    Ok(ExitCode::SUCCESS)
}

/// `valid: 14 services, 3 regions, 3 DNS records, 6 data sets, 6 scenarios`.
pub fn summary(env: &Environment) -> String {
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "valid: {}, {}, {}, {}, {}",
        count(env.services.len(), "service", "services"),
        count(env.regions.len(), "region", "regions"),
        count(env.records.len(), "DNS record", "DNS records"),
        count(env.data.len(), "data set", "data sets"),
        count(env.scenarios.len(), "scenario", "scenarios"),
    )
}
