//! Real DR is asymmetric, rehearsed through the binary on the sim world: a failover
//! fences the side it leaves as best it can; a switchover fences first (or stops),
//! waits for replication, then promotes; a failback resyncs home and loses no write;
//! a copy that is behind is never promoted without `--accept-data-loss`.

use serde_json::Value;

use crate::support::workspace::Workspace;

const EXAMPLE: &str = "environments/example.toml";
const DATA: &str = "orders-stream";

impl Workspace {
    /// A nominal sim world of the example.
    fn example_world(&self) {
        self.run(&["sim", "init", EXAMPLE]).expect(0);
    }

    /// `drplan sim set EXAMPLE ARGS…`.
    fn sim_set(&self, args: &[&str]) {
        let mut all = vec!["sim", "set", EXAMPLE];
        all.extend_from_slice(args);
        self.run(&all).expect(0);
    }

    /// Makes `count` writes on the replicated data set.
    fn write(&self, count: &str) {
        self.sim_set(&["--data", DATA, "--writes", count]);
    }

    /// The replicated data set in `sim show --format json`.
    fn data(&self) -> Value {
        let show = self
            .run(&["sim", "show", EXAMPLE, "--format", "json"])
            .expect(0);
        let world: Value = serde_json::from_str(&show.stdout).expect("sim show prints JSON");
        world["data"][DATA].clone()
    }

    /// Home down, failover applied, `writes` made on the standby, home back up.
    fn failed_over_with_writes(&self, writes: &str) {
        self.example_world();
        self.write("100");
        self.sim_set(&["--region", "eu-west-1", "--down"]);
        self.run(&[
            "apply",
            EXAMPLE,
            "--scenario",
            "region-outage",
            "--auto-approve",
        ])
        .expect(0);
        self.write(writes);
        self.sim_set(&["--region", "eu-west-1", "--up"]);
    }
}

#[test]
fn a_failback_resyncs_home_and_keeps_every_write_made_during_the_failover() {
    let workspace = Workspace::new();
    workspace.failed_over_with_writes("50");
    assert_eq!(workspace.data()["active"], "eu-central-1");

    let failback = workspace
        .run(&["apply", EXAMPLE, "--failback", "--auto-approve"])
        .expect(0);

    for step in [
        "resync:postgres",
        "deactivate:postgres",
        "catch-up:orders-stream",
    ] {
        assert!(
            failback.stderr.contains(&format!("done   {step}")),
            "{failback}"
        );
    }
    let data = workspace.data();
    assert_eq!(data["active"], "eu-west-1");
    assert_eq!(data["writes"], 150);
    assert_eq!(data["copies"]["eu-west-1"]["position"], 150, "{data}");
    assert_eq!(data["lost"], 0);
    // Redundancy regained: the region left follows home again.
    assert_eq!(data["copies"]["eu-central-1"]["replica"], true, "{data}");
    let status = workspace
        .run(&["status", EXAMPLE, "--format", "json"])
        .expect(0);
    let status: Value = serde_json::from_str(&status.stdout).expect("status prints JSON");
    let run = &status["state"]["last_run"];
    assert_eq!(run["finished"], run["steps"], "{status}");
    assert_eq!(
        status["replication"][DATA]["eu-central-1"]["status"], "following",
        "{status}"
    );
}

#[test]
fn a_failback_refuses_to_promote_a_copy_replication_cannot_catch_up_unless_loss_is_accepted() {
    let workspace = Workspace::new();
    workspace.failed_over_with_writes("50");
    workspace.sim_set(&["--data", DATA, "--replication", "stopped"]);

    let refused = workspace
        .run(&["apply", EXAMPLE, "--failback", "--auto-approve"])
        .expect(1);

    let message = refused.message();
    assert!(message.contains("drplan::apply::rpo_breached"), "{message}");
    assert!(
        message.contains("orders-stream (eu-west-1: 50 write(s) behind, replication stopped)"),
        "{message}"
    );
    assert_eq!(workspace.data()["active"], "eu-central-1", "nothing moved");

    let accepted = workspace
        .run(&[
            "apply",
            EXAMPLE,
            "--failback",
            "--auto-approve",
            "--accept-data-loss",
        ])
        .expect(0);
    assert!(
        accepted.stderr.contains("done   catch-up:orders-stream"),
        "{accepted}"
    );
    let data = workspace.data();
    assert_eq!(data["active"], "eu-west-1");
    assert_eq!(data["lost"], 50, "the loss is recorded: {data}");
    let report = workspace
        .reports()
        .pop()
        .expect("the failback's run report");
    assert!(
        report.contains("orders-stream: 50 write(s) lost by promoting the copy in eu-west-1"),
        "{report}"
    );
}

#[test]
fn a_failover_fences_the_region_it_leaves_as_best_it_can() {
    let workspace = Workspace::new();
    workspace.failed_over_with_writes("0");

    let journal = std::fs::read_to_string(workspace.path().join(".drplan/state/example.journal"))
        .unwrap_or_default();
    let state = std::fs::read_to_string(workspace.path().join(".drplan/state/example.json"))
        .expect("the state is written");
    let recorded = format!("{state}{journal}");
    assert!(
        recorded.contains("could not fence postgres in eu-west-1"),
        "the failed fence is recorded: {recorded}"
    );
    assert_eq!(
        workspace.data()["active"],
        "eu-central-1",
        "recovery went on"
    );
}

#[test]
fn a_switchover_stops_before_promoting_when_the_side_it_leaves_cannot_be_fenced() {
    let workspace = Workspace::new();
    workspace.example_world();
    add_switchover(&workspace);
    workspace.sim_set(&["--service", "postgres", "--region", "eu-west-1", "--down"]);

    let failed = workspace
        .run(&[
            "apply",
            EXAMPLE,
            "--scenario",
            "planned-move",
            "--auto-approve",
        ])
        .expect(1);

    assert!(
        failed.stderr.contains("FAILED deactivate:postgres"),
        "{failed}"
    );
    assert!(
        !failed.stderr.contains("start  activate:postgres"),
        "{failed}"
    );
    assert_eq!(workspace.data()["active"], "eu-west-1", "nothing promoted");
}

#[test]
fn a_switchover_waits_for_replication_and_loses_no_write() {
    let workspace = Workspace::new();
    workspace.example_world();
    add_switchover(&workspace);
    // At the default time scale a 30s lag is 60ms: the copy is behind when the
    // switchover starts and catches up while it waits.
    workspace.sim_set(&["--data", DATA, "--lag", "30s"]);
    workspace.write("40");

    let mut command = workspace.command(&[
        "apply",
        EXAMPLE,
        "--scenario",
        "planned-move",
        "--auto-approve",
    ]);
    command.env("DRPLAN_TIME_SCALE", "0.002");
    let run = crate::support::runner::run(&mut command).expect(0);

    let at = |line: &str| {
        run.stderr
            .find(line)
            .unwrap_or_else(|| panic!("no `{line}`: {run}"))
    };
    let fenced = at("done   deactivate:postgres");
    let caught_up = at("done   catch-up:orders-stream");
    let promoted = at("start  activate:postgres");
    assert!(fenced < caught_up && caught_up < promoted, "{run}");
    let data = workspace.data();
    assert_eq!(data["active"], "eu-central-1");
    assert_eq!(data["copies"]["eu-central-1"]["position"], 40);
    assert_eq!(data["lost"], 0);
}

#[test]
fn a_plan_shows_the_measured_lag_of_the_copy_it_promotes_never_a_bare_yes() {
    let workspace = Workspace::new();
    workspace.example_world();
    workspace.sim_set(&["--data", DATA, "--replication", "stopped"]);
    workspace.write("7");

    let plan = workspace
        .run(&["plan", EXAMPLE, "--scenario", "region-outage"])
        .expect(0);
    assert!(
        plan.stdout.contains(
            "promotes eu-central-1: 7 write(s) behind, replication stopped (RPO VIOLATED)"
        ),
        "{plan}"
    );
    let offline = workspace
        .run(&["plan", EXAMPLE, "--scenario", "region-outage", "--offline"])
        .expect(0);
    assert!(
        offline
            .stdout
            .contains("promotes eu-central-1: lag not measured"),
        "{offline}"
    );
}

#[test]
fn a_drill_that_misses_its_rto_fails() {
    let workspace = Workspace::new();
    workspace.edit(EXAMPLE, "rto = \"20m\"", "rto = \"5m\"");

    let run = workspace
        .run(&[
            "drill",
            EXAMPLE,
            "--scenario",
            "region-outage",
            "--time-scale",
            "0.001",
        ])
        .expect(1);

    assert!(run.stdout.contains("**Result: FAILED"), "{run}");
    assert!(run.stdout.contains("over the RTO target 5m"), "{run}");
}

#[test]
fn a_switchover_is_drilled_with_home_up_and_fails_back_without_losing_a_write() {
    let workspace = Workspace::new();
    add_switchover(&workspace);

    let run = workspace
        .run(&[
            "drill",
            EXAMPLE,
            "--scenario",
            "planned-move",
            "--time-scale",
            "0",
        ])
        .expect(0);

    assert!(run.stdout.contains("**Result: PASSED"), "{run}");
    assert!(run.stdout.contains("| Failure injected | nothing"), "{run}");
    assert!(
        run.stdout
            .contains("`orders-stream`: 0 of 150 against the RPO 1m (0 beyond), 150 of 150 on home after failback"),
        "{run}"
    );
}

/// Adds a planned switchover to eu-central-1 to the example.
fn add_switchover(workspace: &Workspace) {
    workspace.edit(
        EXAMPLE,
        "[scenarios.bad-migration]",
        "[scenarios.planned-move]\nseverity = \"SEV-3\"\nstrategy = \"switchover\"\nto = \"eu-central-1\"\n\n[scenarios.bad-migration]",
    );
}
