//! Lifecycle warnings: what a failback or a switchover cannot do by itself. A service
//! holding data that must be carried over (restored or replicated) but declaring no
//! `resync` makes its failback wait on a person (a manual step before home is
//! promoted); a replicated data set without a `lag` probe cannot be seen to catch up,
//! so outside the sim its promotion is refused without `--accept-data-loss` (an RDS
//! service's copies are measured by CloudWatch's `ReplicaLag` instead, an Aurora one's
//! by `AuroraGlobalDBReplicationLag`).

use super::{DataMethod, Environment};
use crate::error::{Problem, ProblemKind};

/// One warning per service that holds persistent data and declares no `resync`, and
/// per replicated data set without a `lag` probe.
pub fn warnings(env: &Environment) -> Vec<Problem> {
    let mut warnings = no_resync(env);
    warnings.extend(no_backup(env));
    warnings.extend(unmeasured(env));
    warnings
}

/// A service rebuilt from backups where it moves, without a `backup` of the side a
/// planned move leaves: a switchover or failback restores a backup older than the
/// writes made since.
fn no_backup(env: &Environment) -> Vec<Problem> {
    env.services
        .iter()
        .filter(|s| s.backup.is_none() && env.restored_when_moved(s))
        .map(|service| {
            let name = &service.name.value;
            Problem::new(
                ProblemKind::NoBackup,
                format!(
                    "`{name}` is rebuilt from its newest backup where it moves, but declares no `backup`: a switchover or failback restores a backup taken before the writes made since, and loses them"
                ),
                service.name.span.clone(),
                "no `backup`",
            )
            .help(format!(
                "declare backup = [\"…\"] in [services.{name}]: the command that backs it up in {{region}} once it is fenced there (a switchover or failback then restores that backup)"
            ))
        })
        .collect()
}

fn unmeasured(env: &Environment) -> Vec<Problem> {
    env.data
        .iter()
        .filter(|d| d.method == DataMethod::Replicate && d.lag.is_none())
        .filter(|d| {
            env.service(&d.service.value)
                .is_none_or(|s| s.rds.is_none() && s.aurora.is_none())
        })
        .map(|data| {
            let name = &data.name.value;
            Problem::new(
                ProblemKind::UnmeasuredReplication,
                format!(
                    "`{name}` is replicated but declares no `lag` probe: a switchover or failback cannot see its copy catch up, and refuses to promote it without --accept-data-loss"
                ),
                data.name.span.clone(),
                "no `lag`",
            )
            .help(format!(
                "declare lag = {{ command = [\"…\"], json = \"/lag_ms\", unit = \"ms\" }} (or a url, or a regex) in [data.{name}]"
            ))
        })
        .collect()
}

fn no_resync(env: &Environment) -> Vec<Problem> {
    env.services
        .iter()
        .filter(|s| s.resync.is_none() && !env.restored_when_moved(s))
        .filter(|s| env.data_of(&s.name.value).any(|d| d.method.is_persistent()))
        .map(|service| {
            let name = &service.name.value;
            Problem::new(
                ProblemKind::NoResync,
                format!(
                    "`{name}` holds data but declares no `resync`: a failback waits for a person to make home a replica again"
                ),
                service.name.span.clone(),
                "no `resync`",
            )
            .help(format!(
                "declare resync = [\"…\"] in [services.{name}]: the command that makes its copy in {{region}} a replica of the active one"
            ))
        })
        .collect()
}
