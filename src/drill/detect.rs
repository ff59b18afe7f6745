//! Time to detect: the watch logic run on the drill's world. Every trigger that names
//! the scenario probes on its interval from the moment the failure was injected (or,
//! for the failback, from the moment home was repaired), on the watch clock
//! (simulated on sim), until each has fired or could no longer fire.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::{FailbackMode, Trigger};
use crate::session::Session;
use crate::watch::clock::{Clock, Schedule};
use crate::watch::probe;
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
    let mut schedule = Schedule::new(start, triggers.iter().map(|t| t.interval).collect());
    let mut streaks = vec![Streak::default(); triggers.len()];
    let mut detections: Vec<TriggerDetection> = triggers
        .iter()
        .map(|t| TriggerDetection::pending(t, watched))
        .collect();
    let mut open: Vec<bool> = vec![true; triggers.len()];
    while let Some((index, due)) = schedule.next() {
        let trigger = triggers[index];
        if due > start + trigger.duration + trigger.interval * 2 {
            open[index] = false;
        }
        if !open.contains(&true) {
            break;
        }
        schedule.advance(index);
        if !open[index] {
            continue;
        }
        clock.wait_until(due).await;
        let finding = match watched {
            Watched::Incident => probe::incident(session, &state, trigger).await,
            Watched::Home => probe::home(session, trigger).await?,
        };
        let detection = &mut detections[index];
        detection.probes += 1;
        detection.last_finding = finding.detail;
        if let Reading::Fires(_) =
            streaks[index].record(due, finding.holds, Confirmation::of(trigger))
        {
            detection.detected_after = Some(due.duration_since(start).unwrap_or_default());
            open[index] = false;
        }
    }
    Ok((detections, wall.elapsed()))
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
