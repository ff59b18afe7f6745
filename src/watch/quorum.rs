//! The watch quorum: whether enough watchers agree that a trigger's condition has held
//! for its `for`. A watcher's observation counts when it is fresh (observed within
//! `freshness` of now), watches for the same thing, holds, and held for `for` over at
//! least two probes. A watcher whose own probes all fail while another fresh watcher
//! sees health is partitioned: it is the one cut off, and never acts.

use std::time::{Duration, SystemTime};

use super::probe::Finding;
use super::streak::{CONFIRMING_PROBES, Reading};
use crate::session::Session;
use crate::state::observations::{Observation, Observations, Watching};

/// What the watchers, together, say about one trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// At least `needed` fresh watchers saw the condition for `for`.
    Agreed { agreeing: Vec<String> },
    /// Fewer did: no watcher acts.
    Short {
        agreeing: Vec<String>,
        needed: usize,
    },
    /// This watcher's probes all fail while these fresh watchers see otherwise.
    Partitioned { seeing_health: Vec<String> },
}

/// The rule a verdict is judged by.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub watching: Watching,
    /// The trigger's `for`.
    pub hold: Duration,
    pub freshness: Duration,
    pub needed: usize,
}

/// Judges `trigger` at `now` for the watcher `me`, from every watcher's observations
/// (its own among them).
pub fn judge(
    me: &str,
    trigger: &str,
    all: &[Observations],
    now: SystemTime,
    rule: Rule,
) -> Verdict {
    let fresh: Vec<(&str, &Observation)> = all
        .iter()
        .filter_map(|o| Some((o.watcher.as_str(), o.triggers.get(trigger)?)))
        .filter(|(_, seen)| seen.watching == rule.watching && is_fresh(seen, now, rule.freshness))
        .collect();
    let own = fresh.iter().find(|(name, _)| *name == me).map(|(_, o)| *o);
    if let Some(own) = own.filter(|o| o.blind) {
        let seeing_health: Vec<String> = fresh
            .iter()
            .filter(|(name, seen)| *name != me && !seen.blind && seen.holds != own.holds)
            .map(|(name, _)| (*name).to_string())
            .collect();
        if !seeing_health.is_empty() {
            return Verdict::Partitioned { seeing_health };
        }
    }
    let agreeing: Vec<String> = fresh
        .iter()
        .filter(|(_, seen)| held_long_enough(seen, rule.hold))
        .map(|(name, _)| (*name).to_string())
        .collect();
    if agreeing.len() >= rule.needed {
        Verdict::Agreed { agreeing }
    } else {
        Verdict::Short {
            agreeing,
            needed: rule.needed,
        }
    }
}

/// Observed within `freshness` of `now`, either way (watchers' clocks differ a little).
fn is_fresh(seen: &Observation, now: SystemTime, freshness: Duration) -> bool {
    let age = now
        .duration_since(seen.observed)
        .or_else(|e| Ok::<_, ()>(e.duration()))
        .unwrap_or_default();
    age <= freshness
}

fn held_long_enough(seen: &Observation, hold: Duration) -> bool {
    let held_for = seen.observed.duration_since(seen.since).unwrap_or_default();
    seen.holds && seen.probes >= CONFIRMING_PROBES && held_for >= hold
}

impl Verdict {
    /// `quorum 2 of 3 (a, b)`, for the watch log.
    pub fn describe(&self) -> String {
        match self {
            Self::Agreed { agreeing } => {
                format!("quorum reached: {} agree", agreeing.join(", "))
            }
            Self::Short { agreeing, needed } if agreeing.is_empty() => {
                format!("no watcher agrees yet (quorum {needed})")
            }
            Self::Short { agreeing, needed } => format!(
                "{} of quorum {needed} agree ({})",
                agreeing.len(),
                agreeing.join(", ")
            ),
            Self::Partitioned { seeing_health } => format!(
                "PARTITIONED: every probe of this watcher fails while {} see(s) otherwise; not acting",
                seeing_health.join(", ")
            ),
        }
    }
}

/// What a watcher publishes of one probe.
pub fn observation(
    watching: Watching,
    now: SystemTime,
    reading: Reading,
    finding: &Finding,
) -> Observation {
    let held = match reading {
        Reading::Clear => None,
        Reading::Holding(held) | Reading::Fires(held) | Reading::Fired(held) => Some(held),
    };
    Observation {
        watching,
        holds: finding.holds,
        since: held.map_or(now, |held| now.checked_sub(held.duration).unwrap_or(now)),
        probes: held.map_or(0, |held| held.probes),
        observed: now,
        blind: finding.blind,
        detail: finding.detail.clone(),
    }
}

/// Whether the sim world has cut `watcher` off (`drplan sim set --watcher NAME
/// --partitioned`); never outside the sim.
pub fn is_cut_off(session: &Session, watcher: &str) -> bool {
    session.connection.time_scale.is_some()
        && crate::providers::sim::SimWorld::load(&crate::paths::sim_file(&session.loaded.env.name))
            .is_ok_and(|world| world.partitioned_watchers.contains(watcher))
}

/// What a watcher cut off finds: every probe fails, so the services look down and
/// home not healthy.
pub fn cut_off(watcher: &str, watching: Watching) -> Finding {
    Finding {
        holds: watching == Watching::Incident,
        detail: format!("watcher {watcher} is cut off (sim)"),
        blind: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule {
        watching: Watching::Incident,
        hold: Duration::from_mins(5),
        freshness: Duration::from_mins(1),
        needed: 2,
    };

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
    }

    /// Watcher `name` saw the condition `holds` from `since` to `observed` (seconds).
    fn seen(name: &str, holds: bool, since: u64, observed: u64, blind: bool) -> Observations {
        let probes = u32::try_from((observed - since) / 30 + 1).unwrap();
        let observation = Observation {
            watching: Watching::Incident,
            holds,
            since: at(since),
            probes,
            observed: at(observed),
            blind,
            detail: String::new(),
        };
        Observations {
            watcher: name.to_string(),
            region: "r".to_string(),
            triggers: [("t".to_string(), observation)].into(),
        }
    }

    #[test]
    fn a_quorum_of_fresh_watchers_that_held_for_the_duration_agrees() {
        let all = [
            seen("a", true, 0, 300, true),
            seen("b", true, 10, 310, true),
            seen("c", true, 200, 300, true),
        ];
        assert_eq!(
            judge("a", "t", &all, at(310), RULE),
            Verdict::Agreed {
                agreeing: vec!["a".into(), "b".into()]
            }
        );
    }

    #[test]
    fn a_stale_observation_does_not_count() {
        let all = [
            seen("a", true, 0, 300, false),
            seen("b", true, 0, 300, false),
        ];
        assert_eq!(
            judge("a", "t", &all, at(400), RULE),
            Verdict::Short {
                agreeing: vec![],
                needed: 2
            }
        );
    }

    #[test]
    fn a_blind_watcher_while_others_see_health_is_partitioned() {
        let all = [
            seen("a", true, 0, 300, true),
            seen("b", false, 300, 300, false),
            seen("c", false, 300, 300, false),
        ];
        assert_eq!(
            judge("a", "t", &all, at(300), RULE),
            Verdict::Partitioned {
                seeing_health: vec!["b".into(), "c".into()]
            }
        );
        assert!(matches!(
            judge("b", "t", &all, at(300), RULE),
            Verdict::Short { .. }
        ));
    }

    #[test]
    fn a_watcher_for_another_condition_does_not_count() {
        let mut home = seen("b", true, 0, 300, false);
        home.triggers.get_mut("t").unwrap().watching = Watching::Home;
        let all = [seen("a", true, 0, 300, false), home];
        assert!(matches!(
            judge("a", "t", &all, at(300), RULE),
            Verdict::Short { .. }
        ));
    }
}
