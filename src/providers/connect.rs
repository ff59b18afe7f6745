//! Choosing the providers of an environment: the sim world for `sim` (or everything
//! with `--sim`), Route53 and S3 through the AWS SDK, real commands and probes.

use std::sync::Arc;
use std::time::Duration;

use super::arc::ArcDns;
use super::aurora::Aurora;
use super::cloudwatch::CloudWatchAlarms;
use super::command_dns::CommandDns;
use super::no_storage::NoStorage;
use super::notifier::RealNotifier;
use super::rds::Rds;
use super::real::RealRuntime;
use super::route53::Route53Dns;
use super::s3::S3Store;
use super::sim::Sim;
use super::{Alarms, DnsProvider, ObjectStore, ProviderKind, Runtime};
use crate::error::Error;
use aws_config::SdkConfig;

use crate::model::{Environment, StateLocation, TriggerKind};
use crate::secrets::Secrets;

/// The default sim time scale: a minute of estimate takes 120 ms, so the reference
/// failover (about 28 minutes of estimates) runs in a few seconds.
pub const DEFAULT_TIME_SCALE: f64 = 0.002;

/// How long a command step may run before its process group is killed.
const COMMAND_TIMEOUT: Duration = Duration::from_mins(30);

/// How to connect.
#[derive(Debug, Clone, Copy)]
pub struct ConnectOptions {
    /// Rehearse on the sim world whatever the environment's providers say.
    pub force_sim: bool,
    /// Sim time scale (`None`: `$DRPLAN_TIME_SCALE`, else [`DEFAULT_TIME_SCALE`]).
    pub time_scale: Option<f64>,
}

/// The providers of an environment.
pub struct Connection {
    pub runtime: Runtime,
    /// The AWS SDK configuration, when an AWS provider or S3 state is used (and not
    /// everything is on sim).
    pub sdk: Option<SdkConfig>,
    /// `Some(scale)` when services run on the sim world.
    pub time_scale: Option<f64>,
}

/// Connects to the providers of `env`.
pub async fn connect(
    env: &Environment,
    options: ConnectOptions,
    secrets: Arc<Secrets>,
) -> Result<Connection, Error> {
    let sim_everything = options.force_sim || env.providers.is_sim();
    let needs_sim = sim_everything
        || env.providers.dns == ProviderKind::Sim
        || env.providers.storage == ProviderKind::Sim;
    let scale = time_scale(options.time_scale)?;
    let sim = if needs_sim {
        Some(Arc::new(Sim::open(env, scale)?))
    } else {
        None
    };
    // S3 state is kept on S3 also when every provider is the sim (watchers sharing a
    // sim world); only `--sim` keeps a rehearsal's state local.
    let shared_state = !options.force_sim && matches!(env.state, StateLocation::S3 { .. });
    let needs_aws = shared_state
        || !sim_everything
            && (env.providers.dns == ProviderKind::Route53
                || env.providers.dns == ProviderKind::Arc
                || env.providers.storage == ProviderKind::S3
                || watches_alarms(env)
                || env
                    .services
                    .iter()
                    .any(|s| s.rds.is_some() || s.aurora.is_some()));
    let sdk = if needs_aws {
        Some(super::aws::sdk_config(&env.providers).await)
    } else {
        None
    };
    let dns: Arc<dyn DnsProvider> = match (&sim, &sdk) {
        (Some(sim), _) if sim_everything || env.providers.dns == ProviderKind::Sim => sim.clone(),
        _ if env.providers.dns == ProviderKind::Command => match &env.providers.dns_commands {
            Some(commands) => Arc::new(CommandDns::new(commands, env, secrets.clone())),
            None => return Err(unreachable_provider("dns")),
        },
        (_, Some(sdk)) if env.providers.dns == ProviderKind::Arc => match &env.providers.arc {
            Some(cluster) => Arc::new(ArcDns::new(sdk, cluster)),
            None => return Err(unreachable_provider("dns")),
        },
        (_, Some(sdk)) => Arc::new(Route53Dns::new(sdk)),
        _ => return Err(unreachable_provider("dns")),
    };
    let storage: Arc<dyn ObjectStore> = match (&sim, &sdk) {
        (Some(sim), _) if sim_everything || env.providers.storage == ProviderKind::Sim => {
            sim.clone()
        }
        _ if env.providers.storage == ProviderKind::Absent => Arc::new(NoStorage),
        (_, Some(sdk)) => Arc::new(S3Store::new(sdk)),
        _ => return Err(unreachable_provider("storage")),
    };
    let alarms: Option<Arc<dyn Alarms>> = match (&sim, &sdk) {
        (Some(sim), _) if sim_everything => Some(sim.clone()),
        (_, Some(sdk)) if watches_alarms(env) => Some(Arc::new(CloudWatchAlarms::new(sdk))),
        _ => None,
    };
    let runtime = match &sim {
        Some(sim) if sim_everything => Runtime {
            dns,
            storage,
            services: sim.clone(),
            notifier: sim.clone(),
            alarms,
        },
        _ => {
            let client = super::http::client();
            Runtime {
                dns,
                storage,
                services: Arc::new(
                    RealRuntime::new(client.clone(), COMMAND_TIMEOUT, secrets.clone())
                        .with_rds(sdk.as_ref().and_then(|sdk| Rds::of(env, sdk)))
                        .with_aurora(sdk.as_ref().and_then(|sdk| Aurora::of(env, sdk))),
                ),
                notifier: Arc::new(RealNotifier::new(client, secrets)),
                alarms,
            }
        }
    };
    Ok(Connection {
        runtime,
        sdk,
        time_scale: sim_everything.then_some(scale),
    })
}

/// True when a trigger of `env` reads a CloudWatch alarm.
fn watches_alarms(env: &Environment) -> bool {
    env.triggers
        .iter()
        .any(|trigger| matches!(trigger.kind, TriggerKind::Alarm(_)))
}

/// The largest sim time scale: a thousand times slower than real time.
const MAX_TIME_SCALE: f64 = 1000.0;

/// `--time-scale`, else `$DRPLAN_TIME_SCALE`, else the default; from 0 to [`MAX_TIME_SCALE`].
pub fn time_scale(given: Option<f64>) -> Result<f64, Error> {
    let from_env = std::env::var("DRPLAN_TIME_SCALE").ok();
    let (scale, written) = match (given, from_env) {
        (Some(scale), _) => (scale, format!("--time-scale {scale:?}")),
        (None, Some(text)) => {
            let written = format!("DRPLAN_TIME_SCALE={text}");
            let scale = text
                .parse()
                .map_err(|_| bad_time_scale(format!("{written} is not a number")))?;
            (scale, written)
        }
        (None, None) => return Ok(DEFAULT_TIME_SCALE),
    };
    if !(0.0..=MAX_TIME_SCALE).contains(&scale) {
        return Err(bad_time_scale(format!(
            "{written} is not between 0 and {MAX_TIME_SCALE}"
        )));
    }
    Ok(scale)
}

fn bad_time_scale(message: String) -> Error {
    Error::Usage {
        message,
        help: "use a number such as 0 (no waiting), 0.002 (the default) or 1 (real time)"
            .to_string(),
    }
}

fn unreachable_provider(kind: &str) -> Error {
    Error::Bug {
        detail: format!("no {kind} provider could be set up"),
    }
}
