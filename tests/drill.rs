//! `drplan drill` as a team runs it: the reference environment rehearsed end to end
//! on a sim copy (whatever its providers are), the report filed under `drills/` and
//! snapshotted (under `snapshots/drill/`, volatile fields filtered), the calendar
//! (`--due`) before and after; a restore drill; a drill on a `--target` environment.

use serde_json::Value;

use crate::support::snapshot;
use crate::support::workspace::Workspace;

const EXAMPLE: &str = "environments/example.toml";
const PRODUCTION: &str = "environments/production.toml";

/// The one drill report of the workspace, markdown and JSON.
fn filed(workspace: &Workspace) -> (String, Value) {
    let markdown = workspace.files("drills", "md");
    assert_eq!(markdown.len(), 1, "{markdown:?}");
    let json = markdown[0].with_extension("json");
    let text = std::fs::read_to_string(&markdown[0]).expect("the report is readable");
    let json = std::fs::read_to_string(json).expect("the JSON report is readable");
    (text, serde_json::from_str(&json).expect("JSON"))
}

#[test]
fn the_reference_environment_drilled_end_to_end_on_sim_with_the_calendar_before_and_after() {
    let workspace = Workspace::new();
    let before = workspace.run(&["drill", PRODUCTION, "--due"]).expect(0);
    snapshot::assert_live("drill", "due-before", &before.stdout);

    // At 0.005 a millisecond of drplan's own work is 0.2s of sim time: the RTO verdict
    // (detection + recovery ≈ 28m against 30m) holds on a loaded machine.
    let run = workspace
        .run(&[
            "drill",
            PRODUCTION,
            "--scenario",
            "regional-failure",
            "--time-scale",
            "0.005",
        ])
        .expect(0);

    let (markdown, json) = filed(&workspace);
    assert!(run.stdout.starts_with(&markdown), "{}", run.stdout);
    snapshot::assert_live("drill", "regional-failure", &markdown);
    assert_eq!(json["passed"], true);
    assert_eq!(json["failures"], Value::Array(Vec::new()));
    assert_eq!(json["recovery"]["status"], "finished");
    assert_eq!(json["failback"]["status"], "finished");
    assert_eq!(json["detection"][1]["trigger"], "database-unreachable");
    assert_eq!(json["detection"][1]["detected_after"], 120);
    assert_eq!(json["detection"][0]["detected_after"], 300);
    // Once home is repaired, the triggers watch it: `database-unreachable` fails back
    // on its own after its 2m, `region-down` (manual failback) notices after 5m.
    assert_eq!(
        json["failback_detection"][1]["trigger"],
        "database-unreachable"
    );
    assert_eq!(json["failback_detection"][1]["automatic"], true);
    assert_eq!(json["failback_detection"][1]["detected_after"], 120);
    assert_eq!(json["failback_detection"][0]["automatic"], false);
    assert_eq!(json["failback_detection"][0]["detected_after"], 300);
    // The environment's route53/s3 providers were never used, nor its real world or
    // state; the drill's private directory is gone.
    for real in [".drplan/sim", ".drplan/state", ".drplan/runs"] {
        assert!(!workspace.path().join(real).exists(), "{real} was created");
    }
    let drills = std::fs::read_dir(workspace.path().join(".drplan/drills")).expect("drills dir");
    assert_eq!(drills.count(), 0, "the drill directory was not removed");

    let after = workspace.run(&["drill", PRODUCTION, "--due"]).expect(0);
    snapshot::assert_live("drill", "due-after", &after.stdout);
}

#[test]
fn a_restore_drill_has_nothing_to_fail_back_and_kept_its_directory_with_keep() {
    let workspace = Workspace::new();
    let args = [
        "drill",
        PRODUCTION,
        "--scenario",
        "data-corruption",
        "--time-scale",
        "0",
        "--keep",
    ];
    workspace.run(&args).expect(0);

    let (markdown, json) = filed(&workspace);
    assert!(
        markdown.contains("| Failure injected | database down in us-east-1 |"),
        "{markdown}"
    );
    assert!(markdown.contains("| Time to detect | not measured: no trigger names this scenario |"));
    assert!(markdown.contains("| Failback | not needed: the scenario moved nothing |"));
    // Nothing was waited at time scale 0, so the RTO is not judged.
    assert!(
        markdown.contains(
            "| Detection + recovery | not measured at time scale 0 (rehearse with a time scale above 0); RTO target 30m |"
        ),
        "{markdown}"
    );
    assert_eq!(json["recovery"]["status"], "finished");
    let kept = json["kept"].as_str().expect("the kept directory");
    let world = workspace.json(&format!("{kept}/sim/production.json"));
    assert_eq!(
        world["services"]["database"]["down_in"],
        Value::Array(Vec::new())
    );
    assert!(workspace.path().join(kept).join("runs").exists());
}

#[test]
fn a_drill_on_a_target_environment_uses_its_own_world() {
    let workspace = Workspace::new();
    workspace.run(&["sim", "init", EXAMPLE]).expect(0);
    let run = workspace
        .run(&[
            "drill",
            PRODUCTION,
            "--scenario",
            "regional-failure",
            "--target",
            EXAMPLE,
        ])
        .expect(1);
    assert!(
        run.stderr.contains("unknown scenario `regional-failure`"),
        "{}",
        run.stderr
    );

    workspace
        .run(&[
            "drill",
            EXAMPLE,
            "--scenario",
            "region-outage",
            "--target",
            EXAMPLE,
            "--time-scale",
            "0",
        ])
        .expect(0);

    let (markdown, _) = filed(&workspace);
    assert!(
        markdown.contains(
            "| Rehearsed on | the test environment `environments/example.toml` (example) |"
        ),
        "{markdown}"
    );
    let world = workspace.json(".drplan/sim/example.json");
    assert!(world["log"].as_array().expect("a log").len() > 10);
    assert!(world["regions"]["eu-west-1"]["up"].as_bool().expect("up"));
    assert_eq!(world["services"]["api"]["active"], "eu-west-1");
}

#[test]
fn a_drill_that_misses_the_rto_fails_and_says_not_met() {
    let workspace = Workspace::new();
    let production = workspace.path().join(PRODUCTION);
    let text = std::fs::read_to_string(&production).expect("the environment is readable");
    let tight = text.replacen("rto = \"30m\"", "rto = \"1m\"", 1);
    assert_ne!(tight, text, "production declares rto = \"30m\"");
    std::fs::write(&production, tight).expect("the environment is written");

    // Detection alone takes 2m of simulated time: a 1m target is missed however
    // fast the machine is.
    workspace
        .run(&[
            "drill",
            PRODUCTION,
            "--scenario",
            "regional-failure",
            "--time-scale",
            "0.005",
        ])
        .expect(1);

    let (markdown, json) = filed(&workspace);
    assert!(markdown.contains("**Result: FAILED"), "{markdown}");
    assert!(
        markdown.contains("against the RTO target 1m: NOT met |"),
        "{markdown}"
    );
    assert_eq!(json["passed"], false);
    let failures = json["failures"].as_array().expect("failures");
    assert!(
        failures.iter().any(|f| f
            .as_str()
            .is_some_and(|f| f.contains("over the RTO target 1m"))),
        "{failures:?}"
    );
}
