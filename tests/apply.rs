//! `drplan apply` as an operator meets it during an incident: the real binary, run in
//! a temporary directory holding copies of `environments/` and its own `.drplan/`, on
//! the sim world.
//!
//! Crash and resume (kill -9 at twenty points of a run), lock contention, stale plans,
//! Ctrl-C, a failing step with and without `--keep-going`, failover then failback, the
//! RPO gate, snapshots (under `snapshots/apply/`) of a live plan, the status after a
//! failover and the run report, real commands stopped by SIGTERM, a second Ctrl-C, or
//! left running by a SIGKILL (stopped by the resume before their step runs again);
//! notifications retried, given up and timed by their offsets (the POST bodies
//! asserted); manual steps and approvals at a terminal and without one; a maintenance
//! page whose bucket cannot be reached.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use drplan::providers::process::GroupMark;
use drplan::state::local::LocalState;
use serde_json::Value;

use crate::support::runner::{self, Run, Spawned};
use crate::support::snapshot;
use crate::support::terminal::Terminal;
use crate::support::webhook::{Answer, Script, Webhook, body};
use crate::support::workspace::Workspace;

const EXAMPLE: &str = "environments/example.toml";
const PRODUCTION: &str = "environments/production.toml";

impl Workspace {
    /// A workspace whose sim world of `environment` is `initial` (a copy of another
    /// workspace's), so that runs in both start from the same world.
    fn with_world(environment: &str, initial: &Value) -> Self {
        let workspace = Self::new();
        workspace.write_world(environment, initial);
        workspace
    }

    fn file(&self, kind: &str, environment: &str) -> PathBuf {
        self.path()
            .join(".drplan")
            .join(kind)
            .join(format!("{environment}.json"))
    }

    /// The state as drplan reads it (the file with its journal log replayed), or `None`
    /// when there is none yet.
    pub(crate) fn try_state(&self, environment: &str) -> Option<Value> {
        let backend = LocalState::at(environment, self.file("state", environment));
        let state = backend.read_now().ok()??;
        Some(serde_json::to_value(state).expect("the state is JSON"))
    }

    pub(crate) fn state(&self, environment: &str) -> Value {
        self.try_state(environment)
            .unwrap_or_else(|| panic!("no readable state for {environment}"))
    }

    fn world(&self, environment: &str) -> Value {
        let text = fs::read_to_string(self.file("sim", environment)).expect("the sim world exists");
        serde_json::from_str(&text).expect("the sim world is JSON")
    }

    fn write_world(&self, environment: &str, world: &Value) {
        let path = self.file("sim", environment);
        fs::create_dir_all(path.parent().expect("a directory"))
            .expect("the sim directory is created");
        fs::write(path, serde_json::to_string_pretty(world).expect("JSON"))
            .expect("the sim world is written");
    }

    /// The markdown run reports, in the order they were written (their names start
    /// with a timestamp).
    pub fn reports(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.path().join(".drplan").join("runs")) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .map(|e| e.expect("readable").path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| fs::read_to_string(p).expect("the report is readable"))
            .collect()
    }
}

/// Polls `condition` every 10 ms until it holds; panics after `timeout`.
#[track_caller]
pub(crate) fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------
// Reading the state and the world.

/// The ids of the steps of the state's run, in plan order.
fn plan_steps(state: &Value) -> Vec<String> {
    state["run"]["plan"]["plan"]["steps"]
        .as_array()
        .expect("the run has a plan with steps")
        .iter()
        .map(|step| step["id"].as_str().expect("a step id").to_string())
        .collect()
}

/// The run's journal as (step, event) pairs, in order.
fn journal(state: &Value) -> Vec<(String, String)> {
    state["run"]["journal"]
        .as_array()
        .expect("the run has a journal")
        .iter()
        .map(|entry| {
            (
                entry["step"].as_str().expect("a step").to_string(),
                entry["event"].as_str().expect("an event").to_string(),
            )
        })
        .collect()
}

/// The events journaled for `step`, in order.
pub(crate) fn events(state: &Value, step: &str) -> Vec<String> {
    journal(state)
        .into_iter()
        .filter(|(s, _)| s == step)
        .map(|(_, event)| event)
        .collect()
}

/// The detail of the last journal entry of `step` with `event`.
fn detail(state: &Value, step: &str, event: &str) -> String {
    state["run"]["journal"]
        .as_array()
        .expect("the run has a journal")
        .iter()
        .rev()
        .find(|entry| entry["step"] == step && entry["event"] == event)
        .and_then(|entry| entry["detail"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn run_status(state: &Value) -> &str {
    state["run"]["status"]
        .as_str()
        .expect("the run has a status")
}

/// Asserts that the run finished, that every step of its plan has exactly one
/// `finished` event in the journal (and that the journal names no other step), and
/// that every `started` ended (finished, failed or abandoned) before the step started
/// again: nothing a crash left in flight goes unrecorded.
#[track_caller]
fn assert_every_step_finished_once(state: &Value) {
    assert_eq!(run_status(state), "finished", "the run did not finish");
    let steps = plan_steps(state);
    let mut finished: BTreeMap<String, usize> = steps.iter().map(|s| (s.clone(), 0)).collect();
    let mut in_flight = std::collections::BTreeSet::new();
    for (step, event) in journal(state) {
        let count = finished
            .get_mut(&step)
            .unwrap_or_else(|| panic!("the journal names `{step}`, which is not in the plan"));
        if event == "finished" {
            *count += 1;
        }
        if event == "started" {
            assert!(
                in_flight.insert(step.clone()),
                "`{step}` started again without its previous start ending"
            );
        } else {
            in_flight.remove(&step);
        }
    }
    let wrong: Vec<String> = finished
        .iter()
        .filter(|(_, n)| **n != 1)
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "steps not finished exactly once (step: finished events): {wrong:?}"
    );
}

/// The parts of a sim world that say what the world is: regions, services, DNS,
/// backups, latency and faults; not the log of what the sim stood in for, nor its serial.
fn world_without_log(mut world: Value) -> Value {
    let fields = world.as_object_mut().expect("the world is an object");
    fields.remove("log");
    fields.remove("serial");
    world
}

/// Service → the region it is active in.
fn services_active_in(world: &Value) -> BTreeMap<String, String> {
    world["services"]
        .as_object()
        .expect("the world has services")
        .iter()
        .map(|(name, service)| {
            (
                name.clone(),
                service["active"]
                    .as_str()
                    .expect("an active region")
                    .to_string(),
            )
        })
        .collect()
}

/// A linear congruential generator (Knuth's MMIX constants): the same kill points on
/// every run of the test.
struct Lcg(u64);

impl Lcg {
    /// A number in [0, 1).
    fn fraction(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1_u64 << 53) as f64
    }
}

// ---------------------------------------------------------------------------------
// 1. Crash and resume.

/// How many points of the run are killed: 20, or `$DRPLAN_ATTACK_KILLS` for the longer
/// attack recorded in BENCHMARKS.md.
fn kill_points() -> usize {
    attack_size("DRPLAN_ATTACK_KILLS", 20)
}

/// `$VAR` as a count, or `default`.
fn attack_size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}
/// The time scale of the crash test: the reference run's estimated 27m 50s become
/// about 0.8 s of sleeping, plus the journal's and the world's writes.
const CRASH_TIME_SCALE: &str = "0.0005";

/// `apply` of regional-failure on the production environment, forced onto the sim.
const CRASH_APPLY: [&str; 8] = [
    "apply",
    PRODUCTION,
    "--scenario",
    "regional-failure",
    "--sim",
    "--auto-approve",
    "--time-scale",
    CRASH_TIME_SCALE,
];
const CRASH_RESUME: [&str; 7] = [
    "apply",
    "--resume",
    PRODUCTION,
    "--sim",
    "--auto-approve",
    "--time-scale",
    CRASH_TIME_SCALE,
];

/// What happened at one kill point.
struct KillPoint {
    /// How many journal entries the run had written when it was killed (at least).
    entries: usize,
    /// The run status the state showed right after the kill (`None`: no run yet).
    status_after_kill: Option<String>,
    /// What brought the run to its end after the kill.
    recovery: &'static str,
    /// How many steps the kill left in flight (journaled `abandoned` on resume).
    abandoned: usize,
}

/// The number of entries in the journal of the state's run (0 when there is none).
fn journal_length(state: Option<Value>) -> usize {
    state.map_or(0, |s| s["run"]["journal"].as_array().map_or(0, Vec::len))
}

/// Kills `apply` with SIGKILL once its journal holds `entries` entries (at once for
/// none), then resumes the run once: it must complete. Returns the final world and
/// state. Kill points are counted in journal entries, not in time, so they land at the
/// same points of the run however loaded the machine is.
fn kill_and_resume(initial: &Value, entries: usize) -> (KillPoint, Value, Value) {
    let workspace = Workspace::with_world("production", initial);
    let mut apply = workspace.spawn(&CRASH_APPLY);
    if entries > 0 {
        wait_until(
            &format!("the journal holds {entries} entries"),
            runner::PROCESS_TIMEOUT,
            || apply.has_exited() || journal_length(workspace.try_state("production")) >= entries,
        );
    }
    let killed = apply.kill();
    let status_after_kill = workspace
        .try_state("production")
        .and_then(|s| s["run"]["status"].as_str().map(str::to_string));
    let resumed = workspace.run(&CRASH_RESUME);
    let message = resumed.message();
    let recovery = if resumed.code == Some(0) {
        "resumed"
    } else if message.contains("already finished") {
        // Killed after the run finished, before the process exited.
        "had finished"
    } else if message.contains("drplan::apply::nothing_to_resume") {
        // Killed before the run was recorded: nothing ran, so apply again.
        assert!(
            killed.code.is_none(),
            "apply exited by itself before recording a run:\n{killed}"
        );
        workspace.run(&CRASH_APPLY).expect(0);
        "applied again"
    } else {
        panic!("resume after a kill at {entries} journal entries failed:\n{resumed}");
    };
    let state = workspace.state("production");
    let point = KillPoint {
        entries,
        status_after_kill,
        recovery,
        abandoned: journal(&state)
            .iter()
            .filter(|(_, event)| event == "abandoned")
            .count(),
    };
    (point, workspace.world("production"), state)
}

#[test]
fn a_run_killed_at_any_point_resumes_to_the_same_world_with_every_step_finished_once() {
    let reference = Workspace::new();
    reference.run(&["sim", "init", PRODUCTION]).expect(0);
    let initial = reference.world("production");
    reference.run(&CRASH_APPLY).expect(0);
    let expected = world_without_log(reference.world("production"));
    assert_every_step_finished_once(&reference.state("production"));
    assert!(
        services_active_in(&expected)
            .values()
            .all(|region| region == "us-west-2"),
        "{expected:#}"
    );

    // Kill points spread over the whole journal, the same entries every time.
    let length = journal_length(Some(reference.state("production")));
    let mut lcg = Lcg(0xD15A_57E6);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let points_in_journal: Vec<usize> = (0..kill_points())
        .map(|_| (lcg.fraction() * (length + 1) as f64) as usize)
        .collect();
    let next = AtomicUsize::new(0);
    let points = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some(&entries) =
                    points_in_journal.get(next.fetch_add(1, Ordering::SeqCst))
                {
                    let (point, world, state) = kill_and_resume(&initial, entries);
                    assert_eq!(
                        world_without_log(world),
                        expected,
                        "the world after a kill at {entries} journal entries and resume differs"
                    );
                    assert_every_step_finished_once(&state);
                    points
                        .lock()
                        .expect("no panic while holding the lock")
                        .push(point);
                }
            });
        }
    });

    let points = points
        .into_inner()
        .expect("no panic while holding the lock");
    let mid_run = points
        .iter()
        .filter(|p| p.status_after_kill.as_deref() == Some("running"))
        .count();
    eprintln!("uninterrupted run: {length} journal entries");
    for point in &points {
        let status = point.status_after_kill.as_deref().unwrap_or("no run yet");
        eprintln!(
            "killed at {:>3} entries: run {status:<11} then {} ({} abandoned)",
            point.entries, point.recovery, point.abandoned
        );
    }
    assert_eq!(points.len(), kill_points());
    assert!(
        points.iter().any(|p| p.abandoned > 0),
        "no kill left a step in flight"
    );
    assert!(
        mid_run >= kill_points() / 2,
        "only {mid_run} of {} kills landed in the middle of a run",
        kill_points()
    );
}

// ---------------------------------------------------------------------------------
// 2. The lock.

#[test]
fn of_applies_started_together_one_runs_and_the_others_are_told_who_holds_the_lock() {
    // Four, or `$DRPLAN_ATTACK_APPLIES` for the longer attack recorded in BENCHMARKS.md.
    let racers = attack_size("DRPLAN_ATTACK_APPLIES", 4);
    let workspace = Workspace::new();
    workspace.run(&["sim", "init", EXAMPLE]).expect(0);
    let applies: Vec<Spawned> = (0..racers)
        .map(|i| {
            let mut command = workspace.command(&[
                "apply",
                EXAMPLE,
                "--scenario",
                "region-outage",
                "--auto-approve",
                "--time-scale",
                "0.002",
            ]);
            command
                .env("USER", format!("operator-{i}"))
                .env_remove("LOGNAME");
            runner::spawn(&mut command)
        })
        .collect();
    let runs: Vec<Run> = applies.into_iter().map(Spawned::wait).collect();

    let winners: Vec<usize> = (0..racers).filter(|&i| runs[i].code == Some(0)).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one apply should run:\n{}",
        runs.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let holder = format!("operator-{}@", winners[0]);
    for (i, run) in runs.iter().enumerate().filter(|(i, _)| *i != winners[0]) {
        assert_eq!(run.code, Some(1), "apply {i}:\n{run}");
        let message = run.message();
        assert!(
            message.contains("locked by"),
            "apply {i} does not say the state is locked:\n{run}"
        );
        assert!(
            message.contains(&holder),
            "apply {i} does not name the holder {holder}…:\n{run}"
        );
        assert!(
            message.contains("operation: apply"),
            "apply {i} does not name the operation:\n{run}"
        );
    }
    let state = workspace.state("example");
    assert_every_step_finished_once(&state);
    assert_eq!(
        workspace
            .run(&["status", EXAMPLE])
            .expect(0)
            .stdout
            .lines()
            .nth(3),
        Some("lock: free")
    );
}

// ---------------------------------------------------------------------------------
// 3. Stale plans.

/// A workspace with the example's sim world and a saved region-outage plan, `plan.json`.
pub fn saved_plan() -> Workspace {
    let workspace = Workspace::new();
    workspace.run(&["sim", "init", EXAMPLE]).expect(0);
    workspace
        .run(&[
            "plan",
            EXAMPLE,
            "--scenario",
            "region-outage",
            "--out",
            "plan.json",
        ])
        .expect(0);
    workspace
}

/// Applies `plan.json`, expects it refused as stale, and returns the message.
#[track_caller]
fn apply_stale(workspace: &Workspace) -> String {
    let before = workspace.world("example");
    let run = workspace
        .run(&["apply", "plan.json", "--auto-approve", "--time-scale", "0"])
        .expect(1);
    assert!(run.message().contains("the plan is stale"), "{run}");
    assert_eq!(
        services_active_in(&workspace.world("example")),
        services_active_in(&before),
        "a refused plan moved services"
    );
    run.message()
}

#[test]
fn a_saved_plan_is_refused_once_the_environment_file_changed() {
    let workspace = saved_plan();
    let file = workspace.path().join(EXAMPLE);
    let text = fs::read_to_string(&file).expect("readable");
    fs::write(&file, text.replace("rto = \"20m\"", "rto = \"25m\"")).expect("writable");

    let message = apply_stale(&workspace);
    assert!(
        message.contains("the environment file changed since the plan was made"),
        "{message}"
    );
    assert!(
        workspace.try_state("example").is_none(),
        "a refused plan wrote state"
    );
}

#[test]
fn a_saved_plan_is_refused_once_another_apply_changed_the_state() {
    let workspace = saved_plan();
    failover(&workspace, "0", &[]).expect(0);
    let serial = workspace.state("example")["serial"]
        .as_u64()
        .expect("a serial");

    let message = apply_stale(&workspace);
    assert!(
        message.contains(&format!(
            "the state changed since the plan was made (serial 0 then, {serial} now)"
        )),
        "{message}"
    );
}

#[test]
fn a_saved_plan_is_refused_once_dns_was_moved_by_hand() {
    let workspace = saved_plan();
    // There is no `drplan sim set` for DNS: an operator moves the record in the world itself.
    let mut world = workspace.world("example");
    for set in world["records"]["shop"]
        .as_array_mut()
        .expect("the shop record sets")
    {
        set["weight"] = Value::from(50);
    }
    workspace.write_world("example", &world);

    let message = apply_stale(&workspace);
    assert!(
        message.contains("DNS record `shop` changed since the plan was made"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------
// 4. Ctrl-C.

#[test]
fn ctrl_c_stops_the_run_as_interrupted_and_resume_finishes_it_without_redoing_steps() {
    let workspace = Workspace::new();
    workspace.run(&["sim", "init", EXAMPLE]).expect(0);
    // postgres takes 6m × 0.005 = 1.8 s to activate: Ctrl-C lands while it runs.
    let apply = workspace.spawn(&[
        "apply",
        EXAMPLE,
        "--scenario",
        "region-outage",
        "--auto-approve",
        "--time-scale",
        "0.005",
    ]);
    wait_until("activate:postgres started", Duration::from_secs(30), || {
        workspace.try_state("example").is_some_and(|state| {
            events(&state, "activate:postgres").contains(&"started".to_string())
        })
    });
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(apply.pid(), libc::SIGINT) }, 0);
    let interrupted = apply.wait();

    assert_ne!(interrupted.code, Some(0), "{interrupted}");
    assert_eq!(interrupted.code, Some(1), "{interrupted}");
    assert!(
        interrupted
            .stderr
            .contains("interrupted: starting nothing new"),
        "{interrupted}"
    );
    assert!(
        interrupted.message().contains("the run was interrupted"),
        "{interrupted}"
    );
    let state = workspace.state("example");
    assert_eq!(run_status(&state), "interrupted");
    // The running step was let finish; nothing after it started.
    assert_eq!(events(&state, "activate:postgres"), ["started", "finished"]);
    assert_eq!(events(&state, "health:postgres"), Vec::<String>::new());
    assert_eq!(events(&state, "activate:api"), Vec::<String>::new());

    workspace
        .run(&[
            "apply",
            "--resume",
            EXAMPLE,
            "--auto-approve",
            "--time-scale",
            "0.001",
        ])
        .expect(0);
    let state = workspace.state("example");
    assert_every_step_finished_once(&state);
    assert_eq!(
        events(&state, "activate:postgres"),
        ["started", "finished"],
        "a finished step ran again"
    );
    assert!(
        services_active_in(&workspace.world("example"))
            .values()
            .all(|region| region == "eu-central-1")
    );
}

// ---------------------------------------------------------------------------------
// 5. A failing step.

/// A workspace with the example's world where `service` is marked down in
/// eu-central-1, the region region-outage fails over to.
fn broken(service: &str) -> Workspace {
    let workspace = Workspace::new();
    workspace.run(&["sim", "init", EXAMPLE]).expect(0);
    workspace
        .run(&[
            "sim",
            "set",
            EXAMPLE,
            "--service",
            service,
            "--region",
            "eu-central-1",
            "--down",
        ])
        .expect(0);
    workspace
}

/// Applies region-outage on the example at `time_scale`, with `extra` flags.
fn failover(workspace: &Workspace, time_scale: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "apply",
        EXAMPLE,
        "--scenario",
        "region-outage",
        "--auto-approve",
        "--time-scale",
        time_scale,
    ];
    args.extend_from_slice(extra);
    workspace.run(&args)
}

#[test]
fn a_failing_health_check_fails_the_apply_naming_the_step_and_nothing_after_it_runs() {
    let workspace = broken("api");
    let nominal = workspace.world("example");
    let run = failover(&workspace, "0.001", &[]).expect(1);

    assert!(
        run.stderr
            .contains("FAILED health:api: api is not healthy in eu-central-1"),
        "{run}"
    );
    assert!(
        run.stderr.contains("api is marked down in eu-central-1"),
        "{run}"
    );
    assert!(run.message().contains("1 step(s) failed"), "{run}");
    let state = workspace.state("example");
    assert_eq!(run_status(&state), "failed");
    assert_eq!(events(&state, "health:api"), ["started", "failed"]);
    for after in [
        "activate:web",
        "activate:worker",
        "switch:api",
        "switch:shop",
        "verify:shop-answers",
    ] {
        assert_eq!(
            events(&state, after),
            Vec::<String>::new(),
            "{after} ran after health:api failed"
        );
    }
    let world = workspace.world("example");
    assert_eq!(world["services"]["web"]["active"], "eu-west-1");
    assert_eq!(
        world["records"], nominal["records"],
        "DNS moved after a failure"
    );
    let report = workspace.reports().pop().expect("a run report");
    assert!(report.contains("| Status | failed |"), "{report}");
    assert!(report.contains("| `health:api` | failed |"), "{report}");
    assert!(report.contains("| `activate:web` | not run |"), "{report}");
}

#[test]
fn a_failed_step_stops_new_work_and_with_keep_going_blocks_only_its_dependents() {
    // cache fails its health check after 1m × 0.005 = 0.3 s; postgres, independent of
    // it, is still activating (6m × 0.005 = 1.8 s) and is let finish either way.
    let stopped = broken("cache");
    let run = failover(&stopped, "0.005", &[]).expect(1);
    assert!(run.stderr.contains("FAILED health:cache"), "{run}");
    let state = stopped.state("example");
    assert_eq!(events(&state, "health:cache"), ["started", "failed"]);
    assert_eq!(events(&state, "activate:postgres"), ["started", "finished"]);
    assert_eq!(
        events(&state, "health:postgres"),
        Vec::<String>::new(),
        "new work started after a failure"
    );

    let kept_going = broken("cache");
    let run = failover(&kept_going, "0.005", &["--keep-going"]).expect(1);
    assert!(run.stderr.contains("FAILED health:cache"), "{run}");
    let state = kept_going.state("example");
    assert_eq!(run_status(&state), "failed");
    assert_eq!(events(&state, "health:cache"), ["started", "failed"]);
    assert_eq!(
        events(&state, "health:postgres"),
        ["started", "finished"],
        "the independent branch did not go on"
    );
    for dependent in [
        "gate:tier-1",
        "activate:api",
        "activate:web",
        "activate:worker",
        "switch:shop",
        "verify:shop-answers",
    ] {
        assert_eq!(
            events(&state, dependent),
            Vec::<String>::new(),
            "{dependent} depends on health:cache but ran"
        );
    }
}

// ---------------------------------------------------------------------------------
// 6. Failover, then failback.

#[test]
fn failover_then_failback_returns_the_world_to_nominal() {
    let workspace = Workspace::new();
    workspace.run(&["sim", "init", EXAMPLE]).expect(0);
    let nominal = world_without_log(workspace.world("example"));

    failover(&workspace, "0", &[]).expect(0);
    let failed_over = workspace.world("example");
    assert!(
        services_active_in(&failed_over)
            .values()
            .all(|region| region == "eu-central-1"),
        "{failed_over:#}"
    );
    assert_ne!(world_without_log(failed_over), nominal);

    workspace
        .run(&[
            "apply",
            EXAMPLE,
            "--failback",
            "--auto-approve",
            "--time-scale",
            "0",
        ])
        .expect(0);
    let state = workspace.state("example");
    assert_every_step_finished_once(&state);
    assert_eq!(state["last_applied"]["intent"], "failback");
    assert_eq!(world_without_log(workspace.world("example")), nominal);

    let fresh = Workspace::new();
    fresh.run(&["sim", "init", EXAMPLE]).expect(0);
    let mut fresh = world_without_log(fresh.world("example"));
    // The backups of two worlds initialised at different times have different names and times.
    fresh["objects"] = nominal["objects"].clone();
    assert_eq!(fresh, nominal);
    let plan = workspace
        .run(&["plan", EXAMPLE, "--failback", "--detailed-exitcode"])
        .expect(0);
    assert!(!plan.stdout.is_empty());
    // Applying it anyway changes nothing and is no error.
    let again = workspace
        .run(&["apply", EXAMPLE, "--failback", "--auto-approve"])
        .expect(0);
    assert!(
        again
            .stdout
            .contains("No changes: the world already matches the plan; nothing was done."),
        "{again}"
    );
    assert_eq!(workspace.state("example")["serial"], state["serial"]);
}

#[test]
fn the_maintenance_page_comes_down_once_recovery_is_verified_and_the_site_is_put_back() {
    let workspace = Workspace::new();
    workspace.run(&["sim", "init", PRODUCTION]).expect(0);
    let site = "s3://omniops-static/index.html";
    let mut world = workspace.world("production");
    world["objects"][site] = Value::from("2026-01-01T00:00:00.000Z");
    world["contents"][site] =
        serde_json::json!({ "content_type": "text/html", "text": "<h1>omniops</h1>" });
    workspace.write_world("production", &world);

    workspace
        .run(&[
            "apply",
            PRODUCTION,
            "--scenario",
            "complete-outage",
            "--sim",
            "--auto-approve",
            "--time-scale",
            "0",
        ])
        .expect(0);

    let world = workspace.world("production");
    assert_eq!(world["contents"][site]["text"], "<h1>omniops</h1>");
    assert_eq!(world["contents"][site]["content_type"], "text/html");
    assert!(
        world["objects"]
            .get(format!("{site}.drplan-original"))
            .is_none(),
        "{world:#}"
    );
    let log: Vec<&str> = world["log"]
        .as_array()
        .expect("a log")
        .iter()
        .filter_map(Value::as_str)
        .filter(|line| line.contains("omniops-static"))
        .collect();
    assert_eq!(
        log.iter()
            .map(|l| l.split(" (").next().unwrap_or(l))
            .collect::<Vec<_>>(),
        [
            "put s3://omniops-static/index.html.drplan-original",
            "put s3://omniops-static/index.html",
            "put s3://omniops-static/index.html",
            "delete s3://omniops-static/index.html.drplan-original",
        ]
    );
    let state = workspace.state("production");
    assert_eq!(
        events(&state, "revert:maintenance-page"),
        ["started", "finished"]
    );
}

// ---------------------------------------------------------------------------------
// 7. The RPO gate.

#[test]
fn backups_older_than_the_rpo_are_shown_and_refused_without_accept_data_loss() {
    let workspace = Workspace::new();
    workspace.run(&["sim", "init", EXAMPLE]).expect(0);
    workspace
        .run(&["sim", "set", EXAMPLE, "--age-backups", "2h"])
        .expect(0);

    let plan = workspace
        .run(&["plan", EXAMPLE, "--scenario", "region-outage"])
        .expect(0);
    let orders = plan
        .stdout
        .lines()
        .find(|line| line.trim_start().starts_with("orders (postgres, P0)"))
        .unwrap_or_default();
    assert!(
        orders.contains("RPO 15m; 2h 5m") && orders.ends_with("(RPO VIOLATED)"),
        "{plan}"
    );

    let apply = [
        "apply",
        EXAMPLE,
        "--scenario",
        "region-outage",
        "--auto-approve",
        "--time-scale",
        "0",
    ];
    let refused = workspace.run(&apply).expect(1);
    snapshot::assert_live("apply", "rpo_breached", &refused.stderr);
    assert!(
        workspace.try_state("example").is_none(),
        "a refused apply wrote state"
    );
    assert!(
        services_active_in(&workspace.world("example"))
            .values()
            .all(|region| region == "eu-west-1")
    );

    let accepted = workspace
        .run(&[&apply[..], &["--accept-data-loss"][..]].concat())
        .expect(0);
    assert!(accepted.stdout.contains("apply complete"), "{accepted}");
    let state = workspace.state("example");
    assert_every_step_finished_once(&state);
    let check = detail(&state, "check:orders", "finished");
    assert!(
        check.contains("(accepted with --accept-data-loss)"),
        "{check}"
    );
}

// ---------------------------------------------------------------------------------
// 8. Snapshots.

#[test]
fn snapshot_of_a_live_plan_on_the_sim() {
    let workspace = Workspace::new();
    workspace.run(&["sim", "init", PRODUCTION]).expect(0);
    let plan = workspace
        .run(&[
            "plan",
            PRODUCTION,
            "--scenario",
            "regional-failure",
            "--sim",
        ])
        .expect(0);
    snapshot::assert_live(
        "apply",
        "live_plan_production_regional_failure",
        &plan.stdout,
    );
}

#[test]
fn snapshot_of_status_and_the_run_report_after_a_failover() {
    let workspace = Workspace::new();
    workspace.run(&["sim", "init", EXAMPLE]).expect(0);
    let before = workspace.run(&["status", EXAMPLE]).expect(0);
    assert!(
        before.stdout.contains("state: none yet (nothing applied)"),
        "{before}"
    );
    let apply = failover(&workspace, "0", &[]).expect(0);
    assert!(apply.stdout.contains("report: .drplan/runs/"), "{apply}");

    let status = workspace.run(&["status", EXAMPLE]).expect(0);
    snapshot::assert_live("apply", "status_after_failover", &status.stdout);
    // Both count the steps that do work, not the gates that join them.
    assert!(apply.stdout.contains("apply complete: 19 steps"), "{apply}");
    assert!(status.stdout.contains("19/19 steps finished"), "{status}");
    let report = workspace.reports().pop().expect("a run report");
    snapshot::assert_live("apply", "run_report_after_failover", &report);
}

// ---------------------------------------------------------------------------------
// 9. Real commands: SIGTERM, and the orphans of a SIGKILL.

/// An environment on the real runtime (DNS on the sim world; no S3 call is made)
/// whose tier-1 services activate with `activations` (name, TOML value), followed by
/// `extra` TOML.
fn commands_environment(activations: &[(&str, String)], extra: &str) -> String {
    let mut text = String::from(
        r#"[environment]
name = "commands"
home = "eu-west-1"
rto = "20m"

[providers]
dns = "sim"
storage = "s3"
endpoint = "http://127.0.0.1:9"

[regions.eu-west-1]
role = "primary"

[regions.eu-central-1]
role = "secondary"

[scenarios.region-outage]
strategy = "failover"
to = "eu-central-1"
"#,
    );
    for (service, activate) in activations {
        let _ = write!(
            text,
            "\n[services.{service}]\ntier = 1\nregions = [\"eu-west-1\", \"eu-central-1\"]\nactivate = {activate}\n"
        );
    }
    text.push_str(extra);
    text
}

/// A shell script as a command (TOML).
fn sh(script: &str) -> String {
    format!("[\"sh\", \"-c\", {script:?}]")
}

const COMMANDS: &str = "environments/commands.toml";

/// The failover of [`COMMANDS`], approved in advance.
const FAILOVER_COMMANDS: [&str; 5] = [
    "apply",
    COMMANDS,
    "--scenario",
    "region-outage",
    "--auto-approve",
];

impl Workspace {
    /// A workspace holding [`commands_environment`] and its sim world.
    fn with_commands(activations: &[(&str, String)], extra: &str) -> Self {
        let workspace = Self::new();
        workspace.write_commands(&commands_environment(activations, extra));
        workspace
    }

    /// Writes `text` as [`COMMANDS`] and creates its sim world.
    fn write_commands(&self, text: &str) {
        fs::write(self.path().join(COMMANDS), text).expect("the environment is written");
        self.run(&["sim", "init", COMMANDS]).expect(0);
    }

    /// `drplan ARGS…` with AWS credentials that are never used.
    fn command_with_aws(&self, args: &[&str]) -> std::process::Command {
        let mut command = self.command(args);
        command.envs([
            ("AWS_ACCESS_KEY_ID", "unused"),
            ("AWS_SECRET_ACCESS_KEY", "unused"),
            ("AWS_REGION", "eu-west-1"),
        ]);
        command
    }

    /// Starts the failover of [`COMMANDS`] and waits until `step` started its command.
    fn failover_until_command(&self, step: &str) -> Spawned {
        let apply = runner::spawn(&mut self.command_with_aws(&FAILOVER_COMMANDS));
        wait_until(
            &format!("{step} started its command"),
            Duration::from_mins(1),
            || {
                self.try_state("commands").is_some_and(|state| {
                    events(&state, step).contains(&"command-started".to_string())
                })
            },
        );
        apply
    }
}

/// The process groups journaled for `step`'s commands, in order.
fn command_groups(state: &Value, step: &str) -> Vec<GroupMark> {
    state["run"]["journal"]
        .as_array()
        .expect("the run has a journal")
        .iter()
        .filter(|entry| entry["step"] == step && entry["event"] == "command-started")
        .map(|entry| serde_json::from_value(entry["group"].clone()).expect("a process group"))
        .collect()
}

/// Polls until no process of `group` runs (zombies aside); panics after 10 s.
#[track_caller]
fn assert_stopped(group: &GroupMark) {
    wait_until(
        &format!("process group {} is gone", group.pgid),
        Duration::from_secs(10),
        || !group.is_running(),
    );
}

/// Checks that `run` (of [`COMMANDS`]) was aborted saying `why`: exit 1, the run
/// journaled as interrupted and the lock released. Returns the state.
#[track_caller]
fn assert_aborted(workspace: &Workspace, run: &Run, why: &str) -> Value {
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.contains(why) && run.message().contains("drplan::apply::aborted"),
        "{run}"
    );
    let state = workspace.state("commands");
    assert_eq!(run_status(&state), "interrupted");
    assert!(
        !workspace
            .file("state", "commands")
            .with_extension("lock")
            .exists(),
        "the lock is released"
    );
    state
}

#[test]
fn sigterm_stops_running_commands_journals_them_abandoned_and_releases_the_lock() {
    // One command dies of SIGTERM; the other ignores it and gets SIGKILL after the grace.
    let workspace = Workspace::with_commands(
        &[
            ("api", sh("sleep 300")),
            ("worker", sh("trap '' TERM; while :; do sleep 1; done")),
        ],
        "",
    );
    let apply = workspace.failover_until_command("activate:api");
    wait_until(
        "activate:worker started its command",
        Duration::from_mins(1),
        || {
            events(&workspace.state("commands"), "activate:worker")
                .contains(&"command-started".to_string())
        },
    );
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(apply.pid(), libc::SIGTERM) }, 0);
    let state = assert_aborted(
        &workspace,
        &apply.wait(),
        "terminated: stopping the running steps",
    );
    for step in ["activate:api", "activate:worker"] {
        assert_eq!(
            events(&state, step),
            ["started", "command-started", "abandoned"],
            "{step}"
        );
        assert!(detail(&state, step, "abandoned").starts_with("aborted: drplan was told to stop"));
        let groups = command_groups(&state, step);
        assert_eq!(groups.len(), 1, "{step}");
        assert!(!groups[0].is_running(), "{step}'s command outlived drplan");
    }
}

#[test]
fn a_second_ctrl_c_aborts_the_running_commands_and_releases_the_lock() {
    let workspace = Workspace::with_commands(&[("api", sh("sleep 300"))], "");
    let apply = workspace.failover_until_command("activate:api");
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(apply.pid(), libc::SIGINT) }, 0);
    wait_until("the first Ctrl-C is taken", Duration::from_mins(1), || {
        apply
            .stderr_so_far()
            .contains("interrupted: starting nothing new")
    });
    // The first Ctrl-C lets the running step finish: it still runs.
    assert!(
        command_groups(&workspace.state("commands"), "activate:api")[0].is_running(),
        "the first Ctrl-C stopped the command"
    );
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(apply.pid(), libc::SIGINT) }, 0);
    let state = assert_aborted(
        &workspace,
        &apply.wait(),
        "second interrupt: stopping the running steps and their commands",
    );
    assert_eq!(
        events(&state, "activate:api"),
        ["started", "command-started", "abandoned"]
    );
    assert_stopped(&command_groups(&state, "activate:api")[0]);
}

#[test]
fn a_resume_after_sigkill_stops_the_orphaned_command_before_its_step_runs_again() {
    // The first copy hangs; a second copy finishes at once, saying whether the first
    // still ran beside it.
    let workspace = Workspace::with_commands(
        &[(
            "api",
            sh(
                "if [ -e first-copy ]; then echo second copy; exit 0; fi; touch first-copy; sleep 300",
            ),
        )],
        "",
    );
    let apply = workspace.failover_until_command("activate:api");
    apply.kill();
    let state = workspace.state("commands");
    let orphan = command_groups(&state, "activate:api").remove(0);
    assert!(orphan.is_running(), "the SIGKILL left the command running");

    let resumed = runner::run(&mut workspace.command_with_aws(&[
        "apply",
        "--resume",
        COMMANDS,
        "--auto-approve",
    ]))
    .expect(0);

    let state = workspace.state("commands");
    assert_eq!(
        events(&state, "activate:api"),
        [
            "started",
            "command-started",
            "abandoned",
            "started",
            "command-started",
            "finished"
        ],
        "{resumed}"
    );
    assert!(
        detail(&state, "activate:api", "abandoned")
            .contains(&format!("(process group {}) was stopped", orphan.pgid)),
        "{}",
        detail(&state, "activate:api", "abandoned")
    );
    assert_stopped(&orphan);
    assert_eq!(detail(&state, "activate:api", "finished"), "second copy\n");
}

#[test]
fn activations_and_checks_are_stopped_at_their_declared_timeout() {
    let workspace = Workspace::with_commands(
        &[(
            "api",
            // Not retried, so that the one timeout ends the step.
            format!(
                "{{ command = {}, timeout = \"1s\", retries = 0 }}",
                sh("sleep 300")
            ),
        )],
        &format!(
            "\n[[checks]]\nname = \"slow check\"\ncommand = {}\ntimeout = \"1s\"\n",
            sh("sleep 300")
        ),
    );
    let plan = runner::run(&mut workspace.command_with_aws(&[
        "plan",
        COMMANDS,
        "--scenario",
        "region-outage",
    ]));
    assert!(
        plan.stdout.contains("runs: sh -c 'sleep 300' (at most 1s)"),
        "{plan}"
    );

    let verify = runner::run(&mut workspace.command_with_aws(&["verify", COMMANDS])).expect(1);
    assert!(
        verify.stdout.contains("[FAIL] slow check")
            && verify.stdout.contains("`sh` timed out after 1s"),
        "{verify}"
    );

    let apply = runner::run(&mut workspace.command_with_aws(&FAILOVER_COMMANDS)).expect(1);
    let state = workspace.state("commands");
    assert_eq!(
        events(&state, "activate:api"),
        ["started", "command-started", "failed"],
        "{apply}"
    );
    assert!(
        detail(&state, "activate:api", "failed").contains("`sh` timed out after 1s"),
        "{apply}"
    );
}

#[test]
fn a_notification_in_flight_when_drplan_is_killed_is_not_sent_again_on_resume() {
    let webhook = Webhook::start(Script::InOrder(&[Answer::Never]));
    // The activation waits for a file the test creates only after the kill: recovery
    // is not done while the first run lives, so the resolved notice is not begun.
    let workspace = Workspace::new();
    let go = workspace.path().join("go");
    workspace.write_commands(&commands_environment(
        &[(
            "api",
            sh(&format!(
                "while [ ! -f '{}' ]; do sleep 0.05; done",
                go.display()
            )),
        )],
        &format!(
            "\n[[notify]]\nto = \"on-call\"\nvia = \"webhook\"\nurl = \"{}\"\n",
            webhook.url
        ),
    ));
    let apply = runner::spawn(&mut workspace.command_with_aws(&FAILOVER_COMMANDS));
    let step = "notify:1-on-call";
    wait_until(
        "the notification is being sent",
        Duration::from_mins(1),
        || !webhook.requests().is_empty(),
    );
    apply.kill();
    let state = workspace.state("commands");
    assert_eq!(events(&state, step), ["started", "sending"]);
    assert!(events(&state, &format!("{step}-resolved")).is_empty());
    fs::write(&go, "").expect("the activation may end");

    runner::run(&mut workspace.command_with_aws(&[
        "apply",
        "--resume",
        COMMANDS,
        "--auto-approve",
    ]))
    .expect(0);

    // Each notification was posted once, carrying its idempotency key: the one in
    // flight at the kill was not sent again; the resolved one went out on resume.
    let run_id = workspace.state("commands")["run"]["id"]
        .as_str()
        .expect("a run id")
        .to_string();
    let requests = webhook.requests();
    for (key, status) in [
        (step.to_string(), "recovering"),
        (format!("{step}-resolved"), "resolved"),
    ] {
        let key = format!("\"idempotency_key\":\"{run_id}/{key}\"");
        let posted: Vec<&String> = requests.iter().filter(|r| r.contains(&key)).collect();
        assert_eq!(posted.len(), 1, "{key}: {requests:?}");
        assert!(
            posted[0].contains(&format!("\"status\":\"{status}\"")),
            "{}",
            posted[0]
        );
    }
    assert_eq!(requests.len(), 2, "{requests:?}");
    let state = workspace.state("commands");
    assert_eq!(events(&state, step), ["started", "sending", "finished"]);
    assert!(detail(&state, step, "finished").contains("it is not sent again"));
}

// ---------------------------------------------------------------------------------
// 10. Notifications on the real runtime: retries, failures, offsets.

/// A `[[notify]]` entry (TOML) posting the internal alert to `url` at `after`.
fn webhook_entry(after: &str, to: &str, url: &str) -> String {
    format!(
        "\n[[notify]]\nafter = \"{after}\"\nto = \"{to}\"\nvia = \"webhook\"\nurl = \"{url}\"\n"
    )
}

/// The requests of `webhook` carrying the idempotency key of `step` in the state's run.
fn posted_for(webhook: &Webhook, state: &Value, step: &str) -> Vec<String> {
    let run_id = state["run"]["id"].as_str().expect("a run id");
    let key = format!("\"idempotency_key\":\"{run_id}/{step}\"");
    webhook
        .requests()
        .into_iter()
        .filter(|r| r.contains(&key))
        .collect()
}

#[test]
fn a_refused_notification_is_retried_and_one_that_keeps_failing_is_recorded_without_failing_recovery()
 {
    let flaky = Webhook::start(Script::PerBody(&[Answer::Status(500), Answer::Status(503)]));
    let down = Webhook::start(Script::PerBody(&[Answer::Status(500); 3]));
    let workspace = Workspace::with_commands(
        &[("api", sh("true"))],
        &(webhook_entry("0m", "on-call", &flaky.url) + &webhook_entry("0m", "status", &down.url)),
    );
    let apply = runner::run(&mut workspace.command_with_aws(&FAILOVER_COMMANDS)).expect(0);
    let state = workspace.state("commands");
    assert_eq!(run_status(&state), "finished", "{}", apply.stderr);

    // Refused twice, accepted the third time: the same body each time.
    let tries = posted_for(&flaky, &state, "notify:1-on-call");
    assert_eq!(
        tries.len(),
        3,
        "{}: {tries:?}",
        detail(&state, "notify:1-on-call", "finished")
    );
    assert!(
        tries.iter().all(|t| body(t) == body(&tries[0])),
        "{tries:?}"
    );
    assert!(
        body(&tries[0]).contains("\"status\":\"recovering\""),
        "{}",
        tries[0]
    );
    assert_eq!(
        events(&state, "notify:1-on-call"),
        ["started", "sending", "finished"]
    );
    assert!(detail(&state, "notify:1-on-call", "finished").contains("notified on-call"));

    // Refused three times: given up, recorded, and recovery went on.
    assert_eq!(posted_for(&down, &state, "notify:2-status").len(), 3);
    let failed = detail(&state, "notify:2-status", "finished");
    assert!(
        failed.contains("notification to status failed after 3 attempts (recovery goes on)")
            && failed.contains("500"),
        "{failed}"
    );
    assert_eq!(
        events(&state, "activate:api"),
        ["started", "command-started", "finished"]
    );
    let report = workspace.reports().pop().expect("a run report");
    assert!(report.contains("failed after 3 attempts"), "{report}");
    // The resolved notices were tried the same way: the flaky webhook took the third
    // try, the down one none.
    for (webhook, key) in [
        (&flaky, "notify:1-on-call-resolved"),
        (&down, "notify:2-status-resolved"),
    ] {
        assert_eq!(posted_for(webhook, &state, key).len(), 3, "{key}");
    }
    assert!(detail(&state, "notify:1-on-call-resolved", "finished").starts_with("notified"));
    assert!(
        detail(&state, "notify:2-status-resolved", "finished").contains("failed after 3 attempts")
    );
}

#[test]
fn a_notification_waits_for_its_offset_or_for_recovery_whichever_comes_first() {
    let webhook = Webhook::start(Script::InOrder(&[]));
    let workspace = Workspace::new();
    let go = workspace.path().join("go");
    let activate = sh(&format!(
        "until [ -f '{}' ]; do sleep 0.05; done",
        go.display()
    ));
    let text = commands_environment(
        &[("api", activate)],
        &(webhook_entry("0m", "on-call", &webhook.url)
            + &webhook_entry("10m", "customers", &webhook.url)),
    );
    workspace.write_commands(&text);
    let apply = runner::spawn(&mut workspace.command_with_aws(&FAILOVER_COMMANDS));

    // The 0m notice goes out while the activation still waits; the 10m one does not.
    wait_until("the 0m notice is posted", Duration::from_mins(1), || {
        !webhook.requests().is_empty()
    });
    let state = workspace.state("commands");
    assert_eq!(events(&state, "notify:2-customers"), ["started"]);
    assert!(!events(&state, "activate:api").contains(&"finished".to_string()));
    fs::write(&go, "").expect("the activation is let go");
    apply.wait().expect(0);

    // Recovery came long before 10m: the 10m notice went out as soon as it was done.
    let state = workspace.state("commands");
    let order = journal(&state);
    let at = |step: &str, event: &str| {
        order
            .iter()
            .position(|(s, e)| s == step && e == event)
            .unwrap_or_else(|| panic!("{step} {event} in {order:?}"))
    };
    assert!(at("notify:1-on-call", "sending") < at("activate:api", "finished"));
    assert!(at("activate:api", "finished") < at("notify:2-customers", "sending"));
    let requests = webhook.requests();
    assert_eq!(requests.len(), 4, "{requests:?}");
    // The 0m notice came first; the 10m one and the resolved notices after recovery, in
    // whichever order they were sent.
    assert!(body(&requests[0]).contains("/notify:1-on-call\""));
    let mut later: Vec<&str> = requests[1..]
        .iter()
        .filter_map(|r| body(r).split("/notify:").nth(1))
        .collect();
    later.sort_unstable();
    assert_eq!(
        later,
        [
            "1-on-call-resolved\"}",
            "2-customers\"}",
            "2-customers-resolved\"}"
        ],
        "{requests:?}"
    );
}

// ---------------------------------------------------------------------------------
// 11. Pauses: a manual step and a manual approval, at a terminal and without one.

const PAUSING_PLAN: &str = "bad-migration.plan.json";

/// A workspace with the example's world and a saved plan of `bad-migration`: a
/// manual step (stop the workers), then the restore behind a manual approval.
fn planned_bad_migration() -> Workspace {
    let workspace = Workspace::new();
    workspace.run(&["sim", "init", EXAMPLE]).expect(0);
    workspace
        .run(&[
            "plan",
            EXAMPLE,
            "--scenario",
            "bad-migration",
            "--out",
            PAUSING_PLAN,
        ])
        .expect(0);
    workspace
}

const DONE: &str = "Type `yes` when done: ";
const APPROVE: &str = "Type `yes` to run it: ";

#[test]
fn at_a_terminal_apply_waits_at_each_pause_until_a_person_types_yes() {
    let workspace = planned_bad_migration();
    let mut terminal = Terminal::start(
        workspace.path(),
        &["apply", PAUSING_PLAN, "--time-scale", "0"],
    );
    terminal.wait_for(DONE, 1);
    assert!(
        terminal.transcript().contains(
            "manual:stop-the-workers\r\n  Scale the worker deployment to zero so nothing writes while the database is restored."
        ),
        "{}",
        terminal.transcript()
    );
    // Paused: the gated restore has not started.
    assert!(events(&workspace.state("example"), "restore:postgres").is_empty());
    terminal.answer("yes");

    terminal.wait_for(APPROVE, 1);
    assert!(
        terminal
            .transcript()
            .contains("approve:recover needs approval (manual): recover approved"),
        "{}",
        terminal.transcript()
    );
    let state = workspace.state("example");
    assert_eq!(
        events(&state, "manual:stop-the-workers"),
        ["started", "finished"]
    );
    assert!(events(&state, "restore:postgres").is_empty());
    terminal.answer("yes");

    let (code, transcript) = terminal.wait();
    assert_eq!(code, Some(0), "{transcript}");
    assert_eq!(transcript.matches(DONE).count(), 1, "{transcript}");
    assert_eq!(transcript.matches(APPROVE).count(), 1, "{transcript}");
    let state = workspace.state("example");
    assert_eq!(run_status(&state), "finished");
    assert_eq!(events(&state, "restore:postgres"), ["started", "finished"]);
}

#[test]
fn an_approval_answered_no_stops_the_run_before_the_phase_it_gates() {
    let workspace = planned_bad_migration();
    let mut terminal = Terminal::start(
        workspace.path(),
        &["apply", PAUSING_PLAN, "--time-scale", "0"],
    );
    terminal.wait_for(DONE, 1);
    terminal.answer("yes");
    terminal.wait_for(APPROVE, 1);
    terminal.answer("no");

    let (code, transcript) = terminal.wait();
    assert_eq!(code, Some(1), "{transcript}");
    assert!(
        transcript.contains("FAILED approve:recover: approve:recover was not approved")
            && transcript.contains("1 step(s) failed: approve:recover"),
        "{transcript}"
    );
    let state = workspace.state("example");
    assert_ne!(run_status(&state), "finished");
    assert!(events(&state, "restore:postgres").is_empty());
    assert!(
        !workspace
            .file("state", "example")
            .with_extension("lock")
            .exists(),
        "the lock is released"
    );
}

#[test]
fn without_a_terminal_a_plan_that_pauses_is_refused_before_its_first_step() {
    let workspace = planned_bad_migration();
    let refused = workspace
        .run(&["apply", PAUSING_PLAN, "--time-scale", "0"])
        .expect(1);
    assert!(
        refused.message().contains("drplan::apply::no_terminal"),
        "{refused}"
    );
    assert!(
        workspace
            .try_state("example")
            .is_none_or(|state| state["run"].is_null()),
        "a run started"
    );

    // --auto-approve answers every pause.
    workspace
        .run(&["apply", PAUSING_PLAN, "--time-scale", "0", "--auto-approve"])
        .expect(0);
    let state = workspace.state("example");
    assert_eq!(events(&state, "restore:postgres"), ["started", "finished"]);
}

// ---------------------------------------------------------------------------------
// 12. The maintenance page when its bucket cannot be reached.

#[test]
fn a_maintenance_page_whose_bucket_is_unreachable_is_recorded_and_recovery_goes_on() {
    // The commands environment's S3 endpoint is a closed loopback port.
    let text = commands_environment(&[("api", sh("true"))], "").replacen(
        "to = \"eu-central-1\"\n",
        "to = \"eu-central-1\"\nmaintenance_page = { bucket = \"site\", key = \"index.html\", file = \"maintenance.html\" }\n",
        1,
    );
    let workspace = Workspace::new();
    workspace.write_commands(&text);

    let apply = runner::run(&mut workspace.command_with_aws(&FAILOVER_COMMANDS)).expect(0);

    let state = workspace.state("commands");
    assert_eq!(run_status(&state), "finished", "{apply}");
    assert_eq!(
        events(&state, "activate:api"),
        ["started", "command-started", "finished"]
    );
    for (step, what) in [
        (
            "upload:maintenance-page",
            "could not put the maintenance page up",
        ),
        (
            "revert:maintenance-page",
            "could not take the maintenance page down",
        ),
    ] {
        let finished = detail(&state, step, "finished");
        assert!(
            finished.starts_with(&format!("{what} (recovery goes on without it)"))
                && finished.contains("AWS could not be reached")
                && finished.contains("Connection refused"),
            "{step}: {finished}"
        );
    }
    let report = workspace.reports().pop().expect("a run report");
    assert!(
        report.contains("could not put the maintenance page up"),
        "{report}"
    );
}
