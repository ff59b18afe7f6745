//! How close `apply` runs to the critical path. A generated environment — 240 services
//! over 6 tiers, 8 DNS records, on the sim — is planned (about 500 steps) and applied by
//! the real binary with a time scale that makes the critical path 3 s of wall time. The
//! apply's wall time is compared with the critical path: the plan's estimated RTO times
//! the time scale, known exactly because every tier holds one service whose estimate
//! is the tier's longest and the services declare no health probes.
//!
//! Then, to show where any excess goes: the same apply with every wait removed
//! (`--time-scale 0`: only the journal, the world's writes and the scheduling are
//! left); both again with `.drplan/` on tmpfs (`/dev/shm`), where fsync costs
//! nothing; the critical path of the median run read off its journal (sleeps, commits,
//! the sim world's writes); and, on their own, one journal append (what a step's
//! commit costs) and one whole-state write (what it cost before appends).
//!
//! Run with `cargo bench --bench apply`.

#[path = "support/lcg.rs"]
mod lcg;
use lcg::Lcg;

use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use drplan::fsio::{Durability, write_atomic};
use drplan::graph::step::StepId;
use drplan::state::local::LocalState;
use drplan::state::{JournalEntry, State, StateBackend, StateVersion, StepEvent};
use serde_json::Value;

const SERVICES: usize = 240;
const TIERS: usize = 6;
const RECORDS: usize = 8;
/// The longest estimate of every tier, held by its first service; the others take 1 to 4 minutes.
const TIER_LONGEST: Duration = Duration::from_mins(5);
/// The critical path in wall time that the time scale is chosen for.
const CRITICAL_PATH: Duration = Duration::from_secs(3);
const ITERATIONS: usize = 3;
/// The goal: apply wall time ≤ this × the critical path.
const GOAL_RATIO: f64 = 1.10;

fn main() {
    if std::env::args().skip(1).all(|arg| arg != "scale") {
        critical_path_ratio();
    }
    scale_curve();
}

/// The 498-step apply against its critical path, and where the excess goes.
fn critical_path_ratio() {
    let text = environment(SERVICES, RECORDS);
    let disk = tempfile::TempDir::new().expect("a temporary directory");
    let layout = Layout::new(disk.path(), &text);
    let plan = layout.prepare().plan();
    let steps = plan["plan"]["steps"].as_array().map_or(0, Vec::len);
    let estimated_rto = Duration::from_secs(
        plan["plan"]["summary"]["estimated_rto"]
            .as_u64()
            .expect("an estimated RTO"),
    );
    let scale = CRITICAL_PATH.as_secs_f64() / estimated_rto.as_secs_f64();
    let critical_path = estimated_rto.mul_f64(scale);
    // The sim sleeps only activations; the region check's 5s estimate is never waited.
    let slept = estimated_rto
        .saturating_sub(Duration::from_secs(5))
        .mul_f64(scale);
    println!(
        "environment: {SERVICES} services over {TIERS} tiers, {RECORDS} DNS records, sim; plan: {steps} steps, estimated RTO {}",
        humantime::format_duration(estimated_rto)
    );
    println!(
        "time scale {scale:.6}: critical path {:.3} s, of which the sim sleeps {:.3} s; medians of {ITERATIONS} applies (--parallelism 1000)\n",
        secs(critical_path),
        secs(slept)
    );
    println!(
        "{:<24} {:>8} {:>8} {:>7} {:>8}",
        "", "wall", "run", "commits", "ratio"
    );

    let scaled = median(|| layout.apply(scale));
    let ratio = secs(scaled.wall) / secs(critical_path);
    println!(
        "{}   goal ≤ {GOAL_RATIO}: {}",
        scaled.row("apply, disk", ratio),
        verdict(ratio <= GOAL_RATIO)
    );
    let unscaled = median(|| layout.apply(0.0));
    println!(
        "{}",
        unscaled.row(
            "apply, disk, scale 0",
            secs(unscaled.wall) / secs(critical_path)
        )
    );

    let shm = Path::new("/dev/shm");
    let tmpfs = shm.is_dir().then(|| {
        let memory = tempfile::TempDir::new_in(shm).expect("a directory on tmpfs");
        let layout = Layout::new(memory.path(), &text);
        let scaled = median(|| layout.apply(scale));
        println!(
            "{}",
            scaled.row("apply, tmpfs", secs(scaled.wall) / secs(critical_path))
        );
        let unscaled = median(|| layout.apply(0.0));
        println!(
            "{}",
            unscaled.row(
                "apply, tmpfs, scale 0",
                secs(unscaled.wall) / secs(critical_path)
            )
        );
        scaled
    });
    println!(
        "(wall: the process from spawn to exit; run: the executor, from the run report; commits: state commits (appends and whole writes), the final serial)"
    );

    println!(
        "\nwhere the wall time of the median apply goes, along the critical path ({} steps):",
        scaled.path.steps
    );
    scaled.path.print("disk", scaled.wall);
    if let Some(tmpfs) = tmpfs {
        tmpfs.path.print("tmpfs", tmpfs.wall);
    }
    let state = scaled.state_bytes;
    let write = write_cost(disk.path(), state);
    let append = append_cost(disk.path());
    println!(
        "\none commit alone on disk, median of 21: a journal append (one line, fdatasync) {:.2} ms; \
         a whole-state write of {} KiB like the final state (temp file, fsync, rename, fsync of the directory) {:.2} ms",
        millis(append),
        state / 1024,
        millis(write)
    );
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// One apply's measurements.
#[derive(Debug, Clone, Copy)]
struct Measured {
    wall: Duration,
    /// The executor's elapsed time, from the run report.
    run: Duration,
    /// How many times the state was committed (its final serial).
    commits: u64,
    /// The size of the final state file.
    state_bytes: usize,
    path: CriticalPath,
}

impl Measured {
    fn row(&self, name: &str, ratio: f64) -> String {
        format!(
            "{name:<24} {:>7.3}s {:>7.3}s {:>7} {ratio:>8.3}",
            secs(self.wall),
            secs(self.run),
            self.commits
        )
    }
}

/// The critical path of one run as its journal recorded it. Each step's `started`
/// is stamped just before its transition is committed and the step performed;
/// `finished` just before that transition is committed and the dependents released.
#[derive(Debug, Clone, Copy, Default)]
struct CriticalPath {
    steps: usize,
    /// From the process start to the run's start (load, observe, stale check, lock, first state write).
    before: Duration,
    /// The sim's sleeps: the activations' estimates × the time scale.
    sleeps: Duration,
    /// Inside activations, beyond the sleep: the `started` commit, then the sim world's write.
    activations: Duration,
    /// Inside the other steps (health, the region check): the `started` commit. Gates
    /// journal only `finished`, so they count wholly in `between`.
    others: Duration,
    /// From one step's `finished` to the next one's `started`: the `finished` commit and the scheduling.
    between: Duration,
    /// After the last step of the critical path: its `finished` commit, the steps
    /// with no estimate (switch gates, notifications), the last status write, the report.
    after: Duration,
}

impl CriticalPath {
    fn print(&self, name: &str, wall: Duration) {
        let ms = millis;
        let commits = self.steps;
        println!(
            "  {name:<6} sleeps {:>6.0} ms | before the run {:>4.0} ms | in activations beyond the sleep {:>4.0} ms | in other steps {:>4.0} ms | between steps {:>4.0} ms ({:.1} ms per step) | after {:>4.0} ms | total {:>5.0} ms",
            ms(self.sleeps),
            ms(self.before),
            ms(self.activations),
            ms(self.others),
            ms(self.between),
            ms(self.between) / commits.max(1) as f64,
            ms(self.after),
            ms(wall)
        );
    }
}

/// The median of [`ITERATIONS`] measurements, by wall time.
fn median(mut measure: impl FnMut() -> Measured) -> Measured {
    let mut runs: Vec<Measured> = (0..ITERATIONS).map(|_| measure()).collect();
    runs.sort_by_key(|m| m.wall);
    runs[ITERATIONS / 2]
}

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// Reads the critical path of the run in `state` off its journal; `spawned` is when
/// the process started, `exited` when it exited.
fn critical_path(
    state: &Value,
    scale: f64,
    spawned: SystemTime,
    exited: SystemTime,
) -> CriticalPath {
    let run = &state["run"];
    let time = |value: &Value| {
        humantime::parse_rfc3339_weak(value.as_str().expect("a timestamp")).expect("RFC 3339")
    };
    let mut events: HashMap<(&str, &str), SystemTime> = HashMap::new();
    for entry in run["journal"].as_array().expect("a journal") {
        events.insert(
            (
                entry["step"].as_str().expect("a step"),
                entry["event"].as_str().expect("an event"),
            ),
            time(&entry["at"]),
        );
    }
    let estimates: HashMap<&str, u64> = run["plan"]["plan"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| {
            (
                step["id"].as_str().expect("an id"),
                step["estimate"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let since =
        |later: SystemTime, earlier: SystemTime| later.duration_since(earlier).unwrap_or_default();
    let started = time(&run["started"]);
    let mut path = CriticalPath {
        before: since(started, spawned),
        ..CriticalPath::default()
    };
    let mut previous = started;
    for step in run["plan"]["plan"]["summary"]["critical_path"]
        .as_array()
        .expect("a critical path")
    {
        let step = step.as_str().expect("a step id");
        let end = events[&(step, "finished")];
        // A gate journals only that it was passed.
        let begin = events.get(&(step, "started")).copied().unwrap_or(end);
        path.steps += 1;
        path.between += since(begin, previous);
        if step.starts_with("activate:") {
            let sleep = Duration::from_secs(estimates[step]).mul_f64(scale);
            path.sleeps += sleep;
            path.activations += since(end, begin).saturating_sub(sleep);
        } else {
            path.others += since(end, begin);
        }
        previous = end;
    }
    path.after = since(exited, previous);
    path
}

/// A directory holding the environment file, where every apply gets a fresh
/// `.drplan/` (a new sim world and a new plan).
struct Layout {
    root: PathBuf,
    runs: std::cell::Cell<usize>,
}

impl Layout {
    fn new(root: &Path, text: &str) -> Self {
        std::fs::create_dir_all(root.join("environments")).expect("environments/");
        std::fs::write(root.join("environments/bench.toml"), text)
            .expect("the environment is written");
        Self {
            root: root.to_path_buf(),
            runs: std::cell::Cell::new(0),
        }
    }

    /// A fresh workspace: a new sim world, and the plan saved as `plan.json`.
    fn prepare(&self) -> Workspace {
        let n = self.runs.get();
        self.runs.set(n + 1);
        let workspace = Workspace {
            root: self.root.clone(),
            drplan_dir: self.root.join(format!("drplan-{n}")),
        };
        workspace.drplan(&["sim", "init", "environments/bench.toml"]);
        workspace.drplan(&[
            "plan",
            "environments/bench.toml",
            "--scenario",
            "region-outage",
            "--out",
            &workspace.plan_path(),
        ]);
        workspace
    }

    /// Plans in a fresh workspace, then applies at `scale` and measures the apply.
    fn apply(&self, scale: f64) -> Measured {
        let workspace = self.prepare();
        let plan = workspace.plan_path();
        let time_scale = scale.to_string();
        let (spawned, started) = (SystemTime::now(), Instant::now());
        workspace.drplan(&[
            "apply",
            &plan,
            "--auto-approve",
            "--quiet",
            "--parallelism",
            "1000",
            "--time-scale",
            &time_scale,
        ]);
        let (wall, exited) = (started.elapsed(), SystemTime::now());
        let state = workspace.state();
        let run_id = state["run"]["id"].as_str().expect("a run id");
        let report = read_json(
            &workspace
                .drplan_dir
                .join("runs")
                .join(format!("{run_id}.json")),
        );
        let run = Duration::from_millis(report["elapsed_ms"].as_u64().expect("elapsed_ms"));
        Measured {
            wall,
            run,
            commits: state["serial"].as_u64().expect("a serial"),
            state_bytes: workspace.state_size(),
            path: critical_path(&state, scale, spawned, exited),
        }
    }
}

/// One `.drplan/` directory.
struct Workspace {
    root: PathBuf,
    drplan_dir: PathBuf,
}

impl Workspace {
    fn plan_path(&self) -> String {
        self.drplan_dir.join("plan.json").display().to_string()
    }

    fn plan(&self) -> Value {
        read_json(Path::new(&self.plan_path()))
    }

    fn state(&self) -> Value {
        read_json(&self.drplan_dir.join("state/bench.json"))
    }

    /// The size of the state file, in bytes, after an apply (applying once if need be).
    fn state_size(&self) -> usize {
        let path = self.drplan_dir.join("state/bench.json");
        if !path.exists() {
            self.drplan(&[
                "apply",
                &self.plan_path(),
                "--auto-approve",
                "--quiet",
                "--parallelism",
                "1000",
                "--time-scale",
                "0",
            ]);
        }
        std::fs::metadata(path).map_or(0, |m| usize::try_from(m.len()).unwrap_or(usize::MAX))
    }

    /// `drplan ARGS…`, to run here.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_drplan"));
        command
            .current_dir(&self.root)
            .env("DRPLAN_DIR", &self.drplan_dir)
            .env("NO_COLOR", "1")
            .env_remove("DRPLAN_TIME_SCALE")
            .args(args)
            .stdin(Stdio::null());
        command
    }

    /// Runs `drplan ARGS…` here, checks that it succeeded, and measures it: its wall
    /// time and its peak resident memory (from `wait4`, for this process alone).
    #[expect(
        clippy::zombie_processes,
        reason = "the child is reaped by wait4, which also reports its own peak memory"
    )]
    fn measure(&self, args: &[&str]) -> Usage {
        let started = Instant::now();
        let child = self
            .command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("drplan starts");
        let pid = libc::pid_t::try_from(child.id()).expect("a pid");
        let mut status = 0;
        // SAFETY: an all-zero `rusage` is valid; wait4 fills it and reaps the child,
        // which `child` never waits for.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our own child, `status` and `usage` are valid for writes.
        let reaped = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
        let wall = started.elapsed();
        assert!(
            reaped == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "drplan {} failed",
            args.join(" ")
        );
        Usage {
            wall,
            peak_mib: usage.ru_maxrss as f64 / 1024.0,
        }
    }

    /// Runs `drplan ARGS…` here and checks that it succeeded.
    fn drplan(&self, args: &[&str]) {
        let output = self.command(args).output().expect("drplan starts");
        assert!(
            output.status.success(),
            "drplan {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The median time of an atomic write of `size` bytes in `dir`, the way the local
/// state backend writes (temp file, fsync, rename, fsync of the directory).
fn write_cost(dir: &Path, size: usize) -> Duration {
    let path = dir.join("write-cost.json");
    let bytes = vec![b' '; size];
    median_time(|| write_atomic(&path, &bytes, Durability::PowerLoss).expect("the write succeeds"))
}

/// The median time of one journal append by the local state backend: one started
/// transition, as every step commits before it acts.
fn append_cost(dir: &Path) -> Duration {
    let backend = LocalState::at("bench", dir.join("append-cost.json"));
    let state = State::new("bench");
    let version = StateVersion(state.serial.to_string());
    let entry = JournalEntry {
        step: StepId::new("activate:svc-000"),
        event: StepEvent::Started,
        at: SystemTime::now(),
        detail: String::new(),
        group: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    median_time(|| {
        let append = backend.append(&state, std::slice::from_ref(&entry), &version);
        runtime.block_on(append).expect("the append succeeds");
    })
}

/// The median time of 21 calls of `work`.
fn median_time(mut work: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..21)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn service_name(i: usize) -> String {
    format!("svc-{i:03}")
}

/// The environment as TOML: `services` over [`TIERS`] tiers, tier `t` holding services
/// `t × services / TIERS …`; each depends on up to two services of the tier before, the
/// first of each tier takes [`TIER_LONGEST`], the others 1 to 4 minutes. No health
/// probes, so health steps are instant and the estimated RTO is the region check plus
/// the tiers' longest activations. `records` DNS records follow tier-1 services.
fn environment(services: usize, records: usize) -> String {
    let mut lcg = Lcg(7);
    let per_tier = services / TIERS;
    let mut out = String::from(
        "[environment]\nname = \"bench\"\nhome = \"region-a\"\nrto = \"1h\"\nstate = \"local\"\n\n\
         [providers]\ndns = \"sim\"\nstorage = \"sim\"\n\n\
         [regions.region-a]\nrole = \"primary\"\n\n\
         [regions.region-b]\nrole = \"secondary\"\nstandby = \"warm\"\n\n",
    );
    for i in 0..services {
        let tier = i / per_tier;
        let first_of_tier = i % per_tier == 0;
        let minutes = if first_of_tier {
            TIER_LONGEST.as_secs() / 60
        } else {
            1 + lcg.below(4) as u64
        };
        let mut depends_on: Vec<String> = Vec::new();
        if tier > 0 {
            for _ in 0..2 {
                let dependency = service_name((tier - 1) * per_tier + lcg.below(per_tier));
                if !depends_on.contains(&dependency) {
                    depends_on.push(dependency);
                }
            }
        }
        let depends_on: Vec<String> = depends_on.iter().map(|d| format!("\"{d}\"")).collect();
        let _ = writeln!(
            out,
            "[services.{}]\ntier = {}\ndepends_on = [{}]\nregions = [\"region-a\", \"region-b\"]\nestimate = \"{minutes}m\"",
            service_name(i),
            tier + 1,
            depends_on.join(", ")
        );
        if i % 2 == 0 {
            out.push_str("activate = [\"deploy\", \"{service}\", \"--region\", \"{region}\"]\n");
        }
        out.push('\n');
    }
    for i in 0..records {
        let _ = writeln!(
            out,
            "[dns.rec-{i}]\nzone = \"bench.example\"\nname = \"rec-{i}.bench.example\"\ntype = \"CNAME\"\nttl = 60\n\
             follows = \"{}\"\ntargets = {{ region-a = \"a.rec-{i}.bench.example\", region-b = \"b.rec-{i}.bench.example\" }}\n",
            // Records follow tier-1 services: their switches (1m each, not waited on the
            // sim) run beside the later tiers, off the critical path.
            service_name(lcg.below(per_tier))
        );
    }
    out.push_str(
        "[scenarios.region-outage]\nseverity = \"SEV-1\"\nstrategy = \"failover\"\nto = \"region-b\"\napproval = \"any-engineer\"\n",
    );
    out
}

/// Service counts of the scale curve; each environment has a tenth as many DNS records.
const CURVE: [usize; 4] = [1_000, 3_000, 10_000, 20_000];
/// The pair the linear-apply goal compares: 10,000 services (21,001 steps) against
/// 1,000 (2,101 steps).
const LINEAR: (usize, usize) = (1_000, 10_000);
/// The goal: the larger apply takes at most this many times the smaller one.
const LINEAR_GOAL: f64 = 10.0;
/// The goal for the larger apply's peak resident memory, in MiB.
const MEMORY_GOAL_MIB: f64 = 300.0;
/// The goal for `status` and `apply --resume` on the larger plan's journal.
const READ_GOAL: Duration = Duration::from_secs(1);
/// How many transitions at the end of the larger run's journal the resume case undoes.
const UNDONE: usize = 1_000;

/// A process's wall time and peak resident memory.
#[derive(Debug, Clone, Copy)]
struct Usage {
    wall: Duration,
    peak_mib: f64,
}

/// Applies generated environments of growing size at time scale 0 (only drplan's own
/// work left: the journal, the sim world's writes, scheduling), one apply each; on the
/// larger plan of [`LINEAR`], also `status` and a resume.
fn scale_curve() {
    println!(
        "\napply at time scale 0 as the plan grows (generated, {TIERS} tiers, 2 regions, sim; one apply each, --parallelism 1000):"
    );
    println!(
        "{:>9} {:>7} {:>9} {:>10} {:>10}",
        "services", "steps", "wall", "per step", "peak RSS"
    );
    let mut walls = HashMap::new();
    for services in CURVE {
        let dir = tempfile::TempDir::new().expect("a temporary directory");
        let layout = Layout::new(dir.path(), &environment(services, services / 10));
        let workspace = layout.prepare();
        let steps = workspace.plan()["plan"]["steps"]
            .as_array()
            .map_or(0, Vec::len);
        let plan = workspace.plan_path();
        let apply = workspace.measure(&[
            "apply",
            &plan,
            "--auto-approve",
            "--quiet",
            "--parallelism",
            "1000",
            "--time-scale",
            "0",
        ]);
        println!(
            "{services:>9} {steps:>7} {:>8.3}s {:>8.1}µs {:>7.1} MiB",
            secs(apply.wall),
            secs(apply.wall) * 1e6 / steps as f64,
            apply.peak_mib
        );
        walls.insert(services, apply.wall);
        if services == LINEAR.1 {
            let ratio = secs(apply.wall) / secs(walls[&LINEAR.0]);
            println!(
                "          {} services / {} services: {ratio:.1}× the wall (goal ≤ {LINEAR_GOAL}×: {}), peak {:.1} MiB (goal ≤ {MEMORY_GOAL_MIB} MiB: {})",
                LINEAR.1,
                LINEAR.0,
                verdict(ratio <= LINEAR_GOAL),
                apply.peak_mib,
                verdict(apply.peak_mib <= MEMORY_GOAL_MIB)
            );
            journal_reads(&workspace);
        }
    }
}

/// `status` on the finished run's journal, then a resume of the same run with its last
/// [`UNDONE`] transitions taken off (as if it had stopped there).
fn journal_reads(workspace: &Workspace) {
    let status = workspace.measure(&["status", "environments/bench.toml"]);
    let path = workspace.drplan_dir.join("state/bench.json");
    let mut state = read_json(&path);
    let run = &mut state["run"];
    run["status"] = Value::from("interrupted");
    let journal = run["journal"].as_array_mut().expect("a journal");
    let entries = journal.len();
    journal.truncate(entries.saturating_sub(UNDONE));
    write_atomic(
        &path,
        &serde_json::to_vec(&state).expect("JSON"),
        Durability::ProcessKill,
    )
    .expect("the state is written");
    let resume = workspace.measure(&[
        "apply",
        "--resume",
        "environments/bench.toml",
        "--auto-approve",
        "--quiet",
        "--time-scale",
        "0",
    ]);
    for (name, usage) in [
        (format!("status ({entries} journal entries)"), status),
        (
            format!("apply --resume ({UNDONE} of {entries} transitions undone)"),
            resume,
        ),
    ] {
        println!(
            "          {name}: {:.3} s, peak {:.1} MiB (goal ≤ {} s: {})",
            secs(usage.wall),
            usage.peak_mib,
            READ_GOAL.as_secs(),
            verdict(usage.wall <= READ_GOAL)
        );
    }
}
