//! The watch quorum with real processes: three `drplan watch --as NAME` processes of the
//! binary on the production sim world, sharing their observations through the state
//! backend (local state, then S3 state on moto).
//!
//! One watcher cut off sees every region down but never acts, and says it is
//! partitioned; home down fails over exactly once, by one watcher, after `for`, and
//! home healthy again fails back exactly once; the
//! acting watcher killed mid-apply leaves a dead lock owner, and another watcher
//! resumes its run; the same on S3 state against moto. A watcher that cannot reach the
//! state never acts; `--as` is required and checked; a drill reports detection by the
//! quorum; `status` lists each watcher's last observation.

use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::moto::MotoServer;
use crate::support::runner::{Run, Spawned};
use crate::support::snapshot;
use crate::support::workspace::Workspace;

const PRODUCTION: &str = "environments/production.toml";
const WATCHERS: [&str; 3] = ["virginia", "oregon", "ireland"];
/// Fast enough for a test, slow enough that watchers started together keep the
/// same simulated time (a 50 ms difference in start is 2.5 simulated seconds).
const TIME_SCALE: &str = "0.02";
const POLL: Duration = Duration::from_millis(20);
const DEADLINE: Duration = Duration::from_mins(2);

const WATCH: &str = r#"
[watch]
watchers = [
  { name = "virginia", region = "us-east-1" },
  { name = "oregon", region = "us-west-2" },
  { name = "ireland", region = "eu-west-1" },
]
"#;

/// A workspace whose production environment declares the three watchers, its sim
/// world created.
fn with_watchers(state: Option<&str>) -> Workspace {
    let workspace = Workspace::new();
    let path = workspace.path().join(PRODUCTION);
    let mut text = fs::read_to_string(&path).expect("the environment file exists");
    text.push_str(WATCH);
    if let Some(state) = state {
        text = text
            .replacen("state = \"local\"", &format!("state = \"{state}\""), 1)
            .replacen(
                "dns = \"route53\"\nstorage = \"s3\"",
                "dns = \"sim\"\nstorage = \"sim\"",
                1,
            );
    }
    fs::write(&path, text).expect("the environment file is written");
    workspace.run(&["sim", "init", PRODUCTION]).expect(0);
    workspace
}

/// `drplan watch production --as NAME` for `duration` of simulated time.
fn watch_as<'a>(name: &'a str, duration: &'a str, sim: bool) -> Vec<&'a str> {
    let mut args = vec![
        "watch",
        PRODUCTION,
        "--as",
        name,
        "--time-scale",
        TIME_SCALE,
        "--max-duration",
        duration,
    ];
    if sim {
        args.push("--sim");
    }
    args
}

fn applied(run: &Run) -> usize {
    run.stdout
        .matches("applying regional-failure: applied (run ")
        .count()
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).expect("the file exists")).expect("JSON")
}

/// Polls until `ready` holds, or panics after a generous deadline.
fn poll_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not happen in time");
        thread::sleep(POLL);
    }
}

#[test]
fn a_watcher_cut_off_never_fails_over_a_healthy_system_and_says_it_is_partitioned() {
    let workspace = with_watchers(None);
    workspace
        .run(&[
            "sim",
            "set",
            PRODUCTION,
            "--watcher",
            "ireland",
            "--partitioned",
        ])
        .expect(0);
    let runs = workspace.run_together(
        &WATCHERS
            .map(|w| watch_as(w, "7m", true))
            .each_ref()
            .map(Vec::as_slice),
    );

    for run in &runs {
        assert_eq!(run.code, Some(0), "{run}");
        assert!(!run.stdout.contains("FIRED"), "{run}");
    }
    let ireland = &runs[2];
    assert!(
        ireland
            .stdout
            .contains("region-down: PARTITIONED: every probe of this watcher fails while"),
        "{ireland}"
    );
    assert!(!runs[0].stdout.contains("PARTITIONED") && !runs[1].stdout.contains("PARTITIONED"));
    assert!(
        !workspace
            .path()
            .join(".drplan/state/production.json")
            .exists(),
        "nothing was applied"
    );
    let published = workspace.files(".drplan/state/production.watchers", "json");
    assert_eq!(published.len(), 3, "{published:?}");
    let status = workspace.run(&["status", PRODUCTION, "--sim"]).expect(0);
    snapshot::assert_live("quorum", "status_with_watchers", &status.stdout);
}

#[test]
fn home_down_fails_over_exactly_once_by_one_watcher_after_for() {
    let workspace = with_watchers(None);
    workspace
        .run(&["sim", "set", PRODUCTION, "--region", "us-east-1", "--down"])
        .expect(0);
    let runs = workspace.run_together(
        &WATCHERS
            .map(|w| watch_as(w, "8m", true))
            .each_ref()
            .map(Vec::as_slice),
    );

    let actors: Vec<&Run> = runs.iter().filter(|run| applied(run) == 1).collect();
    assert_eq!(actors.len(), 1, "{runs:#?}");
    assert_eq!(runs.iter().map(applied).sum::<usize>(), 1, "{runs:#?}");
    assert!(
        actors[0].stdout.contains("region-down: FIRED after 5m"),
        "{}",
        actors[0]
    );
    for run in runs.iter().filter(|run| applied(run) == 0) {
        assert!(
            run.stdout.contains("another operator holds the lock")
                || run.stdout.contains("another operator acted")
                || !run.stdout.contains("region-down: FIRED"),
            "{run}"
        );
    }
    assert_eq!(workspace.files(".drplan/runs", "md").len(), 1);
    let state = workspace.json(".drplan/state/production.json");
    assert_eq!(state["last_applied"]["intent"], "regional-failure");
    assert_eq!(state["run"]["status"], "finished");
    // The manual trigger: the first watcher (by name) of the quorum it sees notifies, the
    // others stand back; two that judge at the same moment and each see themselves first
    // both try to claim the notice in the state, and only the first claim notifies.
    let notified = runs
        .iter()
        .map(|run| run.stdout.matches("database-unreachable: FIRED").count())
        .sum::<usize>();
    let told = runs
        .iter()
        .map(|run| {
            run.stdout
                .matches(": notified on-call; waiting for")
                .count()
        })
        .sum::<usize>();
    assert!(notified >= 1, "{runs:#?}");
    assert_eq!(told, 1, "{runs:#?}");
}

#[test]
fn the_acting_watcher_killed_mid_apply_is_resumed_by_another() {
    let workspace = with_watchers(None);
    workspace
        .run(&["sim", "set", PRODUCTION, "--region", "us-east-1", "--down"])
        .expect(0);
    let mut watchers: Vec<(&str, Spawned)> = WATCHERS
        .iter()
        .map(|w| (*w, workspace.spawn(&watch_as(w, "12m", true))))
        .collect();

    // The lock names the process that applies; kill it once a step has finished.
    let state_dir = workspace.path().join(".drplan/state");
    let mut holder = None;
    poll_until("a step finishing under a watcher's lock", || {
        let journal = fs::read_to_string(state_dir.join("production.journal")).unwrap_or_default();
        let lock = state_dir.join("production.lock");
        if journal.contains("\"finished\"") && lock.exists() {
            holder = json(&lock)["pid"].as_i64();
        }
        holder.is_some()
    });
    let position = watchers
        .iter()
        .position(|(_, w)| i64::from(w.pid()) == holder.unwrap_or_default())
        .expect("a watcher holds the lock");
    let (killed_name, killed) = watchers.remove(position);
    let killed = killed.kill();
    assert!(!killed.stdout.contains("applied (run"), "{killed}");

    let runs: Vec<(&str, Run)> = watchers.into_iter().map(|(n, w)| (n, w.wait())).collect();
    let state = workspace.json(".drplan/state/production.json");
    assert_eq!(state["run"]["status"], "finished", "{state}");
    assert_eq!(state["last_applied"]["intent"], "regional-failure");
    assert!(!state_dir.join("production.lock").exists());
    // The run the dead watcher started, not a new one: one apply in all.
    let run_id = state["run"]["id"].as_str().expect("a run id");
    let resuming = format!(": resuming the unfinished run: resumed (run {run_id})");
    let survivors_resuming: Vec<&str> = runs
        .iter()
        .filter(|(_, run)| run.stdout.contains(&resuming))
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(survivors_resuming.len(), 1, "{runs:#?}");
    assert_ne!(survivors_resuming[0], killed_name);
    assert_eq!(workspace.files(".drplan/runs", "md").len(), 1);
}

#[test]
fn three_watchers_on_s3_state_fail_over_once_and_publish_there() {
    let moto = MotoServer::start();
    moto.aws_cli(&["s3api", "create-bucket", "--bucket", "drplan-state"]);
    let workspace = with_watchers(Some("s3://drplan-state/production.json"));
    workspace
        .run(&["sim", "set", PRODUCTION, "--region", "us-east-1", "--down"])
        .expect(0);
    // Not --sim: the environment's providers are the sim, its state is on S3.
    let runs: Vec<Run> = WATCHERS
        .map(|w| {
            let mut command = workspace.command(&watch_as(w, "8m", false));
            command.envs(moto.aws_env());
            crate::support::runner::spawn(&mut command)
        })
        .into_iter()
        .map(Spawned::wait)
        .collect();

    assert_eq!(runs.iter().map(applied).sum::<usize>(), 1, "{runs:#?}");
    let listed: Value = serde_json::from_str(&moto.aws_cli(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        "drplan-state",
        "--prefix",
        "production.json.watchers/",
    ]))
    .expect("JSON");
    let keys: Vec<&str> = listed["Contents"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| o["Key"].as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "production.json.watchers/ireland.json",
            "production.json.watchers/oregon.json",
            "production.json.watchers/virginia.json"
        ]
    );
    let state = moto.aws_cli(&["s3", "cp", "s3://drplan-state/production.json", "-"]);
    let state: Value = serde_json::from_str(&state).expect("JSON");
    assert_eq!(state["last_applied"]["intent"], "regional-failure");
    assert!(
        !workspace
            .path()
            .join(".drplan/state/production.json")
            .exists()
    );
}

#[test]
fn a_drill_reports_detection_by_the_quorum_one_phase_later_than_a_single_watcher() {
    let drill = |workspace: &Workspace| {
        let run = workspace
            .run(&[
                "drill",
                PRODUCTION,
                "--scenario",
                "regional-failure",
                "--time-scale",
                "0",
            ])
            .expect(0);
        run.stdout
            .lines()
            .find(|line| line.starts_with("| Time to detect |"))
            .expect("a time to detect")
            .to_string()
    };
    let single = drill(&Workspace::new());
    let quorum = drill(&with_watchers(None));

    assert!(
        single.contains("| 2m (5 probes) by trigger `database-unreachable`, "),
        "{single}"
    );
    // Three watchers probe 10s apart; the second to see it for `for` makes the quorum.
    assert!(
        quorum.contains(
            "| 2m 10s (5 probes) by trigger `database-unreachable` (quorum reached: virginia, oregon agree), "
        ),
        "{quorum}"
    );
}

#[test]
fn with_watchers_declared_watch_needs_as_and_suggests_a_close_name() {
    let workspace = with_watchers(None);
    let missing = workspace
        .run(&["watch", PRODUCTION, "--sim", "--once"])
        .expect(1);
    assert!(
        missing
            .message()
            .contains("production declares [watch]: say which watcher this is")
            && missing
                .message()
                .contains("pass --as NAME, one of virginia, oregon, ireland"),
        "{missing}"
    );
    let typo = workspace
        .run(&["watch", PRODUCTION, "--sim", "--once", "--as", "oregn"])
        .expect(1);
    assert!(typo.message().contains("did you mean `oregon`?"), "{typo}");
    let sim = workspace
        .run(&[
            "sim",
            "set",
            PRODUCTION,
            "--watcher",
            "irland",
            "--partitioned",
        ])
        .expect(1);
    assert!(sim.message().contains("did you mean `ireland`?"), "{sim}");
    workspace
        .run(&["sim", "init", "environments/example.toml"])
        .expect(0);
    let none = workspace
        .run(&[
            "watch",
            "environments/example.toml",
            "--sim",
            "--once",
            "--as",
            "east",
        ])
        .expect(1);
    assert!(
        none.message().contains("declares no [watch] watchers"),
        "{none}"
    );
}

#[test]
fn a_watcher_that_cannot_reach_the_state_never_acts() {
    let workspace = with_watchers(Some("s3://drplan-state/production.json"));
    workspace
        .run(&["sim", "set", PRODUCTION, "--region", "us-east-1", "--down"])
        .expect(0);
    let mut command = workspace.command(&["watch", PRODUCTION, "--as", "oregon", "--once"]);
    // Nothing listens on the discard port: every state request fails.
    command
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let run = crate::support::runner::run(&mut command).expect(1);

    assert!(!run.stdout.contains("FIRED"), "{run}");
    assert!(run.message().contains("drplan-state"), "{run}");
    let world = workspace.json(".drplan/sim/production.json");
    assert!(
        world["log"]
            .as_array()
            .expect("a log")
            .iter()
            .all(|line| !line.as_str().unwrap_or_default().starts_with("activate")),
        "{world:#}"
    );
}

#[test]
fn home_healthy_again_fails_back_exactly_once_by_one_watcher() {
    let workspace = with_watchers(None);
    // Failed over by the triggers' scenario; home is healthy again.
    workspace
        .run(&[
            "apply",
            PRODUCTION,
            "--scenario",
            "regional-failure",
            "--sim",
            "--auto-approve",
            "--time-scale",
            "0",
        ])
        .expect(0);
    let runs = workspace.run_together(
        &WATCHERS
            .map(|w| watch_as(w, "4m", true))
            .each_ref()
            .map(Vec::as_slice),
    );

    // `database-unreachable` fails back on its own after 2m of healthy home: one
    // watcher applies it, the others stand back.
    let failbacks = |run: &Run| {
        run.stdout
            .matches("applying the failback: applied (run ")
            .count()
    };
    assert_eq!(runs.iter().map(failbacks).sum::<usize>(), 1, "{runs:#?}");
    let state = workspace.json(".drplan/state/production.json");
    assert_eq!(state["placement"]["api"], "us-east-1", "{state:#}");
    assert_eq!(state["run"]["status"], "finished");
}
