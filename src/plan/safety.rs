//! The plan against the ARC control panel's safety rules: each switch step sets the
//! routing controls (the regions its record sets give weight on, the others off), in
//! the order of the steps; a rule that a step would break is reported in the plan, and
//! apply refuses the plan before its first step (ARC would refuse the update anyway,
//! half-way through a failover).

use std::collections::BTreeMap;

use crate::graph::step::{Action, Change, Step};
use crate::model::Environment;
use crate::model::safety_rules::ArcSafety;

/// Every safety rule a switch step of `steps` would break, as `step: why`.
pub fn breaches(env: &Environment, safety: Option<&ArcSafety>, steps: &[Step]) -> Vec<String> {
    let (Some(arc), Some(safety)) = (&env.providers.arc, safety) else {
        return Vec::new();
    };
    let mut state = safety.clone();
    let mut found = Vec::new();
    for step in steps {
        let (Action::Switch { .. }, Some(Change::Weights { after, .. })) =
            (&step.action, &step.change)
        else {
            continue;
        };
        let mut controls: BTreeMap<String, bool> = BTreeMap::new();
        for set in after {
            if let Some(arn) = arc.routing_control(&set.region) {
                *controls.entry(arn.to_string()).or_default() |= set.weight > 0;
            }
        }
        found.extend(
            state
                .breaches(&controls)
                .into_iter()
                .map(|why| format!("{}: {why}", step.id)),
        );
        state.states.extend(controls);
    }
    found
}
