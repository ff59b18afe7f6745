//! The apply journal: every step transition is written to the state (through its
//! backend) before the executor goes on. One writer task owns the state; transitions
//! that arrive together are committed in one write (group commit), appended where the
//! backend can; a change of the run's status writes the whole state.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::graph::step::{Step, StepId};
use crate::providers::process::GroupMark;
use crate::state::spool::Spool;
use crate::state::{
    AppliedPlan, JournalEntry, RunStatus, State, StateBackend, StateVersion, StepEvent,
};

/// A change to the state, committed in order.
#[derive(Debug)]
pub enum Record {
    /// A step transition.
    Step(JournalEntry),
    /// The run's status.
    Status(RunStatus),
}

struct Request {
    record: Record,
    done: oneshot::Sender<Result<(), String>>,
}

/// A handle to the writer task.
#[derive(Clone)]
pub struct Journal {
    sender: mpsc::UnboundedSender<Request>,
}

/// What the writer task hands back when the journal closes: the final state, or the
/// error of the write that stopped it.
pub type Closed = tokio::task::JoinHandle<Result<State, Error>>;

impl Journal {
    /// Starts the writer over `state`, stored at `version` in `backend`.
    /// Transitions the backend cannot take are kept in `spool`.
    pub fn start(
        backend: Arc<dyn StateBackend>,
        state: State,
        version: StateVersion,
        spool: Spool,
    ) -> (Self, Closed) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(writer(backend, state, version, receiver, spool));
        (Self { sender }, task)
    }

    /// Commits `record`; returns once it is durable.
    pub async fn commit(&self, record: Record) -> Result<(), Error> {
        let (done, wait) = oneshot::channel();
        let closed = || Error::Unrecorded {
            detail: "an earlier write of the journal failed".to_string(),
        };
        self.sender
            .send(Request { record, done })
            .map_err(|_| closed())?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(detail)) => Err(Error::Unrecorded { detail }),
            Err(_) => Err(closed()),
        }
    }

    /// Records a transition of `step`; returns once it is durable.
    pub async fn step(&self, step: &Step, event: StepEvent, detail: String) -> Result<(), Error> {
        self.commit(Self::record(step, event, detail)).await
    }

    /// Queues a transition of `step` without waiting for it. The writer commits in
    /// order, so any later transition that is awaited (a dependent's `started`, the
    /// run's status) is durable only after this one: a step still never acts before
    /// its predecessors' `finished` is on disk. A failed write fails that later one.
    pub fn queue(&self, step: &Step, event: StepEvent, detail: String) {
        let (done, _) = oneshot::channel();
        let _ = self.sender.send(Request {
            record: Self::record(step, event, detail),
            done,
        });
    }

    /// Records that each of `steps` started the command of process group `group`;
    /// returns once it is durable.
    pub async fn command_started(&self, steps: &[StepId], group: &GroupMark) -> Result<(), Error> {
        for step in steps {
            self.commit(Record::Step(JournalEntry {
                step: step.clone(),
                event: StepEvent::CommandStarted,
                at: SystemTime::now(),
                detail: format!("process group {}", group.pgid),
                group: Some(group.clone()),
            }))
            .await?;
        }
        Ok(())
    }

    /// Records that `step` is about to send its notification; returns once it is durable.
    pub async fn sending(&self, step: &Step, detail: String) -> Result<(), Error> {
        self.step(step, StepEvent::Sending, detail).await
    }

    fn record(step: &Step, event: StepEvent, detail: String) -> Record {
        Record::Step(JournalEntry {
            step: step.id.clone(),
            event,
            at: SystemTime::now(),
            detail,
            group: None,
        })
    }
}

/// Commits what arrives. Once a write fails, every later transition (the ends of the
/// steps still running) goes to the spool instead, and whoever waits is refused, so no
/// step starts; the writer ends with the error of that write.
async fn writer(
    backend: Arc<dyn StateBackend>,
    mut state: State,
    mut version: StateVersion,
    mut receiver: mpsc::UnboundedReceiver<Request>,
    spool: Spool,
) -> Result<State, Error> {
    let mut failure: Option<(Error, bool)> = None;
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = receiver.try_recv() {
            batch.push(more);
        }
        let outcome = match &mut failure {
            Some((error, spooled)) => {
                *spooled &= keep(&spool, &state, &batch);
                Err(error.to_string())
            }
            None => match commit(backend.as_ref(), &mut state, &version, &batch).await {
                Ok(stored) => {
                    version = stored;
                    Ok(())
                }
                Err(error) => {
                    let outcome = Err(error.to_string());
                    failure = Some((error, keep(&spool, &state, &batch)));
                    outcome
                }
            },
        };
        for request in batch {
            let _ = request.done.send(outcome.clone());
        }
    }
    match failure {
        None => Ok(state),
        Some((cause, spooled)) => Err(Error::JournalFailed {
            cause: Box::new(cause),
            spool: spooled.then(|| spool.path().to_path_buf()),
        }),
    }
}

/// Keeps the step transitions of `batch` in `spool`; false when even that failed.
fn keep(spool: &Spool, state: &State, batch: &[Request]) -> bool {
    let entries: Vec<JournalEntry> = batch
        .iter()
        .filter_map(|request| match &request.record {
            Record::Step(entry) => Some(entry.clone()),
            Record::Status(_) => None,
        })
        .collect();
    let run = state.run.as_ref().map_or("", |run| run.id.as_str());
    entries.is_empty() || spool.keep(run, &entries).is_ok()
}

/// Applies `batch` to `state` and stores it as one write: an append of its step
/// transitions, or the whole state when the run's status changes (which compacts).
async fn commit(
    backend: &dyn StateBackend,
    state: &mut State,
    version: &StateVersion,
    batch: &[Request],
) -> Result<StateVersion, Error> {
    let mut entries = Vec::new();
    let mut status_changed = false;
    for request in batch {
        match &request.record {
            Record::Step(entry) => entries.push(entry.clone()),
            Record::Status(status) => {
                status_changed = true;
                set_status(state, *status);
            }
        }
    }
    for entry in &entries {
        state.record(entry.clone());
    }
    state.serial += 1;
    if status_changed {
        backend.write(state, Some(version)).await
    } else {
        backend.append(state, &entries, version).await
    }
}

/// Sets the run's status; a finished run becomes the last applied plan.
fn set_status(state: &mut State, status: RunStatus) {
    let Some(run) = state.run.as_mut() else {
        return;
    };
    run.status = status;
    if status == RunStatus::Finished {
        state.last_applied = Some(AppliedPlan {
            intent: run.plan.plan.intent.name.clone(),
            run_id: run.id.clone(),
        });
    }
}

/// The ids of the steps whose last transition is `Finished`.
pub fn finished_steps(journal: &[JournalEntry]) -> HashSet<StepId> {
    steps_last(journal, StepEvent::Finished)
}

/// A step in flight when the run stopped without recording how it ended.
#[derive(Debug, Default)]
pub struct InFlight {
    /// The process groups of the commands it started.
    pub groups: Vec<GroupMark>,
    /// Its notification was (or was about to be) sent.
    pub sending: bool,
}

/// The steps in flight when the run stopped without recording how they ended (a
/// crash or kill -9): started, and not finished, failed or abandoned since.
pub fn in_flight_steps(journal: &[JournalEntry]) -> BTreeMap<StepId, InFlight> {
    let mut in_flight: BTreeMap<StepId, InFlight> = BTreeMap::new();
    for entry in journal {
        match entry.event {
            StepEvent::Started => {
                in_flight.insert(entry.step.clone(), InFlight::default());
            }
            StepEvent::Retrying => {
                in_flight.entry(entry.step.clone()).or_default();
            }
            StepEvent::CommandStarted => {
                let step = in_flight.entry(entry.step.clone()).or_default();
                step.groups.extend(entry.group.clone());
            }
            StepEvent::Sending => {
                in_flight.entry(entry.step.clone()).or_default().sending = true;
            }
            StepEvent::Finished | StepEvent::Failed | StepEvent::Abandoned => {
                in_flight.remove(&entry.step);
            }
        }
    }
    in_flight
}

fn steps_last(journal: &[JournalEntry], wanted: StepEvent) -> HashSet<StepId> {
    let mut last = HashMap::new();
    for entry in journal {
        last.insert(&entry.step, entry.event);
    }
    last.into_iter()
        .filter(|(_, event)| *event == wanted)
        .map(|(step, _)| step.clone())
        .collect()
}
