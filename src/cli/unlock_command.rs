//! `drplan force-unlock FILE ID`: remove a lock left by an operation that died.

use std::process::ExitCode;

use super::EnvironmentFile;
use crate::error::Error;
use crate::session::{Session, SimFlags, block_on};

#[derive(Debug, clap::Args)]
pub struct ForceUnlockArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
    /// The lock id, as printed in the "locked by" message or by `drplan status`.
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub sim: SimFlags,
}

pub fn run(args: &ForceUnlockArgs) -> Result<ExitCode, Error> {
    block_on(async {
        let session = Session::open(&args.env.file, args.sim).await?;
        session.state_backend.force_unlock(&args.id).await?;
        super::print(&format!("lock {} removed\n", args.id))?;
        Ok(ExitCode::SUCCESS)
    })?
}
