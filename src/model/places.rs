//! The places templates are written, and what each placeholder means there (the
//! README's placeholder table): every placeholder written must have a meaning in
//! its place, and every `{vars.NAME}` a value for each region the place acts on.

use super::template::Placeholder::{Backup, Environment as Env, From, Region, Service, To};
use super::{Command, Environment, Placeholder, Template};
use crate::error::{Problem, ProblemKind};
use crate::model::{ScenarioStepAction, TriggerKind};
use crate::problems::Problems;

/// `activate`: `{region}` and `{to}` the region activated, `{from}` the one left.
const ACTIVATE: &[Placeholder] = &[Region, From, To, Env, Service];
/// `restore`: `{region}` the region restored in, `{backup}` the backup chosen.
const RESTORE: &[Placeholder] = &[Region, Env, Service, Backup];
/// `deactivate`: `{region}` and `{from}` the region fenced, `{to}` the one moved to.
const DEACTIVATE: &[Placeholder] = &[Region, From, To, Env, Service];
/// `resync`: `{region}` the copy made a replica, `{from}` the active one it follows.
const RESYNC: &[Placeholder] = &[Region, From, Env, Service];
/// `backup`: `{region}` and `{from}` the region backed up (the one left), `{to}` the
/// one restored in next.
const BACKUP: &[Placeholder] = &[Region, From, To, Env, Service];
/// `health` and `lag`: `{region}` the region probed.
const PROBE: &[Placeholder] = &[Region, Env, Service];
/// Scenario steps, checks, notifications: `{region}` and `{to}` the region the plan
/// leaves active.
const PLAN: &[Placeholder] = &[Region, To, Env];
/// Trigger probes and DNS commands: the environment only.
const TRIGGER: &[Placeholder] = &[Env];

/// One place: its name in problems, its placeholders, the regions it may act on.
struct Place<'e> {
    what: String,
    allowed: &'static [Placeholder],
    regions: Vec<&'e str>,
}

/// Records every placeholder without a meaning in its place and every variable
/// without a value.
pub fn check(env: &Environment, p: &mut Problems) {
    for (place, templates) in places(env) {
        for template in templates {
            check_template(env, &place, template, p);
        }
    }
}

/// The places of a service: its lifecycle commands and its health probe.
fn service_places(service: &super::Service) -> Vec<(Place<'_>, Vec<&Template>)> {
    let table = format!("[services.{}]", service.name.value);
    let regions: Vec<&str> = service.regions.iter().map(|r| r.value.as_str()).collect();
    let place = |key: &str, allowed| Place {
        what: format!("`{key}` of {table}"),
        allowed,
        regions: regions.clone(),
    };
    let lifecycle = [
        ("activate", ACTIVATE, &service.activate),
        ("restore", RESTORE, &service.restore),
        ("deactivate", DEACTIVATE, &service.deactivate),
        ("resync", RESYNC, &service.resync),
        ("backup", BACKUP, &service.backup),
    ];
    let mut places: Vec<_> = lifecycle
        .into_iter()
        .map(|(key, allowed, command)| {
            (
                place(key, allowed),
                args(command.as_ref().map(|c| &c.command)),
            )
        })
        .collect();
    let health = service.health.as_ref().map(|h| h.check.templates());
    places.push((place("health", PROBE), health.unwrap_or_default()));
    places
}

fn places(env: &Environment) -> Vec<(Place<'_>, Vec<&Template>)> {
    let every_region: Vec<&str> = env.regions.iter().map(|r| r.name.value.as_str()).collect();
    let mut places: Vec<_> = env.services.iter().flat_map(service_places).collect();
    for data in &env.data {
        let Some(lag) = &data.lag else { continue };
        let regions = env
            .service(&data.service.value)
            .map(|s| s.regions.iter().map(|r| r.value.as_str()).collect())
            .unwrap_or_default();
        let templates = lag.source.templates();
        let what = format!("`lag` of [data.{}]", data.name.value);
        places.push((
            Place {
                what,
                allowed: PROBE,
                regions,
            },
            templates,
        ));
    }
    for scenario in &env.scenarios {
        let active = scenario
            .strategy
            .to()
            .map_or(&env.home.value, |to| &to.value);
        for step in &scenario.steps {
            let ScenarioStepAction::Run(argv) = &step.action else {
                continue;
            };
            let what = format!(
                "step `{}` of [scenarios.{}]",
                step.name, scenario.name.value
            );
            let place = Place {
                what,
                allowed: PLAN,
                regions: vec![active.as_str()],
            };
            places.push((place, argv.0.iter().collect()));
        }
    }
    for check in &env.checks {
        let templates = check.kind.templates();
        let what = format!("check `{}`", check.name);
        let place = Place {
            what,
            allowed: PLAN,
            regions: every_region.clone(),
        };
        places.push((place, templates));
    }
    for (index, entry) in env.notify.iter().enumerate() {
        let templates = entry.via.templates();
        let what = format!("[[notify]] entry {}", index + 1);
        let place = Place {
            what,
            allowed: PLAN,
            regions: every_region.clone(),
        };
        places.push((place, templates));
    }
    for trigger in &env.triggers {
        let TriggerKind::ErrorRate {
            probe: Some(probe), ..
        } = &trigger.kind
        else {
            continue;
        };
        let templates = probe.templates();
        let what = format!("`probe` of [triggers.{}]", trigger.name.value);
        places.push((
            Place {
                what,
                allowed: TRIGGER,
                regions: Vec::new(),
            },
            templates,
        ));
    }
    places.extend(dns_commands(env));
    places
}

/// `[providers.dns_commands]`: the environment only (and variables).
fn dns_commands(env: &Environment) -> Vec<(Place<'_>, Vec<&Template>)> {
    let Some(commands) = &env.providers.dns_commands else {
        return Vec::new();
    };
    [("read", &commands.read), ("apply", &commands.apply)]
        .into_iter()
        .map(|(key, command)| {
            let place = Place {
                what: format!("`{key}` of [providers.dns_commands]"),
                allowed: TRIGGER,
                regions: Vec::new(),
            };
            (place, args(Some(command)))
        })
        .collect()
}

fn args(command: Option<&Command>) -> Vec<&Template> {
    command.map(|c| c.0.iter().collect()).unwrap_or_default()
}

fn check_template(env: &Environment, place: &Place<'_>, template: &Template, p: &mut Problems) {
    for placeholder in template.placeholders() {
        if !place.allowed.contains(&placeholder) {
            let allowed: Vec<String> = place
                .allowed
                .iter()
                .map(|a| format!("{{{}}}", a.name()))
                .collect();
            let problem = Problem::new(
                ProblemKind::UnknownPlaceholder,
                format!(
                    "`{{{}}}` has no meaning in {}",
                    placeholder.name(),
                    place.what
                ),
                template.span.clone(),
                "no meaning here",
            );
            p.push(problem.help(format!(
                "here the placeholders are {} and {{vars.NAME}} (see the README's placeholder table)",
                allowed.join(", ")
            )));
        }
    }
    for var in template.vars() {
        if env.vars.contains_key(var) {
            continue;
        }
        let missing: Vec<&str> = place
            .regions
            .iter()
            .filter(|r| {
                env.region(r)
                    .is_none_or(|region| !region.vars.contains_key(var))
            })
            .copied()
            .collect();
        if missing.is_empty() && !place.regions.is_empty() {
            continue;
        }
        let help = if place.regions.is_empty() {
            format!(
                "declare it under [environment.vars]: {} acts on no region",
                place.what
            )
        } else {
            format!(
                "declare it under [environment.vars], or under [regions.NAME.vars] of {}",
                missing.join(", ")
            )
        };
        let problem = Problem::new(
            ProblemKind::UnknownVariable,
            format!("unknown variable `{{vars.{var}}}` in {}", place.what),
            template.span.clone(),
            "no value here",
        );
        p.push(problem.help(help));
    }
}
