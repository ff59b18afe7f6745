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
        if let Some(set) = listed.iter().find(|set| set.failover().is_none()) {
            return Err(Error::UnsupportedRouting {
                record: record.name.clone(),
                policy: super::route53::routing_policy(set).to_string(),
                declared: "failover",
            });
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
        _ => {
            return Err(format!(
                "a set has the failover role `{:?}`",
                set.failover()
            ));
        }
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

#[cfg(test)]
mod tests {
    use aws_sdk_route53::types::{ResourceRecord, RrType};

    use super::*;
    use crate::model::{Located, Routing};

    fn record() -> DnsRecord {
        let located = |text: &str| Located::new(text.to_string(), 0..0);
        DnsRecord {
            key: located("www"),
            zone: "example.test".to_string(),
            zone_id: Some("Z1".to_string()),
            name: "www.example.test".to_string(),
            record_type: "CNAME".to_string(),
            ttl: Some(60),
            follows: located("web"),
            alias: None,
            targets: vec![
                (located("us-east-1"), "east.example.test".to_string()),
                (located("us-west-2"), "west.example.test".to_string()),
            ],
            weights: Vec::new(),
            switchover_ttl: None,
            routing: Located::new(Routing::Failover, 0..0),
        }
    }

    fn set(
        region: &str,
        role: ResourceRecordSetFailover,
        check: Option<&str>,
    ) -> ResourceRecordSet {
        ResourceRecordSet::builder()
            .name("www.example.test.")
            .r#type(RrType::Cname)
            .set_identifier(region)
            .failover(role)
            .set_health_check_id(check.map(str::to_string))
            .ttl(60)
            .resource_records(
                ResourceRecord::builder()
                    .value(format!("{region}.example.test."))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    fn pair() -> FailoverPair {
        FailoverPair::of(
            &record(),
            &[
                set("us-west-2", ResourceRecordSetFailover::Secondary, None),
                set(
                    "us-east-1",
                    ResourceRecordSetFailover::Primary,
                    Some("hc-1"),
                ),
            ],
        )
        .unwrap()
    }

    fn config(disabled: bool, inverted: bool) -> HealthCheckConfig {
        HealthCheckConfig::builder()
            .r#type(aws_sdk_route53::types::HealthCheckType::Https)
            .disabled(disabled)
            .inverted(inverted)
            .build()
            .unwrap()
    }

    #[test]
    fn the_override_reads_as_weights_in_the_order_of_the_targets() {
        let pair = pair();
        assert_eq!(pair.health_check, "hc-1");
        let weights = |overridden| -> Vec<(String, u8)> {
            pair.sets(&record(), overridden)
                .into_iter()
                .map(|s| (s.region, s.weight))
                .collect()
        };
        assert_eq!(
            weights(false),
            [("us-east-1".into(), 100), ("us-west-2".into(), 0)]
        );
        assert_eq!(
            weights(true),
            [("us-east-1".into(), 0), ("us-west-2".into(), 100)]
        );
    }

    #[test]
    fn only_both_flags_or_neither_are_understood() {
        let record = record();
        let read = |d, i| overridden(&record, "hc-1", Some(&config(d, i)));
        assert!(read(true, true).unwrap());
        assert!(!read(false, false).unwrap());
        assert!(!overridden(&record, "hc-1", None).unwrap());
        for (disabled, inverted) in [(true, false), (false, true)] {
            let error = read(disabled, inverted).unwrap_err();
            assert!(
                matches!(error, Error::PartialHealthCheckOverride { .. }),
                "{error}"
            );
        }
    }

    #[test]
    fn a_change_routes_to_the_primary_or_the_secondary_and_nowhere_else() {
        let pair = pair();
        let after = |weights: [(&str, u8); 2]| -> Vec<RecordSet> {
            weights
                .iter()
                .map(|(region, weight)| RecordSet {
                    region: (*region).to_string(),
                    value: format!("{region}.example.test"),
                    weight: *weight,
                    ttl: Some(60),
                    failover: None,
                })
                .collect()
        };
        let on = |weights| pair.override_for(&record(), &after(weights)).map(|o| o.on);
        assert!(on([("us-east-1", 0), ("us-west-2", 100)]).unwrap());
        assert!(!on([("us-east-1", 100), ("us-west-2", 0)]).unwrap());
        let error = on([("us-east-1", 0), ("eu-west-1", 100)]).unwrap_err();
        assert!(error.to_string().contains("routes to eu-west-1"), "{error}");
        assert!(on([("us-east-1", 0), ("us-west-2", 0)]).is_err());
    }

    #[test]
    fn a_value_change_keeps_the_role_and_the_health_check() {
        let pair = pair();
        let mut after = pair.sets(&record(), true);
        after[0].value = "new-east.example.test".to_string();
        let changes = pair.value_changes(&after);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].value, "new-east.example.test");
        assert_eq!(
            changes[0].failover,
            Some(FailoverSet {
                role: FailoverRole::Primary,
                health_check: Some("hc-1".to_string())
            })
        );
    }

    #[test]
    fn sets_that_are_not_a_pair_are_refused() {
        let record = record();
        let refused = |sets: &[ResourceRecordSet]| FailoverPair::of(&record, sets).unwrap_err();
        assert!(matches!(refused(&[]), Error::FailoverSets { .. }));
        let only_primary = [set(
            "us-east-1",
            ResourceRecordSetFailover::Primary,
            Some("hc"),
        )];
        assert!(
            refused(&only_primary)
                .to_string()
                .contains("no SECONDARY set")
        );
        let elsewhere = [set(
            "eu-west-1",
            ResourceRecordSetFailover::Primary,
            Some("hc"),
        )];
        assert!(refused(&elsewhere).to_string().contains("`eu-west-1`"));
        let unchecked = [
            set("us-east-1", ResourceRecordSetFailover::Primary, None),
            set("us-west-2", ResourceRecordSetFailover::Secondary, None),
        ];
        assert!(matches!(
            refused(&unchecked),
            Error::FailoverWithoutHealthCheck { .. }
        ));
        let weighted = [ResourceRecordSet::builder()
            .name("www.example.test.")
            .r#type(RrType::Cname)
            .set_identifier("us-east-1")
            .weight(100)
            .build()
            .unwrap()];
        assert_eq!(
            refused(&weighted).to_string(),
            "route53: www.example.test has weighted routing, but [dns] declares it failover"
        );
    }
}
