//! Static stability: each warning has a fixture under tests/fixtures/warnings/, named
//! after its code; `validate` shows it and exits 0, `--deny-warnings` exits 1. The
//! committed plans under plans/ are current.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

use crate::support::snapshot;

fn drplan() -> Command {
    let mut command = Command::cargo_bin("drplan").expect("the drplan binary is built");
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    command
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/warnings");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

#[test]
fn every_static_stability_warning_is_shown_and_can_be_denied() {
    let files = fixtures();
    assert_eq!(files.len(), 5, "one fixture per warning");
    for file in files {
        let class = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a name")
            .to_string();
        let relative = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .expect("inside the repo")
            .to_path_buf();
        let output = drplan()
            .arg("validate")
            .arg(&relative)
            .output()
            .expect("drplan runs");
        assert!(
            output.status.success(),
            "{class}: warnings alone must not fail validate"
        );
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(
            stderr.contains(&format!("drplan::stability::{class}")),
            "{class}: {stderr}"
        );
        assert_eq!(
            stderr.matches("Warning: drplan::stability::").count(),
            1,
            "{class}: exactly its own warning\n{stderr}"
        );
        snapshot::assert("warnings", &class, &stderr);
        drplan()
            .arg("validate")
            .arg(&relative)
            .arg("--deny-warnings")
            .assert()
            .code(1);
        let plan = [
            "plan",
            relative.to_str().expect("utf-8"),
            "--scenario",
            "region-down",
            "--offline",
            "--deny-warnings",
        ];
        drplan().args(plan).assert().code(1);
    }
}

#[test]
fn the_example_environment_has_no_warnings() {
    let output = drplan()
        .args(["validate", "environments/example.toml", "--deny-warnings"])
        .output()
        .expect("runs");
    assert!(output.status.success());
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn committed_plans_are_current() {
    for env in ["production", "example"] {
        let file = format!("environments/{env}.toml");
        let dir = format!("plans/{env}");
        let output = drplan()
            .args(["plan", &file, "--all", "--offline", "--check", &dir])
            .output()
            .expect("runs");
        assert!(
            output.status.success(),
            "plans/{env} is out of date; regenerate with `drplan plan {file} --all --offline --out {dir}`:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}
