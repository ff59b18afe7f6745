//! Every scenario of every environment in the repo, applied on the sim from a nominal
//! world with `--auto-approve`: each finishes, every step of its plan reported
//! finished. The ones with steps of their own (security-breach, ddos-attack,
//! bad-migration) are checked step by step: their steps ran, in their phases, and
//! nothing else moved.

use std::path::Path;

use serde_json::Value;

use crate::support::workspace::Workspace;

/// A workspace holding every environment of the repo.
fn workspace() -> Workspace {
    let workspace = Workspace::new();
    for file in crate::cli::toml_files("environments") {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(&file),
            workspace.path().join(&file),
        )
        .expect("the environment is copied");
    }
    workspace
}

/// The scenarios `file` declares, by name.
fn scenarios(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .expect("the environment is readable");
    let table: toml::Table = text.parse().expect("the environment is TOML");
    table["scenarios"]
        .as_table()
        .expect("scenarios")
        .keys()
        .cloned()
        .collect()
}

/// Applies `scenario` of `file` on a fresh sim world; the run report (JSON).
fn applied(file: &str, scenario: &str) -> Value {
    let workspace = workspace();
    workspace.run(&["sim", "init", file]).expect(0);
    let run = workspace.run(&[
        "apply",
        file,
        "--scenario",
        scenario,
        "--sim",
        "--auto-approve",
        "--time-scale",
        "0",
    ]);
    assert_eq!(run.code, Some(0), "{file} {scenario}:\n{run}");
    let reports = workspace.files(".drplan/runs", "json");
    assert_eq!(reports.len(), 1, "{reports:?}");
    workspace.json(&reports[0].to_string_lossy())
}

/// (id, outcome, detail) of every step of a run report, in the order they ran.
fn steps(report: &Value) -> Vec<(String, String, String)> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            let text = |key: &str| s[key].as_str().unwrap_or_default().to_string();
            (text("id"), text("outcome"), text("detail"))
        })
        .collect()
}

fn ids(report: &Value) -> Vec<String> {
    steps(report).into_iter().map(|(id, ..)| id).collect()
}

#[test]
fn every_scenario_of_every_environment_applies_on_the_sim() {
    for file in crate::cli::toml_files("environments") {
        for scenario in scenarios(&file) {
            let report = applied(&file, &scenario);
            assert_eq!(report["status"], "finished", "{file} {scenario}");
            for (id, outcome, detail) in steps(&report) {
                assert_eq!(outcome, "finished", "{file} {scenario} {id}: {detail}");
            }
        }
    }
}

#[test]
fn security_breach_captures_evidence_then_revokes_and_rotates_then_restores() {
    let report = applied("environments/production.toml", "security-breach");
    let ids = ids(&report);
    let at = |id: &str| {
        ids.iter()
            .position(|s| s == id)
            .unwrap_or_else(|| panic!("{id} in {ids:?}"))
    };
    // assess, then mitigate in declared order, then the restore.
    assert!(at("manual:capture-evidence") < at("run:revoke-every-session"));
    assert!(at("run:revoke-every-session") < at("run:rotate-secrets"));
    assert!(at("run:rotate-secrets") < at("restore:database"));
    let rotate = &steps(&report)[at("run:rotate-secrets")].2;
    assert!(
        rotate.contains("scripts/rotate-secrets --environment production"),
        "{rotate}"
    );
    // Only the database is recovered: nothing is activated and no record moves.
    assert!(
        ids.iter()
            .all(|id| !id.starts_with("activate:") && !id.starts_with("switch:")),
        "{ids:?}"
    );
}

#[test]
fn ddos_attack_runs_only_its_own_step_the_notifications_and_the_checks() {
    let report = applied("environments/production.toml", "ddos-attack");
    let ids = ids(&report);
    assert!(
        ids.contains(&"run:tighten-waf-rules".to_string()),
        "{ids:?}"
    );
    for id in &ids {
        assert!(
            ["run:", "notify:", "verify:", "approve:"]
                .iter()
                .any(|kind| id.starts_with(kind)),
            "a custom scenario ran {id}: {ids:?}"
        );
    }
}

#[test]
fn bad_migration_stops_the_workers_before_the_database_is_restored() {
    let report = applied("environments/example.toml", "bad-migration");
    let steps = steps(&report);
    let at = |id: &str| {
        steps
            .iter()
            .position(|(s, ..)| s == id)
            .unwrap_or_else(|| panic!("{id} in {steps:?}"))
    };
    assert!(at("manual:stop-the-workers") < at("restore:postgres"));
    assert!(
        steps[at("manual:stop-the-workers")]
            .2
            .starts_with("confirmed: Scale the worker")
    );
    assert!(
        steps[at("restore:postgres")]
            .2
            .starts_with("restored from s3://shop-backups/postgres/"),
        "{steps:?}"
    );
}
