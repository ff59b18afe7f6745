//! The sim's replicated data: each `replicate` data set has a copy per region with a
//! write position. Writes go to the active copy; replication carries each write to the
//! replica copies once the set's lag has passed (scaled like every sim wait), and not
//! at all while it is stopped or either region is down. Promoting a copy that is behind
//! loses the difference, and the loss is recorded; fencing the active copy refuses
//! writes; a resync makes a copy a replica of the active one again.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// One replicated data set of the sim world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimData {
    /// The service that holds the data set.
    pub service: String,
    /// The region whose copy takes the writes.
    pub active: String,
    /// Region → its copy.
    pub copies: BTreeMap<String, SimCopy>,
    /// How long replication takes to carry a write, in milliseconds (before scaling).
    pub lag_ms: u64,
    pub replication: Replication,
    /// Writes accepted so far, over the life of the world.
    pub writes: u64,
    /// Writes not yet settled (younger than the lag): when each batch was made and the
    /// active copy's position after it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingWrites>,
    /// The active copy's position up to which every write is older than the lag.
    pub settled: u64,
    /// Writes lost so far, by every promotion of a copy that was behind.
    pub lost: u64,
    /// Every promotion that lost writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub losses: Vec<Loss>,
}

/// A copy of a data set in one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimCopy {
    /// How many of the active copy's writes this copy holds.
    pub position: u64,
    /// Whether replication feeds this copy from the active one.
    pub replica: bool,
    /// Whether writes are refused here (fenced by a `deactivate`).
    #[serde(default)]
    pub fenced: bool,
}

/// Whether replication runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Replication {
    Running,
    Stopped,
}

/// A batch of writes not yet carried to the replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingWrites {
    #[serde(with = "crate::timestamp")]
    pub at: SystemTime,
    pub position: u64,
}

/// Writes lost by promoting a copy that was behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loss {
    /// The region whose copy was promoted.
    pub promoted: String,
    pub writes: u64,
    #[serde(with = "crate::timestamp")]
    pub at: SystemTime,
    /// How far back the lost writes reach, in sim time (milliseconds); `None` when
    /// unknown (replication had stopped): beyond any RPO.
    pub window_ms: Option<u64>,
}

impl Loss {
    /// Whether the lost writes reach further back than `rpo`.
    pub fn beyond(&self, rpo: Duration) -> bool {
        self.window_ms
            .is_none_or(|window| Duration::from_millis(window) > rpo)
    }
}

/// Where a copy stands against the active one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyState {
    /// Writes the active copy holds that this one does not.
    pub behind: u64,
    /// The replication lag, when replication feeds this copy.
    pub lag: Option<Duration>,
    /// Replication of the data set is stopped.
    pub stopped: bool,
}

impl SimData {
    /// A data set of `service` active in `home`, every other region's copy a caught-up
    /// replica.
    pub fn nominal(service: &str, home: &str, regions: impl IntoIterator<Item = String>) -> Self {
        let copies = regions
            .into_iter()
            .map(|region| {
                let replica = region != home;
                let copy = SimCopy {
                    position: 0,
                    replica,
                    fenced: false,
                };
                (region, copy)
            })
            .collect();
        Self {
            service: service.to_string(),
            active: home.to_string(),
            copies,
            lag_ms: 0,
            replication: Replication::Running,
            writes: 0,
            pending: Vec::new(),
            settled: 0,
            lost: 0,
            losses: Vec::new(),
        }
    }

    /// The position of the active copy.
    pub fn head(&self) -> u64 {
        self.copies.get(&self.active).map_or(0, |c| c.position)
    }

    /// Carries what replication has delivered by `now` to the replicas that can
    /// receive it; `scale` multiplies the lag, `up` tells which regions are up.
    pub fn advance(&mut self, now: SystemTime, scale: f64, up: &dyn Fn(&str) -> bool) {
        let lag =
            Duration::try_from_secs_f64(Duration::from_millis(self.lag_ms).as_secs_f64() * scale)
                .unwrap_or(Duration::MAX);
        let horizon = now.checked_sub(lag);
        let settled = self
            .pending
            .iter()
            .filter(|w| horizon.is_some_and(|h| w.at <= h))
            .map(|w| w.position)
            .max();
        if let Some(settled) = settled {
            self.settled = self.settled.max(settled);
        }
        let settled = self.settled;
        self.pending.retain(|w| w.position > settled);
        if self.replication == Replication::Stopped || !up(&self.active) {
            return;
        }
        for (region, copy) in &mut self.copies {
            if copy.replica && up(region) {
                copy.position = copy.position.max(settled);
            }
        }
    }

    /// Makes `count` writes on the active copy at `now`; refused when it is fenced.
    pub fn write(&mut self, count: u64, now: SystemTime) -> Result<(), String> {
        let active = self.active.clone();
        let copy = self
            .copies
            .get_mut(&active)
            .ok_or_else(|| format!("the sim world has no copy in {active}"))?;
        if copy.fenced {
            return Err(format!("the copy in {active} is fenced: it refuses writes"));
        }
        copy.position = copy.position.saturating_add(count);
        self.writes = self.writes.saturating_add(count);
        let position = copy.position;
        self.pending.push(PendingWrites { at: now, position });
        Ok(())
    }

    /// Where the copy in `region` stands against the active copy.
    pub fn copy_state(&self, region: &str) -> Option<CopyState> {
        let copy = self.copies.get(region)?;
        let following = copy.replica && self.replication == Replication::Running;
        Some(CopyState {
            behind: self.head().saturating_sub(copy.position),
            lag: following.then(|| Duration::from_millis(self.lag_ms)),
            stopped: self.replication == Replication::Stopped,
        })
    }

    /// Makes the copy in `region` the active one. What it lacks of the old active copy
    /// is lost (and recorded, with how far back it reaches, sim time being real time
    /// divided by `scale`); the other copies stop following until a resync. Returns
    /// the writes lost.
    pub fn promote(&mut self, region: &str, now: SystemTime, scale: f64) -> u64 {
        if region == self.active {
            if let Some(copy) = self.copies.get_mut(region) {
                copy.fenced = false;
            }
            return 0;
        }
        let head = self.head();
        let Some(copy) = self.copies.get_mut(region) else {
            return 0;
        };
        let lost = head.saturating_sub(copy.position);
        let position = copy.position;
        self.lost += lost;
        if lost > 0 {
            let oldest = self.pending.iter().find(|w| w.position > position);
            let known = self.replication == Replication::Running && position >= self.settled;
            let window_ms = oldest.filter(|_| known).map(|w| {
                let real = now.duration_since(w.at).unwrap_or_default().as_secs_f64();
                let sim = if scale > 0.0 { real / scale } else { 0.0 };
                Duration::try_from_secs_f64(sim).map_or(u64::MAX, |d| {
                    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
                })
            });
            self.losses.push(Loss {
                promoted: region.to_string(),
                writes: lost,
                at: now,
                window_ms,
            });
        }
        for (name, copy) in &mut self.copies {
            copy.replica = false;
            copy.fenced = false;
            if name != region {
                // A copy ahead of the new active one holds writes it never had:
                // nothing of it beyond the common part counts any more.
                copy.position = copy.position.min(position);
            }
        }
        self.active = region.to_string();
        self.pending.clear();
        self.settled = position;
        lost
    }

    /// Fences the copy in `region`: it refuses writes until promoted again.
    pub fn fence(&mut self, region: &str) {
        if let Some(copy) = self.copies.get_mut(region) {
            copy.fenced = true;
        }
    }

    /// Makes the copy in `region` a replica of the active one again.
    pub fn resync(&mut self, region: &str) {
        if region == self.active {
            return;
        }
        if let Some(copy) = self.copies.get_mut(region) {
            copy.replica = true;
            copy.fenced = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn data() -> SimData {
        SimData::nominal("db", "home", ["home", "away"].map(String::from))
    }

    fn all_up(_: &str) -> bool {
        true
    }

    #[test]
    fn replication_delivers_writes_once_the_lag_has_passed() {
        let t0 = SystemTime::UNIX_EPOCH + 1000 * SECOND;
        let mut data = data();
        data.lag_ms = 10_000;
        data.write(5, t0).unwrap();
        data.advance(t0 + 5 * SECOND, 1.0, &all_up);
        assert_eq!(data.copy_state("away").unwrap().behind, 5);
        data.advance(t0 + 10 * SECOND, 1.0, &all_up);
        assert_eq!(data.copy_state("away").unwrap().behind, 0);
    }

    #[test]
    fn promoting_a_copy_that_is_behind_loses_the_difference() {
        let t0 = SystemTime::UNIX_EPOCH + 1000 * SECOND;
        let mut data = data();
        data.write(3, t0).unwrap();
        data.advance(t0, 1.0, &all_up);
        data.replication = Replication::Stopped;
        data.write(4, t0).unwrap();
        data.advance(t0 + SECOND, 1.0, &all_up);
        data.promote("away", t0 + SECOND, 1.0);
        assert!(
            data.losses[0].beyond(Duration::from_hours(1)),
            "stopped: unknown window"
        );
        assert_eq!(data.lost, 4);
        assert_eq!(data.head(), 3);
        assert!(!data.copies["home"].replica);
    }

    #[test]
    fn writes_beyond_any_count_saturate_instead_of_overflowing() {
        let t0 = SystemTime::UNIX_EPOCH + 1000 * SECOND;
        let mut data = data();
        data.write(u64::MAX, t0).unwrap();
        data.write(u64::MAX, t0).unwrap();
        assert_eq!(data.head(), u64::MAX);
        assert_eq!(data.writes, u64::MAX);
    }

    #[test]
    fn a_loss_within_the_lag_is_measured_in_sim_time() {
        let t0 = SystemTime::UNIX_EPOCH + 1000 * SECOND;
        let mut data = data();
        data.lag_ms = 60_000;
        data.write(2, t0).unwrap();
        // At scale 0.5, two real seconds are four seconds of sim time.
        data.advance(t0 + 2 * SECOND, 0.5, &all_up);
        data.promote("away", t0 + 2 * SECOND, 0.5);
        assert_eq!(data.lost, 2);
        assert_eq!(data.losses[0].window_ms, Some(4000));
        assert!(!data.losses[0].beyond(Duration::from_mins(1)));
        assert!(data.losses[0].beyond(Duration::from_secs(1)));
    }

    #[test]
    fn a_down_region_freezes_its_replica_and_a_resync_catches_it_up() {
        let t0 = SystemTime::UNIX_EPOCH + 1000 * SECOND;
        let mut data = data();
        data.promote("away", t0, 1.0);
        data.write(2, t0).unwrap();
        data.advance(t0, 1.0, &all_up);
        assert_eq!(
            data.copy_state("home").unwrap().behind,
            2,
            "not a replica yet"
        );
        data.resync("home");
        data.advance(t0, 1.0, &|region| region != "home");
        assert_eq!(data.copy_state("home").unwrap().behind, 2, "home is down");
        data.advance(t0, 1.0, &all_up);
        assert_eq!(data.copy_state("home").unwrap().behind, 0);
        data.fence("away");
        assert!(data.write(1, t0).is_err());
        data.promote("home", t0, 1.0);
        assert_eq!(data.lost, 0);
        assert_eq!(data.head(), 2);
    }
}
