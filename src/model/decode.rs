//! Decodes the TOML tree of an environment file into the model, one table at a time,
//! recording every problem and going on.

use std::collections::HashMap;
use std::time::Duration;

use crate::config::tree::{Fields, Node};
use crate::error::{Problem, ProblemKind};
use crate::located::Located;
use crate::model::Routing;
use crate::model::data_set::{Extract, LagProbe, LagSource};
use crate::model::service::{
    DEFAULT_LIFECYCLE_TIMEOUT, DEFAULT_RDS_TIMEOUT, Lifecycle, RdsInstances,
};
use crate::model::until::{Condition, Until};
use crate::model::{
    AlarmProbe, Alias, BackupLocation, Check, CheckKind, Command, DEFAULT_DNS_COMMAND_TIMEOUT,
    DEFAULT_TRIGGER_INTERVAL, DataMethod, DataSet, DnsCommands, DnsRecord, Drill, Environment,
    ErrorRateProbe, FailbackMode, HealthCheck, HealthProbe, MaintenancePage, Notification,
    NotifyVia, Phase, ProviderKind, Providers, Region, Scenario, ScenarioStep, ScenarioStepAction,
    Service, StateLocation, Strategy, Template, Trigger, TriggerKind, Vars,
};
use crate::model::{ArcCluster, AuroraGlobal, DEFAULT_AURORA_TIMEOUT};
use crate::problems::Problems;

/// Decodes a whole document; `None` when a required part could not be read.
pub fn environment(root: &mut Fields<'_, '_>, problems: &mut Problems) -> Option<Environment> {
    let header = root.req("environment", |n| n.table("[environment]"), problems);
    let header = header.and_then(|mut fields| environment_header(&mut fields, problems));
    let providers = root.opt("providers", |n| n.table("[providers]"), problems);
    let providers = match providers {
        Some(mut fields) => Some(providers_table(&mut fields, problems)),
        None => Some(Providers {
            dns: ProviderKind::Sim,
            storage: ProviderKind::Sim,
            endpoint: None,
            region: None,
            dns_commands: None,
            arc: None,
        }),
    };
    let regions = named(root, "regions", region, problems);
    let services = named(root, "services", service, problems);
    let records = named(root, "dns", record, problems);
    let data = named(root, "data", data_set, problems);
    let scenarios = named(root, "scenarios", scenario, problems);
    let triggers = named(root, "triggers", trigger, problems);
    let notify = listed(root, "notify", notification, problems);
    let checks = listed(root, "checks", check, problems);
    let drills = named(root, "drills", drill, problems);
    let watch = root.opt("watch", |n| n.table("[watch]"), problems);
    let watch = watch.and_then(|mut fields| super::watchers::decode(&mut fields, problems));
    // A broken header still lets every other table be cross-checked: the load fails
    // on the header's own problems anyway.
    let (name, home, rto, state, vars, retries) = header.unwrap_or_else(|| {
        (
            String::new(),
            Located::new(String::new(), 0..0),
            Duration::ZERO,
            StateLocation::Local,
            Vars::new(),
            None,
        )
    });
    Some(
        Environment {
            name,
            home,
            rto,
            state,
            providers: providers?,
            regions,
            services,
            records,
            data,
            scenarios,
            triggers,
            notify,
            checks,
            drills,
            watch,
            vars,
            retries,
            service_index: HashMap::new(),
        }
        .indexed(),
    )
}

type Header = (
    String,
    Located<String>,
    Duration,
    StateLocation,
    Vars,
    Option<u32>,
);

fn environment_header(f: &mut Fields<'_, '_>, p: &mut Problems) -> Option<Header> {
    let name = f.req("name", |n| identifier(n, "an environment name"), p);
    let home = f.req("home", Node::string, p);
    let rto = f.req("rto", Node::duration, p);
    let state = f
        .opt("state", state_location, p)
        .unwrap_or(StateLocation::Local);
    let vars = vars(f, "[environment.vars]", p);
    let retries = f.opt("retries", retries, p);
    f.finish(p);
    Some((name?.value, home?, rto?.value, state, vars, retries))
}

/// A `vars` table: names to text.
fn vars(f: &mut Fields<'_, '_>, table: &str, p: &mut Problems) -> Vars {
    let Some(mut fields) = f.opt("vars", |n| n.table(table), p) else {
        return Vars::new();
    };
    let entries = fields.entries();
    entries
        .into_iter()
        .filter_map(|(name, value)| Some((name.value, p.ok(value.string())?)))
        .collect()
}

fn state_location(node: &Node<'_, '_>) -> Result<StateLocation, Problem> {
    let text = node.string()?;
    if text.value == "local" {
        return Ok(StateLocation::Local);
    }
    let location = BackupLocation::parse(&text.value)
        .filter(|l| !l.prefix.is_empty() && !l.prefix.ends_with('/'));
    location
        .map(|l| StateLocation::S3 {
            bucket: l.bucket,
            key: l.prefix,
        })
        .ok_or_else(|| {
            node.invalid(
                "`state` must be \"local\" or \"s3://bucket/key.json\"",
                "write state = \"local\" or state = \"s3://my-bucket/drplan/production.json\"",
            )
        })
}

fn providers_table(f: &mut Fields<'_, '_>, p: &mut Problems) -> Providers {
    let dns = f.opt(
        "dns",
        |n| {
            provider(
                n,
                &[
                    ("sim", ProviderKind::Sim),
                    ("route53", ProviderKind::Route53),
                    ("command", ProviderKind::Command),
                    ("arc", ProviderKind::Arc),
                ],
            )
        },
        p,
    );
    let storage = f.opt(
        "storage",
        |n| {
            provider(
                n,
                &[
                    ("sim", ProviderKind::Sim),
                    ("s3", ProviderKind::S3),
                    ("none", ProviderKind::Absent),
                ],
            )
        },
        p,
    );
    let endpoint = f.opt("endpoint", Node::string, p).map(|e| e.value);
    let region = f.opt("region", Node::string, p).map(|r| r.value);
    let dns = dns.unwrap_or(ProviderKind::Sim);
    let dns_commands = if dns == ProviderKind::Command {
        f.req("dns_commands", |n| Ok(*n), p)
            .and_then(|node| dns_commands_table(&node, p))
    } else {
        if let Some(node) = f.opt("dns_commands", |n| Ok(*n), p) {
            p.push(node.invalid(
                "[providers.dns_commands] is used only with dns = \"command\"",
                "set dns = \"command\" in [providers], or remove [providers.dns_commands]",
            ));
        }
        None
    };
    let arc = arc_table(f, dns, p);
    f.finish(p);
    Providers {
        dns,
        storage: storage.unwrap_or(ProviderKind::Sim),
        endpoint,
        region,
        dns_commands,
        arc,
    }
}

/// The required table `key` of strings by region, named `name` in problems.
fn region_strings(
    f: &mut Fields<'_, '_>,
    key: &'static str,
    name: String,
    p: &mut Problems,
) -> Option<Vec<(Located<String>, String)>> {
    let mut table = f.req(key, |n| n.table(name), p)?;
    Some(
        table
            .entries()
            .into_iter()
            .filter_map(|(region, value)| Some((region, p.ok(value.string())?.value)))
            .collect(),
    )
}

/// `[providers.arc]`: required with `dns = "arc"`, refused otherwise.
fn arc_table(f: &mut Fields<'_, '_>, dns: ProviderKind, p: &mut Problems) -> Option<ArcCluster> {
    if dns != ProviderKind::Arc {
        if let Some(node) = f.opt("arc", |n| Ok(*n), p) {
            p.push(node.invalid(
                "[providers.arc] is used only with dns = \"arc\"",
                "set dns = \"arc\" in [providers], or remove [providers.arc]",
            ));
        }
        return None;
    }
    let node = f.req("arc", |n| Ok(*n), p)?;
    let mut f = p.ok(node.table("[providers.arc]"))?;
    let endpoints = region_strings(
        &mut f,
        "endpoints",
        "`endpoints` of [providers.arc]".into(),
        p,
    );
    let routing_controls = region_strings(
        &mut f,
        "routing_controls",
        "`routing_controls` of [providers.arc]".into(),
        p,
    );
    let control_panel = f.opt("control_panel", control_panel, p).map(|c| c.value);
    f.finish(p);
    Some(ArcCluster {
        endpoints: endpoints?,
        routing_controls: routing_controls?,
        control_panel,
    })
}

/// `control_panel`: the ARN of an ARC control panel.
fn control_panel(node: &Node<'_, '_>) -> Result<Located<String>, Problem> {
    let arn = node.string()?;
    if arn.value.starts_with("arn:") && arn.value.contains(":controlpanel/") {
        Ok(arn)
    } else {
        Err(node.invalid(
            "`control_panel` is not the ARN of an ARC control panel",
            "write it as arn:aws:route53-recovery-control::ACCOUNT:controlpanel/ID",
        ))
    }
}

fn dns_commands_table(node: &Node<'_, '_>, p: &mut Problems) -> Option<DnsCommands> {
    let mut f = p.ok(node.table("[providers.dns_commands]"))?;
    let read = f.req("read", command, p);
    let apply = f.req("apply", command, p);
    let timeout = f.opt("timeout", Node::duration, p);
    f.finish(p);
    Some(DnsCommands {
        read: read?,
        apply: apply?,
        timeout: timeout.map_or(DEFAULT_DNS_COMMAND_TIMEOUT, |t| t.value),
    })
}

fn provider(
    node: &Node<'_, '_>,
    choices: &[(&str, ProviderKind)],
) -> Result<ProviderKind, Problem> {
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    let text = one_of(node, &names)?;
    Ok(choices
        .iter()
        .find(|(name, _)| *name == text)
        .map_or(ProviderKind::Sim, |(_, kind)| *kind))
}

fn region(name: Located<String>, node: Node<'_, '_>, p: &mut Problems) -> Option<Region> {
    let mut f = p.ok(node.table(format!("[regions.{}]", name.value)))?;
    let role = f.req(
        "role",
        |n| one_of(n, &["primary", "secondary", "tertiary"]),
        p,
    );
    let standby = f.opt("standby", |n| one_of(n, &["hot", "warm", "cold"]), p);
    let vars = vars(&mut f, &format!("[regions.{}.vars]", name.value), p);
    f.finish(p);
    Some(Region {
        name,
        role: role?,
        standby,
        vars,
    })
}

fn service(name: Located<String>, node: Node<'_, '_>, p: &mut Problems) -> Option<Service> {
    let mut f = p.ok(node.table(format!("[services.{}]", name.value)))?;
    let tier = f.req("tier", tier, p);
    let depends_on = f.opt("depends_on", Node::strings, p).unwrap_or_default();
    let regions = f.req("regions", non_empty_strings, p);
    let estimate = f.opt("estimate", Node::duration, p).map(|d| d.value);
    let activate = lifecycle(&mut f, "activate", &name.value, p);
    let restore = lifecycle(&mut f, "restore", &name.value, p);
    let deactivate = lifecycle(&mut f, "deactivate", &name.value, p);
    let resync = lifecycle(&mut f, "resync", &name.value, p);
    let backup = lifecycle(&mut f, "backup", &name.value, p);
    let health = f.opt(
        "health",
        |n| n.table(format!("`health` of [services.{}]", name.value)),
        p,
    );
    let health = health.and_then(|mut h| health_probe(&mut h, &name.value, p));
    let rds = f.opt("rds", |n| Ok(*n), p);
    let rds = rds.and_then(|node| rds_instances(&node, &name.value, p));
    let aurora = f.opt("aurora", |n| Ok(*n), p);
    let aurora = aurora.and_then(|node| aurora_global(&node, &name.value, p));
    f.finish(p);
    Some(Service {
        name,
        tier: tier?,
        depends_on,
        regions: regions?,
        estimate,
        activate,
        restore,
        deactivate,
        resync,
        backup,
        health,
        rds,
        aurora,
    })
}

/// `aurora = { global_cluster = "id", clusters = { REGION = "id" }, timeout }` of a
/// service.
fn aurora_global(node: &Node<'_, '_>, service: &str, p: &mut Problems) -> Option<AuroraGlobal> {
    let mut f = p.ok(node.table(format!("`aurora` of [services.{service}]")))?;
    let global_cluster = f.req("global_cluster", Node::string, p);
    let clusters = region_strings(
        &mut f,
        "clusters",
        format!("`aurora.clusters` of [services.{service}]"),
        p,
    );
    let timeout = f.opt("timeout", Node::duration, p);
    f.finish(p);
    Some(AuroraGlobal {
        global_cluster: global_cluster?.value,
        clusters: clusters?,
        timeout: timeout.map_or(DEFAULT_AURORA_TIMEOUT, |t| t.value),
        span: node.span(),
    })
}

/// `rds = { instances = { REGION = "id" }, timeout }` of a service.
fn rds_instances(node: &Node<'_, '_>, service: &str, p: &mut Problems) -> Option<RdsInstances> {
    let mut f = p.ok(node.table(format!("`rds` of [services.{service}]")))?;
    let instances = region_strings(
        &mut f,
        "instances",
        format!("`rds.instances` of [services.{service}]"),
        p,
    );
    let timeout = f.opt("timeout", Node::duration, p);
    f.finish(p);
    Some(RdsInstances {
        instances: instances?,
        timeout: timeout.map_or(DEFAULT_RDS_TIMEOUT, |t| t.value),
        span: node.span(),
    })
}

/// A lifecycle command `key` of a service: an argument vector, or
/// `{ command, estimate, timeout }` (`activate` and `restore` take the service's
/// estimate, and no `estimate` of their own).
fn lifecycle(
    f: &mut Fields<'_, '_>,
    key: &'static str,
    service: &str,
    p: &mut Problems,
) -> Option<Lifecycle> {
    let node = f.opt(key, |n| Ok(*n), p)?;
    if node.array().is_ok() {
        return p.ok(command(&node)).map(|command| Lifecycle {
            command,
            estimate: None,
            timeout: DEFAULT_LIFECYCLE_TIMEOUT,
            retries: None,
        });
    }
    let mut table = p.ok(node.table(format!("`{key}` of [services.{service}]")))?;
    let argv = table.req("command", command, p);
    let own_estimate = !matches!(key, "activate" | "restore");
    let estimate = own_estimate
        .then(|| table.opt("estimate", Node::duration, p))
        .flatten();
    let timeout = table.opt("timeout", Node::duration, p);
    let retries = (key == "activate")
        .then(|| table.opt("retries", retries, p))
        .flatten();
    table.finish(p);
    Some(Lifecycle {
        command: argv?,
        estimate: estimate.map(|d| d.value),
        timeout: timeout.map_or(DEFAULT_LIFECYCLE_TIMEOUT, |d| d.value),
        retries,
    })
}

fn tier(node: &Node<'_, '_>) -> Result<Located<u32>, Problem> {
    let tier = node.unsigned::<u32>()?;
    if tier.value == 0 {
        return Err(node.invalid(
            "tiers start at 1",
            "use tier = 1 for what is restored first",
        ));
    }
    Ok(tier)
}

fn health_probe(f: &mut Fields<'_, '_>, service: &str, p: &mut Problems) -> Option<HealthProbe> {
    let url = f.opt("url", templated, p);
    let argv = f.opt("command", command, p);
    let expect = f.opt("expect", status_code, p);
    let max_latency = f.opt("max_latency", Node::duration, p).map(|d| d.value);
    let timeout = f
        .opt("timeout", Node::duration, p)
        .map_or(HealthProbe::DEFAULT_TIMEOUT, |d| d.value);
    let attempts = f
        .opt("attempts", Node::unsigned::<u32>, p)
        .map_or(HealthProbe::DEFAULT_ATTEMPTS, |a| a.value.max(1));
    let interval = f
        .opt("interval", Node::duration, p)
        .map_or(HealthProbe::DEFAULT_INTERVAL, |d| d.value);
    let until = f.opt("until", |n| Ok(*n), p);
    let until = until.and_then(|node| {
        let table = format!("`health.until` of [services.{service}]");
        until_condition(&node, table, p)
    });
    let check = match (url, argv) {
        (Some(url), None) => Some(HealthCheck::Http {
            url,
            expect: expect.unwrap_or(200),
            max_latency,
        }),
        (None, Some(argv)) => Some(HealthCheck::Command { argv }),
        _ => {
            p.list.extend(exactly_one(f, &["url", "command"]));
            None
        }
    };
    f.finish(p);
    Some(HealthProbe {
        check: check?,
        timeout,
        attempts,
        interval,
        until,
    })
}

fn record(key: Located<String>, node: Node<'_, '_>, p: &mut Problems) -> Option<DnsRecord> {
    let mut f = p.ok(node.table(format!("[dns.{}]", key.value)))?;
    let zone = f.req("zone", Node::string, p);
    let zone_id = f.opt("zone_id", Node::string, p).map(|z| z.value);
    let name = f.req("name", Node::string, p);
    let record_type = f.req(
        "type",
        |n| one_of(n, &["A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA"]),
        p,
    );
    let ttl = f.opt("ttl", Node::unsigned::<u32>, p).map(|t| t.value);
    let switchover_ttl = f.opt("switchover_ttl", Node::duration, p);
    let follows = f.req("follows", Node::string, p);
    let alias = f.opt(
        "alias",
        |n| n.table(format!("`alias` of [dns.{}]", key.value)),
        p,
    );
    let alias = alias.and_then(|mut a| alias_table(&mut a, p));
    let targets = f.req(
        "targets",
        |n| n.table(format!("`targets` of [dns.{}]", key.value)),
        p,
    );
    let targets = targets.map(|mut t| {
        let entries = t.entries();
        let targets = entries
            .into_iter()
            .filter_map(|(region, value)| Some((region, p.ok(value.string())?.value)));
        targets.collect::<Vec<_>>()
    });
    let weights = f
        .opt(
            "weights",
            |n| n.table(format!("`weights` of [dns.{}]", key.value)),
            p,
        )
        .map(|mut t| {
            t.entries()
                .into_iter()
                .filter_map(|(region, value)| Some((region, p.ok(value.unsigned::<u8>())?.value)))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let routing = f
        .opt(
            "routing",
            |n| {
                let span = n.string()?.span;
                let routing = match one_of(n, &["weighted", "failover"])?.as_str() {
                    "failover" => Routing::Failover,
                    _ => Routing::Weighted,
                };
                Ok(Located::new(routing, span))
            },
            p,
        )
        .unwrap_or_else(|| Located::new(Routing::Weighted, key.span.clone()));
    f.finish(p);
    Some(DnsRecord {
        key,
        zone: zone?.value,
        zone_id,
        name: name?.value,
        record_type: record_type?,
        ttl,
        switchover_ttl,
        follows: follows?,
        alias,
        targets: targets?,
        weights,
        routing,
    })
}

fn alias_table(f: &mut Fields<'_, '_>, p: &mut Problems) -> Option<Alias> {
    let zone_id = f.req("zone_id", Node::string, p);
    let evaluate_health = f.opt("evaluate_health", Node::boolean, p).unwrap_or(false);
    f.finish(p);
    Some(Alias {
        zone_id: zone_id?.value,
        evaluate_health,
    })
}

fn data_set(name: Located<String>, node: Node<'_, '_>, p: &mut Problems) -> Option<DataSet> {
    let mut f = p.ok(node.table(format!("[data.{}]", name.value)))?;
    let service = f.req("service", Node::string, p);
    let priority = f
        .opt("priority", Node::string, p)
        .map_or_else(|| "P2".to_string(), |v| v.value);
    let rpo = f.req("rpo", Node::duration, p);
    let method = f.req("method", |n| one_of(n, &DataMethod::NAMES), p);
    let backups = f.opt("backups", backup_location, p);
    let lag = f.opt(
        "lag",
        |n| n.table(format!("`lag` of [data.{}]", name.value)),
        p,
    );
    let lag = lag.and_then(|mut lag| lag_probe(&mut lag, &name.value, p));
    f.finish(p);
    let method = DataMethod::parse(&method?)?;
    if method != DataMethod::Replicate && lag.is_some() {
        p.push(
            Problem::new(
                ProblemKind::InvalidValue,
                format!(
                    "data set `{}` declares a `lag` probe but is not replicated",
                    name.value
                ),
                name.span.clone(),
                "method is not \"replicate\"",
            )
            .help("only method = \"replicate\" data sets have a replication lag; remove `lag`"),
        );
    }
    if method == DataMethod::Restore && backups.is_none() {
        p.push(
            Problem::new(
                ProblemKind::RestoreWithoutBackups,
                format!("data set `{}` is restored but declares no backups", name.value),
                name.span.clone(),
                "method = \"restore\" needs `backups`",
            )
            .help("add backups = \"s3://bucket/prefix/\" where its backups are written, or choose another method"),
        );
    }
    Some(DataSet {
        name,
        service: service?,
        priority,
        rpo: rpo?.value,
        method,
        backups,
        lag,
    })
}

fn lag_probe(f: &mut Fields<'_, '_>, data: &str, p: &mut Problems) -> Option<LagProbe> {
    let url = f.opt("url", templated, p);
    let argv = f.opt("command", command, p);
    let json = f.opt("json", json_pointer, p);
    let regex = f.opt("regex", regex, p);
    let unit = f.opt("unit", |n| one_of(n, &LagProbe::UNITS), p);
    let timeout = f
        .opt("timeout", Node::duration, p)
        .map_or(HealthProbe::DEFAULT_TIMEOUT, |d| d.value);
    let until = f.opt("until", |n| Ok(*n), p).and_then(|node| {
        let table = format!("`lag.until` of [data.{data}]");
        until_condition(&node, table, p)
    });
    let source = match (url, argv) {
        (Some(url), None) => Some(LagSource::Url(url)),
        (None, Some(argv)) => Some(LagSource::Command(argv)),
        _ => {
            p.list.extend(exactly_one(f, &["url", "command"]));
            None
        }
    };
    let extract = match (json, regex) {
        (Some(pointer), None) => Some(Extract::Json(pointer)),
        (None, Some(pattern)) => Some(Extract::Regex(pattern)),
        (None, None) => Some(Extract::Whole),
        (Some(_), Some(_)) => {
            p.list.extend(exactly_one(f, &["json", "regex"]));
            None
        }
    };
    f.finish(p);
    Some(LagProbe {
        source: source?,
        extract: extract?,
        unit: unit.map_or(Some(Duration::from_secs(1)), |u| LagProbe::unit(&u))?,
        timeout,
        until,
    })
}

/// `retries`: how many times a failed run is tried again, at most 10.
fn retries(node: &Node<'_, '_>) -> Result<u32, Problem> {
    let retries = node.unsigned::<u32>()?.value;
    if retries > MAX_RETRIES {
        return Err(node.invalid(
            &format!("at most {MAX_RETRIES} retries"),
            "retries back off from 1s, doubling up to 30s: write e.g. retries = 2",
        ));
    }
    Ok(retries)
}

/// The most `retries` a command may declare.
const MAX_RETRIES: u32 = 10;

/// `until = { json | regex, equals | below | above, timeout, interval }`: exactly one
/// of `equals`, `below`, `above`, or a `regex` alone (the output matches it).
fn until_condition(node: &Node<'_, '_>, table: String, p: &mut Problems) -> Option<Until> {
    let mut f = p.ok(node.table(table))?;
    let json = f.opt("json", json_pointer, p);
    let regex = f.opt("regex", regex, p);
    let equals = f.opt("equals", Node::string, p).map(|e| e.value);
    let below = f.opt("below", number, p);
    let above = f.opt("above", number, p);
    let timeout = f.opt("timeout", Node::duration, p);
    let interval = f.opt("interval", Node::duration, p);
    let extract = match (json, regex) {
        (Some(pointer), None) => Some(Extract::Json(pointer)),
        (None, Some(pattern)) => Some(Extract::Regex(pattern)),
        (None, None) => Some(Extract::Whole),
        (Some(_), Some(_)) => {
            p.list.extend(exactly_one(&f, &["json", "regex"]));
            None
        }
    };
    let condition = match (equals, below, above, &extract) {
        (Some(text), None, None, _) => Some(Condition::Equals(text)),
        (None, Some(limit), None, _) => Some(Condition::Below(limit)),
        (None, None, Some(limit), _) => Some(Condition::Above(limit)),
        (None, None, None, Some(Extract::Regex(_))) => Some(Condition::Matches),
        _ => {
            let compared = ["equals", "below", "above"];
            let keys: &[&str] = if compared.iter().any(|k| f.present(k)) {
                &compared
            } else {
                &["equals", "below", "above", "regex"]
            };
            p.list.extend(exactly_one(&f, keys));
            None
        }
    };
    f.finish(p);
    Some(Until {
        extract: extract?,
        condition: condition?,
        timeout: timeout.map_or(Until::DEFAULT_TIMEOUT, |t| t.value),
        interval: interval.map_or(Until::DEFAULT_INTERVAL, |i| i.value),
    })
}

/// A number to compare with (`below`, `above`): an integer or a decimal.
fn number(node: &Node<'_, '_>) -> Result<f64, Problem> {
    node.number().map(|n| n.value)
}

/// A JSON pointer (RFC 6901): empty, or starting with `/`.
fn json_pointer(node: &Node<'_, '_>) -> Result<String, Problem> {
    let pointer = node.string()?;
    if !pointer.value.is_empty() && !pointer.value.starts_with('/') {
        return Err(node.invalid(
            "a JSON pointer starts with `/`",
            "write e.g. json = \"/replication/lag_ms\"",
        ));
    }
    Ok(pointer.value)
}

/// A regular expression that compiles.
fn regex(node: &Node<'_, '_>) -> Result<String, Problem> {
    let pattern = node.string()?;
    match regex::Regex::new(&pattern.value) {
        Ok(_) => Ok(pattern.value),
        Err(error) => Err(node.invalid(
            &format!("not a regular expression: {error}"),
            "write e.g. regex = \"lag: ([0-9.]+)\"; the first group is the value",
        )),
    }
}

fn backup_location(node: &Node<'_, '_>) -> Result<BackupLocation, Problem> {
    let url = node.string()?;
    BackupLocation::parse(&url.value).ok_or_else(|| {
        node.invalid(
            "backups must be an s3:// location",
            "write backups = \"s3://bucket/prefix/\"",
        )
    })
}

fn scenario(name: Located<String>, node: Node<'_, '_>, p: &mut Problems) -> Option<Scenario> {
    p.ok(check_name(&name, "a scenario name"));
    let table = format!("[scenarios.{}]", name.value);
    let mut f = p.ok(node.table(table.clone()))?;
    let severity = f
        .opt("severity", Node::string, p)
        .map_or_else(|| "SEV-2".to_string(), |s| s.value);
    let strategy = f.req("strategy", |n| one_of(n, &Strategy::NAMES), p);
    let to = f.opt("to", Node::string, p);
    let approval = f.opt("approval", Node::string, p);
    let approvers = f.opt("approvers", non_empty_strings, p);
    if let (Some(approvers), false) = (
        &approvers,
        approval.as_ref().is_some_and(|a| a.value == "manual"),
    ) {
        let span = approvers
            .first()
            .map_or(name.span.clone(), |a| a.span.clone());
        let problem = Problem::new(
            ProblemKind::InvalidValue,
            "`approvers` applies to scenarios with approval = \"manual\"",
            span,
            "no phase waits for them",
        );
        p.push(problem.help("set approval = \"manual\", or remove `approvers`"));
    }
    let services = f.opt("services", non_empty_strings, p);
    let page = f.opt(
        "maintenance_page",
        |n| n.table(format!("`maintenance_page` of {table}")),
        p,
    );
    let maintenance_page = page.and_then(|mut page| maintenance_page(&mut page, p));
    let steps = f.opt("steps", Node::array, p).unwrap_or_default();
    let steps = steps
        .iter()
        .enumerate()
        .filter_map(|(i, node)| scenario_step(&name.value, i, node, p))
        .collect();
    let strategy = match (strategy.as_deref(), to) {
        (Some("failover"), Some(to)) => Some(Strategy::Failover { to }),
        (Some("switchover"), Some(to)) => Some(Strategy::Switchover { to }),
        (Some("failover" | "switchover"), None) => p.ok(f.required("to").map(|_| Strategy::Custom)),
        (Some(_), Some(to)) => {
            let problem = Problem::new(
                ProblemKind::InvalidValue,
                "`to` only applies to failover and switchover scenarios",
                to.span,
                "not a failover",
            );
            p.push(problem.help("remove `to`, or set strategy = \"failover\""));
            None
        }
        (Some("restore"), None) => Some(Strategy::Restore),
        (Some(_), None) => Some(Strategy::Custom),
        (None, _) => None,
    };
    f.finish(p);
    Some(Scenario {
        name,
        severity,
        strategy: strategy?,
        approval: approval.map(|a| a.value),
        approvers: approvers
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.value)
            .collect(),
        services,
        maintenance_page,
        steps,
    })
}

fn maintenance_page(f: &mut Fields<'_, '_>, p: &mut Problems) -> Option<MaintenancePage> {
    let bucket = f.req("bucket", Node::string, p);
    let key = f.req("key", Node::string, p);
    let file = f.req("file", Node::string, p);
    f.finish(p);
    Some(MaintenancePage {
        bucket: bucket?,
        key: key?.value,
        file: file?.value,
    })
}

fn scenario_step(
    scenario: &str,
    index: usize,
    node: &Node<'_, '_>,
    p: &mut Problems,
) -> Option<ScenarioStep> {
    let mut f = p.ok(node.table(format!("step {} of [scenarios.{scenario}]", index + 1)))?;
    let phase = f.req("phase", |n| one_of(n, &Phase::ALL.map(Phase::name)), p);
    let name = f.req("name", Node::string, p);
    let run = f.opt("run", command, p);
    let manual = f.opt("manual", Node::string, p);
    let estimate = f.opt("estimate", Node::duration, p).map(|d| d.value);
    let timeout = f.opt("timeout", Node::duration, p);
    let best_effort = f.opt(
        "best_effort",
        |n| Ok(Located::new(n.boolean()?, n.span())),
        p,
    );
    let until_node = f.opt("until", |n| Ok(*n), p);
    let until = until_node.and_then(|node| {
        let table = format!("`until` of step {} of [scenarios.{scenario}]", index + 1);
        until_condition(&node, table, p)
    });
    if manual.is_some() {
        p.list
            .extend(run_only(until_node.as_ref().map(Node::span), "until"));
        p.list.extend(run_only(
            timeout.as_ref().map(|t| t.span.clone()),
            "timeout",
        ));
        p.list.extend(run_only(
            best_effort.as_ref().map(|b| b.span.clone()),
            "best_effort",
        ));
    }
    let action = match (run, manual) {
        (Some(argv), None) => Some(ScenarioStepAction::Run(argv)),
        (None, Some(text)) => Some(ScenarioStepAction::Manual(text.value)),
        _ => {
            p.list.extend(exactly_one(&f, &["run", "manual"]));
            None
        }
    };
    f.finish(p);
    Some(ScenarioStep {
        phase: Phase::parse(&phase?)?,
        name: name?.value,
        action: action?,
        estimate,
        timeout: timeout.map(|t| t.value),
        best_effort: best_effort.is_some_and(|b| b.value),
        until,
    })
}

/// The problem of a `run`-only key (`timeout`, `best_effort`) on a manual step.
fn run_only(span: Option<crate::error::Span>, key: &str) -> Option<Problem> {
    let problem = Problem::new(
        ProblemKind::InvalidValue,
        format!("`{key}` applies to `run` steps only"),
        span?,
        "a manual step waits for a person",
    );
    Some(problem.help(format!(
        "remove `{key}` from the manual step, or give it `run`"
    )))
}

fn trigger(name: Located<String>, node: Node<'_, '_>, p: &mut Problems) -> Option<Trigger> {
    p.ok(check_name(&name, "a trigger name"));
    let mut f = p.ok(node.table(format!("[triggers.{}]", name.value)))?;
    let scenario = f.req("scenario", Node::string, p);
    let when = f.req("when", |n| one_of(n, &["health", "error-rate", "alarm"]), p);
    let threshold = f.opt("threshold", Node::number, p);
    let probe = f.opt(
        "probe",
        |n| n.table(format!("`probe` of [triggers.{}]", name.value)),
        p,
    );
    let services = f.opt("services", non_empty_strings, p);
    let duration = f.req("for", Node::duration, p);
    let interval = f
        .opt("interval", Node::duration, p)
        .map_or(DEFAULT_TRIGGER_INTERVAL, |d| d.value);
    let automatic = f.opt("automatic", Node::boolean, p).unwrap_or(false);
    let failback = f.opt("failback", |n| one_of(n, &["auto", "manual"]), p);
    let kind = match (when.as_deref(), threshold) {
        (Some("error-rate"), Some(threshold)) => Some(TriggerKind::ErrorRate {
            threshold: threshold.value,
            probe: probe.and_then(|mut probe| error_rate_probe(&mut probe, p)),
        }),
        (Some("error-rate"), None) => p.ok(f.required("threshold").map(|_| TriggerKind::Health)),
        (Some("alarm"), _) => match probe {
            Some(mut probe) => alarm_probe(&mut probe, p).map(TriggerKind::Alarm),
            None => p.ok(f
                .required("probe")
                .map(|_| TriggerKind::Health)
                .map_err(|missing| {
                    missing.help("add probe = { alarm = \"NAME\", region = \"us-east-1\" }")
                })),
        },
        (Some(_), _) => {
            if let Some(probe) = probe {
                p.push(
                    Problem::new(
                        ProblemKind::InvalidValue,
                        "a health trigger reads the services' own health probes",
                        probe.span(),
                        "not read",
                    )
                    .help("remove `probe`, or set when = \"error-rate\" or \"alarm\""),
                );
            }
            Some(TriggerKind::Health)
        }
        (None, _) => None,
    };
    f.finish(p);
    Some(Trigger {
        name,
        scenario: scenario?,
        kind: kind?,
        services,
        duration: duration?.value,
        interval,
        automatic,
        failback: if failback.as_deref() == Some("auto") {
            FailbackMode::Auto
        } else {
            FailbackMode::Manual
        },
    })
}

/// `probe = { alarm, region }` of an alarm trigger.
fn alarm_probe(f: &mut Fields<'_, '_>, p: &mut Problems) -> Option<AlarmProbe> {
    let name = f.req("alarm", Node::string, p);
    let region = f.opt("region", Node::string, p).map(|r| r.value);
    f.finish(p);
    Some(AlarmProbe {
        name: name?.value,
        region,
    })
}

fn error_rate_probe(f: &mut Fields<'_, '_>, p: &mut Problems) -> Option<ErrorRateProbe> {
    let url = f.opt("url", templated, p);
    let argv = f.opt("command", command, p);
    let probe = match (url, argv) {
        (Some(url), None) => Some(ErrorRateProbe::Url(url)),
        (None, Some(argv)) => Some(ErrorRateProbe::Command(argv)),
        _ => {
            p.list.extend(exactly_one(f, &["url", "command"]));
            None
        }
    };
    f.finish(p);
    probe
}

fn notification(index: usize, node: Node<'_, '_>, p: &mut Problems) -> Option<Notification> {
    let mut f = p.ok(node.table(format!("[[notify]] entry {}", index + 1)))?;
    let after = f
        .opt("after", Node::duration, p)
        .map_or(Duration::ZERO, |d| d.value);
    let to = f.req("to", Node::string, p);
    let via = f.req("via", |n| one_of(n, &["webhook", "command"]), p);
    let url = f.opt("url", templated, p);
    let argv = f.opt("command", command, p);
    let template = f
        .opt("template", Node::string, p)
        .map_or_else(|| "internal-alert".to_string(), |t| t.value);
    let via = match (via?.as_str(), url, argv) {
        ("webhook", Some(url), None) => Some(NotifyVia::Webhook { url }),
        ("command", None, Some(argv)) => Some(NotifyVia::Command(argv)),
        ("webhook", ..) => {
            p.list.extend(exactly_one(&f, &["url"]));
            None
        }
        _ => {
            p.list.extend(exactly_one(&f, &["command"]));
            None
        }
    };
    f.finish(p);
    Some(Notification {
        after,
        to: to?.value,
        via: via?,
        template,
    })
}

fn check(index: usize, node: Node<'_, '_>, p: &mut Problems) -> Option<Check> {
    let mut f = p.ok(node.table(format!("[[checks]] entry {}", index + 1)))?;
    let name = f.req("name", Node::string, p);
    let url = f.opt("url", templated, p);
    let expect = f.opt("expect", status_code, p);
    let max_latency = f.opt("max_latency", Node::duration, p).map(|d| d.value);
    let dns = f.opt("dns", Node::string, p);
    let argv = f.opt("command", command, p);
    let timeout = f.opt("timeout", Node::duration, p).map(|d| d.value);
    let until_node = f.opt("until", |n| Ok(*n), p);
    let until = until_node.and_then(|node| {
        let table = format!("`until` of [[checks]] entry {}", index + 1);
        until_condition(&node, table, p)
    });
    let retries = f.opt("retries", retries, p);
    let kind = match (url, dns, argv) {
        (Some(url), None, None) => Some(CheckKind::Http {
            url,
            expect: expect.unwrap_or(200),
            max_latency,
        }),
        (None, Some(record), None) => Some(CheckKind::Dns { record }),
        (None, None, Some(argv)) => Some(CheckKind::Command(argv)),
        _ => {
            p.list.extend(exactly_one(&f, &["url", "dns", "command"]));
            None
        }
    };
    f.finish(p);
    if let (Some(node), Some(CheckKind::Dns { .. })) = (&until_node, &kind) {
        p.push(node.invalid(
            "`until` waits for a condition on what a check's URL answers or command prints; a `dns` check has no output",
            "wait on a `url` or `command` check instead, or remove `until`",
        ));
    }
    Some(Check {
        name: name?.value,
        kind: kind?,
        timeout,
        until,
        retries,
    })
}

fn drill(name: Located<String>, node: Node<'_, '_>, p: &mut Problems) -> Option<Drill> {
    p.ok(check_name(&name, "a drill name"));
    let mut f = p.ok(node.table(format!("[drills.{}]", name.value)))?;
    let scenario = f.req("scenario", Node::string, p);
    let every = f.req("every", Node::duration, p);
    f.finish(p);
    Some(Drill {
        name: name.value,
        scenario: scenario?,
        every: every?.value,
    })
}

/// Reads `[KIND.NAME]` tables.
fn named<T>(
    root: &mut Fields<'_, '_>,
    kind: &'static str,
    read: impl Fn(Located<String>, Node<'_, '_>, &mut Problems) -> Option<T>,
    p: &mut Problems,
) -> Vec<T> {
    let Some(mut table) = root.opt(kind, |n| n.table(format!("[{kind}]")), p) else {
        return Vec::new();
    };
    let mut decoded = Vec::new();
    for (name, node) in table.entries() {
        let key = format!("{kind}.{}", name.value);
        match read(name, node, p) {
            Some(item) => decoded.push(item),
            None => {
                p.broken.insert(key);
            }
        }
    }
    decoded
}

/// Reads `[[KIND]]` arrays of tables.
fn listed<T>(
    root: &mut Fields<'_, '_>,
    kind: &'static str,
    read: impl Fn(usize, Node<'_, '_>, &mut Problems) -> Option<T>,
    p: &mut Problems,
) -> Vec<T> {
    let items = root.opt(kind, Node::array, p).unwrap_or_default();
    items
        .into_iter()
        .enumerate()
        .filter_map(|(i, node)| read(i, node, p))
        .collect()
}

/// A string that must be one of `choices`.
fn one_of(node: &Node<'_, '_>, choices: &[&str]) -> Result<String, Problem> {
    let text = node.string()?;
    if choices.contains(&text.value.as_str()) {
        return Ok(text.value);
    }
    let quoted: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
    let help = match crate::suggest::did_you_mean(&text.value, choices.iter().copied()) {
        Some(close) => format!("did you mean \"{close}\"?"),
        None => format!("use one of {}", quoted.join(", ")),
    };
    Err(Problem::new(
        ProblemKind::InvalidValue,
        format!("`{}` is not one of {}", text.value, quoted.join(", ")),
        text.span,
        "not allowed here",
    )
    .help(help))
}

/// The longest name that becomes part of a file name (environment, scenario, drill,
/// trigger, watcher).
const MAX_NAME: usize = 64;

/// A name usable in file names and step ids.
pub(super) fn identifier(node: &Node<'_, '_>, what: &str) -> Result<Located<String>, Problem> {
    let text = node.string()?;
    check_name(&text, what)?;
    Ok(text)
}

/// Checks that `name` (a value or a table key) is usable as `what`: it also becomes
/// part of file names, so it is short and made of letters, digits, `-` and `_`.
fn check_name(name: &Located<String>, what: &str) -> Result<(), Problem> {
    let text = &name.value;
    let help = if text.is_empty()
        || !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        "use ASCII letters (a-z, A-Z), digits, `-` and `_` only: the name is also a file name"
            .to_string()
    } else if text.len() > MAX_NAME {
        format!("use at most {MAX_NAME} characters: the name is also a file name")
    } else {
        return Ok(());
    };
    let shown: String = text.chars().take(40).collect();
    let more = if shown.len() < text.len() { "…" } else { "" };
    Err(Problem::new(
        ProblemKind::InvalidValue,
        format!("`{}{more}` is not usable as {what}", shown.escape_debug()),
        name.span.clone(),
        "here",
    )
    .help(help))
}

fn non_empty_strings(node: &Node<'_, '_>) -> Result<Vec<Located<String>>, Problem> {
    let strings = node.strings()?;
    if strings.is_empty() {
        return Err(node.invalid("this list is empty", "name at least one"));
    }
    Ok(strings)
}

fn status_code(node: &Node<'_, '_>) -> Result<u16, Problem> {
    let code = node.unsigned::<u16>()?;
    if !(100..=599).contains(&code.value) {
        return Err(node.invalid(
            "not an HTTP status code",
            "use a status between 100 and 599, such as 200",
        ));
    }
    Ok(code.value)
}

/// An argument vector of templates.
fn command(node: &Node<'_, '_>) -> Result<Command, Problem> {
    node.argv()?;
    node.array()?
        .iter()
        .map(templated)
        .collect::<Result<_, _>>()
        .map(Command)
}

/// A string parsed as a template.
fn templated(node: &Node<'_, '_>) -> Result<Template, Problem> {
    let text = node.string()?;
    Template::parse(&text.value, text.span.clone()).map_err(|error| {
        Problem::new(
            ProblemKind::UnknownPlaceholder,
            error.message,
            text.span,
            "in this text",
        )
        .help(error.help)
    })
}

/// The problem of a table needing exactly one of `keys`, unless exactly one is
/// written (then its value was wrong, and that is already reported).
fn exactly_one(f: &Fields<'_, '_>, keys: &[&str]) -> Option<Problem> {
    if keys.iter().filter(|k| f.present(k)).count() == 1 {
        return None;
    }
    let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    let (message, help) = if keys.len() == 1 {
        (
            format!("{} needs {}", f.name(), keys[0]),
            format!("add {} to {}", keys[0], f.name()),
        )
    } else {
        (
            format!("{} needs exactly one of {}", f.name(), keys.join(", ")),
            format!("keep one of {}", keys.join(", ")),
        )
    };
    Some(
        Problem::new(
            ProblemKind::MissingField,
            message,
            f.span(),
            "in this table",
        )
        .help(help),
    )
}
