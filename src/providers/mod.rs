//! Providers: one trait per kind of resource (DNS, object storage, services and
//! their health), async. Implementations: the embedded `sim` world, Route53 and S3
//! through the AWS SDK, and real commands and HTTP probes. Providers read and change
//! the world; they never decide what should change.

pub mod arc;
pub mod aurora;
pub mod aws;
pub mod cloudwatch;
pub mod command_dns;
pub mod connect;
pub mod error_rate;
pub mod http;
pub mod no_storage;
pub mod notifier;
pub mod process;
pub mod rds;
pub mod real;
pub mod route53;
pub mod route53_failover;
pub mod s3;
pub mod sim;
pub mod sim_aurora;
pub mod sim_changes;
pub mod sim_data;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::error::Error;
pub use crate::model::ProviderKind;
use crate::model::safety_rules::ArcSafety;
use crate::model::{
    AlarmProbe, AuroraMove, BackupLocation, DataSet, DnsRecord, Environment, ErrorRateProbe,
    HealthProbe, Notification, RecordSet,
};

/// Reads and moves weighted DNS record sets.
#[async_trait]
pub trait DnsProvider: Send + Sync {
    /// The record sets of each record, keyed by the record's key under `[dns]`.
    /// A record with no record sets maps to an empty list.
    async fn read(&self, records: &[DnsRecord]) -> Result<BTreeMap<String, Vec<RecordSet>>, Error>;

    /// Sets the record sets of every record in `changes` (one batch: one graph level).
    async fn apply(&self, changes: &[RecordChange]) -> Result<(), Error>;

    /// The safety rules that judge a move, and the states of the controls they name:
    /// only ARC routing controls of a declared control panel have them.
    async fn safety_rules(&self) -> Result<Option<ArcSafety>, Error> {
        Ok(None)
    }
}

/// The desired record sets of one record.
#[derive(Debug, Clone)]
pub struct RecordChange {
    pub record: DnsRecord,
    pub after: Vec<RecordSet>,
}

/// An object in a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// `s3://bucket/key`.
    pub url: String,
    pub last_modified: SystemTime,
}

/// An object's content, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub body: Vec<u8>,
    pub content_type: String,
}

/// Reads backups and writes pages.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// The newest object under `location` (modified before `before`, when given).
    async fn newest(
        &self,
        location: &BackupLocation,
        before: Option<SystemTime>,
    ) -> Result<Option<ObjectInfo>, Error>;

    /// Uploads `body` to `bucket/key`.
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), Error>;

    /// The object at `bucket/key`, or `None` when there is none.
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, Error>;

    /// Deletes `bucket/key`; nothing happens when it is absent.
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), Error>;
}

/// What running a command (or its sim stand-in) produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// stdout and stderr, as text, for the journal.
    pub log: String,
}

/// How far a copy of a data set is behind the active copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaReading {
    /// The replication lag; `None` when replication does not feed this copy (stopped,
    /// or the copy is not a replica).
    pub lag: Option<Duration>,
    /// How many writes the copy lacks, when the provider can count them (the sim can).
    pub behind_writes: Option<u64>,
    /// Replication itself is stopped: a resync does not make this copy catch up.
    pub stopped: bool,
}

impl ReplicaReading {
    /// True when the copy is known to hold every write of the active copy.
    pub fn caught_up(&self) -> bool {
        match (self.behind_writes, self.lag) {
            (Some(behind), _) => behind == 0,
            (None, Some(lag)) => lag.is_zero(),
            (None, None) => false,
        }
    }

    /// How far behind the copy is, in words: `12 write(s) behind`, `lag 3s`,
    /// `replication does not feed it`.
    pub fn gap(&self) -> String {
        let feed = match self.lag {
            Some(lag) => format!("lag {}", crate::duration::format_duration(lag)),
            None if self.stopped => "replication stopped".to_string(),
            None => "replication does not feed it".to_string(),
        };
        match self.behind_writes {
            Some(behind) => format!("{behind} write(s) behind, {feed}"),
            None => feed,
        }
    }
}

/// The outcome of one health probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub healthy: bool,
    pub detail: String,
    pub latency: Duration,
}

/// Brings services up, restores them, runs scenario commands, and probes health.
#[async_trait]
pub trait ServiceRuntime: Send + Sync {
    /// Brings `service` up in `region` (running `command` when there is one, giving
    /// it at most `timeout`).
    async fn activate(
        &self,
        service: &str,
        region: &str,
        command: Option<&[String]>,
        timeout: Duration,
    ) -> Result<Output, Error>;

    /// Brings an Aurora service up in `region` by moving its global cluster's writer
    /// there as `how` says (`accept_data_loss`: a failover may lose the writes not yet
    /// replicated). A runtime without Aurora brings it up like a service without an
    /// `activate` command.
    async fn move_aurora(
        &self,
        service: &str,
        region: &str,
        how: AuroraMove,
        accept_data_loss: bool,
        timeout: Duration,
    ) -> Result<Output, Error> {
        let _ = (how, accept_data_loss);
        self.activate(service, region, None, timeout).await
    }

    /// Whether the writer of the Aurora service's global cluster can be switched over
    /// to its cluster in `region` without leaving writes behind: every declared
    /// cluster is a member. A runtime without Aurora has nothing to check.
    async fn check_members(&self, service: &str, region: &str) -> Result<String, Error> {
        let _ = (service, region);
        Ok(String::new())
    }

    /// Loads `backup` into `service` in `region` (running `command` when there is one,
    /// giving it at most `timeout`).
    async fn restore(
        &self,
        service: &str,
        region: &str,
        backup: &str,
        command: Option<&[String]>,
        timeout: Duration,
    ) -> Result<Output, Error>;

    /// Fences, demotes or stops `service` in `region` (running `command`), giving it
    /// at most `timeout`.
    async fn deactivate(
        &self,
        service: &str,
        region: &str,
        command: &[String],
        timeout: Duration,
    ) -> Result<Output, Error>;

    /// Makes the copy of `service` in `region` a replica of the active one (running
    /// `command`), giving it at most `timeout`.
    async fn resync(
        &self,
        service: &str,
        region: &str,
        command: &[String],
        timeout: Duration,
    ) -> Result<Output, Error>;

    /// Backs `service` up in `region` (running `command`, giving it at most `timeout`);
    /// the backup is to land under `backups`, which the caller checks.
    async fn backup(
        &self,
        service: &str,
        region: &str,
        command: &[String],
        backups: &[BackupLocation],
        timeout: Duration,
    ) -> Result<Output, Error>;

    /// How far the copy of `data` in `region` is behind the active copy: what its
    /// `lag` probe reads (`None` when it declares none).
    async fn replication(
        &self,
        data: &DataSet,
        region: &str,
        env: &Environment,
    ) -> Result<Option<ReplicaReading>, Error>;

    /// Runs a scenario's own command.
    async fn run(&self, argv: &[String], timeout: Option<Duration>) -> Result<Output, Error>;

    /// Probes `service` in `region` once.
    async fn probe(
        &self,
        service: &str,
        region: &str,
        probe: Option<&HealthProbe>,
    ) -> Result<ProbeResult, Error>;

    /// Probes `service` in `region` where it is not active (a standby, such as home
    /// before a failback): whether it could serve there once activated.
    async fn probe_standby(
        &self,
        service: &str,
        region: &str,
        probe: Option<&HealthProbe>,
    ) -> Result<ProbeResult, Error> {
        self.probe(service, region, probe).await
    }

    /// The error rate a trigger watches, from 0 to 1: what its `probe` reads.
    async fn error_rate(
        &self,
        env: &Environment,
        trigger: &str,
        probe: Option<&ErrorRateProbe>,
    ) -> Result<f64, Error>;

    /// What a probe with an `until` condition is judged on: what it printed
    /// (`output`). The sim answers instead the value set for `probe` (`health:api`,
    /// `check:NAME`; `drplan sim set --probe`), or `None` when none is: the condition
    /// is then taken as met.
    async fn until_output(&self, _probe: &str, output: String) -> Result<Option<String>, Error> {
        Ok(Some(output))
    }

    /// The body `url` answers with (a 2xx status), what a URL check with an `until`
    /// condition is judged on; the sim answers nothing (its value per probe stands in,
    /// see [`Self::until_output`]).
    async fn read_url(&self, url: &str, timeout: Duration) -> Result<String, Error>;

    /// Whether `region` answers at all.
    async fn region_up(&self, region: &str) -> Result<bool, Error>;

    /// Where `service` is active, when the runtime can tell (the sim world can; real
    /// services are tracked in the state file instead).
    async fn placement(&self, service: &str) -> Result<Option<String>, Error>;

    /// Checks that `url` answers `expect` (within `max_latency`), for the checklist,
    /// giving it at most `timeout`.
    async fn check_url(
        &self,
        url: &str,
        expect: u16,
        max_latency: Option<Duration>,
        timeout: Duration,
    ) -> Result<ProbeResult, Error>;
}

/// The state of an alarm, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Alarm => "ALARM",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

/// Reads the alarms that alarm triggers watch.
#[async_trait]
pub trait Alarms: Send + Sync {
    /// The current state of `alarm`.
    async fn state(&self, env: &Environment, alarm: &AlarmProbe) -> Result<AlarmState, Error>;
}

/// Delivers the communication timeline.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends `body` (JSON) to the audience of `entry`.
    async fn send(&self, entry: &Notification, body: &serde_json::Value) -> Result<(), Error>;
}

/// The providers an apply (or observe, verify, watch) works through.
#[derive(Clone)]
pub struct Runtime {
    pub dns: Arc<dyn DnsProvider>,
    pub storage: Arc<dyn ObjectStore>,
    pub services: Arc<dyn ServiceRuntime>,
    pub notifier: Arc<dyn Notifier>,
    /// CloudWatch (or the sim's alarms); `None` when nothing declares an alarm trigger.
    pub alarms: Option<Arc<dyn Alarms>>,
}
