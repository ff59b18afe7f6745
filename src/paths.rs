//! Where drplan keeps its files: `.drplan/` in the working directory (or `$DRPLAN_DIR`).

use std::path::PathBuf;

/// The root of drplan's local files.
pub fn root() -> PathBuf {
    std::env::var_os("DRPLAN_DIR").map_or_else(|| PathBuf::from(".drplan"), PathBuf::from)
}

/// The local state file of an environment.
pub fn state_file(environment: &str) -> PathBuf {
    root().join("state").join(format!("{environment}.json"))
}

/// The sim world of an environment.
pub fn sim_file(environment: &str) -> PathBuf {
    root().join("sim").join(format!("{environment}.json"))
}

/// Where run reports are written.
pub fn runs_dir() -> PathBuf {
    root().join("runs")
}
