//! A temporary directory to run the drplan binary in, as a user would: the crate's
//! `environments/` copied in, `.drplan/` created by drplan itself. Test modules add
//! what they need in their own `impl Workspace` blocks.

use std::fs;
use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use super::runner::{self, Run, Spawned};

/// A temporary directory holding copies of the environment files.
pub struct Workspace {
    dir: TempDir,
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

    /// `drplan ARGS…` in the workspace (see [`runner::command`]).
    pub fn command(&self, args: &[&str]) -> Command {
        runner::command(self.path(), args)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        runner::run(&mut self.command(args))
    }

    pub fn spawn(&self, args: &[&str]) -> Spawned {
        runner::spawn(&mut self.command(args))
    }
}
