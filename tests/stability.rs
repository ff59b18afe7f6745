//! Static stability: each warning has a fixture under tests/fixtures/warnings/, named
//! after its code; `validate` shows it and exits 0, `--deny-warnings` exits 1. The
//! committed plans under plans/ are current.

use std::path::{Path, PathBuf};

use crate::support::runner::in_crate_root;
use crate::support::snapshot;

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
    assert_eq!(files.len(), 9, "one fixture per warning");
    for file in files {
        let class = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a name")
            .to_string();
        let relative = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .expect("inside the repo")
            .to_str()
            .expect("utf-8");
        let run = in_crate_root(&["validate", relative]);
        assert_eq!(
            run.code,
            Some(0),
            "{class}: warnings alone must not fail validate"
        );
        assert!(
            run.stderr.contains(&format!("drplan::stability::{class}")),
            "{class}: {}",
            run.stderr
        );
        assert_eq!(
            run.stderr.matches("Warning: drplan::stability::").count(),
            1,
            "{class}: exactly its own warning\n{}",
            run.stderr
        );
        snapshot::assert("warnings", &class, &run.stderr);
        in_crate_root(&["validate", relative, "--deny-warnings"]).expect(1);
        in_crate_root(&[
            "plan",
            relative,
            "--scenario",
            "region-down",
            "--offline",
            "--deny-warnings",
        ])
        .expect(1);
    }
}

#[test]
fn the_example_environment_has_no_warnings() {
    let run =
        in_crate_root(&["validate", "environments/example.toml", "--deny-warnings"]).expect(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn committed_plans_are_current() {
    for file in crate::cli::toml_files("environments") {
        let env = file
            .trim_start_matches("environments/")
            .trim_end_matches(".toml");
        let dir = format!("plans/{env}");
        let run = in_crate_root(&["plan", &file, "--all", "--offline", "--check", &dir]);
        assert_eq!(
            run.code,
            Some(0),
            "plans/{env} is out of date; regenerate with `drplan plan {file} --all --offline --out {dir}`:\n{}",
            run.stdout
        );
    }
}
