//! Time to detect: the watch logic run on the drill's world. Every trigger that names
//! the scenario probes on its interval from the moment the failure was injected (or,
//! for the failback, from the moment home was repaired), on the watch clock
//! (simulated on sim), until each has fired or could no longer fire.
//!
//! With `[watch]`, the drill plays every declared watcher: each probes on its own
//! phase (spread evenly over one interval, as independent hosts are), one cut off in
//! the sim sees every probe fail, and a trigger is detected when a watcher's own
//! streak fires while a quorum agrees (`watch::quorum`), as `drplan watch` acts.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::{Environment, FailbackMode, Trigger};
use crate::session::Session;
use crate::state::observations::{Observations, Watching};
use crate::watch::clock::{Clock, Schedule};
use crate::watch::probe;
use crate::watch::quorum::{self, Verdict};
use crate::watch::streak::{Confirmation, Reading, Streak};

/// What the triggers watch for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// The incident: the active region failing.
    Incident,
    /// The failback: home healthy again.
    Home,
}

/// What one trigger did in the drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerDetection {
    pub trigger: String,
    /// Whether it would have acted alone: started the scenario, or (watching home)
    /// applied the failback.
    pub automatic: bool,
    #[serde(with = "crate::duration::seconds")]
    pub hold: Duration,
    /// Time from the injected failure to the trigger firing (watch time), if it fired.
    #[serde(with = "optional_seconds")]
    pub detected_after: Option<Duration>,
    pub probes: u32,
    /// What its last probe found.
    pub last_finding: String,
    /// With `[watch]`: the watchers that agreed when it was detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<String>,
}

impl TriggerDetection {
    /// A trigger that has not probed yet.
    fn pending(trigger: &Trigger, watched: Watched) -> Self {
        let automatic = match watched {
            Watched::Incident => trigger.automatic,
            Watched::Home => trigger.failback == FailbackMode::Auto,
        };
        Self {
            trigger: trigger.name.value.clone(),
            automatic,
            hold: trigger.duration,
            detected_after: None,
            probes: 0,
            last_finding: String::new(),
            quorum: None,
        }
    }
}

/// Runs `triggers` against the world of `session` from now until each fired or is past
/// `for` plus two intervals; also returns the wall time it took.
pub async fn detect(
    session: &Session,
    triggers: &[&Trigger],
    watched: Watched,
    mut clock: Clock,
) -> Result<(Vec<TriggerDetection>, Duration), Error> {
    let wall = Instant::now();
    let (state, _) = session.state().await?;
    let start = clock.now();
    let env = &session.loaded.env;
    let players = players(session);
    let count = players.len();
    // One entry per trigger and watcher: entry `t * count + w`.
    let entries = || (0..triggers.len()).flat_map(|t| (0..count).map(move |w| (t, w)));
    let first_due = entries()
        .map(|(t, w)| start + phase(triggers[t].interval, w, count))
        .collect();
    let intervals = entries().map(|(t, _)| triggers[t].interval).collect();
    let mut schedule = Schedule::starting(first_due, intervals);
    let mut streaks = vec![Streak::default(); triggers.len() * count];
    let mut published: Vec<Observations> = players.iter().map(Player::published).collect();
    let mut detections: Vec<TriggerDetection> = triggers
        .iter()
        .map(|t| TriggerDetection::pending(t, watched))
        .collect();
    let mut open: Vec<bool> = vec![true; triggers.len()];
    let watching = match watched {
        Watched::Incident => Watching::Incident,
        Watched::Home => Watching::Home,
    };
    while let Some((entry, due)) = schedule.next() {
        let (index, player) = (entry / count, &players[entry % count]);
        let trigger = triggers[index];
        let last_phase = phase(trigger.interval, count - 1, count);
        if due > start + last_phase + trigger.duration + trigger.interval * 2 {
            open[index] = false;
        }
        if !open.contains(&true) {
            break;
        }
        schedule.advance(entry);
        if !open[index] {
            continue;
        }
        clock.wait_until(due).await;
        let finding = if player.cut_off {
            quorum::cut_off(&player.name, watching)
        } else {
            match watched {
                Watched::Incident => probe::incident(session, &state, trigger).await,
                Watched::Home => probe::home(session, trigger).await?,
            }
        };
        let reading = streaks[entry].record(due, finding.holds, Confirmation::of(trigger));
        let verdict = env.watch.as_ref().map(|watch| {
            let seen = quorum::observation(watching, due, reading, &finding);
            published[entry % count]
                .triggers
                .insert(trigger.name.value.clone(), seen);
            let rule = quorum::Rule {
                watching,
                hold: trigger.duration,
                freshness: watch.freshness(trigger),
                needed: watch.needed(),
            };
            quorum::judge(&player.name, &trigger.name.value, &published, due, rule)
        });
        let detection = &mut detections[index];
        if entry % count == 0 {
            detection.probes += 1;
        }
        detection.last_finding = finding.detail;
        match (reading, verdict) {
            (Reading::Fires(_), None) => {
                detection.detected_after = Some(due.duration_since(start).unwrap_or_default());
                open[index] = false;
            }
            (Reading::Fires(_), Some(verdict @ Verdict::Agreed { .. })) => {
                detection.detected_after = Some(due.duration_since(start).unwrap_or_default());
                detection.quorum = Some(verdict.describe());
                open[index] = false;
            }
            (Reading::Fires(_), Some(_)) => streaks[entry].rearm(),
            _ => {}
        }
    }
    Ok((detections, wall.elapsed()))
}

/// A watcher the drill plays: one per `[watch]` watcher, else the one watcher.
struct Player {
    name: String,
    region: String,
    /// Cut off in the sim world: every probe fails.
    cut_off: bool,
}

impl Player {
    fn published(&self) -> Observations {
        Observations {
            watcher: self.name.clone(),
            region: self.region.clone(),
            triggers: std::collections::BTreeMap::new(),
        }
    }
}

fn players(session: &Session) -> Vec<Player> {
    let env: &Environment = &session.loaded.env;
    match &env.watch {
        Some(watch) if !watch.watchers.is_empty() => watch
            .watchers
            .iter()
            .map(|w| Player {
                name: w.name.value.clone(),
                region: w.region.value.clone(),
                cut_off: quorum::is_cut_off(session, &w.name.value),
            })
            .collect(),
        _ => vec![Player {
            name: "watch".to_string(),
            region: env.home.value.clone(),
            cut_off: false,
        }],
    }
}

/// When watcher `index` of `count` first probes: spread evenly over one `interval`.
fn phase(interval: Duration, index: usize, count: usize) -> Duration {
    let (index, count) = (
        u32::try_from(index).unwrap_or(u32::MAX),
        u32::try_from(count.max(1)).unwrap_or(u32::MAX),
    );
    interval / count * index
}

/// The first detection: the time to detect.
pub fn first(detections: &[TriggerDetection]) -> Option<&TriggerDetection> {
    detections
        .iter()
        .filter(|d| d.detected_after.is_some())
        .min_by_key(|d| d.detected_after)
}

/// Serializes an optional duration as whole seconds (or null).
pub mod optional_seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => serializer.serialize_some(&duration.as_secs()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_secs))
    }
}
