//! Records with `routing = "failover"`: a Route 53 PRIMARY (home's set) and SECONDARY
//! pair. They need exactly two targets, one of them home; they carry no `weights` (all
//! traffic goes to one set); and only Route 53 (or the sim standing in for it) has
//! failover record sets.

use super::{DnsRecord, Environment, ProviderKind};
use crate::error::{Problem, ProblemKind};
use crate::problems::Problems;

/// Records every problem of a failover-routed `record` in `env`.
pub fn check(env: &Environment, record: &DnsRecord, p: &mut Problems) {
    if !record.is_failover() {
        return;
    }
    let table = format!("[dns.{}]", record.key.value);
    let routing = record.routing.span.clone();
    let invalid = |message: String, help: String| {
        Problem::new(
            ProblemKind::InvalidValue,
            message,
            routing.clone(),
            "failover routing",
        )
        .help(help)
    };
    if let Some(provider) = match env.providers.dns {
        ProviderKind::Arc => Some("arc"),
        ProviderKind::Command => Some("command"),
        _ => None,
    } {
        p.push(invalid(
            format!("{table} has failover routing, which only Route 53 record sets have; dns = \"{provider}\" moves records its own way"),
            "remove `routing` (the provider moves the whole record), or move this record with dns = \"route53\"".to_string(),
        ));
    }
    if record.targets.len() != 2 {
        p.push(invalid(
            format!(
                "{table} has failover routing and {} target(s); a failover record has exactly two, its PRIMARY and its SECONDARY",
                record.targets.len()
            ),
            "declare two targets (home's is the PRIMARY), or use routing = \"weighted\" for more regions".to_string(),
        ));
    }
    if record.target(&env.home.value).is_none() {
        p.push(invalid(
            format!(
                "{table} has failover routing but no target in home ({}), whose set is its PRIMARY",
                env.home.value
            ),
            format!("add a target for {} (the PRIMARY)", env.home.value),
        ));
    }
    if let Some((region, _)) = record.weights.first() {
        p.push(
            Problem::new(
                ProblemKind::InvalidValue,
                format!("`weights` of {table} cannot be kept by failover routing, which sends all traffic to the PRIMARY or to the SECONDARY"),
                region.span.clone(),
                "a share of traffic",
            )
            .label(routing.clone(), "failover routing")
            .help("remove `weights`, or use routing = \"weighted\" for an active-active record"),
        );
    }
}
