//! Route 53 failover records (`routing = "failover"`): a PRIMARY set with a health
//! check and a SECONDARY set, moved by drplan's override of the PRIMARY's health check
//! (disabled + inverted: always unhealthy). On the sim the record is weighted 100/0; on
//! moto it is read and moved through Route 53, and checked from outside with the AWS CLI.

use std::fs;

use serde_json::{Value, json};

use crate::support::moto::{self, MotoServer};
use crate::support::runner::{self, Run};
use crate::support::snapshot;
use crate::support::workspace::Workspace;

const ENV: &str = "environments/failover-records.toml";

/// One service in two regions behind `www`, a failover record; `DNS` is the provider.
const ENVIRONMENT: &str = r#"
[environment]
name = "failover-records"
home = "us-east-1"
rto = "30m"

[providers]
dns = "DNS"
storage = "STORAGE"

[regions.us-east-1]
role = "primary"

[regions.us-west-2]
role = "secondary"

[services.web]
tier = 1
regions = ["us-east-1", "us-west-2"]
estimate = "1m"

[dns.www]
zone = "DOMAIN"
name = "www.DOMAIN"
type = "CNAME"
ttl = 60
follows = "web"
routing = "failover"
targets = { us-east-1 = "east.DOMAIN", us-west-2 = "west.DOMAIN" }

[scenarios.region-down]
severity = "SEV-1"
strategy = "failover"
to = "us-west-2"
"#;

impl Workspace {
    /// The environment on `dns` and `storage`, its record in `domain`.
    fn failover_records(&self, dns: &str, storage: &str, domain: &str) {
        let text = ENVIRONMENT
            .replace("\"DNS\"", &format!("\"{dns}\""))
            .replace("STORAGE", storage)
            .replace("DOMAIN", domain);
        fs::write(self.path().join(ENV), text).expect("the environment is written");
    }
}

#[test]
fn on_the_sim_a_failover_record_is_weighted_and_moves_like_any_other() {
    let workspace = Workspace::new();
    workspace.failover_records("sim", "sim", "example.test");
    workspace.run(&["sim", "init", ENV]).expect(0);

    let plan = workspace
        .run(&["plan", ENV, "--scenario", "region-down"])
        .expect(0);
    assert!(
        plan.stdout.contains("failover routing: PRIMARY us-east-1 forced unhealthy through its health check (disabled + inverted) → Route 53 answers SECONDARY us-west-2"),
        "{}",
        plan.stdout
    );
    snapshot::assert_live("failover_records", "sim_plan_text", &plan.stdout);
    for format in ["markdown", "json"] {
        let plan = workspace
            .run(&["plan", ENV, "--scenario", "region-down", "--format", format])
            .expect(0);
        snapshot::assert_live(
            "failover_records",
            &format!("sim_plan_{format}"),
            &plan.stdout,
        );
    }

    workspace
        .run(&["apply", ENV, "--scenario", "region-down", "--auto-approve"])
        .expect(0);
    workspace
        .run(&[
            "plan",
            ENV,
            "--scenario",
            "region-down",
            "--detailed-exitcode",
        ])
        .expect(0);

    let failback = workspace.run(&["plan", ENV, "--failback"]).expect(0);
    assert!(
        failback.stdout.contains("failover routing: PRIMARY us-east-1 judged by its health check again (override lifted: enabled, not inverted) → Route 53 answers PRIMARY us-east-1 while it is healthy, else SECONDARY us-west-2"),
        "{}",
        failback.stdout
    );
    workspace
        .run(&["apply", ENV, "--failback", "--auto-approve"])
        .expect(0);
    workspace
        .run(&["plan", ENV, "--failback", "--detailed-exitcode"])
        .expect(0);
}

fn drplan(workspace: &Workspace, moto: &MotoServer, args: &[&str]) -> Run {
    let mut command = workspace.command(args);
    command.envs(moto.aws_env());
    runner::run(&mut command)
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}):\n{text}"))
}

/// A zone named `domain`, a health check for its PRIMARY and the PRIMARY/SECONDARY
/// pair of `www` (the SECONDARY's value `secondary`), made with the AWS CLI; returns
/// (zone id, health check id).
fn seed(moto: &MotoServer, domain: &str, health_check: bool, secondary: &str) -> (String, String) {
    let zone = json_of(&moto.aws_cli(&[
        "route53",
        "create-hosted-zone",
        "--name",
        domain,
        "--caller-reference",
        domain,
    ]));
    let zone = zone["HostedZone"]["Id"]
        .as_str()
        .expect("a zone id")
        .trim_start_matches("/hostedzone/")
        .to_string();
    let check = json_of(&moto.aws_cli(&[
        "route53",
        "create-health-check",
        "--caller-reference",
        &format!("{domain}-primary"),
        "--health-check-config",
        &json!({ "Type": "HTTPS", "FullyQualifiedDomainName": format!("east.{domain}"), "Port": 443, "ResourcePath": "/health" }).to_string(),
    ]));
    let check = check["HealthCheck"]["Id"]
        .as_str()
        .expect("a health check id")
        .to_string();
    let mut primary = json!({
        "Name": format!("www.{domain}"), "Type": "CNAME", "SetIdentifier": "us-east-1",
        "Failover": "PRIMARY", "TTL": 60, "ResourceRecords": [{ "Value": format!("east.{domain}") }],
    });
    if health_check {
        primary["HealthCheckId"] = json!(check);
    }
    let secondary = json!({
        "Name": format!("www.{domain}"), "Type": "CNAME", "SetIdentifier": "us-west-2",
        "Failover": "SECONDARY", "TTL": 60, "ResourceRecords": [{ "Value": secondary }],
    });
    let changes: Vec<Value> = [primary, secondary]
        .into_iter()
        .map(|set| json!({ "Action": "CREATE", "ResourceRecordSet": set }))
        .collect();
    moto.aws_cli(&[
        "route53",
        "change-resource-record-sets",
        "--hosted-zone-id",
        &zone,
        "--change-batch",
        &json!({ "Changes": changes }).to_string(),
    ]);
    (zone, check)
}

/// (Disabled, Inverted) of the health check `id`, per the AWS CLI.
fn override_state(moto: &MotoServer, id: &str) -> (bool, bool) {
    let answer = json_of(&moto.aws_cli(&["route53", "get-health-check", "--health-check-id", id]));
    let config = &answer["HealthCheck"]["HealthCheckConfig"];
    let flag = |name: &str| config[name].as_bool().unwrap_or(false);
    (flag("Disabled"), flag("Inverted"))
}

/// (set identifier, failover role, value, health check id) of every set of `www`.
fn failover_sets(moto: &MotoServer, zone: &str) -> Vec<(String, String, String, Option<String>)> {
    let listed = json_of(&moto.aws_cli(&[
        "route53",
        "list-resource-record-sets",
        "--hosted-zone-id",
        zone,
    ]));
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut sets: Vec<_> = listed["ResourceRecordSets"]
        .as_array()
        .expect("ResourceRecordSets")
        .iter()
        .filter(|set| set["Type"] == "CNAME")
        .map(|set| {
            (
                text(&set["SetIdentifier"]),
                text(&set["Failover"]),
                text(&set["ResourceRecords"][0]["Value"]),
                set["HealthCheckId"].as_str().map(ToString::to_string),
            )
        })
        .collect();
    sets.sort();
    sets
}

#[test]
fn a_failover_record_moves_through_its_primarys_health_check_and_back() {
    let moto = moto::shared();
    let domain = "failover-moves.example.test";
    // The SECONDARY answers an old value: the failover also brings it to the target.
    let (zone, check) = seed(moto, domain, true, "old-west.failover-moves.example.test");
    let workspace = Workspace::new();
    workspace.failover_records("route53", "none", domain);

    let plan = drplan(
        &workspace,
        moto,
        &["plan", ENV, "--scenario", "region-down"],
    )
    .expect(0);
    assert!(
        plan.stdout.contains(&format!("failover routing: PRIMARY us-east-1 forced unhealthy through its health check {check} (disabled + inverted) → Route 53 answers SECONDARY us-west-2")),
        "{}",
        plan.stdout
    );
    snapshot::assert_live("failover_records", "moto_plan_text", &plan.stdout);
    assert!(
        plan.stderr
            .contains("drplan::stability::health_check_control_plane"),
        "{}",
        plan.stderr
    );

    drplan(
        &workspace,
        moto,
        &["apply", ENV, "--scenario", "region-down", "--auto-approve"],
    )
    .expect(0);
    assert_eq!(override_state(moto, &check), (true, true));
    let east = format!("east.{domain}");
    let west = format!("west.{domain}");
    assert_eq!(
        failover_sets(moto, &zone),
        [
            (
                "us-east-1".into(),
                "PRIMARY".into(),
                east.clone(),
                Some(check.clone())
            ),
            ("us-west-2".into(), "SECONDARY".into(), west.clone(), None),
        ]
    );
    drplan(
        &workspace,
        moto,
        &[
            "plan",
            ENV,
            "--scenario",
            "region-down",
            "--detailed-exitcode",
        ],
    )
    .expect(0);

    drplan(
        &workspace,
        moto,
        &["apply", ENV, "--failback", "--auto-approve"],
    )
    .expect(0);
    assert_eq!(override_state(moto, &check), (false, false));
    assert_eq!(
        failover_sets(moto, &zone),
        [
            ("us-east-1".into(), "PRIMARY".into(), east, Some(check)),
            ("us-west-2".into(), "SECONDARY".into(), west, None),
        ]
    );
    drplan(
        &workspace,
        moto,
        &["plan", ENV, "--failback", "--detailed-exitcode"],
    )
    .expect(0);
}

/// The live plan of the failover records of `domain` is refused with `code`; its
/// diagnostic is the snapshot `name`.
fn plan_is_refused(moto: &MotoServer, domain: &str, code: &str, name: &str) {
    let workspace = Workspace::new();
    workspace.failover_records("route53", "none", domain);
    let plan = drplan(
        &workspace,
        moto,
        &["plan", ENV, "--scenario", "region-down"],
    )
    .expect(1);
    assert!(plan.stderr.contains(code), "{}", plan.stderr);
    snapshot::assert_live("failover_records", name, &plan.stderr);
}

#[test]
fn a_primary_without_a_health_check_is_refused() {
    let moto = moto::shared();
    let domain = "failover-unchecked.example.test";
    seed(moto, domain, false, "west.failover-unchecked.example.test");
    plan_is_refused(
        moto,
        domain,
        "drplan::provider::failover_without_health_check",
        "primary_without_health_check",
    );
}

#[test]
fn a_health_check_only_inverted_is_reported_and_refused() {
    let moto = moto::shared();
    let domain = "failover-inverted.example.test";
    let (_, check) = seed(moto, domain, true, "west.failover-inverted.example.test");
    moto.aws_cli(&[
        "route53",
        "update-health-check",
        "--health-check-id",
        &check,
        "--inverted",
    ]);
    assert_eq!(override_state(moto, &check), (false, true));
    plan_is_refused(
        moto,
        domain,
        "drplan::provider::partial_health_check_override",
        "health_check_only_inverted",
    );
    // Nothing was changed by the refusal.
    assert_eq!(override_state(moto, &check), (false, true));
}
