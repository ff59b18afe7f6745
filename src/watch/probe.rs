//! What a trigger sees in one probe. For an incident: whether its services are
//! unhealthy in the region they are active in (`health`), or the error rate is over
//! its threshold (`error-rate`). For a failback: whether home is healthy again.
//!
//! On sim an error rate is never read from its probe (that would reach the real
//! system): it is the fraction of services unhealthy in their active region.

use std::time::Duration;

use tokio::task::JoinSet;

use crate::error::Error;
use crate::model::{Environment, ErrorRateProbe, Service, Trigger, TriggerKind};
use crate::providers::sim::SimWorld;
use crate::providers::{ProbeResult, Runtime};
use crate::session::Session;
use crate::state::State;

/// How long reading an error rate may take.
const RATIO_TIMEOUT: Duration = Duration::from_secs(10);

/// The outcome of one probe: whether the watched condition holds, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub holds: bool,
    pub detail: String,
}

/// Whether `trigger` sees an incident: its services failing, or its error rate too high.
pub async fn incident(session: &Session, state: &State, trigger: &Trigger) -> Finding {
    match &trigger.kind {
        TriggerKind::Health => {
            let services = watched(&session.loaded.env, trigger);
            failing(&probe_active(session, state, &services).await)
        }
        TriggerKind::ErrorRate { threshold, probe } => {
            let ratio = if session.sim {
                sim_error_rate(session, state).await
            } else {
                read_ratio(&session.loaded.env, trigger, probe.as_ref()).await
            };
            match ratio {
                Ok(ratio) => Finding {
                    holds: ratio > *threshold,
                    detail: format!("error rate {ratio:.2} (threshold {threshold})"),
                },
                Err(error) => Finding {
                    holds: false,
                    detail: format!("cannot read the error rate: {error}"),
                },
            }
        }
    }
}

/// Whether the home region could serve the services `trigger` watches again. On sim:
/// the region is up and none of them is marked down there; otherwise their health
/// probes, rendered for home, pass.
pub async fn home(session: &Session, trigger: &Trigger) -> Result<Finding, Error> {
    let env = &session.loaded.env;
    let home = env.home.value.as_str();
    let services = watched(env, trigger);
    let probed = if session.sim {
        let world = SimWorld::load(&crate::paths::sim_file(&env.name))?;
        let mut probed = Vec::new();
        for service in &services {
            let failure = world.standby_failure(&service.name.value, home)?;
            probed.push(verdict(&service.name.value, home, failure));
        }
        probed
    } else {
        let placed: Vec<(&Service, String)> =
            services.iter().map(|s| (*s, home.to_string())).collect();
        probe_all(env, &session.connection.runtime, &placed).await
    };
    let failing = failing(&probed);
    Ok(Finding {
        holds: !failing.holds,
        detail: failing.detail,
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
        let values = [
            ("region", region.as_str()),
            ("service", name.as_str()),
            ("environment", env.name.as_str()),
        ];
        let probe = service.health.as_ref().map(|probe| probe.render(&values));
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

/// Failing when any verdict failed: the first failure, and how many more there are.
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
    }
}

/// The fraction of services unhealthy in the region they are active in.
async fn sim_error_rate(session: &Session, state: &State) -> Result<f64, Error> {
    let services: Vec<&Service> = session.loaded.env.services.iter().collect();
    let verdicts = probe_active(session, state, &services).await;
    let unhealthy = verdicts.iter().filter(|(_, f)| f.is_some()).count();
    Ok(ratio_of(unhealthy, verdicts.len()))
}

fn ratio_of(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Reads the trigger's error-rate probe: the body of a URL, or what a command prints.
async fn read_ratio(
    env: &Environment,
    trigger: &Trigger,
    probe: Option<&ErrorRateProbe>,
) -> Result<f64, Error> {
    let text = match probe {
        Some(ErrorRateProbe::Url(url)) => get_text(url).await?,
        Some(ErrorRateProbe::Command(argv)) => {
            let argv = argv.render(&[("environment", env.name.as_str())]);
            crate::providers::process::run(&argv, RATIO_TIMEOUT, &[])
                .await?
                .log
        }
        None => {
            return Err(Error::NoErrorRateProbe {
                trigger: trigger.name.value.clone(),
            });
        }
    };
    parse_ratio(&text)
}

async fn get_text(url: &str) -> Result<String, Error> {
    let unreadable = |error: reqwest::Error| {
        crate::providers::http::request_error("GET", url, RATIO_TIMEOUT, &error)
    };
    let response = crate::providers::http::client()
        .get(url)
        .timeout(RATIO_TIMEOUT)
        .send()
        .await
        .map_err(unreadable)?;
    let status = response.status();
    if !status.is_success() {
        return Err(Error::BadStatus {
            provider: "error-rate",
            request: format!("GET {url}"),
            status: status.as_u16(),
        });
    }
    response.text().await.map_err(unreadable)
}

/// A ratio from 0 to 1, the first word of `text`.
fn parse_ratio(text: &str) -> Result<f64, Error> {
    let word = text.split_whitespace().next().unwrap_or("");
    word.parse::<f64>()
        .ok()
        .filter(|ratio| (0.0..=1.0).contains(ratio))
        .ok_or_else(|| Error::NotARatio {
            text: word.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[test]
    fn a_ratio_is_the_first_word_between_zero_and_one() {
        assert_eq!(parse_ratio("0.25\n").unwrap(), 0.25);
        assert_eq!(parse_ratio("  1 errors/requests").unwrap(), 1.0);
        for bad in ["", "high", "1.5", "-0.1"] {
            assert!(parse_ratio(bad).is_err(), "{bad:?}");
        }
    }

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
                detail: "db in us-east-1: region down (and 1 more of 3)".to_string()
            }
        );
        assert_eq!(failing(&verdicts[..1]).detail, "1 service(s) healthy");
    }

    fn example() -> Environment {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/example.toml");
        crate::config::load(&path).unwrap().env
    }

    fn error_rate(probe: ErrorRateProbe) -> Trigger {
        let mut trigger = example().triggers[0].clone();
        trigger.kind = TriggerKind::ErrorRate {
            threshold: 0.5,
            probe: Some(probe.clone()),
        };
        trigger
    }

    #[tokio::test]
    async fn an_error_rate_is_read_from_what_a_command_prints() {
        let probe = ErrorRateProbe::Command(crate::model::Command(
            ["echo", "0.75"].map(String::from).to_vec(),
        ));
        let ratio = read_ratio(&example(), &error_rate(probe.clone()), Some(&probe)).await;
        assert_eq!(ratio.unwrap(), 0.75);
    }

    #[tokio::test]
    async fn an_error_rate_is_read_from_the_body_of_a_url_on_a_loopback_server() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/errors", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0_u8; 1024];
            let _ = stream.read(&mut request).await.unwrap();
            let response = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\n0.125";
            stream.write_all(response.as_bytes()).await.unwrap();
        });
        let probe = ErrorRateProbe::Url(url);
        let ratio = read_ratio(&example(), &error_rate(probe.clone()), Some(&probe)).await;
        server.await.unwrap();
        assert_eq!(ratio.unwrap(), 0.125);
    }
}
