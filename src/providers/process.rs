//! Running commands safely: an argument vector (never a shell), in its own process
//! group, with stdout and stderr captured (the last 64 KiB of each) and a timeout.
//! `${env:VAR}` in the arguments is resolved just before the command starts, and its
//! value is redacted from the output and errors handed back.
//!
//! A command that times out has its whole process group killed, and so does a command
//! whose future is dropped: nothing it started keeps running. A command that finishes
//! may leave background processes behind (a daemon it started); drplan waits briefly
//! for their output and then leaves them alone.
//!
//! Under a [`Supervisor`] (an apply), each command's process group is reported (to the
//! journal) before drplan waits for it, and all of them can be stopped together:
//! SIGTERM, then SIGKILL after a grace period. A [`GroupMark`] finds a group again
//! after drplan itself was killed, so a resume stops it before the step runs again.

use std::future::Future;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use super::Output;
use crate::error::Error;
use crate::secrets::Secrets;

/// How many bytes of stdout, and of stderr, are kept (the last ones).
const OUTPUT_CAP: usize = 64 * 1024;

/// How long to keep reading output after the command exits, in case a background
/// process it started still holds the pipes open.
const DRAIN_GRACE: Duration = Duration::from_millis(250);

/// How many lines of output an error message ends with.
const ERROR_TAIL_LINES: usize = 20;

/// How long a stopped command has between SIGTERM and SIGKILL.
pub const TERMINATION_GRACE: Duration = Duration::from_secs(5);

/// How long to wait for processes sent SIGKILL to be gone.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// How often a stopping group is looked at again.
const STOP_POLL: Duration = Duration::from_millis(20);

/// Runs `argv`, its `${env:VAR}` resolved with `secrets`, with `env` added to drplan's
/// environment, stdin closed, for at most `timeout`. Succeeds when the command exits
/// 0; its output is in the log. Errors name the program as written.
///
/// # Errors
///
/// When `argv` is empty, a variable is unset, the program cannot be started, it exits
/// non-zero (the error ends with its last lines of output) or it runs past `timeout`.
pub async fn run(
    argv: &[String],
    timeout: Duration,
    env: &[(String, String)],
    secrets: &Secrets,
) -> Result<Output, Error> {
    let resolved = secrets.resolve_all(argv)?;
    let (Some(program), Some((path, arguments))) = (argv.first(), resolved.split_first()) else {
        return Err(Error::Bug {
            detail: "nothing to run: the argument vector is empty".to_string(),
        });
    };
    let child = Command::new(path)
        .args(arguments)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|error| spawn_error(program, &error))?;
    let mut group = ProcessGroup {
        child,
        supervised: None,
    };
    if let Ok(supervisor) = SUPERVISOR.try_with(Clone::clone) {
        group.report(program, supervisor).await?;
    }
    let mut stdout = Capture::default();
    let mut stderr = Capture::default();
    let finished =
        tokio::time::timeout(timeout, group.wait_with_output(&mut stdout, &mut stderr)).await;
    let log = secrets.redact(&log_text(&stdout, &stderr));
    match finished {
        Ok(Ok(status)) if status.success() => Ok(Output { log }),
        Ok(Ok(status)) => Err(exit_error(program, status, &log)),
        Ok(Err(error)) => Err(Error::CommandOs {
            program: program.clone(),
            action: "wait for",
            detail: error.to_string(),
        }),
        Err(_) => {
            group.kill_and_reap().await;
            Err(timeout_error(program, timeout, &log))
        }
    }
}

/// A child that leads its own process group. Dropping it before the child is reaped
/// kills the whole group.
struct ProcessGroup {
    child: Child,
    /// The supervisor it was reported to, and how.
    supervised: Option<(Supervisor, GroupMark)>,
}

impl ProcessGroup {
    /// Reports the group to `supervisor`; a command that cannot be reported (the
    /// journal cannot record it) or that starts while the run stops is killed.
    async fn report(&mut self, program: &str, supervisor: Supervisor) -> Result<(), Error> {
        let unrecorded = |detail: &str| Error::CommandOs {
            program: program.to_string(),
            action: "record",
            detail: detail.to_string(),
        };
        let mark = self
            .child
            .id()
            .and_then(GroupMark::of)
            .ok_or_else(|| unrecorded("its process group cannot be read from /proc"))?;
        supervisor.commands.add(&mark);
        let reported = (supervisor.on_start)(mark.clone()).await;
        let terminating = supervisor.commands.terminating();
        self.supervised = Some((supervisor, mark));
        reported?;
        if terminating {
            return Err(unrecorded("the run is being stopped"));
        }
        Ok(())
    }

    /// Waits for the child while capturing its output; after it exits, keeps reading
    /// for at most [`DRAIN_GRACE`].
    async fn wait_with_output(
        &mut self,
        stdout: &mut Capture,
        stderr: &mut Capture,
    ) -> io::Result<ExitStatus> {
        let (out_pipe, err_pipe) = (self.child.stdout.take(), self.child.stderr.take());
        let reading = async {
            tokio::join!(stdout.fill(out_pipe), stderr.fill(err_pipe));
        };
        tokio::pin!(reading);
        let mut read_all = false;
        let status = tokio::select! {
            status = self.child.wait() => status?,
            () = &mut reading => {
                read_all = true;
                self.child.wait().await?
            }
        };
        if !read_all {
            // What the command wrote is already in the pipes; only a background process
            // it left behind can keep them open longer.
            let _ = tokio::time::timeout(DRAIN_GRACE, reading).await;
        }
        Ok(status)
    }

    /// Kills every process of the group, then reaps the child.
    async fn kill_and_reap(&mut self) {
        self.kill();
        // The child was just sent SIGKILL; waiting only collects its exit status.
        let _ = self.child.wait().await;
    }

    /// Sends SIGKILL to the group unless the child has been reaped (then its id, which
    /// is also the group's, may belong to someone else).
    fn kill(&self) {
        if let Some(pid) = self
            .child
            .id()
            .and_then(|pid| libc::pid_t::try_from(pid).ok())
        {
            // SAFETY: killpg only sends a signal; the group is the child's, which is
            // not reaped yet, so its id still names our processes.
            unsafe {
                libc::killpg(pid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
        if let Some((supervisor, mark)) = &self.supervised {
            supervisor.commands.remove(mark);
        }
    }
}

/// A command's process group as recorded before drplan waits for it: enough to find
/// the group again after drplan itself was killed, and to tell it from a later group
/// that reused its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMark {
    pub pgid: i32,
    /// When the group's leader started, in clock ticks since boot.
    pub started: u64,
    /// The boot it ran in (`/proc/sys/kernel/random/boot_id`).
    pub boot: String,
}

impl GroupMark {
    /// The mark of the group led by process `leader`, read from /proc.
    fn of(leader: u32) -> Option<Self> {
        let pgid = i32::try_from(leader).ok()?;
        Some(Self {
            pgid,
            started: ProcStat::read(pgid)?.started,
            boot: boot_id()?,
        })
    }

    /// The processes of this group that still run: none after a reboot, nor when the
    /// id now names another group (its leader started at another time).
    fn live_members(&self) -> Vec<i32> {
        if boot_id().as_deref() != Some(self.boot.as_str()) {
            return Vec::new();
        }
        if let Some(leader) = ProcStat::read(self.pgid)
            && leader.started != self.started
        {
            return Vec::new();
        }
        live_pids()
            .into_iter()
            .filter(|&pid| {
                ProcStat::read(pid).is_some_and(|stat| stat.pgrp == self.pgid && !stat.zombie)
            })
            .collect()
    }

    /// Whether any process of the group still runs.
    pub fn is_running(&self) -> bool {
        !self.live_members().is_empty()
    }
}

/// Sends `signal` to the group of `mark` if it still runs.
fn signal_group(mark: &GroupMark, signal: libc::c_int) {
    if mark.is_running() {
        // SAFETY: killpg only sends a signal, to a group just seen running with this
        // leader start time (or without a leader, whose id cannot be reused then).
        unsafe {
            libc::killpg(mark.pgid, signal);
        }
    }
}

/// What drplan reads of `/proc/PID/stat`.
struct ProcStat {
    pgrp: i32,
    started: u64,
    /// Exited, not yet reaped (PID 1 in a container may never reap an orphan).
    zombie: bool,
}

impl ProcStat {
    /// The stat of `pid`, unless it is gone.
    fn read(pid: i32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // After the command name in parentheses: state, ppid, pgrp, … starttime (22nd).
        let (_, rest) = stat.rsplit_once(')')?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        Some(Self {
            pgrp: fields.get(2)?.parse().ok()?,
            started: fields.get(19)?.parse().ok()?,
            zombie: *fields.first()? == "Z",
        })
    }
}

fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_string())
}

fn live_pids() -> Vec<i32> {
    std::fs::read_dir("/proc").map_or_else(
        |_| Vec::new(),
        |entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        },
    )
}

/// Stops the groups of `marks`: SIGTERM, then SIGKILL to whatever still runs after
/// `grace`. Returns once none runs, or once SIGKILL had [`KILL_WAIT`] to land.
pub async fn stop(marks: &[GroupMark], grace: Duration) {
    for mark in marks {
        signal_group(mark, libc::SIGTERM);
    }
    if !gone_within(marks, grace).await {
        for mark in marks {
            signal_group(mark, libc::SIGKILL);
        }
        gone_within(marks, KILL_WAIT).await;
    }
}

/// Whether every group of `marks` stops running within `limit`.
async fn gone_within(marks: &[GroupMark], limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if !marks.iter().any(GroupMark::is_running) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(STOP_POLL).await;
    }
}

/// Called with each command's mark before drplan waits for the command; an error
/// kills the command.
pub type OnStart =
    Arc<dyn Fn(GroupMark) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> + Send + Sync>;

/// The commands running under one apply, so that they can be stopped together.
#[derive(Debug, Default)]
pub struct Commands {
    running: Mutex<Vec<GroupMark>>,
    terminating: AtomicBool,
}

impl Commands {
    fn add(&self, mark: &GroupMark) {
        self.lock().push(mark.clone());
    }

    fn remove(&self, mark: &GroupMark) {
        self.lock().retain(|m| m != mark);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<GroupMark>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True once [`Commands::terminate`] was called.
    pub fn terminating(&self) -> bool {
        self.terminating.load(Ordering::SeqCst)
    }

    /// Stops every running command (see [`stop`]); a command that starts afterwards
    /// is killed at once.
    pub async fn terminate(&self, grace: Duration) {
        self.terminating.store(true, Ordering::SeqCst);
        let marks = self.lock().clone();
        stop(&marks, grace).await;
    }
}

/// Where the commands a task runs are reported.
#[derive(Clone)]
pub struct Supervisor {
    pub commands: Arc<Commands>,
    pub on_start: OnStart,
}

tokio::task_local! {
    static SUPERVISOR: Supervisor;
}

/// Runs `work`, reporting every command it runs to `supervisor`.
pub async fn supervised<T>(supervisor: Supervisor, work: impl Future<Output = T>) -> T {
    SUPERVISOR.scope(supervisor, work).await
}

/// The last [`OUTPUT_CAP`] bytes of one output stream, and how many came before them.
#[derive(Debug, Default)]
struct Capture {
    bytes: Vec<u8>,
    dropped: usize,
}

impl Capture {
    /// Reads `pipe` to its end. Cancelling this keeps what was read so far.
    async fn fill(&mut self, pipe: Option<impl AsyncRead + Unpin>) {
        let Some(mut pipe) = pipe else { return };
        let mut chunk = vec![0_u8; 8192];
        // A read error ends the capture like the end of the stream does.
        while let Ok(read @ 1..) = pipe.read(&mut chunk).await {
            self.push(&chunk[..read]);
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        let excess = self.bytes.len().saturating_sub(OUTPUT_CAP);
        self.bytes.drain(..excess);
        self.dropped += excess;
    }

    /// The captured text, starting with a note when the beginning was dropped.
    fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        if self.dropped == 0 {
            text.into_owned()
        } else {
            format!(
                "[output truncated: the first {} bytes were dropped]\n{text}",
                self.dropped
            )
        }
    }
}

/// stdout followed by stderr.
fn log_text(stdout: &Capture, stderr: &Capture) -> String {
    let (out, err) = (stdout.text(), stderr.text());
    match (out.is_empty(), err.is_empty()) {
        (_, true) => out,
        (true, false) => err,
        (false, false) if out.ends_with('\n') => format!("{out}{err}"),
        (false, false) => format!("{out}\n{err}"),
    }
}

fn spawn_error(program: &str, error: &io::Error) -> Error {
    match error.kind() {
        io::ErrorKind::NotFound => Error::ProgramNotFound {
            program: program.to_string(),
        },
        io::ErrorKind::PermissionDenied => Error::NotExecutable {
            program: program.to_string(),
        },
        _ => Error::CommandOs {
            program: program.to_string(),
            action: "start",
            detail: error.to_string(),
        },
    }
}

fn exit_error(program: &str, status: ExitStatus, log: &str) -> Error {
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("failed ({status})"),
    };
    Error::CommandFailed {
        program: program.to_string(),
        how,
        tail: tail(log),
    }
}

fn timeout_error(program: &str, timeout: Duration, log: &str) -> Error {
    Error::CommandTimedOut {
        program: program.to_string(),
        timeout: crate::duration::format_duration(timeout),
        tail: tail(log),
    }
}

/// The last lines of `log`.
fn tail(log: &str) -> Vec<String> {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(ERROR_TAIL_LINES)..]
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use tokio::time::Instant;

    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(ToString::to_string).collect()
    }

    /// A shell command that writes its process group id to `pid_file`, then starts a
    /// background sleeper and sleeps itself.
    fn sleepers(pid_file: &Path) -> Vec<String> {
        argv(&[
            "sh",
            "-c",
            &format!("echo $$ > {}; sleep 30 & sleep 30", pid_file.display()),
        ])
    }

    /// The mark of the group whose id the command wrote to `pid_file`.
    async fn read_mark(pid_file: &Path) -> GroupMark {
        for _ in 0..100 {
            if let Ok(text) = std::fs::read_to_string(pid_file)
                && let Some(mark) = text.trim().parse().ok().and_then(GroupMark::of)
            {
                return mark;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the command never wrote {}", pid_file.display());
    }

    async fn assert_group_gone(mark: GroupMark) {
        assert!(
            gone_within(std::slice::from_ref(&mark), Duration::from_secs(2)).await,
            "processes of group {} survived: {:?}",
            mark.pgid,
            mark.live_members()
        );
    }

    #[tokio::test]
    async fn captures_stdout_and_stderr() {
        let output = run(
            &argv(&["sh", "-c", "echo hello; echo warning >&2"]),
            Duration::from_secs(5),
            &[],
            &Secrets::default(),
        )
        .await
        .expect("the command succeeds");
        assert_eq!(output.log, "hello\nwarning\n");
    }

    #[tokio::test]
    async fn passes_the_environment() {
        let env = [("DRPLAN_TEST_VALUE".to_string(), "from drplan".to_string())];
        let output = run(
            &argv(&["sh", "-c", "echo $DRPLAN_TEST_VALUE"]),
            Duration::from_secs(5),
            &env,
            &Secrets::default(),
        )
        .await
        .expect("the command succeeds");
        assert_eq!(output.log, "from drplan\n");
    }

    #[tokio::test]
    async fn non_zero_exit_reports_the_code_and_the_output_tail() {
        let error = run(
            &argv(&["sh", "-c", "echo step one; echo disk full >&2; exit 3"]),
            Duration::from_secs(5),
            &[],
            &Secrets::default(),
        )
        .await
        .expect_err("the command fails");
        assert_eq!(
            error.to_string(),
            "command: `sh` exited with code 3; output ends with:\nstep one\ndisk full"
        );
    }

    #[tokio::test]
    async fn a_secret_argument_reaches_the_command_and_leaves_no_trace_in_the_error() {
        // SAFETY: this variable is read only by this test.
        unsafe { std::env::set_var("DRPLAN_TEST_PROCESS_SECRET", "pr0cess-s3cr3t") };
        let error = run(
            &argv(&[
                "sh",
                "-c",
                "echo \"got $1\"; exit 3",
                "sh",
                "${env:DRPLAN_TEST_PROCESS_SECRET}",
            ]),
            Duration::from_secs(5),
            &[],
            &Secrets::default(),
        )
        .await
        .expect_err("the command fails");
        assert_eq!(
            error.to_string(),
            "command: `sh` exited with code 3; output ends with:\ngot ${env:DRPLAN_TEST_PROCESS_SECRET}"
        );
    }

    #[tokio::test]
    async fn missing_program_says_so() {
        let error = run(
            &argv(&["drplan-no-such-program", "--flag"]),
            Duration::from_secs(5),
            &[],
            &Secrets::default(),
        )
        .await
        .expect_err("the program does not exist");
        assert_eq!(
            error.to_string(),
            "command: program `drplan-no-such-program` not found on PATH"
        );
    }

    #[tokio::test]
    async fn empty_command_is_an_error() {
        let error = run(&[], Duration::from_secs(5), &[], &Secrets::default())
            .await
            .expect_err("nothing to run");
        assert_eq!(
            error.to_string(),
            "internal error: nothing to run: the argument vector is empty"
        );
    }

    #[tokio::test]
    async fn long_output_keeps_its_end() {
        let script = "head -c 200000 /dev/zero | tr '\\0' a; echo; echo the end";
        let output = run(
            &argv(&["sh", "-c", script]),
            Duration::from_secs(5),
            &[],
            &Secrets::default(),
        )
        .await
        .expect("succeeds");
        assert!(
            output.log.starts_with("[output truncated: the first "),
            "{}",
            &output.log[..80]
        );
        assert!(output.log.ends_with("a\nthe end\n"));
        assert!(output.log.len() < OUTPUT_CAP + 100);
    }

    #[tokio::test]
    async fn background_process_holding_the_pipes_does_not_block() {
        let started = Instant::now();
        let output = run(
            &argv(&["sh", "-c", "sleep 3 & echo started"]),
            Duration::from_secs(10),
            &[],
            &Secrets::default(),
        )
        .await
        .expect("the command succeeds");
        assert_eq!(output.log, "started\n");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let pid_file = dir.path().join("pgid");
        let argv = sleepers(&pid_file);
        let task = tokio::spawn(async move {
            run(&argv, Duration::from_secs(2), &[], &Secrets::default()).await
        });
        let mark = read_mark(&pid_file).await;
        let error = task
            .await
            .expect("the task ends")
            .expect_err("it times out");
        assert_eq!(
            error.to_string(),
            "command: `sh` timed out after 2s; its process group was killed"
        );
        assert_group_gone(mark).await;
    }

    #[tokio::test]
    async fn dropping_the_future_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let pid_file = dir.path().join("pgid");
        let argv = sleepers(&pid_file);
        let task = tokio::spawn(async move {
            run(&argv, Duration::from_secs(30), &[], &Secrets::default()).await
        });
        let mark = read_mark(&pid_file).await;
        assert!(mark.is_running(), "the command runs");
        task.abort();
        assert!(task.await.expect_err("the task was aborted").is_cancelled());
        assert_group_gone(mark).await;
    }
}
