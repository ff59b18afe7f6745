//! Apply: run a saved plan against the world. Refuses a stale plan, takes the state
//! lock, journals every step transition before and after it happens, runs the steps
//! in dependency order in parallel, and writes a run report. `resume` continues a
//! run that crashed or was interrupted without redoing finished steps.

mod actions;
pub mod executor;
pub mod journal;
pub mod maintenance;
mod notify;
mod preflight;
pub mod progress;
pub mod report;
mod retry;
pub mod run;
pub mod status;
pub mod timeline;
pub mod verify;

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{Mutex, watch};

use crate::error::Error;
use crate::graph::step::Step;
use crate::model::Environment;
use crate::plan::Plan;
use crate::plan::file::PlanFile;
use crate::providers::Runtime;
use crate::providers::process::{self, Commands, GroupMark};
use crate::secrets::Secrets;
use crate::state::spool::Spool;
use crate::state::{
    JournalEntry, LockInfo, Run, RunStatus, State, StateBackend, StateVersion, StepEvent, StepIndex,
};
use executor::Execution;
use journal::{Journal, Record};
use progress::Progress;

/// How an apply behaves.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub parallelism: usize,
    pub keep_going: bool,
    pub auto_approve: bool,
    pub accept_data_loss: bool,
    /// Restore the newest backup before this time instead of the newest.
    pub at: Option<SystemTime>,
    /// On sim: waits (health intervals, notification offsets) are multiplied by this.
    pub time_scale: Option<f64>,
    pub quiet: bool,
}

/// Everything a running step may use.
pub struct Context {
    pub env: Environment,
    /// The directory of the environment file (maintenance pages, templates).
    pub env_dir: PathBuf,
    pub runtime: Runtime,
    pub options: ApplyOptions,
    pub journal: Journal,
    pub progress: Progress,
    pub secrets: Arc<Secrets>,
    pub plan: Plan,
    pub run_id: String,
    pub started: SystemTime,
    /// The commands the steps run, stopped together on abort.
    pub commands: Arc<Commands>,
    /// Record key → when this process switched it (a check through it waits out the
    /// old TTL from then; after a resume, from when the check starts).
    pub switched: std::sync::Mutex<HashMap<String, SystemTime>>,
    /// Set once every step but the timed notifications is done.
    recovered: watch::Receiver<bool>,
    prompt: Mutex<()>,
}

impl Context {
    /// `duration` scaled for the sim (unchanged for real providers).
    pub fn scaled(&self, duration: Duration) -> Duration {
        self.options
            .time_scale
            .map_or(duration, |scale| duration.mul_f64(scale.max(0.0)))
    }

    /// Text with every resolved secret replaced by its `${env:VAR}` placeholder.
    pub fn redact(&self, text: &str) -> String {
        self.secrets.redact(text)
    }

    /// Waits until `offset` after the start of the run, or until recovery is done.
    pub async fn wait_until(&self, offset: Duration) {
        let remaining = self
            .started
            .checked_add(self.scaled(offset))
            .map_or(Duration::MAX, |due| {
                due.duration_since(SystemTime::now()).unwrap_or_default()
            });
        let mut recovered = self.recovered.clone();
        tokio::select! {
            () = tokio::time::sleep(remaining) => {}
            _ = recovered.wait_for(|done| *done) => {}
        }
    }

    /// Asks a person to approve `step` (or takes `--auto-approve`).
    pub async fn approve(&self, step: &Step) -> Result<(), Error> {
        if self.options.auto_approve {
            return Ok(());
        }
        let _one_prompt_at_a_time = self.prompt.lock().await;
        let question = match &step.action {
            crate::graph::step::Action::Manual { instruction, .. } => {
                format!("\n{}\n  {instruction}\nType `yes` when done: ", step.id)
            }
            _ => format!(
                "\n{} needs approval ({}): {}\nType `yes` to run it: ",
                step.id,
                step.approval.as_deref().unwrap_or(""),
                step.target()
            ),
        };
        let answer = self.progress.suspend(|| ask(&question));
        if answer.trim() == "yes" {
            Ok(())
        } else {
            Err(Error::NotApproved {
                step: step.id.to_string(),
            })
        }
    }
}

/// Prints `question` and reads one line from the terminal.
pub fn ask(question: &str) -> String {
    let mut stderr = std::io::stderr();
    let _ = stderr
        .write_all(question.as_bytes())
        .and_then(|()| stderr.flush());
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    answer
}

/// Whether prompts can be answered.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// What a finished (or stopped) apply hands back.
pub struct Applied {
    pub execution: Execution,
    pub report: PathBuf,
    pub state: State,
    /// On sim: the measured recovery time in sim time (see [`report::RunReport`]).
    pub simulated_ms: Option<u128>,
    /// The steps' planned and actual times.
    pub timeline: Vec<timeline::Bar>,
}

/// A run about to start or continue.
pub struct Launch {
    pub env: Environment,
    pub env_dir: PathBuf,
    pub runtime: Runtime,
    pub backend: Arc<dyn StateBackend>,
    pub secrets: Arc<Secrets>,
    pub options: ApplyOptions,
}

/// Starts a new run of `plan_file` over `state` (already locked by the caller).
pub async fn start(
    launch: Launch,
    plan_file: PlanFile,
    mut state: State,
    version: Option<StateVersion>,
) -> Result<Applied, Error> {
    let run_id = run_id(&plan_file.plan);
    state.run = Some(Run {
        id: run_id,
        plan: plan_file,
        started: SystemTime::now(),
        status: RunStatus::Running,
        journal: Vec::new(),
        index: StepIndex::default(),
    });
    state.serial += 1;
    let version = launch.backend.write(&state, version.as_ref()).await?;
    execute(launch, state, version).await
}

/// Continues the run recorded in `state`.
pub async fn resume(
    launch: Launch,
    mut state: State,
    version: StateVersion,
) -> Result<Applied, Error> {
    let Some(run) = state.run.as_mut() else {
        return Err(Error::NothingToResume {
            environment: launch.env.name.clone(),
        });
    };
    if run.status == RunStatus::Finished {
        return Err(Error::RunFinished {
            run: run.id.clone(),
        });
    }
    run.status = RunStatus::Running;
    let spool = Spool::new(&launch.env.name);
    let spooled = spool.pending(&run.id)?;
    for entry in spooled {
        if !state
            .run
            .as_ref()
            .is_some_and(|run| run.journal.contains(&entry))
        {
            state.record(entry);
        }
    }
    abandon_in_flight(&mut state).await;
    state.serial += 1;
    let version = launch.backend.write(&state, Some(&version)).await?;
    spool.clear()?;
    execute(launch, state, version).await
}

/// Journals `abandoned` for every step a crash left in flight (started, never ended),
/// so that the journal says why it starts again; first stops any command such a step
/// started that still runs, so that no second copy ever runs beside it. A
/// notification that began sending is journaled finished instead: never sent twice.
async fn abandon_in_flight(state: &mut State) {
    let Some(run) = &state.run else {
        return;
    };
    let in_flight = journal::in_flight_steps(&run.journal);
    let mut abandoned = Vec::new();
    for (step, in_flight) in in_flight {
        if in_flight.sending {
            abandoned.push(JournalEntry {
                step,
                event: StepEvent::Finished,
                at: SystemTime::now(),
                detail: NOT_SENT_AGAIN.to_string(),
                group: None,
            });
            continue;
        }
        let running: Vec<GroupMark> = in_flight
            .groups
            .into_iter()
            .filter(GroupMark::is_running)
            .collect();
        process::stop(&running, process::TERMINATION_GRACE).await;
        abandoned.push(JournalEntry {
            step,
            event: StepEvent::Abandoned,
            at: SystemTime::now(),
            detail: abandoned_detail(&running),
            group: None,
        });
    }
    for entry in abandoned {
        state.record(entry);
    }
}

/// How a notification left in flight after it began sending ends: at most once.
const NOT_SENT_AGAIN: &str = "the run stopped while this notification was being sent; it is not sent again (at most once per run)";

/// Why a step left in flight runs again, naming the commands that were stopped.
fn abandoned_detail(stopped: &[GroupMark]) -> String {
    let why = "the run stopped while this step ran (a crash or kill); it runs again";
    if stopped.is_empty() {
        return why.to_string();
    }
    let groups: Vec<String> = stopped.iter().map(|g| g.pgid.to_string()).collect();
    format!(
        "{why}, once its command still running (process group {}) was stopped",
        groups.join(", ")
    )
}

async fn execute(launch: Launch, state: State, version: StateVersion) -> Result<Applied, Error> {
    // What the run needs of the state, taken without a copy of its journal.
    let (finished, plan, run_id, started) = {
        let run = state
            .run
            .as_ref()
            .expect("start and resume record the run before executing it");
        let finished = journal::finished_steps(&run.journal);
        (finished, run.plan.plan.clone(), run.id.clone(), run.started)
    };
    let steps = Arc::new(plan.steps.clone());
    let spool = Spool::new(&launch.env.name);
    let (journal, closed) = Journal::start(launch.backend.clone(), state, version, spool);
    let (recovered_tx, recovered) = watch::channel(false);
    let ctx = Arc::new(Context {
        progress: Progress::new(steps.len(), launch.options.quiet),
        env: launch.env,
        env_dir: launch.env_dir,
        runtime: launch.runtime,
        options: launch.options,
        journal: journal.clone(),
        secrets: launch.secrets,
        plan,
        run_id,
        started,
        commands: Arc::default(),
        switched: std::sync::Mutex::default(),
        recovered,
        prompt: Mutex::new(()),
    });
    let execution = executor::execute(ctx.clone(), steps.clone(), &finished, recovered_tx).await;
    ctx.progress.finish();
    let status = execution.status();
    let committed = journal.commit(Record::Status(status)).await;
    // The report is written even when the state could not be: it is the local record.
    let report = report::RunReport::new(
        &ctx.run_id,
        &ctx.plan,
        &steps,
        &execution,
        ctx.started,
        ctx.options.time_scale,
    );
    drop(journal);
    drop(ctx);
    let written = closed.await.map_err(|e| Error::Bug {
        detail: format!("the journal writer failed: {e}"),
    })?;
    let path = report.write()?;
    // A failed write stops the writer: its own error says why, better than the
    // `unrecorded` each later commit got.
    let state = written?;
    committed?;
    Ok(Applied {
        execution,
        report: path,
        state,
        simulated_ms: report.simulated_ms,
        timeline: report.timeline,
    })
}

/// `20261129T150102Z-regional-failure-1a2b3c`.
fn run_id(plan: &Plan) -> String {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace([':', '-'], "");
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    format!("{stamp}-{}-{suffix}", plan.intent.name)
}

/// Takes the lock for `operation`, waiting up to `timeout`.
pub async fn lock(
    backend: &dyn StateBackend,
    operation: &str,
    timeout: Duration,
) -> Result<LockInfo, Error> {
    let info = LockInfo::new(operation);
    crate::state::acquire(backend, &info, timeout).await?;
    Ok(info)
}
