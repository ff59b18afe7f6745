//! RDS services against moto: a service declaring `rds` instances is failed over by
//! promoting its cross-region read replica (`PromoteReadReplica`), gated on CloudWatch's
//! `ReplicaLag` against the data set's RPO, and checked from outside with the `aws` CLI.

use serde_json::Value;

use crate::command_dns::ENV;
use crate::support::moto::MotoServer;
use crate::support::runner;
use crate::support::snapshot;
use crate::support::workspace::Workspace;

/// The database, a primary in us-east-1 and its read replica in us-west-2.
const DATABASE: &str = r#"
[services.db]
tier = 1
regions = ["us-east-1", "us-west-2"]
estimate = "5m"
rds = { instances = { us-east-1 = "shop-db", us-west-2 = "shop-db-replica" }, timeout = "1m" }

[data.orders]
service = "db"
priority = "P0"
rpo = "1m"
method = "replicate"
"#;

const RENAMES: [(&str, &str); 2] = [("dc-east", "us-east-1"), ("dc-west", "us-west-2")];

/// The primary and its replica in moto, and the replica's lag in CloudWatch.
fn database(moto: &MotoServer, lag_seconds: &str) {
    moto.aws_cli(&[
        "rds",
        "create-db-instance",
        "--region",
        "us-east-1",
        "--db-instance-identifier",
        "shop-db",
        "--engine",
        "postgres",
        "--db-instance-class",
        "db.t3.micro",
        "--allocated-storage",
        "20",
        "--master-username",
        "shop",
        "--master-user-password",
        "not-a-secret",
    ]);
    moto.aws_cli(&[
        "rds",
        "create-db-instance-read-replica",
        "--region",
        "us-west-2",
        "--db-instance-identifier",
        "shop-db-replica",
        "--source-db-instance-identifier",
        "arn:aws:rds:us-east-1:123456789012:db:shop-db",
    ]);
    moto.aws_cli(&[
        "cloudwatch",
        "put-metric-data",
        "--region",
        "us-west-2",
        "--namespace",
        "AWS/RDS",
        "--metric-name",
        "ReplicaLag",
        "--dimensions",
        "DBInstanceIdentifier=shop-db-replica",
        "--value",
        lag_seconds,
    ]);
}

/// The replica's source as `describe-db-instances` reports it.
fn replica_source(moto: &MotoServer) -> Option<String> {
    let answer: Value = serde_json::from_str(&moto.aws_cli(&[
        "rds",
        "describe-db-instances",
        "--region",
        "us-west-2",
        "--db-instance-identifier",
        "shop-db-replica",
    ]))
    .expect("JSON");
    answer["DBInstances"][0]["ReadReplicaSourceDBInstanceIdentifier"]
        .as_str()
        .map(ToString::to_string)
}

fn drplan(workspace: &Workspace, moto: &MotoServer, args: &[&str]) -> runner::Run {
    let mut command = workspace.command(args);
    command.envs(moto.aws_env());
    runner::run(&mut command)
}

#[test]
fn a_failover_promotes_the_read_replica_once_its_lag_is_within_the_rpo() {
    let moto = MotoServer::start();
    let workspace = Workspace::new();
    workspace.onprem_in(&RENAMES, DATABASE);
    database(&moto, "2");
    assert!(
        replica_source(&moto).is_some(),
        "a replica before the failover"
    );

    let plan = drplan(&workspace, &moto, &["plan", ENV, "--scenario", "dc-outage"]).expect(0);
    snapshot::assert_live("rds", "plan_promoting_a_read_replica", &plan.stdout);

    let apply = drplan(
        &workspace,
        &moto,
        &["apply", ENV, "--scenario", "dc-outage", "--auto-approve"],
    )
    .expect(0);
    // moto keeps listing the source after a promotion (AWS clears it), so what the
    // apply did is read from its report, which records each SDK call's outcome.
    let report = apply
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("report: "))
        .expect("the apply names its report");
    let report = std::fs::read_to_string(workspace.path().join(report)).expect("the report");
    assert!(
        report.contains("PromoteReadReplica shop-db-replica in us-west-2"),
        "{report}"
    );
    assert_eq!(report.matches("PromoteReadReplica").count(), 1, "{report}");
}

#[test]
fn a_replica_lagging_beyond_the_rpo_is_not_promoted() {
    let moto = MotoServer::start();
    let workspace = Workspace::new();
    workspace.onprem_in(&RENAMES, DATABASE);
    database(&moto, "600");

    let apply = drplan(
        &workspace,
        &moto,
        &["apply", ENV, "--scenario", "dc-outage", "--auto-approve"],
    );
    assert_ne!(apply.code, Some(0), "{}", apply.stderr);
    assert!(replica_source(&moto).is_some(), "still a replica");
    assert!(
        !apply
            .stdout
            .contains("PromoteReadReplica shop-db-replica in"),
        "{}",
        apply.stdout
    );
    snapshot::assert_live("rds", "lagging_replica_refused", &apply.stderr);
}

#[test]
fn the_failback_asks_a_person_for_a_new_read_replica_and_never_deletes_the_old_primary() {
    let workspace = Workspace::new();
    workspace.onprem_in(&RENAMES, DATABASE);
    let plan = workspace
        .run(&["plan", ENV, "--failback", "--offline"])
        .expect(0);
    // AWS cannot turn the old primary back into a replica: the reprotect is a new
    // read replica of the promoted one, made by a person (drplan deletes nothing).
    let step = plan
        .stdout
        .lines()
        .skip_while(|line| !line.trim_start().starts_with("manual:db"))
        .take(3)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        step.contains("make db in us-east-1 a replica of us-west-2")
            && step.contains("aws rds create-db-instance-read-replica --region us-east-1")
            && step.contains("retire shop-db yourself"),
        "{plan}"
    );
}
