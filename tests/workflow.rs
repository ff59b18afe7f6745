//! drplan in the team's workflow: a saved plan says where it went and is shown again
//! exactly as planned, with a verdict on whether it is still current.

use std::fs;

use crate::apply::saved_plan;
use crate::support::snapshot;

const EXAMPLE: &str = "environments/example.toml";

#[test]
fn saving_a_plan_says_where_it_went_and_how_to_run_it() {
    let workspace = saved_plan();
    let run = workspace
        .run(&[
            "plan",
            EXAMPLE,
            "--scenario",
            "region-outage",
            "--out",
            "again.json",
        ])
        .expect(0);
    snapshot::assert("workflow", "plan-out", &run.stdout);
    let run = workspace
        .run(&[
            "plan",
            EXAMPLE,
            "--scenario",
            "region-outage",
            "--offline",
            "--format",
            "markdown",
            "--out",
            "plan.md",
        ])
        .expect(0);
    snapshot::assert("workflow", "plan-out-markdown", &run.stdout);
}

#[test]
fn show_renders_a_saved_plan_as_plan_did_in_every_format() {
    let workspace = saved_plan();
    for format in ["text", "markdown", "json"] {
        let planned = workspace
            .run(&[
                "plan",
                EXAMPLE,
                "--scenario",
                "region-outage",
                "--format",
                format,
            ])
            .expect(0);
        let shown = workspace
            .run(&["show", "plan.json", "--format", format])
            .expect(0);
        assert_eq!(shown.stdout, planned.stdout, "{format}");
        assert!(
            shown.stderr.contains("the plan is current"),
            "{}",
            shown.stderr
        );
    }
}

#[test]
fn show_says_when_a_saved_plan_is_stale() {
    let workspace = saved_plan();
    let file = workspace.path().join(EXAMPLE);
    let text = fs::read_to_string(&file).expect("readable");
    fs::write(&file, text.replace("rto = \"20m\"", "rto = \"25m\"")).expect("writable");
    let run = workspace.run(&["show", "plan.json"]).expect(0);
    snapshot::assert("workflow", "show-stale", &run.stderr);
}
