//! The executor: runs the steps of a plan on tokio as soon as their predecessors
//! finished, at most `parallelism` at once. Switch steps of one graph level go to the
//! DNS provider as one batch. A failed step stops new work (or, with `keep_going`,
//! only its dependents); the first Ctrl-C lets running steps finish. SIGTERM, or a
//! second Ctrl-C, aborts: running commands get SIGTERM, then SIGKILL after a grace
//! period, and every running step is journaled abandoned.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::task::JoinSet;

use super::Context;
use super::actions;
use crate::graph::StepGraph;
use crate::graph::step::{Action, Step, StepId};
use crate::providers::process::{self, Supervisor, TERMINATION_GRACE};
use crate::state::{RunStatus, StepEvent};

/// How a step ended in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Finished in an earlier run (resume).
    AlreadyDone,
    Finished,
    Failed(String),
    /// Not started: a predecessor failed, or the run stopped.
    NotRun,
    /// Started, then aborted.
    Aborted,
}

/// What happened to one step.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub started: Option<SystemTime>,
    pub elapsed: Option<Duration>,
    pub outcome: Outcome,
    pub detail: String,
}

/// What happened to the run.
#[derive(Debug)]
pub struct Execution {
    pub results: Vec<StepResult>,
    pub interrupted: bool,
    /// Aborted by SIGTERM or a second Ctrl-C: running steps were stopped.
    pub aborted: bool,
    pub elapsed: Duration,
}

impl Execution {
    pub fn failed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
            .count()
    }

    /// The ids of the failed steps among `steps` (the plan's steps, in order).
    pub fn failed_steps(&self, steps: &[Step]) -> Vec<StepId> {
        let failed = self
            .results
            .iter()
            .map(|r| matches!(r.outcome, Outcome::Failed(_)));
        steps
            .iter()
            .zip(failed)
            .filter(|(_, failed)| *failed)
            .map(|(s, _)| s.id.clone())
            .collect()
    }

    /// How the run ended.
    pub fn status(&self) -> RunStatus {
        if self.complete() {
            RunStatus::Finished
        } else if self.interrupted {
            RunStatus::Interrupted
        } else {
            RunStatus::Failed
        }
    }

    pub fn complete(&self) -> bool {
        self.results
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Finished | Outcome::AlreadyDone))
    }
}

/// What a finished task hands back: its steps, its result (`None`: stopped by an
/// abort), when it started, how long it took.
type BatchDone = (
    Vec<usize>,
    Option<Result<String, String>>,
    SystemTime,
    Duration,
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Ready,
    Running,
    Done,
    Blocked,
}

/// Which steps may start, kept so that every transition costs the same whatever the
/// plan's size: no scan of all steps per step.
struct Scheduler<'a> {
    steps: &'a [Step],
    dependents: Vec<Vec<usize>>,
    missing: Vec<usize>,
    status: Vec<Status>,
    /// Ready steps other than switches, in the order they became ready. A step blocked
    /// while queued stays here and is skipped.
    ready: VecDeque<usize>,
    /// Ready switch steps, by graph level (skipped likewise once blocked).
    ready_switches: BTreeMap<usize, Vec<usize>>,
    /// Switch steps per graph level that may still run (waiting or ready).
    pending_switches: HashMap<usize, usize>,
    /// Steps other than notifications not yet done.
    unrecovered: usize,
    levels: Vec<usize>,
    results: Vec<StepResult>,
}

/// Runs every step not in `finished`; `recovered` turns true once every step but the
/// timed notifications is done.
pub async fn execute(
    ctx: Arc<Context>,
    steps: Arc<Vec<Step>>,
    finished: &HashSet<StepId>,
    recovered: tokio::sync::watch::Sender<bool>,
) -> Execution {
    let start = Instant::now();
    let mut run = Runner {
        ctx: &ctx,
        steps: &steps,
        scheduler: Scheduler::new(&steps, finished),
        tasks: JoinSet::new(),
        running: HashMap::new(),
        recovered,
        stopping: false,
    };
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    let mut terminate = signal(SignalKind::terminate()).ok();
    let (mut interrupted, mut aborted) = (false, false);
    loop {
        run.start_ready();
        if run.tasks.is_empty() {
            break;
        }
        tokio::select! {
            joined = run.tasks.join_next_with_id() => {
                let Some(joined) = joined else { break };
                run.joined(joined).await;
            }
            () = receive(&mut terminate) => {
                interrupted = true;
                aborted = true;
                run.abort("terminated: stopping the running steps and their commands").await;
                break;
            }
            () = receive(&mut interrupt) => {
                interrupted = true;
                if run.stopping {
                    aborted = true;
                    run.abort("second interrupt: stopping the running steps and their commands").await;
                    break;
                }
                ctx.progress.line("interrupted: starting nothing new, waiting for running steps (Ctrl-C again to abort them)");
                run.stop().await;
            }
        }
    }
    Execution {
        results: run.scheduler.results,
        interrupted,
        aborted,
        elapsed: start.elapsed(),
    }
}

/// One execution under way: the scheduler and the tasks running its steps.
struct Runner<'a> {
    ctx: &'a Arc<Context>,
    steps: &'a Arc<Vec<Step>>,
    scheduler: Scheduler<'a>,
    tasks: JoinSet<BatchDone>,
    running: Running,
    recovered: tokio::sync::watch::Sender<bool>,
    /// No new step starts.
    stopping: bool,
}

impl Runner<'_> {
    /// Starts ready steps, at most `parallelism` at once, unless stopping.
    fn start_ready(&mut self) {
        while !self.stopping && self.running.len() < self.ctx.options.parallelism.max(1) {
            let Some(batch) = self.scheduler.next_batch(self.tasks.is_empty()) else {
                break;
            };
            let task = run_batch(self.ctx.clone(), self.steps.clone(), batch.clone());
            let handle = self.tasks.spawn(task);
            self.running.insert(handle.id(), (batch, handle));
        }
    }

    /// Takes in a task that ended.
    async fn joined(
        &mut self,
        joined: Result<(tokio::task::Id, BatchDone), tokio::task::JoinError>,
    ) {
        let Ok((id, (batch, result, started, elapsed))) = joined else {
            return;
        };
        if self.running.remove(&id).is_none() {
            return;
        }
        let Some(result) = result else {
            self.scheduler.abort(&batch);
            journal_abandoned(self.ctx, self.steps, &batch, ABORTED).await;
            return;
        };
        let failed = result.is_err();
        self.scheduler.finish(&batch, &result, started, elapsed);
        if failed && !self.ctx.options.keep_going && !self.stopping {
            self.stop().await;
        }
        if self.scheduler.recovered() {
            self.recovered.send_replace(true);
        }
    }

    /// Starts nothing new; notifications waiting for their time are abandoned (they
    /// are sent on resume).
    async fn stop(&mut self) {
        self.stopping = true;
        self.abandon(
            is_notification,
            "the run stopped before it was due; sent on resume",
        )
        .await;
    }

    /// Stops the running commands (SIGTERM, then SIGKILL after the grace period),
    /// takes in the steps that ended meanwhile, and abandons the others.
    async fn abort(&mut self, why: &str) {
        self.stopping = true;
        self.ctx.progress.line(why);
        self.ctx.commands.terminate(TERMINATION_GRACE).await;
        while let Some(joined) = self.tasks.try_join_next_with_id() {
            self.joined(joined).await;
        }
        self.abandon(|_| true, ABORTED).await;
        while self.tasks.join_next().await.is_some() {}
    }

    /// Aborts the running tasks whose steps all match `which`, journalling them as
    /// abandoned (they run again on resume).
    async fn abandon(&mut self, which: impl Fn(&Step) -> bool, why: &str) {
        let chosen: Vec<tokio::task::Id> = self
            .running
            .iter()
            .filter(|(_, (batch, _))| batch.iter().all(|&i| which(&self.steps[i])))
            .map(|(id, _)| *id)
            .collect();
        for id in chosen {
            let Some((batch, handle)) = self.running.remove(&id) else {
                continue;
            };
            handle.abort();
            self.scheduler.abort(&batch);
            journal_abandoned(self.ctx, self.steps, &batch, why).await;
        }
    }
}

/// Why a step stopped by an abort is journaled abandoned.
const ABORTED: &str =
    "aborted: drplan was told to stop (SIGTERM or a second Ctrl-C); it runs again on resume";

async fn journal_abandoned(ctx: &Context, steps: &[Step], batch: &[usize], why: &str) {
    for &i in batch {
        let _ = ctx
            .journal
            .step(&steps[i], StepEvent::Abandoned, why.to_string())
            .await;
    }
}

/// The running tasks, by id: their steps and a handle to abort them.
type Running = HashMap<tokio::task::Id, (Vec<usize>, tokio::task::AbortHandle)>;

fn is_notification(step: &Step) -> bool {
    matches!(step.action, Action::Notify { .. })
}

fn is_switch(step: &Step) -> bool {
    matches!(step.action, Action::Switch { .. })
}

/// Waits for `signal` (forever when it could not be installed).
async fn receive(signal: &mut Option<Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// Runs one step, or one batch of switch steps, journalling before and after (a
/// gate, which changes nothing, only when it is passed). The duration handed back is
/// the step's own work, without the journal writes.
async fn run_batch(ctx: Arc<Context>, steps: Arc<Vec<Step>>, batch: Vec<usize>) -> BatchDone {
    let started = SystemTime::now();
    let members: Vec<&Step> = batch.iter().map(|&i| &steps[i]).collect();
    for step in members.iter().filter(|s| !s.action.is_gate()) {
        ctx.progress.started(step);
        if let Err(error) = ctx
            .journal
            .step(step, StepEvent::Started, String::new())
            .await
        {
            return (batch, Some(Err(error.to_string())), started, Duration::ZERO);
        }
    }
    let clock = Instant::now();
    let supervisor = supervisor(&ctx, &members);
    let performed = process::supervised(supervisor, actions::perform(&ctx, &members)).await;
    if ctx.commands.terminating() {
        // Stopped by an abort, which journals the step abandoned.
        return (batch, None, started, clock.elapsed());
    }
    // Whatever a step hands back goes to the screen, the journal and the report: with
    // every resolved secret redacted.
    let result = match performed {
        Ok(detail) => Ok(ctx.redact(&detail)),
        Err(error) => Err(ctx.redact(&error.to_string())),
    };
    let worked = clock.elapsed();
    let (event, detail) = match &result {
        Ok(detail) => (StepEvent::Finished, detail.clone()),
        Err(error) => (StepEvent::Failed, error.clone()),
    };
    for step in &members {
        ctx.progress.ended(step, &result);
        ctx.journal.queue(step, event, detail.clone());
    }
    (batch, Some(result), started, worked)
}

/// Journals each command `members` start (its process group) before it is awaited.
fn supervisor(ctx: &Arc<Context>, members: &[&Step]) -> Supervisor {
    let journal = ctx.journal.clone();
    let ids: Arc<[StepId]> = members.iter().map(|s| s.id.clone()).collect();
    Supervisor {
        commands: ctx.commands.clone(),
        on_start: Arc::new(move |group| {
            let (journal, ids) = (journal.clone(), ids.clone());
            Box::pin(async move { journal.command_started(&ids, &group).await })
        }),
    }
}

impl<'a> Scheduler<'a> {
    fn new(steps: &'a [Step], finished: &HashSet<StepId>) -> Self {
        let index: HashMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let mut dependents = vec![Vec::new(); steps.len()];
        let mut missing = vec![0; steps.len()];
        for (i, step) in steps.iter().enumerate() {
            for dependency in step.depends_on.iter().filter_map(|d| index.get(d.as_str())) {
                dependents[*dependency].push(i);
                missing[i] += 1;
            }
        }
        let results = vec![
            StepResult {
                started: None,
                elapsed: None,
                outcome: Outcome::NotRun,
                detail: String::new()
            };
            steps.len()
        ];
        let levels = StepGraph::new(steps).levels();
        let mut pending_switches = HashMap::new();
        for i in (0..steps.len()).filter(|&i| is_switch(&steps[i])) {
            *pending_switches.entry(levels[i]).or_default() += 1;
        }
        let mut scheduler = Self {
            steps,
            dependents,
            missing,
            status: vec![Status::Waiting; steps.len()],
            ready: VecDeque::new(),
            ready_switches: BTreeMap::new(),
            pending_switches,
            unrecovered: steps.iter().filter(|s| !is_notification(s)).count(),
            levels,
            results,
        };
        // Mark every finished step done before releasing any dependent: releasing as we
        // go would queue a finished step whose predecessors finished too, and run it again.
        let done: Vec<usize> = (0..steps.len())
            .filter(|&i| finished.contains(&steps[i].id))
            .collect();
        for &i in &done {
            scheduler.results[i].outcome = Outcome::AlreadyDone;
            scheduler.set_status(i, Status::Done);
        }
        for &i in &done {
            for &d in &scheduler.dependents[i] {
                scheduler.missing[d] -= 1;
            }
        }
        for i in 0..steps.len() {
            scheduler.make_ready_if_free(i);
        }
        scheduler
    }

    /// Moves step `i` to `status`, keeping the counts of pending switches and of
    /// steps left before recovery.
    fn set_status(&mut self, i: usize, status: Status) {
        let was = std::mem::replace(&mut self.status[i], status);
        let pending = |s: Status| matches!(s, Status::Waiting | Status::Ready);
        if is_switch(&self.steps[i])
            && pending(was)
            && !pending(status)
            && let Some(count) = self.pending_switches.get_mut(&self.levels[i])
        {
            *count -= 1;
        }
        if status == Status::Done && was != Status::Done && !is_notification(&self.steps[i]) {
            self.unrecovered -= 1;
        }
    }

    fn make_ready_if_free(&mut self, i: usize) {
        if self.status[i] == Status::Waiting && self.missing[i] == 0 {
            self.set_status(i, Status::Ready);
            if is_switch(&self.steps[i]) {
                self.ready_switches
                    .entry(self.levels[i])
                    .or_default()
                    .push(i);
            } else {
                self.ready.push_back(i);
            }
        }
    }

    fn complete(&mut self, i: usize) {
        self.set_status(i, Status::Done);
        for d in self.dependents[i].clone() {
            self.missing[d] -= 1;
            self.make_ready_if_free(d);
        }
    }

    /// The next step to start, or the switch steps of one level once all of them
    /// are ready (or, when nothing else runs, the ones that are).
    fn next_batch(&mut self, idle: bool) -> Option<Vec<usize>> {
        while let Some(i) = self.ready.pop_front() {
            if self.status[i] == Status::Ready {
                self.set_status(i, Status::Running);
                return Some(vec![i]);
            }
        }
        for batch in self.ready_switches.values_mut() {
            batch.retain(|&i| self.status[i] == Status::Ready);
        }
        self.ready_switches.retain(|_, batch| !batch.is_empty());
        let level = *self.ready_switches.iter().find_map(|(level, ready)| {
            (idle || ready.len() == self.pending_switches[level]).then_some(level)
        })?;
        let batch = self.ready_switches.remove(&level)?;
        for &i in &batch {
            self.set_status(i, Status::Running);
        }
        Some(batch)
    }

    /// True once every step other than a notification is done.
    fn recovered(&self) -> bool {
        self.unrecovered == 0
    }

    fn finish(
        &mut self,
        batch: &[usize],
        result: &Result<String, String>,
        started: SystemTime,
        elapsed: Duration,
    ) {
        for &i in batch {
            self.results[i] = StepResult {
                started: Some(started),
                elapsed: Some(elapsed),
                outcome: match result {
                    Ok(_) => Outcome::Finished,
                    Err(error) => Outcome::Failed(error.clone()),
                },
                detail: result.clone().unwrap_or_default(),
            };
            match result {
                Ok(_) => self.complete(i),
                Err(_) => self.block_dependents(i),
            }
        }
    }

    fn abort(&mut self, batch: &[usize]) {
        for &i in batch {
            self.results[i].outcome = Outcome::Aborted;
            self.set_status(i, Status::Blocked);
        }
    }

    /// Marks everything downstream of a failed step as never running.
    fn block_dependents(&mut self, failed: usize) {
        self.set_status(failed, Status::Blocked);
        let mut stack = self.dependents[failed].clone();
        while let Some(i) = stack.pop() {
            if self.status[i] != Status::Blocked {
                self.set_status(i, Status::Blocked);
                stack.extend(self.dependents[i].iter().copied());
            }
        }
    }
}
