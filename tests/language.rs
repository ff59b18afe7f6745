//! The environment language real runbooks need, through the binary: a scenario's own
//! steps in every phase, in the order written, with `estimate`, `timeout` and
//! `best_effort`.

use std::path::Path;

use serde_json::Value;

use crate::support::runner::{Run, in_crate_root};
use crate::support::snapshot;
use crate::support::workspace::Workspace;

/// A failover runbook on the sim world (`tests/fixtures/language/runbook.toml`).
const RUNBOOK: &str = "runbook.toml";

impl Workspace {
    /// Writes the fixture `name` with `extra` appended as the runbook, and a sim
    /// world for it.
    fn runbook_from(&self, name: &str, extra: &str) {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/language");
        let text = std::fs::read_to_string(fixture.join(name)).expect("the fixture");
        std::fs::write(self.path().join(RUNBOOK), text + extra).expect("the runbook is written");
        self.run(&["sim", "init", RUNBOOK]).expect(0);
    }

    /// The steps of the runbook's `outage` plan (offline, JSON).
    fn runbook_steps(&self) -> Vec<Value> {
        let plan = self
            .run(&[
                "plan",
                RUNBOOK,
                "--scenario",
                "outage",
                "--offline",
                "--format",
                "json",
            ])
            .expect(0);
        let plan: Value = serde_json::from_str(&plan.stdout).expect("the plan is JSON");
        plan["plan"]["steps"].as_array().expect("steps").clone()
    }

    fn apply_outage(&self) -> Run {
        self.run(&["apply", RUNBOOK, "--scenario", "outage", "--auto-approve"])
    }
}

/// Two own steps of `phase`, written second-then-first.
fn two_steps(phase: &str) -> String {
    format!(
        r#"
[[scenarios.outage.steps]]
phase = "{phase}"
name = "{phase} second"
run = ["echo", "second"]
estimate = "7m"

[[scenarios.outage.steps]]
phase = "{phase}"
name = "{phase} first"
run = ["echo", "first"]
"#
    )
}

/// The own steps of `phase` are planned in that phase, in the order written, after
/// every step the phase generates, with their estimate; and apply runs them.
fn own_steps_run_in(phase: &str) {
    let workspace = Workspace::new();
    workspace.runbook_from(RUNBOOK, &two_steps(phase));
    let steps = workspace.runbook_steps();
    let ids: Vec<&str> = steps
        .iter()
        .filter(|s| s["phase"] == phase && s["action"]["kind"] != "gate")
        .map(|s| s["id"].as_str().expect("an id"))
        .collect();
    let second = format!("run:{phase}-second");
    let first = format!("run:{phase}-first");
    assert_eq!(
        ids[ids.len() - 2..],
        [second.as_str(), first.as_str()],
        "{ids:?}"
    );
    let step = |id: &str| steps.iter().find(|s| s["id"] == id).expect("the step");
    assert_eq!(step(&second)["estimate"], 420);
    assert_eq!(step(&first)["estimate"], 60);
    assert_eq!(step(&first)["depends_on"][0], second.as_str());

    let applied = workspace.apply_outage().expect(0);
    let done_second = applied.stderr.find(&format!("done   {second}"));
    let start_first = applied.stderr.find(&format!("start  {first}"));
    assert!(
        done_second.is_some() && done_second < start_first,
        "{applied}"
    );
}

#[test]
fn own_steps_run_in_assess() {
    own_steps_run_in("assess");
}

#[test]
fn own_steps_run_in_notify() {
    own_steps_run_in("notify");
}

#[test]
fn own_steps_run_in_mitigate() {
    own_steps_run_in("mitigate");
}

#[test]
fn own_steps_run_in_recover() {
    own_steps_run_in("recover");
}

#[test]
fn own_steps_run_in_switch() {
    own_steps_run_in("switch");
}

#[test]
fn own_steps_run_in_verify() {
    own_steps_run_in("verify");
}

#[test]
fn own_steps_run_in_resolve() {
    own_steps_run_in("resolve");
}

/// `tests/fixtures/language/real.toml`, whose commands run for real, with `step`
/// appended.
fn real_runbook(workspace: &Workspace, step: &str) {
    workspace.runbook_from("real.toml", step);
}

#[test]
fn a_failed_best_effort_step_is_recorded_and_the_run_goes_on() {
    let workspace = Workspace::new();
    let step = r#"
[[scenarios.outage.steps]]
phase = "mitigate"
name = "drain the queue"
run = ["false"]
best_effort = true
"#;
    real_runbook(&workspace, step);
    let applied = workspace.apply_outage().expect(0);
    assert!(
        applied.stderr.contains("done   run:drain-the-queue"),
        "{applied}"
    );
    assert!(applied.stderr.contains("done   switch:app"), "{applied}");
    let report = std::fs::read_dir(workspace.path().join(".drplan/runs"))
        .expect("the run reports")
        .map(|e| e.expect("an entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "md"))
        .expect("a markdown report");
    let report = std::fs::read_to_string(report).expect("the report");
    assert!(
        report.contains("could not run `drain the queue` (recovery goes on without it)"),
        "{report}"
    );
}

#[test]
fn a_failed_step_that_is_not_best_effort_stops_the_run() {
    let workspace = Workspace::new();
    let step = r#"
[[scenarios.outage.steps]]
phase = "mitigate"
name = "drain the queue"
run = ["false"]
"#;
    real_runbook(&workspace, step);
    let applied = workspace.apply_outage();
    assert_ne!(applied.code, Some(0), "{applied}");
    assert!(!applied.stderr.contains("start  switch:app"), "{applied}");
}

#[test]
fn a_step_past_its_timeout_is_stopped() {
    let workspace = Workspace::new();
    let step = r#"
[[scenarios.outage.steps]]
phase = "mitigate"
name = "hangs"
run = ["sleep", "600"]
timeout = "1s"
"#;
    real_runbook(&workspace, step);
    let plan = workspace
        .run(&["plan", RUNBOOK, "--scenario", "outage", "--offline"])
        .expect(0);
    assert!(
        plan.stdout.contains("runs: sleep 600 (at most 1s)"),
        "{plan}"
    );
    let applied = workspace.apply_outage();
    assert_ne!(applied.code, Some(0), "{applied}");
    assert!(
        applied
            .stderr
            .contains("FAILED run:hangs: command: `sleep` timed out after 1s"),
        "{applied}"
    );
}

const PLACEHOLDERS: &str = "tests/fixtures/language/placeholders.toml";

#[test]
fn every_placeholder_and_variable_is_substituted_in_every_place() {
    let plans: Vec<String> = [
        ["--scenario", "outage"],
        ["--scenario", "bad-data"],
        ["--failback", "--offline"],
    ]
    .iter()
    .map(|intent| {
        let mut args = vec!["plan", PLACEHOLDERS, "--offline"];
        args.extend(intent.iter().filter(|a| **a != "--offline"));
        in_crate_root(&args).expect(0).stdout
    })
    .collect();
    snapshot::assert("language", "placeholders", &plans.join("\n"));
}

/// `validate` of the placeholders fixture with `from` replaced by `to`.
fn validate_edited(from: &str, to: &str) -> Run {
    let workspace = Workspace::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(PLACEHOLDERS);
    let text = std::fs::read_to_string(fixture).expect("the fixture");
    assert!(text.contains(from), "{from}");
    std::fs::write(workspace.path().join(RUNBOOK), text.replacen(from, to, 1))
        .expect("the runbook is written");
    workspace.run(&["validate", RUNBOOK])
}

#[test]
fn a_placeholder_without_a_meaning_in_its_place_is_refused_with_its_span() {
    let run = validate_edited(r#""--from", "{backup}""#, r#""--from", "{from}""#).expect(1);
    assert!(
        run.message()
            .contains("`{from}` has no meaning in `restore` of [services.db]"),
        "{run}"
    );
    assert!(
        run.stderr.contains("drplan::config::unknown_placeholder"),
        "{run}"
    );
    let run = validate_edited(r#""reopen", "{region}""#, r#""reopen", "{service}""#).expect(1);
    assert!(
        run.message()
            .contains("`{service}` has no meaning in step `reopen` of [scenarios.bad-data]"),
        "{run}"
    );
}

#[test]
fn a_variable_without_a_value_for_a_region_is_refused() {
    let run = validate_edited("cluster = \"shop\"\n", "").expect(1);
    assert!(
        run.message()
            .contains("unknown variable `{vars.cluster}` in `activate` of [services.db]"),
        "{run}"
    );
    assert!(
        run.message().contains("[regions.NAME.vars] of eu-west-1"),
        "{run}"
    );
    let run = validate_edited(
        r#"["error-rate", "{environment}", "{vars.zone}"]"#,
        r#"["error-rate", "{environment}", "{vars.db_host}"]"#,
    )
    .expect(1);
    assert!(run.message().contains("acts on no region"), "{run}");
}

#[test]
fn a_json_body_is_written_with_doubled_braces_and_a_single_brace_is_refused() {
    let run = validate_edited(r#"'{{"region""#, r#"'{"region""#).expect(1);
    assert!(
        run.message().contains("a `{` that opens no placeholder"),
        "{run}"
    );
    assert!(
        run.message().contains("write `{{` for a literal brace"),
        "{run}"
    );
}

#[test]
fn a_manual_scenario_asks_once_per_phase_that_changes_something() {
    let workspace = Workspace::new();
    workspace.runbook_from(
        RUNBOOK,
        "approval = \"manual\"\napprovers = [\"alice\", \"bob\"]\n",
    );
    let steps = workspace.runbook_steps();
    let asking: Vec<(&str, &str)> = steps
        .iter()
        .filter_map(|s| Some((s["id"].as_str()?, s["approval"].as_str()?)))
        .collect();
    let who = "manual: one of alice, bob";
    assert_eq!(
        asking,
        [
            ("approve:mitigate", who),
            ("approve:recover", who),
            ("approve:switch", who)
        ]
    );
    let step = |id: &str| steps.iter().find(|s| s["id"] == id).expect("the step");
    assert_eq!(step("approve:recover")["depends_on"][0], "gate:mitigate");
    assert_eq!(step("activate:db")["depends_on"][0], "approve:recover");
    workspace.apply_outage().expect(0);
}

#[test]
fn approvers_need_a_manual_approval() {
    let workspace = Workspace::new();
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/language")
        .join(RUNBOOK);
    let text = std::fs::read_to_string(file).expect("the fixture");
    std::fs::write(
        workspace.path().join(RUNBOOK),
        text + "approval = \"any-engineer\"\napprovers = [\"alice\"]\n",
    )
    .expect("the runbook is written");
    let run = workspace.run(&["validate", RUNBOOK]).expect(1);
    assert!(
        run.message()
            .contains("`approvers` applies to scenarios with approval = \"manual\""),
        "{run}"
    );
}

/// A step whose command needs a variable no test sets.
const SECRET_STEP: &str = r#"
[[scenarios.outage.steps]]
phase = "verify"
name = "tell the status page"
run = ["status-page", "--token", "${env:DRPLAN_TEST_LANGUAGE_NEVER_SET}"]
"#;

#[test]
fn a_rehearsal_on_the_sim_needs_no_secret() {
    let workspace = Workspace::new();
    workspace.runbook_from(RUNBOOK, SECRET_STEP);
    workspace
        .run(&["plan", RUNBOOK, "--scenario", "outage"])
        .expect(0);
    workspace.apply_outage().expect(0);
    workspace
        .run(&["drill", RUNBOOK, "--scenario", "outage"])
        .expect(0);
}

#[test]
fn a_real_run_refuses_unset_secrets_before_its_first_step() {
    let workspace = Workspace::new();
    real_runbook(&workspace, SECRET_STEP);
    let applied = workspace.apply_outage().expect(1);
    assert!(
        applied.message().contains(
            "this run needs environment variables that are not set: DRPLAN_TEST_LANGUAGE_NEVER_SET"
        ),
        "{applied}"
    );
    assert!(!applied.stderr.contains("start "), "{applied}");
}

/// The estimate of `activate:db` when the region failed over to has `standby`.
fn activation_estimate(standby: &str) -> Value {
    let workspace = Workspace::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/language/real.toml");
    let text = std::fs::read_to_string(fixture).expect("the fixture");
    let text = text.replace(
        "role = \"secondary\"\n",
        &format!("role = \"secondary\"\nstandby = \"{standby}\"\n"),
    );
    std::fs::write(workspace.path().join(RUNBOOK), text).expect("the runbook is written");
    let steps = workspace.runbook_steps();
    let activate = steps.iter().find(|s| s["id"] == "activate:db");
    activate.expect("activate:db")["estimate"].clone()
}

#[test]
fn a_standby_sets_the_activation_estimate_of_a_service_that_declares_none() {
    assert_eq!(activation_estimate("hot"), 60);
    assert_eq!(activation_estimate("warm"), 300);
    assert_eq!(activation_estimate("cold"), 1800);
}
