//! Lifecycle warnings: what a failback cannot do by itself. A service holding data
//! that must be carried over (restored or replicated) but declaring no `resync`
//! makes its failback wait on a person (a manual step before home is promoted).

use super::Environment;
use crate::error::{Problem, ProblemKind};

/// One warning per service that holds persistent data and declares no `resync`.
pub fn warnings(env: &Environment) -> Vec<Problem> {
    env.services
        .iter()
        .filter(|s| s.resync.is_none())
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
