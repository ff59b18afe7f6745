//! The actual state a plan starts from: where each service is active, the weighted
//! record sets of each DNS record, the newest backup of each data set, and region
//! health. Offline planning assumes it; live planning reads it from the providers.

pub mod live;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::safety_rules::ArcSafety;
use crate::model::{Environment, RecordSet, weighted_sets};

/// What is true (or assumed true) before a plan runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActualState {
    /// How this state was obtained; shown in every plan.
    pub source: StateSource,
    /// Service → the region it is active in.
    pub placement: BTreeMap<String, String>,
    /// DNS record key → its weighted record sets, one per region.
    pub records: BTreeMap<String, Vec<RecordSet>>,
    /// Data set → its newest backup, when known.
    pub backups: BTreeMap<String, BackupObservation>,
    /// Region → whether it is healthy, when known.
    pub regions: BTreeMap<String, bool>,
    /// Replicated data set → region → how far its copy there is behind the active one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replication: BTreeMap<String, BTreeMap<String, ReplicaObservation>>,
    /// The ARC control panel's safety rules and the states of their controls, when
    /// `[providers.arc]` names a control panel (unknown offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_rules: Option<ArcSafety>,
}

/// What is known about a copy of a replicated data set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum ReplicaObservation {
    /// Not measured: offline planning, or the data set declares no `lag` probe.
    NotMeasured,
    /// Replication feeds the copy, `lag` behind (and `behind_writes`, when counted).
    Following {
        #[serde(with = "crate::duration::millis")]
        lag: Duration,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        behind_writes: Option<u64>,
    },
    /// Nothing feeds the copy: replication is `stopped`, or the copy is detached (a
    /// resync makes it a replica again).
    NotFollowing {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        behind_writes: Option<u64>,
        stopped: bool,
    },
    /// The lag probe failed.
    Unreadable { detail: String },
}

impl ReplicaObservation {
    /// `lag 2s, 0 write(s) behind`, `12 write(s) behind, replication stopped`.
    pub fn describe(&self) -> String {
        match self {
            Self::NotMeasured => "lag not measured".to_string(),
            Self::Unreadable { detail } => format!("lag unreadable ({detail})"),
            Self::Following { lag, behind_writes } => {
                let behind =
                    behind_writes.map_or_else(String::new, |n| format!(", {n} write(s) behind"));
                format!("lag {}{behind}", crate::duration::format_seconds(*lag))
            }
            Self::NotFollowing {
                behind_writes,
                stopped,
            } => {
                let behind = behind_writes.map_or_else(
                    || "behind by an unknown amount".to_string(),
                    |n| format!("{n} write(s) behind"),
                );
                let why = if *stopped {
                    "replication stopped"
                } else {
                    "not a replica (resync first)"
                };
                format!("{behind}, {why}")
            }
        }
    }
}

/// Where the actual state came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StateSource {
    /// `--offline`: every service at home, DNS at home, backups unknown.
    AssumedNominal,
    /// `--offline --failback`: every service failed over to the standby region.
    AssumedFailedOver { region: String },
    /// Read from the providers.
    Observed,
}

/// What is known about the newest backup of a data set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum BackupObservation {
    /// Not observed (offline planning).
    Unknown,
    /// No object under the prefix.
    Missing,
    /// The newest object and its age when observed.
    Found {
        url: String,
        #[serde(with = "crate::duration::seconds")]
        age: Duration,
    },
}

impl ActualState {
    /// The nominal state: everything active and routed at home, backups unknown.
    pub fn nominal(env: &Environment) -> Self {
        Self::everything_in(env, StateSource::AssumedNominal, &env.home.value)
    }

    /// The state after a whole-environment failover to the standby region: every
    /// service that runs there is active there, and DNS points there.
    pub fn failed_over(env: &Environment) -> Self {
        let region = env.standby_region().unwrap_or(&env.home.value).to_string();
        Self::everything_in(
            env,
            StateSource::AssumedFailedOver {
                region: region.clone(),
            },
            &region,
        )
    }

    fn everything_in(env: &Environment, source: StateSource, region: &str) -> Self {
        let active_in = |runs_there: bool| {
            if runs_there {
                region
            } else {
                env.home.value.as_str()
            }
        };
        let placement = env
            .services
            .iter()
            .map(|s| {
                (
                    s.name.value.clone(),
                    active_in(s.runs_in(region)).to_string(),
                )
            })
            .collect::<BTreeMap<_, _>>();
        let records = env
            .records
            .iter()
            .map(|record| {
                let active = placement
                    .get(&record.follows.value)
                    .map_or(env.home.value.as_str(), String::as_str);
                (
                    record.key.value.clone(),
                    weighted_sets(record, &env.home.value, active),
                )
            })
            .collect();
        let backups = env
            .data
            .iter()
            .map(|d| (d.name.value.clone(), BackupObservation::Unknown))
            .collect();
        Self {
            source,
            placement,
            records,
            backups,
            regions: BTreeMap::new(),
            replication: BTreeMap::new(),
            safety_rules: None,
        }
    }

    /// Where `service` is active (home when unknown).
    pub fn active_region<'a>(&'a self, env: &'a Environment, service: &str) -> &'a str {
        self.placement
            .get(service)
            .map_or(env.home.value.as_str(), String::as_str)
    }
}
