//! A temporary directory to run the drplan binary in, as a user would: the crate's
//! `environments/` copied in, `.drplan/` created by drplan itself, nothing inherited
//! that would move it or change the sim time scale. Test modules add what they need
//! in their own `impl Workspace` blocks.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

/// A temporary directory holding copies of the environment files.
pub struct Workspace {
    dir: TempDir,
}

/// What a finished drplan process printed, and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// A drplan process started by [`Workspace::spawn`], its output going to files.
pub struct Spawned {
    pub child: Child,
    pub out: PathBuf,
    pub err: PathBuf,
}

impl Run {
    /// stderr as one line: miette wraps its messages at the terminal width and draws
    /// a `│` down the wrapped lines, so a phrase may be split anywhere.
    pub fn message(&self) -> String {
        self.stderr
            .split_whitespace()
            .filter(|word| *word != "│")
            .collect::<Vec<_>>()
            .join(" ")
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

impl Workspace {
    pub fn new() -> Self {
        let dir = TempDir::new().expect("a temporary directory");
        let environments = dir.path().join("environments");
        fs::create_dir_all(&environments).expect("environments/ is created");
        for name in ["example.toml", "production.toml"] {
            let source = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("environments")
                .join(name);
            fs::copy(&source, environments.join(name)).expect("the environment file is copied");
        }
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `drplan ARGS…` in the workspace, as a user at a colourless terminal 100 columns
    /// wide, with nothing inherited that would move `.drplan/` or change the time scale.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_drplan"));
        command
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env_remove("DRPLAN_DIR")
            .env_remove("DRPLAN_TIME_SCALE")
            .args(args)
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().expect("drplan starts");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Starts `drplan ARGS…` with its output going to `<name>.out` and `<name>.err`
    /// in the workspace (files, not pipes: nothing blocks while the test waits).
    pub fn spawn(&self, name: &str, args: &[&str]) -> Spawned {
        let out = self.path().join(format!("{name}.out"));
        let err = self.path().join(format!("{name}.err"));
        let child = self
            .command(args)
            .stdout(File::create(&out).expect("stdout file"))
            .stderr(File::create(&err).expect("stderr file"))
            .spawn()
            .expect("drplan starts");
        Spawned { child, out, err }
    }
}
