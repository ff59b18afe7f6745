//! `drplan verify` on the sim world (pass and fail), and secrets: a `${env:VAR}` value
//! reaches the commands and URLs that carry it on the real runtime, and is never
//! written to any file drplan leaves behind nor printed; on the sim, nothing needs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::aws_e2e::fixture::Loopback;
use crate::support::moto;
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

/// The secret of [`secret_environment`], and the variable that holds it.
const SECRET: &str = "s3cr3t-7f1c2a9e";
const SECRET_VARIABLE: &str = "DRPLAN_TEST_SECRET";

/// An environment on the real runtime (DNS on the sim world, storage on moto) whose
/// activation, command probe, HTTP probe, scenario step, notification and checks all
/// carry `${env:DRPLAN_TEST_SECRET}`. The commands print what they were given and
/// write it under `evidence`; the URLs point at `loopback`.
fn secret_environment(loopback: &str, evidence: &Path) -> String {
    let evidence = evidence.display();
    let secret = format!("${{env:{SECRET_VARIABLE}}}");
    let keep = |what: &str| {
        format!(
            r#"["sh", "-c", "echo \"{what} with $1\"; echo \"$1\" > {evidence}/{what}", "sh", "{secret}"]"#
        )
    };
    format!(
        r#"[environment]
name = "secrets"
home = "eu-west-1"
rto = "20m"

[providers]
dns = "sim"
storage = "s3"

[regions.eu-west-1]
role = "primary"

[regions.eu-central-1]
role = "secondary"

[services.api]
tier = 1
regions = ["eu-west-1", "eu-central-1"]
activate = {activate}
health = {{ url = "{loopback}/health/{secret}/{{region}}", interval = "1s" }}

[services.worker]
tier = 1
regions = ["eu-west-1", "eu-central-1"]
health = {{ command = {probe}, interval = "1s" }}

[scenarios.region-outage]
strategy = "failover"
to = "eu-central-1"

[[scenarios.region-outage.steps]]
phase = "mitigate"
name = "rotate the keys"
run = {run}

[[notify]]
to = "on-call"
via = "webhook"
url = "{loopback}/hook/{secret}"

[[checks]]
name = "api answers"
url = "{loopback}/check/{secret}"

[[checks]]
name = "token works"
command = {check}
"#,
        activate = keep("activate"),
        probe = keep("probe"),
        run = keep("run"),
        check = keep("check"),
    )
}

#[test]
fn a_secret_reaches_commands_and_urls_on_the_real_runtime_and_is_never_written_or_printed() {
    let loopback = Loopback::start();
    let evidence = tempfile::tempdir().expect("a directory for what the commands got");
    let workspace = Workspace::new();
    let file = "environments/secrets.toml";
    std::fs::write(
        workspace.path().join(file),
        secret_environment(&loopback.url, evidence.path()),
    )
    .expect("the environment is written");
    let failover = [
        "apply",
        file,
        "--scenario",
        "region-outage",
        "--auto-approve",
    ];
    let runs: Vec<Run> = [
        &["sim", "init", file][..],
        &failover,
        &["verify", file],
        &["status", file],
    ]
    .into_iter()
    .map(|args| {
        let mut command = command(&workspace, args);
        command
            .envs(moto::shared().aws_env())
            .env(SECRET_VARIABLE, SECRET);
        runner::run(&mut command).expect(0)
    })
    .collect();

    for what in ["activate", "probe", "run", "check"] {
        let got = std::fs::read_to_string(evidence.path().join(what)).expect("the command ran");
        assert_eq!(got.trim(), SECRET, "{what}");
    }
    for path in ["/health/", "/hook/", "/check/"] {
        let asked = format!("{path}{SECRET}");
        assert!(
            loopback.requests().iter().any(|line| line.contains(&asked)),
            "no request for {asked}: {:?}",
            loopback.requests()
        );
    }
    for run in &runs {
        assert!(!run.to_string().contains(SECRET), "printed:\n{run}");
    }
    let mut files = Vec::new();
    collect(workspace.path(), &mut files);
    let mut journaled = false;
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).expect("readable")).to_string();
        assert!(
            !text.contains(SECRET),
            "{} holds the secret",
            file.display()
        );
        journaled |= text.contains("activate with ${env:DRPLAN_TEST_SECRET}");
    }
    assert!(journaled, "the activation's output is recorded, redacted");
}

#[test]
fn on_the_sim_commands_do_not_run_so_their_variables_need_not_be_set() {
    let workspace = workspace();
    let file = workspace.path().join(EXAMPLE);
    let text = std::fs::read_to_string(&file).expect("the example");
    let step = r#"approval = "any-engineer"

[[scenarios.region-outage.steps]]
phase = "mitigate"
name = "rotate the keys"
run = ["rotate-keys", "--token", "${env:DRPLAN_TEST_NEVER_SET}"]
"#;
    std::fs::write(
        &file,
        text.replacen("approval = \"any-engineer\"\n", step, 1),
    )
    .expect("the step is added");
    let failover = [
        "apply",
        EXAMPLE,
        "--scenario",
        "region-outage",
        "--auto-approve",
    ];
    drplan(&workspace, &failover).expect(0);
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
