//! Wait-until: a condition on what a probe prints or answers (`until = { json =
//! "/status", equals = "COMPLETED" }`), and the one extraction of a value from an
//! output that lag probes and conditions share. A probe with a condition passes when
//! its command exits 0 (its HTTP status is as expected) and the condition holds; it is
//! tried every `interval` until `timeout`.

use std::time::Duration;

use crate::duration::format_seconds;

/// Which part of a probe's output is the value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extract {
    /// The whole output, trimmed.
    Whole,
    /// The value at a JSON pointer (RFC 6901), e.g. `/replication/lag_ms`.
    Json(String),
    /// The first capture group of a regex (or the whole match when it has none).
    Regex(String),
}

impl Extract {
    /// The text this extraction takes from `output`.
    pub fn apply(&self, output: &str) -> Result<String, String> {
        match self {
            Self::Whole => Ok(output.trim().to_string()),
            Self::Json(pointer) => {
                let value: serde_json::Value = serde_json::from_str(output)
                    .map_err(|error| format!("the output is not JSON: {error}"))?;
                match value.pointer(pointer) {
                    Some(serde_json::Value::String(text)) => Ok(text.clone()),
                    Some(serde_json::Value::Number(number)) => Ok(number.to_string()),
                    Some(serde_json::Value::Bool(flag)) => Ok(flag.to_string()),
                    Some(other) => Err(format!("{pointer} is {other}, not a single value")),
                    None => Err(format!("the output has no {pointer}")),
                }
            }
            Self::Regex(pattern) => {
                let regex = regex::Regex::new(pattern).map_err(|error| error.to_string())?;
                let captures = regex
                    .captures(output)
                    .ok_or_else(|| format!("the output does not match /{pattern}/"))?;
                let found = captures.get(1).or_else(|| captures.get(0));
                Ok(found.map_or("", |m| m.as_str()).trim().to_string())
            }
        }
    }

    /// What the value is called in the plan: the pointer, the regex, or the output.
    fn subject(&self) -> String {
        match self {
            Self::Whole => "the output".to_string(),
            Self::Json(pointer) => pointer.clone(),
            Self::Regex(pattern) => format!("/{pattern}/"),
        }
    }
}

/// What must hold of the value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The value is this text.
    Equals(String),
    /// The output matches the extraction's regex.
    Matches,
    /// The value is a number below this one.
    Below(f64),
    /// The value is a number above this one.
    Above(f64),
}

/// A condition on a probe's output, and how long and how often to try for it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Until {
    pub extract: Extract,
    pub condition: Condition,
    /// How long to keep trying, in all.
    #[serde(with = "crate::duration::seconds")]
    pub timeout: Duration,
    /// The wait between two tries.
    #[serde(with = "crate::duration::seconds")]
    pub interval: Duration,
}

impl Until {
    /// How long to keep trying when `timeout` is not declared.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_mins(5);
    /// The wait between tries when `interval` is not declared.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

    /// The value seen in `output` when the condition holds; otherwise what was seen
    /// instead (``last saw `RUNNING` ``), or why there is no value.
    pub fn judge(&self, output: &str) -> Result<String, String> {
        let value = self.extract.apply(output)?;
        let holds = match &self.condition {
            Condition::Equals(wanted) => value == *wanted,
            Condition::Matches => true,
            Condition::Below(limit) | Condition::Above(limit) => {
                let number: f64 = value
                    .parse()
                    .map_err(|_| format!("last saw `{value}`, not a number"))?;
                match self.condition {
                    Condition::Below(_) => number < *limit,
                    _ => number > *limit,
                }
            }
        };
        if holds {
            Ok(value)
        } else {
            Err(format!("last saw `{value}`"))
        }
    }

    /// What it waits for: `/status = "COMPLETED"`.
    pub fn wanted(&self) -> String {
        let subject = self.extract.subject();
        match &self.condition {
            Condition::Equals(text) => format!("{subject} = {text:?}"),
            Condition::Matches => format!("the output matches {subject}"),
            Condition::Below(limit) => format!("{subject} < {limit}"),
            Condition::Above(limit) => format!("{subject} > {limit}"),
        }
    }

    /// The plan's words: `waits until /status = "COMPLETED" (every 10s, up to 5m)`.
    pub fn describe(&self) -> String {
        format!(
            "waits until {} (every {}, up to {})",
            self.wanted(),
            format_seconds(self.interval),
            format_seconds(self.timeout)
        )
    }

    /// How many tries fit in the timeout: the first, then one per interval.
    pub fn tries(&self) -> u32 {
        let per = self.interval.as_secs_f64().max(0.001);
        let more = (self.timeout.as_secs_f64() / per).floor();
        // Bounded by the durations' own bounds; saturates rather than wraps.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let more = more.min(f64::from(u32::MAX - 1)) as u32;
        more + 1
    }
}

/// The verdict of one try of a probe with a condition: `output` is what it printed or
/// answered, `None` when the sim answers for it with no value set (the condition is
/// taken as met, so rehearsals pass unless a value is set).
pub fn verdict(until: &Until, output: Option<&str>) -> (bool, String) {
    match output.map(|output| until.judge(output)) {
        None => (true, format!("sim: {} (no sim value set)", until.wanted())),
        Some(Ok(value)) => (true, format!("{} (saw `{value}`)", until.wanted())),
        Some(Err(seen)) => (false, format!("waited for {}: {seen}", until.wanted())),
    }
}

/// The names of the environment's probes that wait until a condition, as `drplan
/// sim set --probe` takes them: `health:SERVICE`, `check:NAME`, `step:NAME` (a
/// scenario's `run` step, in whichever scenario it is), `lag:DATA` (a lag probe).
pub fn probe_names(env: &super::Environment) -> Vec<String> {
    let health = env
        .services
        .iter()
        .filter(|s| s.health.as_ref().is_some_and(|h| h.until.is_some()))
        .map(|s| format!("health:{}", s.name.value));
    let checks = env
        .checks
        .iter()
        .filter(|c| c.until.is_some())
        .map(|c| format!("check:{}", c.name));
    let mut steps: Vec<String> = env
        .scenarios
        .iter()
        .flat_map(|s| &s.steps)
        .filter(|step| step.until.is_some())
        .map(|step| format!("step:{}", step.name))
        .collect();
    steps.sort();
    steps.dedup();
    let lags = env
        .data
        .iter()
        .filter(|d| d.lag.as_ref().is_some_and(|lag| lag.until.is_some()))
        .map(|d| format!("lag:{}", d.name.value));
    health.chain(checks).chain(steps).chain(lags).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn until(extract: Extract, condition: Condition) -> Until {
        Until {
            extract,
            condition,
            timeout: Duration::from_mins(5),
            interval: Duration::from_secs(10),
        }
    }

    #[test]
    fn a_condition_holds_or_says_what_it_saw() {
        let status = until(
            Extract::Json("/status".to_string()),
            Condition::Equals("COMPLETED".to_string()),
        );
        assert_eq!(
            status.judge(r#"{"status": "COMPLETED"}"#),
            Ok("COMPLETED".to_string())
        );
        assert_eq!(
            status.judge(r#"{"status": "RUNNING"}"#),
            Err("last saw `RUNNING`".to_string())
        );
        let lag = until(
            Extract::Regex(r"lag=(\d+)".to_string()),
            Condition::Below(1.0),
        );
        assert!(lag.judge("lag=0").is_ok());
        assert_eq!(lag.judge("lag=7"), Err("last saw `7`".to_string()));
        let size = until(Extract::Whole, Condition::Above(3.0));
        assert!(size.judge(" 4\n").is_ok());
        assert!(size.judge("many").is_err());
        let drained = until(Extract::Regex("drained".to_string()), Condition::Matches);
        assert!(drained.judge("queue drained").is_ok());
        assert!(drained.judge("queue busy").is_err());
    }

    #[test]
    fn the_plan_says_what_it_waits_for() {
        let status = until(
            Extract::Json("/status".to_string()),
            Condition::Equals("COMPLETED".to_string()),
        );
        assert_eq!(
            status.describe(),
            r#"waits until /status = "COMPLETED" (every 10s, up to 5m)"#
        );
        assert_eq!(status.tries(), 31);
    }
}
