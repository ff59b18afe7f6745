//! The apply journal: every step transition is written to the state (through its
//! backend) before the executor goes on. One writer task owns the state; transitions
//! that arrive together are committed in one write (group commit).

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::graph::step::{Action, Step};
use crate::state::{
    AppliedPlan, JournalEntry, RunStatus, State, StateBackend, StateVersion, StepEvent,
};

/// A change to the state, committed in order.
#[derive(Debug)]
pub enum Record {
    /// A step transition; a finished `activate` also moves the service's placement.
    Step {
        entry: JournalEntry,
        action: Option<Box<Action>>,
    },
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

/// What the writer task hands back when the journal closes: the final state.
pub type Closed = tokio::task::JoinHandle<Result<State, Error>>;

impl Journal {
    /// Starts the writer over `state`, stored at `version` in `backend`.
    pub fn start(
        backend: Arc<dyn StateBackend>,
        state: State,
        version: StateVersion,
    ) -> (Self, Closed) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(writer(backend, state, version, receiver));
        (Self { sender }, task)
    }

    /// Commits `record`; returns once it is durable.
    pub async fn commit(&self, record: Record) -> Result<(), Error> {
        let (done, wait) = oneshot::channel();
        let closed = || Error::StateConflict {
            detail: "the journal writer stopped".to_string(),
        };
        self.sender
            .send(Request { record, done })
            .map_err(|_| closed())?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(detail)) => Err(Error::StateConflict { detail }),
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

    fn record(step: &Step, event: StepEvent, detail: String) -> Record {
        let entry = JournalEntry {
            step: step.id.clone(),
            event,
            at: SystemTime::now(),
            detail,
        };
        let action = (event == StepEvent::Finished).then(|| Box::new(step.action.clone()));
        Record::Step { entry, action }
    }
}

async fn writer(
    backend: Arc<dyn StateBackend>,
    mut state: State,
    mut version: StateVersion,
    mut receiver: mpsc::UnboundedReceiver<Request>,
) -> Result<State, Error> {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = receiver.try_recv() {
            batch.push(more);
        }
        for request in &batch {
            apply_record(&mut state, &request.record);
        }
        state.serial += 1;
        let result = backend.write(&state, Some(&version)).await;
        let outcome = result.as_ref().map(|_| ()).map_err(ToString::to_string);
        for request in batch {
            let _ = request.done.send(outcome.clone());
        }
        version = result?;
    }
    Ok(state)
}

/// The effect of one record on the state.
pub fn apply_record(state: &mut State, record: &Record) {
    let Some(run) = state.run.as_mut() else {
        return;
    };
    match record {
        Record::Status(status) => {
            run.status = *status;
            if *status == RunStatus::Finished {
                let applied = AppliedPlan {
                    intent: run.plan.plan.intent.name.clone(),
                    run_id: run.id.clone(),
                };
                state.last_applied = Some(applied);
            }
        }
        Record::Step { entry, action } => {
            run.journal.push(entry.clone());
            if let Some(Action::Activate {
                service, region, ..
            }) = action.as_deref()
            {
                state.placement.insert(service.clone(), region.clone());
            }
        }
    }
}

/// The ids of the steps whose last transition is `Finished`.
pub fn finished_steps(journal: &[JournalEntry]) -> std::collections::HashSet<String> {
    let mut last = std::collections::HashMap::new();
    for entry in journal {
        last.insert(entry.step.as_str(), entry.event);
    }
    last.into_iter()
        .filter(|(_, event)| *event == StepEvent::Finished)
        .map(|(step, _)| step.to_string())
        .collect()
}
