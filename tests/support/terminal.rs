//! drplan at a terminal: the binary run under util-linux `script`, which gives it a
//! pseudo-terminal for stdin and stderr. The test reads the transcript as it grows and
//! types answers when it chooses.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::runner::PROCESS_TIMEOUT;

/// A drplan process at a pseudo-terminal.
pub struct Terminal {
    child: Child,
    keys: Option<ChildStdin>,
    transcript: File,
}

impl Terminal {
    /// Starts `drplan ARGS…` in `dir` at a terminal 100 columns wide, without colour.
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        let drplan = shlex::try_join(
            std::iter::once(env!("CARGO_BIN_EXE_drplan")).chain(args.iter().copied()),
        )
        .expect("the arguments can be quoted");
        let transcript = tempfile::tempfile().expect("a file for the transcript");
        let mut child = Command::new("script")
            .args(["--quiet", "--return", "--command", &drplan, "/dev/null"])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env_remove("DRPLAN_DIR")
            .env_remove("DRPLAN_TIME_SCALE")
            .stdin(Stdio::piped())
            .stdout(
                transcript
                    .try_clone()
                    .expect("the transcript file is shared"),
            )
            .stderr(Stdio::null())
            .spawn()
            .expect("util-linux `script` runs drplan at a terminal (apt-get install bsdutils)");
        Self {
            keys: child.stdin.take(),
            child,
            transcript,
        }
    }

    /// Everything shown on the terminal so far (read without moving the shared offset).
    pub fn transcript(&self) -> String {
        let length = self.transcript.metadata().map_or(0, |m| m.len());
        let mut bytes = vec![0; usize::try_from(length).expect("the transcript fits in memory")];
        let read = self
            .transcript
            .read_at(&mut bytes, 0)
            .expect("the transcript is readable");
        bytes.truncate(read);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Waits until the terminal has shown `text` `times` times; panics after
    /// [`PROCESS_TIMEOUT`].
    #[track_caller]
    pub fn wait_for(&self, text: &str, times: usize) {
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        while self.transcript().matches(text).count() < times {
            assert!(
                Instant::now() <= deadline,
                "the terminal never showed {text:?} {times} time(s):\n{}",
                self.transcript()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Types `line` and Enter.
    pub fn answer(&mut self, line: &str) {
        let keys = self.keys.as_mut().expect("the terminal takes keys");
        keys.write_all(format!("{line}\n").as_bytes())
            .and_then(|()| keys.flush())
            .expect("the answer is typed");
    }

    /// Waits for drplan to exit; its exit code and the whole transcript.
    pub fn wait(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        while self
            .child
            .try_wait()
            .expect("the child can be polled")
            .is_none()
        {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("drplan did not finish:\n{}", self.transcript());
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.keys = None;
        let status = self.child.wait().expect("the child is reaped");
        (status.code(), self.transcript())
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
