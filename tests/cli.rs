//! The command line as a user meets it.
//!
//! Snapshots under `snapshots/`: every plan (each scenario and the failback, in every
//! format) and every graph and validation of every file under `environments/`, the
//! diagnostic of every file under `tests/fixtures/invalid/`, and the help of every
//! command. Assertions: the same plan twice is the same bytes, `--detailed-exitcode`,
//! plans that fit in a pull-request comment, and `--check` of committed plans.

use std::fs;
use std::path::Path;

use clap::{CommandFactory, ValueEnum};
use drplan::cli::graph_command::GraphFormat;
use drplan::cli::{Cli, PlanFormat};

use crate::support::runner::in_crate_root;
use crate::support::snapshot;

const PRODUCTION: &str = "environments/production.toml";

/// The TOML files of `dir` (relative to the crate root), sorted.
pub fn toml_files(dir: &str) -> Vec<String> {
    let entries = fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .expect("the directory exists");
    let mut names: Vec<String> = entries
        .map(|entry| {
            entry
                .expect("the directory is readable")
                .file_name()
                .into_string()
                .expect("UTF-8 file name")
        })
        .filter(|name| Path::new(name).extension().is_some_and(|ext| ext == "toml"))
        .map(|name| format!("{dir}/{name}"))
        .collect();
    names.sort();
    names
}

fn environments() -> Vec<String> {
    toml_files("environments")
}

/// `environments/production.toml` → `production`.
fn stem(file: &str) -> &str {
    Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("a file name")
}

/// The names of a clap value enum, such as the output formats.
fn names<T: ValueEnum>() -> Vec<String> {
    T::value_variants()
        .iter()
        .filter_map(|variant| Some(variant.to_possible_value()?.get_name().to_string()))
        .collect()
}

/// A plan an environment can make: one of its scenarios, or the failback.
enum PlanTarget {
    Scenario(String),
    Failback,
}

impl PlanTarget {
    fn name(&self) -> &str {
        match self {
            Self::Scenario(name) => name,
            Self::Failback => "failback",
        }
    }

    fn args(&self) -> Vec<&str> {
        match self {
            Self::Scenario(name) => vec!["--scenario", name],
            Self::Failback => vec!["--failback"],
        }
    }
}

/// Every scenario of the environment in `file`, then the failback.
fn targets(file: &str) -> Vec<PlanTarget> {
    let loaded = drplan::model::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .expect("environments are valid");
    let scenarios = loaded
        .env
        .scenarios
        .iter()
        .map(|s| PlanTarget::Scenario(s.name.value.clone()));
    scenarios.chain([PlanTarget::Failback]).collect()
}

/// `drplan plan FILE --scenario S --offline --format F` (or `--failback`).
fn plan_args<'a>(file: &'a str, target: &'a PlanTarget, format: &'a str) -> Vec<&'a str> {
    [
        &["plan", file][..],
        &target.args(),
        &["--offline", "--format", format],
    ]
    .concat()
}

#[test]
fn plan_of_every_scenario_and_the_failback_in_every_format() {
    for file in environments() {
        for target in targets(&file) {
            for format in names::<PlanFormat>() {
                let run = in_crate_root(&plan_args(&file, &target, &format)).expect(0);
                snapshot::assert(
                    &format!("plan/{}", stem(&file)),
                    &format!("{}.{format}", target.name()),
                    &run.stdout,
                );
            }
        }
    }
}

#[test]
fn the_same_plan_twice_is_the_same_bytes() {
    for file in environments() {
        for target in targets(&file) {
            for format in names::<PlanFormat>() {
                let args = plan_args(&file, &target, &format);
                assert_eq!(
                    in_crate_root(&args).expect(0).stdout,
                    in_crate_root(&args).expect(0).stdout,
                    "{}",
                    args.join(" ")
                );
            }
        }
    }
}

#[test]
fn service_graph_and_step_graphs_of_every_environment() {
    for file in environments() {
        let group = format!("graph/{}", stem(&file));
        for format in names::<GraphFormat>() {
            let run = in_crate_root(&["graph", &file, "--format", &format]).expect(0);
            snapshot::assert(&group, &format!("services.{format}"), &run.stdout);
        }
        for target in targets(&file) {
            let run = in_crate_root(
                &[
                    &["graph", &file][..],
                    &target.args(),
                    &["--format", "mermaid"],
                ]
                .concat(),
            )
            .expect(0);
            snapshot::assert(
                &group,
                &format!("steps.{}.mermaid", target.name()),
                &run.stdout,
            );
        }
    }
}

#[test]
fn validate_every_environment() {
    for file in environments() {
        let run = in_crate_root(&["validate", &file]).expect(0);
        snapshot::assert("validate", stem(&file), &run.stdout);
    }
}

/// The code a fixture is named after: `unknown_service-follows.toml` →
/// `drplan::config::unknown_service`. `many_problems.toml` has several.
fn expected_code(fixture: &str) -> Option<String> {
    let class = stem(fixture)
        .split('-')
        .next()
        .expect("split yields at least one part");
    (class != "many_problems").then(|| format!("drplan::config::{class}"))
}

#[test]
fn every_invalid_fixture_is_diagnosed_with_its_code() {
    for fixture in toml_files("tests/fixtures/invalid") {
        let run = in_crate_root(&["validate", &fixture]).expect(1);
        if let Some(code) = expected_code(&fixture) {
            assert!(
                run.stderr.contains(&code),
                "{fixture}: expected {code} in\n{}",
                run.stderr
            );
        }
        snapshot::assert("diagnostics", stem(&fixture), &run.stderr);
    }
}

#[test]
fn every_problem_of_a_file_is_reported_in_file_order() {
    let run = in_crate_root(&["validate", "tests/fixtures/invalid/many_problems.toml"]).expect(1);
    assert!(run.stderr.contains("6 problems"), "{}", run.stderr);
    let classes = [
        "unknown_field",
        "unknown_service",
        "wrong_type",
        "unknown_region",
        "failover_to_home",
        "unknown_scenario",
    ];
    let positions: Vec<usize> = classes
        .iter()
        .map(|class| {
            run.stderr
                .find(&format!("drplan::config::{class}"))
                .unwrap_or_else(|| panic!("{class} not reported"))
        })
        .collect();
    assert!(
        positions.is_sorted(),
        "problems out of file order:\n{}",
        run.stderr
    );
}

/// `path`, then the path of every subcommand below `command`: `[]`, `["plan"]`,
/// `["sim"]`, `["sim", "init"]`, …
fn command_paths(command: &clap::Command, path: &[String]) -> Vec<Vec<String>> {
    let mut paths = vec![path.to_vec()];
    for subcommand in command.get_subcommands() {
        paths.extend(command_paths(
            subcommand,
            &[path, &[subcommand.get_name().to_string()]].concat(),
        ));
    }
    paths
}

#[test]
fn help_of_drplan_and_every_subcommand() {
    for path in command_paths(&Cli::command(), &[]) {
        let words: Vec<&str> = path.iter().map(String::as_str).collect();
        let run = in_crate_root(&[&words[..], &["--help"]].concat()).expect(0);
        snapshot::assert(
            "help",
            &[&["drplan"][..], &words].concat().join("-"),
            &run.stdout,
        );
    }
}

#[test]
fn detailed_exitcode_is_2_for_a_plan_with_changes() {
    let target = PlanTarget::Scenario("regional-failure".to_string());
    let args = plan_args(PRODUCTION, &target, "text");
    in_crate_root(&args).expect(0);
    in_crate_root(&[&args[..], &["--detailed-exitcode"]].concat()).expect(2);
}

#[test]
fn markdown_plans_of_production_fit_in_a_pull_request_comment() {
    // GitHub refuses comments longer than 65,536 characters.
    for target in targets(PRODUCTION) {
        let markdown = in_crate_root(&plan_args(PRODUCTION, &target, "markdown"))
            .expect(0)
            .stdout;
        let length = markdown.chars().count();
        assert!(
            length < 65_000,
            "the {} plan is {length} characters long",
            target.name()
        );
    }
}

#[test]
fn committed_plans_are_checked_and_a_stale_one_is_shown_as_a_diff() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dir_arg = dir.path().to_str().expect("a UTF-8 temporary path");
    in_crate_root(&["plan", PRODUCTION, "--all", "--offline", "--out", dir_arg]).expect(0);
    in_crate_root(&["plan", PRODUCTION, "--all", "--offline", "--check", dir_arg]).expect(0);

    let committed = dir.path().join("regional-failure.md");
    let text = fs::read_to_string(&committed).expect("--out wrote regional-failure.md");
    fs::write(&committed, text.replacen("us-west-2", "eu-west-1", 1))
        .expect("the plan is writable");
    let run =
        in_crate_root(&["plan", PRODUCTION, "--all", "--offline", "--check", dir_arg]).expect(1);
    assert!(
        run.stderr.contains("drplan::plan::out_of_date"),
        "{}",
        run.stderr
    );
    snapshot::assert("plan-check", "one-stale-plan", &run.stdout);
}
