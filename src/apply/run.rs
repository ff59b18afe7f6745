//! One apply from start to end, for the CLI, watch and drill alike: take the lock,
//! read the state, make (or check) the plan, refuse what is stale or unsafe, run it,
//! release the lock.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{Applied, ApplyOptions, Launch, interactive};
use crate::error::Error;
use crate::plan::Plan;
use crate::plan::file::PlanFile;
use crate::session::Session;
use crate::state::{LOCK_LEASE, LockInfo, State, StateBackend};

/// What to apply.
pub enum Request {
    /// A saved plan.
    Saved(Box<PlanFile>),
    /// A new plan of the named scenario, or of the failback when `None`.
    Plan(Option<String>),
    /// The run recorded in the state.
    Resume,
}

/// Called with a freshly made plan before it runs; an error cancels the apply.
pub type Confirm<'a> = &'a (dyn Fn(&PlanFile) -> Result<(), Error> + Sync);

/// Runs `request` under the state lock (waiting up to `lock_timeout` for it).
pub async fn run(
    session: Session,
    request: Request,
    options: ApplyOptions,
    lock_timeout: Duration,
    confirm: Confirm<'_>,
) -> Result<Applied, Error> {
    let backend = session.state_backend.clone();
    let lock = super::lock(backend.as_ref(), "apply", lock_timeout).await?;
    let renewal = tokio::spawn(renew_while_held(backend.clone(), lock.clone()));
    let result = locked(session, request, options, confirm).await;
    renewal.abort();
    let unlocked = backend.unlock(&lock.id).await;
    let applied = result?;
    unlocked?;
    Ok(applied)
}

/// Renews the lease of `lock` every quarter of [`LOCK_LEASE`] while the apply holds it,
/// so that watchers on other hosts take it over only once this process is gone. A
/// renewal that fails is tried again at the next one (the lease allows three misses).
async fn renew_while_held(backend: Arc<dyn StateBackend>, mut lock: LockInfo) {
    loop {
        tokio::time::sleep(LOCK_LEASE / 4).await;
        lock.renewed = Some(SystemTime::now());
        let _ = backend.renew(&lock).await;
    }
}

async fn locked(
    session: Session,
    request: Request,
    options: ApplyOptions,
    confirm: Confirm<'_>,
) -> Result<Applied, Error> {
    let (state, version) = session.state().await?;
    let file = match request {
        Request::Resume => {
            let version = version.ok_or_else(|| Error::NothingToResume {
                environment: session.loaded.env.name.clone(),
            })?;
            check_resumable(&session, &state)?;
            if let Some(run) = state.run.as_ref().filter(|_| !session.sim) {
                super::preflight::refuse_unset_secrets(&session.loaded.env, &run.plan.plan)?;
            }
            return super::resume(launch(session, options, None), state, version).await;
        }
        Request::Saved(file) => *file,
        Request::Plan(scenario) => {
            let file = session
                .plan(scenario.as_deref(), &state, version.as_ref(), options.at)
                .await?;
            if !file.plan.is_empty() {
                confirm(&file)?;
            }
            file
        }
    };
    session.check_fresh(&file, &state, version.as_ref()).await?;
    refuse_unsafe(&options, &file.plan)?;
    if !session.sim {
        super::preflight::refuse_unset_secrets(&session.loaded.env, &file.plan)?;
    }
    if file.plan.is_empty() {
        return Err(Error::NoChanges);
    }
    let at = file
        .at
        .as_deref()
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok());
    super::start(launch(session, options, at), file, state, version).await
}

/// Refuses data loss without --accept-data-loss, a plan that breaks ARC safety rules,
/// and pauses no terminal can answer.
fn refuse_unsafe(options: &ApplyOptions, plan: &Plan) -> Result<(), Error> {
    if !plan.summary.safety_breaches.is_empty() {
        return Err(Error::SafetyRulesBreached {
            breaches: plan.summary.safety_breaches.clone(),
        });
    }
    let violated: Vec<String> = plan
        .summary
        .data_at_risk
        .iter()
        .filter(|d| d.violation)
        .map(crate::plan::DataRisk::named_with_gap)
        .collect();
    if !violated.is_empty() && !options.accept_data_loss {
        return Err(Error::RpoBreached { data: violated });
    }
    let pauses = plan.steps.iter().any(|s| s.approval.is_some());
    if pauses && !options.auto_approve && !interactive() {
        return Err(Error::NoTerminal);
    }
    Ok(())
}

/// A run can be resumed only with the environment file it was planned from.
fn check_resumable(session: &Session, state: &State) -> Result<(), Error> {
    let Some(run) = &state.run else {
        return Err(Error::NothingToResume {
            environment: session.loaded.env.name.clone(),
        });
    };
    if run.plan.config_hash != session.loaded.config_hash {
        return Err(Error::StalePlan {
            reason: format!("the environment file changed since run {} started", run.id),
        });
    }
    Ok(())
}

fn launch(session: Session, mut options: ApplyOptions, at: Option<SystemTime>) -> Launch {
    let env_dir = session
        .loaded
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    options.at = options.at.or(at);
    options.time_scale = session.connection.time_scale;
    Launch {
        env: session.loaded.env,
        env_dir,
        runtime: session.connection.runtime,
        backend: session.state_backend,
        secrets: session.secrets,
        options,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Intent, assumed_actual};

    #[test]
    fn a_plan_that_breaks_a_safety_rule_is_refused_even_with_every_flag() {
        let env = crate::model::parse(
            "kitchen-sink-arc.toml",
            include_str!("../../tests/fixtures/kitchen-sink-arc.toml"),
        )
        .expect("the fixture is valid");
        let intent = Intent::Failback;
        let mut plan = Plan::build(&env, intent, &assumed_actual(&env, intent));
        let options = ApplyOptions {
            parallelism: 1,
            keep_going: true,
            auto_approve: true,
            accept_data_loss: true,
            at: None,
            time_scale: None,
            quiet: true,
        };
        assert!(refuse_unsafe(&options, &plan).is_ok());
        plan.summary.safety_breaches = vec!["switch:www: assertion rule `one-cell-on`".to_string()];
        let refused = refuse_unsafe(&options, &plan).unwrap_err();
        assert!(
            matches!(refused, Error::SafetyRulesBreached { .. }),
            "{refused:?}"
        );
    }
}
