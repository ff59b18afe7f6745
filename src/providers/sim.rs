//! The sim world: a file-backed stand-in for DNS, object storage and services, so that
//! plans, applies and drills run without any cloud account.
//!
//! The world of an environment lives in `.drplan/sim/<environment>.json`: which regions
//! are up, where each service is active and where it is marked down, the weighted record
//! sets of each DNS record, backup objects with their timestamps, the copies of each
//! replicated data set ([`sim_data`](super::sim_data)), and probe latency and fault
//! rate. Every change is saved before it returns: a provider's as one line appended
//! to the world's change log ([`sim_changes`](super::sim_changes)), any other as a
//! whole write. Commands are not run: the sim appends them to the world's `log` instead.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::sim_aurora::SimGlobalCluster;
use super::sim_changes::{self, Change, Stamp, Touched};
use super::sim_data::SimData;
use super::{
    AlarmState, Alarms, DnsProvider, Notifier, ObjectInfo, ObjectStore, Output, ProbeResult,
    RecordChange, ReplicaReading, ServiceRuntime, StoredObject,
};
use crate::error::Error;
use crate::fsio::{Durability, read_optional, write_json_atomic};
use crate::model::until::verdict;
use crate::model::{
    AlarmProbe, AuroraCall, AuroraMove, BackupLocation, DataMethod, DataSet, DnsRecord,
    Environment, ErrorRateProbe, HealthProbe, Notification, NotifyVia,
};
use crate::model::{RecordSet, weighted_sets};

/// How old the backups of a nominal world are (at most half the data set's RPO).
const NOMINAL_BACKUP_AGE: Duration = Duration::from_mins(5);

/// The help line of every error about a world that no longer matches its environment.
const REINIT_HELP: &str =
    "if the environment file changed, recreate the world with `drplan sim init FILE --force`";

/// Everything the sim knows about one environment's world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimWorld {
    pub environment: String,
    pub regions: BTreeMap<String, SimRegion>,
    pub services: BTreeMap<String, SimService>,
    /// DNS record key → its weighted record sets.
    pub records: BTreeMap<String, Vec<RecordSet>>,
    /// `s3://bucket/key` → when it was last modified.
    pub objects: BTreeMap<String, Modified>,
    /// `s3://bucket/key` → what was uploaded there (the maintenance page and what it
    /// replaced); backups have no content in the sim.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub contents: BTreeMap<String, SimContent>,
    /// Replicated data set → its copies.
    #[serde(default)]
    pub data: BTreeMap<String, SimData>,
    /// Aurora service → its global database: the writer and the members.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aurora: BTreeMap<String, SimGlobalCluster>,
    /// How long every health probe takes to answer, in milliseconds.
    pub latency_ms: u64,
    /// The probability (0 to 1) that an activation, a restore or a probe fails.
    pub fault_rate: f64,
    /// Alarms set with `drplan sim set --alarm`; any other alarm follows the services.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alarms: BTreeMap<String, AlarmState>,
    /// What probes that wait until a condition answer (`health:api`, `check:NAME`),
    /// set with `drplan sim set --probe`; a probe without one finds its condition met.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub probe_values: BTreeMap<String, String>,
    /// Every command the sim stood in for, in order: `<action>: <argv>`.
    pub log: Vec<String>,
    /// How many changes the sim provider has logged ([`sim_changes`](super::sim_changes)).
    #[serde(default)]
    pub serial: u64,
    /// Watchers cut off with `drplan sim set --watcher NAME --partitioned`: every probe
    /// they make fails.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub partitioned_watchers: BTreeSet<String>,
}

/// One region of the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimRegion {
    pub up: bool,
}

/// One service of the world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimService {
    /// The region the service is active in.
    pub active: String,
    /// The regions where the service itself is broken, whatever its region does (until
    /// a restore there rebuilds it).
    #[serde(default)]
    pub down_in: BTreeSet<String>,
    /// This service's own fault rate, in place of the world's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_rate: Option<f64>,
}

/// What an object holds: its content type and its body as text (the sim keeps pages,
/// not binaries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimContent {
    pub content_type: String,
    pub text: String,
}

/// When an object was last modified (RFC 3339 in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Modified(#[serde(with = "crate::timestamp")] pub SystemTime);

impl SimWorld {
    /// The world as it should be: every region up, every service active at home and
    /// routed there, and one backup per backup location, five minutes old (or half
    /// the data set's RPO when that is shorter, so that a new world breaches no RPO).
    pub fn nominal(env: &Environment, now: SystemTime) -> Self {
        let home = &env.home.value;
        let taken = |rpo: Duration| {
            now.checked_sub(NOMINAL_BACKUP_AGE.min(rpo / 2))
                .unwrap_or(SystemTime::UNIX_EPOCH)
        };
        Self {
            environment: env.name.clone(),
            regions: env
                .regions
                .iter()
                .map(|r| (r.name.value.clone(), SimRegion { up: true }))
                .collect(),
            services: env
                .services
                .iter()
                .map(|s| {
                    (
                        s.name.value.clone(),
                        SimService {
                            active: home.clone(),
                            down_in: BTreeSet::new(),
                            fault_rate: None,
                        },
                    )
                })
                .collect(),
            records: env
                .records
                .iter()
                .map(|r| (r.key.value.clone(), weighted_sets(r, home, home)))
                .collect(),
            objects: env
                .data
                .iter()
                .filter_map(|data| Some((data.backups.as_ref()?, taken(data.rpo))))
                .map(|(location, taken)| (backup_url(location, &env.name, taken), Modified(taken)))
                .collect(),
            contents: BTreeMap::new(),
            data: env
                .data
                .iter()
                .filter(|data| data.method == DataMethod::Replicate)
                .filter_map(|data| {
                    let service = env.service(&data.service.value)?;
                    let regions = service.regions.iter().map(|r| r.value.clone());
                    let copies = SimData::nominal(&service.name.value, home, regions);
                    Some((data.name.value.clone(), copies))
                })
                .collect(),
            aurora: env
                .services
                .iter()
                .filter_map(|s| {
                    let aurora = s.aurora.as_ref()?;
                    Some((
                        s.name.value.clone(),
                        SimGlobalCluster::nominal(aurora, home),
                    ))
                })
                .collect(),
            latency_ms: 0,
            fault_rate: 0.0,
            alarms: BTreeMap::new(),
            probe_values: BTreeMap::new(),
            log: Vec::new(),
            serial: 0,
            partitioned_watchers: BTreeSet::new(),
        }
    }

    /// Reads the world at `path`, with its change log replayed; a missing file is an
    /// error telling how to create it.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = read_optional(path)?.ok_or_else(|| Error::NoSimWorld {
            path: path.to_path_buf(),
        })?;
        let mut world: Self =
            serde_json::from_str(&text).map_err(|error| Error::CorruptSimWorld {
                path: path.to_path_buf(),
                detail: error.to_string(),
            })?;
        if let Some(log) = read_optional(&sim_changes::log_path(path))? {
            sim_changes::replay(&mut world, &log);
        }
        Ok(world)
    }

    /// Changes the world saved at `path`: first carries what replication delivered by
    /// now (lags times `scale`), so a change such as a region going down freezes the
    /// replicas where they really are.
    ///
    /// The whole read-change-write holds an exclusive lock on `PATH.lock`, so writes
    /// made from another process (`drplan sim set` while an apply runs) are never
    /// overwritten.
    pub fn edit<T>(
        path: &Path,
        scale: f64,
        change: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let lock = lock_world(path)?;
        let mut world = Self::load(path)?;
        world.advance_data(SystemTime::now(), scale);
        let value = change(&mut world)?;
        world.save(path)?;
        drop(lock);
        Ok(value)
    }

    /// Writes the whole world to `path` atomically, and removes its change log (which
    /// it holds). Not synced: the sim is a rehearsal, so it need survive a killed
    /// process (which the rename covers), not a power loss.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        write_json_atomic(path, self, Durability::ProcessKill)?;
        let log = sim_changes::log_path(path);
        match std::fs::remove_file(&log) {
            Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::Write { path: log, source })
            }
            _ => Ok(()),
        }
    }

    /// Carries what replication has delivered by `now` (lags times `scale`).
    pub fn advance_data(&mut self, now: SystemTime, scale: f64) {
        let regions = &self.regions;
        let up = |region: &str| regions.get(region).is_some_and(|r| r.up);
        for data in self.data.values_mut() {
            data.advance(now, scale, &up);
        }
    }

    /// The replicated data set `name`.
    pub fn data_mut(&mut self, name: &str) -> Result<&mut SimData, Error> {
        lookup_mut(&mut self.data, "replicated data set", name)
    }

    /// Makes `count` writes on the active copy of `data`; refused when its region is
    /// down or the copy is fenced.
    pub fn write(&mut self, data: &str, count: u64, now: SystemTime) -> Result<(), Error> {
        let set = lookup(&self.data, "replicated data set", data)?;
        let region = set.active.clone();
        self.check_reachable(&set.service.clone(), &region)?;
        self.data_mut(data)?
            .write(count, now)
            .map_err(|reason| Error::SimWriteRefused {
                data: data.to_string(),
                reason,
            })
    }

    /// The replicated data sets of `service`.
    fn data_of<'w>(&'w mut self, service: &'w str) -> impl Iterator<Item = &'w mut SimData> {
        self.data.values_mut().filter(move |d| d.service == service)
    }

    /// Fences the service's data copies in `region`.
    fn fence(&mut self, service: &str, region: &str) {
        for data in self.data_of(service) {
            data.fence(region);
        }
    }

    /// Makes the service's data copies in `region`, and its Aurora cluster there, follow
    /// the active ones again.
    fn resync(&mut self, service: &str, region: &str) {
        for data in self.data_of(service) {
            data.resync(region);
        }
        if let Some(global) = self.aurora.get_mut(service) {
            // A region without a declared cluster has nothing to rejoin.
            global.rejoin(region);
        }
    }

    /// Makes the cluster of the Aurora service `service` in `region` a member of its
    /// global cluster again (`drplan sim set --rejoin`).
    pub fn rejoin(&mut self, service: &str, region: &str) -> Result<(), Error> {
        let known: Vec<String> = self.aurora.keys().cloned().collect();
        let global = self
            .aurora
            .get_mut(service)
            .ok_or_else(|| unknown("Aurora service", service, &known))?;
        if global.rejoin(region) {
            return Ok(());
        }
        let known: Vec<String> = global.clusters.iter().cloned().collect();
        Err(unknown(
            &format!("region with a cluster of {service}"),
            region,
            &known,
        ))
    }

    /// Marks `region` up or down.
    pub fn set_region(&mut self, region: &str, up: bool) -> Result<(), Error> {
        lookup_mut(&mut self.regions, "region", region)?.up = up;
        Ok(())
    }

    /// Marks `service` up or down in `region`, or in every region when `region` is `None`.
    pub fn set_service(
        &mut self,
        service: &str,
        region: Option<&str>,
        up: bool,
    ) -> Result<(), Error> {
        let regions: Vec<String> = match region {
            Some(region) => {
                vec![lookup(&self.regions, "region", region).map(|_| region.to_string())?]
            }
            None => self.regions.keys().cloned().collect(),
        };
        let down_in = &mut lookup_mut(&mut self.services, "service", service)?.down_in;
        for region in regions {
            if up {
                down_in.remove(&region);
            } else {
                down_in.insert(region);
            }
        }
        Ok(())
    }

    /// Cuts `watcher` off (every probe it makes fails), or reconnects it.
    pub fn set_partitioned(&mut self, watcher: &str, partitioned: bool) {
        if partitioned {
            self.partitioned_watchers.insert(watcher.to_string());
        } else {
            self.partitioned_watchers.remove(watcher);
        }
    }

    /// Makes every object `by` older.
    pub fn age_backups(&mut self, by: Duration) {
        for modified in self.objects.values_mut() {
            modified.0 = modified.0.checked_sub(by).unwrap_or(SystemTime::UNIX_EPOCH);
        }
    }

    /// Sets how long every probe takes to answer.
    pub fn set_latency(&mut self, latency: Duration) {
        self.latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    }

    /// Sets the probability that an activation, a restore or a probe fails: of
    /// `service` only, when given (in place of the world's), else of every service
    /// without its own.
    pub fn set_fault_rate(&mut self, rate: f64, service: Option<&str>) -> Result<(), Error> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(Error::Usage {
                message: format!("fault rate {rate} is not between 0 and 1"),
                help: "give a probability such as 0, 0.1 or 1".to_string(),
            });
        }
        match service {
            Some(service) => {
                lookup_mut(&mut self.services, "service", service)?.fault_rate = Some(rate);
            }
            None => self.fault_rate = rate,
        }
        Ok(())
    }

    /// Sets what the probe `name` (one of `known`, the environment's probes with an
    /// `until` condition) answers.
    pub fn set_probe_value(
        &mut self,
        name: &str,
        value: &str,
        known: &[String],
    ) -> Result<(), Error> {
        if !known.iter().any(|k| k == name) {
            let help = match crate::suggest::did_you_mean(name, known.iter().map(String::as_str)) {
                Some(close) => format!("did you mean `{close}`?"),
                None if known.is_empty() => {
                    "no probe of the environment declares `until`".to_string()
                }
                None => format!("the probes with an `until` condition: {}", known.join(", ")),
            };
            return Err(Error::UnknownSimName {
                kind: "probe".to_string(),
                name: name.to_string(),
                help,
            });
        }
        self.probe_values
            .insert(name.to_string(), value.to_string());
        Ok(())
    }

    /// The fault rate of `service`: its own, else the world's.
    fn fault_rate_of(&self, service: &str) -> f64 {
        self.services
            .get(service)
            .and_then(|s| s.fault_rate)
            .unwrap_or(self.fault_rate)
    }

    /// The newest object under `location`, modified before `before` when given.
    pub fn newest(
        &self,
        location: &BackupLocation,
        before: Option<SystemTime>,
    ) -> Option<ObjectInfo> {
        let prefix = location.url();
        self.objects
            .iter()
            .filter(|(url, modified)| {
                url.starts_with(&prefix) && before.is_none_or(|before| modified.0 < before)
            })
            .max_by_key(|(url, modified)| (modified.0, *url))
            .map(|(url, modified)| ObjectInfo {
                url: url.clone(),
                last_modified: modified.0,
            })
    }

    /// Why `service` is not healthy in `region`, or `None` when it is.
    pub fn unhealthy_reason(&self, service: &str, region: &str) -> Result<Option<String>, Error> {
        let active = &lookup(&self.services, "service", service)?.active;
        Ok(self.standby_failure(service, region)?.or_else(|| {
            (active != region).then(|| format!("{service} is active in {active}, not in {region}"))
        }))
    }

    /// Why `service` could not serve from `region` even once active there (the region
    /// is down, or the service is marked down there), or `None` when it could: what a
    /// probe of a standby, such as the home region before a failback, finds.
    pub fn standby_failure(&self, service: &str, region: &str) -> Result<Option<String>, Error> {
        let region_up = lookup(&self.regions, "region", region)?.up;
        let state = lookup(&self.services, "service", service)?;
        Ok(if !region_up {
            Some(format!("region {region} is down"))
        } else if state.down_in.contains(region) {
            Some(format!("{service} is marked down in {region}"))
        } else {
            None
        })
    }

    /// Why a request for `host` would fail: it routes nowhere, or to a region (any
    /// with weight above 0 gets its share) where its service cannot answer; `None`
    /// when every share would be answered. An active-active member serves all the time,
    /// so it fails only when it is down; any other region only where the service is
    /// active.
    pub fn route_failure(&self, host: &Host) -> Result<Option<String>, Error> {
        let sets = self
            .records
            .get(&host.record)
            .map_or(&[][..], Vec::as_slice);
        let routed: Vec<&str> = sets
            .iter()
            .filter(|set| set.weight > 0)
            .map(|set| set.region.as_str())
            .collect();
        if routed.is_empty() {
            return Ok(Some(format!("DNS record {} routes nowhere", host.record)));
        }
        for region in routed {
            let failure = if host.members.iter().any(|m| m == region) {
                self.standby_failure(&host.service, region)?
            } else {
                self.probe_failure(&host.service, region)?
            };
            if failure.is_some() {
                return Ok(failure);
            }
        }
        Ok(None)
    }

    /// Why a probe of `service` in `region` fails: the service is unhealthy there, or
    /// an injected fault strikes (with the world's fault rate).
    pub fn probe_failure(&self, service: &str, region: &str) -> Result<Option<String>, Error> {
        let rate = self.fault_rate_of(service);
        let fault = || fault_strikes(rate).then(|| format!("injected fault (fault rate {rate})"));
        Ok(self.unhealthy_reason(service, region)?.or_else(fault))
    }

    /// Checks that `service` can be brought up in `region`: both known, the region up.
    fn check_reachable(&self, service: &str, region: &str) -> Result<(), Error> {
        lookup(&self.services, "service", service)?;
        if lookup(&self.regions, "region", region)?.up {
            Ok(())
        } else {
            Err(Error::SimRegionDown {
                service: service.to_string(),
                region: region.to_string(),
            })
        }
    }

    fn require_object(&self, url: &str) -> Result<(), Error> {
        if self.objects.contains_key(url) {
            Ok(())
        } else {
            Err(Error::NotFound {
                provider: "sim",
                message: format!("there is no backup {url} in the sim world"),
                help: "see the backups with `drplan sim show FILE`",
            })
        }
    }
}

/// The exclusive lock on the world at `path` (`PATH.lock`), held until dropped.
fn lock_world(path: &Path) -> Result<std::fs::File, Error> {
    let lock_path = path.with_extension("lock");
    lock_file(&lock_path).map_err(|source| Error::Write {
        path: lock_path,
        source,
    })
}

/// `path` opened (created 0600 when missing) and locked exclusively until dropped.
fn lock_file(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)?;
    file.lock()?;
    Ok(file)
}

/// `<location><environment>-<YYYYMMDDTHHMMSSZ>.dump`.
fn backup_url(location: &BackupLocation, environment: &str, taken: SystemTime) -> String {
    let stamp: String = humantime::format_rfc3339_seconds(taken)
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    format!("{}{environment}-{stamp}.dump", location.url())
}

/// The weights of record sets as `region=weight`, space separated.
pub fn describe_weights(sets: &[RecordSet]) -> String {
    sets.iter()
        .map(|set| format!("{}={}", set.region, set.weight))
        .collect::<Vec<_>>()
        .join(" ")
}

fn lookup<'w, T>(map: &'w BTreeMap<String, T>, kind: &str, name: &str) -> Result<&'w T, Error> {
    map.get(name).ok_or_else(|| unknown(kind, name, map.keys()))
}

fn lookup_mut<'w, T>(
    map: &'w mut BTreeMap<String, T>,
    kind: &str,
    name: &str,
) -> Result<&'w mut T, Error> {
    // Checked first, so that the known names are gathered only for an error.
    if !map.contains_key(name) {
        return Err(unknown(kind, name, map.keys()));
    }
    map.get_mut(name)
        .ok_or_else(|| unknown(kind, name, std::iter::empty()))
}

/// An unknown region or service, with the closest known name when there is one.
fn unknown<'k>(kind: &str, name: &str, known: impl IntoIterator<Item = &'k String>) -> Error {
    let known: Vec<&str> = known.into_iter().map(String::as_str).collect();
    let help = match crate::suggest::did_you_mean(name, known.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!("the sim world has: {}; {REINIT_HELP}", known.join(", ")),
    };
    Error::UnknownSimName {
        kind: kind.to_string(),
        name: name.to_string(),
        help,
    }
}

/// `<action>` alone, or `<action>: <argv joined by spaces>` when there is a command.
fn log_line(action: String, command: Option<&[String]>) -> String {
    match command {
        Some(argv) => format!("{action}: {}", argv.join(" ")),
        None => action,
    }
}

/// Whether an injected fault strikes, with probability `rate`.
fn fault_strikes(rate: f64) -> bool {
    rate > 0.0 && uniform() < rate
}

/// The environment variable that makes injected faults replay: a number seeds the
/// sequence they are drawn from, so a rehearsal with the same seed meets the same
/// faults (in a run whose faulty steps run in the same order).
pub const SEED_VARIABLE: &str = "DRPLAN_SIM_SEED";

/// A number in [0, 1) from 48 leading bits: of the seeded sequence when
/// [`SEED_VARIABLE`] is set, else of a v4 UUID.
fn uniform() -> f64 {
    static SEEDED: OnceLock<Option<std::sync::Mutex<u64>>> = OnceLock::new();
    let seeded = SEEDED.get_or_init(|| {
        let seed = std::env::var(SEED_VARIABLE)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()?;
        Some(std::sync::Mutex::new(seed))
    });
    let bits = match seeded {
        Some(state) => splitmix64(&mut state.lock().unwrap_or_else(PoisonError::into_inner)),
        None => uuid::Uuid::new_v4().as_u64_pair().0,
    };
    (bits >> 16) as f64 / (1_u64 << 48) as f64
}

/// The next number of the `SplitMix64` sequence at `state`.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How long a service's lifecycle actions take in the sim (before scaling).
#[derive(Debug, Clone)]
struct Estimates {
    /// Region → how long activating there takes (by its standby, unless declared).
    activate: BTreeMap<String, Duration>,
    deactivate: Duration,
    resync: Duration,
    backup: Duration,
}

/// The sim provider: DNS, object storage and services of one world, shared by clones.
#[derive(Debug, Clone)]
pub struct Sim {
    path: PathBuf,
    world: Arc<Mutex<Cached>>,
    /// Service → how long its lifecycle actions take (before scaling).
    estimates: BTreeMap<String, Estimates>,
    /// DNS name → the record it is, for URL checks.
    hosts: BTreeMap<String, Host>,
    /// Multiplies every estimate: 0 for tests, 0.01 for quick drills, 1 for real time.
    time_scale: f64,
}

/// A DNS name of the environment, for URL checks: its record (by key), the service it
/// follows, and the regions that serve it all the time (active-active: those the record
/// weighs above 0; none for active-passive).
#[derive(Debug, Clone)]
pub struct Host {
    pub record: String,
    pub service: String,
    pub members: Vec<String>,
}

impl Host {
    fn of(record: &DnsRecord) -> Self {
        Self {
            record: record.key.value.clone(),
            service: record.follows.value.clone(),
            members: record
                .weights
                .iter()
                .filter(|(_, weight)| *weight > 0)
                .map(|(region, _)| region.value.clone())
                .collect(),
        }
    }
}

/// The world as this process last read or wrote it, and what its files looked like
/// then: when they look otherwise, another process changed it, and it is read again.
#[derive(Debug)]
struct Cached {
    path: PathBuf,
    world: SimWorld,
    seen: Option<Stamp>,
}

impl Cached {
    /// Under the world's file lock: reads the world again if another process changed
    /// it, compacting its change log (so that appends only ever follow whole lines).
    fn refresh(&mut self) -> Result<(), Error> {
        if self.seen != Some(Stamp::of(&self.path)?) {
            self.world = SimWorld::load(&self.path)?;
            self.save()?;
        }
        Ok(())
    }

    fn save(&mut self) -> Result<(), Error> {
        self.world.save(&self.path)?;
        self.seen = Some(Stamp::of(&self.path)?);
        Ok(())
    }

    /// Puts back the world as saved, after a change that failed half-way.
    fn revert(&mut self) -> Result<(), Error> {
        self.seen = None;
        self.world = SimWorld::load(&self.path)?;
        Ok(())
    }
}

impl Drop for Cached {
    /// Leaves the world as one file: a reader that does not replay the change log (a
    /// person, a test) sees it whole — also when the log is what a killed process left
    /// and this one changed nothing (a resume with nothing left to run). Left as it is
    /// when the lock cannot be had.
    fn drop(&mut self) {
        if Stamp::of(&self.path).is_ok_and(|stamp| stamp.has_log())
            && let Ok(_lock) = lock_world(&self.path)
            && let Ok(world) = SimWorld::load(&self.path)
        {
            let _ = world.save(&self.path);
        }
    }
}

impl Sim {
    /// Opens the world of `env` at its usual place (`.drplan/sim/<environment>.json`).
    pub fn open(env: &Environment, time_scale: f64) -> Result<Self, Error> {
        Self::open_at(crate::paths::sim_file(&env.name), env, time_scale)
    }

    /// Opens the world at `path`; activations and restores take each service's
    /// estimate times `time_scale`.
    pub fn open_at(path: PathBuf, env: &Environment, time_scale: f64) -> Result<Self, Error> {
        if !(time_scale.is_finite() && time_scale >= 0.0) {
            return Err(Error::Usage {
                message: format!("time scale {time_scale} is not a finite number of at least 0"),
                help: "use 0 for no waiting, 1 for real time".to_string(),
            });
        }
        let world = SimWorld::load(&path)?;
        Ok(Self {
            world: Arc::new(Mutex::new(Cached {
                path: path.clone(),
                world,
                seen: None,
            })),
            path,
            estimates: env
                .services
                .iter()
                .map(|s| {
                    let activate = s.regions.iter().map(|r| {
                        let standby = env.region(&r.value).and_then(|r| r.standby.as_deref());
                        (r.value.clone(), s.activation_estimate(standby))
                    });
                    let estimates = Estimates {
                        activate: activate.collect(),
                        deactivate: s.deactivate_estimate(),
                        resync: s.resync_estimate(),
                        backup: s.backup_estimate(),
                    };
                    (s.name.value.clone(), estimates)
                })
                .collect(),
            hosts: env
                .records
                .iter()
                .map(|r| (r.name.trim_end_matches('.').to_string(), Host::of(r)))
                .collect(),
            time_scale,
        })
    }

    /// A copy of the world as it is now.
    pub async fn snapshot(&self) -> SimWorld {
        self.world.lock().await.world.clone()
    }

    /// Changes the world as saved (other processes may have changed it since it was
    /// read) and saves it whole before returning; when `change` or the save fails, the
    /// world is left as it was.
    pub async fn update<T>(
        &self,
        change: impl FnOnce(&mut SimWorld) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.change(None, change).await
    }

    /// [`update`](Self::update) for a change that alters only the `touched` entries, the
    /// data sets and the log: saved as one line appended to the world's change log.
    async fn update_entries<T>(
        &self,
        touched: &[Touched<'_>],
        change: impl FnOnce(&mut SimWorld) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.change(Some(touched), change).await
    }

    /// Under the world's file lock: carries replication up to now, makes the change,
    /// and saves it (`touched`: as an appended line, unless the log outgrew the world).
    async fn change<T>(
        &self,
        touched: Option<&[Touched<'_>]>,
        change: impl FnOnce(&mut SimWorld) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut cached = self.world.lock().await;
        let _lock = lock_world(&self.path)?;
        cached.refresh()?;
        let log_from = cached.world.log.len();
        cached
            .world
            .advance_data(SystemTime::now(), self.time_scale);
        let saved = change(&mut cached.world).and_then(|value| {
            cached.world.serial += 1;
            match touched {
                Some(touched) if !cached.seen.is_some_and(|s| s.log_outgrew_world()) => {
                    let line = Change::of(&cached.world, touched, log_from);
                    sim_changes::append(&self.path, &line)?;
                    cached.seen = Some(Stamp::of(&self.path)?);
                }
                _ => cached.save()?,
            }
            Ok(value)
        });
        if saved.is_err() {
            cached.revert()?;
        }
        saved
    }

    async fn view<T>(&self, look: impl FnOnce(&SimWorld) -> T) -> T {
        look(&self.world.lock().await.world)
    }

    /// What the probe `name` answers, when a value is set.
    async fn value(&self, name: &str) -> Option<String> {
        self.view(|world| world.probe_values.get(name).cloned())
            .await
    }

    /// Activates or restores: checks the world, waits the service's scaled estimate
    /// (without holding the world), then makes `region` the active one, logs `line`,
    /// and makes the rest of the move (`then`) in the same change.
    async fn bring_up(
        &self,
        service: &str,
        region: &str,
        line: String,
        precondition: impl FnOnce(&SimWorld) -> Result<(), Error>,
        then: impl FnOnce(&mut SimWorld),
    ) -> Result<Output, Error> {
        let estimate = lookup(&self.estimates, "service", service)?;
        let fault_rate = self
            .view(|world| {
                world.check_reachable(service, region)?;
                precondition(world).map(|()| world.fault_rate_of(service))
            })
            .await?;
        if fault_strikes(fault_rate) {
            return Err(Error::InjectedFault { action: line });
        }
        let activate = estimate.activate.get(region).copied().unwrap_or_default();
        tokio::time::sleep(self.scaled(activate)).await;
        let (now, scale) = (SystemTime::now(), self.time_scale);
        let losses = self
            .update_entries(&[Touched::Service(service)], |world| {
                lookup_mut(&mut world.services, "service", service)?.active = region.to_string();
                world.log.push(line.clone());
                let names: Vec<String> = world.data.keys().cloned().collect();
                let mut losses = Vec::new();
                for name in names {
                    let data = world.data_mut(&name)?;
                    if data.service == service {
                        let lost = data.promote(region, now, scale);
                        if lost > 0 {
                            losses.push(format!(
                                "{name}: {lost} write(s) lost by promoting the copy in {region}"
                            ));
                        }
                    }
                }
                then(world);
                Ok(losses)
            })
            .await?;
        let log = std::iter::once(line)
            .chain(losses)
            .collect::<Vec<_>>()
            .join("; ");
        Ok(Output { log })
    }

    /// Fences or resyncs the copies of `service`'s data in `region`: checks that the
    /// service answers there (its region up, itself not marked down; for a resync the
    /// active one too), waits the scaled estimate, then changes the copies and logs
    /// `line`.
    async fn lifecycle(
        &self,
        service: &str,
        region: &str,
        line: String,
        estimate: Duration,
        change: fn(&mut SimWorld, &str, &str),
    ) -> Result<Output, Error> {
        let fault_rate = self
            .view(|world| {
                world.check_reachable(service, region)?;
                match world.standby_failure(service, region)? {
                    Some(reason) => Err(Error::SimUnreachable {
                        action: line.clone(),
                        reason,
                    }),
                    None => Ok(world.fault_rate_of(service)),
                }
            })
            .await?;
        if fault_strikes(fault_rate) {
            return Err(Error::InjectedFault { action: line });
        }
        tokio::time::sleep(self.scaled(estimate)).await;
        self.update_entries(&[], |world| {
            change(world, service, region);
            world.log.push(line.clone());
            Ok(())
        })
        .await?;
        Ok(Output { log: line })
    }

    /// Waits the world's probe latency, at most `limit`; returns the time waited and,
    /// when the limit cut it short, why there was no answer.
    async fn wait_latency(&self, limit: Option<Duration>) -> (Duration, Option<String>) {
        let latency = Duration::from_millis(self.view(|world| world.latency_ms).await);
        let waited = limit.map_or(latency, |limit| latency.min(limit));
        tokio::time::sleep(waited).await;
        (
            waited,
            (waited < latency).then(|| {
                format!(
                    "no answer within {}",
                    crate::duration::format_duration(waited)
                )
            }),
        )
    }

    /// Appends `line` to the world's log.
    async fn log(&self, line: String) -> Result<(), Error> {
        self.update_entries(&[], |world| {
            world.log.push(line);
            Ok(())
        })
        .await
    }

    fn scaled(&self, estimate: Duration) -> Duration {
        Duration::try_from_secs_f64(estimate.as_secs_f64() * self.time_scale)
            .unwrap_or(Duration::MAX)
    }
}

#[async_trait]
impl DnsProvider for Sim {
    async fn read(&self, records: &[DnsRecord]) -> Result<BTreeMap<String, Vec<RecordSet>>, Error> {
        Ok(self
            .view(|world| {
                records
                    .iter()
                    .map(|record| {
                        (
                            record.key.value.clone(),
                            world
                                .records
                                .get(&record.key.value)
                                .cloned()
                                .unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .await)
    }

    async fn apply(&self, changes: &[RecordChange]) -> Result<(), Error> {
        let touched: Vec<Touched> = changes
            .iter()
            .map(|change| Touched::Record(&change.record.key.value))
            .collect();
        self.update_entries(&touched, |world| {
            for change in changes {
                let key = &change.record.key.value;
                world
                    .log
                    .push(format!("dns {key}: {}", describe_weights(&change.after)));
                world.records.insert(key.clone(), change.after.clone());
            }
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl ObjectStore for Sim {
    async fn newest(
        &self,
        location: &BackupLocation,
        before: Option<SystemTime>,
    ) -> Result<Option<ObjectInfo>, Error> {
        Ok(self.view(|world| world.newest(location, before)).await)
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), Error> {
        let url = format!("s3://{bucket}/{key}");
        self.update_entries(&[Touched::Object(&url)], |world| {
            world
                .log
                .push(format!("put {url} ({} bytes, {content_type})", body.len()));
            world
                .objects
                .insert(url.clone(), Modified(SystemTime::now()));
            let content = SimContent {
                content_type: content_type.to_string(),
                text: String::from_utf8_lossy(&body).into_owned(),
            };
            world.contents.insert(url.clone(), content);
            Ok(())
        })
        .await
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, Error> {
        let url = format!("s3://{bucket}/{key}");
        Ok(self
            .view(|world| {
                world.objects.contains_key(&url).then(|| {
                    let content = world.contents.get(&url);
                    StoredObject {
                        body: content.map_or_else(Vec::new, |c| c.text.clone().into_bytes()),
                        content_type: content.map_or_else(
                            || "application/octet-stream".to_string(),
                            |c| c.content_type.clone(),
                        ),
                    }
                })
            })
            .await)
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), Error> {
        let url = format!("s3://{bucket}/{key}");
        self.update_entries(&[Touched::Object(&url)], |world| {
            world.log.push(format!("delete {url}"));
            world.objects.remove(&url);
            world.contents.remove(&url);
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl ServiceRuntime for Sim {
    async fn activate(
        &self,
        service: &str,
        region: &str,
        command: Option<&[String]>,
        _timeout: Duration,
    ) -> Result<Output, Error> {
        let line = log_line(format!("activate {service} {region}"), command);
        self.bring_up(service, region, line, |_| Ok(()), |_| ())
            .await
    }

    /// Refuses a switchover the sim's global cluster would refuse: a target that is
    /// not a member, or the writer's region down.
    async fn check_members(&self, service: &str, region: &str) -> Result<String, Error> {
        let refusal = self
            .view(|world| {
                let global = world.aurora.get(service)?;
                let writer_up = world.regions.get(&global.writer).is_some_and(|r| r.up);
                Some(global.refusal(region, AuroraCall::Switchover, writer_up))
            })
            .await;
        match refusal {
            Some(Some(reason)) => Err(Error::SimUnreachable {
                action: format!("check the members of {service}'s global cluster"),
                reason,
            }),
            Some(None) => Ok(format!("{service} can switch over to {region}")),
            None => Ok(String::new()),
        }
    }

    /// Moves the writer of the service's global cluster the way AWS would (refusing
    /// what AWS refuses), and brings the service up there; the clusters that follow
    /// the new writer are replicas of its data.
    async fn move_aurora(
        &self,
        service: &str,
        region: &str,
        how: AuroraMove,
        accept_data_loss: bool,
        timeout: Duration,
    ) -> Result<Output, Error> {
        let call = AuroraCall::of(how, accept_data_loss);
        let Some(global) = self.view(|world| world.aurora.get(service).cloned()).await else {
            return self.activate(service, region, None, timeout).await;
        };
        let line = format!(
            "{} {} to {service} in {region}",
            call.name(),
            global.global_cluster
        );
        let check = |world: &SimWorld| {
            let global = world.aurora.get(service).unwrap_or(&global);
            let writer_up = world.regions.get(&global.writer).is_some_and(|r| r.up);
            match global.refusal(region, call, writer_up) {
                Some(reason) => Err(Error::SimUnreachable {
                    action: line.clone(),
                    reason,
                }),
                None => Ok(()),
            }
        };
        let moved = |world: &mut SimWorld| {
            let Some(global) = world.aurora.get_mut(service) else {
                return;
            };
            global.apply(region, call);
            let global = global.clone();
            for data in world.data_of(service) {
                for region in data.copies.keys().cloned().collect::<Vec<_>>() {
                    if global.follows(&region) {
                        data.resync(&region);
                    }
                }
            }
        };
        self.bring_up(service, region, line.clone(), check, moved)
            .await
    }

    async fn restore(
        &self,
        service: &str,
        region: &str,
        backup: &str,
        command: Option<&[String]>,
        _timeout: Duration,
    ) -> Result<Output, Error> {
        let line = log_line(format!("restore {service} {region} from {backup}"), command);
        let output = self
            .bring_up(
                service,
                region,
                line,
                |world| world.require_object(backup),
                |_| (),
            )
            .await?;
        // A restore rebuilds the service from its backup: what broke it there is gone.
        self.update_entries(&[Touched::Service(service)], |world| {
            world.set_service(service, Some(region), true)
        })
        .await?;
        Ok(output)
    }

    /// Fences the service's data copies in `region`; fails when the region is down.
    async fn deactivate(
        &self,
        service: &str,
        region: &str,
        command: &[String],
        _timeout: Duration,
    ) -> Result<Output, Error> {
        let line = log_line(format!("deactivate {service} {region}"), Some(command));
        let estimate = lookup(&self.estimates, "service", service)?.deactivate;
        self.lifecycle(service, region, line, estimate, SimWorld::fence)
            .await
    }

    /// Makes the service's data copies in `region` replicas of the active ones.
    async fn resync(
        &self,
        service: &str,
        region: &str,
        command: &[String],
        _timeout: Duration,
    ) -> Result<Output, Error> {
        let line = log_line(format!("resync {service} {region}"), Some(command));
        let estimate = lookup(&self.estimates, "service", service)?.resync;
        let active = self.placement(service).await?.unwrap_or_default();
        self.view(|world| world.check_reachable(service, &active))
            .await?;
        self.lifecycle(service, region, line, estimate, SimWorld::resync)
            .await
    }

    /// A new backup of the service under each location, taken now (when the scaled
    /// estimate has passed), as the command would write it.
    async fn backup(
        &self,
        service: &str,
        region: &str,
        command: &[String],
        backups: &[BackupLocation],
        _timeout: Duration,
    ) -> Result<Output, Error> {
        let line = log_line(format!("backup {service} {region}"), Some(command));
        let estimate = lookup(&self.estimates, "service", service)?.backup;
        self.lifecycle(service, region, line.clone(), estimate, |_, _, _| ())
            .await?;
        let taken = SystemTime::now();
        let environment = self.view(|world| world.environment.clone()).await;
        let urls: Vec<String> = backups
            .iter()
            .map(|location| backup_url(location, &environment, taken))
            .collect();
        let touched: Vec<Touched<'_>> = urls.iter().map(|u| Touched::Object(u)).collect();
        self.update_entries(&touched, |world| {
            for url in &urls {
                world.objects.insert(url.clone(), Modified(taken));
            }
            Ok(())
        })
        .await?;
        Ok(Output { log: line })
    }

    /// Where the copy in `region` stands, from the world (never a real probe).
    async fn replication(
        &self,
        data: &DataSet,
        region: &str,
        _env: &Environment,
    ) -> Result<Option<ReplicaReading>, Error> {
        if let Some(until) = data.lag.as_ref().and_then(|lag| lag.until.as_ref()) {
            let seen = self.value(&format!("lag:{}", data.name.value)).await;
            if let (false, detail) = verdict(until, seen.as_deref()) {
                return Err(Error::UnreadableLag {
                    data: data.name.value.clone(),
                    region: region.to_string(),
                    detail: format!("{detail} (the sim's value)"),
                });
            }
        }
        let state = self
            .update_entries(&[], |world| {
                Ok(world
                    .data
                    .get(&data.name.value)
                    .and_then(|d| d.copy_state(region)))
            })
            .await?;
        Ok(state.map(|state| ReplicaReading {
            lag: state.lag,
            behind_writes: Some(state.behind),
            stopped: state.stopped,
        }))
    }

    async fn read_url(&self, _url: &str, _timeout: Duration) -> Result<String, Error> {
        Ok(String::new())
    }

    async fn until_output(&self, probe: &str, _output: String) -> Result<Option<String>, Error> {
        Ok(self.value(probe).await)
    }

    async fn run(&self, argv: &[String], _timeout: Option<Duration>) -> Result<Output, Error> {
        let line = log_line("run".to_string(), Some(argv));
        self.log(line.clone()).await?;
        Ok(Output { log: line })
    }

    /// Answers after the world's latency, or not at all within the probe's timeout.
    async fn probe(
        &self,
        service: &str,
        region: &str,
        probe: Option<&HealthProbe>,
    ) -> Result<ProbeResult, Error> {
        let (latency, timed_out) = self.wait_latency(probe.map(|probe| probe.timeout)).await;
        let reason = match timed_out {
            Some(reason) => Some(reason),
            None => {
                self.view(|world| world.probe_failure(service, region))
                    .await?
            }
        };
        let until = probe.and_then(|probe| probe.until.as_ref());
        let (healthy, detail) = match (reason, until) {
            (Some(reason), _) => (false, reason),
            (None, None) => (true, format!("{service} is healthy in {region}")),
            (None, Some(until)) => {
                let seen = self.value(&format!("health:{service}")).await;
                verdict(until, seen.as_deref())
            }
        };
        Ok(ProbeResult {
            healthy,
            detail,
            latency,
        })
    }

    /// Answers 200 when the URL's host is a DNS record of the environment that routes
    /// to a region where the service it follows is healthy, 503 otherwise.
    async fn check_url(
        &self,
        url: &str,
        expect: u16,
        max_latency: Option<Duration>,
        _timeout: Duration,
    ) -> Result<ProbeResult, Error> {
        let (latency, timed_out) = self.wait_latency(max_latency).await;
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_string));
        let route = host.as_deref().and_then(|host| self.hosts.get(host));
        let failure = match (timed_out, route) {
            (Some(reason), _) => Some(reason),
            (None, None) => Some(format!("no DNS record of the environment serves {url}")),
            (None, Some(host)) => self.view(|world| world.route_failure(host)).await?,
        };
        let status = if failure.is_none() { 200 } else { 503 };
        let detail = match failure {
            Some(reason) => format!("{url} answered {status}: {reason}"),
            None => format!("{url} answered {status}"),
        };
        Ok(ProbeResult {
            healthy: status == expect,
            detail,
            latency,
        })
    }

    async fn region_up(&self, region: &str) -> Result<bool, Error> {
        self.view(|world| lookup(&world.regions, "region", region).map(|r| r.up))
            .await
    }

    async fn placement(&self, service: &str) -> Result<Option<String>, Error> {
        Ok(self
            .view(|world| world.services.get(service).map(|s| s.active.clone()))
            .await)
    }

    /// Whether the region is up and the service is not marked down there.
    async fn probe_standby(
        &self,
        service: &str,
        region: &str,
        _probe: Option<&HealthProbe>,
    ) -> Result<ProbeResult, Error> {
        let reason = self
            .view(|world| world.standby_failure(service, region))
            .await?;
        Ok(ProbeResult {
            healthy: reason.is_none(),
            detail: reason.unwrap_or_else(|| format!("{service} could serve from {region}")),
            latency: Duration::ZERO,
        })
    }

    /// The fraction of services unhealthy in the region they are active in: the sim
    /// never reads a real error-rate probe.
    async fn error_rate(
        &self,
        env: &Environment,
        _trigger: &str,
        _probe: Option<&ErrorRateProbe>,
    ) -> Result<f64, Error> {
        let mut unhealthy = 0_u32;
        let mut total = 0_u32;
        for service in &env.services {
            let name = service.name.value.as_str();
            let failure = self
                .view(|world| {
                    let region = world
                        .services
                        .get(name)
                        .map_or(&env.home.value, |s| &s.active);
                    world.probe_failure(name, region)
                })
                .await?;
            total += 1;
            unhealthy += u32::from(failure.is_some());
        }
        Ok(if total == 0 {
            0.0
        } else {
            f64::from(unhealthy) / f64::from(total)
        })
    }
}

#[async_trait]
impl Alarms for Sim {
    /// An alarm set with `drplan sim set --alarm` is in that state; any other is in
    /// `ALARM` while the sim's error rate is above 0 (a service fails where it is active).
    async fn state(&self, env: &Environment, alarm: &AlarmProbe) -> Result<AlarmState, Error> {
        if let Some(state) = self
            .view(|world| world.alarms.get(&alarm.name).copied())
            .await
        {
            return Ok(state);
        }
        let rate = self.error_rate(env, &alarm.name, None).await?;
        Ok(if rate > 0.0 {
            AlarmState::Alarm
        } else {
            AlarmState::Ok
        })
    }
}

#[async_trait]
impl Notifier for Sim {
    /// Logs the notification instead of sending it.
    async fn send(&self, entry: &Notification, _body: &serde_json::Value) -> Result<(), Error> {
        let via = match &entry.via {
            NotifyVia::Webhook { .. } => "webhook",
            NotifyVia::Command(_) => "command",
        };
        self.log(format!("notify {} via {via}: {}", entry.to, entry.template))
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use tempfile::TempDir;

    use super::*;

    /// The timeout a command is given in these tests.
    const TIMEOUT: Duration = Duration::from_secs(5);

    /// 2023-11-14T22:13:20Z.
    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn example() -> Environment {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/example.toml");
        crate::model::load(&path).unwrap().env
    }

    /// A nominal example world in a temp dir, opened with no waiting.
    fn sim(dir: &TempDir) -> (Sim, Environment) {
        let env = example();
        let path = dir.path().join("sim").join("example.json");
        SimWorld::nominal(&env, now()).save(&path).unwrap();
        (Sim::open_at(path, &env, 0.0).unwrap(), env)
    }

    fn orders() -> BackupLocation {
        BackupLocation::parse("s3://shop-backups/postgres/").unwrap()
    }

    #[test]
    fn the_nominal_world_has_everything_up_and_at_home() {
        let env = example();
        let world = SimWorld::nominal(&env, now());

        assert_eq!(world.environment, "example");
        assert_eq!(
            world.regions.keys().collect::<Vec<_>>(),
            ["eu-central-1", "eu-west-1"]
        );
        assert!(world.regions.values().all(|region| region.up));
        assert_eq!(world.services.len(), 5);
        assert!(
            world
                .services
                .values()
                .all(|s| s.active == "eu-west-1" && s.down_in.is_empty())
        );
        assert_eq!(
            describe_weights(&world.records["shop"]),
            "eu-west-1=100 eu-central-1=0"
        );
        assert_eq!(
            describe_weights(&world.records["api"]),
            "eu-west-1=100 eu-central-1=0"
        );
        let backup = "s3://shop-backups/postgres/example-20231114T220820Z.dump";
        assert_eq!(
            world.objects,
            BTreeMap::from([(backup.to_string(), Modified(now() - NOMINAL_BACKUP_AGE))])
        );
        assert_eq!(
            (world.latency_ms, world.fault_rate, world.log.len()),
            (0, 0.0, 0)
        );
    }

    #[test]
    fn a_nominal_backup_is_at_most_half_its_rpo_old() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let tight = text.replace("rpo = \"15m\"", "rpo = \"4m\"");
        let env = crate::model::parse("example.toml", &tight).unwrap();

        let world = SimWorld::nominal(&env, now());

        let ages: Vec<Duration> = world
            .objects
            .values()
            .map(|modified| now().duration_since(modified.0).unwrap())
            .collect();
        assert_eq!(ages, [Duration::from_mins(2)]);
    }

    #[test]
    fn the_world_file_round_trips_with_rfc3339_timestamps() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("world.json");
        let world = SimWorld::nominal(&example(), now());
        world.save(&path).unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""s3://shop-backups/postgres/example-20231114T220820Z.dump": "2023-11-14T22:08:20.000Z""#));
        assert_eq!(SimWorld::load(&path).unwrap(), world);
    }

    #[test]
    fn opening_a_missing_world_says_how_to_create_it() {
        let dir = TempDir::new().unwrap();
        let error = Sim::open_at(dir.path().join("none.json"), &example(), 0.0).unwrap_err();
        assert!(matches!(error, Error::NoSimWorld { .. }), "{error}");
    }

    #[tokio::test]
    async fn activate_moves_the_service_logs_the_command_and_saves() {
        let dir = TempDir::new().unwrap();
        let (sim, _) = sim(&dir);
        let argv = ["pg-promote", "--cluster", "shop-eu-central-1"].map(String::from);

        let output = sim
            .activate("postgres", "eu-central-1", Some(&argv), TIMEOUT)
            .await
            .unwrap();

        let line = "activate postgres eu-central-1: pg-promote --cluster shop-eu-central-1";
        assert_eq!(output.log, line);
        assert_eq!(
            sim.placement("postgres").await.unwrap().as_deref(),
            Some("eu-central-1")
        );
        let saved = SimWorld::load(&sim.path).unwrap();
        assert_eq!(saved.services["postgres"].active, "eu-central-1");
        assert_eq!(saved.log, [line]);
    }

    #[tokio::test]
    async fn activate_in_a_down_region_fails_and_changes_nothing() {
        let dir = TempDir::new().unwrap();
        let (sim, _) = sim(&dir);
        sim.update(|world| world.set_region("eu-central-1", false))
            .await
            .unwrap();

        let error = sim
            .activate("postgres", "eu-central-1", None, TIMEOUT)
            .await
            .unwrap_err();

        assert!(error.to_string().contains("eu-central-1"), "{error}");
        assert_eq!(
            sim.placement("postgres").await.unwrap().as_deref(),
            Some("eu-west-1")
        );
        assert!(sim.snapshot().await.log.is_empty());
    }

    #[tokio::test]
    async fn restore_needs_an_existing_backup() {
        let dir = TempDir::new().unwrap();
        let (sim, _) = sim(&dir);
        let missing = sim
            .restore(
                "postgres",
                "eu-west-1",
                "s3://shop-backups/postgres/nope.dump",
                None,
                TIMEOUT,
            )
            .await;
        assert!(
            matches!(missing, Err(Error::NotFound { message, .. }) if message.contains("nope.dump"))
        );

        let backup = sim.newest(&orders(), None).await.unwrap().unwrap().url;
        let output = sim
            .restore("postgres", "eu-west-1", &backup, None, TIMEOUT)
            .await
            .unwrap();
        assert_eq!(
            output.log,
            format!("restore postgres eu-west-1 from {backup}")
        );
    }

    #[tokio::test]
    async fn a_restore_repairs_a_service_marked_down_but_an_activation_does_not() {
        let dir = TempDir::new().unwrap();
        let (sim, _) = sim(&dir);
        for service in ["postgres", "cache"] {
            sim.update(|world| world.set_service(service, Some("eu-west-1"), false))
                .await
                .unwrap();
        }
        let backup = sim.newest(&orders(), None).await.unwrap().unwrap().url;

        sim.restore("postgres", "eu-west-1", &backup, None, TIMEOUT)
            .await
            .unwrap();
        sim.activate("cache", "eu-west-1", None, TIMEOUT)
            .await
            .unwrap();

        assert!(
            sim.probe("postgres", "eu-west-1", None)
                .await
                .unwrap()
                .healthy
        );
        assert!(!sim.probe("cache", "eu-west-1", None).await.unwrap().healthy);
    }

    #[test]
    fn a_standby_fails_only_when_its_region_or_itself_is_down() {
        let mut world = SimWorld::nominal(&example(), now());
        let standby = |world: &SimWorld| world.standby_failure("api", "eu-central-1").unwrap();
        assert_eq!(standby(&world), None);
        world
            .set_service("api", Some("eu-central-1"), false)
            .unwrap();
        assert_eq!(
            standby(&world).as_deref(),
            Some("api is marked down in eu-central-1")
        );
        world.set_region("eu-central-1", false).unwrap();
        assert_eq!(
            standby(&world).as_deref(),
            Some("region eu-central-1 is down")
        );
    }

    #[tokio::test]
    async fn a_certain_fault_fails_activations_and_probes() {
        let dir = TempDir::new().unwrap();
        let (sim, _) = sim(&dir);
        sim.update(|world| world.set_fault_rate(1.0, None))
            .await
            .unwrap();

        let activate = sim.activate("api", "eu-west-1", None, TIMEOUT).await;
        assert!(matches!(activate, Err(Error::InjectedFault { .. })));
        let probe = sim.probe("api", "eu-west-1", None).await.unwrap();
        assert!(
            !probe.healthy && probe.detail.starts_with("injected fault"),
            "{probe:?}"
        );
    }

    #[tokio::test]
    async fn a_fault_rate_of_one_service_fails_that_service_only() {
        let dir = TempDir::new().unwrap();
        let (sim, _) = sim(&dir);
        sim.update(|world| world.set_fault_rate(1.0, Some("api")))
            .await
            .unwrap();

        let api = sim.activate("api", "eu-west-1", None, TIMEOUT).await;
        assert!(matches!(api, Err(Error::InjectedFault { .. })));
        let probe = sim.probe("api", "eu-west-1", None).await.unwrap();
        assert!(
            probe.detail.starts_with("injected fault (fault rate 1)"),
            "{probe:?}"
        );
        sim.activate("cache", "eu-west-1", None, TIMEOUT)
            .await
            .expect("another service is not touched");
        assert!(sim.probe("cache", "eu-west-1", None).await.unwrap().healthy);
    }

    #[tokio::test]
    async fn a_probe_is_healthy_only_where_the_service_is_active_and_up() {
        let dir = TempDir::new().unwrap();
        let (sim, _) = sim(&dir);
        let check = async |service, region| {
            let result = sim.probe(service, region, None).await.unwrap();
            (result.healthy, result.detail)
        };

        assert_eq!(
            check("api", "eu-west-1").await,
            (true, "api is healthy in eu-west-1".to_string())
        );
        assert_eq!(
            check("api", "eu-central-1").await,
            (
                false,
                "api is active in eu-west-1, not in eu-central-1".to_string()
            )
        );

        sim.update(|world| world.set_service("api", Some("eu-west-1"), false))
            .await
            .unwrap();
        assert_eq!(
            check("api", "eu-west-1").await,
            (false, "api is marked down in eu-west-1".to_string())
        );
        assert!(check("web", "eu-west-1").await.0);

        sim.update(|world| world.set_service("api", None, true))
            .await
            .unwrap();
        sim.update(|world| world.set_region("eu-west-1", false))
            .await
            .unwrap();
        assert_eq!(
            check("api", "eu-west-1").await,
            (false, "region eu-west-1 is down".to_string())
        );
        assert!(!sim.region_up("eu-west-1").await.unwrap());
        assert!(sim.region_up("eu-central-1").await.unwrap());
    }

    #[tokio::test]
    async fn a_probe_slower_than_its_timeout_gets_no_answer() {
        let dir = TempDir::new().unwrap();
        let (sim, env) = sim(&dir);
        sim.update(|world| {
            world.set_latency(Duration::from_millis(300));
            Ok(())
        })
        .await
        .unwrap();
        let declared = env.service("postgres").unwrap().health.clone().unwrap();
        let probe = HealthProbe {
            timeout: Duration::from_millis(100),
            ..declared
        };

        let result = sim
            .probe("postgres", "eu-west-1", Some(&probe))
            .await
            .unwrap();

        assert!(!result.healthy);
        assert_eq!(
            result.detail,
            format!(
                "no answer within {}",
                crate::duration::format_duration(probe.timeout)
            )
        );
        assert_eq!(result.latency, probe.timeout);
    }

    #[tokio::test]
    async fn a_url_answers_where_its_dns_routes_to_a_healthy_service() {
        let dir = TempDir::new().unwrap();
        let (sim, _) = sim(&dir);
        let check = async |url| {
            let result = sim.check_url(url, 200, None, TIMEOUT).await.unwrap();
            (result.healthy, result.detail)
        };

        assert_eq!(
            check("https://shop.example/").await,
            (true, "https://shop.example/ answered 200".to_string())
        );
        sim.update(|world| world.set_service("web", Some("eu-west-1"), false))
            .await
            .unwrap();
        let down = "https://shop.example/ answered 503: web is marked down in eu-west-1";
        assert_eq!(
            check("https://shop.example/").await,
            (false, down.to_string())
        );
        let unknown = "https://other.example/ answered 503: no DNS record of the environment serves https://other.example/";
        assert_eq!(
            check("https://other.example/").await,
            (false, unknown.to_string())
        );
    }

    #[tokio::test]
    async fn commands_and_notifications_are_logged_not_run() {
        let dir = TempDir::new().unwrap();
        let (sim, env) = sim(&dir);

        let output = sim
            .run(
                &["rm".to_string(), "-rf".to_string(), "/".to_string()],
                None,
            )
            .await
            .unwrap();
        sim.send(
            &env.notify[0],
            &serde_json::json!({ "text": "failing over" }),
        )
        .await
        .unwrap();

        assert_eq!(output.log, "run: rm -rf /");
        assert_eq!(
            sim.snapshot().await.log,
            [
                "run: rm -rf /",
                "notify on-call via webhook: internal-alert"
            ]
        );
    }

    #[tokio::test]
    async fn dns_changes_read_back() {
        let dir = TempDir::new().unwrap();
        let (sim, env) = sim(&dir);
        let shop = env.record("shop").unwrap().clone();
        let after = weighted_sets(&shop, &env.home.value, "eu-central-1");

        sim.apply(&[RecordChange {
            record: shop,
            after: after.clone(),
        }])
        .await
        .unwrap();

        let records = sim.read(&env.records).await.unwrap();
        assert_eq!(records["shop"], after);
        assert_eq!(
            describe_weights(&records["api"]),
            "eu-west-1=100 eu-central-1=0"
        );
        assert_eq!(
            sim.snapshot().await.log,
            ["dns shop: eu-west-1=0 eu-central-1=100"]
        );
    }

    #[tokio::test]
    async fn newest_backup_with_and_without_a_cutoff() {
        let dir = TempDir::new().unwrap();
        let (sim, _) = sim(&dir);
        sim.put(
            "shop-backups",
            "postgres/later.dump",
            b"dump".to_vec(),
            "application/octet-stream",
        )
        .await
        .unwrap();
        sim.put(
            "other-bucket",
            "postgres/elsewhere.dump",
            Vec::new(),
            "application/octet-stream",
        )
        .await
        .unwrap();

        let newest = sim.newest(&orders(), None).await.unwrap().unwrap();
        assert_eq!(newest.url, "s3://shop-backups/postgres/later.dump");
        let before_now = sim.newest(&orders(), Some(now())).await.unwrap().unwrap();
        assert_eq!(
            before_now.url,
            "s3://shop-backups/postgres/example-20231114T220820Z.dump"
        );
        assert_eq!(
            sim.newest(&orders(), Some(SystemTime::UNIX_EPOCH))
                .await
                .unwrap(),
            None
        );
    }

    #[test]
    fn aging_backups_makes_every_object_older() {
        let mut world = SimWorld::nominal(&example(), now());
        world.age_backups(Duration::from_hours(1));

        let newest = world.newest(&orders(), None).unwrap();
        assert_eq!(
            newest.last_modified,
            now() - Duration::from_hours(1) - NOMINAL_BACKUP_AGE
        );
    }

    #[test]
    fn unknown_names_suggest_the_closest_known_one() {
        let mut world = SimWorld::nominal(&example(), now());
        let error = world.set_region("eu-west-2", false).unwrap_err();
        assert!(matches!(&error, Error::UnknownSimName { kind, name, help }
            if kind == "region" && name == "eu-west-2" && help == "did you mean `eu-west-1`?"));
        let error = world.set_service("frontend", None, false).unwrap_err();
        assert!(
            matches!(&error, Error::UnknownSimName { help, .. } if help.contains("api, cache, postgres, web, worker"))
        );
        assert!(world.set_fault_rate(1.5, None).is_err());
        assert!(world.set_fault_rate(0.5, Some("no-such-service")).is_err());
    }

    #[test]
    fn a_service_marked_down_everywhere_comes_back_everywhere() {
        let mut world = SimWorld::nominal(&example(), now());
        world.set_service("web", None, false).unwrap();
        assert_eq!(world.services["web"].down_in.len(), 2);
        world.set_service("web", Some("eu-west-1"), true).unwrap();
        assert_eq!(
            world.services["web"].down_in,
            BTreeSet::from(["eu-central-1".to_string()])
        );
    }
}
