//! DNS records: one weighted record set per target region, following a service.

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
    pub follows: Located<String>,
    pub alias: Option<Alias>,
    /// Region → value (hostname, address, or alias target), in the order written.
    pub targets: Vec<(Located<String>, String)>,
}

impl DnsRecord {
    pub fn ttl(&self) -> u32 {
        self.ttl.unwrap_or(DEFAULT_TTL)
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

/// The record sets of `record` with `active` at weight 100 and every other target at 0.
pub fn weighted_sets(record: &DnsRecord, active: &str) -> Vec<RecordSet> {
    record
        .targets
        .iter()
        .map(|(region, value)| RecordSet {
            region: region.value.clone(),
            value: value.clone(),
            weight: if region.value == active { 100 } else { 0 },
            ttl: record.alias.is_none().then(|| record.ttl()),
        })
        .collect()
}
