//! Reading the actual state from the providers: placement (the runtime, else the
//! state file), DNS record sets, the newest backup of each data set, region health.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::{ActualState, BackupObservation, StateSource};
use crate::error::Error;
use crate::model::Environment;
use crate::providers::Runtime;
use crate::state::State;

/// Observes the world; `at` picks the newest backup before that time.
pub async fn observe(
    env: &Environment,
    runtime: &Runtime,
    state: Option<&State>,
    at: Option<SystemTime>,
) -> Result<ActualState, Error> {
    let mut placement = BTreeMap::new();
    for service in &env.services {
        let name = &service.name.value;
        let region = match runtime.services.placement(name).await? {
            Some(region) => region,
            None => state
                .and_then(|s| s.placement.get(name).cloned())
                .unwrap_or_else(|| env.home.value.clone()),
        };
        placement.insert(name.clone(), region);
    }
    let records = runtime.dns.read(&env.records).await?;
    let now = SystemTime::now();
    let mut backups = BTreeMap::new();
    for data in &env.data {
        let Some(location) = &data.backups else {
            continue;
        };
        let observation = match runtime.storage.newest(location, at).await? {
            Some(object) => BackupObservation::Found {
                url: object.url,
                age: now.duration_since(object.last_modified).unwrap_or_default(),
            },
            None => BackupObservation::Missing,
        };
        backups.insert(data.name.value.clone(), observation);
    }
    let mut regions = BTreeMap::new();
    for region in &env.regions {
        regions.insert(
            region.name.value.clone(),
            runtime.services.region_up(&region.name.value).await?,
        );
    }
    Ok(ActualState {
        source: StateSource::Observed,
        placement,
        records,
        backups,
        regions,
    })
}
