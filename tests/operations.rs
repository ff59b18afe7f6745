//! `drplan verify` on the sim world (pass and fail), and secrets: a `${env:VAR}` value
//! set while applying is never written to any file drplan leaves behind.

use std::path::Path;

use assert_cmd::Command;
use tempfile::TempDir;

/// A temp dir holding a copy of the example environment, with its sim world.
fn workspace() -> TempDir {
    let dir = TempDir::new().expect("a temp dir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/example.toml");
    std::fs::copy(source, dir.path().join("example.toml")).expect("copy the example");
    drplan(&dir)
        .args(["sim", "init", "example.toml"])
        .assert()
        .success();
    dir
}

fn drplan(dir: &TempDir) -> Command {
    let mut command = Command::cargo_bin("drplan").expect("the drplan binary is built");
    command
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("DRPLAN_TIME_SCALE", "0")
        .env_remove("DRPLAN_DIR");
    command
}

#[test]
fn verify_passes_on_a_healthy_world_and_fails_naming_the_broken_check() {
    let dir = workspace();
    let pass = drplan(&dir)
        .args(["verify", "example.toml"])
        .output()
        .expect("runs");
    assert!(
        pass.status.success(),
        "{}",
        String::from_utf8_lossy(&pass.stderr)
    );
    let stdout = String::from_utf8_lossy(&pass.stdout);
    assert!(
        stdout.contains("[pass] shop answers") && stdout.contains("2 of 2 checks passed"),
        "{stdout}"
    );

    drplan(&dir)
        .args([
            "sim",
            "set",
            "example.toml",
            "--service",
            "web",
            "--region",
            "eu-west-1",
            "--down",
        ])
        .assert()
        .success();
    let fail = drplan(&dir)
        .args(["verify", "example.toml"])
        .output()
        .expect("runs");
    assert_eq!(fail.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&fail.stdout);
    let stderr = String::from_utf8_lossy(&fail.stderr);
    assert!(stdout.contains("[FAIL] shop answers"), "{stdout}");
    assert!(
        stderr.contains("drplan::verify::failed") && stderr.contains("shop answers"),
        "{stderr}"
    );
}

#[test]
fn a_secret_in_the_environment_is_never_written_to_any_file() {
    let dir = workspace();
    let secret = "https://hooks.example/T0/B0/very-secret-token";
    drplan(&dir)
        .args([
            "apply",
            "example.toml",
            "--scenario",
            "region-outage",
            "--auto-approve",
            "--quiet",
        ])
        .env("ONCALL_WEBHOOK", secret)
        .assert()
        .success();
    drplan(&dir)
        .args([
            "apply",
            "example.toml",
            "--failback",
            "--auto-approve",
            "--quiet",
        ])
        .env("ONCALL_WEBHOOK", secret)
        .assert()
        .success();
    let mut files = Vec::new();
    collect(dir.path(), &mut files);
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

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}
