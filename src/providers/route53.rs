//! Route53 through the AWS SDK: reads the weighted record sets of each declared
//! record, and moves them with one `ChangeResourceRecordSets` per hosted zone (split
//! only at Route53's size limits), then waits until every change is INSYNC. Failover
//! records (`routing = "failover"`) are read and moved through their PRIMARY's health
//! check (see [`super::route53_failover`]).
//!
//! Changes are UPSERTs only: an UPSERT creates a missing record set, and DELETE is
//! never needed to move weights (moto would delete every record set with the same
//! set identifier in the zone). Record sets with identifiers that are not declared
//! targets are neither reported nor touched.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_route53::Client;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord,
    ResourceRecordSet, ResourceRecordSetFailover, RrType,
};

use super::aws::describe;
use super::route53_failover::{self, FailoverPair, Override};
use super::{DnsProvider, RecordChange};
use crate::error::Error;
use crate::model::DnsRecord;
use crate::model::{FailoverRole, RecordSet};

const PROVIDER: &str = "route53";

/// Route53's limits on one `ChangeResourceRecordSets` request. Each UPSERT (the only
/// action drplan sends) counts twice towards the `ResourceRecord` elements and the
/// characters of their values.
const MAX_CHANGES: usize = 1_000;
const MAX_RECORD_ELEMENTS: usize = 1_000;
const MAX_VALUE_CHARACTERS: usize = 32_000;

/// How long [`Route53Dns::apply`] waits for its changes to reach INSYNC, and how often
/// it asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeWait {
    /// For every change of one `apply` together, counted from the first request.
    pub timeout: Duration,
    /// Between two `GetChange` requests.
    pub interval: Duration,
}

impl Default for ChangeWait {
    fn default() -> Self {
        Self {
            timeout: Duration::from_mins(5),
            interval: Duration::from_secs(2),
        }
    }
}

/// Receives a line of progress while a change propagates.
pub type Progress = Box<dyn Fn(&str) + Send + Sync>;

/// Weighted record sets in Route53 hosted zones.
pub struct Route53Dns {
    client: Client,
    wait: ChangeWait,
    progress: Option<Progress>,
    /// Zone name (lower case, no trailing dot) → hosted zone id.
    zones: Mutex<HashMap<String, String>>,
}

impl Route53Dns {
    /// Route53 as `sdk` (see [`super::aws::sdk_config`]) reaches it.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self::from_client(Client::new(sdk))
    }

    /// Works through `client` (e.g. one built with an interceptor).
    pub fn from_client(client: Client) -> Self {
        Self {
            client,
            wait: ChangeWait::default(),
            progress: None,
            zones: Mutex::new(HashMap::new()),
        }
    }

    #[must_use]
    pub fn with_change_wait(mut self, wait: ChangeWait) -> Self {
        self.wait = wait;
        self
    }

    /// Calls `progress` with a line each time a change is found still PENDING.
    #[must_use]
    pub fn with_progress(mut self, progress: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.progress = Some(Box::new(progress));
        self
    }

    /// The hosted zone of `record`: its `zone_id`, else the zone named `zone`.
    async fn zone_id(&self, record: &DnsRecord) -> Result<String, Error> {
        if let Some(id) = &record.zone_id {
            return Ok(short_id(id).to_string());
        }
        let name = normalize(&record.zone);
        if let Some(id) = self.known_zones().get(&name).cloned() {
            return Ok(id);
        }
        let id = self.find_zone(&record.zone).await?;
        self.known_zones().insert(name, id.clone());
        Ok(id)
    }

    fn known_zones(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.zones.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn find_zone(&self, zone: &str) -> Result<String, Error> {
        let output = self
            .client
            .list_hosted_zones_by_name()
            .dns_name(zone)
            .send()
            .await
            .map_err(|err| describe(PROVIDER, &format!("look up the hosted zone {zone}"), &err))?;
        let ids: Vec<&str> = output
            .hosted_zones()
            .iter()
            .filter(|z| normalize(z.name()) == normalize(zone))
            .map(|z| short_id(z.id()))
            .collect();
        match ids.as_slice() {
            [id] => Ok((*id).to_string()),
            [] => Err(Error::NotFound {
                provider: PROVIDER,
                message: format!("no hosted zone is named `{zone}`"),
                help: "create the zone, fix `zone` on the record in the environment file, or set `zone_id`",
            }),
            _ => Err(Error::AmbiguousZone {
                zone: zone.to_string(),
                ids: ids.iter().map(ToString::to_string).collect(),
            }),
        }
    }

    /// The record sets of `record`, in the order of its targets: its weighted sets, or
    /// its failover pair read as weights.
    async fn record_sets(&self, record: &DnsRecord) -> Result<Vec<RecordSet>, Error> {
        let zone = self.zone_id(record).await?;
        let listed = self.list_sets(&zone, record).await?;
        if record.is_failover() {
            let pair = FailoverPair::of(record, &listed)?;
            let overridden = self.overridden(record, &pair.health_check).await?;
            return Ok(pair.sets(record, overridden));
        }
        if let Some(set) = listed.iter().find(|set| set.weight().is_none()) {
            return Err(Error::UnsupportedRouting {
                record: record.name.clone(),
                policy: routing_policy(set).to_string(),
                declared: "weighted",
            });
        }
        let mut weighted: HashMap<String, RecordSet> = listed
            .iter()
            .filter_map(weighted)
            .map(|set| (set.region.clone(), set))
            .collect();
        Ok(record
            .targets
            .iter()
            .filter_map(|(region, _)| weighted.remove(&region.value))
            .collect())
    }

    /// Whether drplan's override (disabled + inverted) is on the health check `id`.
    async fn overridden(&self, record: &DnsRecord, id: &str) -> Result<bool, Error> {
        let output = self
            .client
            .get_health_check()
            .health_check_id(id)
            .send()
            .await
            .map_err(|err| {
                describe(
                    PROVIDER,
                    &format!("read the health check {id} of {}", record.name),
                    &err,
                )
            })?;
        let config = output
            .health_check()
            .and_then(|check| check.health_check_config());
        route53_failover::overridden(record, id, config)
    }

    /// Sets the override of a failover record's PRIMARY health check. This is not a
    /// Route53 change: `UpdateHealthCheck` returns no change id, so there is nothing to
    /// wait for with `GetChange`; Route53's checkers apply it from their next check.
    async fn set_override(&self, name: &str, state: &Override) -> Result<(), Error> {
        let id = &state.health_check;
        self.client
            .update_health_check()
            .health_check_id(id)
            .disabled(state.on)
            .inverted(state.on)
            .send()
            .await
            .map_err(|err| {
                let what = if state.on {
                    "disable and invert"
                } else {
                    "enable and un-invert"
                };
                describe(
                    PROVIDER,
                    &format!("{what} the health check {id} of {name}"),
                    &err,
                )
            })?;
        Ok(())
    }

    /// Every record set of `record`'s name and type, following `NextRecordName` /
    /// `NextRecordType` / `NextRecordIdentifier`.
    async fn list_sets(
        &self,
        zone: &str,
        record: &DnsRecord,
    ) -> Result<Vec<ResourceRecordSet>, Error> {
        let mut sets = Vec::new();
        let mut start = Start {
            name: Some(record.name.clone()),
            kind: Some(record_type(record)),
            identifier: None,
        };
        loop {
            let page = self
                .client
                .list_resource_record_sets()
                .hosted_zone_id(zone)
                .set_start_record_name(start.name.clone())
                .set_start_record_type(start.kind.clone())
                .set_start_record_identifier(start.identifier.clone())
                .send()
                .await
                .map_err(|err| {
                    describe(
                        PROVIDER,
                        &format!("list the record sets of {}", record.name),
                        &err,
                    )
                })?;
            sets.extend(
                page.resource_record_sets()
                    .iter()
                    .take_while(|set| is_set_of(set, record))
                    .cloned(),
            );
            let next = Start {
                name: page.next_record_name().map(str::to_string),
                kind: page.next_record_type().cloned(),
                identifier: page.next_record_identifier().map(str::to_string),
            };
            let past_record = page
                .resource_record_sets()
                .iter()
                .any(|set| !is_set_of(set, record));
            // A server that does not advance (moto ignores identifiers) must not loop forever.
            if !page.is_truncated() || past_record || next == start {
                return Ok(sets);
            }
            start = next;
        }
    }

    /// Sends one batch; returns its change id.
    async fn submit(&self, zone: &str, changes: Vec<Change>) -> Result<String, Error> {
        let count = changes.len();
        let batch = ChangeBatch::builder()
            .set_changes(Some(changes))
            .comment("drplan")
            .build()
            .map_err(|err| invalid_change(zone, &err))?;
        let output = self
            .client
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(batch)
            .send()
            .await
            .map_err(|err| {
                describe(
                    PROVIDER,
                    &format!("change {count} record set(s) in zone {zone}"),
                    &err,
                )
            })?;
        let info = output.change_info().ok_or_else(|| Error::Api {
            provider: PROVIDER,
            message: format!("zone {zone}: Route53 accepted the change without a change id"),
            help: "try again; if it persists, check the zone in the Route53 console",
        })?;
        Ok(short_id(info.id()).to_string())
    }

    /// Polls `change` until it is INSYNC, or fails once `started` is older than the timeout.
    async fn wait_in_sync(&self, change: &str, started: Instant) -> Result<(), Error> {
        loop {
            let output = self
                .client
                .get_change()
                .id(change)
                .send()
                .await
                .map_err(|err| {
                    describe(
                        PROVIDER,
                        &format!("read the status of change {change}"),
                        &err,
                    )
                })?;
            if output
                .change_info()
                .is_some_and(|info| *info.status() == ChangeStatus::Insync)
            {
                return Ok(());
            }
            let waited = Duration::from_secs(started.elapsed().as_secs());
            if waited >= self.wait.timeout {
                return Err(Error::ChangePending {
                    change: change.to_string(),
                    waited: crate::duration::format_duration(waited),
                });
            }
            if let Some(progress) = &self.progress {
                progress(&format!(
                    "route53: change {change} is PENDING ({} so far)",
                    crate::duration::format_duration(waited)
                ));
            }
            tokio::time::sleep(self.wait.interval).await;
        }
    }
}

#[async_trait]
impl DnsProvider for Route53Dns {
    async fn read(&self, records: &[DnsRecord]) -> Result<BTreeMap<String, Vec<RecordSet>>, Error> {
        let mut read = BTreeMap::new();
        for record in records {
            read.insert(record.key.value.clone(), self.record_sets(record).await?);
        }
        Ok(read)
    }

    /// Every change of one zone goes in one request (more only past Route53's limits);
    /// all requests are sent before waiting, so zones propagate side by side.
    ///
    /// A failover record moves through its PRIMARY's health check, once every record
    /// set change is INSYNC (so a SECONDARY whose value changed answers it first).
    async fn apply(&self, changes: &[RecordChange]) -> Result<(), Error> {
        let mut zones: Vec<(String, Vec<Change>)> = Vec::new();
        let mut overrides = Vec::new();
        for change in changes {
            let zone = self.zone_id(&change.record).await?;
            let sets = if change.record.is_failover() {
                let listed = self.list_sets(&zone, &change.record).await?;
                let pair = FailoverPair::of(&change.record, &listed)?;
                let state = pair.override_for(&change.record, &change.after)?;
                overrides.push((change.record.name.as_str(), state));
                pair.value_changes(&change.after)
            } else {
                change.after.clone()
            };
            let upserts = sets
                .iter()
                .map(|set| upsert(&change.record, set))
                .collect::<Result<Vec<_>, _>>()?;
            match zones.iter_mut().find(|(id, _)| *id == zone) {
                Some((_, list)) => list.extend(upserts),
                None if upserts.is_empty() => {}
                None => zones.push((zone, upserts)),
            }
        }
        let started = Instant::now();
        let mut submitted = Vec::new();
        for (zone, zone_changes) in zones {
            for batch in batches(zone_changes) {
                submitted.push(self.submit(&zone, batch).await?);
            }
        }
        for change in submitted {
            self.wait_in_sync(&change, started).await?;
        }
        for (name, state) in &overrides {
            self.set_override(name, state).await?;
        }
        Ok(())
    }
}

/// Where a `ListResourceRecordSets` page starts.
#[derive(Debug, PartialEq)]
struct Start {
    name: Option<String>,
    kind: Option<RrType>,
    identifier: Option<String>,
}

fn record_type(record: &DnsRecord) -> RrType {
    RrType::from(record.record_type.to_ascii_uppercase().as_str())
}

fn is_set_of(set: &ResourceRecordSet, record: &DnsRecord) -> bool {
    normalize(set.name()) == normalize(&record.name) && *set.r#type() == record_type(record)
}

/// The routing policy of `set`: drplan moves the policy a record declares (weighted or
/// failover), and refuses to plan beside sets it would not understand.
pub(super) fn routing_policy(set: &ResourceRecordSet) -> &'static str {
    if set.weight().is_some() {
        "weighted"
    } else if let Some(failover) = set.failover() {
        match failover.as_str() {
            "PRIMARY" => "failover (PRIMARY)",
            _ => "failover (SECONDARY)",
        }
    } else if set.region().is_some() {
        "latency"
    } else if set.geo_location().is_some() || set.geo_proximity_location().is_some() {
        "geolocation"
    } else if set.multi_value_answer().is_some() {
        "multivalue answer"
    } else if set.cidr_routing_config().is_some() {
        "IP-based"
    } else {
        "simple"
    }
}

/// A weighted record set as drplan sees it; `None` for any other routing policy.
fn weighted(set: &ResourceRecordSet) -> Option<RecordSet> {
    let region = set.set_identifier()?.to_string();
    let weight = u8::try_from(set.weight()?).ok()?;
    Some(RecordSet {
        region,
        value: value_of(set),
        weight,
        ttl: ttl_of(set),
        failover: None,
    })
}

/// What a set answers: its alias target, or its records joined by commas.
pub(super) fn value_of(set: &ResourceRecordSet) -> String {
    match set.alias_target() {
        Some(alias) => without_dot(alias.dns_name()).to_string(),
        None => set
            .resource_records()
            .iter()
            .map(|r| without_dot(r.value()))
            .collect::<Vec<_>>()
            .join(","),
    }
}

pub(super) fn ttl_of(set: &ResourceRecordSet) -> Option<u32> {
    set.ttl().and_then(|ttl| u32::try_from(ttl).ok())
}

/// The UPSERT that makes `set` true: plain records carry a TTL and the value, alias
/// records the alias target and no TTL. A weighted set carries its weight; a failover
/// set its role and health check instead.
fn upsert(record: &DnsRecord, set: &RecordSet) -> Result<Change, Error> {
    let builder = ResourceRecordSet::builder()
        .name(&record.name)
        .r#type(record_type(record))
        .set_identifier(&set.region);
    let builder = match &set.failover {
        Some(failover) => builder
            .failover(match failover.role {
                FailoverRole::Primary => ResourceRecordSetFailover::Primary,
                FailoverRole::Secondary => ResourceRecordSetFailover::Secondary,
            })
            .set_health_check_id(failover.health_check.clone()),
        None => builder.weight(i64::from(set.weight)),
    };
    let builder = match &record.alias {
        Some(alias) => builder.alias_target(
            AliasTarget::builder()
                .hosted_zone_id(&alias.zone_id)
                .dns_name(&set.value)
                .evaluate_target_health(alias.evaluate_health)
                .build()
                .map_err(|err| invalid_change(&record.name, &err))?,
        ),
        None => builder
            .ttl(i64::from(set.ttl.unwrap_or_else(|| record.ttl())))
            .resource_records(
                ResourceRecord::builder()
                    .value(&set.value)
                    .build()
                    .map_err(|err| invalid_change(&record.name, &err))?,
            ),
    };
    let record_set = builder
        .build()
        .map_err(|err| invalid_change(&record.name, &err))?;
    Change::builder()
        .action(ChangeAction::Upsert)
        .resource_record_set(record_set)
        .build()
        .map_err(|err| invalid_change(&record.name, &err))
}

fn invalid_change(name: &str, err: &dyn std::error::Error) -> Error {
    Error::Bug {
        detail: format!("cannot build the Route53 change for {name}: {err}"),
    }
}

/// What one change costs against Route53's per-request limits.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    changes: usize,
    record_elements: usize,
    value_characters: usize,
}

impl Cost {
    fn of(change: &Change) -> Self {
        let records = change
            .resource_record_set()
            .map(ResourceRecordSet::resource_records)
            .unwrap_or_default();
        Self {
            changes: 1,
            record_elements: 2 * records.len(),
            value_characters: 2 * records
                .iter()
                .map(|r| r.value().chars().count())
                .sum::<usize>(),
        }
    }

    fn plus(self, other: Self) -> Self {
        Self {
            changes: self.changes + other.changes,
            record_elements: self.record_elements + other.record_elements,
            value_characters: self.value_characters + other.value_characters,
        }
    }

    fn fits(self) -> bool {
        self.changes <= MAX_CHANGES
            && self.record_elements <= MAX_RECORD_ELEMENTS
            && self.value_characters <= MAX_VALUE_CHARACTERS
    }
}

/// `changes` in order, cut into as few requests as Route53's limits allow.
fn batches(changes: Vec<Change>) -> Vec<Vec<Change>> {
    let mut batches: Vec<Vec<Change>> = Vec::new();
    let mut used = Cost::default();
    for change in changes {
        let cost = Cost::of(&change);
        match batches.last_mut() {
            Some(batch) if used.plus(cost).fits() => {
                batch.push(change);
                used = used.plus(cost);
            }
            _ => {
                batches.push(vec![change]);
                used = cost;
            }
        }
    }
    batches
}

/// `Z123` from `/hostedzone/Z123`, `C456` from `/change/C456`.
fn short_id(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// A DNS name as Route53 compares it: lower case, no trailing dot, `*` unescaped.
fn normalize(name: &str) -> String {
    without_dot(name).to_ascii_lowercase().replace("\\052", "*")
}

fn without_dot(name: &str) -> &str {
    name.strip_suffix('.').unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Alias, Located};
    use crate::providers::aws::replay::{bodies, client, sdk_config, uris, xml};

    const NS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";

    fn record(key: &str, alias: Option<Alias>) -> DnsRecord {
        let located = |text: &str| Located::new(text.to_string(), 0..0);
        DnsRecord {
            key: located(key),
            zone: "example.test".to_string(),
            zone_id: Some("/hostedzone/Z1".to_string()),
            name: format!("{key}.example.test"),
            record_type: "CNAME".to_string(),
            ttl: Some(60),
            switchover_ttl: None,
            follows: located("api"),
            alias,
            targets: vec![
                (located("us-east-1"), "primary.example.test".to_string()),
                (located("us-west-2"), "secondary.example.test".to_string()),
            ],
            weights: Vec::new(),
            routing: Located::new(crate::model::Routing::Weighted, 0..0),
        }
    }

    fn moved_to_west(record: DnsRecord) -> RecordChange {
        let after = crate::model::weighted_sets(&record, "us-east-1", "us-west-2");
        RecordChange { record, after }
    }

    fn change_info(operation: &str, id: &str, status: &str) -> String {
        format!(
            "<{operation}Response xmlns=\"{NS}\"><ChangeInfo><Id>/change/{id}</Id><Status>{status}</Status>\
             <SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></{operation}Response>"
        )
    }

    fn submitted(id: &str) -> String {
        change_info("ChangeResourceRecordSets", id, "PENDING")
    }

    fn status(id: &str, status: &str) -> String {
        change_info("GetChange", id, status)
    }

    fn error(code: &str) -> String {
        format!(
            "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>slow down</Message></Error><RequestId>1</RequestId></ErrorResponse>"
        )
    }

    fn record_set(name: &str, region: &str, weight: u8, value: &str) -> String {
        format!(
            "<ResourceRecordSet><Name>{name}.</Name><Type>CNAME</Type><SetIdentifier>{region}</SetIdentifier>\
             <Weight>{weight}</Weight><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>{value}</Value>\
             </ResourceRecord></ResourceRecords></ResourceRecordSet>"
        )
    }

    fn listing(sets: &[String], next: Option<(&str, &str)>) -> String {
        let next = next.map_or(String::new(), |(name, identifier)| {
            format!("<NextRecordName>{name}.</NextRecordName><NextRecordType>CNAME</NextRecordType><NextRecordIdentifier>{identifier}</NextRecordIdentifier>")
        });
        format!(
            "<ListResourceRecordSetsResponse xmlns=\"{NS}\"><ResourceRecordSets>{}</ResourceRecordSets>\
             <IsTruncated>{}</IsTruncated>{next}<MaxItems>1</MaxItems></ListResourceRecordSetsResponse>",
            sets.concat(),
            !next.is_empty()
        )
    }

    fn quick() -> ChangeWait {
        ChangeWait {
            timeout: Duration::from_secs(5),
            interval: Duration::from_millis(1),
        }
    }

    #[tokio::test]
    async fn apply_waits_until_the_change_is_insync() {
        let replay = client(vec![
            xml(200, &submitted("C1")),
            xml(200, &status("C1", "PENDING")),
            xml(200, &status("C1", "INSYNC")),
        ]);
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&lines);
        let dns = Route53Dns::new(&sdk_config(&replay))
            .with_change_wait(quick())
            .with_progress(move |line| seen.lock().unwrap().push(line.to_string()));

        dns.apply(&[moved_to_west(record("www", None))])
            .await
            .unwrap();

        let uris = uris(&replay);
        assert_eq!(uris.len(), 3);
        assert!(
            uris[0].ends_with("/2013-04-01/hostedzone/Z1/rrset"),
            "{}",
            uris[0]
        );
        assert!(
            uris[1].ends_with("/2013-04-01/change/C1")
                && uris[2].ends_with("/2013-04-01/change/C1")
        );
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("route53: change C1 is PENDING"),
            "{lines:?}"
        );
    }

    #[tokio::test]
    async fn apply_fails_when_the_change_stays_pending() {
        let replay = client(vec![
            xml(200, &submitted("C1")),
            xml(200, &status("C1", "PENDING")),
        ]);
        let wait = ChangeWait {
            timeout: Duration::ZERO,
            interval: Duration::from_millis(1),
        };
        let dns = Route53Dns::new(&sdk_config(&replay)).with_change_wait(wait);

        let error = dns
            .apply(&[moved_to_west(record("www", None))])
            .await
            .unwrap_err();

        assert_eq!(
            error.to_string(),
            "route53: change C1 is still PENDING after 0s"
        );
    }

    #[tokio::test]
    async fn apply_sends_weighted_upserts_plain_and_alias() {
        let replay = client(vec![
            xml(200, &submitted("C1")),
            xml(200, &status("C1", "INSYNC")),
        ]);
        let dns = Route53Dns::new(&sdk_config(&replay)).with_change_wait(quick());
        let alias = Alias {
            zone_id: "Z2FDTNDATAQYW2".to_string(),
            evaluate_health: false,
        };

        dns.apply(&[
            moved_to_west(record("www", None)),
            moved_to_west(record("apex", Some(alias))),
        ])
        .await
        .unwrap();

        let body = &bodies(&replay)[0];
        assert_eq!(body.matches("<Action>UPSERT</Action>").count(), 4, "{body}");
        assert!(body.contains(
            "<Name>www.example.test</Name><Type>CNAME</Type><SetIdentifier>us-west-2</SetIdentifier><Weight>100</Weight>\
             <TTL>60</TTL><ResourceRecords><ResourceRecord><Value>secondary.example.test</Value>"
        ), "{body}");
        assert!(body.contains(
            "<Name>apex.example.test</Name><Type>CNAME</Type><SetIdentifier>us-east-1</SetIdentifier><Weight>0</Weight>\
             <AliasTarget><HostedZoneId>Z2FDTNDATAQYW2</HostedZoneId><DNSName>primary.example.test</DNSName>\
             <EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget>"
        ), "{body}");
    }

    #[tokio::test]
    async fn throttled_requests_are_retried_by_the_sdk() {
        let replay = client(vec![
            xml(400, &error("PriorRequestNotComplete")),
            xml(200, &submitted("C1")),
            xml(400, &error("Throttling")),
            xml(200, &status("C1", "INSYNC")),
        ]);
        let dns = Route53Dns::new(&sdk_config(&replay)).with_change_wait(quick());

        dns.apply(&[moved_to_west(record("www", None))])
            .await
            .unwrap();

        assert_eq!(uris(&replay).len(), 4);
    }

    #[tokio::test]
    async fn read_follows_next_record_identifier() {
        let name = "www.example.test";
        let replay = client(vec![
            xml(
                200,
                &listing(
                    &[record_set(name, "us-west-2", 0, "secondary.example.test.")],
                    Some((name, "us-east-1")),
                ),
            ),
            xml(
                200,
                &listing(
                    &[
                        record_set(name, "us-east-1", 100, "primary.example.test"),
                        record_set("zzz.example.test", "us-east-1", 1, "x"),
                    ],
                    None,
                ),
            ),
        ]);
        let dns = Route53Dns::new(&sdk_config(&replay));

        let read = dns.read(&[record("www", None)]).await.unwrap();

        let sets = |region: &str, weight, value: &str| RecordSet {
            region: region.to_string(),
            value: value.to_string(),
            weight,
            ttl: Some(60),
            failover: None,
        };
        let expected = vec![
            sets("us-east-1", 100, "primary.example.test"),
            sets("us-west-2", 0, "secondary.example.test"),
        ];
        assert_eq!(read, BTreeMap::from([("www".to_string(), expected)]));
        let uris = uris(&replay);
        assert!(
            uris[0].contains("name=www.example.test") && !uris[0].contains("identifier="),
            "{}",
            uris[0]
        );
        assert!(uris[1].contains("identifier=us-east-1"), "{}", uris[1]);
    }

    #[tokio::test]
    async fn apply_splits_a_zone_only_at_the_record_limit() {
        // 600 records × 2 plain UPSERTs = 1,200 changes; an UPSERT counts twice against
        // the 1,000 ResourceRecord elements of a request, so 500 + 500 + 200.
        let records: Vec<_> = (0..600)
            .map(|i| moved_to_west(record(&format!("r{i}"), None)))
            .collect();
        let replay = client(vec![
            xml(200, &submitted("C1")),
            xml(200, &submitted("C2")),
            xml(200, &submitted("C3")),
            xml(200, &status("C1", "INSYNC")),
            xml(200, &status("C2", "INSYNC")),
            xml(200, &status("C3", "INSYNC")),
        ]);
        let dns = Route53Dns::new(&sdk_config(&replay)).with_change_wait(quick());

        dns.apply(&records).await.unwrap();

        let counts: Vec<usize> = bodies(&replay)
            .iter()
            .take(3)
            .map(|b| b.matches("<Change>").count())
            .collect();
        assert_eq!(counts, [500, 500, 200]);
        assert_eq!(uris(&replay).len(), 6);
    }

    fn failover_set(region: &str, role: &str, check: &str, value: &str) -> String {
        format!(
            "<ResourceRecordSet><Name>www.example.test.</Name><Type>CNAME</Type><SetIdentifier>{region}</SetIdentifier>\
             <Failover>{role}</Failover><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>{value}</Value>\
             </ResourceRecord></ResourceRecords>{check}</ResourceRecordSet>"
        )
    }

    #[tokio::test]
    async fn a_failover_record_moves_through_its_health_check_once_its_sets_are_insync() {
        let listed = listing(
            &[
                failover_set(
                    "us-east-1",
                    "PRIMARY",
                    "<HealthCheckId>hc-1</HealthCheckId>",
                    "primary.example.test.",
                ),
                failover_set("us-west-2", "SECONDARY", "", "old.example.test."),
            ],
            None,
        );
        let updated = format!(
            "<UpdateHealthCheckResponse xmlns=\"{NS}\"><HealthCheck><Id>hc-1</Id><CallerReference>r</CallerReference>\
             <HealthCheckConfig><Type>HTTPS</Type><Inverted>true</Inverted><Disabled>true</Disabled></HealthCheckConfig>\
             <HealthCheckVersion>2</HealthCheckVersion></HealthCheck></UpdateHealthCheckResponse>"
        );
        let replay = client(vec![
            xml(200, &listed),
            xml(200, &submitted("C1")),
            xml(200, &status("C1", "INSYNC")),
            xml(200, &updated),
        ]);
        let dns = Route53Dns::new(&sdk_config(&replay)).with_change_wait(quick());
        let mut record = record("www", None);
        record.routing = Located::new(crate::model::Routing::Failover, 0..0);

        dns.apply(&[moved_to_west(record)]).await.unwrap();

        let (uris, bodies) = (uris(&replay), bodies(&replay));
        assert_eq!(uris.len(), 4, "{uris:?}");
        // The SECONDARY's value is brought to its target, keeping its role and no weight.
        assert!(bodies[1].contains(
            "<SetIdentifier>us-west-2</SetIdentifier><Failover>SECONDARY</Failover><TTL>60</TTL>\
             <ResourceRecords><ResourceRecord><Value>secondary.example.test</Value>"
        ), "{}", bodies[1]);
        assert_eq!(bodies[1].matches("<Change>").count(), 1, "{}", bodies[1]);
        // Then the override, after INSYNC, with no GetChange after it: not a Route53 change.
        assert!(
            uris[3].ends_with("/2013-04-01/healthcheck/hc-1"),
            "{}",
            uris[3]
        );
        assert!(
            bodies[3].contains("<Inverted>true</Inverted>")
                && bodies[3].contains("<Disabled>true</Disabled>"),
            "{}",
            bodies[3]
        );
    }

    #[test]
    fn alias_changes_split_at_one_thousand_changes() {
        let alias = Alias {
            zone_id: "Z2FDTNDATAQYW2".to_string(),
            evaluate_health: true,
        };
        let record = record("apex", Some(alias));
        let set = RecordSet {
            region: "us-east-1".to_string(),
            value: "primary.example.test".to_string(),
            weight: 100,
            ttl: None,
            failover: None,
        };
        let changes = (0..2_500).map(|_| upsert(&record, &set).unwrap()).collect();

        let sizes: Vec<usize> = batches(changes).iter().map(Vec::len).collect();

        assert_eq!(sizes, [1_000, 1_000, 500]);
    }

    #[test]
    fn names_compare_like_route53() {
        assert_eq!(normalize("WWW.Example.test."), "www.example.test");
        assert_eq!(normalize("\\052.example.test."), "*.example.test");
        assert_eq!(short_id("/hostedzone/Z1"), "Z1");
        assert_eq!(short_id("C1"), "C1");
    }
}
