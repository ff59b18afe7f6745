//! Where drplan keeps its files (`.drplan/` in the working directory, or
//! `$DRPLAN_DIR`, or a root given to [`with_root`] for the futures it runs), and the
//! file names it builds from names: each name is one [`component`], so no name can
//! lead outside the directory it is joined to.

use std::path::{Path, PathBuf};

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

/// `name` as (part of) one file name: ASCII letters, digits, `-` and `_` are kept and
/// every other byte is written `%XX`. The names of an environment are validated when
/// it is loaded; this also holds for names from elsewhere (a run id in a state file).
pub fn component(name: &str) -> String {
    name.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// `dir/STEM.EXTENSION`, the stem made a [`component`].
pub fn file_in(dir: &Path, stem: &str, extension: &str) -> PathBuf {
    dir.join(format!("{}.{extension}", component(stem)))
}

/// The local state file of an environment.
pub fn state_file(environment: &str) -> PathBuf {
    file_in(&root().join("state"), environment, "json")
}

/// The sim world of an environment.
pub fn sim_file(environment: &str) -> PathBuf {
    file_in(&root().join("sim"), environment, "json")
}

/// A run report (`md` or `json`).
pub fn run_report(run_id: &str, extension: &str) -> PathBuf {
    file_in(&root().join("runs"), run_id, extension)
}

/// The trigger history `drplan watch --once` keeps between runs.
pub fn watch_file(environment: &str) -> PathBuf {
    file_in(&root().join("watch"), environment, "json")
}

/// The private directory of a drill named `name`.
pub fn drill_dir(name: &str) -> PathBuf {
    root().join("drills").join(component(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_leave_their_directory() {
        assert_eq!(component("regional-failure_2"), "regional-failure_2");
        assert_eq!(component("../../x"), "%2E%2E%2F%2E%2E%2Fx");
        assert_eq!(component("a\nb\0c"), "a%0Ab%00c");
        assert_eq!(
            file_in(Path::new("runs"), "../../etc/passwd", "md"),
            Path::new("runs/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd.md")
        );
    }
}
