//! The validation checklist: each `[[checks]]` entry run against the providers (an
//! HTTP status and latency, a DNS record pointing at the active region, a command).
//! `drplan verify` runs it alone; `apply` ends with it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::until::verdict;
use crate::model::{
    Check, CheckKind, DnsRecord, Environment, HealthProbe, RecordSet, weighted_sets,
};
use crate::providers::sim::describe_weights;
use crate::providers::{ProbeResult, Runtime};

/// One item of the checklist, run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOutcome {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// Runs every check of the checklist, in order; a check that cannot run fails.
/// `region` is the region active (`{region}` and `{to}` of the checks).
pub async fn checklist(env: &Environment, runtime: &Runtime, region: &str) -> Vec<CheckOutcome> {
    let context = env.context(Some(region)).to(region);
    let mut outcomes = Vec::new();
    for check in &env.checks {
        let (passed, detail) = match run_check(env, runtime, &check.render(&context)).await {
            Ok(result) => (result.healthy, result.detail),
            Err(error) => (false, error.to_string()),
        };
        outcomes.push(CheckOutcome {
            name: check.name.clone(),
            passed,
            detail,
        });
    }
    outcomes
}

/// Runs one check, rendered.
pub async fn run_check(
    env: &Environment,
    runtime: &Runtime,
    check: &Check,
) -> Result<ProbeResult, Error> {
    match &check.kind {
        CheckKind::Http {
            url,
            expect,
            max_latency,
        } => {
            let (url, timeout) = (
                url.to_string(),
                check.timeout.unwrap_or(HealthProbe::DEFAULT_TIMEOUT),
            );
            let answered = runtime
                .services
                .check_url(&url, *expect, *max_latency, timeout)
                .await?;
            match &check.until {
                Some(until) if answered.healthy => {
                    let (healthy, detail) = match runtime.services.read_url(&url, timeout).await {
                        Ok(body) => {
                            let probe = format!("check:{}", check.name);
                            let seen = runtime.services.until_output(&probe, body).await?;
                            verdict(until, seen.as_deref())
                        }
                        Err(error) => (false, error.to_string()),
                    };
                    Ok(ProbeResult {
                        healthy,
                        detail,
                        latency: answered.latency,
                    })
                }
                _ => Ok(answered),
            }
        }
        CheckKind::Command(argv) => {
            let (healthy, detail) = match runtime.services.run(&argv.argv(), check.timeout).await {
                Ok(output) => match &check.until {
                    None => (true, output.log),
                    Some(until) => {
                        let probe = format!("check:{}", check.name);
                        let seen = runtime.services.until_output(&probe, output.log).await?;
                        verdict(until, seen.as_deref())
                    }
                },
                Err(error) => (false, error.to_string()),
            };
            Ok(ProbeResult {
                healthy,
                detail,
                latency: Duration::ZERO,
            })
        }
        CheckKind::Dns { record } => dns_points_at_active_region(env, runtime, &record.value).await,
    }
}

/// A DNS check passes when the record routes where its service serves: an
/// active-passive record to exactly one region, where the service is active; an
/// active-active one (with `weights`) with the shares it should have while the service
/// is active where it is (the sim world knows placement; real services are probed in
/// every region routed to).
async fn dns_points_at_active_region(
    env: &Environment,
    runtime: &Runtime,
    key: &str,
) -> Result<ProbeResult, Error> {
    let Some(record) = env.record(key) else {
        return Ok(dns_result(false, format!("no DNS record `{key}`")));
    };
    let sets = runtime.dns.read(std::slice::from_ref(record)).await?;
    let sets = sets.get(key).cloned().unwrap_or_default();
    let routed: Vec<&str> = sets
        .iter()
        .filter(|s| s.weight > 0)
        .map(|s| s.region.as_str())
        .collect();
    if !record.weights.is_empty() {
        return shares_as_declared(env, runtime, record, &sets, &routed).await;
    }
    let [region] = routed.as_slice() else {
        return Ok(dns_result(
            false,
            format!(
                "{} routes to {} regions, not one",
                record.name,
                routed.len()
            ),
        ));
    };
    let service = &record.follows.value;
    let active = serves(env, runtime, service, region).await?;
    let verdict = if active {
        "active there"
    } else {
        "NOT active there"
    };
    Ok(dns_result(
        active,
        format!("{} routes to {region}; {service} is {verdict}", record.name),
    ))
}

/// An active-active record: its shares are the declared ones for where its service is
/// active, or (where placement is unknown) the service answers in every region routed.
async fn shares_as_declared(
    env: &Environment,
    runtime: &Runtime,
    record: &DnsRecord,
    sets: &[RecordSet],
    routed: &[&str],
) -> Result<ProbeResult, Error> {
    let service = &record.follows.value;
    let shares = describe_weights(sets);
    if let Some(active) = runtime.services.placement(service).await? {
        let expected = weighted_sets(record, &env.home.value, &active);
        let as_declared = expected
            .iter()
            .map(|s| (&s.region, s.weight))
            .eq(sets.iter().map(|s| (&s.region, s.weight)));
        let detail = if as_declared {
            format!(
                "{} routes {shares}, as declared while {service} is active in {active}",
                record.name
            )
        } else {
            format!(
                "{} routes {shares}, NOT {} as declared while {service} is active in {active}",
                record.name,
                describe_weights(&expected)
            )
        };
        return Ok(dns_result(as_declared, detail));
    }
    for region in routed {
        if !serves(env, runtime, service, region).await? {
            return Ok(dns_result(
                false,
                format!(
                    "{} routes {shares}; {service} does NOT answer in {region}",
                    record.name
                ),
            ));
        }
    }
    Ok(dns_result(
        !routed.is_empty(),
        format!("{} routes {shares}; {service} answers in each", record.name),
    ))
}

/// Whether `service` serves from `region`: active there (on the sim world), or its
/// health probe passes there.
async fn serves(
    env: &Environment,
    runtime: &Runtime,
    service: &str,
    region: &str,
) -> Result<bool, Error> {
    if let Some(active) = runtime.services.placement(service).await? {
        return Ok(active == region);
    }
    let probe = env.service(service).and_then(|s| s.health.as_ref());
    let context = env.context(Some(region)).service(service);
    let probe = probe.map(|p| p.render(&context));
    Ok(runtime
        .services
        .probe(service, region, probe.as_ref())
        .await?
        .healthy)
}

fn dns_result(healthy: bool, detail: String) -> ProbeResult {
    ProbeResult {
        healthy,
        detail,
        latency: Duration::ZERO,
    }
}
