//! State: per environment, where each service is active, the last applied plan and
//! the apply journal, with a lineage (fixed at creation) and a serial (bumped on every
//! write). Backends: a local file under `.drplan/state/` and an S3 object; both lock,
//! and both keep each watcher's published observations beside the state.
//! What a backend could not take mid-run waits in a local spool.

pub mod local;
pub mod observations;
pub mod s3;
pub mod spool;

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::time::{Instant, sleep};

use crate::error::Error;
use crate::graph::step::{Action, StepId};
use crate::plan::file::{PlanFile, StateRef};
use crate::providers::process::GroupMark;
use observations::Observations;

/// The state of one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub environment: String,
    /// A random id given when the state is created; never changes.
    pub lineage: String,
    /// Bumped on every write.
    pub serial: u64,
    /// Service → the region it is active in.
    pub placement: BTreeMap<String, String>,
    /// The run in progress or last run: its plan and journal.
    pub run: Option<Run>,
    /// The last plan that finished applying: its intent name and run id.
    pub last_applied: Option<AppliedPlan>,
}

impl State {
    /// A new state with a fresh lineage and serial 0.
    pub fn new(environment: &str) -> Self {
        Self {
            environment: environment.to_string(),
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            placement: BTreeMap::new(),
            run: None,
            last_applied: None,
        }
    }

    /// How a plan refers to this state; `written` is false for a state not yet stored
    /// (it has no lineage anyone could have seen).
    pub fn reference(&self, written: bool) -> StateRef {
        StateRef {
            lineage: written.then(|| self.lineage.clone()),
            serial: self.serial,
        }
    }

    /// Adds `entry` to the run's journal; a finished `activate` step also moves its
    /// service's placement. The one place a transition changes the state, whether it
    /// is being made or read back from a backend's journal log.
    pub fn record(&mut self, entry: JournalEntry) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        if entry.event == StepEvent::Finished {
            let step = run.index.position(&run.plan, &entry.step);
            if let Some(Action::Activate {
                service, region, ..
            }) = step.map(|i| &run.plan.plan.steps[i].action)
            {
                self.placement.insert(service.clone(), region.clone());
            }
        }
        run.journal.push(entry);
    }
}

/// Where each step of a run's plan is, by id: built on first use, so that recording a
/// transition costs the same in a plan of 20 steps as in one of 20,000. Not stored,
/// and never part of a comparison.
#[derive(Debug, Clone, Default)]
pub struct StepIndex(OnceLock<HashMap<StepId, usize>>);

impl StepIndex {
    /// The position of `step` among the steps of `plan`.
    fn position(&self, plan: &PlanFile, step: &StepId) -> Option<usize> {
        let index = self.0.get_or_init(|| {
            plan.plan
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.clone(), i))
                .collect()
        });
        index.get(step).copied()
    }
}

impl PartialEq for StepIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// One apply: the plan it runs and every transition of its steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub plan: PlanFile,
    #[serde(with = "crate::timestamp")]
    pub started: SystemTime,
    pub status: RunStatus,
    pub journal: Vec<JournalEntry>,
    #[serde(skip)]
    pub index: StepIndex,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Running,
    Interrupted,
    Failed,
    Finished,
}

impl RunStatus {
    /// `running`, `interrupted`, `failed`, `finished`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Interrupted => "interrupted",
            Self::Failed => "failed",
            Self::Finished => "finished",
        }
    }
}

/// One transition of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub step: StepId,
    pub event: StepEvent,
    #[serde(with = "crate::timestamp")]
    pub at: SystemTime,
    /// Command output or error text (secrets redacted).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The process group of a command the step started (`command-started`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupMark>,
}

/// A step transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepEvent {
    Started,
    /// The step started a command, whose process group is recorded: a resume stops
    /// it before the step runs again.
    CommandStarted,
    /// A notification is about to be sent: a resume does not send it again.
    Sending,
    Finished,
    Failed,
    /// Started before a crash or an abort and never finished: it runs again on resume.
    Abandoned,
    /// An attempt failed and the step tries again after a backoff; still in flight.
    Retrying,
}

/// The last plan applied to completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedPlan {
    pub intent: String,
    pub run_id: String,
}

/// Who holds a lock, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    /// `user@host`.
    pub who: String,
    pub operation: String,
    pub pid: u32,
    #[serde(with = "crate::timestamp")]
    pub created: SystemTime,
    /// When the holder last renewed its lease ([`LOCK_LEASE`]); `None` for a holder
    /// that does not renew (a drplan before leases), which is never judged from another
    /// host.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::timestamp::optional"
    )]
    pub renewed: Option<SystemTime>,
}

/// How long a lock held on another host stands without being renewed: its holder
/// renews it every quarter of this while it runs, so a lock older than this belongs to
/// a holder that died (or lost the state backend), and may be taken over.
pub const LOCK_LEASE: Duration = Duration::from_mins(2);

impl LockInfo {
    /// A lock for `operation` held by this process.
    pub fn new(operation: &str) -> Self {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".to_string());
        let host = hostname();
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            who: format!("{user}@{host}"),
            operation: operation.to_string(),
            pid: std::process::id(),
            created: SystemTime::now(),
            renewed: Some(SystemTime::now()),
        }
    }
}

impl LockInfo {
    /// True when the holder is gone and the lock may be taken over: on this host, its
    /// process no longer runs (a crashed or killed apply); on another host, it has not
    /// renewed its lease for [`LOCK_LEASE`]. A holder elsewhere that does not renew is
    /// never judged from here.
    pub fn is_stale(&self) -> bool {
        if self.who.ends_with(&format!("@{}", hostname())) {
            return !process_alive(self.pid);
        }
        self.renewed.is_some_and(|renewed| {
            SystemTime::now()
                .duration_since(renewed)
                .is_ok_and(|age| age > LOCK_LEASE)
        })
    }

    /// The error a second operation gets while this lock is held.
    pub fn locked_error(&self, environment: &str) -> Error {
        Error::Locked {
            environment: environment.to_string(),
            who: self.who.clone(),
            since: humantime::format_rfc3339_seconds(self.created).to_string(),
            operation: self.operation.clone(),
            id: self.id.clone(),
        }
    }
}

/// Whether a process with this id exists (signal 0 checks without sending anything).
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 sends nothing; it only reports whether `pid` exists.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".to_string())
}

/// An opaque version of a stored state (local: the serial; S3: the `ETag`), used to
/// refuse a write over a state someone else changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateVersion(pub String);

/// Where state is kept and how it is locked.
#[async_trait]
pub trait StateBackend: Send + Sync {
    /// The stored state and its version, or `None` when there is none yet.
    async fn read(&self) -> Result<Option<(State, StateVersion)>, Error>;

    /// Writes `state` if the stored version is still `expected` (`None`: nothing
    /// stored yet); returns the new version. Fails with [`Error::StateConflict`] otherwise.
    async fn write(
        &self,
        state: &State,
        expected: Option<&StateVersion>,
    ) -> Result<StateVersion, Error>;

    /// Stores `state`, whose run's journal ends with `entries`, a group of step
    /// transitions made since the version `expected` was stored; returns the new
    /// version. It must be durable when this returns. Backends that can append (the
    /// local file) write only `entries`; the others write the whole state.
    async fn append(
        &self,
        state: &State,
        _entries: &[JournalEntry],
        expected: &StateVersion,
    ) -> Result<StateVersion, Error> {
        self.write(state, Some(expected)).await
    }

    /// Takes the lock, or fails at once with [`Error::Locked`] naming the holder.
    async fn lock(&self, info: &LockInfo) -> Result<(), Error>;

    /// Releases a lock this process holds.
    async fn unlock(&self, id: &str) -> Result<(), Error>;

    /// Removes the lock if its id is `id`; fails with [`Error::LockMismatch`] otherwise.
    async fn force_unlock(&self, id: &str) -> Result<(), Error>;

    /// The current lock holder, if any.
    async fn lock_holder(&self) -> Result<Option<LockInfo>, Error>;

    /// Stores `info` (with its `renewed` time) over the lock, if the lock is still
    /// `info`'s; a lock taken over meanwhile is left alone.
    async fn renew(&self, info: &LockInfo) -> Result<(), Error>;

    /// Replaces what the watcher `observations.watcher` published before.
    async fn publish(&self, observations: &Observations) -> Result<(), Error>;

    /// Every watcher's latest observations, by watcher name.
    async fn observations(&self) -> Result<Vec<Observations>, Error>;

    /// Claims `name` for the watcher `by`: true for the first claim of that name ever
    /// made, false for every later one (an atomic create-if-absent), so that of several
    /// watchers deciding the same thing exactly one acts on it.
    async fn claim(&self, name: &str, by: &str) -> Result<bool, Error>;
}

/// How often [`acquire`] tries again while someone else holds the lock.
const LOCK_RETRY_INTERVAL: Duration = Duration::from_millis(250);

/// Takes the lock, trying again every 250 ms while someone else holds it, for at most
/// `timeout` (zero: a single attempt). When the time is up, returns the last
/// [`Error::Locked`]; any other error is returned at once.
pub async fn acquire(
    backend: &dyn StateBackend,
    info: &LockInfo,
    timeout: Duration,
) -> Result<(), Error> {
    let deadline = Instant::now().checked_add(timeout);
    loop {
        let result = backend.lock(info).await;
        let remaining = deadline.map_or(LOCK_RETRY_INTERVAL, |d| {
            d.saturating_duration_since(Instant::now())
        });
        match result {
            Err(Error::Locked { .. }) if !remaining.is_zero() => {
                sleep(LOCK_RETRY_INTERVAL.min(remaining)).await;
            }
            result => return result,
        }
    }
}
