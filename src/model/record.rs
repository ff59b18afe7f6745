//! DNS records: one weighted record set per target region, following a service.
//! Active-passive by default (the region serving at 100, the others at 0); with
//! `weights`, active-active: the declared shares while home serves, and home's share
//! moved off it while another region serves in its place.

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
}

/// The record sets of `record` while `active` serves (`home` is the environment's).
///
/// Active-passive (no `weights`): `active` at 100, every other target at 0.
/// Active-active: with home serving, the declared weights. With another region serving
/// in its place, home goes to 0 and its share moves to the others (Route 53 weights are
/// relative, so the others keep their declared weights); a serving region that declares
/// 0 (a passive one) takes home's declared weight.
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
        })
        .collect()
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
        }
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
    fn a_passive_region_serving_for_a_home_without_share_still_gets_traffic() {
        let record = record(&[("a", 0), ("b", 10), ("c", 0)]);
        assert_eq!(weights(&record, "c"), [0, 10, 1]);
    }
}
