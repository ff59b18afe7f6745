//! Services: where they run, their restoration tier, dependencies, health, and their
//! lifecycle: `activate` (promote, start), `deactivate` (fence, demote, stop),
//! `resync` (make a region's copy a replica of the active one) and `backup` (back up
//! the side being left, for a service rebuilt from backups where it moves).

use std::time::Duration;

use super::until::Until;
use super::{Command, Context, Located, Template};

/// The estimate used for a service that declares none.
pub const DEFAULT_SERVICE_ESTIMATE: Duration = Duration::from_mins(5);

/// The estimate of a `deactivate` that declares none.
pub const DEFAULT_DEACTIVATE_ESTIMATE: Duration = Duration::from_mins(1);

/// How long a lifecycle command (activate, restore, deactivate, resync) may run when it
/// declares no `timeout`.
pub const DEFAULT_LIFECYCLE_TIMEOUT: Duration = Duration::from_mins(30);

/// A service that drplan restores.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: Located<String>,
    pub tier: Located<u32>,
    pub depends_on: Vec<Located<String>>,
    pub regions: Vec<Located<String>>,
    pub estimate: Option<Duration>,
    /// Brings the service up: `{ command, timeout }` (its estimate is the service's).
    pub activate: Option<Lifecycle>,
    /// Loads a backup into the service: `{ command, timeout }`.
    pub restore: Option<Lifecycle>,
    /// Fences, demotes or stops the service in the region being left.
    pub deactivate: Option<Lifecycle>,
    /// Makes the service's copy in `{region}` a replica of the active one.
    pub resync: Option<Lifecycle>,
    /// Backs the service up in `{region}` (the side a planned move leaves, once
    /// fenced), so the restore where it moves holds every write.
    pub backup: Option<Lifecycle>,
    pub health: Option<HealthProbe>,
    /// An RDS instance per region: activating the service in a region promotes its
    /// read replica there.
    pub rds: Option<RdsInstances>,
    /// An Aurora global database: activating the service in a region moves the
    /// global cluster's writer to the member cluster there.
    pub aurora: Option<super::AuroraGlobal>,
}

/// The RDS instances of a service: region → DB instance identifier (or ARN).
#[derive(Debug, Clone)]
pub struct RdsInstances {
    pub instances: Vec<(Located<String>, String)>,
    /// How long a promotion may take before drplan stops waiting for `available`.
    pub timeout: Duration,
    /// Where `rds` is written, for diagnostics.
    pub span: crate::error::Span,
}

/// How long a promotion may take when `rds` declares no `timeout`.
pub const DEFAULT_RDS_TIMEOUT: Duration = Duration::from_mins(30);

impl RdsInstances {
    /// The instance in `region`.
    pub fn instance(&self, region: &str) -> Option<&str> {
        self.instances
            .iter()
            .find(|(r, _)| r.value == region)
            .map(|(_, id)| id.as_str())
    }
}

/// A lifecycle command: what it runs, how long it is expected to take, and how long
/// it may take before it is stopped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Lifecycle {
    pub command: Command,
    pub estimate: Option<Duration>,
    pub timeout: Duration,
    /// How many times a failed run is tried again (declared on `activate` only).
    pub retries: Option<u32>,
}

impl Service {
    pub fn runs_in(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r.value == region)
    }

    /// The declared estimate, or [`DEFAULT_SERVICE_ESTIMATE`].
    pub fn estimate(&self) -> Duration {
        self.estimate.unwrap_or(DEFAULT_SERVICE_ESTIMATE)
    }

    /// How long activating the service takes in a region whose `standby` is given:
    /// its declared estimate, or by the standby — hot (running, ready to serve) 1m,
    /// warm (provisioned, scaled down) [`DEFAULT_SERVICE_ESTIMATE`], cold (nothing
    /// running: provision, then start) 30m.
    pub fn activation_estimate(&self, standby: Option<&str>) -> Duration {
        self.estimate.unwrap_or(match standby {
            Some("hot") => Duration::from_mins(1),
            Some("cold") => Duration::from_mins(30),
            _ => DEFAULT_SERVICE_ESTIMATE,
        })
    }

    /// How long fencing the service takes: its `deactivate` estimate, or
    /// [`DEFAULT_DEACTIVATE_ESTIMATE`].
    pub fn deactivate_estimate(&self) -> Duration {
        self.deactivate
            .as_ref()
            .and_then(|d| d.estimate)
            .unwrap_or(DEFAULT_DEACTIVATE_ESTIMATE)
    }

    /// How long backing the service up takes: its `backup` estimate, or the service's.
    pub fn backup_estimate(&self) -> Duration {
        self.backup
            .as_ref()
            .and_then(|b| b.estimate)
            .unwrap_or_else(|| self.estimate())
    }

    /// How long resyncing the service takes: its `resync` estimate, or the service's.
    pub fn resync_estimate(&self) -> Duration {
        self.resync
            .as_ref()
            .and_then(|r| r.estimate)
            .unwrap_or_else(|| self.estimate())
    }
}

/// How drplan decides a service is healthy.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HealthProbe {
    pub check: HealthCheck,
    pub timeout: Duration,
    pub attempts: u32,
    pub interval: Duration,
    /// A condition on the probe's output to wait for, in place of `attempts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Until>,
}

impl HealthProbe {
    /// The probe with its placeholders replaced.
    #[must_use]
    pub fn render(&self, context: &Context<'_>) -> Self {
        let check = match &self.check {
            HealthCheck::Http {
                url,
                expect,
                max_latency,
            } => HealthCheck::Http {
                url: url.render_template(context),
                expect: *expect,
                max_latency: *max_latency,
            },
            HealthCheck::Command { argv } => HealthCheck::Command {
                argv: argv.render_command(context),
            },
        };
        Self {
            check,
            ..self.clone()
        }
    }

    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const DEFAULT_ATTEMPTS: u32 = 3;
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
}

impl HealthCheck {
    /// The URL or the arguments.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            Self::Http { url, .. } => vec![url],
            Self::Command { argv } => argv.0.iter().collect(),
        }
    }
}

/// What a health probe checks.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthCheck {
    Http {
        url: Template,
        expect: u16,
        max_latency: Option<Duration>,
    },
    Command {
        argv: Command,
    },
}
