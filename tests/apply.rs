//! `drplan apply` as an operator meets it during an incident: the real binary, run in
//! a temporary directory holding copies of `environments/` and its own `.drplan/`, on
//! the sim world.
//!
//! Crash and resume (kill -9 at twenty points of a run), lock contention, stale plans,
//! Ctrl-C, a failing step with and without `--keep-going`, failover then failback, the
//! RPO gate, snapshots (under `snapshots/apply/`) of a live plan, the status after a
//! failover and the run report, and real commands stopped by SIGTERM or left running by
//! a SIGKILL (stopped by the resume before their step runs again).

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

/// How many points of the run are killed.
const KILL_POINTS: usize = 20;
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
    delay: Duration,
    /// The run status the state showed right after the kill (`None`: no run yet).
    status_after_kill: Option<String>,
    /// What brought the run to its end after the kill.
    recovery: &'static str,
    /// How many steps the kill left in flight (journaled `abandoned` on resume).
    abandoned: usize,
}

/// Kills `apply` with SIGKILL after `delay`, then resumes the run once: it must
/// complete. Returns the final world and state.
fn kill_and_resume(initial: &Value, delay: Duration) -> (KillPoint, Value, Value) {
    let workspace = Workspace::with_world("production", initial);
    let apply = workspace.spawn(&CRASH_APPLY);
    thread::sleep(delay);
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
        panic!("resume after a kill at {delay:?} failed:\n{resumed}");
    };
    let state = workspace.state("production");
    let point = KillPoint {
        delay,
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
    let started = Instant::now();
    reference.run(&CRASH_APPLY).expect(0);
    let run_time = started.elapsed();
    let expected = world_without_log(reference.world("production"));
    assert_every_step_finished_once(&reference.state("production"));
    assert!(
        services_active_in(&expected)
            .values()
            .all(|region| region == "us-west-2"),
        "{expected:#}"
    );

    // Kill points spread over the whole run, the same fractions of it every time.
    let mut lcg = Lcg(0xD15A_57E6);
    let delays: Vec<Duration> = (0..KILL_POINTS)
        .map(|_| run_time.mul_f64(lcg.fraction()))
        .collect();
    let next = AtomicUsize::new(0);
    let points = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some(&delay) = delays.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let (point, world, state) = kill_and_resume(&initial, delay);
                    assert_eq!(
                        world_without_log(world),
                        expected,
                        "the world after a kill at {delay:?} and resume differs"
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
    eprintln!("uninterrupted run: {run_time:?}");
    for point in &points {
        let status = point.status_after_kill.as_deref().unwrap_or("no run yet");
        eprintln!(
            "killed after {:>4} ms: run {status:<11} then {} ({} abandoned)",
            point.delay.as_millis(),
            point.recovery,
            point.abandoned
        );
    }
    assert_eq!(points.len(), KILL_POINTS);
    assert!(
        points.iter().any(|p| p.abandoned > 0),
        "no kill left a step in flight"
    );
    assert!(
        mid_run >= KILL_POINTS / 2,
        "only {mid_run} of {KILL_POINTS} kills landed in the middle of a run"
    );
}

// ---------------------------------------------------------------------------------
// 2. The lock.

#[test]
fn of_four_applies_started_together_one_runs_and_three_are_told_who_holds_the_lock() {
    let workspace = Workspace::new();
    workspace.run(&["sim", "init", EXAMPLE]).expect(0);
    let applies: Vec<Spawned> = (0..4)
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

    let winners: Vec<usize> = (0..4).filter(|&i| runs[i].code == Some(0)).collect();
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

impl Workspace {
    /// A workspace holding [`commands_environment`] and its sim world.
    fn with_commands(activations: &[(&str, String)], extra: &str) -> Self {
        let workspace = Self::new();
        let text = commands_environment(activations, extra);
        fs::write(workspace.path().join(COMMANDS), text).expect("the environment is written");
        workspace.run(&["sim", "init", COMMANDS]).expect(0);
        workspace
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
        let apply = runner::spawn(&mut self.command_with_aws(&[
            "apply",
            COMMANDS,
            "--scenario",
            "region-outage",
            "--auto-approve",
        ]));
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
    let terminated = apply.wait();

    assert_eq!(terminated.code, Some(1), "{terminated}");
    assert!(
        terminated
            .stderr
            .contains("terminated: stopping the running steps")
            && terminated.message().contains("drplan::apply::aborted"),
        "{terminated}"
    );
    let state = workspace.state("commands");
    assert_eq!(run_status(&state), "interrupted");
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
    assert!(
        !workspace
            .file("state", "commands")
            .with_extension("lock")
            .exists(),
        "the lock is released"
    );
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

    let apply = runner::run(&mut workspace.command_with_aws(&[
        "apply",
        COMMANDS,
        "--scenario",
        "region-outage",
        "--auto-approve",
    ]))
    .expect(1);
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

/// A webhook on a loopback port that keeps every request it receives, never answers
/// the first (that notification is in flight until drplan gives up or dies) and
/// answers the others 200.
struct SilentWebhook {
    url: String,
    requests: std::sync::Arc<Mutex<Vec<String>>>,
}

/// One whole HTTP request from `client`: its head, then as many body bytes as its
/// `content-length` says (headers and body may arrive in separate reads; a loaded
/// machine may take its time).
fn read_request(client: &mut std::net::TcpStream) -> String {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let mut request = Vec::new();
    let mut buffer = [0; 16 * 1024];
    loop {
        let text = String::from_utf8_lossy(&request).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        match std::io::Read::read(client, &mut buffer) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&request).to_string(),
            Ok(read) => request.extend_from_slice(&buffer[..read]),
        }
    }
}

impl SilentWebhook {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
        let requests = std::sync::Arc::new(Mutex::new(Vec::new()));
        let kept = std::sync::Arc::clone(&requests);
        thread::spawn(move || {
            // One thread a connection: a client that connects and sends nothing must
            // not hold up the next request.
            for mut client in listener.incoming().flatten() {
                let kept = std::sync::Arc::clone(&kept);
                thread::spawn(move || {
                    let request = read_request(&mut client);
                    if request.is_empty() {
                        return;
                    }
                    let first = {
                        let mut kept = kept.lock().expect("not poisoned");
                        kept.push(request);
                        kept.len() == 1
                    };
                    if first {
                        // Never answered: held open until the test ends.
                        thread::sleep(Duration::from_mins(10));
                    } else {
                        let answer =
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                        let _ = std::io::Write::write_all(&mut client, answer);
                    }
                });
            }
        });
        Self { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

#[test]
fn a_notification_in_flight_when_drplan_is_killed_is_not_sent_again_on_resume() {
    let webhook = SilentWebhook::start();
    let workspace = Workspace::with_commands(
        &[("api", sh("true"))],
        &format!(
            "\n[[notify]]\nto = \"on-call\"\nvia = \"webhook\"\nurl = \"{}\"\n",
            webhook.url
        ),
    );
    let apply = runner::spawn(&mut workspace.command_with_aws(&[
        "apply",
        COMMANDS,
        "--scenario",
        "region-outage",
        "--auto-approve",
    ]));
    let step = "notify:1-on-call";
    wait_until(
        "the notification is being sent",
        Duration::from_mins(1),
        || !webhook.requests().is_empty(),
    );
    apply.kill();
    let state = workspace.state("commands");
    assert_eq!(events(&state, step), ["started", "sending"]);

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
