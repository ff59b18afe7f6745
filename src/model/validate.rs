//! Cross-reference checks on a decoded environment: every name points at something
//! that exists, dependencies form no cycle and never point at a later tier, DNS
//! targets are regions their service runs in, failovers leave home, and a trigger
//! outside the sim has something to read.

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;

use super::{DnsRecord, Environment, Located, ProviderKind, Service};
use crate::error::{Problem, ProblemKind};
use crate::problems::Problems;
use crate::suggest::did_you_mean;

/// Records every cross-reference problem of `env`.
pub fn check(env: &Environment, problems: &mut Problems) {
    check_regions(env, problems);
    check_services(env, problems);
    check_cycles(env, problems);
    check_records(env, problems);
    check_arc(env, problems);
    check_data(env, problems);
    check_scenarios(env, problems);
    check_operations(env, problems);
    super::places::check(env, problems);
    super::watchers::check(env, |r, c, p| region_ref(env, r, c, p), problems);
}

/// With `dns = "arc"`, the endpoints and routing controls name regions, and every
/// region a record sends traffic to has its routing control (else a move could not
/// turn it on or off).
fn check_arc(env: &Environment, p: &mut Problems) {
    let Some(arc) = &env.providers.arc else {
        return;
    };
    for (region, _) in arc.endpoints.iter().chain(&arc.routing_controls) {
        region_ref(env, region, "[providers.arc]", p);
    }
    for record in &env.records {
        for (region, _) in &record.targets {
            if arc.routing_control(&region.value).is_none() {
                p.push(
                    Problem::new(
                        ProblemKind::MissingField,
                        format!(
                            "[providers.arc] has no routing control for `{}`, where [dns.{}] sends traffic",
                            region.value, record.key.value
                        ),
                        region.span.clone(),
                        "no routing control",
                    )
                    .help(format!(
                        "add {} = \"arn:aws:route53-recovery-control::…:routingcontrol/…\" to `routing_controls` of [providers.arc]",
                        region.value
                    )),
                );
            }
        }
    }
}

fn check_regions(env: &Environment, p: &mut Problems) {
    region_ref(env, &env.home, "`home` of [environment]", p);
    for service in &env.services {
        for region in &service.regions {
            region_ref(
                env,
                region,
                &format!("[services.{}]", service.name.value),
                p,
            );
        }
    }
}

fn check_services(env: &Environment, p: &mut Problems) {
    for service in &env.services {
        check_rds(env, service, p);
        check_aurora(env, service, p);
        check_backup(env, service, p);
        for dependency in &service.depends_on {
            let context = format!("`depends_on` of [services.{}]", service.name.value);
            let Some(target) = service_ref(env, dependency, &context, p) else {
                continue;
            };
            if target.tier.value > service.tier.value {
                p.push(
                    Problem::new(
                        ProblemKind::LaterTierDependency,
                        format!(
                            "`{}` (tier {}) depends on `{}`, which is restored later (tier {})",
                            service.name.value,
                            service.tier.value,
                            dependency.value,
                            target.tier.value
                        ),
                        dependency.span.clone(),
                        format!("tier {} service", target.tier.value),
                    )
                    .label(
                        service.tier.span.clone(),
                        format!("tier {}", service.tier.value),
                    )
                    .help(format!(
                        "move `{}` to tier {} or later, or `{}` to tier {} or earlier",
                        service.name.value, target.tier.value, dependency.value, service.tier.value
                    )),
                );
            }
        }
    }
}

/// `backup` runs only for a service rebuilt from backups where it moves: anywhere
/// else nothing would run it, and a command that silently never runs is refused.
fn check_backup(env: &Environment, service: &Service, p: &mut Problems) {
    if service.backup.is_none() || env.restored_when_moved(service) {
        return;
    }
    let name = &service.name.value;
    p.push(
        Problem::new(
            ProblemKind::InvalidValue,
            format!(
                "`backup` of [services.{name}] would never run: `{name}` is not rebuilt from backups where it moves"
            ),
            service.name.span.clone(),
            "declares `backup`",
        )
        .help(
            "`backup` is for a service that declares `restore` and no `activate`, `rds` or `aurora`, and holds a data set with method = \"restore\" and `backups`; remove it otherwise",
        ),
    );
}

/// An RDS service names an instance in every region it runs in and nowhere else, and
/// is not also brought up by an `activate` command (which of the two would promote?).
fn check_rds(env: &Environment, service: &Service, p: &mut Problems) {
    let Some(rds) = &service.rds else { return };
    let declared = Regional {
        key: "rds",
        member: "instance",
        entries: &rds.instances,
        span: &rds.span,
        example: "add {} = \"DB-INSTANCE-ID\" to `rds.instances`",
        what: "promotes the read replica",
        itself: "drplan promotes an RDS service itself",
    };
    check_regional(env, service, &declared, p);
}

/// An Aurora service names a member cluster in every region it runs in and nowhere
/// else, is not also brought up by an `activate` command, and is not also an RDS one.
fn check_aurora(env: &Environment, service: &Service, p: &mut Problems) {
    let Some(aurora) = &service.aurora else {
        return;
    };
    let declared = Regional {
        key: "aurora",
        member: "cluster",
        entries: &aurora.clusters,
        span: &aurora.span,
        example: "add {} = \"DB-CLUSTER-ID\" to `aurora.clusters`",
        what: "moves the global cluster's writer",
        itself: "drplan moves the writer of an Aurora global database itself",
    };
    check_regional(env, service, &declared, p);
    if service.rds.is_some() {
        p.push(
            Problem::new(
                ProblemKind::InvalidValue,
                format!(
                    "[services.{}] declares both `rds` and `aurora`",
                    service.name.value
                ),
                aurora.span.clone(),
                "one database per service",
            )
            .help("declare the RDS instances and the Aurora global database as two services"),
        );
    }
}

/// A per-region resource table of a service (`rds`, `aurora`), as validated.
struct Regional<'a> {
    key: &'a str,
    member: &'a str,
    entries: &'a [(Located<String>, String)],
    span: &'a crate::error::Span,
    /// The help for a region without its member; `{}` is the region.
    example: &'a str,
    /// What drplan does with it, instead of an `activate` command.
    what: &'a str,
    /// Why `activate` must go.
    itself: &'a str,
}

fn check_regional(env: &Environment, service: &Service, declared: &Regional<'_>, p: &mut Problems) {
    let (key, member) = (declared.key, declared.member);
    let article = if member.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    let table = format!("[services.{}]", service.name.value);
    for (region, _) in declared.entries {
        if region_ref(env, region, &table, p) && !service.runs_in(&region.value) {
            p.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    format!(
                        "`{key}` names {article} {member} in `{}`, where `{}` does not run",
                        region.value, service.name.value
                    ),
                    region.span.clone(),
                    "not one of the service's regions",
                )
                .help(format!(
                    "add \"{}\" to `regions`, or remove this {member}",
                    region.value
                )),
            );
        }
    }
    let named = |region: &str| declared.entries.iter().any(|(r, _)| r.value == region);
    for region in service.regions.iter().filter(|r| !named(&r.value)) {
        p.push(
            Problem::new(
                ProblemKind::MissingField,
                format!(
                    "`{key}` of {table} names no {member} in `{}`, where the service runs",
                    region.value
                ),
                declared.span.clone(),
                format!("every region needs its {member}"),
            )
            .help(declared.example.replace("{}", &region.value)),
        );
    }
    if service.activate.is_some() {
        p.push(
            Problem::new(
                ProblemKind::InvalidValue,
                format!("{table} declares both `{key}` and `activate`"),
                declared.span.clone(),
                declared.what,
            )
            .help(format!(
                "{}; remove `activate` (keep `deactivate` and `resync` for fencing and reprotecting)",
                declared.itself
            )),
        );
    }
}

/// One problem per strongly connected group of services, naming every member and
/// labelling every edge inside it.
fn check_cycles(env: &Environment, p: &mut Problems) {
    let mut graph = DiGraph::<usize, ()>::with_capacity(env.services.len(), env.services.len() * 3);
    let nodes: Vec<_> = (0..env.services.len()).map(|i| graph.add_node(i)).collect();
    for (i, service) in env.services.iter().enumerate() {
        for dependency in &service.depends_on {
            if let Some(j) = env.service_id(&dependency.value) {
                graph.add_edge(nodes[i], nodes[j], ());
            }
        }
    }
    for group in tarjan_scc(&graph) {
        let mut members: Vec<usize> = group.iter().map(|n| graph[*n]).collect();
        let self_loop = members.len() == 1 && graph.contains_edge(group[0], group[0]);
        if members.len() < 2 && !self_loop {
            continue;
        }
        members.sort_unstable();
        p.push(cycle_problem(env, &members));
    }
}

fn cycle_problem(env: &Environment, members: &[usize]) -> Problem {
    let names: Vec<&str> = members
        .iter()
        .map(|&i| env.services[i].name.value.as_str())
        .collect();
    let first = &env.services[members[0]];
    let mut problem = Problem::new(
        ProblemKind::DependencyCycle,
        format!(
            "dependency cycle between {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        first.name.span.clone(),
        format!("`{}` is part of the cycle", first.name.value),
    );
    for &i in members {
        let service = &env.services[i];
        for dependency in service
            .depends_on
            .iter()
            .filter(|d| names.contains(&d.value.as_str()))
        {
            problem = problem.label(
                dependency.span.clone(),
                format!("`{}` depends on `{}`", service.name.value, dependency.value),
            );
        }
    }
    problem.help("a service cannot wait for itself: remove one of these `depends_on` entries")
}

fn check_records(env: &Environment, p: &mut Problems) {
    for record in &env.records {
        let table = format!("[dns.{}]", record.key.value);
        let service = service_ref(env, &record.follows, &format!("`follows` of {table}"), p);
        for (region, _) in &record.targets {
            if !region_ref(env, region, &table, p) {
                continue;
            }
            if let Some(service) = service.filter(|s| !s.runs_in(&region.value)) {
                p.push(
                    Problem::new(
                        ProblemKind::DnsTargetRegion,
                        format!(
                            "`{}` has a target in `{}`, where `{}` does not run",
                            record.key.value, region.value, service.name.value
                        ),
                        region.span.clone(),
                        format!("`{}` does not run here", service.name.value),
                    )
                    .label(
                        record.follows.span.clone(),
                        "the record follows this service",
                    )
                    .help(format!(
                        "add \"{}\" to the regions of [services.{}], or remove this target",
                        region.value, service.name.value
                    )),
                );
            }
        }
        check_weights(env, record, p);
        check_switchover_ttl(env, record, p);
        super::failover_record::check(env, record, p);
    }
}

/// A `switchover_ttl` is a TTL: whole seconds, at least one, below the record's `ttl`,
/// on a record that has a TTL (not an alias) and that a switchover changes (not one
/// moved by ARC routing controls, which leave the records alone).
fn check_switchover_ttl(env: &Environment, record: &DnsRecord, p: &mut Problems) {
    let Some(lowered) = &record.switchover_ttl else {
        return;
    };
    let table = format!("[dns.{}]", record.key.value);
    let refuse = |message: String, label: &str, help: String| {
        Problem::new(
            ProblemKind::InvalidValue,
            message,
            lowered.span.clone(),
            label,
        )
        .help(help)
    };
    let ttl = record.ttl();
    let problem = if env.providers.dns == ProviderKind::Arc {
        Some(refuse(
            format!(
                "`switchover_ttl` of {table} cannot be used with dns = \"arc\": routing controls move traffic without changing the record, so its TTL stays"
            ),
            "not with ARC",
            "remove `switchover_ttl`, or move this record with dns = \"route53\"".to_string(),
        ))
    } else if record.alias.is_some() {
        Some(refuse(
            format!(
                "`switchover_ttl` of {table} cannot lower the TTL of an alias record, which has none of its own"
            ),
            "an alias record has no TTL",
            "remove `switchover_ttl` (an alias answers with its target's TTL)".to_string(),
        ))
    } else if lowered.value.subsec_nanos() != 0 || lowered.value.as_secs() == 0 {
        Some(refuse(
            format!("`switchover_ttl` of {table} must be whole seconds, at least 1s: DNS TTLs are"),
            "not whole seconds",
            "write it in whole seconds, e.g. \"30s\"".to_string(),
        ))
    } else if lowered.value.as_secs() >= u64::from(ttl) {
        Some(refuse(
            format!(
                "`switchover_ttl` of {table} must be below its `ttl` ({ttl}s), or there is nothing to lower"
            ),
            "not below the record's ttl",
            format!("lower it below {ttl}s, or raise `ttl`"),
        ))
    } else {
        None
    };
    if let Some(problem) = problem {
        p.push(problem);
    }
}

/// An active-active record weighs every target and nothing else, some weight is above
/// 0, and its DNS provider can keep shares (ARC routing controls cannot).
fn check_weights(env: &Environment, record: &DnsRecord, p: &mut Problems) {
    if record.weights.is_empty() {
        return;
    }
    let table = format!("[dns.{}]", record.key.value);
    if env.providers.dns == ProviderKind::Arc {
        p.push(
            Problem::new(
                ProblemKind::InvalidValue,
                format!("`weights` of {table} cannot be kept by ARC routing controls, which are on or off"),
                record.weights[0].0.span.clone(),
                "a share of traffic",
            )
            .help("remove `weights` (ARC moves all of a record's traffic), or move this record with dns = \"route53\""),
        );
    }
    let targets: Vec<&str> = record
        .targets
        .iter()
        .map(|(r, _)| r.value.as_str())
        .collect();
    for (region, _) in &record.weights {
        if !targets.contains(&region.value.as_str()) {
            p.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    format!(
                        "`weights` of {table} weighs `{}`, which is not one of its targets",
                        region.value
                    ),
                    region.span.clone(),
                    "not a target of this record",
                )
                .help(format!("weigh only its targets: {}", targets.join(", "))),
            );
        }
    }
    for (region, _) in &record.targets {
        if !record.weights.iter().any(|(r, _)| r.value == region.value) {
            p.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    format!(
                        "`weights` of {table} gives no weight to its target `{}`",
                        region.value
                    ),
                    region.span.clone(),
                    "this target has no weight",
                )
                .help(format!(
                    "add `{} = 0` to `weights` for a passive region, or a share for an active one",
                    region.value
                )),
            );
        }
    }
    if record.weights.iter().all(|(_, weight)| *weight == 0) {
        p.push(
            Problem::new(
                ProblemKind::InvalidValue,
                format!("every weight of {table} is 0: it would send no traffic anywhere"),
                record.weights[0].0.span.clone(),
                "all weights are 0",
            )
            .help("give the regions that serve a share above 0, e.g. 50 and 50"),
        );
    }
}

fn check_data(env: &Environment, p: &mut Problems) {
    for data in &env.data {
        service_ref(
            env,
            &data.service,
            &format!("[data.{}]", data.name.value),
            p,
        );
    }
    check_storage(env, p);
}

/// With `storage = "none"`, nothing may need object storage.
fn check_storage(env: &Environment, p: &mut Problems) {
    if env.providers.storage != ProviderKind::Absent {
        return;
    }
    let backups = env
        .data
        .iter()
        .filter(|data| data.backups.is_some())
        .map(|data| {
            (
                &data.name,
                format!("data set `{}` declares backups", data.name.value),
            )
        });
    let pages = env
        .scenarios
        .iter()
        .filter(|scenario| scenario.maintenance_page.is_some())
        .map(|s| {
            (
                &s.name,
                format!("scenario `{}` puts up a maintenance page", s.name.value),
            )
        });
    for (name, what) in backups.chain(pages) {
        p.push(
            Problem::new(
                ProblemKind::NoStorage,
                format!("{what}, but [providers] has storage = \"none\""),
                name.span.clone(),
                "needs object storage",
            )
            .help("set storage = \"s3\" in [providers] (or \"sim\" to rehearse), or remove it"),
        );
    }
}

fn check_scenarios(env: &Environment, p: &mut Problems) {
    for scenario in &env.scenarios {
        let limited: Vec<&Located<String>> = scenario.services.iter().flatten().collect();
        let context = format!("`services` of [scenarios.{}]", scenario.name.value);
        for service in &limited {
            service_ref(env, service, &context, p);
        }
        let Some(to) = scenario.strategy.to() else {
            continue;
        };
        if !region_ref(env, to, &format!("[scenarios.{}]", scenario.name.value), p) {
            continue;
        }
        if to.value == env.home.value {
            p.push(
                Problem::new(
                    ProblemKind::FailoverToHome,
                    format!(
                        "scenario `{}` fails over to `{}`, the home region",
                        scenario.name.value, to.value
                    ),
                    to.span.clone(),
                    "this is home",
                )
                .label(env.home.span.clone(), "home is declared here")
                .help("fail over to another region; coming back home is `drplan plan --failback`"),
            );
        }
        for service in limited.iter().filter_map(|name| env.service(&name.value)) {
            if !service.runs_in(&to.value) {
                p.push(
                    Problem::new(
                        ProblemKind::InvalidValue,
                        format!(
                            "`{}` cannot fail over to `{}`: it does not run there",
                            service.name.value, to.value
                        ),
                        to.span.clone(),
                        format!("`{}` does not run here", service.name.value),
                    )
                    .help(format!(
                        "add \"{}\" to the regions of [services.{}]",
                        to.value, service.name.value
                    )),
                );
            }
        }
    }
}

fn check_operations(env: &Environment, p: &mut Problems) {
    for trigger in &env.triggers {
        let table = format!("[triggers.{}]", trigger.name.value);
        scenario_ref(env, &trigger.scenario, &table, p);
        let unread = matches!(
            trigger.kind,
            super::TriggerKind::ErrorRate { probe: None, .. }
        );
        if unread && !env.providers.is_sim() {
            p.list.push(
                Problem::new(
                    ProblemKind::UnreadableTrigger,
                    format!("{table} watches an error rate but has no `probe`: outside the sim it can never fire"),
                    trigger.name.span.clone(),
                    "nothing reads its error rate",
                )
                .help("add probe = { url = \"…\" } or probe = { command = [\"…\"] } answering a ratio between 0 and 1"),
            );
        }
        for service in trigger.services.iter().flatten() {
            service_ref(env, service, &format!("`services` of {table}"), p);
        }
    }
    for drill in &env.drills {
        scenario_ref(env, &drill.scenario, &format!("[drills.{}]", drill.name), p);
    }
    for check in &env.checks {
        if let super::CheckKind::Dns { record } = &check.kind {
            let candidates = env.records.iter().map(|r| r.key.value.as_str());
            let exists = env.record(&record.value).is_some();
            let context = format!("check `{}`", check.name);
            reference(
                ProblemKind::UnknownRecord,
                ("DNS record", "dns"),
                record,
                exists,
                candidates,
                &context,
                p,
            );
        }
    }
}

/// Checks a service name; returns the service when it exists.
fn service_ref<'e>(
    env: &'e Environment,
    name: &Located<String>,
    context: &str,
    p: &mut Problems,
) -> Option<&'e super::Service> {
    let found = env.service(&name.value);
    let candidates = env.services.iter().map(|s| s.name.value.as_str());
    reference(
        ProblemKind::UnknownService,
        ("service", "services"),
        name,
        found.is_some(),
        candidates,
        context,
        p,
    );
    found
}

/// Checks a region name; returns whether it exists.
fn region_ref(env: &Environment, name: &Located<String>, context: &str, p: &mut Problems) -> bool {
    let candidates = env.regions.iter().map(|r| r.name.value.as_str());
    reference(
        ProblemKind::UnknownRegion,
        ("region", "regions"),
        name,
        env.region(&name.value).is_some(),
        candidates,
        context,
        p,
    )
}

fn scenario_ref(env: &Environment, name: &Located<String>, context: &str, p: &mut Problems) {
    let candidates = env.scenarios.iter().map(|s| s.name.value.as_str());
    reference(
        ProblemKind::UnknownScenario,
        ("scenario", "scenarios"),
        name,
        env.scenario(&name.value).is_some(),
        candidates,
        context,
        p,
    );
}

/// Records an unknown reference unless the name exists, is declared but broken
/// (already reported), or is empty (its own table failed to decode).
fn reference<'c>(
    kind: ProblemKind,
    (what, table): (&str, &str),
    name: &Located<String>,
    exists: bool,
    candidates: impl Iterator<Item = &'c str> + Clone,
    context: &str,
    p: &mut Problems,
) -> bool {
    if exists || name.value.is_empty() || p.is_broken(table, &name.value) {
        return exists;
    }
    let problem = unknown(kind, what, name, candidates, &format!("[{table}]"));
    p.push(Problem {
        message: format!("{} (in {context})", problem.message),
        ..problem
    });
    false
}

fn unknown<'c>(
    kind: ProblemKind,
    what: &str,
    name: &Located<String>,
    candidates: impl Iterator<Item = &'c str> + Clone,
    table: &str,
) -> Problem {
    let problem = Problem::new(
        kind,
        format!("unknown {what} `{}`", name.value),
        name.span.clone(),
        format!("no such {what}"),
    );
    if let Some(close) = did_you_mean(&name.value, candidates.clone()) {
        problem.help(format!("did you mean `{close}`?"))
    } else {
        let known: Vec<&str> = candidates.take(8).collect();
        if known.is_empty() {
            problem.help(format!("declare it under {table}"))
        } else {
            problem.help(format!(
                "declare it under {table}; known: {}",
                known.join(", ")
            ))
        }
    }
}
