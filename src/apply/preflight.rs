//! Before the first step of a real run: every `${env:VAR}` its steps will use is set,
//! or the run does not start. The sim world runs no command and calls no URL, so a
//! rehearsal on it needs none.

use crate::error::Error;
use crate::graph::step::{Action, Step};
use crate::model::Environment;
use crate::plan::Plan;

/// Refuses a plan whose steps use environment variables that are not set.
pub fn refuse_unset_secrets(env: &Environment, plan: &Plan) -> Result<(), Error> {
    let texts: Vec<String> = plan.steps.iter().flat_map(|s| texts(env, s)).collect();
    let names = crate::secrets::unset(texts.iter().map(String::as_str));
    if names.is_empty() {
        Ok(())
    } else {
        Err(Error::UnsetSecrets { names })
    }
}

/// The commands and URLs `step` uses, as written in the plan or the environment.
fn texts(env: &Environment, step: &Step) -> Vec<String> {
    let templates = match &step.action {
        Action::Activate { command, .. } | Action::Restore { command, .. } => {
            return command.clone().unwrap_or_default();
        }
        Action::Deactivate { command, .. }
        | Action::Resync { command, .. }
        | Action::Backup { command, .. } => {
            return command.clone();
        }
        Action::Run { argv, .. } => return argv.argv(),
        Action::Health { probe, .. } => probe.iter().flat_map(|p| p.check.templates()).collect(),
        Action::Notify { index, .. } => env
            .notify
            .get(*index)
            .map(|n| n.via.templates())
            .unwrap_or_default(),
        Action::Verify { index, .. } => env
            .checks
            .get(*index)
            .map(|c| c.kind.templates())
            .unwrap_or_default(),
        Action::CatchUp { data, .. } => env
            .data_set(data)
            .and_then(|d| d.lag.as_ref())
            .map(|lag| lag.source.templates())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    templates.iter().map(ToString::to_string).collect()
}
