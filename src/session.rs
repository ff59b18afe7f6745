//! What every live operation starts with: the environment loaded, the providers and
//! state backend connected, an async runtime to drive them.

use std::path::Path;
use std::sync::Arc;

use crate::error::Error;
use crate::model::LoadedEnvironment;
use crate::providers::connect::{ConnectOptions, Connection, connect};
use crate::secrets::Secrets;
use crate::state::{State, StateVersion};

/// A loaded environment and its connected providers.
pub struct Session {
    pub loaded: LoadedEnvironment,
    pub connection: Connection,
    pub secrets: Arc<Secrets>,
    pub sim: bool,
}

/// The flags that choose the sim world.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct SimFlags {
    /// Use the sim world (.drplan/sim/) instead of the environment's providers.
    #[arg(long)]
    pub sim: bool,
    /// On sim, multiply every wait by this (0: no waiting; default 0.002, or $DRPLAN_TIME_SCALE).
    #[arg(long, value_name = "X")]
    pub time_scale: Option<f64>,
}

impl Session {
    /// Loads `file` and connects its providers.
    pub async fn open(file: &Path, flags: SimFlags) -> Result<Self, Error> {
        let loaded = crate::model::load(file)?;
        let secrets = Arc::new(Secrets::default());
        let options = ConnectOptions {
            force_sim: flags.sim,
            time_scale: flags.time_scale,
        };
        let connection = connect(&loaded.env, options, secrets.clone()).await?;
        let sim = flags.sim || loaded.env.providers.is_sim();
        Ok(Self {
            loaded,
            connection,
            secrets,
            sim,
        })
    }

    /// The stored state, or a new one (not yet written) when there is none.
    pub async fn state(&self) -> Result<(State, Option<StateVersion>), Error> {
        Ok(match self.connection.state.read().await? {
            Some((state, version)) => (state, Some(version)),
            None => (State::new(&self.loaded.env.name), None),
        })
    }
}

/// Runs `future` on a fresh tokio runtime.
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| Error::Read {
            path: "tokio runtime".into(),
            source,
        })?;
    Ok(runtime.block_on(future))
}
