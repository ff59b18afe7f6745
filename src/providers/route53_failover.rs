//! Route 53 failover records (`routing = "failover"`): a PRIMARY record set with a
//! health check and a SECONDARY one, set identifier = region. drplan reads them as
//! weights, so plans, diffs and the sim need nothing else: the region Route 53 answers
//! with at 100, the other at 0.
//!
//! drplan's manual override is the PRIMARY's health check `Disabled` and `Inverted`
//! together. Per the `UpdateHealthCheck` API reference, Route 53 considers a disabled
//! check healthy, so disabled + inverted is always unhealthy, whatever the PRIMARY's
//! real health: Route 53 answers with the SECONDARY. Inverting alone would make a
//! failing PRIMARY look healthy and send traffic back to the dead region; disabling
//! alone makes it look healthy. Neither set: the PRIMARY serves while it is healthy.
//! Any other combination is reported as it is and refused, never guessed.

use aws_sdk_route53::types::{HealthCheckConfig, ResourceRecordSet, ResourceRecordSetFailover};

use crate::error::Error;
use crate::model::{DnsRecord, FailoverRole, FailoverSet, RecordSet};

/// The PRIMARY and SECONDARY sets of a failover record, as Route 53 lists them.
#[derive(Debug, Clone)]
pub struct FailoverPair {
    /// Its `failover` carries the health check.
    pub primary: RecordSet,
    pub secondary: RecordSet,
    pub health_check: String,
}

/// The state to give the PRIMARY's health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub health_check: String,
    /// Disabled and inverted (traffic to the SECONDARY) when true; neither when false.
    pub on: bool,
}

impl FailoverPair {
    /// The pair among `listed` (the sets of `record`'s name and type): one PRIMARY and
    /// one SECONDARY, each for one of the record's targets, the PRIMARY with a health check.
    pub fn of(record: &DnsRecord, listed: &[ResourceRecordSet]) -> Result<Self, Error> {
        let refuse = |detail: String| Error::FailoverSets {
            record: record.name.clone(),
            detail,
        };
        if listed.is_empty() {
            return Err(refuse(
                "it has no record sets (drplan does not create a failover pair: its PRIMARY needs a health check)".to_string(),
            ));
        }
        let mut primary = None;
        let mut secondary = None;
        for set in listed {
            let member = member(record, set).map_err(refuse)?;
            let slot = match member.failover.as_ref().map(|f| f.role) {
                Some(FailoverRole::Primary) => &mut primary,
                _ => &mut secondary,
            };
            *slot = Some(member);
        }
        let missing = |role: FailoverRole| refuse(format!("it has no {} set", role.name()));
        let primary = primary.ok_or_else(|| missing(FailoverRole::Primary))?;
        let secondary = secondary.ok_or_else(|| missing(FailoverRole::Secondary))?;
        let health_check = primary
            .failover
            .as_ref()
            .and_then(|f| f.health_check.clone())
            .ok_or_else(|| Error::FailoverWithoutHealthCheck {
                record: record.name.clone(),
                region: primary.region.clone(),
            })?;
        Ok(Self {
            primary,
            secondary,
            health_check,
        })
    }

    /// Both sets in the order of the record's targets, weighted as Route 53 answers:
    /// the SECONDARY at 100 while the override is on, else the PRIMARY.
    pub fn sets(&self, record: &DnsRecord, overridden: bool) -> Vec<RecordSet> {
        let weighed = |set: &RecordSet, serves: bool| RecordSet {
            weight: if serves { 100 } else { 0 },
            ..set.clone()
        };
        let both = [
            weighed(&self.primary, !overridden),
            weighed(&self.secondary, overridden),
        ];
        record
            .targets
            .iter()
            .filter_map(|(region, _)| both.iter().find(|s| s.region == region.value).cloned())
            .collect()
    }

    /// The health-check state that makes Route 53 answer with the one region `after`
    /// sends traffic to.
    pub fn override_for(&self, record: &DnsRecord, after: &[RecordSet]) -> Result<Override, Error> {
        let serving: Vec<&str> = after
            .iter()
            .filter(|s| s.weight > 0)
            .map(|s| s.region.as_str())
            .collect();
        let on = match serving.as_slice() {
            [region] if *region == self.primary.region => false,
            [region] if *region == self.secondary.region => true,
            _ => {
                return Err(Error::FailoverSets {
                    record: record.name.clone(),
                    detail: format!(
                        "the change routes to {}, but failover routing answers with its PRIMARY ({}) or its SECONDARY ({}), one at a time",
                        if serving.is_empty() {
                            "no region".to_string()
                        } else {
                            serving.join(" and ")
                        },
                        self.primary.region,
                        self.secondary.region
                    ),
                });
            }
        };
        Ok(Override {
            health_check: self.health_check.clone(),
            on,
        })
    }

    /// The sets whose value (or TTL) `after` changes, with their role and health check
    /// kept as Route 53 has them.
    pub fn value_changes(&self, after: &[RecordSet]) -> Vec<RecordSet> {
        [&self.primary, &self.secondary]
            .into_iter()
            .filter_map(|set| {
                let wanted = after.iter().find(|a| a.region == set.region)?;
                (wanted.value != set.value || wanted.ttl != set.ttl).then(|| RecordSet {
                    value: wanted.value.clone(),
                    ttl: wanted.ttl,
                    ..set.clone()
                })
            })
            .collect()
    }
}

/// One failover set of `record`, or why it is not one drplan can move.
fn member(record: &DnsRecord, set: &ResourceRecordSet) -> Result<RecordSet, String> {
    let role = match set.failover() {
        Some(ResourceRecordSetFailover::Primary) => FailoverRole::Primary,
        Some(ResourceRecordSetFailover::Secondary) => FailoverRole::Secondary,
        _ => return Err("a set has no failover role".to_string()),
    };
    let targets: Vec<&str> = record
        .targets
        .iter()
        .map(|(r, _)| r.value.as_str())
        .collect();
    let region = match set.set_identifier() {
        Some(id) if targets.contains(&id) => id.to_string(),
        Some(id) => {
            return Err(format!(
                "its {} set has set identifier `{id}`, which is not one of its targets ({})",
                role.name(),
                targets.join(", ")
            ));
        }
        None => return Err(format!("its {} set has no set identifier", role.name())),
    };
    Ok(RecordSet {
        region,
        value: super::route53::value_of(set),
        weight: 0,
        ttl: super::route53::ttl_of(set),
        failover: Some(FailoverSet {
            role,
            health_check: set.health_check_id().map(str::to_string),
        }),
    })
}

/// Whether the health check `id` of `record`'s PRIMARY is overridden by drplan
/// (disabled and inverted), released (neither), or something drplan refuses to guess.
pub fn overridden(
    record: &DnsRecord,
    id: &str,
    config: Option<&HealthCheckConfig>,
) -> Result<bool, Error> {
    let disabled = config
        .and_then(HealthCheckConfig::disabled)
        .unwrap_or(false);
    let inverted = config
        .and_then(HealthCheckConfig::inverted)
        .unwrap_or(false);
    match (disabled, inverted) {
        (true, true) => Ok(true),
        (false, false) => Ok(false),
        (disabled, _) => Err(Error::PartialHealthCheckOverride {
            record: record.name.clone(),
            health_check: id.to_string(),
            state: if disabled {
                "disabled only (Route 53 takes it as healthy: the PRIMARY answers whatever its health)"
            } else {
                "inverted only (a failing PRIMARY would look healthy)"
            }
            .to_string(),
        }),
    }
}
