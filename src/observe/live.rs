//! Reading the actual state from the providers: placement (the runtime, else the
//! state file), DNS record sets, the newest backup of each data set, region health.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::{ActualState, BackupObservation, ReplicaObservation, StateSource};
use crate::error::Error;
use crate::model::{DataMethod, Environment};
use crate::providers::{ReplicaReading, Runtime};

/// Observes the world; `recorded` is where the state last placed each service (used when
/// the runtime cannot tell), `at` picks the newest backup before that time.
pub async fn observe(
    env: &Environment,
    runtime: &Runtime,
    recorded: &BTreeMap<String, String>,
    at: Option<SystemTime>,
) -> Result<ActualState, Error> {
    let mut placement = BTreeMap::new();
    for service in &env.services {
        let name = &service.name.value;
        let region = match runtime.services.placement(name).await? {
            Some(region) => region,
            None => recorded
                .get(name)
                .cloned()
                .unwrap_or_else(|| env.home.value.clone()),
        };
        placement.insert(name.clone(), region);
    }
    let records = runtime.dns.read(&env.records).await?;
    let now = SystemTime::now();
    // Data sets often share a backup location: each is listed once.
    let mut newest = BTreeMap::new();
    let mut backups = BTreeMap::new();
    for data in &env.data {
        let Some(location) = &data.backups else {
            continue;
        };
        let url = location.url();
        let observation = match newest.get(&url) {
            Some(seen) => BackupObservation::clone(seen),
            None => match runtime.storage.newest(location, at).await? {
                Some(object) => BackupObservation::Found {
                    url: object.url,
                    age: now.duration_since(object.last_modified).unwrap_or_default(),
                },
                None => BackupObservation::Missing,
            },
        };
        newest.insert(url, observation.clone());
        backups.insert(data.name.value.clone(), observation);
    }
    let mut regions = BTreeMap::new();
    for region in &env.regions {
        regions.insert(
            region.name.value.clone(),
            runtime.services.region_up(&region.name.value).await?,
        );
    }
    let replication = replication(env, runtime, &placement).await?;
    let safety_rules = runtime.dns.safety_rules().await?;
    Ok(ActualState {
        source: StateSource::Observed,
        placement,
        records,
        backups,
        regions,
        replication,
        safety_rules,
    })
}

/// The copies of every replicated data set outside the region its service is active in.
async fn replication(
    env: &Environment,
    runtime: &Runtime,
    placement: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, BTreeMap<String, ReplicaObservation>>, Error> {
    let mut observed = BTreeMap::new();
    for data in env
        .data
        .iter()
        .filter(|d| d.method == DataMethod::Replicate)
    {
        let Some(service) = env.service(&data.service.value) else {
            continue;
        };
        let active = placement.get(&service.name.value);
        let mut copies = BTreeMap::new();
        for region in service.regions.iter().filter(|r| Some(&r.value) != active) {
            let reading = runtime.services.replication(data, &region.value, env).await;
            let observation = match reading {
                Ok(Some(ReplicaReading {
                    lag: Some(lag),
                    behind_writes,
                    ..
                })) => ReplicaObservation::Following { lag, behind_writes },
                Ok(Some(ReplicaReading {
                    lag: None,
                    behind_writes,
                    stopped,
                })) => ReplicaObservation::NotFollowing {
                    behind_writes,
                    stopped,
                },
                Ok(None) => ReplicaObservation::NotMeasured,
                Err(error) => ReplicaObservation::Unreadable {
                    detail: error.to_string(),
                },
            };
            copies.insert(region.value.clone(), observation);
        }
        observed.insert(data.name.value.clone(), copies);
    }
    Ok(observed)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use tempfile::TempDir;

    use super::*;
    use crate::model::BackupLocation;
    use crate::providers::sim::{Sim, SimWorld};
    use crate::providers::{ObjectInfo, ObjectStore, StoredObject};

    /// The sim's storage, counting how often a backup location is listed.
    struct Counting {
        sim: Arc<Sim>,
        listings: AtomicUsize,
    }

    #[async_trait]
    impl ObjectStore for Counting {
        async fn newest(
            &self,
            location: &BackupLocation,
            before: Option<SystemTime>,
        ) -> Result<Option<ObjectInfo>, Error> {
            self.listings.fetch_add(1, Ordering::SeqCst);
            self.sim.newest(location, before).await
        }

        async fn put(
            &self,
            bucket: &str,
            key: &str,
            body: Vec<u8>,
            kind: &str,
        ) -> Result<(), Error> {
            self.sim.put(bucket, key, body, kind).await
        }

        async fn get(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, Error> {
            self.sim.get(bucket, key).await
        }

        async fn delete(&self, bucket: &str, key: &str) -> Result<(), Error> {
            self.sim.delete(bucket, key).await
        }
    }

    #[tokio::test]
    async fn data_sets_sharing_a_backup_location_list_it_once() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/production.toml");
        let env = crate::model::load(&path).unwrap().env;
        let dir = TempDir::new().unwrap();
        let world = dir.path().join("world.json");
        SimWorld::nominal(&env, SystemTime::now())
            .save(&world)
            .unwrap();
        let sim = Arc::new(Sim::open_at(world, &env, 0.0).unwrap());
        let storage = Arc::new(Counting {
            sim: sim.clone(),
            listings: AtomicUsize::new(0),
        });
        let runtime = Runtime {
            dns: sim.clone(),
            storage: storage.clone(),
            services: sim.clone(),
            notifier: sim,
            alarms: None,
        };

        let actual = observe(&env, &runtime, &BTreeMap::new(), None)
            .await
            .unwrap();

        // customer-configs and conversations share s3://omniops-backups/database/.
        assert_eq!(storage.listings.load(Ordering::SeqCst), 1);
        assert_eq!(
            actual.backups["customer-configs"],
            actual.backups["conversations"]
        );
    }
}
