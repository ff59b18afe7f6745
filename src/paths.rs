//! Where drplan keeps its files (`.drplan/` in the working directory, or
//! `$DRPLAN_DIR`), and writing files there and elsewhere.

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

/// Writes `text` to `path`, creating its directory.
pub fn write_file(path: &std::path::Path, text: &str) -> Result<(), crate::error::Error> {
    let write = || {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, text)
    };
    write().map_err(|source| crate::error::Error::Write {
        path: path.to_path_buf(),
        source,
    })
}
