//! What each step does when it runs: the bridge from a plan's actions to the
//! providers. Returns a line for the journal, or the error that failed the step.

use std::future::Future;
use std::time::{Duration, SystemTime};

use super::Context;
use super::{maintenance, notify, retry};
use crate::error::Error;
use crate::graph::step::{Action, Change, Step, TtlWait};
use crate::model::until::{Until, verdict};
use crate::model::{BackupLocation, Check, CheckKind, HealthProbe, ProviderKind, Template};
use crate::providers::RecordChange;

/// Performs `steps`: one step, or several switch steps of one graph level as one batch.
pub async fn perform(ctx: &Context, steps: &[&Step]) -> Result<String, Error> {
    for step in steps.iter().filter(|s| s.approval.is_some()) {
        ctx.approve(step).await?;
    }
    let Some(first) = steps.first() else {
        return Ok(String::new());
    };
    match &first.action {
        Action::Switch { .. } => switch(ctx, steps).await,
        _ => perform_one(ctx, first).await,
    }
}

// One match arm per action, each already short: splitting it would only scatter them.
#[allow(clippy::too_many_lines)]
async fn perform_one(ctx: &Context, step: &Step) -> Result<String, Error> {
    let services = &ctx.runtime.services;
    match &step.action {
        Action::Gate { .. } | Action::Switch { .. } => Ok(String::new()),
        Action::CheckRegion { region } => {
            if services.region_up(region).await? {
                Ok(format!("{region} is up"))
            } else {
                Err(Error::RegionDown {
                    region: region.clone(),
                })
            }
        }
        Action::CheckRpo { data, .. } => check_rpo(ctx, data).await,
        Action::CheckMembers { service, region } => services.check_members(service, region).await,
        Action::Notify {
            index,
            after,
            status,
            ..
        } => notify::send(ctx, step, *index, *after, *status).await,
        Action::Upload { bucket, key, file } => {
            let page = maintenance::page(&ctx.env_dir.join(file), &ctx.env.name);
            let result = maintenance::put_up(ctx.runtime.storage.as_ref(), bucket, key, page);
            Ok(maintenance::best_effort(
                result.await,
                "put the maintenance page up",
            ))
        }
        Action::Revert { bucket, key, file } => {
            let page = maintenance::page(&ctx.env_dir.join(file), &ctx.env.name);
            let result = maintenance::take_down(ctx.runtime.storage.as_ref(), bucket, key, &page);
            Ok(maintenance::best_effort(
                result.await,
                "take the maintenance page down",
            ))
        }
        Action::Activate {
            service,
            region,
            aurora: Some(how),
            timeout,
            ..
        } => services
            .move_aurora(
                service,
                region,
                *how,
                ctx.options.accept_data_loss,
                *timeout,
            )
            .await
            .map(|o| o.log),
        Action::Activate {
            service,
            region,
            command,
            aurora: None,
            timeout,
            retries,
        } => {
            let activate = || async move {
                services
                    .activate(service, region, command.as_deref(), *timeout)
                    .await
                    .map(|o| o.log)
            };
            retry::with_retries(ctx, step, *retries, activate).await
        }
        Action::Restore {
            service,
            region,
            backups,
            command,
            timeout,
        } => {
            let newest = ctx.runtime.storage.newest(backups, ctx.options.at).await?;
            let backup = newest.ok_or_else(|| Error::NoBackup {
                location: backups.url(),
            })?;
            let command = command
                .as_deref()
                .map(|argv| with_backup(argv, &backup.url))
                .transpose()?;
            let output = services
                .restore(service, region, &backup.url, command.as_deref(), *timeout)
                .await?;
            Ok(format!("restored from {}\n{}", backup.url, output.log)
                .trim_end()
                .to_string())
        }
        Action::Deactivate {
            service,
            region,
            command,
            timeout,
            best_effort,
        } => {
            match services
                .deactivate(service, region, command, *timeout)
                .await
            {
                Ok(output) => Ok(output.log),
                Err(error) if *best_effort => Ok(format!(
                    "could not fence {service} in {region}: {error}; recovery goes on (a failover presumes {region} down: fence it by hand once it answers)"
                )),
                Err(error) => Err(error),
            }
        }
        Action::Backup {
            service,
            region,
            command,
            backups,
            timeout,
        } => backup(ctx, service, region, command, backups, *timeout).await,
        Action::Resync {
            service,
            region,
            command,
            timeout,
            ..
        } => services
            .resync(service, region, command, *timeout)
            .await
            .map(|o| o.log),
        Action::CatchUp {
            data,
            region,
            timeout,
        } => catch_up(ctx, data, region, *timeout).await,
        Action::Health {
            service,
            region,
            probe,
        } => health(ctx, service, region, probe.as_ref()).await,
        Action::LowerTtl { record, wait, .. } => {
            let set = set_ttl(ctx, step, record).await?;
            tokio::time::sleep(cache_expiry(ctx, *wait)).await;
            Ok(format!(
                "{set}; waited out the old TTL, {}",
                crate::duration::format_seconds(*wait)
            ))
        }
        Action::RestoreTtl { record, .. } => set_ttl(ctx, step, record).await,
        Action::Verify {
            index,
            retries,
            ttl_wait,
            ..
        } => {
            if let Some(wait) = ttl_wait {
                wait_out_ttl(ctx, wait).await;
            }
            verify(ctx, step, *index, *retries).await
        }
        Action::Run {
            name,
            argv,
            timeout,
            best_effort,
            until,
        } => {
            let argv = argv.argv();
            let run = || async { services.run(&argv, *timeout).await.map(|o| o.log) };
            let result = match until {
                Some(until) => {
                    let once = || async {
                        let probe = format!("step:{name}");
                        let seen = services.until_output(&probe, run().await?).await?;
                        match verdict(until, seen.as_deref()) {
                            (true, detail) => Ok(detail),
                            (false, detail) => Err(Error::ConditionNotMet {
                                step: name.clone(),
                                detail,
                            }),
                        }
                    };
                    until_holds(ctx, until, once).await
                }
                None => run().await,
            };
            if *best_effort {
                Ok(maintenance::best_effort(result, &format!("run `{name}`")))
            } else {
                result
            }
        }
        Action::Manual { instruction, .. } => Ok(format!("confirmed: {instruction}")),
        Action::Approve => Ok("approved".to_string()),
    }
}

/// A restore command of a plan (templates where only `{backup}` is left) with the
/// backup chosen.
fn with_backup(argv: &[String], backup: &str) -> Result<Vec<String>, Error> {
    let context = crate::model::Context::default().backup(backup);
    argv.iter()
        .map(|arg| {
            Template::parse(arg, 0..0)
                .map(|t| t.render(&context))
                .map_err(|e| Error::EditedPlan {
                    difference: format!("restore argument `{arg}`: {}", e.message),
                })
        })
        .collect()
}

/// Runs the backup, then finds under each location a backup that was not there
/// before the step (a new object, or the newest one rewritten): without one, the
/// restore that follows would load an older backup and lose every write made since.
async fn backup(
    ctx: &Context,
    service: &str,
    region: &str,
    command: &[String],
    backups: &[BackupLocation],
    timeout: Duration,
) -> Result<String, Error> {
    let storage = &ctx.runtime.storage;
    let mut before = Vec::new();
    for location in backups {
        before.push(storage.newest(location, None).await?);
    }
    let output = ctx
        .runtime
        .services
        .backup(service, region, command, backups, timeout)
        .await?;
    let mut lines = vec![output.log];
    for (location, before) in backups.iter().zip(before) {
        match storage.newest(location, None).await? {
            Some(object) if Some(&object) != before.as_ref() => {
                lines.push(format!("new backup: {}", object.url));
            }
            found => {
                return Err(Error::NoNewBackup {
                    service: service.to_string(),
                    location: location.url(),
                    newest: found.map_or_else(|| "none".to_string(), |o| o.url),
                });
            }
        }
    }
    Ok(lines.join("\n"))
}

async fn check_rpo(ctx: &Context, data: &str) -> Result<String, Error> {
    let Some(set) = ctx.env.data_set(data) else {
        return Ok(String::new());
    };
    let Some(location) = &set.backups else {
        return Ok(String::new());
    };
    let newest = ctx.runtime.storage.newest(location, ctx.options.at).await?;
    let age = newest.as_ref().map(|o| {
        SystemTime::now()
            .duration_since(o.last_modified)
            .unwrap_or_default()
    });
    let within = age.is_some_and(|age| age <= set.rpo);
    let found = match (&newest, age) {
        (Some(object), Some(age)) => format!(
            "newest backup {} is {} old",
            object.url,
            crate::duration::format_duration(secs(age))
        ),
        _ => format!("no backup under {}", location.url()),
    };
    if within || ctx.options.accept_data_loss {
        let accepted = if within {
            ""
        } else {
            " (accepted with --accept-data-loss)"
        };
        return Ok(format!(
            "{found}; RPO {}{accepted}",
            crate::duration::format_duration(set.rpo)
        ));
    }
    Err(Error::BackupBeyondRpo {
        data: data.to_string(),
        found,
        rpo: crate::duration::format_duration(set.rpo),
    })
}

/// Reads the replication of `data`'s copy in `region` every few seconds until it holds
/// every write of the active copy, for at most `timeout`. A copy that is behind then
/// fails the step (nothing is promoted), unless data loss is accepted; a copy that
/// cannot be measured fails at once.
async fn catch_up(
    ctx: &Context,
    data: &str,
    region: &str,
    timeout: Duration,
) -> Result<String, Error> {
    const INTERVAL: Duration = Duration::from_secs(5);
    let Some(set) = ctx.env.data_set(data) else {
        return Ok(String::new());
    };
    let mut waited = Duration::ZERO;
    loop {
        let reading = ctx
            .runtime
            .services
            .replication(set, region, &ctx.env)
            .await?;
        let gap = match reading {
            Some(reading) if reading.caught_up() => {
                return Ok(format!(
                    "{data} in {region} holds every write of the active copy"
                ));
            }
            Some(reading) => reading.gap(),
            None => "not measured: the data set declares no `lag` probe".to_string(),
        };
        if reading.is_none() || waited >= timeout {
            if ctx.options.accept_data_loss {
                return Ok(format!(
                    "{data} in {region}: {gap}; promoting anyway (--accept-data-loss)"
                ));
            }
            return Err(Error::NotCaughtUp {
                data: data.to_string(),
                region: region.to_string(),
                gap,
            });
        }
        tokio::time::sleep(ctx.scaled(INTERVAL)).await;
        waited += INTERVAL;
    }
}

/// Probes until healthy, up to the probe's attempts, waiting its interval (growing
/// by half each time, at most four times the interval) between them.
async fn health(
    ctx: &Context,
    service: &str,
    region: &str,
    probe: Option<&HealthProbe>,
) -> Result<String, Error> {
    if let Some(until) = probe.and_then(|p| p.until.as_ref()) {
        let tries = until.tries();
        let once = || async move {
            let result = ctx.runtime.services.probe(service, region, probe).await?;
            if result.healthy {
                Ok(format!("healthy: {}", result.detail))
            } else {
                Err(Error::Unhealthy {
                    service: service.to_string(),
                    region: region.to_string(),
                    attempts: tries,
                    detail: result.detail,
                })
            }
        };
        return until_holds(ctx, until, once).await;
    }
    let attempts = probe.map_or(1, |p| p.attempts.max(1));
    let interval = probe.map_or(Duration::ZERO, |p| p.interval);
    let mut wait = interval;
    let mut last = String::new();
    for attempt in 1..=attempts {
        let result = ctx.runtime.services.probe(service, region, probe).await?;
        if result.healthy {
            return Ok(format!(
                "healthy after {attempt} probe(s): {}",
                result.detail
            ));
        }
        last = result.detail;
        if attempt < attempts {
            tokio::time::sleep(ctx.scaled(wait)).await;
            wait = (wait + wait / 2).min(interval * 4);
        }
    }
    Err(Error::Unhealthy {
        service: service.to_string(),
        region: region.to_string(),
        attempts,
        detail: last,
    })
}

/// Moves every record of one graph level in one provider call, each to the weights
/// its step's change leaves it with.
async fn switch(ctx: &Context, steps: &[&Step]) -> Result<String, Error> {
    let changes: Vec<RecordChange> = steps
        .iter()
        .filter_map(|step| match (&step.action, &step.change) {
            (Action::Switch { record, .. }, Some(Change::Weights { after, .. })) => {
                let record = ctx.env.record(record)?.clone();
                Some(RecordChange {
                    record,
                    after: after.clone(),
                })
            }
            _ => None,
        })
        .collect();
    ctx.runtime.dns.apply(&changes).await?;
    let now = SystemTime::now();
    if let Ok(mut switched) = ctx.switched.lock() {
        for change in &changes {
            switched.insert(change.record.key.value.clone(), now);
        }
    }
    let names: Vec<&str> = changes.iter().map(|c| c.record.name.as_str()).collect();
    Ok(format!("moved {}", names.join(", ")))
}

/// Sets `record` to the sets its TTL step leaves it with (the same sets at another
/// TTL); an UPSERT, so a resumed step sets them again harmlessly.
async fn set_ttl(ctx: &Context, step: &Step, record: &str) -> Result<String, Error> {
    let (Some(declared), Some(Change::Weights { after, .. })) =
        (ctx.env.record(record), &step.change)
    else {
        return Ok(String::new());
    };
    let change = RecordChange {
        record: declared.clone(),
        after: after.clone(),
    };
    ctx.runtime.dns.apply(std::slice::from_ref(&change)).await?;
    let ttl = after
        .iter()
        .filter_map(|set| set.ttl)
        .max()
        .unwrap_or_default();
    Ok(format!("set the TTL of {} to {ttl}s", declared.name))
}

/// How long answers cached for `ttl` may still be served: `ttl`, scaled on the sim
/// world like every wait of a run; nothing when only the DNS is simulated (real time,
/// and nothing caches the sim's answers). A resumed step waits it out in full again:
/// never shorter than needed.
fn cache_expiry(ctx: &Context, ttl: Duration) -> Duration {
    if ctx.options.time_scale.is_none() && ctx.env.providers.dns == ProviderKind::Sim {
        return Duration::ZERO;
    }
    ctx.scaled(ttl)
}

/// Waits until `wait.ttl` has passed since the record was switched (in full when this
/// process did not switch it: the switch ran before a resume), so that resolvers no
/// longer answer with the region left. Nothing is cached in the sim's DNS: no wait there.
async fn wait_out_ttl(ctx: &Context, wait: &TtlWait) {
    let dns_is_simulated =
        ctx.options.time_scale.is_some() || ctx.env.providers.dns == ProviderKind::Sim;
    if dns_is_simulated {
        return;
    }
    let switched = ctx
        .switched
        .lock()
        .ok()
        .and_then(|switched| switched.get(&wait.record).copied())
        .unwrap_or_else(SystemTime::now);
    let expired = switched.elapsed().unwrap_or_default();
    tokio::time::sleep(wait.ttl.saturating_sub(expired)).await;
}

/// Runs a check, tried again up to `retries` times when it fails (a check that waits
/// until a condition is not: its `until` has its own timeout).
async fn verify(ctx: &Context, step: &Step, index: usize, retries: u32) -> Result<String, Error> {
    let Some(check) = ctx.env.checks.get(index) else {
        return Ok(String::new());
    };
    let check = check.render(&ctx.plan.placeholders(&ctx.env));
    match &check.until {
        Some(until) => until_holds(ctx, until, || verify_once(ctx, &check)).await,
        None => retry::with_retries(ctx, step, retries, || verify_once(ctx, &check)).await,
    }
}

/// Tries `attempt` every `until.interval` until it succeeds or `until.timeout` has
/// passed (both scaled like every wait of a run); then its last failure.
async fn until_holds<F, Fut>(ctx: &Context, until: &Until, mut attempt: F) -> Result<String, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<String, Error>>,
{
    let tries = until.tries();
    for number in 1..=tries {
        match attempt().await {
            Err(error) if number < tries => drop(error),
            done => return done,
        }
        tokio::time::sleep(ctx.scaled(until.interval)).await;
    }
    Err(Error::Bug {
        detail: "a wait-until ended without a try".to_string(),
    })
}

async fn verify_once(ctx: &Context, check: &Check) -> Result<String, Error> {
    let result = super::verify::run_check(&ctx.env, &ctx.runtime, check).await?;
    if result.healthy {
        Ok(result.detail)
    } else {
        let target = match &check.kind {
            CheckKind::Http { url, .. } => url.to_string(),
            CheckKind::Dns { record } => format!("DNS record {}", record.value),
            CheckKind::Command(argv) => argv.argv().join(" "),
        };
        Err(Error::CheckFailed {
            check: check.name.clone(),
            target,
            detail: result.detail,
        })
    }
}

fn secs(duration: Duration) -> Duration {
    Duration::from_secs(duration.as_secs())
}
