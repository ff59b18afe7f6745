//! Where drplan keeps its files (`.drplan/` in the working directory, or
//! `$DRPLAN_DIR`, or a root given to [`with_root`] for the futures it runs).

use std::path::PathBuf;

tokio::task_local! {
    /// The root that replaces the usual one inside [`with_root`].
    static ROOT: PathBuf;
}

/// The root of drplan's local files.
pub fn root() -> PathBuf {
    ROOT.try_with(Clone::clone).unwrap_or_else(|_| {
        std::env::var_os("DRPLAN_DIR").map_or_else(|| PathBuf::from(".drplan"), PathBuf::from)
    })
}

/// Runs `future` with every local file (sim world, state, run reports) under `root`
/// instead: a drill rehearses in a private directory this way. The override holds
/// in `future` itself, not in tasks it spawns.
pub async fn with_root<F: std::future::Future>(root: PathBuf, future: F) -> F::Output {
    ROOT.scope(root, future).await
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

/// The trigger history `drplan watch --once` keeps between runs.
pub fn watch_file(environment: &str) -> PathBuf {
    root().join("watch").join(format!("{environment}.json"))
}

/// Where drills make their private directories.
pub fn drills_dir() -> PathBuf {
    root().join("drills")
}
