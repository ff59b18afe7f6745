//! Where an environment stands, as values: the state (serial, lineage, the last run's
//! progress), the lock, and the observed world (placement, routing, backups, replicas,
//! regions down) side by side with what the state recorded. `drplan status` renders it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::Environment;
use crate::observe::{ActualState, BackupObservation, ReplicaObservation};
use crate::state::{LockInfo, State};

/// Everything `drplan status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub environment: String,
    pub home: String,
    /// `None` when nothing was ever applied.
    pub state: Option<StateStatus>,
    pub lock: Option<LockInfo>,
    pub services: Vec<ServiceStatus>,
    pub records: Vec<RecordStatus>,
    /// Data set → its newest backup.
    pub backups: BTreeMap<String, BackupObservation>,
    /// Replicated data set → region → how far its copy there is behind.
    pub replication: BTreeMap<String, BTreeMap<String, ReplicaObservation>>,
    pub regions_down: Vec<String>,
}

/// The stored state.
#[derive(Debug, Clone, Serialize)]
pub struct StateStatus {
    pub serial: u64,
    pub lineage: String,
    pub last_run: Option<RunProgress>,
}

/// How far the last run got.
#[derive(Debug, Clone, Serialize)]
pub struct RunProgress {
    pub id: String,
    pub status: String,
    /// Steps that do work (gates left out), finished and in all.
    pub finished: usize,
    pub steps: usize,
}

/// Where a service is: as the state recorded it (home when it never moved; `None`
/// without a state) and as observed.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub name: String,
    pub recorded: Option<String>,
    pub observed: Option<String>,
}

/// Where a record routes: the regions with a weight, and the weight.
#[derive(Debug, Clone, Serialize)]
pub struct RecordStatus {
    pub key: String,
    pub routed: Vec<(String, u8)>,
}

impl Status {
    /// The status of `env` from its stored `state` (when one was written), the `lock`
    /// holder and the `observed` world.
    pub fn new(
        env: &Environment,
        state: Option<&State>,
        lock: Option<LockInfo>,
        observed: &ActualState,
    ) -> Self {
        let services = env
            .services
            .iter()
            .map(|service| {
                let name = &service.name.value;
                ServiceStatus {
                    name: name.clone(),
                    recorded: state
                        .map(|s| s.placement.get(name).unwrap_or(&env.home.value).clone()),
                    observed: observed.placement.get(name).cloned(),
                }
            })
            .collect();
        let records = env
            .records
            .iter()
            .map(|record| RecordStatus {
                key: record.key.value.clone(),
                routed: observed
                    .records
                    .get(&record.key.value)
                    .into_iter()
                    .flatten()
                    .filter(|set| set.weight > 0)
                    .map(|set| (set.region.clone(), set.weight))
                    .collect(),
            })
            .collect();
        Self {
            environment: env.name.clone(),
            home: env.home.value.clone(),
            state: state.map(state_status),
            lock,
            services,
            records,
            backups: observed.backups.clone(),
            replication: observed.replication.clone(),
            regions_down: observed
                .regions
                .iter()
                .filter(|(_, up)| !**up)
                .map(|(region, _)| region.clone())
                .collect(),
        }
    }
}

fn state_status(state: &State) -> StateStatus {
    let last_run = state.run.as_ref().map(|run| {
        let finished = super::journal::finished_steps(&run.journal);
        let steps: Vec<_> = run.plan.plan.work().collect();
        RunProgress {
            id: run.id.clone(),
            status: run.status.name().to_string(),
            finished: steps.iter().filter(|s| finished.contains(&s.id)).count(),
            steps: steps.len(),
        }
    });
    StateStatus {
        serial: state.serial,
        lineage: state.lineage.clone(),
        last_run,
    }
}
