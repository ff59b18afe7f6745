//! Wait-until, through the binary: health probes and checks that wait for a condition
//! on their output (`until`), answered by the sim (a value per probe, set with `sim
//! set --probe`) and by real commands; the plan says what each waits for; a wrong
//! condition is refused at validate.

use std::fs;

use crate::support::snapshot;
use crate::support::webhook::{Answer, Script, Webhook};
use crate::support::workspace::Workspace;

const ENV: &str = "waits.toml";

/// A failover on the sim whose database probe waits for a job to be `COMPLETED` and
/// whose checklist waits for no failed jobs.
const WAITS: &str = r#"
[environment]
name = "waits"
home = "eu-west-1"
rto = "30m"

[regions.eu-west-1]
role = "primary"

[regions.eu-central-1]
role = "secondary"

[services.db]
tier = 1
regions = ["eu-west-1", "eu-central-1"]
estimate = "2m"
activate = ["db-promote", "{region}"]
health = { command = ["db-status", "{region}"], until = { json = "/status", equals = "COMPLETED", interval = "10s", timeout = "1m" } }

[dns.app]
zone = "waits.example"
name = "app.waits.example"
type = "CNAME"
follows = "db"
targets = { eu-west-1 = "db.eu-west-1.waits.example", eu-central-1 = "db.eu-central-1.waits.example" }

[[checks]]
name = "jobs"
command = ["jobs", "--failed"]
until = { regex = "failed=(\\d+)", below = 1, interval = "5s", timeout = "30s" }

[scenarios.outage]
strategy = "failover"
to = "eu-central-1"

[[scenarios.outage.steps]]
phase = "recover"
name = "reseed"
run = ["reseed", "{region}"]
until = { regex = "seeded", interval = "10s", timeout = "1m" }
"#;

impl Workspace {
    fn waits(&self) {
        fs::write(self.path().join(ENV), WAITS).expect("the environment is written");
        self.run(&["sim", "init", ENV]).expect(0);
    }

    fn apply_waits(&self) -> crate::support::runner::Run {
        self.run(&["apply", ENV, "--scenario", "outage", "--auto-approve"])
    }
}

#[test]
fn the_plan_says_what_each_probe_waits_for() {
    let workspace = Workspace::new();
    workspace.waits();
    let plan = workspace
        .run(&["plan", ENV, "--scenario", "outage", "--offline"])
        .expect(0);
    assert!(
        plan.stdout
            .contains(r#"waits until /status = "COMPLETED" (every 10s, up to 1m)"#),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains(r"waits until /failed=(\d+)/ < 1 (every 5s, up to 30s)"),
        "{}",
        plan.stdout
    );
    snapshot::assert("until", "plan_with_conditions", &plan.stdout);
    let json = workspace
        .run(&[
            "plan",
            ENV,
            "--scenario",
            "outage",
            "--offline",
            "--format",
            "json",
        ])
        .expect(0);
    assert!(
        json.stdout.contains(r#""equals": "COMPLETED""#),
        "{}",
        json.stdout
    );
    let markdown = workspace
        .run(&[
            "plan",
            ENV,
            "--scenario",
            "outage",
            "--offline",
            "--format",
            "markdown",
        ])
        .expect(0);
    assert!(
        markdown
            .stdout
            .contains(r#"waits until /status = "COMPLETED" (every 10s, up to 1m)"#),
        "{}",
        markdown.stdout
    );
}

#[test]
fn on_the_sim_a_condition_holds_unless_a_value_is_set() {
    let workspace = Workspace::new();
    workspace.waits();
    workspace.apply_waits().expect(0);
    let report = workspace.reports().pop().expect("a run report");
    assert!(
        report.contains(r#"healthy: sim: /status = "COMPLETED" (no sim value set) |"#),
        "{report}"
    );
}

#[test]
fn a_sim_value_that_never_satisfies_fails_after_the_timeout_naming_it() {
    let workspace = Workspace::new();
    workspace.waits();
    workspace
        .run(&[
            "sim",
            "set",
            ENV,
            "--probe",
            "health:db",
            "--value",
            r#"{"status": "RUNNING"}"#,
        ])
        .expect(0);
    let apply = workspace.apply_waits();
    assert_ne!(apply.code, Some(0), "{apply}");
    let said = format!("{}{}", apply.stdout, apply.stderr);
    assert!(
        said.contains(r#"waited for /status = "COMPLETED": last saw `RUNNING`"#),
        "{said}"
    );
    assert!(said.contains("after 7 probe(s)"), "1m every 10s: {said}");
}

#[test]
fn a_check_waits_until_its_number_is_below_the_limit() {
    let workspace = Workspace::new();
    workspace.waits();
    workspace
        .run(&[
            "sim",
            "set",
            ENV,
            "--probe",
            "check:jobs",
            "--value",
            "failed=3",
        ])
        .expect(0);
    let apply = workspace.apply_waits();
    assert_ne!(apply.code, Some(0), "{apply}");
    let said = format!("{}{}", apply.stdout, apply.stderr);
    assert!(
        said.contains(r"waited for /failed=(\d+)/ < 1: last saw `3`"),
        "{said}"
    );

    let workspace = Workspace::new();
    workspace.waits();
    workspace
        .run(&[
            "sim",
            "set",
            ENV,
            "--probe",
            "check:jobs",
            "--value",
            "failed=0",
        ])
        .expect(0);
    workspace.apply_waits().expect(0);
    let report = workspace.reports().pop().expect("a run report");
    assert!(report.contains("| `verify:jobs` | finished |"), "{report}");
    assert!(report.contains(r"/failed=(\d+)/ < 1 (saw `0`)"), "{report}");
}

#[test]
fn a_scenario_step_runs_again_until_its_output_matches() {
    let workspace = Workspace::new();
    workspace.waits();
    workspace
        .run(&[
            "sim",
            "set",
            ENV,
            "--probe",
            "step:reseed",
            "--value",
            "seeding 40%",
        ])
        .expect(0);
    let apply = workspace.apply_waits();
    assert_ne!(apply.code, Some(0), "{apply}");
    let said = format!("{}{}", apply.stdout, apply.stderr);
    assert!(
        said.contains(
            "step `reseed` waited in vain: waited for the output matches /seeded/: the output does not match /seeded/"
        ),
        "{said}"
    );
}

#[test]
fn an_unknown_probe_name_is_refused_with_a_suggestion() {
    let workspace = Workspace::new();
    workspace.waits();
    let set = workspace
        .run(&["sim", "set", ENV, "--probe", "health:bd", "--value", "x"])
        .expect(1);
    assert!(set.stderr.contains("did you mean `health:db`?"), "{set}");
}

/// A probe through a real command that prints RUNNING twice, then COMPLETED (counting
/// its runs in a file), on an environment whose commands run for real.
#[test]
fn a_real_command_probe_is_tried_until_its_condition_holds() {
    let workspace = Workspace::new();
    let probe = r#"health = { command = ["sh", "-c", "n=$(cat runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > runs; if [ $n -ge 3 ]; then echo COMPLETED; else echo RUNNING; fi"], until = { equals = "COMPLETED", interval = "100ms", timeout = "20s" } }"#;
    workspace.onprem_in(
        &[(
            r#"health = { command = ["test", "-e", "activated-{service}"] }"#,
            probe,
        )],
        "",
    );
    let apply = workspace
        .run(&[
            "apply",
            crate::command_dns::ENV,
            "--scenario",
            "dc-outage",
            "--auto-approve",
        ])
        .expect(0);
    assert_eq!(
        fs::read_to_string(workspace.path().join("runs")).expect("the probe ran"),
        "3\n",
        "{apply}"
    );
    let report = workspace.reports().pop().expect("a run report");
    assert!(
        report.contains(r#"healthy: the output = "COMPLETED" (saw `COMPLETED`)"#),
        "{report}"
    );
}

/// A replicated data set of `service` whose lag probe counts only once the
/// replication state is `streaming` (TOML).
fn streaming_lag(service: &str, command: &str, interval: &str, timeout: &str) -> String {
    format!(
        "\n[data.orders]\nservice = \"{service}\"\nrpo = \"1m\"\nmethod = \"replicate\"\nlag = {{ command = {command}, json = \"/lag_ms\", unit = \"ms\", until = {{ json = \"/state\", equals = \"streaming\", interval = \"{interval}\", timeout = \"{timeout}\" }} }}\n"
    )
}

#[test]
fn a_lag_probe_counts_only_once_its_condition_holds_on_the_sim() {
    let workspace = Workspace::new();
    let text = WAITS.to_string()
        + &streaming_lag("db", r#"["db-lag", "{region}"]"#, "10s", "1m")
        + "\n[scenarios.move]\nstrategy = \"switchover\"\nto = \"eu-central-1\"\n";
    fs::write(workspace.path().join(ENV), text).expect("the environment is written");
    workspace.run(&["sim", "init", ENV]).expect(0);

    let plan = workspace
        .run(&["plan", ENV, "--scenario", "move"])
        .expect(0);
    assert!(
        plan.stdout.contains(
            r#"its lag is read once the probe waits until /state = "streaming" (every 10s, up to 1m)"#
        ),
        "{}",
        plan.stdout
    );

    workspace
        .run(&[
            "sim",
            "set",
            ENV,
            "--probe",
            "lag:orders",
            "--value",
            r#"{"state": "catchup", "lag_ms": 0}"#,
        ])
        .expect(0);
    // The plan says why the copy's lag is unknown; the apply's catch-up does not pass.
    let unread = r#"lag unreadable (cannot read the replication lag of `orders` in eu-central-1: waited for /state = "streaming": last saw `catchup` (the sim's value))"#;
    let plan = workspace
        .run(&["plan", ENV, "--scenario", "move"])
        .expect(0);
    assert!(plan.stdout.contains(unread), "{}", plan.stdout);
    let apply = workspace
        .run(&["apply", ENV, "--scenario", "move", "--auto-approve"])
        .expect(1);
    assert!(
        apply.stderr.contains("catch-up:orders") && apply.stderr.contains("last saw `catchup`"),
        "{apply}"
    );
}

#[test]
fn a_real_lag_probe_is_tried_until_replication_streams() {
    // Catching up on the first read, streaming from the second.
    let script = r#"["sh", "-c", "n=$(cat lag-reads 2>/dev/null || echo 0); n=$((n+1)); echo $n > lag-reads; if [ $n -ge 2 ]; then s=streaming; else s=catchup; fi; printf '{{\"state\": \"%s\", \"lag_ms\": 0}}' $s"]"#;
    let workspace = Workspace::new();
    workspace.onprem_in(&[], &streaming_lag("web", script, "100ms", "20s"));
    let plan = workspace
        .run(&["plan", crate::command_dns::ENV, "--scenario", "dc-outage"])
        .expect(0);
    assert!(plan.stdout.contains("lag 0s"), "{}", plan.stdout);
    let reads: u32 = fs::read_to_string(workspace.path().join("lag-reads"))
        .expect("the probe ran")
        .trim()
        .parse()
        .expect("a count");
    assert!(reads >= 2, "the probe was read {reads} time(s)");

    // Never streaming: the lag is not read, and the plan says why.
    let never = r#"["sh", "-c", "printf '{{\"state\": \"catchup\", \"lag_ms\": 0}}'"]"#;
    let workspace = Workspace::new();
    workspace.onprem_in(&[], &streaming_lag("web", never, "100ms", "300ms"));
    let plan = workspace
        .run(&["plan", crate::command_dns::ENV, "--scenario", "dc-outage"])
        .expect(0);
    assert!(
        plan.stdout.contains(
            r#"lag unreadable (cannot read the replication lag of `orders` in dc-west: waited for /state = "streaming": last saw `catchup`)"#
        ),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_url_check_waits_until_what_the_url_answers_meets_its_condition() {
    let check = |url: &str, timeout: &str| {
        format!(
            "\n[[checks]]\nname = \"ready\"\nurl = \"{url}\"\nuntil = {{ json = \"/status\", equals = \"ok\", interval = \"100ms\", timeout = \"{timeout}\" }}\n"
        )
    };
    let ready = Webhook::start(Script::Always(Answer::Body(r#"{"status": "ok"}"#)));
    let workspace = Workspace::new();
    workspace.onprem_in(&[], &check(&ready.url, "20s"));
    let apply = workspace
        .run(&[
            "apply",
            crate::command_dns::ENV,
            "--scenario",
            "dc-outage",
            "--auto-approve",
        ])
        .expect(0);
    let report = workspace.reports().pop().expect("a run report");
    assert!(
        report.contains(r#"/status = "ok" (saw `ok`)"#),
        "{apply}\n{report}"
    );

    let starting = Webhook::start(Script::Always(Answer::Body(r#"{"status": "starting"}"#)));
    let workspace = Workspace::new();
    workspace.onprem_in(&[], &check(&starting.url, "300ms"));
    let apply = workspace
        .run(&[
            "apply",
            crate::command_dns::ENV,
            "--scenario",
            "dc-outage",
            "--auto-approve",
        ])
        .expect(1);
    assert!(
        apply
            .stderr
            .contains(r#"waited for /status = "ok": last saw `starting`"#),
        "{apply}"
    );
}
