//! What a trigger sees in one probe. For an incident: whether its services are
//! unhealthy in the region they are active in (`health`), or the error rate is over
//! its threshold (`error-rate`), or a CloudWatch alarm is in `ALARM` (`alarm`). For a failback: whether home is healthy again.
//! The runtime reads error rates and probes standbys (on sim, from the sim world).

use tokio::task::JoinSet;

use crate::error::Error;
use crate::model::{AlarmProbe, Environment, Service, Trigger, TriggerKind};
use crate::providers::{AlarmState, ProbeResult, Runtime};
use crate::session::Session;
use crate::state::State;

/// The outcome of one probe: whether the watched condition holds, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub holds: bool,
    pub detail: String,
    /// Every probe failed or could not be read: the watcher may be the one cut off.
    pub blind: bool,
}

/// Whether `trigger` sees an incident: its services failing, or its error rate too high.
pub async fn incident(session: &Session, state: &State, trigger: &Trigger) -> Finding {
    match &trigger.kind {
        TriggerKind::Health => {
            let services = watched(&session.loaded.env, trigger);
            failing(&probe_active(session, state, &services).await)
        }
        TriggerKind::ErrorRate { threshold, probe } => {
            let ratio = session
                .connection
                .runtime
                .services
                .error_rate(&session.loaded.env, &trigger.name.value, probe.as_ref())
                .await;
            match ratio {
                Ok(ratio) => Finding {
                    holds: ratio > *threshold,
                    detail: format!("error rate {ratio:.2} (threshold {threshold})"),
                    blind: false,
                },
                Err(error) => Finding {
                    holds: false,
                    detail: format!("cannot read the error rate: {error}"),
                    blind: true,
                },
            }
        }
        TriggerKind::Alarm(alarm) => alarm_finding(session, alarm).await,
    }
}

/// Whether `alarm` is in `ALARM`; an alarm that cannot be read is not.
async fn alarm_finding(session: &Session, alarm: &AlarmProbe) -> Finding {
    let Some(alarms) = &session.connection.runtime.alarms else {
        return Finding {
            holds: false,
            detail: format!("alarm {}: no alarm provider is connected", alarm.name),
            blind: true,
        };
    };
    match alarms.state(&session.loaded.env, alarm).await {
        Ok(state) => Finding {
            holds: state == AlarmState::Alarm,
            detail: format!("alarm {} is {}", alarm.name, state.as_str()),
            blind: false,
        },
        Err(error) => Finding {
            holds: false,
            detail: format!("cannot read alarm {}: {error}", alarm.name),
            blind: true,
        },
    }
}

/// Whether the home region could serve the services `trigger` watches again. On sim:
/// the region is up and none of them is marked down there; otherwise their health
/// probes, rendered for home, pass.
pub async fn home(session: &Session, trigger: &Trigger) -> Result<Finding, Error> {
    let env = &session.loaded.env;
    let home = env.home.value.as_str();
    let services = watched(env, trigger);
    let mut probed = Vec::new();
    for service in &services {
        let name = service.name.value.as_str();
        let probe = service
            .health
            .as_ref()
            .map(|p| p.render(&env.context(Some(home)).service(name)));
        let result = session
            .connection
            .runtime
            .services
            .probe_standby(name, home, probe.as_ref())
            .await;
        probed.push(verdict(name, home, failure(result)));
    }
    let failing = failing(&probed);
    Ok(Finding {
        holds: !failing.holds,
        detail: failing.detail,
        blind: failing.blind,
    })
}

/// Whether any service is active away from home (where the runtime says, else the
/// state, else home).
pub async fn away_from_home(session: &Session, state: &State) -> Result<bool, Error> {
    let env = &session.loaded.env;
    for service in &env.services {
        if active_region(session, state, &service.name.value).await? != env.home.value {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One service probed in one region: `(service in region, why it failed)`.
type Verdict = (String, Option<String>);

fn verdict(service: &str, region: &str, failure: Option<String>) -> Verdict {
    (format!("{service} in {region}"), failure)
}

/// The trigger's `services`, or every service.
fn watched<'e>(env: &'e Environment, trigger: &Trigger) -> Vec<&'e Service> {
    match &trigger.services {
        Some(names) => names
            .iter()
            .filter_map(|name| env.service(&name.value))
            .collect(),
        None => env.services.iter().collect(),
    }
}

/// Where `service` is active: the runtime knows on sim; otherwise the state, else home.
async fn active_region(session: &Session, state: &State, service: &str) -> Result<String, Error> {
    let env = &session.loaded.env;
    Ok(
        match session
            .connection
            .runtime
            .services
            .placement(service)
            .await?
        {
            Some(region) => region,
            None => state
                .placement
                .get(service)
                .cloned()
                .unwrap_or_else(|| env.home.value.clone()),
        },
    )
}

/// Probes each of `services` in the region it is active in.
async fn probe_active(session: &Session, state: &State, services: &[&Service]) -> Vec<Verdict> {
    let mut placed = Vec::new();
    for service in services {
        match active_region(session, state, &service.name.value).await {
            Ok(region) => placed.push((*service, region)),
            Err(error) => return vec![(service.name.value.clone(), Some(error.to_string()))],
        }
    }
    probe_all(&session.loaded.env, &session.connection.runtime, &placed).await
}

/// Probes every `(service, region)` at once, each with its health probe rendered for
/// its region; the verdicts come back in the order given.
async fn probe_all(
    env: &Environment,
    runtime: &Runtime,
    placed: &[(&Service, String)],
) -> Vec<Verdict> {
    let mut probes = JoinSet::new();
    for (index, (service, region)) in placed.iter().enumerate() {
        let name = service.name.value.clone();
        let context = env.context(Some(region)).service(&name);
        let probe = service.health.as_ref().map(|probe| probe.render(&context));
        let (runtime, region) = (runtime.clone(), region.clone());
        probes.spawn(async move {
            let result = runtime.services.probe(&name, &region, probe.as_ref()).await;
            (index, verdict(&name, &region, failure(result)))
        });
    }
    let mut verdicts: Vec<(usize, Verdict)> = probes.join_all().await.into_iter().collect();
    verdicts.sort_by_key(|(index, _)| *index);
    verdicts.into_iter().map(|(_, verdict)| verdict).collect()
}

fn failure(result: Result<ProbeResult, Error>) -> Option<String> {
    match result {
        Ok(result) if result.healthy => None,
        Ok(result) => Some(result.detail),
        Err(error) => Some(error.to_string()),
    }
}

/// Failing when any verdict failed: the first failure, and how many more there are;
/// blind when every one failed.
fn failing(verdicts: &[Verdict]) -> Finding {
    let failed: Vec<&Verdict> = verdicts.iter().filter(|(_, f)| f.is_some()).collect();
    let detail = match failed.first() {
        None => format!("{} service(s) healthy", verdicts.len()),
        Some((what, failure)) => {
            let first = format!("{what}: {}", failure.as_deref().unwrap_or(""));
            match failed.len() - 1 {
                0 => first,
                more => format!("{first} (and {more} more of {})", verdicts.len()),
            }
        }
    };
    Finding {
        holds: !failed.is_empty(),
        detail,
        blind: !verdicts.is_empty() && failed.len() == verdicts.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_is_named_with_how_many_more_there_are() {
        let verdicts = vec![
            ("api in us-east-1".to_string(), None),
            (
                "db in us-east-1".to_string(),
                Some("region down".to_string()),
            ),
            (
                "chat in us-east-1".to_string(),
                Some("region down".to_string()),
            ),
        ];
        assert_eq!(
            failing(&verdicts),
            Finding {
                holds: true,
                detail: "db in us-east-1: region down (and 1 more of 3)".to_string(),
                blind: false,
            }
        );
        assert_eq!(failing(&verdicts[..1]).detail, "1 service(s) healthy");
    }
}
