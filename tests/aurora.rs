//! Aurora global databases against moto: a service declaring `aurora` is failed over by
//! detaching its secondary cluster from the global cluster (`RemoveFromGlobalCluster`,
//! which makes it writable), gated on CloudWatch's `AuroraGlobalDBReplicationLag`
//! (milliseconds) against the data set's RPO, and checked from outside with the `aws`
//! CLI. The switchover and the managed failover, which moto lacks, are tested through
//! the SDK's replay client in `src/providers/aurora.rs`.
//!
//! moto keeps global clusters in us-east-1 and finds them only for calls made there,
//! while drplan calls in the target's region (as AWS documents, the primary's may be
//! down): the target here is us-east-1.

use serde_json::Value;

use crate::command_dns::ENV;
use crate::support::moto::MotoServer;
use crate::support::runner;
use crate::support::snapshot;
use crate::support::workspace::Workspace;

/// The database: the primary cluster in us-west-2, its secondary in us-east-1.
const DATABASE: &str = r#"
[services.db]
tier = 1
regions = ["us-west-2", "us-east-1"]
estimate = "5m"
aurora = { global_cluster = "orders", clusters = { us-west-2 = "orders-west", us-east-1 = "orders-east" }, timeout = "1m" }

[data.orders]
service = "db"
priority = "P0"
rpo = "1m"
method = "replicate"

[scenarios.planned-move]
strategy = "switchover"
to = "us-east-1"
"#;

const RENAMES: [(&str, &str); 2] = [("dc-east", "us-west-2"), ("dc-west", "us-east-1")];

const EAST_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:orders-east";

/// The global cluster, its two members and the secondary's lag in CloudWatch.
fn database(moto: &MotoServer, lag_millis: &str) {
    moto.aws_cli(&[
        "rds",
        "create-global-cluster",
        "--region",
        "us-east-1",
        "--global-cluster-identifier",
        "orders",
        "--engine",
        "aurora-postgresql",
    ]);
    for (region, id) in [("us-west-2", "orders-west"), ("us-east-1", "orders-east")] {
        moto.aws_cli(&[
            "rds",
            "create-db-cluster",
            "--region",
            region,
            "--db-cluster-identifier",
            id,
            "--engine",
            "aurora-postgresql",
            "--global-cluster-identifier",
            "orders",
            "--master-username",
            "orders",
            "--master-user-password",
            "not-a-secret",
        ]);
    }
    moto.aws_cli(&[
        "cloudwatch",
        "put-metric-data",
        "--region",
        "us-east-1",
        "--namespace",
        "AWS/RDS",
        "--metric-name",
        "AuroraGlobalDBReplicationLag",
        "--dimensions",
        "DBClusterIdentifier=orders-east",
        "--value",
        lag_millis,
    ]);
}

/// The ARNs of the global cluster's members, as `describe-global-clusters` reports them.
fn members(moto: &MotoServer) -> Vec<String> {
    let answer: Value = serde_json::from_str(&moto.aws_cli(&[
        "rds",
        "describe-global-clusters",
        "--region",
        "us-east-1",
        "--global-cluster-identifier",
        "orders",
    ]))
    .expect("JSON");
    answer["GlobalClusters"][0]["GlobalClusterMembers"]
        .as_array()
        .map(|members| {
            members
                .iter()
                .filter_map(|m| m["DBClusterArn"].as_str().map(ToString::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The status of orders-east, as `describe-db-clusters` reports it.
fn east_status(moto: &MotoServer) -> String {
    let answer: Value = serde_json::from_str(&moto.aws_cli(&[
        "rds",
        "describe-db-clusters",
        "--region",
        "us-east-1",
        "--db-cluster-identifier",
        "orders-east",
    ]))
    .expect("JSON");
    answer["DBClusters"][0]["Status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn drplan(workspace: &Workspace, moto: &MotoServer, args: &[&str]) -> runner::Run {
    let mut command = workspace.command(args);
    command.envs(moto.aws_env());
    runner::run(&mut command)
}

/// The run report an apply names.
fn report(workspace: &Workspace, apply: &runner::Run) -> String {
    let report = apply
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("report: "))
        .expect("the apply names its report");
    std::fs::read_to_string(workspace.path().join(report)).expect("the report")
}

#[test]
fn a_failover_detaches_the_secondary_cluster_once_its_lag_is_within_the_rpo() {
    let moto = MotoServer::start();
    let workspace = Workspace::new();
    workspace.onprem_in(&RENAMES, DATABASE);
    database(&moto, "2000");
    assert!(members(&moto).contains(&EAST_ARN.to_string()), "a member");

    let plan = drplan(&workspace, &moto, &["plan", ENV, "--scenario", "dc-outage"]).expect(0);
    snapshot::assert_live("aurora", "plan_detaching_a_secondary", &plan.stdout);

    let apply = drplan(
        &workspace,
        &moto,
        &["apply", ENV, "--scenario", "dc-outage", "--auto-approve"],
    )
    .expect(0);
    let members = members(&moto);
    assert!(!members.contains(&EAST_ARN.to_string()), "{members:?}");
    assert_eq!(members.len(), 1, "the primary stays: {members:?}");
    assert_eq!(east_status(&moto), "available");
    let report = report(&workspace, &apply);
    assert!(
        report.contains("RemoveFromGlobalCluster orders → orders-east in us-east-1"),
        "{report}"
    );
    assert_eq!(
        report.matches("RemoveFromGlobalCluster").count(),
        1,
        "{report}"
    );
}

#[test]
fn a_secondary_lagging_beyond_the_rpo_is_not_detached() {
    let moto = MotoServer::start();
    let workspace = Workspace::new();
    workspace.onprem_in(&RENAMES, DATABASE);
    // 600,000 ms: ten minutes against an RPO of one.
    database(&moto, "600000");

    let apply = drplan(
        &workspace,
        &moto,
        &["apply", ENV, "--scenario", "dc-outage", "--auto-approve"],
    );
    assert_ne!(apply.code, Some(0), "{}", apply.stderr);
    assert!(
        members(&moto).contains(&EAST_ARN.to_string()),
        "still a member"
    );
    snapshot::assert_live("aurora", "lagging_secondary_refused", &apply.stderr);
}

#[test]
fn a_switchover_plan_catches_up_then_switches_the_global_cluster_over() {
    let moto = MotoServer::start();
    let workspace = Workspace::new();
    workspace.onprem_in(&RENAMES, DATABASE);
    database(&moto, "0");

    let plan = drplan(
        &workspace,
        &moto,
        &["plan", ENV, "--scenario", "planned-move"],
    )
    .expect(0);
    snapshot::assert_live("aurora", "plan_switching_over", &plan.stdout);
}
