//! DNS records: one weighted record set per target region, following a service.
//! Active-passive by default (the region serving at 100, the others at 0); with
//! `weights`, active-active: the declared shares while home serves, and home's share
//! moved off it while another region serves in its place. With `routing = "failover"`,
//! a Route 53 PRIMARY/SECONDARY pair (home's set is the PRIMARY) read as weights: the
//! region Route 53 answers with at 100, the other at 0.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Located;

/// The TTL used when a record declares none.
pub const DEFAULT_TTL: u32 = 60;

/// A DNS name that moves with a service.
#[derive(Debug, Clone)]
pub struct DnsRecord {
    /// The key under `[dns]`.
    pub key: Located<String>,
    pub zone: String,
    pub zone_id: Option<String>,
    pub name: String,
    pub record_type: String,
    pub ttl: Option<u32>,
    /// The TTL a switchover lowers the record to first, waiting the old one out, so
    /// that the switch takes effect within it (`validate` keeps it whole seconds,
    /// below `ttl`, on a plain record).
    pub switchover_ttl: Option<Located<Duration>>,
    pub follows: Located<String>,
    pub alias: Option<Alias>,
    /// Region → value (hostname, address, or alias target), in the order written.
    pub targets: Vec<(Located<String>, String)>,
    /// Region → nominal weight, for an active-active record (empty: active-passive).
    pub weights: Vec<(Located<String>, u8)>,
    /// How Route 53 routes the record: weighted (the default, spanning the key) or
    /// failover.
    pub routing: Located<Routing>,
}

/// `routing` of a `[dns]` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// One weighted record set per target.
    Weighted,
    /// A PRIMARY (home's set, with a health check) and a SECONDARY record set, moved by
    /// overriding the PRIMARY's health check.
    Failover,
}

impl DnsRecord {
    pub fn ttl(&self) -> u32 {
        self.ttl.unwrap_or(DEFAULT_TTL)
    }

    /// The declared `switchover_ttl` in seconds.
    pub fn switchover_ttl(&self) -> Option<u32> {
        let lowered = self.switchover_ttl.as_ref()?.value.as_secs();
        Some(u32::try_from(lowered).unwrap_or(u32::MAX))
    }

    /// The declared weight of `region` (0 when it declares none).
    pub fn weight(&self, region: &str) -> u8 {
        self.weights
            .iter()
            .find(|(r, _)| r.value == region)
            .map_or(0, |(_, weight)| *weight)
    }

    pub fn is_failover(&self) -> bool {
        self.routing.value == Routing::Failover
    }

    pub fn target(&self, region: &str) -> Option<&str> {
        self.targets
            .iter()
            .find(|(r, _)| r.value == region)
            .map(|(_, value)| value.as_str())
    }
}

/// A Route53 alias target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub zone_id: String,
    pub evaluate_health: bool,
}

/// One weighted record set (set identifier = region).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSet {
    pub region: String,
    pub value: String,
    pub weight: u8,
    pub ttl: Option<u32>,
    /// The set's role when the record uses failover routing: its weight is then 100
    /// where Route 53 answers, 0 elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverSet>,
}

/// A failover record set's role, and the health check Route 53 judges it by (the
/// PRIMARY's is the one drplan overrides).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverSet {
    pub role: FailoverRole,
    /// The set's health check id, when observed and it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailoverRole {
    Primary,
    Secondary,
}

impl FailoverRole {
    /// `PRIMARY`, `SECONDARY`: as Route 53 writes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Primary => "PRIMARY",
            Self::Secondary => "SECONDARY",
        }
    }
}

/// The record sets of `record` while `active` serves (`home` is the environment's).
///
/// Active-passive (no `weights`): `active` at 100, every other target at 0.
/// Active-active: with home serving, the declared weights. With another region serving
/// in its place, home goes to 0 and its share moves to the others (Route 53 weights are
/// relative, so the others keep their declared weights); a serving region that declares
/// 0 (a passive one) takes home's declared weight.
///
/// Failover routing: home's set is the PRIMARY, the other the SECONDARY (health checks
/// unknown until observed: see [`keep_observed_failover`]).
pub fn weighted_sets(record: &DnsRecord, home: &str, active: &str) -> Vec<RecordSet> {
    let weight = |region: &str| -> u8 {
        if record.weights.is_empty() {
            return if region == active { 100 } else { 0 };
        }
        match (region == home, region == active) {
            (_, true) if active == home => record.weight(region),
            (true, _) => 0,
            (false, true) if record.weight(region) == 0 => record.weight(home).max(1),
            _ => record.weight(region),
        }
    };
    record
        .targets
        .iter()
        .map(|(region, value)| RecordSet {
            region: region.value.clone(),
            value: value.clone(),
            weight: weight(&region.value),
            ttl: record.alias.is_none().then(|| record.ttl()),
            failover: record.is_failover().then(|| FailoverSet {
                role: if region.value == home {
                    FailoverRole::Primary
                } else {
                    FailoverRole::Secondary
                },
                health_check: None,
            }),
        })
        .collect()
}

/// `desired` with the failover roles and health checks of the `observed` sets of the same
/// regions: drplan moves traffic between the roles Route 53 has, and never changes them.
pub fn keep_observed_failover(
    mut desired: Vec<RecordSet>,
    observed: &[RecordSet],
) -> Vec<RecordSet> {
    for set in &mut desired {
        let seen = observed.iter().find(|o| o.region == set.region);
        if let Some(failover) = seen.and_then(|o| o.failover.clone()) {
            set.failover = Some(failover);
        }
    }
    desired
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(weights: &[(&str, u8)]) -> DnsRecord {
        let located = |text: &str| Located::new(text.to_string(), 0..0);
        DnsRecord {
            key: located("api"),
            zone: "example.test".to_string(),
            zone_id: None,
            name: "api.example.test".to_string(),
            record_type: "CNAME".to_string(),
            ttl: None,
            switchover_ttl: None,
            follows: located("api"),
            alias: None,
            targets: ["a", "b", "c"]
                .iter()
                .map(|r| (located(r), format!("api.{r}.example.test")))
                .collect(),
            weights: weights.iter().map(|(r, w)| (located(r), *w)).collect(),
            routing: located_routing(Routing::Weighted),
        }
    }

    fn located_routing(routing: Routing) -> Located<Routing> {
        Located::new(routing, 0..0)
    }

    fn weights(record: &DnsRecord, active: &str) -> Vec<u8> {
        weighted_sets(record, "a", active)
            .iter()
            .map(|s| s.weight)
            .collect()
    }

    #[test]
    fn active_passive_routes_everything_to_the_region_serving() {
        let record = record(&[]);
        assert_eq!(weights(&record, "a"), [100, 0, 0]);
        assert_eq!(weights(&record, "c"), [0, 0, 100]);
    }

    #[test]
    fn active_active_moves_homes_share_off_it_and_back() {
        // a and b share the traffic; c is a passive region.
        let record = record(&[("a", 50), ("b", 50), ("c", 0)]);
        assert_eq!(weights(&record, "a"), [50, 50, 0]);
        // b serves for home: home's share goes to the others (b alone here).
        assert_eq!(weights(&record, "b"), [0, 50, 0]);
        // The passive region takes home's share when it serves in home's place.
        assert_eq!(weights(&record, "c"), [0, 50, 50]);
    }

    #[test]
    fn failover_routing_makes_home_the_primary_and_keeps_observed_health_checks() {
        let mut record = record(&[]);
        record.routing = located_routing(Routing::Failover);
        record.targets.truncate(2);
        let sets = weighted_sets(&record, "a", "b");
        let roles: Vec<_> = sets
            .iter()
            .map(|s| (s.weight, s.failover.as_ref().map(|f| f.role)))
            .collect();
        assert_eq!(
            roles,
            [
                (0, Some(FailoverRole::Primary)),
                (100, Some(FailoverRole::Secondary))
            ]
        );
        let mut observed = weighted_sets(&record, "a", "a");
        observed[0].failover = Some(FailoverSet {
            role: FailoverRole::Primary,
            health_check: Some("hc-1".to_string()),
        });
        let kept = keep_observed_failover(sets, &observed);
        assert_eq!(
            kept[0]
                .failover
                .as_ref()
                .and_then(|f| f.health_check.as_deref()),
            Some("hc-1")
        );
        assert_eq!(kept[1].weight, 100);
    }

    #[test]
    fn a_passive_region_serving_for_a_home_without_share_still_gets_traffic() {
        let record = record(&[("a", 0), ("b", 10), ("c", 0)]);
        assert_eq!(weights(&record, "c"), [0, 10, 1]);
    }
}
