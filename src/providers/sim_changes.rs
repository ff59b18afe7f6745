//! The sim world's change log. While a sim provider runs (an apply, a watch), each
//! change it makes is one JSON line appended to `<world>.changes` — the entries it
//! touched and the log lines it added — instead of a rewrite of the whole world, so a
//! change costs the same in a world of 20 services as in one of 20,000. Reading the
//! world replays the log; a whole write of the world compacts it away.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::sim::{Modified, SimContent, SimService, SimWorld};
use super::sim_aurora::SimGlobalCluster;
use super::sim_data::SimData;
use crate::error::Error;
use crate::fsio::write_error;
use crate::model::RecordSet;

/// An entry of the world that a change may alter, named for the change log. A change
/// alters only the entries it names, its data sets and its log.
#[derive(Debug, Clone, Copy)]
pub enum Touched<'a> {
    Service(&'a str),
    Record(&'a str),
    /// An object and its content (`s3://bucket/key`), put or deleted.
    Object(&'a str),
}

/// One line of the change log: the entries as the change left them (an object that is
/// gone as `null`), every replicated data set (replication advances them all), every
/// Aurora global database (few, and small), and the log lines added. It takes the world to serial `serial`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Change {
    serial: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    services: BTreeMap<String, SimService>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    records: BTreeMap<String, Vec<RecordSet>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    objects: BTreeMap<String, Option<Modified>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    contents: BTreeMap<String, Option<SimContent>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    data: BTreeMap<String, SimData>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    aurora: BTreeMap<String, SimGlobalCluster>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    log: Vec<String>,
}

impl Change {
    /// What a change left in `world` (already at its new serial): the `touched`
    /// entries, the data sets, and the log lines from `log_from` on.
    pub fn of(world: &SimWorld, touched: &[Touched], log_from: usize) -> Self {
        let mut change = Self {
            serial: world.serial,
            services: BTreeMap::new(),
            records: BTreeMap::new(),
            objects: BTreeMap::new(),
            contents: BTreeMap::new(),
            data: world.data.clone(),
            aurora: world.aurora.clone(),
            log: world.log.get(log_from..).unwrap_or_default().to_vec(),
        };
        for entry in touched {
            match *entry {
                Touched::Service(name) => {
                    if let Some(service) = world.services.get(name) {
                        change.services.insert(name.to_string(), service.clone());
                    }
                }
                Touched::Record(key) => {
                    if let Some(sets) = world.records.get(key) {
                        change.records.insert(key.to_string(), sets.clone());
                    }
                }
                Touched::Object(url) => {
                    change
                        .objects
                        .insert(url.to_string(), world.objects.get(url).copied());
                    change
                        .contents
                        .insert(url.to_string(), world.contents.get(url).cloned());
                }
            }
        }
        change
    }

    fn apply(self, world: &mut SimWorld) {
        world.services.extend(self.services);
        world.records.extend(self.records);
        for (url, modified) in self.objects {
            match modified {
                Some(modified) => world.objects.insert(url, modified),
                None => world.objects.remove(&url),
            };
        }
        for (url, content) in self.contents {
            match content {
                Some(content) => world.contents.insert(url, content),
                None => world.contents.remove(&url),
            };
        }
        world.data.extend(self.data);
        world.aurora.extend(self.aurora);
        world.log.extend(self.log);
        world.serial = self.serial;
    }
}

/// The change log of the world at `world`.
pub fn log_path(world: &Path) -> PathBuf {
    world.with_extension("changes")
}

/// Applies the lines of `log` that continue `world`: those whose serials follow its own
/// one by one. Lines at or below its serial were compacted into it already (a crash
/// between the whole write and the log's removal); a torn last line (a process killed
/// in the middle of an append) ends the replay.
pub fn replay(world: &mut SimWorld, log: &str) {
    for line in log.lines() {
        let Ok(change) = serde_json::from_str::<Change>(line) else {
            return;
        };
        if change.serial <= world.serial {
            continue;
        }
        if change.serial != world.serial + 1 {
            return;
        }
        change.apply(world);
    }
}

/// Appends `change` as one line to the change log of the world at `world`. Not synced,
/// like the world itself: it must survive a killed process, not a power loss.
pub fn append(world: &Path, change: &Change) -> Result<(), Error> {
    let path = log_path(world);
    let mut line = serde_json::to_vec(change)
        .map_err(|error| write_error(&path, std::io::Error::other(error.to_string())))?;
    line.push(b'\n');
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .and_then(|mut file| file.write_all(&line))
        .map_err(|source| write_error(&path, source))
}

/// What the world's files looked like: the world file's identity and the log's length.
/// A change made by another process (a whole write or an append) changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    inode: u64,
    modified: i64,
    modified_nanos: i64,
    size: u64,
    log: u64,
}

impl Stamp {
    /// The files of the world at `world` as they are now.
    pub fn of(world: &Path) -> Result<Self, Error> {
        let read = |path: &Path| {
            std::fs::metadata(path).map_err(|source| Error::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        let file = read(world)?;
        let log = match std::fs::metadata(log_path(world)) {
            Ok(log) => log.len(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
            Err(source) => {
                return Err(Error::Read {
                    path: log_path(world),
                    source,
                });
            }
        };
        Ok(Self {
            inode: file.ino(),
            modified: file.mtime(),
            modified_nanos: file.mtime_nsec(),
            size: file.len(),
            log,
        })
    }

    /// True when there is a change log to compact.
    pub fn has_log(&self) -> bool {
        self.log > 0
    }

    /// True when the change log has grown longer than the world file: then a whole
    /// write costs less than replaying it, and appends stay linear overall.
    pub fn log_outgrew_world(&self) -> bool {
        self.log > self.size.max(64 * 1024)
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use tempfile::TempDir;

    use super::*;
    use crate::model::service::DEFAULT_LIFECYCLE_TIMEOUT;
    use crate::providers::sim::Sim;
    use crate::providers::{ObjectStore, ServiceRuntime};

    fn example() -> crate::model::Environment {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/example.toml");
        crate::model::load(&path).unwrap().env
    }

    /// A nominal example world in `dir`, and the sim provider over it.
    fn sim(dir: &TempDir) -> (Sim, PathBuf) {
        let world = dir.path().join("example.json");
        SimWorld::nominal(&example(), SystemTime::now())
            .save(&world)
            .unwrap();
        (open(&world), world)
    }

    /// The sim provider over the example world at `world`.
    fn open(world: &Path) -> Sim {
        Sim::open_at(world.to_path_buf(), &example(), 0.0).unwrap()
    }

    fn world_file(world: &Path) -> SimWorld {
        serde_json::from_str(&std::fs::read_to_string(world).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn changes_are_appended_read_back_and_compacted_when_the_sim_closes() {
        let dir = TempDir::new().unwrap();
        let (sim, world) = sim(&dir);
        sim.activate("postgres", "eu-central-1", None, DEFAULT_LIFECYCLE_TIMEOUT)
            .await
            .unwrap();
        sim.put("bucket", "page.html", b"down".to_vec(), "text/html")
            .await
            .unwrap();
        sim.delete("bucket", "page.html").await.unwrap();
        sim.activate("api", "eu-central-1", None, DEFAULT_LIFECYCLE_TIMEOUT)
            .await
            .unwrap();

        // Each change is one line; the world file is as the sim opened it.
        assert_eq!(
            std::fs::read_to_string(log_path(&world))
                .unwrap()
                .lines()
                .count(),
            4
        );
        assert_eq!(world_file(&world).services["api"].active, "eu-west-1");
        let read = SimWorld::load(&world).unwrap();
        assert_eq!(read, sim.snapshot().await);
        assert_eq!(read.services["api"].active, "eu-central-1");
        assert!(!read.objects.contains_key("s3://bucket/page.html"));
        assert_eq!(read.log.len(), 4);

        drop(sim);
        assert!(!log_path(&world).exists());
        assert_eq!(world_file(&world), read);
    }

    #[tokio::test]
    async fn a_whole_write_by_another_process_is_kept_and_a_torn_line_ignored() {
        let dir = TempDir::new().unwrap();
        let (sim, world) = sim(&dir);
        sim.activate("postgres", "eu-central-1", None, DEFAULT_LIFECYCLE_TIMEOUT)
            .await
            .unwrap();
        sim.activate("api", "eu-central-1", None, DEFAULT_LIFECYCLE_TIMEOUT)
            .await
            .unwrap();
        // Another process (`drplan sim set`) marks a region down, compacting the log.
        SimWorld::edit(&world, 0.0, |w| w.set_region("eu-west-1", false)).unwrap();
        assert!(!log_path(&world).exists());
        sim.activate("web", "eu-central-1", None, DEFAULT_LIFECYCLE_TIMEOUT)
            .await
            .unwrap();
        sim.activate("worker", "eu-central-1", None, DEFAULT_LIFECYCLE_TIMEOUT)
            .await
            .unwrap();
        // A process killed in the middle of an append left half a line.
        let mut log = std::fs::read_to_string(log_path(&world)).unwrap();
        log.push_str("{\"serial\":99,\"log\":[\"half");
        std::fs::write(log_path(&world), log).unwrap();

        let read = SimWorld::load(&world).unwrap();
        assert!(!read.regions["eu-west-1"].up);
        for service in ["postgres", "api", "web", "worker"] {
            assert_eq!(read.services[service].active, "eu-central-1", "{service}");
        }
        assert_eq!(read.log.len(), 4);
    }

    #[tokio::test]
    async fn the_log_of_a_killed_process_is_compacted_by_the_next_sim_even_without_a_change() {
        let dir = TempDir::new().unwrap();
        let (killed, world) = sim(&dir);
        killed
            .activate("postgres", "eu-central-1", None, DEFAULT_LIFECYCLE_TIMEOUT)
            .await
            .unwrap();
        // Killed: its drop never runs, so its change stays in the log.
        std::mem::forget(killed);
        assert!(log_path(&world).exists());

        // A resume with nothing left to run opens the sim and closes it.
        drop(open(&world));
        assert!(!log_path(&world).exists());
        assert_eq!(
            world_file(&world).services["postgres"].active,
            "eu-central-1"
        );
    }
}
