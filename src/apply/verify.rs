//! The validation checklist: each `[[checks]]` entry run against the providers (an
//! HTTP status and latency, a DNS record pointing at the active region, a command).
//! `drplan verify` runs it alone; `apply` ends with it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::until::verdict;
use crate::model::{Check, CheckKind, Environment, HealthProbe};
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
            let timeout = check.timeout.unwrap_or(HealthProbe::DEFAULT_TIMEOUT);
            runtime
                .services
                .check_url(&url.to_string(), *expect, *max_latency, timeout)
                .await
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

/// A DNS check passes when the record routes to exactly one region and its service is
/// active there (the sim world knows placement; real services are probed there).
async fn dns_points_at_active_region(
    env: &Environment,
    runtime: &Runtime,
    key: &str,
) -> Result<ProbeResult, Error> {
    let result = |healthy: bool, detail: String| ProbeResult {
        healthy,
        detail,
        latency: Duration::ZERO,
    };
    let Some(record) = env.record(key) else {
        return Ok(result(false, format!("no DNS record `{key}`")));
    };
    let sets = runtime.dns.read(std::slice::from_ref(record)).await?;
    let routed: Vec<&str> = sets
        .get(key)
        .map(|sets| {
            sets.iter()
                .filter(|s| s.weight > 0)
                .map(|s| s.region.as_str())
                .collect()
        })
        .unwrap_or_default();
    let [region] = routed.as_slice() else {
        return Ok(result(
            false,
            format!(
                "{} routes to {} regions, not one",
                record.name,
                routed.len()
            ),
        ));
    };
    let service = &record.follows.value;
    let active = if let Some(active) = runtime.services.placement(service).await? {
        active == *region
    } else {
        let probe = env.service(service).and_then(|s| s.health.as_ref());
        let context = env.context(Some(region)).service(service);
        let probe = probe.map(|p| p.render(&context));
        runtime
            .services
            .probe(service, region, probe.as_ref())
            .await?
            .healthy
    };
    let verdict = if active {
        "active there"
    } else {
        "NOT active there"
    };
    Ok(result(
        active,
        format!("{} routes to {region}; {service} is {verdict}", record.name),
    ))
}
