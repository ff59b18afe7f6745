//! RDS through the AWS SDK: a service that declares `rds` instances is brought up in a
//! region by promoting its read replica there (`PromoteReadReplica`) and waiting,
//! bounded, until the instance is `available` and no longer a replica. Promoting an
//! instance that is already standalone does nothing, so a resumed apply never
//! promotes twice. A copy's replication lag is CloudWatch's `ReplicaLag` for its
//! instance (the newest one-minute maximum of the last five minutes).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_rds::types::DbInstance;

use super::aws::describe;
use super::{Output, ReplicaReading};
use crate::error::Error;
use crate::model::{Environment, RdsInstances};

const PROVIDER: &str = "rds";

/// How often a promotion's status is read while drplan waits for `available`.
const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// How far back `ReplicaLag` datapoints are read.
const LAG_WINDOW: Duration = Duration::from_mins(5);

/// The RDS services of an environment and the SDK to reach them.
#[derive(Debug, Clone)]
pub struct Rds {
    sdk: SdkConfig,
    services: BTreeMap<String, RdsInstances>,
    poll: Duration,
}

impl Rds {
    /// The RDS services of `env`; `None` when it has none.
    pub fn of(env: &Environment, sdk: &SdkConfig) -> Option<Self> {
        let services: BTreeMap<_, _> = env
            .services
            .iter()
            .filter_map(|s| Some((s.name.value.clone(), s.rds.clone()?)))
            .collect();
        (!services.is_empty()).then(|| Self {
            sdk: sdk.clone(),
            services,
            poll: POLL_INTERVAL,
        })
    }

    /// The instance of `service` in `region`, when `service` is an RDS service.
    pub fn instance(&self, service: &str, region: &str) -> Option<&str> {
        self.services.get(service)?.instance(region)
    }

    /// Promotes the read replica of `service` in `region` and waits until it is a
    /// standalone `available` instance (an instance that already is one is left alone).
    pub async fn promote(&self, service: &str, region: &str) -> Result<Output, Error> {
        let (Some(rds), Some(id)) = (self.services.get(service), self.instance(service, region))
        else {
            return Err(Error::Bug {
                detail: format!("{service} has no RDS instance in {region}"),
            });
        };
        let client = self.rds_client(region);
        let mut log = Vec::new();
        // The status RDS reports for the promotion as it accepts it: `modifying` on AWS,
        // which then clears the replica's source once the instance is `available` again.
        // (moto answers `available` and never clears the source: the status alone
        // then says the promotion is done.)
        let mut accepted_as = None;
        if is_replica(&self.describe(&client, id).await?) {
            let answer = client
                .promote_read_replica()
                .db_instance_identifier(id)
                .send()
                .await
                .map_err(|e| describe(PROVIDER, &format!("promote the read replica {id}"), &e))?;
            accepted_as = answer
                .db_instance()
                .and_then(DbInstance::db_instance_status)
                .map(ToString::to_string);
            log.push(format!("PromoteReadReplica {id} in {region}"));
        } else {
            log.push(format!(
                "{id} in {region} is already standalone: nothing to promote"
            ));
        }
        let started = tokio::time::Instant::now();
        loop {
            let instance = self.describe(&client, id).await?;
            let status = instance.db_instance_status().unwrap_or("unknown");
            let done = !is_replica(&instance) || accepted_as.as_deref() == Some("available");
            if status == "available" && done {
                log.push(format!("{id} is available"));
                return Ok(Output {
                    log: log.join("\n"),
                });
            }
            if started.elapsed() >= rds.timeout {
                return Err(Error::PromotionTimeout {
                    instance: id.to_string(),
                    region: region.to_string(),
                    status: status.to_string(),
                    waited: crate::duration::format_duration(rds.timeout),
                });
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// The replication lag of `service`'s instance in `region`: the newest
    /// `ReplicaLag` maximum of the last five minutes; `None` without datapoints.
    pub async fn replica_lag(
        &self,
        service: &str,
        region: &str,
    ) -> Result<Option<ReplicaReading>, Error> {
        let Some(id) = self.instance(service, region) else {
            return Ok(None);
        };
        let newest = newest_maximum(
            &self.sdk,
            region,
            "ReplicaLag",
            ("DBInstanceIdentifier", id),
        )
        .await?;
        Ok(newest.map(|seconds| ReplicaReading {
            lag: Some(Duration::from_secs_f64(seconds.clamp(0.0, 1e9))),
            behind_writes: None,
            stopped: false,
        }))
    }

    fn rds_client(&self, region: &str) -> aws_sdk_rds::Client {
        let config = aws_sdk_rds::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(region.to_string()))
            .build();
        aws_sdk_rds::Client::from_conf(config)
    }

    async fn describe(&self, client: &aws_sdk_rds::Client, id: &str) -> Result<DbInstance, Error> {
        let answer = client
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| describe(PROVIDER, &format!("describe the DB instance {id}"), &e))?;
        answer
            .db_instances()
            .first()
            .cloned()
            .ok_or_else(|| Error::Bug {
                detail: format!("RDS answered no instance for {id}"),
            })
    }
}

/// Whether `instance` still replicates from a source.
fn is_replica(instance: &DbInstance) -> bool {
    instance
        .read_replica_source_db_instance_identifier()
        .is_some_and(|source| !source.is_empty())
}

/// The newest one-minute maximum of the RDS metric `metric` of the resource
/// `dimension` (name, value) in `region`, over the last five minutes; `None` without
/// datapoints.
pub(super) async fn newest_maximum(
    sdk: &SdkConfig,
    region: &str,
    metric: &str,
    (dimension, id): (&str, &str),
) -> Result<Option<f64>, Error> {
    let config = aws_sdk_cloudwatch::config::Builder::from(sdk)
        .region(aws_config::Region::new(region.to_string()))
        .build();
    let now = SystemTime::now();
    let answer = aws_sdk_cloudwatch::Client::from_conf(config)
        .get_metric_statistics()
        .namespace("AWS/RDS")
        .metric_name(metric)
        .dimensions(Dimension::builder().name(dimension).value(id).build())
        .start_time((now - LAG_WINDOW).into())
        // The end is exclusive and whole seconds: a datapoint of this very second
        // would be left out by `now`.
        .end_time((now + Duration::from_mins(1)).into())
        .period(60)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .map_err(|e| describe("cloudwatch", &format!("read {metric} of {id}"), &e))?;
    let newest = answer
        .datapoints()
        .iter()
        .filter_map(|point| Some((point.timestamp()?.secs(), point.maximum()?)))
        .max_by_key(|(at, _)| *at);
    Ok(newest.map(|(_, value)| value))
}
