//! `drplan validate FILE`: load and check, then one line of summary.

use std::process::ExitCode;

use super::EnvironmentFile;
use crate::error::Error;
use crate::model::Environment;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
    #[command(flatten)]
    pub warnings: WarningFlags,
}

/// How warnings are treated.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct WarningFlags {
    /// Fail (exit 1) when there are static-stability warnings.
    #[arg(long)]
    pub deny_warnings: bool,
}

pub fn run(args: &ValidateArgs) -> Result<ExitCode, Error> {
    let loaded = crate::model::load(&args.env.file)?;
    super::print(&format!(
        "{}: {}\n",
        args.env.file.display(),
        summary(&loaded.env)
    ))?;
    report_warnings(&loaded, None, args.warnings)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the static-stability warnings (of `scenario`, or of every failover) on
/// stderr; with --deny-warnings, any warning is an error.
pub fn report_warnings(
    loaded: &crate::model::LoadedEnvironment,
    scenario: Option<&str>,
    flags: WarningFlags,
) -> Result<(), Error> {
    let Some(warnings) = loaded.warnings(scenario) else {
        return Ok(());
    };
    super::eprint(&crate::error::render(&warnings, super::colour()));
    if flags.deny_warnings {
        return Err(Error::DeniedWarnings {
            count: warnings.count,
        });
    }
    Ok(())
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
