//! The one way tests run the drplan binary: as a user at a colourless terminal 100
//! columns wide, in a directory the test chooses, with nothing inherited that would
//! move `.drplan/` or change the sim time scale. Output goes to files, not pipes, so
//! nothing blocks while a test waits, and no process runs longer than
//! [`PROCESS_TIMEOUT`].

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long one drplan process may run before the test gives up on it.
pub const PROCESS_TIMEOUT: Duration = Duration::from_mins(2);
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// `drplan ARGS…` in `dir`; add to it, then [`run`] or [`spawn`] it.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_drplan"));
    command
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("DRPLAN_DIR")
        .env_remove("DRPLAN_TIME_SCALE")
        .args(args)
        .stdin(Stdio::null());
    command
}

/// `drplan ARGS…` run to its end in the crate root, where `environments/`, `plans/` and
/// `tests/fixtures/` are.
pub fn in_crate_root(args: &[&str]) -> Run {
    run(&mut command(Path::new(env!("CARGO_MANIFEST_DIR")), args))
}

/// Runs `command` to its end.
pub fn run(command: &mut Command) -> Run {
    spawn(command).wait()
}

/// Starts `command` in the background.
pub fn spawn(command: &mut Command) -> Spawned {
    let stdout = tempfile::tempfile().expect("a file for stdout");
    start(
        command,
        stdout.try_clone().expect("the stdout file is shared"),
        Some(stdout),
    )
}

/// Runs `command` to its end with its standard output on `/dev/full`, where every
/// write fails ("no space left on device"); the run's `stdout` is empty.
pub fn run_on_full_disk(command: &mut Command) -> Run {
    let full = File::options()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full opens");
    start(command, full, None).wait()
}

/// Starts `command` writing to `stdout`, read back from `captured` when given.
fn start(command: &mut Command, stdout: File, captured: Option<File>) -> Spawned {
    let stderr = tempfile::tempfile().expect("a file for stderr");
    let child = command
        .stdout(stdout)
        .stderr(stderr.try_clone().expect("the stderr file is shared"))
        .spawn()
        .expect("drplan starts");
    Spawned {
        child,
        stdout: captured,
        stderr,
    }
}

/// What a finished drplan process printed, and how it exited (`None`: killed).
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stderr as one line: miette wraps its messages at the terminal width and draws
    /// a `│` down the wrapped lines, so a phrase may be split anywhere, a lock id even
    /// after one of its hyphens.
    pub fn message(&self) -> String {
        let mut line = String::new();
        for word in self.stderr.split_whitespace().filter(|word| *word != "│") {
            if !line.is_empty() && !line.ends_with('-') {
                line.push(' ');
            }
            line.push_str(word);
        }
        line
    }

    /// The run, after checking that it exited with `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(self.code, Some(code), "unexpected exit\n{self}");
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit: {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A drplan process started by [`spawn`]; killed if dropped while it runs.
pub struct Spawned {
    child: Child,
    /// Where stdout is captured, unless it goes elsewhere.
    stdout: Option<File>,
    stderr: File,
}

impl Spawned {
    pub fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.child.id()).expect("a pid fits pid_t")
    }

    pub fn has_exited(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("the child can be polled")
            .is_some()
    }

    /// What the process has written to stderr so far, read without moving the offset
    /// it shares with the process.
    pub fn stderr_so_far(&self) -> String {
        let length = self.stderr.metadata().map_or(0, |m| m.len());
        let mut bytes = vec![0; usize::try_from(length).expect("stderr fits in memory")];
        let read = std::os::unix::fs::FileExt::read_at(&self.stderr, &mut bytes, 0)
            .expect("the stderr file is readable");
        bytes.truncate(read);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Waits for the process to exit; panics if it runs past [`PROCESS_TIMEOUT`].
    pub fn wait(mut self) -> Run {
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        while !self.has_exited() {
            assert!(
                Instant::now() <= deadline,
                "drplan did not finish within {PROCESS_TIMEOUT:?}\n{}",
                self.kill()
            );
            thread::sleep(POLL_INTERVAL);
        }
        self.reap()
    }

    /// Sends SIGKILL (`Child::kill`) and reaps the process.
    pub fn kill(mut self) -> Run {
        let _ = self.child.kill();
        self.reap()
    }

    fn reap(&mut self) -> Run {
        let status = self.child.wait().expect("the child is reaped");
        Run {
            code: status.code(),
            stdout: self.stdout.as_mut().map(read).unwrap_or_default(),
            stderr: read(&mut self.stderr),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // Neither signals a process already reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the process wrote to `file` (it shares the file's offset, so read from the start).
fn read(file: &mut File) -> String {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .expect("the output file is readable");
    String::from_utf8_lossy(&bytes).into_owned()
}
