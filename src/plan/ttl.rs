//! TTLs around a switch. A client-facing check waits out the TTL its record's old
//! answer may be cached for. A switchover may first lower a record's TTL
//! (`switchover_ttl`): the record's current sets at the lowered TTL, the old TTL
//! waited out while the side being left still serves, the switch made at the lowered
//! TTL (so it takes effect within it), and the declared TTL put back once verified.
//! Never in a failover: in an outage there is no time to wait, and the side being
//! left may not answer.

use super::changes::{Movement, Switch};
use crate::model::{DnsRecord, RecordSet};

/// The TTL a switch is made at when its record's TTL is lowered first: only in a
/// switchover, for a record that declares `switchover_ttl`.
pub fn lowered(switch: &Switch<'_>, movement: Option<Movement>) -> Option<u32> {
    if movement != Some(Movement::Switchover) {
        return None;
    }
    switch.record.switchover_ttl()
}

/// How long resolvers may hold an answer from `sets`: the longest TTL they carry,
/// else the record's declared one.
pub fn cached_for(record: &DnsRecord, sets: &[RecordSet]) -> u32 {
    sets.iter()
        .filter_map(|set| set.ttl)
        .max()
        .unwrap_or_else(|| record.ttl())
}

/// `sets` with TTL `ttl`.
pub fn at_ttl(sets: &[RecordSet], ttl: u32) -> Vec<RecordSet> {
    sets.iter()
        .map(|set| RecordSet {
            ttl: Some(ttl),
            ..set.clone()
        })
        .collect()
}
