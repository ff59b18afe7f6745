//! `switchover_ttl`: a switchover first lowers a record's TTL and waits the old one
//! out, switches at the lowered TTL, and puts the declared TTL back once verified; a
//! failover does none of it. Planned offline, applied on the sim world, through DNS
//! commands and on Route 53 (moto, checked with the `aws` CLI); each refusal of the
//! language with its span.

use std::fs;

use serde_json::Value;

use crate::command_dns::ENV;
use crate::support::moto;
use crate::support::runner::{self, Run};
use crate::support::workspace::Workspace;

const ACTIVE_ACTIVE: &str = "environments/active-active.toml";

/// A workspace holding the active-active environment, which declares
/// `switchover_ttl = "10s"` on its 60s record.
fn active_active() -> Workspace {
    let workspace = Workspace::new();
    let source = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/environments/active-active.toml"
    );
    fs::copy(source, workspace.path().join(ACTIVE_ACTIVE)).expect("the environment is copied");
    workspace
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}):\n{text}"))
}

/// The plan's step `id`.
fn step<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["plan"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {plan:#}"))
}

/// The TTLs of a step's record sets, before and after.
fn ttls(step: &Value) -> (Vec<u64>, Vec<u64>) {
    let ttls = |side: &str| -> Vec<u64> {
        step["change"][side]
            .as_array()
            .expect("record sets")
            .iter()
            .map(|set| set["ttl"].as_u64().expect("a ttl"))
            .collect()
    };
    (ttls("before"), ttls("after"))
}

fn kinds(plan: &Value) -> Vec<String> {
    plan["plan"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["action"]["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_switchover_lowers_the_ttl_first_and_puts_it_back_once_verified() {
    let workspace = active_active();
    let args = [
        "plan",
        ACTIVE_ACTIVE,
        "--scenario",
        "planned-evacuation",
        "--offline",
        "--format",
        "json",
    ];
    let plan = json_of(&workspace.run(&args).expect(0).stdout);

    let lower = step(&plan, "lower-ttl:api");
    assert_eq!(lower["phase"], "mitigate");
    assert_eq!(lower["action"]["ttl"], 10);
    assert_eq!(lower["action"]["wait"], 60, "the old TTL is waited out");
    assert_eq!(lower["estimate"], 60);
    assert_eq!(ttls(lower), (vec![60, 60], vec![10, 10]));
    // Before anything is fenced or promoted, and on the critical path.
    let catch_up = step(&plan, "catch-up:orders");
    assert_eq!(catch_up["depends_on"], serde_json::json!(["lower-ttl:api"]));
    let critical = plan["plan"]["summary"]["critical_path"].to_string();
    assert!(critical.contains("lower-ttl:api"), "{critical}");

    let switch = step(&plan, "switch:api");
    assert_eq!(ttls(switch), (vec![10, 10], vec![10, 10]));
    assert_eq!(switch["estimate"], 10, "the switch takes effect within 10s");
    let verify = step(&plan, "verify:api-answers");
    assert_eq!(verify["action"]["ttl_wait"]["ttl"], 10);

    let restore = step(&plan, "restore-ttl:api");
    assert_eq!(restore["phase"], "resolve");
    assert_eq!(restore["depends_on"], serde_json::json!(["gate:verify"]));
    assert_eq!(ttls(restore), (vec![10, 10], vec![60, 60]));

    let text = workspace
        .run(&[
            "plan",
            ACTIVE_ACTIVE,
            "--scenario",
            "planned-evacuation",
            "--offline",
        ])
        .expect(0)
        .stdout;
    assert!(
        text.contains("lowers the TTL to 10s and waits out the old 1m (answers cached before the lowering), so that the switch takes effect within 10s"),
        "{text}"
    );
}

#[test]
fn a_failover_of_the_same_environment_lowers_no_ttl() {
    let workspace = active_active();
    for target in [&["--scenario", "evacuate-us-east-1"][..], &["--failback"]] {
        let args = [
            &["plan", ACTIVE_ACTIVE][..],
            target,
            &["--offline", "--format", "json"],
        ]
        .concat();
        let plan = json_of(&workspace.run(&args).expect(0).stdout);
        let kinds = kinds(&plan);
        assert!(kinds.contains(&"switch".to_string()), "{kinds:?}");
        assert!(
            !kinds.iter().any(|k| k.ends_with("-ttl")),
            "{target:?}: {kinds:?}"
        );
        let switch = step(&plan, "switch:api");
        assert_eq!(ttls(switch), (vec![60, 60], vec![60, 60]));
    }
}

/// The run report an apply names, as JSON.
fn report(workspace: &Workspace, apply: &Run) -> Value {
    let report = apply
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("report: "))
        .expect("the apply names its report")
        .replace(".md", ".json");
    json_of(&fs::read_to_string(workspace.path().join(report)).expect("the report"))
}

fn reported<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {report:#}"))
}

#[test]
fn a_switchover_on_the_sim_ends_with_the_declared_ttl_back() {
    let workspace = active_active();
    workspace.run(&["sim", "init", ACTIVE_ACTIVE]).expect(0);
    let apply = workspace
        .run(&[
            "apply",
            ACTIVE_ACTIVE,
            "--scenario",
            "planned-evacuation",
            "--auto-approve",
            "--time-scale",
            "0.01",
        ])
        .expect(0);

    let world: Value = json_of(
        &fs::read_to_string(workspace.path().join(".drplan/sim/active-active.json"))
            .expect("the sim world"),
    );
    let sets: Vec<(u64, u64)> = world["records"]["api"]
        .as_array()
        .expect("the record's sets")
        .iter()
        .map(|s| (s["weight"].as_u64().unwrap(), s["ttl"].as_u64().unwrap()))
        .collect();
    assert_eq!(sets, [(0, 60), (50, 60)], "evacuated, at the declared TTL");

    let report = report(&workspace, &apply);
    let lower = reported(&report, "lower-ttl:api");
    assert_eq!(
        lower["detail"],
        "set the TTL of api.shop.example to 10s; waited out the old TTL, 1m"
    );
    // The old minute, scaled like every wait of the run (× 0.01).
    let waited = lower["duration_ms"].as_u64().expect("a duration");
    assert!(waited >= 600, "the lowering waited {waited} ms");
    assert_eq!(
        reported(&report, "restore-ttl:api")["detail"],
        "set the TTL of api.shop.example to 60s"
    );
}

#[test]
fn dns_commands_see_the_ttl_lowered_the_switch_at_it_and_the_ttl_put_back() {
    let workspace = Workspace::new();
    onprem_switchover(&workspace, 2);

    let apply = workspace
        .run(&[
            "apply",
            ENV,
            "--scenario",
            "dc-maintenance",
            "--auto-approve",
        ])
        .expect(0);

    assert_eq!(
        applied(&workspace),
        [
            vec![(100, 1), (0, 1)], // lowered, home still serving
            vec![(0, 1), (100, 1)], // switched at the lowered TTL
            vec![(0, 2), (100, 2)], // the declared TTL back
        ]
    );
    // Real DNS: the old TTL (2s, as the record declares; its sets carry none) is waited
    // out in full (the report keeps milliseconds).
    let report = report(&workspace, &apply);
    let waited = reported(&report, "lower-ttl:www")["duration_ms"]
        .as_u64()
        .expect("a duration");
    assert!(waited >= 1999, "the lowering waited {waited} ms");
}

/// The on-premises environment with a switchover of `www` (TTL `ttl`s, lowered to 1s),
/// whose apply command logs every set of record sets it is given, one JSON line each.
fn onprem_switchover(workspace: &Workspace, ttl: u32) {
    workspace.onprem_in(
        &[
            (
                r#"echo \"$DRPLAN_RECORD_NAME $DRPLAN_RECORD_ZONE $DRPLAN_RECORD_TYPE\""#,
                r#"echo \"$DRPLAN_RECORD_SETS\""#,
            ),
            (
                "follows = \"web\"",
                &format!("ttl = {ttl}\nswitchover_ttl = \"1s\"\nfollows = \"web\""),
            ),
        ],
        "\n[scenarios.dc-maintenance]\nstrategy = \"switchover\"\nto = \"dc-west\"\n",
    );
}

/// (weight, TTL) of each set the apply command was given, per call.
fn applied(workspace: &Workspace) -> Vec<Vec<(u64, u64)>> {
    let log = fs::read_to_string(workspace.path().join("dns/applied.log")).unwrap_or_default();
    log.lines()
        .map(|line| {
            json_of(line)
                .as_array()
                .expect("record sets")
                .iter()
                .map(|s| (s["weight"].as_u64().unwrap(), s["ttl"].as_u64().unwrap()))
                .collect()
        })
        .collect()
}

#[test]
fn a_run_killed_while_it_waits_out_the_old_ttl_lowers_and_waits_again_on_resume() {
    let workspace = Workspace::new();
    onprem_switchover(&workspace, 5);
    let apply = [
        "apply",
        ENV,
        "--scenario",
        "dc-maintenance",
        "--auto-approve",
    ];
    let mut running = workspace.spawn(&apply);
    // Killed once the TTL is lowered, while the step waits out the old 5s.
    while applied(&workspace).is_empty() {
        assert!(!running.has_exited(), "the apply ended before lowering");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    running.kill();
    assert_eq!(applied(&workspace), [vec![(100, 1), (0, 1)]]);

    // The resume lowers again (the same sets: harmless) and waits the old TTL out in
    // full again: never less than needed.
    let resume = ["apply", "--resume", ENV, "--auto-approve"];
    let resumed = workspace.run(&resume).expect(0);
    assert_eq!(
        applied(&workspace),
        [
            vec![(100, 1), (0, 1)],
            vec![(100, 1), (0, 1)],
            vec![(0, 1), (100, 1)],
            vec![(0, 5), (100, 5)],
        ]
    );
    let report = report(&workspace, &resumed);
    let waited = reported(&report, "lower-ttl:www")["duration_ms"]
        .as_u64()
        .expect("a duration");
    assert!(waited >= 4999, "the resumed lowering waited {waited} ms");
}

/// `drplan validate` of the on-premises environment with `renames` made.
fn validate_onprem(renames: &[(&str, &str)]) -> Run {
    let workspace = Workspace::new();
    workspace.onprem_in(renames, "");
    workspace.run(&["validate", ENV])
}

fn assert_refused(run: &Run, message: &str, label: &str) {
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let said = run.message();
    for expected in ["drplan::config::invalid_value", message, label, "help:"] {
        assert!(said.contains(expected), "{expected} in\n{}", run.stderr);
    }
}

#[test]
fn a_switchover_ttl_is_refused_unless_below_the_ttl_in_whole_seconds() {
    let at = |value: &str| format!("ttl = 2\nswitchover_ttl = \"{value}\"\nfollows = \"web\"");
    let run = validate_onprem(&[("follows = \"web\"", &at("2s"))]);
    assert_refused(
        &run,
        "`switchover_ttl` of [dns.www] must be below its `ttl` (2s)",
        "not below the record's ttl",
    );
    for fraction in ["1500ms", "0s"] {
        let run = validate_onprem(&[("follows = \"web\"", &at(fraction))]);
        assert_refused(
            &run,
            "`switchover_ttl` of [dns.www] must be whole seconds, at least 1s",
            "not whole seconds",
        );
    }
    validate_onprem(&[("follows = \"web\"", &at("1s"))]).expect(0);
}

#[test]
fn a_switchover_ttl_is_refused_on_an_alias_record() {
    let run = validate_onprem(&[(
        "follows = \"web\"",
        "switchover_ttl = \"30s\"\nalias = { zone_id = \"Z1\" }\nfollows = \"web\"",
    )]);
    assert_refused(
        &run,
        "cannot lower the TTL of an alias record",
        "an alias record has no TTL",
    );
}

#[test]
fn a_switchover_ttl_is_refused_under_arc_routing_controls() {
    let workspace = Workspace::new();
    let arc = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/kitchen-sink-arc.toml"
    );
    let text = fs::read_to_string(arc).expect("the ARC kitchen sink");
    let file = workspace.path().join("arc.toml");
    fs::write(
        &file,
        text.replace(
            "follows = \"web\"",
            "switchover_ttl = \"30s\"\nfollows = \"web\"",
        ),
    )
    .expect("written");
    let run = workspace.run(&["validate", "arc.toml"]);
    assert_refused(&run, "cannot be used with dns = \"arc\"", "not with ARC");
}

/// A switchover through Route 53 on moto: `www` (TTL 2s) lowered to 1s, switched at
/// it, and 2s again at the end. A step of the scenario lists the record sets with the
/// `aws` CLI between the lowering and the switch.
const ROUTE53: &str = r#"
[environment]
name = "ttl"
home = "us-east-1"
rto = "30m"

[providers]
dns = "route53"
storage = "none"

[regions.us-east-1]
role = "primary"

[regions.us-west-2]
role = "secondary"

[services.web]
tier = 1
regions = ["us-east-1", "us-west-2"]
estimate = "1m"
activate = ["sh", "-c", "echo {region} >> activated"]

[dns.www]
zone = "ttl.example.test"
name = "www.ttl.example.test"
type = "CNAME"
ttl = 2
switchover_ttl = "1s"
follows = "web"
targets = { us-east-1 = "web.east.example.test", us-west-2 = "web.west.example.test" }

[scenarios.maintenance]
strategy = "switchover"
to = "us-west-2"

[[scenarios.maintenance.steps]]
phase = "mitigate"
name = "list the record sets"
run = ["sh", "-c", "\"$0\" --endpoint-url \"$1\" --output json route53 list-resource-record-sets --hosted-zone-id \"$2\" > during.json", "AWS", "ENDPOINT", "ZONE"]
"#;

/// (set identifier, weight, TTL) of each weighted set in a `list-resource-record-sets`
/// answer.
fn listed(answer: &Value) -> Vec<(String, u64, u64)> {
    let mut sets: Vec<(String, u64, u64)> = answer["ResourceRecordSets"]
        .as_array()
        .expect("ResourceRecordSets")
        .iter()
        .filter_map(|set| {
            Some((
                set["SetIdentifier"].as_str()?.to_string(),
                set["Weight"].as_u64()?,
                set["TTL"].as_u64()?,
            ))
        })
        .collect();
    sets.sort();
    sets
}

#[test]
fn route53_on_moto_sees_the_ttl_lowered_then_put_back() {
    let moto = moto::shared();
    let created = json_of(&moto.aws_cli(&[
        "route53",
        "create-hosted-zone",
        "--name",
        "ttl.example.test",
        "--caller-reference",
        "switchover-ttl",
    ]));
    let zone = created["HostedZone"]["Id"]
        .as_str()
        .expect("a zone id")
        .trim_start_matches("/hostedzone/")
        .to_string();
    let set = |region: &str, value: &str, weight: u64| {
        serde_json::json!({"Action": "CREATE", "ResourceRecordSet": {
            "Name": "www.ttl.example.test", "Type": "CNAME", "SetIdentifier": region,
            "Weight": weight, "TTL": 2, "ResourceRecords": [{"Value": value}]}})
    };
    let batch = serde_json::json!({"Changes": [
        set("us-east-1", "web.east.example.test", 100),
        set("us-west-2", "web.west.example.test", 0),
    ]});
    moto.aws_cli(&[
        "route53",
        "change-resource-record-sets",
        "--hosted-zone-id",
        &zone,
        "--change-batch",
        &batch.to_string(),
    ]);
    let workspace = Workspace::new();
    let aws = moto::tool_path("DRPLAN_AWS_CLI", "aws");
    let environment = ROUTE53
        .replace("\"AWS\"", &format!("\"{}\"", aws.display()))
        .replace("\"ENDPOINT\"", &format!("\"{}\"", moto.endpoint))
        .replace("\"ZONE\"", &format!("\"{zone}\""));
    fs::write(workspace.path().join("environments/ttl.toml"), environment).expect("written");

    let mut apply = workspace.command(&[
        "apply",
        "environments/ttl.toml",
        "--scenario",
        "maintenance",
        "--auto-approve",
    ]);
    apply.envs(moto.aws_env());
    runner::run(&mut apply).expect(0);

    let during =
        json_of(&fs::read_to_string(workspace.path().join("during.json")).expect("listed"));
    assert_eq!(
        listed(&during),
        [
            ("us-east-1".to_string(), 100, 1),
            ("us-west-2".to_string(), 0, 1)
        ],
        "lowered before the switch, home still serving"
    );
    let after = json_of(&moto.aws_cli(&[
        "route53",
        "list-resource-record-sets",
        "--hosted-zone-id",
        &zone,
    ]));
    assert_eq!(
        listed(&after),
        [
            ("us-east-1".to_string(), 0, 2),
            ("us-west-2".to_string(), 100, 2)
        ],
        "switched, and the declared TTL back"
    );
}
