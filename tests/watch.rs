//! `drplan watch` on the sim world with injected failures: the real binary in a
//! temporary directory holding copies of `environments/` and its own `.drplan/`.
//!
//! An automatic trigger fires after `for` and not before; a flapping region never
//! fires; a manual trigger notifies and does not apply; of two watchers started
//! together exactly one acts.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

use crate::support::runner::{Run, Spawned};
use crate::support::workspace::Workspace;

const EXAMPLE: &str = "environments/example.toml";
const PRODUCTION: &str = "environments/production.toml";

impl Workspace {
    /// Rewrites the environment file `file` with `from` replaced by `to`.
    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.path().join(file);
        let text = fs::read_to_string(&path).expect("the environment file exists");
        assert!(text.contains(from), "{file} has no `{from}`");
        fs::write(&path, text.replace(from, to)).expect("the environment file is written");
    }

    /// Runs the commands together and waits for them all.
    pub fn run_together(&self, commands: &[&[&str]]) -> Vec<Run> {
        let started: Vec<Spawned> = commands.iter().map(|args| self.spawn(args)).collect();
        started.into_iter().map(Spawned::wait).collect()
    }

    /// A JSON file under the workspace, e.g. `.drplan/sim/production.json`.
    pub fn json(&self, file: &str) -> Value {
        let text =
            fs::read_to_string(self.path().join(file)).unwrap_or_else(|_| panic!("{file} exists"));
        serde_json::from_str(&text).expect("JSON")
    }

    /// The files in `dir` (relative to the workspace) with extension `ext`.
    pub fn files(&self, dir: &str, ext: &str) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(self.path().join(dir)) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .map(|e| e.expect("readable").path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        paths.sort();
        paths
    }
}

/// A workspace whose production sim world has us-east-1 (home) down.
fn production_with_home_down() -> Workspace {
    let workspace = Workspace::new();
    workspace.run(&["sim", "init", PRODUCTION]).expect(0);
    workspace
        .run(&["sim", "set", PRODUCTION, "--region", "us-east-1", "--down"])
        .expect(0);
    workspace
}

/// `drplan watch production --sim` for `duration` of simulated time.
fn watch_production(duration: &str) -> Vec<&str> {
    vec![
        "watch",
        PRODUCTION,
        "--sim",
        "--time-scale",
        "0.001",
        "--max-duration",
        duration,
    ]
}

/// The lines of `output` about `trigger` (the timestamp dropped).
fn lines_of<'a>(output: &'a str, trigger: &str) -> Vec<&'a str> {
    let prefix = format!("{trigger}: ");
    output
        .lines()
        .filter_map(|line| line.split_once(' ').map(|(_, rest)| rest))
        .filter_map(|rest| rest.strip_prefix(&prefix))
        .collect()
}

/// Where each service of the sim world is active.
fn active_regions(workspace: &Workspace, environment: &str) -> Vec<String> {
    let world = workspace.json(&format!(".drplan/sim/{environment}.json"));
    let services = world["services"].as_object().expect("services");
    services
        .values()
        .map(|s| s["active"].as_str().expect("a region").to_string())
        .collect()
}

fn log_lines(workspace: &Workspace, environment: &str, starting: &str) -> usize {
    let world = workspace.json(&format!(".drplan/sim/{environment}.json"));
    world["log"]
        .as_array()
        .expect("a log")
        .iter()
        .filter(|line| line.as_str().is_some_and(|l| l.starts_with(starting)))
        .count()
}

#[test]
fn an_automatic_trigger_fires_after_its_for_and_not_before() {
    let workspace = production_with_home_down();
    let run = workspace.run(&watch_production("6m")).expect(0);

    let lines = lines_of(&run.stdout, "region-down");
    let fired = lines
        .iter()
        .position(|line| line.starts_with("FIRED"))
        .unwrap_or_else(|| panic!("region-down never fired:\n{}", run.stdout));
    assert_eq!(
        lines[fired - 2],
        "failing for 4m 30s (10 probes) (acts after 5m): database in us-east-1: \
         region us-east-1 is down (and 13 more of 14)"
    );
    assert!(
        lines[fired]
            .starts_with("FIRED after 5m (11 probes): applying regional-failure: applied (run "),
        "{}",
        lines[fired]
    );
    assert_eq!(lines.iter().filter(|l| l.starts_with("FIRED")).count(), 1);
    assert!(
        lines[fired + 1..]
            .iter()
            .all(|l| l.starts_with("failed over by regional-failure; home us-east-1 not healthy")),
        "{}",
        run.stdout
    );
    assert!(
        active_regions(&workspace, "production")
            .iter()
            .all(|r| r == "us-west-2")
    );
    assert_eq!(workspace.files(".drplan/runs", "md").len(), 1);
}

#[test]
fn a_region_that_flaps_never_fires_and_two_failed_probes_in_a_row_do() {
    let workspace = Workspace::new();
    // `for = "0s"`: the second consecutive failed probe is enough.
    workspace.edit(EXAMPLE, "for = \"3m\"", "for = \"0s\"");
    workspace.run(&["sim", "init", EXAMPLE]).expect(0);
    let set = |state: &str| {
        workspace
            .run(&["sim", "set", EXAMPLE, "--region", "eu-west-1", state])
            .expect(0);
    };
    let once = || {
        let run = workspace
            .run(&["watch", EXAMPLE, "--once", "--time-scale", "0.001"])
            .expect(0);
        lines_of(&run.stdout, "region-down").join("\n")
    };

    for _ in 0..3 {
        set("--down");
        assert!(once().starts_with("failing for 0s (1 probe)"));
        set("--up");
        assert_eq!(once(), "ok: 5 service(s) healthy");
    }
    assert_eq!(log_lines(&workspace, "example", "activate"), 0);

    set("--down");
    assert!(once().starts_with("failing for 0s (1 probe)"));
    let fired = once();
    assert!(
        fired.contains("\nFIRED after ")
            && fired.contains("(2 probes): applying region-outage: applied"),
        "{fired}"
    );
    assert!(
        active_regions(&workspace, "example")
            .iter()
            .all(|r| r == "eu-central-1")
    );
    let history = workspace.json(".drplan/watch/example.json");
    assert_eq!(
        history["triggers"]["region-down"]["incident"]["fired"],
        true
    );
}

#[test]
fn a_manual_trigger_notifies_with_the_plan_and_does_not_apply() {
    let workspace = production_with_home_down();
    let run = workspace.run(&watch_production("3m")).expect(0);

    let lines = lines_of(&run.stdout, "database-unreachable");
    let fired: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("FIRED"))
        .collect();
    assert_eq!(
        fired,
        ["FIRED after 2m (5 probes): notified on-call; waiting for \
          `drplan apply environments/production.toml --scenario regional-failure`"]
    );
    assert!(
        lines
            .iter()
            .filter(|l| l.starts_with("still failing"))
            .count()
            >= 1,
        "it notifies once per incident:\n{}",
        run.stdout
    );
    assert_eq!(
        log_lines(
            &workspace,
            "production",
            "notify on-call via webhook: internal-alert"
        ),
        1
    );
    assert_eq!(log_lines(&workspace, "production", "activate"), 0);
    assert!(
        active_regions(&workspace, "production")
            .iter()
            .all(|r| r == "us-east-1")
    );
    assert!(
        !workspace.path().join(".drplan/state").exists(),
        "nothing was applied"
    );
}

#[test]
fn of_two_watchers_started_together_exactly_one_acts() {
    let workspace = production_with_home_down();
    let watch = watch_production("6m");
    let runs = workspace.run_together(&[&watch, &watch]);

    let acted: Vec<&Run> = runs
        .iter()
        .filter(|run| run.stdout.contains("applying regional-failure: applied"))
        .collect();
    assert_eq!(acted.len(), 1, "{runs:#?}");
    let stood_back = runs
        .iter()
        .find(|run| !run.stdout.contains("applying regional-failure: applied"))
        .expect("the other watcher");
    assert!(
        stood_back
            .stdout
            .contains("another operator holds the lock")
            || stood_back.stdout.contains("another operator acted"),
        "{}",
        stood_back.stdout
    );
    let applies = runs
        .iter()
        .map(|run| run.stdout.matches(": applied (run ").count())
        .sum::<usize>();
    assert_eq!(applies, 1, "{runs:#?}");
    assert_eq!(workspace.files(".drplan/runs", "md").len(), 1);
    let state = workspace.json(".drplan/state/production.json");
    assert_eq!(state["last_applied"]["intent"], "regional-failure");
    assert_eq!(state["run"]["status"], "finished");
}
