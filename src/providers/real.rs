//! The real service runtime: services are brought up and restored by running their
//! commands, and judged by their HTTP or command health probes. `${env:VAR}` in
//! commands and URLs is resolved as each one runs, and never appears in what it hands
//! back.
//!
//! It knows nothing else about the world: a region counts as up (real regions are
//! judged by the probes of the services in them), and where a service is active is
//! tracked in the state file, not asked of the runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::aurora::Aurora;
use super::rds::Rds;
use super::{Output, ProbeResult, ReplicaReading, ServiceRuntime, error_rate, http, process};
use crate::error::Error;
use crate::model::data_set::{LagProbe, LagSource};
use crate::model::template::Context;
use crate::model::until::{Until, verdict};
use crate::model::{
    AuroraMove, BackupLocation, DataSet, Environment, ErrorRateProbe, HealthCheck, HealthProbe,
};
use crate::secrets::Secrets;

/// Runs real commands and probes real endpoints.
#[derive(Debug, Clone)]
pub struct RealRuntime {
    client: reqwest::Client,
    command_timeout: Duration,
    secrets: Arc<Secrets>,
    /// The environment's RDS services, promoted through the SDK instead of a command.
    rds: Option<Rds>,
    /// The environment's Aurora services, whose writer moves through the SDK.
    aurora: Option<Aurora>,
}

impl RealRuntime {
    /// A runtime probing over `client`, giving each `activate`, `restore` and
    /// scenario command at most `command_timeout`, resolving `${env:VAR}` with `secrets`.
    #[must_use]
    pub fn new(client: reqwest::Client, command_timeout: Duration, secrets: Arc<Secrets>) -> Self {
        Self {
            client,
            command_timeout,
            secrets,
            rds: None,
            aurora: None,
        }
    }

    /// This runtime, promoting the RDS services of `rds` itself.
    #[must_use]
    pub fn with_rds(self, rds: Option<Rds>) -> Self {
        Self { rds, ..self }
    }

    /// This runtime, moving the writers of the Aurora services of `aurora` itself.
    #[must_use]
    pub fn with_aurora(self, aurora: Option<Aurora>) -> Self {
        Self { aurora, ..self }
    }

    /// Runs a lifecycle command, giving it at most `timeout` (and never more than any
    /// command may take).
    async fn run_bounded(&self, command: &[String], timeout: Duration) -> Result<Output, Error> {
        let timeout = timeout.min(self.command_timeout);
        process::run(command, timeout, &[], &self.secrets).await
    }

    /// Runs `command`, when there is one, for at most `timeout`.
    async fn run_optional(
        &self,
        command: Option<&[String]>,
        timeout: Duration,
    ) -> Result<Output, Error> {
        match command {
            Some(argv) => self.run_bounded(argv, timeout).await,
            None => Ok(Output {
                log: "no command: nothing to run".to_string(),
            }),
        }
    }

    async fn probe_http(
        &self,
        url: &str,
        expect: u16,
        max_latency: Option<Duration>,
        timeout: Duration,
    ) -> ProbeResult {
        let started = Instant::now();
        match http::get(&self.client, url, timeout, &self.secrets).await {
            Ok((status, latency)) => judge_http(url, expect, max_latency, status, latency),
            Err(error) => ProbeResult {
                healthy: false,
                detail: error.to_string(),
                latency: started.elapsed(),
            },
        }
    }
}

impl RealRuntime {
    /// What `probe` reads once: its URL's body or its command's output.
    async fn lag_output(&self, probe: &LagProbe, context: &Context<'_>) -> Result<String, Error> {
        Ok(match &probe.source {
            LagSource::Url(url) => {
                let url = url.render(context);
                http::get_text(&self.client, &url, probe.timeout, "lag", &self.secrets).await?
            }
            LagSource::Command(argv) => {
                process::run(&argv.render(context), probe.timeout, &[], &self.secrets)
                    .await?
                    .log
            }
        })
    }

    /// One try of a probe that waits until `until` holds: what its URL answers (with a
    /// 2xx status) or its command prints (exiting 0), judged.
    async fn probe_until(&self, probe: &HealthProbe, until: &Until) -> ProbeResult {
        let started = Instant::now();
        let output = match &probe.check {
            HealthCheck::Http { url, .. } => {
                let url = url.to_string();
                http::get_text(&self.client, &url, probe.timeout, "health", &self.secrets).await
            }
            HealthCheck::Command { argv } => {
                process::run(&argv.argv(), probe.timeout, &[], &self.secrets)
                    .await
                    .map(|output| output.log)
            }
        };
        let (healthy, detail) = match output {
            Ok(output) => verdict(until, Some(&output)),
            Err(error) => (false, error.to_string()),
        };
        ProbeResult {
            healthy,
            detail,
            latency: started.elapsed(),
        }
    }
}

#[async_trait]
impl ServiceRuntime for RealRuntime {
    async fn activate(
        &self,
        service: &str,
        region: &str,
        command: Option<&[String]>,
        timeout: Duration,
    ) -> Result<Output, Error> {
        match &self.rds {
            Some(rds) if rds.instance(service, region).is_some() => {
                rds.promote(service, region).await
            }
            _ => self.run_optional(command, timeout).await,
        }
    }

    async fn move_aurora(
        &self,
        service: &str,
        region: &str,
        how: AuroraMove,
        accept_data_loss: bool,
        timeout: Duration,
    ) -> Result<Output, Error> {
        match &self.aurora {
            Some(aurora) if aurora.cluster(service, region).is_some() => {
                aurora
                    .move_writer(service, region, how, accept_data_loss)
                    .await
            }
            _ => self.activate(service, region, None, timeout).await,
        }
    }

    async fn check_members(&self, service: &str, region: &str) -> Result<String, Error> {
        match &self.aurora {
            Some(aurora) if aurora.cluster(service, region).is_some() => {
                aurora.check_members(service, region).await
            }
            _ => Ok(String::new()),
        }
    }

    async fn restore(
        &self,
        _service: &str,
        _region: &str,
        _backup: &str,
        command: Option<&[String]>,
        timeout: Duration,
    ) -> Result<Output, Error> {
        self.run_optional(command, timeout).await
    }

    async fn deactivate(
        &self,
        _service: &str,
        _region: &str,
        command: &[String],
        timeout: Duration,
    ) -> Result<Output, Error> {
        self.run_bounded(command, timeout).await
    }

    async fn resync(
        &self,
        _service: &str,
        _region: &str,
        command: &[String],
        timeout: Duration,
    ) -> Result<Output, Error> {
        self.run_bounded(command, timeout).await
    }

    async fn backup(
        &self,
        _service: &str,
        _region: &str,
        command: &[String],
        _backups: &[BackupLocation],
        timeout: Duration,
    ) -> Result<Output, Error> {
        self.run_bounded(command, timeout).await
    }

    /// Runs the data set's lag probe for `region`: a URL's body or a command's output.
    async fn replication(
        &self,
        data: &DataSet,
        region: &str,
        env: &Environment,
    ) -> Result<Option<ReplicaReading>, Error> {
        let Some(probe) = &data.lag else {
            let service = &data.service.value;
            return match (&self.rds, &self.aurora) {
                (_, Some(aurora)) if aurora.cluster(service, region).is_some() => {
                    aurora.replica_lag(service, region).await
                }
                (Some(rds), _) => rds.replica_lag(service, region).await,
                _ => Ok(None),
            };
        };
        let context = env.context(Some(region)).service(&data.service.value);
        let unreadable = |detail| Error::UnreadableLag {
            data: data.name.value.clone(),
            region: region.to_string(),
            detail,
        };
        let mut tries = probe.until.as_ref().map_or(1, Until::tries);
        let output = loop {
            let output = self.lag_output(probe, &context).await?;
            let Some(until) = &probe.until else {
                break output;
            };
            match until.judge(&output) {
                Ok(_) => break output,
                Err(seen) if tries <= 1 => {
                    return Err(unreadable(format!("waited for {}: {seen}", until.wanted())));
                }
                Err(_) => {
                    tries -= 1;
                    tokio::time::sleep(until.interval).await;
                }
            }
        };
        let lag = probe.read(&output).map_err(unreadable)?;
        Ok(Some(ReplicaReading {
            lag: Some(lag),
            behind_writes: None,
            stopped: false,
        }))
    }

    async fn read_url(&self, url: &str, timeout: Duration) -> Result<String, Error> {
        http::get_text(&self.client, url, timeout, "check", &self.secrets).await
    }

    async fn run(&self, argv: &[String], timeout: Option<Duration>) -> Result<Output, Error> {
        let timeout = timeout.unwrap_or(self.command_timeout);
        process::run(argv, timeout, &[], &self.secrets).await
    }

    async fn probe(
        &self,
        _service: &str,
        _region: &str,
        probe: Option<&HealthProbe>,
    ) -> Result<ProbeResult, Error> {
        let Some(probe) = probe else {
            return Ok(ProbeResult {
                healthy: true,
                detail: "no health probe".to_string(),
                latency: Duration::ZERO,
            });
        };
        if let Some(until) = &probe.until {
            return Ok(self.probe_until(probe, until).await);
        }
        Ok(match &probe.check {
            HealthCheck::Http {
                url,
                expect,
                max_latency,
            } => {
                self.probe_http(&url.to_string(), *expect, *max_latency, probe.timeout)
                    .await
            }
            HealthCheck::Command { argv } => {
                probe_command(&argv.argv(), probe.timeout, &self.secrets).await
            }
        })
    }

    /// GETs `url` once, judged like an HTTP health probe.
    async fn check_url(
        &self,
        url: &str,
        expect: u16,
        max_latency: Option<Duration>,
        timeout: Duration,
    ) -> Result<ProbeResult, Error> {
        Ok(self.probe_http(url, expect, max_latency, timeout).await)
    }

    async fn error_rate(
        &self,
        env: &Environment,
        trigger: &str,
        probe: Option<&ErrorRateProbe>,
    ) -> Result<f64, Error> {
        error_rate::read(env, trigger, probe, &self.secrets).await
    }

    /// Always up: real regions are judged by the probes of their services.
    async fn region_up(&self, _region: &str) -> Result<bool, Error> {
        Ok(true)
    }

    /// Unknown: real placement lives in the state file.
    async fn placement(&self, _service: &str) -> Result<Option<String>, Error> {
        Ok(None)
    }
}

/// Healthy iff the status is `expect` and the response came within `max_latency`.
fn judge_http(
    url: &str,
    expect: u16,
    max_latency: Option<Duration>,
    status: u16,
    latency: Duration,
) -> ProbeResult {
    let answer = format!("GET {url} → {status}");
    let (healthy, detail) = if status != expect {
        (false, format!("{answer}, expected {expect}"))
    } else if let Some(max) = max_latency.filter(|max| latency > *max) {
        (
            false,
            format!(
                "{answer} but took {}ms, max {}ms",
                latency.as_millis(),
                max.as_millis()
            ),
        )
    } else {
        (true, format!("{answer} in {}ms", latency.as_millis()))
    };
    ProbeResult {
        healthy,
        detail,
        latency,
    }
}

/// Healthy iff `argv` exits 0 within `timeout`.
async fn probe_command(argv: &[String], timeout: Duration, secrets: &Secrets) -> ProbeResult {
    let started = Instant::now();
    let (healthy, detail) = match process::run(argv, timeout, &[], secrets).await {
        Ok(_) => (true, format!("`{}` exited 0", argv[0])),
        Err(error) => (false, error.to_string()),
    };
    ProbeResult {
        healthy,
        detail,
        latency: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::http::test_server::{answer_once, refusing_url};
    use super::*;
    use crate::model::Command;

    /// The timeout a command is given in these tests.
    const TIMEOUT: Duration = Duration::from_secs(5);

    fn runtime() -> RealRuntime {
        RealRuntime::new(
            http::client(),
            Duration::from_secs(5),
            Arc::new(Secrets::default()),
        )
    }

    fn http_probe(url: &str, max_latency: Option<Duration>) -> HealthProbe {
        HealthProbe {
            check: HealthCheck::Http {
                url: crate::model::Template::text(url),
                expect: 200,
                max_latency,
            },
            timeout: Duration::from_secs(5),
            attempts: 1,
            interval: Duration::ZERO,
            until: None,
        }
    }

    fn command_probe(args: &[&str]) -> HealthProbe {
        HealthProbe {
            check: HealthCheck::Command {
                argv: Command::plain(args),
            },
            ..http_probe("", None)
        }
    }

    async fn probe(probe: &HealthProbe) -> ProbeResult {
        runtime()
            .probe("api", "eu-west", Some(probe))
            .await
            .expect("probing never errs")
    }

    #[tokio::test]
    async fn http_200_is_healthy() {
        let (url, _server) = answer_once("200 OK", Duration::ZERO).await;
        let result = probe(&http_probe(&url, Some(Duration::from_secs(2)))).await;
        assert!(result.healthy, "{}", result.detail);
        assert!(
            result.detail.starts_with(&format!("GET {url} → 200 in ")),
            "{}",
            result.detail
        );
    }

    #[tokio::test]
    async fn http_503_is_unhealthy() {
        let (url, _server) = answer_once("503 Service Unavailable", Duration::ZERO).await;
        let result = probe(&http_probe(&url, None)).await;
        assert!(!result.healthy);
        assert_eq!(result.detail, format!("GET {url} → 503, expected 200"));
    }

    #[tokio::test]
    async fn http_slower_than_max_latency_is_unhealthy() {
        let (url, _server) = answer_once("200 OK", Duration::from_millis(300)).await;
        let result = probe(&http_probe(&url, Some(Duration::from_millis(100)))).await;
        assert!(!result.healthy);
        assert!(
            result
                .detail
                .starts_with(&format!("GET {url} → 200 but took ")),
            "{}",
            result.detail
        );
        assert!(
            result.detail.ends_with("ms, max 100ms"),
            "{}",
            result.detail
        );
    }

    #[tokio::test]
    async fn http_connection_refused_is_unhealthy() {
        let url = refusing_url().await;
        let result = probe(&http_probe(&url, None)).await;
        assert!(!result.healthy);
        assert_eq!(
            result.detail,
            format!("http: GET {url}: connection refused")
        );
    }

    #[tokio::test]
    async fn check_url_judges_like_an_http_probe() {
        let (url, _server) = answer_once("404 Not Found", Duration::ZERO).await;
        let result = runtime()
            .check_url(&url, 200, None, TIMEOUT)
            .await
            .expect("checking never errs");
        assert!(!result.healthy);
        assert_eq!(result.detail, format!("GET {url} → 404, expected 200"));
    }

    #[tokio::test]
    async fn command_probe_is_healthy_on_exit_0() {
        let result = probe(&command_probe(&["true"])).await;
        assert!(result.healthy);
        assert_eq!(result.detail, "`true` exited 0");
    }

    #[tokio::test]
    async fn command_probe_is_unhealthy_on_failure() {
        let result = probe(&command_probe(&[
            "sh",
            "-c",
            "echo replica lagging; exit 1",
        ]))
        .await;
        assert!(!result.healthy);
        assert_eq!(
            result.detail,
            "command: `sh` exited with code 1; output ends with:\nreplica lagging"
        );
    }

    #[tokio::test]
    async fn no_probe_is_healthy() {
        let result = runtime()
            .probe("api", "eu-west", None)
            .await
            .expect("probing never errs");
        assert_eq!(
            result,
            ProbeResult {
                healthy: true,
                detail: "no health probe".to_string(),
                latency: Duration::ZERO
            }
        );
    }

    #[tokio::test]
    async fn activate_runs_the_command() {
        let argv = ["echo".to_string(), "api up in eu-west".to_string()];
        let output = runtime()
            .activate("api", "eu-west", Some(&argv), TIMEOUT)
            .await
            .expect("the command succeeds");
        assert_eq!(output.log, "api up in eu-west\n");
    }

    #[tokio::test]
    async fn restore_without_a_command_runs_nothing() {
        let output = runtime()
            .restore("db", "eu-west", "s3://backups/db/latest", None, TIMEOUT)
            .await
            .expect("nothing fails");
        assert_eq!(output.log, "no command: nothing to run");
    }
}
