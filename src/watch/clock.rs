//! The watch's time and its schedule. On real providers time is the wall clock. On sim
//! it is a virtual clock that moves by exactly the time it waits while sleeping only
//! that time × the time scale, so `for` and `interval` keep their meaning (and the same
//! probes happen at the same simulated moments) at any time scale, even 0. Its waits
//! end at wall-clock moments fixed from its start, so the time spent probing between
//! them does not add up: watchers started together keep the same simulated time.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// Where the watch's "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clock {
    Wall,
    Sim {
        now: SystemTime,
        scale: f64,
        /// The simulated and the wall-clock moment the clock started at.
        start: (SystemTime, Instant),
    },
}

impl Clock {
    /// The virtual clock when the session runs on sim (`time_scale` set), starting now;
    /// the wall clock otherwise.
    pub fn new(time_scale: Option<f64>) -> Self {
        let now = SystemTime::now();
        time_scale.map_or(Self::Wall, |scale| Self::Sim {
            now,
            scale,
            start: (now, Instant::now()),
        })
    }

    pub fn now(&self) -> SystemTime {
        match self {
            Self::Wall => SystemTime::now(),
            Self::Sim { now, .. } => *now,
        }
    }

    /// Waits until `at` (on sim: until the wall-clock moment as far from the start as
    /// `at` is, scaled; then the clock is `at`).
    pub async fn wait_until(&mut self, at: SystemTime) {
        match self {
            Self::Wall => {
                let remaining = at.duration_since(SystemTime::now()).unwrap_or_default();
                tokio::time::sleep(remaining).await;
            }
            Self::Sim { now, scale, start } => {
                let since_start = at.duration_since(start.0).unwrap_or_default();
                tokio::time::sleep_until(start.1 + since_start.mul_f64(scale.max(0.0))).await;
                *now = at;
            }
        }
    }
}

/// When each of several triggers is probed next: each every its own interval, from a
/// common start.
#[derive(Debug, Clone)]
pub struct Schedule {
    due: Vec<SystemTime>,
    intervals: Vec<Duration>,
}

impl Schedule {
    pub fn new(start: SystemTime, intervals: Vec<Duration>) -> Self {
        Self::starting(vec![start; intervals.len()], intervals)
    }

    /// Each entry first due at its own moment, then every its interval.
    pub fn starting(due: Vec<SystemTime>, intervals: Vec<Duration>) -> Self {
        Self { due, intervals }
    }

    /// The trigger probed next (the first in file order on a tie) and when.
    pub fn next(&self) -> Option<(usize, SystemTime)> {
        self.due
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|&(index, due)| (due, index))
    }

    /// Moves trigger `index` one interval on.
    pub fn advance(&mut self, index: usize) {
        self.due[index] += self.intervals[index];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sim_clock_moves_by_what_it_waits_without_waiting_at_scale_zero() {
        let mut clock = Clock::new(Some(0.0));
        let start = clock.now();
        let wall = std::time::Instant::now();
        clock.wait_until(start + Duration::from_hours(1)).await;
        assert_eq!(clock.now(), start + Duration::from_hours(1));
        assert!(wall.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn each_trigger_comes_round_at_its_own_interval() {
        let start = SystemTime::UNIX_EPOCH;
        let mut schedule = Schedule::new(
            start,
            vec![Duration::from_secs(30), Duration::from_secs(20)],
        );
        let mut order = Vec::new();
        for _ in 0..5 {
            let (index, due) = schedule.next().unwrap();
            order.push((index, due.duration_since(start).unwrap().as_secs()));
            schedule.advance(index);
        }
        assert_eq!(order, [(0, 0), (1, 0), (1, 20), (0, 30), (1, 40)]);
    }
}
