//! Aurora global databases through the AWS SDK: a service that declares `aurora` is
//! brought up in a region by moving its global cluster's writer to the member cluster
//! there, the way the plan chose:
//! - a switchover (and a failback) calls `SwitchoverGlobalCluster`: Aurora waits until
//!   the target holds every write, so nothing is lost, and the old primary becomes a
//!   secondary;
//! - a failover detaches the target (`RemoveFromGlobalCluster`), which makes it a
//!   writable standalone cluster at once; under `--accept-data-loss` it calls
//!   `FailoverGlobalCluster` with `AllowDataLoss` instead, which keeps the global
//!   cluster together (the old primary rejoins as a secondary once its region is back).
//!
//! Every call goes to the target's region (the primary's may be down). A move already
//! done is not made again, so a resumed apply never moves twice; drplan then waits,
//! bounded by `timeout`, until the target cluster (and the global cluster) is
//! `available` and the target is the writer, or detached. A secondary's replication lag
//! is CloudWatch's `AuroraGlobalDBReplicationLag` (milliseconds) for its cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_rds::types::{DbCluster, GlobalCluster, GlobalClusterMember};

use super::aws::describe;
use super::rds::newest_maximum;
use super::{Output, ReplicaReading};
use crate::error::Error;
use crate::model::{AuroraCall, AuroraGlobal, AuroraMove, Environment};

const PROVIDER: &str = "aurora";

/// How often a move's progress is read while drplan waits for `available`.
const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The Aurora services of an environment and the SDK to reach them.
#[derive(Debug, Clone)]
pub struct Aurora {
    sdk: SdkConfig,
    services: BTreeMap<String, AuroraGlobal>,
    poll: Duration,
}

/// What the global cluster shows once `call` is done for the cluster `arn`: it is the
/// writer, or (detached) no longer a member.
fn done(call: AuroraCall, global: &GlobalCluster, arn: &str) -> bool {
    let member = member(global, arn);
    match call {
        AuroraCall::Detach => member.is_none(),
        AuroraCall::Switchover | AuroraCall::Failover => {
            member.is_some_and(|m| m.is_writer() == Some(true))
        }
    }
}

/// Whether the global cluster must be `available` too: not once detached from it.
fn waits_for_global(call: AuroraCall) -> bool {
    call != AuroraCall::Detach
}

impl Aurora {
    /// The Aurora services of `env`; `None` when it has none.
    pub fn of(env: &Environment, sdk: &SdkConfig) -> Option<Self> {
        let services: BTreeMap<_, _> = env
            .services
            .iter()
            .filter_map(|s| Some((s.name.value.clone(), s.aurora.clone()?)))
            .collect();
        (!services.is_empty()).then(|| Self {
            sdk: sdk.clone(),
            services,
            poll: POLL_INTERVAL,
        })
    }

    /// The member cluster of `service` in `region`, when `service` is an Aurora one.
    pub fn cluster(&self, service: &str, region: &str) -> Option<&str> {
        self.services.get(service)?.cluster(region)
    }

    /// Moves the writer of `service`'s global cluster to its cluster in `region` as
    /// `how` says, and waits until the move is done.
    pub async fn move_writer(
        &self,
        service: &str,
        region: &str,
        how: AuroraMove,
        accept_data_loss: bool,
    ) -> Result<Output, Error> {
        let (Some(aurora), Some(id)) = (self.services.get(service), self.cluster(service, region))
        else {
            return Err(Error::Bug {
                detail: format!("{service} has no Aurora cluster in {region}"),
            });
        };
        let client = self.client(region);
        let global_id = aurora.global_cluster.as_str();
        let call = AuroraCall::of(how, accept_data_loss);
        let cluster = describe_cluster(&client, id).await?;
        let arn = cluster.db_cluster_arn().unwrap_or(id).to_string();
        let mut log = Vec::new();
        let global = global_cluster(&client, global_id).await?;
        if call == AuroraCall::Switchover {
            self.refuse_detached(aurora, region, &global).await?;
        }
        if done(call, &global, &arn) {
            log.push(format!(
                "{id} in {region}: already done, nothing to {}",
                call.name()
            ));
        } else {
            send(&client, call, global_id, &arn).await?;
            log.push(format!("{} {global_id} → {id} in {region}", call.name()));
        }
        let started = tokio::time::Instant::now();
        loop {
            let global = global_cluster(&client, global_id).await?;
            let cluster = describe_cluster(&client, id).await?;
            let cluster_status = cluster.status().unwrap_or("unknown");
            let global_status = global.status().unwrap_or("unknown");
            let global_ready = !waits_for_global(call) || global_status == "available";
            if done(call, &global, &arn) && global_ready && cluster_status == "available" {
                log.push(format!("{id} is available"));
                return Ok(Output {
                    log: log.join("\n"),
                });
            }
            if started.elapsed() >= aurora.timeout {
                return Err(Error::AuroraTimeout {
                    target: format!("{id} in {region}"),
                    global_cluster: global_id.to_string(),
                    call: call.name(),
                    status: format!("global cluster `{global_status}`, cluster `{cluster_status}`"),
                    waited: crate::duration::format_duration(aurora.timeout),
                });
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Refuses a switchover of `service` to `region` while a declared cluster is
    /// detached (see [`refuse_detached`](Self::refuse_detached)).
    pub async fn check_members(&self, service: &str, region: &str) -> Result<String, Error> {
        let Some(aurora) = self.services.get(service) else {
            return Ok(String::new());
        };
        let global_id = aurora.global_cluster.as_str();
        let global = global_cluster(&self.client(region), global_id).await?;
        self.refuse_detached(aurora, region, &global).await?;
        Ok(format!("every declared cluster is a member of {global_id}"))
    }

    /// A switchover moves the writer within the global cluster: a declared cluster
    /// that a failover detached from it holds the writes made since, which the
    /// switchover would leave behind (and, its old primary still the writer, find
    /// "done" without moving anything). Refused until that cluster is a member again
    /// (the reprotect). A declared cluster that does not exist is skipped.
    async fn refuse_detached(
        &self,
        aurora: &AuroraGlobal,
        target: &str,
        global: &GlobalCluster,
    ) -> Result<(), Error> {
        for (region, id) in aurora.clusters.iter().filter(|(r, _)| r.value != target) {
            let cluster = match describe_cluster(&self.client(&region.value), id).await {
                Ok(cluster) => cluster,
                Err(Error::NotFound { .. }) => continue,
                Err(error) => return Err(error),
            };
            if member(global, cluster.db_cluster_arn().unwrap_or(id)).is_none() {
                return Err(Error::AuroraDetached {
                    cluster: format!("{id} in {}", region.value),
                    global_cluster: aurora.global_cluster.clone(),
                });
            }
        }
        Ok(())
    }

    /// The replication lag of `service`'s cluster in `region`: the newest
    /// `AuroraGlobalDBReplicationLag` maximum (milliseconds) of the last five minutes;
    /// `None` without datapoints.
    pub async fn replica_lag(
        &self,
        service: &str,
        region: &str,
    ) -> Result<Option<ReplicaReading>, Error> {
        let Some(id) = self.cluster(service, region) else {
            return Ok(None);
        };
        let metric = "AuroraGlobalDBReplicationLag";
        let newest = newest_maximum(&self.sdk, region, metric, ("DBClusterIdentifier", id)).await?;
        Ok(newest.map(|millis| ReplicaReading {
            lag: Some(Duration::from_secs_f64(millis.clamp(0.0, 1e12) / 1000.0)),
            behind_writes: None,
            stopped: false,
        }))
    }

    fn client(&self, region: &str) -> aws_sdk_rds::Client {
        let config = aws_sdk_rds::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(region.to_string()))
            .build();
        aws_sdk_rds::Client::from_conf(config)
    }
}

/// Sends `call` for the global cluster `global_id` and the cluster `arn`.
async fn send(
    client: &aws_sdk_rds::Client,
    call: AuroraCall,
    global_id: &str,
    arn: &str,
) -> Result<(), Error> {
    let action = format!("{} {global_id} to {arn}", call.name());
    match call {
        AuroraCall::Switchover => client
            .switchover_global_cluster()
            .global_cluster_identifier(global_id)
            .target_db_cluster_identifier(arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| describe(PROVIDER, &action, &e)),
        AuroraCall::Failover => client
            .failover_global_cluster()
            .global_cluster_identifier(global_id)
            .target_db_cluster_identifier(arn)
            .allow_data_loss(true)
            .send()
            .await
            .map(drop)
            .map_err(|e| describe(PROVIDER, &action, &e)),
        AuroraCall::Detach => client
            .remove_from_global_cluster()
            .global_cluster_identifier(global_id)
            .db_cluster_identifier(arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| describe(PROVIDER, &action, &e)),
    }
}

/// The global cluster `id` (identifiers are case-insensitive).
async fn global_cluster(client: &aws_sdk_rds::Client, id: &str) -> Result<GlobalCluster, Error> {
    let answer = client
        .describe_global_clusters()
        .global_cluster_identifier(id)
        .send()
        .await
        .map_err(|e| describe(PROVIDER, &format!("describe the global cluster {id}"), &e))?;
    answer
        .global_clusters()
        .iter()
        .find(|g| {
            g.global_cluster_identifier()
                .is_some_and(|found| found.eq_ignore_ascii_case(id))
        })
        .cloned()
        .ok_or_else(|| Error::NotFound {
            provider: PROVIDER,
            message: format!("there is no global cluster `{id}`"),
            help: "fix `aurora.global_cluster` of the service (aws rds describe-global-clusters)",
        })
}

/// The DB cluster `id`.
async fn describe_cluster(client: &aws_sdk_rds::Client, id: &str) -> Result<DbCluster, Error> {
    let answer = client
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .map_err(|e| describe(PROVIDER, &format!("describe the DB cluster {id}"), &e))?;
    answer
        .db_clusters()
        .first()
        .cloned()
        .ok_or_else(|| Error::NotFound {
            provider: PROVIDER,
            message: format!("there is no DB cluster `{id}`"),
            help: "fix `aurora.clusters` of the service (aws rds describe-db-clusters)",
        })
}

/// The member of `global` that is the cluster `arn`.
fn member<'g>(global: &'g GlobalCluster, arn: &str) -> Option<&'g GlobalClusterMember> {
    global
        .global_cluster_members()
        .iter()
        .find(|m| m.db_cluster_arn() == Some(arn))
}

/// moto has no `SwitchoverGlobalCluster` or `FailoverGlobalCluster`, and answers every
/// status at once: these run through the SDK's replay client, with answers
/// hand-recorded from the shapes of the RDS API reference (Query protocol, XML).
#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use aws_smithy_http_client::test_util::StaticReplayClient;

    use super::*;
    use crate::located::Located;
    use crate::providers::aws::replay::{bodies, client, sdk_config, xml};

    const WEST: &str = "arn:aws:rds:us-west-2:123456789012:cluster:orders-west";
    const EAST: &str = "arn:aws:rds:us-east-1:123456789012:cluster:orders-east";

    fn aurora(client: &StaticReplayClient, timeout: Duration) -> Aurora {
        let region = |name: &str| Located::new(name.to_string(), 0..0);
        let global = AuroraGlobal {
            global_cluster: "orders".to_string(),
            clusters: vec![
                (region("us-east-1"), "orders-east".to_string()),
                (region("us-west-2"), "orders-west".to_string()),
            ],
            timeout,
            span: 0..0,
        };
        Aurora {
            sdk: sdk_config(client),
            services: BTreeMap::from([("db".to_string(), global)]),
            poll: Duration::ZERO,
        }
    }

    fn answer(action: &str, result: &str) -> String {
        format!(
            "<{action}Response xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">\
             <{action}Result>{result}</{action}Result>\
             <ResponseMetadata><RequestId>7e3b0d5c</RequestId></ResponseMetadata>\
             </{action}Response>"
        )
    }

    /// `DescribeDBClusters` of orders-west with `status`.
    fn west(status: &str) -> aws_sdk_rds::config::http::HttpResponse {
        cluster_answer("orders-west", WEST, status)
    }

    /// The other declared cluster, which a switchover checks is still a member.
    fn east(status: &str) -> aws_sdk_rds::config::http::HttpResponse {
        cluster_answer("orders-east", EAST, status)
    }

    fn cluster_answer(
        id: &str,
        arn: &str,
        status: &str,
    ) -> aws_sdk_rds::config::http::HttpResponse {
        xml(
            200,
            &answer(
                "DescribeDBClusters",
                &format!(
                    "<DBClusters><DBCluster><DBClusterIdentifier>{id}</DBClusterIdentifier>\
                     <DBClusterArn>{arn}</DBClusterArn><Status>{status}</Status></DBCluster></DBClusters>"
                ),
            ),
        )
    }

    /// The global cluster `<GlobalCluster>` element: `status`, each member with
    /// whether it is the writer.
    fn global_cluster(status: &str, members: &[(&str, bool)]) -> String {
        let mut element = String::new();
        for (arn, writer) in members {
            let _ = write!(
                element,
                "<GlobalClusterMember><DBClusterArn>{arn}</DBClusterArn>\
                 <IsWriter>{writer}</IsWriter></GlobalClusterMember>"
            );
        }
        format!(
            "<GlobalClusterIdentifier>orders</GlobalClusterIdentifier><Status>{status}</Status>\
             <Engine>aurora-postgresql</Engine><GlobalClusterMembers>{element}</GlobalClusterMembers>"
        )
    }

    fn described(
        status: &str,
        members: &[(&str, bool)],
    ) -> aws_sdk_rds::config::http::HttpResponse {
        xml(
            200,
            &answer(
                "DescribeGlobalClusters",
                &format!(
                    "<GlobalClusters><GlobalClusterMember>{}</GlobalClusterMember></GlobalClusters>",
                    global_cluster(status, members)
                ),
            ),
        )
    }

    fn accepted(action: &str, status: &str) -> aws_sdk_rds::config::http::HttpResponse {
        let members = [(EAST, true), (WEST, false)];
        xml(
            200,
            &answer(
                action,
                &format!(
                    "<GlobalCluster>{}</GlobalCluster>",
                    global_cluster(status, &members)
                ),
            ),
        )
    }

    fn error(status: u16, code: &str) -> aws_sdk_rds::config::http::HttpResponse {
        xml(
            status,
            &format!(
                "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error>\
                 <Type>Sender</Type><Code>{code}</Code><Message>{code}</Message></Error>\
                 <RequestId>7e3b0d5c</RequestId></ErrorResponse>"
            ),
        )
    }

    /// The `Action=` of each request.
    fn actions(client: &StaticReplayClient) -> Vec<String> {
        bodies(client)
            .iter()
            .map(|body| {
                body.split('&')
                    .find_map(|pair| pair.strip_prefix("Action="))
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_switchover_waits_until_the_target_is_the_available_writer() {
        let replay = client(vec![
            west("available"),
            described("available", &[(EAST, true), (WEST, false)]),
            east("available"),
            accepted("SwitchoverGlobalCluster", "switching-over"),
            // Still switching over, then the target is the writer while it is busy,
            // then everything is available.
            described("switching-over", &[(EAST, true), (WEST, false)]),
            west("available"),
            described("available", &[(EAST, false), (WEST, true)]),
            west("modifying"),
            described("available", &[(EAST, false), (WEST, true)]),
            west("available"),
        ]);
        let aurora = aurora(&replay, Duration::from_mins(1));
        let output = aurora
            .move_writer("db", "us-west-2", AuroraMove::Switchover, false)
            .await
            .unwrap();
        assert_eq!(
            output.log,
            "SwitchoverGlobalCluster orders → orders-west in us-west-2\norders-west is available"
        );
        let sent = bodies(&replay);
        assert!(
            sent[3].contains("GlobalClusterIdentifier=orders")
                && sent[3].contains(&format!("TargetDbClusterIdentifier={}", urlencoding(WEST))),
            "{}",
            sent[3]
        );
        assert_eq!(actions(&replay).len(), 10);
    }

    #[tokio::test]
    async fn a_failover_detaches_unless_data_loss_is_accepted() {
        for (accept, call) in [
            (false, "RemoveFromGlobalCluster"),
            (true, "FailoverGlobalCluster"),
        ] {
            let after = if accept {
                vec![(EAST, false), (WEST, true)]
            } else {
                vec![(EAST, true)]
            };
            let replay = client(vec![
                west("available"),
                described("available", &[(EAST, true), (WEST, false)]),
                accepted(call, "failing-over"),
                described("available", &after),
                west("available"),
            ]);
            let aurora = aurora(&replay, Duration::from_mins(1));
            aurora
                .move_writer("db", "us-west-2", AuroraMove::Failover, accept)
                .await
                .unwrap();
            assert_eq!(actions(&replay)[2], call);
            let body = &bodies(&replay)[2];
            assert_eq!(body.contains("AllowDataLoss=true"), accept, "{body}");
        }
    }

    #[tokio::test]
    async fn a_move_already_done_is_not_made_again() {
        let replay = client(vec![
            west("available"),
            described("available", &[(EAST, false), (WEST, true)]),
            east("available"),
            described("available", &[(EAST, false), (WEST, true)]),
            west("available"),
        ]);
        let aurora = aurora(&replay, Duration::from_mins(1));
        let output = aurora
            .move_writer("db", "us-west-2", AuroraMove::Switchover, false)
            .await
            .unwrap();
        assert!(output.log.contains("already done"), "{}", output.log);
        assert!(
            !actions(&replay).iter().any(|a| a.contains("Switchover")),
            "{:?}",
            actions(&replay)
        );
    }

    #[tokio::test]
    async fn a_move_still_modifying_after_the_timeout_is_reported_not_waited_on_forever() {
        let replay = client(vec![
            west("available"),
            described("available", &[(EAST, true), (WEST, false)]),
            east("available"),
            accepted("SwitchoverGlobalCluster", "switching-over"),
            described("switching-over", &[(EAST, true), (WEST, false)]),
            west("modifying"),
        ]);
        let aurora = aurora(&replay, Duration::ZERO);
        let error = aurora
            .move_writer("db", "us-west-2", AuroraMove::Switchover, false)
            .await
            .unwrap_err();
        assert!(
            matches!(
                &error,
                Error::AuroraTimeout { target, status, call: "SwitchoverGlobalCluster", .. }
                    if target == "orders-west in us-west-2"
                        && status == "global cluster `switching-over`, cluster `modifying`"
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_throttled_switchover_is_retried_then_reported_as_throttling() {
        let replay = client(vec![
            west("available"),
            described("available", &[(EAST, true), (WEST, false)]),
            east("available"),
            error(400, "Throttling"),
            error(400, "Throttling"),
            error(400, "Throttling"),
        ]);
        let aurora = aurora(&replay, Duration::from_mins(1));
        let error = aurora
            .move_writer("db", "us-west-2", AuroraMove::Switchover, false)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::Throttled { code, .. } if code == "Throttling"),
            "{error:?}"
        );
        assert_eq!(actions(&replay)[3..], ["SwitchoverGlobalCluster"; 3]);
    }

    #[tokio::test]
    async fn a_switchover_is_refused_while_a_declared_cluster_is_detached() {
        // The failover detached orders-east; orders-west, the old primary, is still
        // the writer: the switchover would find it "done" and leave east's writes out.
        let replay = client(vec![
            west("available"),
            described("available", &[(WEST, true)]),
            east("available"),
        ]);
        let aurora = aurora(&replay, Duration::from_mins(1));
        let error = aurora
            .move_writer("db", "us-west-2", AuroraMove::Switchover, false)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::AuroraDetached { cluster, .. } if cluster == "orders-east in us-east-1"),
            "{error:?}"
        );
        assert!(
            !actions(&replay).iter().any(|a| a.contains("Switchover")),
            "{:?}",
            actions(&replay)
        );
    }

    #[tokio::test]
    async fn a_refused_switchover_says_what_aws_answered() {
        let replay = client(vec![
            west("available"),
            described("available", &[(EAST, true), (WEST, false)]),
            east("available"),
            error(400, "InvalidGlobalClusterStateFault"),
        ]);
        let aurora = aurora(&replay, Duration::from_mins(1));
        let error = aurora
            .move_writer("db", "us-west-2", AuroraMove::Switchover, false)
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("InvalidGlobalClusterStateFault") && text.contains("orders-west"),
            "{text}"
        );
    }

    /// `text` as a form-encoded value.
    fn urlencoding(text: &str) -> String {
        text.replace(':', "%3A").replace('/', "%2F")
    }
}
