//! Files drplan writes: read if present, replaced atomically (temp file, rename) with
//! the durability each file needs.

use std::io::{Read, Write};
use std::path::Path;

use serde::Serialize;
use tempfile::NamedTempFile;

use crate::error::Error;

/// The text of `path`, or `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The bytes of `path`, `what` for errors (`a plan`), refused when it holds more than
/// `limit` bytes: a file such as `/dev/zero` is never read without end.
pub fn read_bounded(path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(limit + 1).read_to_end(&mut bytes))
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            what,
            limit: format!("{} MiB", limit / (1024 * 1024)),
        });
    }
    Ok(bytes)
}

/// What a replaced file must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// A power loss: the file and its directory are synced (the state, the lock).
    PowerLoss,
    /// A killed process: the rename alone leaves the old file or the new one whole
    /// (the sim world, a rehearsal that need not outlive the machine).
    ProcessKill,
}

/// Writes `value` as pretty JSON (with a trailing newline) to `path`, atomically. The
/// JSON goes straight to the file: a large state is never held twice in memory.
pub fn write_json_atomic<T: Serialize>(
    path: &Path,
    value: &T,
    durability: Durability,
) -> Result<(), Error> {
    let file = temp_file_with(path, durability, |file| {
        let mut out = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut out, value)?;
        out.write_all(b"\n")?;
        out.flush()
    })?;
    persist(path, file, durability)
}

/// Replaces `path` with `bytes` so that a reader, or a crash at any moment, sees either
/// the old file or the new one: a temp file in the same directory, (fsync,) rename,
/// (fsync of the directory).
pub fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), Error> {
    persist(path, temp_file(path, bytes, durability)?, durability)
}

/// Renames `file` over `path` (and syncs the directory for [`Durability::PowerLoss`]).
fn persist(path: &Path, file: NamedTempFile, durability: Durability) -> Result<(), Error> {
    file.persist(path)
        .map_err(|error| write_error(path, error.error))?;
    match durability {
        Durability::PowerLoss => sync_parent(path),
        Durability::ProcessKill => Ok(()),
    }
}

/// A temp file next to `path` (creating the directory) holding `bytes`.
pub fn temp_file(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
) -> Result<NamedTempFile, Error> {
    temp_file_with(path, durability, |file| file.write_all(bytes))
}

/// A temp file next to `path` (creating the directory), written by `write`.
fn temp_file_with(
    path: &Path,
    durability: Durability,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<NamedTempFile, Error> {
    let create = || {
        let dir = parent(path);
        std::fs::create_dir_all(dir)?;
        let mut file = NamedTempFile::new_in(dir)?;
        write(file.as_file_mut())?;
        if durability == Durability::PowerLoss {
            file.as_file().sync_all()?;
        }
        Ok(file)
    };
    create().map_err(|source| write_error(path, source))
}

/// Syncs the directory of `path` so that a rename into it survives a power loss.
pub fn sync_parent(path: &Path) -> Result<(), Error> {
    std::fs::File::open(parent(path))
        .and_then(|dir| dir.sync_all())
        .map_err(|source| write_error(path, source))
}

pub fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

pub fn to_json<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>, Error> {
    let mut json = serde_json::to_vec_pretty(value)
        .map_err(|error| write_error(path, std::io::Error::other(error)))?;
    json.push(b'\n');
    Ok(json)
}

/// The error of a failed write of `path`: a full disk is told apart.
pub fn write_error(path: &Path, source: std::io::Error) -> Error {
    let path = path.to_path_buf();
    match source.raw_os_error() {
        Some(libc::ENOSPC | libc::EDQUOT) => Error::DiskFull { path, source },
        _ => Error::Write { path, source },
    }
}

#[cfg(test)]
mod tests {
    use tempfile::TempDir;

    use super::*;

    #[test]
    fn atomic_writes_replace_the_file_and_leave_no_temp_files() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("nested").join("file.json");
        write_atomic(&path, b"one", Durability::PowerLoss).unwrap();
        write_atomic(&path, b"two", Durability::ProcessKill).unwrap();

        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(
            std::fs::read_dir(dir.path().join("nested"))
                .unwrap()
                .count(),
            1
        );
    }
}
