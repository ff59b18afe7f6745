//! `drplan verify` on the sim world (pass and fail), and secrets: a `${env:VAR}` value
//! set while applying is never written to any file drplan leaves behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::runner::{self, Run};
use crate::support::workspace::Workspace;

const EXAMPLE: &str = "environments/example.toml";

/// A workspace with the example's sim world.
fn workspace() -> Workspace {
    let workspace = Workspace::new();
    drplan(&workspace, &["sim", "init", EXAMPLE]).expect(0);
    workspace
}

/// `drplan ARGS…` in `workspace`, at sim time scale 0.
fn command(workspace: &Workspace, args: &[&str]) -> Command {
    let mut command = workspace.command(args);
    command.env("DRPLAN_TIME_SCALE", "0");
    command
}

fn drplan(workspace: &Workspace, args: &[&str]) -> Run {
    runner::run(&mut command(workspace, args))
}

#[test]
fn verify_passes_on_a_healthy_world_and_fails_naming_the_broken_check() {
    let workspace = workspace();
    let pass = drplan(&workspace, &["verify", EXAMPLE]).expect(0);
    assert!(
        pass.stdout.contains("[pass] shop answers") && pass.stdout.contains("2 of 2 checks passed"),
        "{pass}"
    );

    drplan(
        &workspace,
        &[
            "sim",
            "set",
            EXAMPLE,
            "--service",
            "web",
            "--region",
            "eu-west-1",
            "--down",
        ],
    )
    .expect(0);
    let fail = drplan(&workspace, &["verify", EXAMPLE]).expect(1);
    assert!(fail.stdout.contains("[FAIL] shop answers"), "{fail}");
    assert!(
        fail.stderr.contains("drplan::verify::failed") && fail.stderr.contains("shop answers"),
        "{fail}"
    );
}

#[test]
fn a_secret_in_the_environment_is_never_written_to_any_file() {
    let workspace = workspace();
    let secret = "https://hooks.example/T0/B0/very-secret-token";
    let failover = [
        "apply",
        EXAMPLE,
        "--scenario",
        "region-outage",
        "--auto-approve",
        "--quiet",
    ];
    let failback = ["apply", EXAMPLE, "--failback", "--auto-approve", "--quiet"];
    for args in [&failover[..], &failback] {
        runner::run(command(&workspace, args).env("ONCALL_WEBHOOK", secret)).expect(0);
    }
    let mut files = Vec::new();
    collect(workspace.path(), &mut files);
    assert!(
        files.len() > 3,
        "state, sim world and run reports were written: {files:?}"
    );
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).expect("readable")).to_string();
        assert!(
            !text.contains("very-secret-token"),
            "{} holds the secret",
            file.display()
        );
    }
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}
