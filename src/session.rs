//! What every live operation starts with: the environment loaded, the providers and
//! state backend connected, an async runtime to drive them; and the two things every
//! live command does with them: observe the world, and plan against it.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::Error;
use crate::model::{LoadedEnvironment, StateLocation};
use crate::observe::ActualState;
use crate::plan::file::PlanFile;
use crate::plan::{Intent, Plan, stale};
use crate::providers::connect::{ConnectOptions, Connection, connect};
use crate::secrets::Secrets;
use crate::state::local::LocalState;
use crate::state::s3::S3State;
use crate::state::{State, StateBackend, StateVersion};

/// A loaded environment, its connected providers and its state backend.
pub struct Session {
    pub loaded: LoadedEnvironment,
    pub connection: Connection,
    /// Where the state lives: a local file, or an S3 object (always local on `--sim`).
    pub state_backend: Arc<dyn StateBackend>,
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
    #[allow(clippy::doc_markdown)]
    // clap prints this doc as --help, where backticks would show
    pub time_scale: Option<f64>,
}

impl Session {
    /// Loads `file` and connects its providers and state backend.
    pub async fn open(file: &Path, flags: SimFlags) -> Result<Self, Error> {
        let loaded = crate::model::load(file)?;
        let secrets = Arc::new(Secrets::default());
        let options = ConnectOptions {
            force_sim: flags.sim,
            time_scale: flags.time_scale,
        };
        let connection = connect(&loaded.env, options, secrets.clone()).await?;
        let env = &loaded.env;
        let state_backend: Arc<dyn StateBackend> = match (&env.state, &connection.sdk) {
            (StateLocation::S3 { bucket, key }, Some(sdk)) => {
                Arc::new(S3State::new(sdk, &env.name, bucket, key))
            }
            _ => Arc::new(LocalState::new(&env.name)),
        };
        let sim = flags.sim || env.providers.is_sim();
        Ok(Self {
            loaded,
            connection,
            state_backend,
            secrets,
            sim,
        })
    }

    /// The stored state, or a new one (not yet written) when there is none.
    pub async fn state(&self) -> Result<(State, Option<StateVersion>), Error> {
        Ok(match self.state_backend.read().await? {
            Some((state, version)) => (state, Some(version)),
            None => (State::new(&self.loaded.env.name), None),
        })
    }

    /// The world as it is, services placed by the runtime or else by `state`; `at`
    /// picks the newest backup before that time.
    pub async fn observe(
        &self,
        state: &State,
        at: Option<SystemTime>,
    ) -> Result<ActualState, Error> {
        crate::observe::live::observe(
            &self.loaded.env,
            &self.connection.runtime,
            &state.placement,
            at,
        )
        .await
    }

    /// Observes the world and plans `scenario` (or the failback) against it.
    pub async fn plan(
        &self,
        scenario: Option<&str>,
        state: &State,
        version: Option<&StateVersion>,
        at: Option<SystemTime>,
    ) -> Result<PlanFile, Error> {
        let env = &self.loaded.env;
        let intent = match scenario {
            None => Intent::Failback,
            Some(name) => Intent::Scenario(env.resolve_scenario(name)?),
        };
        let observed = self.observe(state, at).await?;
        let plan = Plan::build(env, intent, &observed);
        let mut file = PlanFile::new(
            plan,
            &self.loaded,
            self.sim,
            Some(state.reference(version.is_some())),
            Some(observed),
        );
        file.at = at.map(|at| humantime::format_rfc3339_seconds(at).to_string());
        Ok(file)
    }
}

impl Session {
    /// Refuses `file` unless it still describes this environment and the world as
    /// observed now, against `state` (see `plan::stale`).
    pub async fn check_fresh(
        &self,
        file: &PlanFile,
        state: &State,
        version: Option<&StateVersion>,
    ) -> Result<(), Error> {
        let observed = self.observe(state, None).await?;
        let current = state.reference(version.is_some());
        stale::check(file, &self.loaded.config_hash, &current, &observed)?;
        stale::check_derived(file, &self.loaded.env)
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
