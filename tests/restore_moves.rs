//! Services rebuilt from backups where they move (a cold standby, e.g. Kubernetes with
//! Velero, `environments/k8s-velero.toml`): a failover restores their newest backup in
//! the region it moves to, never "takes the standby as ready"; a failback first fences
//! and backs up the side it leaves, and restores that backup at home, so no write made
//! during the failover is lost; a backup that leaves nothing new stops the move before
//! the restore.

use std::fs;
use std::path::Path;

use crate::command_dns::ENV;
use crate::support::moto::{MotoServer, tool_path};
use crate::support::runner;
use crate::support::workspace::Workspace;

const VELERO: &str = "environments/k8s-velero.toml";

/// Each step of the run the state records, in the order first journaled, with the
/// detail of its last event.
fn journal(workspace: &Workspace, environment: &str) -> Vec<(String, String)> {
    let state = workspace.state(environment);
    let mut steps: Vec<(String, String)> = Vec::new();
    for entry in state["run"]["journal"].as_array().into_iter().flatten() {
        let step = entry["step"].as_str().unwrap_or_default().to_string();
        let detail = entry["detail"].as_str().unwrap_or_default().to_string();
        match steps.iter_mut().find(|(s, _)| *s == step) {
            Some(seen) => seen.1 = detail,
            None => steps.push((step, detail)),
        }
    }
    steps
}

/// The backup a restore step loaded, from its detail.
fn restored_from(steps: &[(String, String)], step: &str) -> String {
    steps
        .iter()
        .find(|(s, _)| s == step)
        .and_then(|(_, detail)| detail.strip_prefix("restored from "))
        .and_then(|rest| rest.lines().next())
        .unwrap_or_else(|| panic!("{step} restored nothing: {steps:?}"))
        .to_string()
}

#[test]
fn a_service_rebuilt_from_backups_is_restored_where_it_moves_and_backed_up_before_it_goes_home() {
    let workspace = Workspace::new();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(VELERO);
    fs::create_dir_all(workspace.path().join("environments")).expect("a directory");
    fs::copy(source, workspace.path().join(VELERO)).expect("the environment is copied");
    workspace.run(&["sim", "init", VELERO]).expect(0);
    let apply = |args: &[&str]| {
        let mut all = vec![
            "apply",
            VELERO,
            "--sim",
            "--auto-approve",
            "--time-scale",
            "0",
        ];
        all.extend_from_slice(args);
        workspace.run(&all).expect(0)
    };

    workspace
        .run(&["sim", "set", VELERO, "--region", "eu-west-1", "--down"])
        .expect(0);
    apply(&["--scenario", "cluster-lost"]);
    let failover = journal(&workspace, "k8s-velero");
    let hourly = restored_from(&failover, "restore:orders-db");
    assert!(
        !failover
            .iter()
            .any(|(s, _)| s.starts_with("activate:orders-db")),
        "a cold standby is restored, never taken as ready: {failover:?}"
    );

    workspace
        .run(&["sim", "set", VELERO, "--region", "eu-west-1", "--up"])
        .expect(0);
    apply(&["--failback"]);
    let failback = journal(&workspace, "k8s-velero");
    let order: Vec<&str> = failback
        .iter()
        .map(|(s, _)| s.as_str())
        .filter(|s| s.ends_with(":orders-db"))
        .collect();
    assert_eq!(
        order,
        [
            "deactivate:orders-db",
            "backup:orders-db",
            "restore:orders-db",
            "health:orders-db"
        ]
    );
    // Home is rebuilt from the backup the failback took, not the one the failover used.
    let fresh = restored_from(&failback, "restore:orders-db");
    assert_ne!(fresh, hourly);
    assert!(
        fresh.starts_with("s3://shop-velero/backups/orders-"),
        "{fresh}"
    );
}

/// An on-premises file service restored from backups in a bucket (moto), moved by a
/// switchover; `backup` is the command that backs it up.
fn files_environment(backup: &str) -> String {
    format!(
        r#"
[services.files]
tier = 1
regions = ["dc-east", "dc-west"]
estimate = "1m"
restore = ["sh", "-c", "echo {{region}} >> restored-files"]
deactivate = ["true"]
backup = {backup}

[data.documents]
service = "files"
priority = "P0"
rpo = "1d"
method = "restore"
backups = "s3://files-backups/documents/"

[scenarios.move-west]
severity = "SEV-3"
strategy = "switchover"
to = "dc-west"
"#
    )
}

/// `drplan ARGS…` against moto.
fn drplan(workspace: &Workspace, moto: &MotoServer, args: &[&str]) -> runner::Run {
    let mut command = workspace.command(args);
    command.envs(moto.aws_env());
    runner::run(&mut command)
}

/// The on-premises environment with S3 storage on moto and the file service.
fn files_workspace(moto: &MotoServer, backup: &str) -> Workspace {
    let workspace = Workspace::new();
    workspace.onprem_in(&[], &files_environment(backup));
    let path = workspace.path().join(ENV);
    let text = fs::read_to_string(&path).expect("the environment");
    let text = text.replace("storage = \"none\"", "storage = \"s3\"");
    fs::write(&path, text).expect("the environment is written");
    moto.aws_cli(&["s3", "mb", "s3://files-backups"]);
    let old = workspace.path().join("old.tar");
    fs::write(&old, "yesterday").expect("a backup file");
    moto.aws_cli(&[
        "s3",
        "cp",
        &old.display().to_string(),
        "s3://files-backups/documents/nightly.tar",
    ]);
    workspace
}

#[test]
fn a_backup_that_leaves_nothing_new_stops_the_move_before_the_restore() {
    let moto = MotoServer::start();
    let workspace = files_workspace(&moto, r#"["true"]"#);
    let apply = drplan(
        &workspace,
        &moto,
        &["apply", ENV, "--scenario", "move-west", "--auto-approve"],
    )
    .expect(1);
    assert!(
        apply
            .stderr
            .contains("FAILED backup:files: the backup of files left nothing new under s3://files-backups/documents/"),
        "{apply}"
    );
    let steps = journal(&workspace, "onprem");
    assert!(
        !steps.iter().any(|(s, _)| s == "restore:files"),
        "no restore after a backup that wrote nothing: {steps:?}"
    );
    assert!(!workspace.path().join("restored-files").exists());
}

#[test]
fn a_backup_written_during_the_step_is_the_one_restored() {
    let moto = MotoServer::start();
    let aws = tool_path("DRPLAN_AWS_CLI", "aws");
    let backup = format!(
        r#"["sh", "-c", "echo today > today.tar && '{}' --endpoint-url \"$AWS_ENDPOINT_URL\" s3 cp today.tar s3://files-backups/documents/switchover.tar"]"#,
        aws.display()
    );
    let workspace = files_workspace(&moto, &backup);
    drplan(
        &workspace,
        &moto,
        &["apply", ENV, "--scenario", "move-west", "--auto-approve"],
    )
    .expect(0);
    let steps = journal(&workspace, "onprem");
    assert_eq!(
        restored_from(&steps, "restore:files"),
        "s3://files-backups/documents/switchover.tar"
    );
    assert_eq!(
        fs::read_to_string(workspace.path().join("restored-files")).unwrap_or_default(),
        "dc-west\n"
    );
}

#[test]
fn a_service_rebuilt_from_backups_without_a_backup_command_is_warned_about() {
    let workspace = Workspace::new();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(VELERO);
    let text = fs::read_to_string(source).expect("the environment");
    let without = text
        .lines()
        .filter(|line| !line.starts_with("backup = "))
        .collect::<Vec<_>>()
        .join("\n");
    fs::create_dir_all(workspace.path().join("environments")).expect("a directory");
    fs::write(workspace.path().join(VELERO), without).expect("the environment is written");
    let validate = workspace.run(&["validate", VELERO]).expect(0);
    assert_eq!(
        validate
            .stderr
            .matches("drplan::lifecycle::no_backup")
            .count(),
        2,
        "{validate}"
    );
    assert!(
        validate.stderr.contains(
            "`orders-db` is rebuilt from its newest backup where it moves, but declares no `backup`"
        ),
        "{validate}"
    );
}
