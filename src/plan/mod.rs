//! Planning: desired (a scenario, or failback) against actual gives changes, laid out
//! as steps on the graph, with a summary: counts, estimated RTO against the target,
//! approvals, data at risk.

pub mod changes;
pub mod file;
pub mod risk;
pub mod safety;
pub mod stale;
pub mod steps;
pub mod ttl;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::graph::StepGraph;
use crate::graph::step::{Step, StepId};
use crate::model::{Context, Environment, Scenario};
use crate::observe::{ActualState, StateSource};
pub use risk::DataRisk;

/// The version of the JSON plan format (2: steps carry typed values, and `change`
/// the value a step changes, before and after).
pub const FORMAT_VERSION: u32 = 2;

/// What the plan is for.
#[derive(Debug, Clone, Copy)]
pub enum Intent<'e> {
    Scenario(&'e Scenario),
    Failback,
}

/// A reviewable plan: deterministic for the same input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub environment: String,
    pub intent: IntentSummary,
    pub actual: StateSource,
    /// What the reader should know: assumptions, services that stay, data warnings.
    pub notes: Vec<String>,
    pub steps: Vec<Step>,
    pub summary: Summary,
}

/// The scenario (or failback) a plan carries out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentSummary {
    /// The scenario's name, or `failback`.
    pub name: String,
    pub strategy: String,
    pub severity: Option<String>,
    pub approval: Option<String>,
    /// The region recovery moves to, when it moves.
    pub to: Option<String>,
}

/// The numbers a reviewer reads first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Steps by action (gates left out).
    pub counts: BTreeMap<String, usize>,
    /// Steps that change the world.
    pub changes: usize,
    #[serde(with = "crate::duration::seconds")]
    pub estimated_rto: Duration,
    #[serde(with = "crate::duration::seconds")]
    pub rto_target: Duration,
    pub over_rto: bool,
    /// Step ids along the critical path.
    pub critical_path: Vec<StepId>,
    /// Who must approve what: the scenario's approver for the plan, and each step that pauses.
    pub approvals: Vec<Approval>,
    pub data_at_risk: Vec<DataRisk>,
    /// The ARC safety rules a switch step would break (apply refuses the plan).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub safety_breaches: Vec<String>,
}

/// An approval the plan needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub who: String,
    /// The step it gates, or `None` for the whole plan.
    pub step: Option<StepId>,
}

impl Plan {
    /// Plans `intent` for `env`, starting from `actual`.
    pub fn build(env: &Environment, intent: Intent<'_>, actual: &ActualState) -> Self {
        let changes = changes::compute(env, &intent, actual);
        let steps = steps::build(env, &changes);
        let graph = StepGraph::new(&steps);
        let (estimated_rto, path) = graph.critical_path(&steps);
        let data_at_risk: Vec<DataRisk> = changes
            .data
            .iter()
            .map(|d| DataRisk::new(d, actual, changes.target_region, changes.movement))
            .collect();
        let summary = Summary {
            counts: counts(&steps),
            changes: steps.iter().filter(|s| s.action.is_change()).count(),
            estimated_rto,
            rto_target: env.rto,
            over_rto: estimated_rto > env.rto,
            critical_path: path.iter().map(|&i| steps[i].id.clone()).collect(),
            approvals: approvals(intent, &steps),
            data_at_risk,
            safety_breaches: safety::breaches(env, actual.safety_rules.as_ref(), &steps),
        };
        Self {
            format_version: FORMAT_VERSION,
            environment: env.name.clone(),
            intent: intent_summary(env, intent),
            actual: actual.source.clone(),
            notes: notes(&changes, actual),
            steps,
            summary,
        }
    }

    /// The steps that do work: all but the gates joining tiers and phases (what
    /// `apply`, `status` and drills count).
    pub fn work(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| !s.action.is_gate())
    }

    /// What the placeholders of plan-level places (scenario steps, checks,
    /// notifications) mean: `{region}` and `{to}` are the region the plan leaves
    /// active (where it moves to, or home when it moves nothing).
    pub fn placeholders<'a>(&'a self, env: &'a Environment) -> Context<'a> {
        placeholders(env, self.intent.to.as_deref())
    }

    /// True when the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.summary.changes == 0
    }
}

/// The actual state an offline plan assumes: the nominal one, or for the failback,
/// everything failed over to the standby region.
pub fn assumed_actual(env: &Environment, intent: Intent<'_>) -> ActualState {
    match intent {
        Intent::Failback => ActualState::failed_over(env),
        Intent::Scenario(_) => ActualState::nominal(env),
    }
}

/// The context of plan-level places in a plan moving to `to` (see
/// [`Plan::placeholders`]).
pub fn placeholders<'a>(env: &'a Environment, to: Option<&'a str>) -> Context<'a> {
    let region = to.unwrap_or(&env.home.value);
    env.context(Some(region)).to(region)
}

fn intent_summary(env: &Environment, intent: Intent<'_>) -> IntentSummary {
    match intent {
        Intent::Scenario(scenario) => IntentSummary {
            name: scenario.name.value.clone(),
            strategy: scenario.strategy.name().to_string(),
            severity: Some(scenario.severity.clone()),
            approval: scenario.approval.clone(),
            to: scenario.strategy.to().map(|to| to.value.clone()),
        },
        Intent::Failback => IntentSummary {
            name: "failback".to_string(),
            strategy: "failover".to_string(),
            severity: None,
            approval: None,
            to: Some(env.home.value.clone()),
        },
    }
}

fn counts(steps: &[Step]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for step in steps.iter().filter(|s| !s.action.is_gate()) {
        *counts.entry(step.action.name().to_string()).or_insert(0) += 1;
    }
    counts
}

fn approvals(intent: Intent<'_>, steps: &[Step]) -> Vec<Approval> {
    let plan_approver = match intent {
        Intent::Scenario(scenario) => scenario.approval.clone().filter(|a| a != "manual"),
        Intent::Failback => None,
    };
    let whole = plan_approver
        .filter(|_| !steps.is_empty())
        .map(|who| Approval { who, step: None });
    let per_step = steps.iter().filter_map(|s| {
        Some(Approval {
            who: s.approval.clone()?,
            step: Some(s.id.clone()),
        })
    });
    whole.into_iter().chain(per_step).collect()
}

fn notes(changes: &changes::ChangeSet<'_>, actual: &ActualState) -> Vec<String> {
    let mut notes = Vec::new();
    match &actual.source {
        StateSource::AssumedNominal => notes.push(
            "offline plan: assumes every service active in its home region, DNS at home, and backups of unknown age"
                .to_string(),
        ),
        StateSource::AssumedFailedOver { region } => notes.push(format!(
            "offline plan: assumes every service that runs in {region} is active there and DNS points there; backups of unknown age"
        )),
        StateSource::Observed => {}
    }
    for service in &changes.unfenced {
        let left = changes
            .recoveries
            .iter()
            .find(|r| r.service.name.value == *service)
            .map_or("the region it leaves", |r| r.from.as_str());
        notes.push(format!(
            "{service} holds data but declares no `deactivate`: nothing fences it in {left}, so it could take writes beside the copy promoted"
        ));
    }
    let target = changes.target_region.unwrap_or("the target region");
    for stay in &changes.staying {
        let why = if changes.unmovable.contains(&stay.service) {
            format!("it does not run in {target}")
        } else {
            "it is not among this scenario's services".to_string()
        };
        notes.push(format!(
            "{} stays in {} ({why}) while services that depend on it move to {target}: {}",
            stay.service,
            stay.region,
            stay.dependents.join(", ")
        ));
    }
    let unmoved = changes
        .unmovable
        .iter()
        .filter(|s| !changes.staying.iter().any(|stay| stay.service == **s));
    for service in unmoved {
        notes.push(format!(
            "{service} does not run in {target} and stays where it is"
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Phase;

    const ENV: &str = r#"
[environment]
name = "notes"
home = "r1"
rto = "1h"

[providers]
dns = "sim"
storage = "sim"

[regions.r1]
role = "primary"

[regions.r2]
role = "secondary"

[services.db]
tier = 1
regions = ["r1"]

[services.api]
tier = 2
depends_on = ["db"]
regions = ["r1", "r2"]

[services.cron]
tier = 2
regions = ["r1"]

[services.web]
tier = 3
depends_on = ["api"]
regions = ["r1", "r2"]

[scenarios.all]
severity = "SEV-1"
strategy = "failover"
to = "r2"

[scenarios.web-only]
severity = "SEV-2"
strategy = "failover"
to = "r2"
services = ["web"]

[scenarios.every-phase]
severity = "SEV-2"
strategy = "custom"

[[scenarios.every-phase.steps]]
phase = "notify"
name = "broadcast"
manual = "Post the incident banner."

[[scenarios.every-phase.steps]]
phase = "notify"
name = "page the database team"
run = ["page", "db-team"]

[[scenarios.every-phase.steps]]
phase = "mitigate"
name = "block writes"
run = ["block-writes"]

[[scenarios.every-phase.steps]]
phase = "resolve"
name = "regain redundancy"
manual = "Rebuild the standby."
"#;

    fn notes_of(scenario: &str) -> Vec<String> {
        let env = crate::model::parse("notes.toml", ENV).unwrap();
        let scenario = env.scenario(scenario).unwrap();
        let plan = Plan::build(
            &env,
            Intent::Scenario(scenario),
            &ActualState::nominal(&env),
        );
        plan.notes.into_iter().skip(1).collect()
    }

    #[test]
    fn notes_say_why_a_dependency_stays_and_who_moves_without_it() {
        assert_eq!(
            notes_of("all"),
            [
                "db stays in r1 (it does not run in r2) while services that depend on it move to r2: api",
                "cron does not run in r2 and stays where it is",
            ]
        );
        assert_eq!(
            notes_of("web-only"),
            [
                "api stays in r1 (it is not among this scenario's services) while services that depend on it move to r2: web"
            ]
        );
    }

    #[test]
    fn scenario_steps_of_every_phase_are_planned_in_the_order_written() {
        let env = crate::model::parse("notes.toml", ENV).unwrap();
        let scenario = env.scenario("every-phase").unwrap();
        let plan = Plan::build(
            &env,
            Intent::Scenario(scenario),
            &ActualState::nominal(&env),
        );
        let ids: Vec<(&str, Phase)> = plan.work().map(|s| (s.id.as_str(), s.phase)).collect();
        assert_eq!(
            ids,
            [
                ("manual:broadcast", Phase::Notify),
                ("run:page-the-database-team", Phase::Notify),
                ("run:block-writes", Phase::Mitigate),
                ("manual:regain-redundancy", Phase::Resolve),
            ]
        );
        let paged = &plan.steps[plan
            .steps
            .iter()
            .position(|s| s.id.as_str() == "run:page-the-database-team")
            .unwrap()];
        assert_eq!(paged.depends_on, [StepId::new("manual:broadcast")]);
    }
}
