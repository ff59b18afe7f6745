//! The confirmation machine of a trigger: fed one probe at a time (when, and whether
//! the condition held), it fires once the condition has held continuously for the
//! trigger's `for`, confirmed by at least two consecutive probes — never on one. A
//! probe where the condition does not hold resets it. It fires once per streak.
//!
//! The same machine watches for an incident (the condition: failing) and for a
//! failback (the condition: home healthy).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::model::Trigger;

/// How many consecutive probes must see the condition before the machine fires.
pub const CONFIRMING_PROBES: u32 = 2;

/// How long the condition must hold, and how often it is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmation {
    /// The trigger's `for`.
    pub hold: Duration,
    /// The trigger's `interval`.
    pub interval: Duration,
}

impl Confirmation {
    /// The trigger's `for` and `interval`.
    pub fn of(trigger: &Trigger) -> Self {
        Self {
            hold: trigger.duration,
            interval: trigger.interval,
        }
    }

    /// Probes further apart than this say nothing about the time between them (a
    /// watcher that stopped, a cron job that did not run): the streak starts again.
    pub fn max_gap(&self) -> Duration {
        self.hold.max(self.interval * 2)
    }
}

/// A run of consecutive probes that saw the condition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streak {
    /// The first probe of the streak.
    since: Option<Moment>,
    /// The latest probe of the streak.
    last: Option<Moment>,
    probes: u32,
    /// Whether this streak has fired already.
    fired: bool,
}

/// A point in time, as RFC 3339 in the history file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
struct Moment(#[serde(with = "crate::timestamp")] SystemTime);

/// What one probe did to the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// The condition does not hold: nothing is counted.
    Clear,
    /// The condition holds, not yet long enough (or not yet confirmed).
    Holding(Held),
    /// The condition has held long enough: act now.
    Fires(Held),
    /// The condition still holds, and the machine fired already in this streak.
    Fired(Held),
}

/// How long, and over how many probes, the condition has held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub duration: Duration,
    pub probes: u32,
}

impl Streak {
    /// Records a probe at `now` where the condition `holds` (or not).
    pub fn record(&mut self, now: SystemTime, holds: bool, rule: Confirmation) -> Reading {
        if !holds {
            *self = Self::default();
            return Reading::Clear;
        }
        if self.is_stale(now, rule) {
            *self = Self::default();
        }
        let since = self.since.get_or_insert(Moment(now)).0;
        self.last = Some(Moment(now));
        self.probes += 1;
        let held = Held {
            duration: now.duration_since(since).unwrap_or_default(),
            probes: self.probes,
        };
        if self.fired {
            Reading::Fired(held)
        } else if held.probes >= CONFIRMING_PROBES && held.duration >= rule.hold {
            self.fired = true;
            Reading::Fires(held)
        } else {
            Reading::Holding(held)
        }
    }

    /// Lets the streak fire again at its next probe (a watch quorum that did not
    /// agree yet, or a lock held by another watcher).
    pub fn rearm(&mut self) {
        self.fired = false;
    }

    /// Forgets the streak.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    fn is_stale(&self, now: SystemTime, rule: Confirmation) -> bool {
        self.last.is_some_and(|last| {
            now.duration_since(last.0)
                .is_ok_and(|gap| gap > rule.max_gap())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Confirmation = Confirmation {
        hold: Duration::from_mins(5),
        interval: Duration::from_secs(30),
    };

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
    }

    /// Feeds `(seconds, holds)` probes; returns the reading of each.
    fn feed(streak: &mut Streak, probes: &[(u64, bool)]) -> Vec<Reading> {
        probes
            .iter()
            .map(|&(seconds, holds)| streak.record(at(seconds), holds, RULE))
            .collect()
    }

    fn held(seconds: u64, probes: u32) -> Held {
        Held {
            duration: Duration::from_secs(seconds),
            probes,
        }
    }

    #[test]
    fn fires_once_the_condition_held_for_the_whole_duration_and_not_before() {
        let mut streak = Streak::default();
        let probes: Vec<(u64, bool)> = (0..=11).map(|i| (i * 30, true)).collect();
        let readings = feed(&mut streak, &probes);

        assert_eq!(readings[0], Reading::Holding(held(0, 1)));
        assert_eq!(readings[9], Reading::Holding(held(270, 10)));
        assert_eq!(readings[10], Reading::Fires(held(300, 11)));
        assert_eq!(readings[11], Reading::Fired(held(330, 12)));
    }

    #[test]
    fn one_probe_never_fires_even_with_no_duration_to_wait() {
        let rule = Confirmation {
            hold: Duration::ZERO,
            ..RULE
        };
        let mut streak = Streak::default();
        assert_eq!(
            streak.record(at(0), true, rule),
            Reading::Holding(held(0, 1))
        );
        assert_eq!(
            streak.record(at(30), true, rule),
            Reading::Fires(held(30, 2))
        );
    }

    #[test]
    fn a_probe_where_the_condition_does_not_hold_starts_over() {
        let mut streak = Streak::default();
        let readings = feed(
            &mut streak,
            &[(0, true), (30, true), (60, false), (90, true), (390, true)],
        );
        assert_eq!(readings[2], Reading::Clear);
        assert_eq!(readings[3], Reading::Holding(held(0, 1)));
        assert_eq!(readings[4], Reading::Fires(held(300, 2)));
    }

    #[test]
    fn a_single_flap_does_not_fire() {
        let mut streak = Streak::default();
        let flaps: Vec<(u64, bool)> = (0..40).map(|i| (i * 30, i % 2 == 0)).collect();
        let readings = feed(&mut streak, &flaps);
        assert!(
            readings
                .iter()
                .all(|r| matches!(r, Reading::Clear | Reading::Holding(_))),
            "{readings:?}"
        );
    }

    #[test]
    fn probes_too_far_apart_do_not_make_a_streak() {
        let mut streak = Streak::default();
        let readings = feed(&mut streak, &[(0, true), (301, true), (330, true)]);
        assert_eq!(readings[1], Reading::Holding(held(0, 1)));
        assert_eq!(readings[2], Reading::Holding(held(29, 2)));
    }

    #[test]
    fn the_streak_survives_the_history_file() {
        let mut streak = Streak::default();
        feed(&mut streak, &[(0, true), (30, true)]);
        let text = serde_json::to_string(&streak).unwrap();
        assert!(text.contains("2023-11-14T22:13:20"), "{text}");
        let mut read: Streak = serde_json::from_str(&text).unwrap();
        assert_eq!(read, streak);
        assert_eq!(
            read.record(at(60), true, RULE),
            Reading::Holding(held(60, 3))
        );
    }
}
