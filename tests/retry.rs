//! Retries with backoff, through the binary: an activation whose attempt fails for a
//! reason that may pass is tried again (journaled `retrying`), so injected faults are
//! absorbed without a resume unless `retries = 0`; a real command that fails once is
//! retried and the run report counts its attempts; the plan shows declared retries.

use std::fs;

use crate::apply::{events, wait_until};
use crate::support::runner::{PROCESS_TIMEOUT, Run};
use crate::support::workspace::Workspace;

const ENV: &str = "faults.toml";

/// One service on the sim; `{retries}` is replaced by a line of `[environment]`.
const FAULTS: &str = r#"
[environment]
name = "faults"
home = "eu-west-1"
rto = "30m"
{retries}

[regions.eu-west-1]
role = "primary"

[regions.eu-central-1]
role = "secondary"

[services.db]
tier = 1
regions = ["eu-west-1", "eu-central-1"]
estimate = "2m"
activate = ["db-promote", "{region}"]
health = { command = ["db-ready"] }

[dns.app]
zone = "faults.example"
name = "app.faults.example"
type = "CNAME"
follows = "db"
targets = { eu-west-1 = "db.eu-west-1.faults.example", eu-central-1 = "db.eu-central-1.faults.example" }

[scenarios.outage]
strategy = "failover"
to = "eu-central-1"
"#;

/// A seed whose sequence strikes the activation's first attempt at a 30% fault rate,
/// and not its second.
const SEED: &str = "3";

impl Workspace {
    /// The environment with `retries` in `[environment]` (or none), its sim world
    /// faulting `db` 30% of the time.
    fn faults(&self, retries: &str) {
        let text = FAULTS.replace("{retries}", retries);
        fs::write(self.path().join(ENV), text).expect("the environment is written");
        self.run(&["sim", "init", ENV]).expect(0);
        self.run(&["sim", "set", ENV, "--service", "db", "--fault-rate", "0.3"])
            .expect(0);
    }

    fn apply_seeded(&self) -> Run {
        let mut command = self.command(&["apply", ENV, "--scenario", "outage", "--auto-approve"]);
        command.env("DRPLAN_SIM_SEED", SEED);
        crate::support::runner::run(&mut command)
    }
}

#[test]
fn an_injected_fault_is_absorbed_by_the_retries() {
    let workspace = Workspace::new();
    workspace.faults("");
    let apply = workspace.apply_seeded().expect(0);
    assert!(
        apply
            .stderr
            .contains("activate:db: attempt 1 of 3 failed: sim: injected fault"),
        "{apply}"
    );
    let report = workspace.reports().pop().expect("a run report");
    assert!(report.contains("| Status | finished |"), "{report}");
    assert!(
        report.contains("2 attempts (attempt 1: sim: injected fault"),
        "{report}"
    );
}

#[test]
fn without_retries_the_same_fault_fails_the_run() {
    let workspace = Workspace::new();
    workspace.faults("retries = 0");
    let plan = workspace
        .run(&["plan", ENV, "--scenario", "outage", "--offline"])
        .expect(0);
    assert!(plan.stdout.contains(", retries 0"), "{plan}");
    for format in ["markdown", "json"] {
        let plan = workspace
            .run(&[
                "plan",
                ENV,
                "--scenario",
                "outage",
                "--offline",
                "--format",
                format,
            ])
            .expect(0);
        let shown = if format == "json" {
            r#""retries": 0"#
        } else {
            ", retries 0"
        };
        assert!(plan.stdout.contains(shown), "{format}: {plan}");
    }
    let apply = workspace.apply_seeded();
    assert_ne!(apply.code, Some(0), "{apply}");
    assert!(
        format!("{}{}", apply.stdout, apply.stderr).contains("sim: injected fault"),
        "{apply}"
    );
}

/// An activation through a real command that fails on its first run only.
#[test]
fn a_real_command_that_fails_once_is_retried_and_the_report_counts_two_attempts() {
    let workspace = Workspace::new();
    let activate = r#"activate = ["sh", "-c", "if [ -e tried-{service} ]; then echo {region} >> activated-{service}; else touch tried-{service}; echo not yet >&2; exit 1; fi"]"#;
    workspace.onprem_in(
        &[(
            r#"activate = ["sh", "-c", "echo {region} >> activated-{service}"]"#,
            activate,
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
        fs::read_to_string(workspace.path().join("activated-web")).expect("activated"),
        "dc-west\n",
        "{apply}"
    );
    let report = workspace.reports().pop().expect("a run report");
    assert!(report.contains("| `activate:web` | finished |"), "{report}");
    assert!(
        report.contains("2 attempts (attempt 1: command: `sh`"),
        "{report}"
    );
}

/// A run killed after an attempt failed resumes the step from its first try, and the
/// copy of the command the kill left running is stopped first: one activation, not
/// two. The command fails on its first run, then waits for a `go` file.
#[test]
fn a_run_killed_mid_retry_resumes_the_step_and_activates_once() {
    let workspace = Workspace::new();
    let activate = r#"activate = ["sh", "-c", "n=$(cat runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > runs; if [ $n -eq 1 ]; then exit 1; fi; while [ ! -e go ]; do sleep 0.05; done; echo {region} >> activated-{service}"]"#;
    workspace.onprem_in(
        &[(
            r#"activate = ["sh", "-c", "echo {region} >> activated-{service}"]"#,
            activate,
        )],
        "",
    );
    let env = crate::command_dns::ENV;
    let apply = workspace.spawn(&["apply", env, "--scenario", "dc-outage", "--auto-approve"]);
    wait_until("the failed attempt is journaled", PROCESS_TIMEOUT, || {
        workspace
            .try_state("onprem")
            .is_some_and(|state| events(&state, "activate:web").contains(&"retrying".to_string()))
    });
    apply.kill();
    let runs = || {
        let text = fs::read_to_string(workspace.path().join("runs")).unwrap_or_default();
        text.trim().parse::<u32>().unwrap_or(0)
    };
    let before = runs();

    let resume = workspace.spawn(&["apply", "--resume", env, "--auto-approve"]);
    wait_until(
        "the resumed step runs its command again",
        PROCESS_TIMEOUT,
        || runs() > before,
    );
    fs::write(workspace.path().join("go"), "").expect("go is written");
    let resumed = resume.wait().expect(0);
    assert_eq!(
        fs::read_to_string(workspace.path().join("activated-web")).expect("activated"),
        "dc-west\n",
        "one activation: {resumed}"
    );
    let state = workspace.state("onprem");
    let events = events(&state, "activate:web");
    assert_eq!(events.first().map(String::as_str), Some("started"));
    assert!(events.contains(&"retrying".to_string()), "{events:?}");
    assert_eq!(
        events.last().map(String::as_str),
        Some("finished"),
        "{events:?}"
    );
}
