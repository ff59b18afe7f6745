//! The validated environment: regions, services, DNS records, data sets, scenarios,
//! triggers, notifications, checks and drills, with every cross-reference checked.

pub mod arc;
pub mod aurora;
mod circular;
pub mod data_set;
pub mod decode;
mod failover_record;
mod lifecycle;
mod load;
mod operations;
mod places;
mod record;
pub mod safety_rules;
mod scenario;
pub mod schema;
pub mod service;
pub mod stability;
pub mod template;
pub mod until;
pub mod validate;
pub mod watchers;

use std::collections::HashMap;
use std::time::Duration;

pub use crate::located::Located;
pub use arc::ArcCluster;
pub use aurora::{AuroraCall, AuroraGlobal, AuroraMove, DEFAULT_AURORA_TIMEOUT};
pub use data_set::{BackupLocation, DataMethod, DataSet};
pub use load::{LoadedEnvironment, load, parse};
pub use operations::{
    AlarmProbe, Check, CheckKind, DEFAULT_TRIGGER_INTERVAL, Drill, ErrorRateProbe, FailbackMode,
    Notification, NotifyVia, Trigger, TriggerKind,
};
pub use record::{
    Alias, DnsRecord, FailoverRole, FailoverSet, RecordSet, Routing, keep_observed_failover,
    weighted_sets,
};
pub use scenario::{
    MaintenancePage, Phase, Scenario, ScenarioStep, ScenarioStepAction, Strategy, kept_key,
};
pub use service::{
    DEFAULT_RDS_TIMEOUT, HealthCheck, HealthProbe, Lifecycle, RdsInstances, Service,
};
pub use template::{Command, Context, Placeholder, Template, Vars};
pub use watchers::{WatchQuorum, WatcherSite};

/// One environment file, decoded and validated.
#[derive(Debug, Clone)]
pub struct Environment {
    pub name: String,
    pub home: Located<String>,
    pub rto: Duration,
    pub state: StateLocation,
    pub providers: Providers,
    pub regions: Vec<Region>,
    pub services: Vec<Service>,
    pub records: Vec<DnsRecord>,
    pub data: Vec<DataSet>,
    pub scenarios: Vec<Scenario>,
    pub triggers: Vec<Trigger>,
    pub notify: Vec<Notification>,
    pub checks: Vec<Check>,
    pub drills: Vec<Drill>,
    /// `[watch]`: the watchers that must agree before a trigger fires (none: one watcher).
    pub watch: Option<WatchQuorum>,
    /// `[environment.vars]`: `{vars.NAME}` wherever a region's own does not say.
    pub vars: Vars,
    /// `[environment] retries`: how many times a failed activation or check is tried
    /// again when it declares no `retries` of its own.
    pub retries: Option<u32>,
    pub(crate) service_index: HashMap<String, usize>,
}

/// Where the environment's state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    Local,
    S3 { bucket: String, key: String },
}

/// Which real system each kind of resource lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Sim,
    Route53,
    S3,
    /// DNS moved by the team's own commands (`[providers.dns_commands]`).
    Command,
    /// Route 53 ARC routing controls (`[providers.arc]`).
    Arc,
    /// No object storage: nothing declares backups or a maintenance page.
    #[serde(rename = "none")]
    Absent,
}

/// The `[providers]` table.
#[derive(Debug, Clone)]
pub struct Providers {
    pub dns: ProviderKind,
    pub storage: ProviderKind,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// How `dns = "command"` reads and moves records.
    pub dns_commands: Option<DnsCommands>,
    /// How `dns = "arc"` reads and moves traffic.
    pub arc: Option<ArcCluster>,
}

/// The commands of a `command` DNS provider: `read` prints a record's weighted sets
/// as JSON; `apply` sets them from `$DRPLAN_RECORD_SETS`. Both are given the record in
/// `$DRPLAN_RECORD` (its key), `$DRPLAN_RECORD_NAME`, `$DRPLAN_RECORD_ZONE` and
/// `$DRPLAN_RECORD_TYPE`.
#[derive(Debug, Clone)]
pub struct DnsCommands {
    pub read: Command,
    pub apply: Command,
    /// How long one run of either command may take.
    pub timeout: Duration,
}

/// How long a DNS command may run when `[providers.dns_commands]` sets no `timeout`.
pub const DEFAULT_DNS_COMMAND_TIMEOUT: Duration = Duration::from_mins(2);

impl Providers {
    /// True when every resource lives in the embedded sim world.
    pub fn is_sim(&self) -> bool {
        self.dns == ProviderKind::Sim && self.storage == ProviderKind::Sim
    }
}

/// A region and its role.
#[derive(Debug, Clone)]
pub struct Region {
    pub name: Located<String>,
    pub role: String,
    pub standby: Option<String>,
    /// `[regions.NAME.vars]`: `{vars.NAME}` where a place acts on this region.
    pub vars: Vars,
}

/// How many times a failed activation or check is tried again when neither it nor
/// the environment declares `retries`. Deactivations, resyncs and restores are not
/// retried: they need not be idempotent.
pub const DEFAULT_RETRIES: u32 = 2;

impl Environment {
    /// The retries of an activation or a check that declares `own` (or none).
    pub fn retries(&self, own: Option<u32>) -> u32 {
        own.or(self.retries).unwrap_or(DEFAULT_RETRIES)
    }

    /// Builds the lookup tables; the decoder calls it once every service is read.
    /// The context of a place acting on `region` (or on no region): the environment's
    /// name and variables, and the region's variables over them.
    pub fn context<'a>(&'a self, region: Option<&'a str>) -> Context<'a> {
        Context {
            environment: Some(&self.name),
            region,
            vars: Some(&self.vars),
            region_vars: region.and_then(|r| self.region(r)).map(|r| &r.vars),
            ..Context::default()
        }
    }

    pub(crate) fn indexed(mut self) -> Self {
        self.service_index = self
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.value.clone(), i))
            .collect();
        self
    }

    /// The index of a service by name.
    pub fn service_id(&self, name: &str) -> Option<usize> {
        self.service_index.get(name).copied()
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.service_id(name).map(|id| &self.services[id])
    }

    pub fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|region| region.name.value == name)
    }

    pub fn scenario(&self, name: &str) -> Option<&Scenario> {
        self.scenarios
            .iter()
            .find(|scenario| scenario.name.value == name)
    }

    /// The scenario called `name`, or an error naming the closest one (or all of them).
    pub fn resolve_scenario(&self, name: &str) -> Result<&Scenario, crate::error::Error> {
        self.scenario(name).ok_or_else(|| {
            let names: Vec<&str> = self
                .scenarios
                .iter()
                .map(|s| s.name.value.as_str())
                .collect();
            let help = match crate::suggest::did_you_mean(name, names.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None if names.is_empty() => format!("{} declares no [scenarios]", self.name),
                None => format!("the scenarios of {} are: {}", self.name, names.join(", ")),
            };
            crate::error::Error::UnknownScenario {
                name: name.to_string(),
                help,
            }
        })
    }

    pub fn data_set(&self, name: &str) -> Option<&DataSet> {
        self.data.iter().find(|data| data.name.value == name)
    }

    pub fn record(&self, name: &str) -> Option<&DnsRecord> {
        self.records.iter().find(|record| record.key.value == name)
    }

    /// The region an offline failback assumes everything failed over to: the first
    /// region with the role `secondary`, else the first region that is not home.
    pub fn standby_region(&self) -> Option<&str> {
        let others = || {
            self.regions
                .iter()
                .filter(|r| r.name.value != self.home.value)
        };
        others()
            .find(|r| r.role == "secondary")
            .or_else(|| others().next())
            .map(|r| r.name.value.as_str())
    }

    /// The data sets a service holds.
    pub fn data_of<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a DataSet> + 'a {
        self.data
            .iter()
            .filter(move |data| data.service.value == service)
    }

    /// Whether `service` comes up in a region it moves to by restoring its newest
    /// backups there: it declares `restore` and nothing that brings up a standby
    /// holding the data (`activate`, `aurora`, `rds`), and it holds data recovered from
    /// backups (a cold standby rebuilt from backups, e.g. Kubernetes with Velero).
    pub fn restored_when_moved(&self, service: &Service) -> bool {
        service.restore.is_some()
            && service.activate.is_none()
            && service.aurora.is_none()
            && service.rds.is_none()
            && self
                .data_of(&service.name.value)
                .any(|d| d.method == DataMethod::Restore && d.backups.is_some())
    }
}
