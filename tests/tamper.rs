//! The plan that was reviewed is the plan that runs: a saved plan edited in any field
//! that planning derives (a step's command, an added or removed step, a DNS target) is
//! refused, naming the first difference; a rehearsal plan (`"sim": true`) does not run
//! against real providers without `--sim`. The saved plan is the stale-plan tests' one.

use serde_json::Value;

use crate::apply::saved_plan;
use crate::support::workspace::Workspace;

const EXAMPLE: &str = "environments/example.toml";

/// Writes `plan` as `plan.json`, applies it, and returns the refusal's message.
fn refused(workspace: &Workspace, plan: &Value) -> String {
    let text = serde_json::to_string_pretty(plan).expect("JSON");
    std::fs::write(workspace.path().join("plan.json"), text).expect("the plan is written");
    let run = workspace
        .run(&["apply", "plan.json", "--auto-approve"])
        .expect(1);
    run.message()
}

fn step<'p>(plan: &'p mut Value, id: &str) -> &'p mut Value {
    let steps = plan["plan"]["steps"].as_array_mut().expect("steps");
    steps
        .iter_mut()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}"))
}

#[test]
fn an_edited_command_is_refused() {
    let workspace = saved_plan();
    let mut plan = workspace.json("plan.json");
    step(&mut plan, "activate:postgres")["action"]["command"] =
        serde_json::json!(["touch", "PWNED"]);

    let message = refused(&workspace, &plan);
    assert!(message.contains("drplan::apply::edited_plan"), "{message}");
    assert!(
        message.contains("step `activate:postgres` is not the step planning produces"),
        "{message}"
    );
    assert!(!workspace.path().join("PWNED").exists());
}

#[test]
fn an_added_or_removed_step_is_refused() {
    let workspace = saved_plan();
    let original = workspace.json("plan.json");
    let mut added = original.clone();
    let copy = step(&mut added, "activate:postgres").clone();
    added["plan"]["steps"]
        .as_array_mut()
        .expect("steps")
        .push(copy);
    let message = refused(&workspace, &added);
    assert!(
        message.contains("steps where planning produces"),
        "{message}"
    );

    let mut removed = original;
    removed["plan"]["steps"]
        .as_array_mut()
        .expect("steps")
        .remove(0);
    let message = refused(&workspace, &removed);
    assert!(message.contains("drplan::apply::edited_plan"), "{message}");
}

#[test]
fn an_edited_dns_target_is_refused() {
    let workspace = saved_plan();
    let mut plan = workspace.json("plan.json");
    step(&mut plan, "switch:shop")["change"]["after"][0]["value"] = "evil.example".into();

    let message = refused(&workspace, &plan);
    assert!(
        message.contains("step `switch:shop` is not the step planning produces"),
        "{message}"
    );
}

#[test]
fn a_rehearsal_plan_does_not_run_against_real_providers_without_sim() {
    let workspace = Workspace::new();
    workspace.edit(EXAMPLE, "dns = \"sim\"", "dns = \"route53\"");
    workspace.run(&["sim", "init", EXAMPLE]).expect(0);
    workspace
        .run(&[
            "plan",
            EXAMPLE,
            "--scenario",
            "region-outage",
            "--sim",
            "--out",
            "plan.json",
        ])
        .expect(0);

    let run = workspace
        .run(&["apply", "plan.json", "--auto-approve"])
        .expect(1);
    assert!(run.message().contains("drplan::apply::sim_plan"), "{run}");
}
