//! Is a saved plan still valid? It is not when the environment file changed, when the
//! state's lineage or serial moved, or when a resource the plan touches no longer
//! has the value the plan saw (someone moved DNS by hand, a service moved).

use super::file::{PlanFile, StateRef};
use super::{Intent, Plan};
use crate::error::Error;
use crate::graph::step::Action;
use crate::model::Environment;
use crate::observe::ActualState;

/// Refuses `file` unless it still describes the world, naming the first reason.
pub fn check(
    file: &PlanFile,
    config_hash: &str,
    state: &StateRef,
    now: &ActualState,
) -> Result<(), Error> {
    let refuse = |reason: String| Err(Error::StalePlan { reason });
    let (Some(planned), Some(observed)) = (&file.state, &file.observed) else {
        return refuse(
            "it was made offline, against an assumed state; plan without --offline to apply"
                .to_string(),
        );
    };
    check_config(file, config_hash)?;
    if planned
        .lineage
        .as_ref()
        .is_some_and(|lineage| Some(lineage) != state.lineage.as_ref())
    {
        return refuse(format!(
            "it belongs to another state (lineage {} here, {} in the plan)",
            state.lineage.as_deref().unwrap_or("none"),
            planned.lineage.as_deref().unwrap_or("none")
        ));
    }
    if planned.serial != state.serial {
        return refuse(format!(
            "the state changed since the plan was made (serial {} then, {} now)",
            planned.serial, state.serial
        ));
    }
    for step in &file.plan.steps {
        if let Some(reason) = changed_resource(&step.action, observed, now) {
            return refuse(reason);
        }
    }
    Ok(())
}

/// Refuses `file` when the environment file (whose hash is `config_hash`) changed
/// since the plan was made.
pub fn check_config(file: &PlanFile, config_hash: &str) -> Result<(), Error> {
    if file.config_hash == config_hash {
        return Ok(());
    }
    Err(Error::StalePlan {
        reason: "the environment file changed since the plan was made".to_string(),
    })
}

/// Refuses `file` unless its plan is exactly what planning produces from `env` and
/// the observations the plan recorded: planning is deterministic, so an added,
/// removed or edited step (a command, a DNS target, a flag) is found, and the first
/// difference named.
pub fn check_derived(file: &PlanFile, env: &Environment) -> Result<(), Error> {
    let edited = |difference: String| Err(Error::EditedPlan { difference });
    let Some(observed) = &file.observed else {
        return Ok(());
    };
    let summary = &file.plan.intent;
    let own = env
        .scenario(&summary.name)
        .filter(|s| s.strategy.name() == summary.strategy);
    let intent = match own {
        Some(scenario) => Intent::Scenario(scenario),
        None if summary.name == "failback" => Intent::Failback,
        None => {
            return edited(format!(
                "its intent `{}` ({}) is not a scenario of the environment",
                summary.name, summary.strategy
            ));
        }
    };
    let expected = Plan::build(env, intent, observed);
    if expected == file.plan {
        return Ok(());
    }
    let mut pairs = expected.steps.iter().zip(&file.plan.steps);
    if let Some((want, found)) = pairs.find(|(want, found)| want != found) {
        return edited(if want.id == found.id {
            format!("step `{}` is not the step planning produces", found.id)
        } else {
            format!(
                "step `{}` stands where planning produces `{}`",
                found.id, want.id
            )
        });
    }
    if expected.steps.len() != file.plan.steps.len() {
        return edited(format!(
            "it has {} steps where planning produces {}",
            file.plan.steps.len(),
            expected.steps.len()
        ));
    }
    edited("its summary or notes are not what planning produces".to_string())
}

/// Why a resource `action` touches differs from what the plan saw, if it does.
fn changed_resource(action: &Action, then: &ActualState, now: &ActualState) -> Option<String> {
    match action {
        Action::Switch { record, .. }
        | Action::LowerTtl { record, .. }
        | Action::RestoreTtl { record, .. } => {
            let (before, after) = (then.records.get(record), now.records.get(record));
            (before != after).then(|| {
                format!("DNS record `{record}` changed since the plan was made (moved by hand?)")
            })
        }
        Action::Activate { service, .. } => {
            let (before, after) = (then.placement.get(service), now.placement.get(service));
            (before != after).then(|| {
                format!(
                    "`{service}` was active in {} when planned and is in {} now",
                    before.map_or("?", String::as_str),
                    after.map_or("?", String::as_str)
                )
            })
        }
        _ => None,
    }
}
