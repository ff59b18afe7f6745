//! The local state backend: the state of an environment in one JSON file under
//! `.drplan/state/`, written atomically (temp file in the same directory, fsync,
//! rename), guarded by a lock file next to it that is created only if absent.
//!
//! During an apply, step transitions are appended to a journal log next to it (one
//! JSON line per group, fdatasync'd) instead of rewriting the whole state each time;
//! reading the state replays the log, and the next whole write compacts it away.
//!
//! A lock left behind by a process of this host that no longer runs (a crashed or
//! killed apply) is reclaimed ([`LockInfo::is_stale`]), so `apply --resume` needs no
//! `force-unlock`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use super::observations::{Observations, entry_name};
use super::{JournalEntry, LockInfo, State, StateBackend, StateVersion};
use crate::error::Error;
use crate::fsio::{
    Durability, parent, read_optional, sync_parent, temp_file, to_json, write_error,
    write_json_atomic,
};

/// The state of one environment in a local file.
#[derive(Debug, Clone)]
pub struct LocalState {
    environment: String,
    /// The state file (JSON).
    path: PathBuf,
    /// The lock file: the state file's name with the extension `.lock`.
    lock: PathBuf,
    /// The journal log: the state file's name with the extension `.journal`.
    log: PathBuf,
}

/// One line of the journal log: a group of transitions of run `run`, which took the
/// state to serial `serial` (`E`: the transitions, or [`IgnoredAny`] to read only the
/// serial).
#[derive(Debug, Serialize, Deserialize)]
struct LogLine<E = Vec<JournalEntry>> {
    run: String,
    serial: u64,
    entries: E,
}

/// What the version check reads of a stored state: its serial and its run's id, not
/// the plan and journal it holds.
#[derive(Debug, Deserialize)]
struct Stored {
    serial: u64,
    run: Option<StoredRun>,
}

#[derive(Debug, Deserialize)]
struct StoredRun {
    id: String,
}

impl LocalState {
    /// The state of `environment` at its usual place (`.drplan/state/<environment>.json`).
    pub fn new(environment: &str) -> Self {
        Self::at(environment, crate::paths::state_file(environment))
    }

    /// The state of `environment` in the file `path`.
    pub fn at(environment: &str, path: PathBuf) -> Self {
        Self {
            environment: environment.to_string(),
            lock: path.with_extension("lock"),
            log: path.with_extension("journal"),
            path,
        }
    }

    /// The state file with the journal log replayed onto it: the state as the last
    /// durable commit left it, also while a run is appending.
    pub fn read_now(&self) -> Result<Option<State>, Error> {
        let Some(mut state) = read_json::<State>(&self.path)? else {
            return Ok(None);
        };
        if let Some(log) = read_optional(&self.log)? {
            replay(&mut state, &log);
        }
        Ok(Some(state))
    }

    /// The version [`read_now`](Self::read_now) would give, without building the
    /// state: the version check of a whole write costs no copy of a large run.
    fn stored_version(&self) -> Result<Option<StateVersion>, Error> {
        let Some(stored) = read_json::<Stored>(&self.path)? else {
            return Ok(None);
        };
        let mut serial = stored.serial;
        if let (Some(run), Some(log)) = (stored.run, read_optional(&self.log)?)
            && let Some(last) = continuing::<IgnoredAny>(&log, &run.id, serial).last()
        {
            serial = last.serial;
        }
        Ok(Some(StateVersion(serial.to_string())))
    }

    /// The directory of the watchers' observations: `<state>.watchers/`.
    fn watchers(&self) -> PathBuf {
        self.path.with_extension("watchers")
    }

    fn remove_log(&self) -> Result<(), Error> {
        remove_if_present(&self.log)
    }

    fn read_lock(&self) -> Result<Option<LockInfo>, Error> {
        read_json(&self.lock)
    }

    /// Creates the lock file holding `info`; `false` when a lock file already exists.
    /// The file is written and synced under a temporary name first, then moved into
    /// place only if nothing is there, so a lock file is never seen half written.
    fn create_lock(&self, info: &LockInfo) -> Result<bool, Error> {
        create_new(&self.lock, info)
    }

    fn remove_lock(&self) -> Result<(), Error> {
        remove_if_present(&self.lock)
    }
}

/// Creates the file `path` holding `value` as JSON, durably; `false` when it exists.
fn create_new<T: Serialize>(path: &Path, value: &T) -> Result<bool, Error> {
    let bytes = to_json(path, value)?;
    let file = temp_file(path, &bytes, Durability::PowerLoss)?;
    match file.persist_noclobber(path) {
        Ok(_) => sync_parent(path).map(|()| true),
        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(write_error(path, error.error)),
    }
}

/// Appends `line` to the journal log at `log` and syncs it; a log created here also has
/// its directory synced, so that the file itself survives a power loss. The log is
/// created readable by its owner only, and a symbolic link in its place is refused.
pub(super) fn append_line(log: &Path, line: &[u8]) -> std::io::Result<()> {
    let open = |create| {
        std::fs::OpenOptions::new()
            .append(true)
            .create_new(create)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(log)
    };
    let (mut file, created) = match open(false) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => (open(true)?, true),
        opened => (opened?, false),
    };
    file.write_all(line)?;
    file.sync_data()?;
    if created {
        std::fs::File::open(parent(log))?.sync_all()?;
    }
    Ok(())
}

/// Applies the lines of `log` that continue `state` ([`continuing`]).
fn replay(state: &mut State, log: &str) {
    let Some(run) = state.run.as_ref().map(|run| run.id.clone()) else {
        return;
    };
    for line in continuing::<Vec<JournalEntry>>(log, &run, state.serial) {
        for entry in line.entries {
            state.record(entry);
        }
        state.serial = line.serial;
    }
}

/// The lines of `log` that continue a state of run `run` at `serial`: those of its run
/// whose serials follow one by one. Lines at or below its serial were compacted into
/// it already; a torn last line (a crash in the middle of an append) was never
/// acknowledged, so nothing acted on it.
fn continuing<E: DeserializeOwned>(log: &str, run: &str, mut serial: u64) -> Vec<LogLine<E>> {
    let mut lines = Vec::new();
    for line in log.lines() {
        let Ok(line) = serde_json::from_str::<LogLine<E>>(line) else {
            break;
        };
        if line.serial <= serial {
            continue;
        }
        if line.run != run || line.serial != serial + 1 {
            break;
        }
        serial = line.serial;
        lines.push(line);
    }
    lines
}

fn remove_if_present(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(write_error(path, error)),
        _ => Ok(()),
    }
}

#[async_trait]
impl StateBackend for LocalState {
    async fn read(&self) -> Result<Option<(State, StateVersion)>, Error> {
        Ok(self.read_now()?.map(|state| {
            let version = version_of(&state);
            (state, version)
        }))
    }

    /// Writes `state` as it is: the caller bumps `serial` before writing, and the
    /// returned version is that serial. The check against `expected` guards against a
    /// writer that skipped the lock; the lock is what keeps two writers apart.
    async fn write(
        &self,
        state: &State,
        expected: Option<&StateVersion>,
    ) -> Result<StateVersion, Error> {
        let stored = self.stored_version()?;
        if stored.as_ref() != expected {
            let describe = |version: Option<&StateVersion>| {
                version.map_or_else(|| "no state".to_string(), |v| format!("serial {}", v.0))
            };
            return Err(Error::StateConflict {
                detail: format!(
                    "expected {} in {}, found {}",
                    describe(expected),
                    self.path.display(),
                    describe(stored.as_ref())
                ),
            });
        }
        write_json_atomic(&self.path, state, Durability::PowerLoss)?;
        self.remove_log()?;
        Ok(version_of(state))
    }

    /// Appends one line to the journal log, on a blocking thread so that the sync never
    /// holds up the steps running meanwhile. Unlike [`write`](Self::write) it does not
    /// read the stored state to compare versions: only the lock holder's journal
    /// writer appends, right after a whole write of its own.
    async fn append(
        &self,
        state: &State,
        entries: &[JournalEntry],
        _expected: &StateVersion,
    ) -> Result<StateVersion, Error> {
        let run = state
            .run
            .as_ref()
            .map(|run| run.id.clone())
            .unwrap_or_default();
        let line = LogLine {
            run,
            serial: state.serial,
            entries: entries.to_vec(),
        };
        let mut bytes = serde_json::to_vec(&line)
            .map_err(|error| write_error(&self.log, std::io::Error::other(error)))?;
        bytes.push(b'\n');
        let log = self.log.clone();
        tokio::task::spawn_blocking(move || append_line(&log, &bytes))
            .await
            .unwrap_or_else(|error| Err(std::io::Error::other(error)))
            .map_err(|source| write_error(&self.log, source))?;
        Ok(version_of(state))
    }

    async fn lock(&self, info: &LockInfo) -> Result<(), Error> {
        if self.create_lock(info)? {
            return Ok(());
        }
        if let Some(holder) = self.read_lock()? {
            if !holder.is_stale() {
                return Err(holder.locked_error(&self.environment));
            }
            self.remove_lock()?;
        }
        if self.create_lock(info)? {
            return Ok(());
        }
        match self.read_lock()? {
            Some(holder) => Err(holder.locked_error(&self.environment)),
            None => Err(Error::StateConflict {
                detail: format!(
                    "the lock {} changed hands while it was being taken",
                    self.lock.display()
                ),
            }),
        }
    }

    async fn unlock(&self, id: &str) -> Result<(), Error> {
        match self.read_lock()? {
            Some(holder) if holder.id == id => self.remove_lock(),
            _ => Ok(()),
        }
    }

    async fn force_unlock(&self, id: &str) -> Result<(), Error> {
        match self.read_lock()? {
            Some(holder) if holder.id == id => self.remove_lock(),
            holder => Err(Error::LockMismatch {
                given: id.to_string(),
                holder: holder.map(|h| h.id),
            }),
        }
    }

    async fn lock_holder(&self) -> Result<Option<LockInfo>, Error> {
        self.read_lock()
    }

    async fn renew(&self, info: &LockInfo) -> Result<(), Error> {
        match self.read_lock()? {
            Some(holder) if holder.id == info.id => {
                write_json_atomic(&self.lock, info, Durability::PowerLoss)
            }
            _ => Ok(()),
        }
    }

    /// Each watcher's observations are a file of their own in `<state>.watchers/`,
    /// written atomically and readable by their owner only.
    async fn publish(&self, observations: &Observations) -> Result<(), Error> {
        let path = self.watchers().join(entry_name(&observations.watcher));
        write_json_atomic(&path, observations, Durability::ProcessKill)
    }

    /// A claim is a file of its own in `<state>.claims/`, created only if absent.
    async fn claim(&self, name: &str, by: &str) -> Result<bool, Error> {
        let path = self
            .path
            .with_extension("claims")
            .join(format!("{name}.json"));
        create_new(&path, &serde_json::json!({ "by": by }))
    }

    async fn observations(&self) -> Result<Vec<Observations>, Error> {
        let dir = self.watchers();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(Error::Read { path: dir, source }),
        };
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry.map_err(|source| Error::Read {
                path: dir.clone(),
                source,
            })?;
            paths.push(path.path());
        }
        paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
        paths.sort();
        let read = paths.iter().map(|path| read_json::<Observations>(path));
        Ok(read
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect())
    }
}

fn version_of(state: &State) -> StateVersion {
    StateVersion(state.serial.to_string())
}

/// Reads and parses a JSON file; `None` when it does not exist. A file that does not
/// parse is [`Error::CorruptState`]: it is reported, never overwritten.
fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, Error> {
    let Some(text) = read_optional(path)? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|error| Error::CorruptState {
            path: path.to_path_buf(),
            detail: error.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use tempfile::TempDir;

    use super::*;
    use crate::graph::step::Action;
    use crate::observe::ActualState;
    use crate::plan::file::PlanFile;
    use crate::plan::{Intent, Plan};
    use crate::state::{Run, RunStatus, StepEvent, StepIndex, hostname};

    fn backend(dir: &TempDir) -> LocalState {
        LocalState::at("example", dir.path().join("state").join("example.json"))
    }

    /// The id of the lock holder (timestamps lose their sub-millisecond part on disk).
    async fn holder_id(backend: &LocalState) -> Option<String> {
        backend.lock_holder().await.unwrap().map(|holder| holder.id)
    }

    #[tokio::test]
    async fn a_missing_state_reads_as_none() {
        let dir = TempDir::new().unwrap();
        assert_eq!(backend(&dir).read().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_written_state_reads_back_with_its_serial_as_version() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let mut state = State::new("example");
        state
            .placement
            .insert("api".to_string(), "eu-west-1".to_string());

        let first = backend.write(&state, None).await.unwrap();
        assert_eq!(first, StateVersion("0".to_string()));
        state.serial += 1;
        let second = backend.write(&state, Some(&first)).await.unwrap();

        assert_eq!(second, StateVersion("1".to_string()));
        assert_eq!(backend.read().await.unwrap(), Some((state, second)));
    }

    #[tokio::test]
    async fn a_write_against_a_stale_version_conflicts() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let mut state = State::new("example");
        let first = backend.write(&state, None).await.unwrap();
        state.serial += 1;
        backend.write(&state, Some(&first)).await.unwrap();

        state.serial += 1;
        let conflict = backend.write(&state, Some(&first)).await.unwrap_err();
        assert!(
            matches!(&conflict, Error::StateConflict { detail } if detail.contains("expected serial 0") && detail.contains("found serial 1"))
        );
        let fresh = backend.write(&state, None).await.unwrap_err();
        assert!(matches!(fresh, Error::StateConflict { .. }));
    }

    #[tokio::test]
    async fn a_corrupt_state_is_reported_and_kept() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        std::fs::write(&backend.path, "{ not json").unwrap();

        assert!(matches!(
            backend.read().await,
            Err(Error::CorruptState { .. })
        ));
        let write = backend.write(&State::new("example"), None).await;
        assert!(matches!(write, Err(Error::CorruptState { .. })));
        assert_eq!(
            std::fs::read_to_string(&backend.path).unwrap(),
            "{ not json"
        );
    }

    #[tokio::test]
    async fn a_second_lock_fails_naming_the_holder() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let first = LockInfo::new("apply");
        backend.lock(&first).await.unwrap();

        let error = backend.lock(&LockInfo::new("apply")).await.unwrap_err();
        let Error::Locked {
            environment,
            who,
            operation,
            id,
            ..
        } = error
        else {
            panic!("expected Locked, got {error:?}")
        };
        assert_eq!(
            (environment, who, operation, id),
            (
                "example".to_string(),
                first.who.clone(),
                "apply".to_string(),
                first.id.clone()
            )
        );
        assert_eq!(holder_id(&backend).await, Some(first.id.clone()));
    }

    #[tokio::test]
    async fn unlock_releases_only_the_matching_lock() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let info = LockInfo::new("apply");
        backend.lock(&info).await.unwrap();

        backend.unlock("someone-else").await.unwrap();
        assert_eq!(holder_id(&backend).await, Some(info.id.clone()));
        backend.unlock(&info.id).await.unwrap();
        assert_eq!(holder_id(&backend).await, None);
        backend.unlock(&info.id).await.unwrap();
    }

    #[tokio::test]
    async fn a_lock_of_a_dead_process_on_this_host_is_reclaimed() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = child.id();
        child.wait().unwrap();
        let crashed = LockInfo {
            id: "crashed".to_string(),
            who: format!("someone@{}", hostname()),
            operation: "apply".to_string(),
            pid: dead_pid,
            created: SystemTime::now() - Duration::from_mins(1),
            renewed: None,
        };
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        std::fs::write(&backend.lock, serde_json::to_vec(&crashed).unwrap()).unwrap();

        let info = LockInfo::new("apply --resume");
        backend.lock(&info).await.unwrap();
        assert_eq!(holder_id(&backend).await, Some(info.id.clone()));
    }

    #[tokio::test]
    async fn a_lock_held_on_another_host_is_not_reclaimed() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let elsewhere = LockInfo {
            who: "someone@elsewhere.invalid".to_string(),
            pid: u32::MAX,
            ..LockInfo::new("apply")
        };
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        std::fs::write(&backend.lock, serde_json::to_vec(&elsewhere).unwrap()).unwrap();

        assert!(
            matches!(backend.lock(&LockInfo::new("apply")).await, Err(Error::Locked { id, .. }) if id == elsewhere.id)
        );
    }

    #[tokio::test]
    async fn a_lock_on_another_host_is_reclaimed_once_its_lease_ran_out() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let elsewhere = |renewed: Option<SystemTime>| LockInfo {
            who: "someone@elsewhere.invalid".to_string(),
            pid: u32::MAX,
            renewed,
            ..LockInfo::new("apply")
        };
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        let lease_ran_out = SystemTime::now() - crate::state::LOCK_LEASE - Duration::from_secs(1);
        for (holder, reclaimed) in [
            (elsewhere(Some(SystemTime::now())), false),
            (elsewhere(None), false),
            (elsewhere(Some(lease_ran_out)), true),
        ] {
            std::fs::write(&backend.lock, serde_json::to_vec(&holder).unwrap()).unwrap();
            let info = LockInfo::new("apply --resume");
            let taken = backend.lock(&info).await.is_ok();
            assert_eq!(taken, reclaimed, "renewed {:?}", holder.renewed);
        }
    }

    #[tokio::test]
    async fn the_holder_renews_its_lease_and_never_anothers() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let mut info = LockInfo::new("apply");
        backend.lock(&info).await.unwrap();
        let later = SystemTime::now() + Duration::from_secs(30);
        info.renewed = Some(later);
        backend.renew(&info).await.unwrap();
        let holder = backend.lock_holder().await.unwrap().unwrap();
        assert_eq!(holder.id, info.id);
        assert_eq!(
            holder
                .renewed
                .map(|t| humantime::format_rfc3339_millis(t).to_string()),
            Some(humantime::format_rfc3339_millis(later).to_string())
        );

        let other = LockInfo::new("apply");
        backend.renew(&other).await.unwrap();
        assert_eq!(holder_id(&backend).await, Some(info.id));
    }

    #[tokio::test]
    async fn force_unlock_needs_the_holders_id() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let info = LockInfo::new("apply");
        backend.lock(&info).await.unwrap();

        let wrong = backend.force_unlock("wrong").await.unwrap_err();
        assert!(
            matches!(wrong, Error::LockMismatch { given, holder } if given == "wrong" && holder == Some(info.id.clone()))
        );
        backend.force_unlock(&info.id).await.unwrap();
        assert_eq!(holder_id(&backend).await, None);
    }

    #[tokio::test]
    async fn acquire_waits_for_the_timeout_then_reports_the_holder() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let holder = LockInfo::new("apply");
        backend.lock(&holder).await.unwrap();

        let started = std::time::Instant::now();
        let error = crate::state::acquire(
            &backend,
            &LockInfo::new("apply"),
            Duration::from_millis(600),
        )
        .await;
        assert!(started.elapsed() >= Duration::from_millis(600));
        assert!(matches!(error, Err(Error::Locked { id, .. }) if id == holder.id));

        let started = std::time::Instant::now();
        let error = crate::state::acquire(&backend, &LockInfo::new("apply"), Duration::ZERO).await;
        assert!(started.elapsed() < Duration::from_millis(200));
        assert!(matches!(error, Err(Error::Locked { .. })));
    }

    #[tokio::test]
    async fn acquire_takes_the_lock_once_it_is_released() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let holder = LockInfo::new("apply");
        backend.lock(&holder).await.unwrap();
        let releaser = backend.clone();
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            releaser.unlock(&holder.id).await
        });

        let waiter = LockInfo::new("apply");
        crate::state::acquire(&backend, &waiter, Duration::from_secs(5))
            .await
            .unwrap();
        release.await.unwrap().unwrap();
        assert_eq!(holder_id(&backend).await, Some(waiter.id.clone()));
    }

    /// A state at serial 1 running the example's region-outage failover.
    fn running_state() -> State {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/example.toml");
        let loaded = crate::model::load(&path).unwrap();
        let scenario = loaded.env.scenario("region-outage").unwrap();
        let actual = ActualState::nominal(&loaded.env);
        let plan = Plan::build(&loaded.env, Intent::Scenario(scenario), &actual);
        let plan = PlanFile::new(plan, &loaded, true, None, None);
        let mut state = State::new("example");
        state.serial = 1;
        state.run = Some(Run {
            id: "run-1".to_string(),
            plan,
            started: SystemTime::UNIX_EPOCH,
            status: RunStatus::Running,
            journal: Vec::new(),
            index: StepIndex::default(),
        });
        state
    }

    /// Transitions of the run's first `activate` step: (its service, region, entries).
    fn activation(state: &State) -> (String, String, Vec<JournalEntry>) {
        let run = state.run.as_ref().unwrap();
        let (step, service, region) = run
            .plan
            .plan
            .steps
            .iter()
            .find_map(|step| match &step.action {
                Action::Activate {
                    service, region, ..
                } => Some((step.id.clone(), service.clone(), region.clone())),
                _ => None,
            })
            .unwrap();
        let entry = |event| JournalEntry {
            step: step.clone(),
            event,
            at: SystemTime::UNIX_EPOCH,
            detail: String::new(),
            group: None,
        };
        let entries = vec![entry(StepEvent::Started), entry(StepEvent::Finished)];
        (service, region, entries)
    }

    /// Appends each entry as its own group, as the journal writer would.
    async fn append_each(backend: &LocalState, state: &mut State, entries: &[JournalEntry]) {
        for entry in entries {
            let version = version_of(state);
            state.record(entry.clone());
            state.serial += 1;
            let appended = backend
                .append(state, std::slice::from_ref(entry), &version)
                .await;
            assert_eq!(appended.unwrap(), version_of(state));
        }
    }

    #[tokio::test]
    async fn appended_transitions_read_back_with_the_state_and_move_placement() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let mut state = running_state();
        backend.write(&state, None).await.unwrap();
        let (service, region, entries) = activation(&state);

        append_each(&backend, &mut state, &entries).await;

        let (read, version) = backend.read().await.unwrap().unwrap();
        assert_eq!(version, StateVersion("3".to_string()));
        assert_eq!(read.placement.get(&service), Some(&region));
        assert_eq!(read, state);
        assert_eq!(read.run.unwrap().journal, entries);
    }

    #[tokio::test]
    async fn a_name_is_claimed_once_whoever_claims_it_next() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        assert!(backend.claim("notice-db-7", "west").await.unwrap());
        assert!(!backend.claim("notice-db-7", "east").await.unwrap());
        assert!(!backend.claim("notice-db-7", "west").await.unwrap());
        assert!(backend.claim("notice-db-8", "east").await.unwrap());
    }

    #[tokio::test]
    async fn each_watcher_publishes_its_own_file_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;

        use crate::state::observations::Observations;
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        assert_eq!(backend.observations().await.unwrap(), []);
        let of = |watcher: &str| Observations {
            watcher: watcher.to_string(),
            region: "eu-west-1".to_string(),
            triggers: std::collections::BTreeMap::new(),
        };
        for watcher in ["west", "east", "west"] {
            backend.publish(&of(watcher)).await.unwrap();
        }

        assert_eq!(
            backend.observations().await.unwrap(),
            [of("east"), of("west")]
        );
        let file = backend.watchers().join("east.json");
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test]
    async fn the_state_its_journal_and_its_lock_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let mut state = running_state();
        backend.write(&state, None).await.unwrap();
        let (_, _, entries) = activation(&state);
        append_each(&backend, &mut state, &entries[..1]).await;
        assert!(backend.create_lock(&LockInfo::new("apply")).unwrap());

        for path in [&backend.path, &backend.log, &backend.lock] {
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
    }

    #[tokio::test]
    async fn a_symbolic_link_in_place_of_the_journal_is_never_written_through() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let mut state = running_state();
        backend.write(&state, None).await.unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, &backend.log).unwrap();
        let (_, _, entries) = activation(&state);
        let version = version_of(&state);
        state.record(entries[0].clone());
        state.serial += 1;

        let appended = backend.append(&state, &entries[..1], &version).await;
        assert!(appended.is_err());
        assert!(!elsewhere.exists());
    }

    #[tokio::test]
    async fn a_torn_last_line_is_ignored() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let mut state = running_state();
        backend.write(&state, None).await.unwrap();
        let (_, _, entries) = activation(&state);
        append_each(&backend, &mut state, &entries[..1]).await;
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(&backend.log)
            .unwrap();
        log.write_all(br#"{"run":"run-1","serial":3,"entr"#)
            .unwrap();

        assert_eq!(backend.read().await.unwrap().unwrap().0, state);
    }

    #[tokio::test]
    async fn a_whole_write_compacts_the_log_and_old_lines_never_replay_twice() {
        let dir = TempDir::new().unwrap();
        let backend = backend(&dir);
        let mut state = running_state();
        backend.write(&state, None).await.unwrap();
        let (_, _, entries) = activation(&state);
        append_each(&backend, &mut state, &entries).await;
        let old_log = std::fs::read(&backend.log).unwrap();

        let version = version_of(&state);
        state.serial += 1;
        backend.write(&state, Some(&version)).await.unwrap();
        assert!(!backend.log.exists());
        // A removal lost in a power cut brings the old lines back: they are skipped.
        std::fs::write(&backend.log, old_log).unwrap();

        let read = backend.read().await.unwrap().unwrap().0;
        assert_eq!(read, state);
        assert_eq!(read.run.unwrap().journal.len(), 2);
    }
}
