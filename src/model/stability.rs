//! Static stability: does recovering away from a region depend on that region? The
//! state bucket (and its lock), a data set's only backups, a health probe or command
//! naming it, Route53 changes while us-east-1 (Route53's control plane) is the region
//! failing (records, and the health checks that move failover records), a maintenance
//! page bucket there, or an alarm trigger reading CloudWatch there: each is a warning.

use super::{
    Environment, HealthCheck, Located, ProviderKind, Scenario, Service, StateLocation, Strategy,
    TriggerKind,
};
use crate::error::{Problem, ProblemKind};

/// The region whose control plane Route53 changes go through.
const ROUTE53_CONTROL_PLANE: &str = "us-east-1";

/// The region the SDK falls back to when none is configured.
const DEFAULT_AWS_REGION: &str = "us-east-1";

/// What a failover leaves behind: the failed region and the services that move.
struct Failover<'e> {
    failed: &'e str,
    /// The scenario, or `None` for every failover of the environment.
    scenario: Option<&'e Scenario>,
    /// Where to point when the finding is about the failover itself.
    anchor: &'e Located<String>,
}

impl Failover<'_> {
    fn moves(&self, service: &str) -> bool {
        self.scenario
            .and_then(|s| s.services.as_ref())
            .is_none_or(|names| names.iter().any(|n| n.value == service))
    }

    /// The scenarios this failover stands for: its own, or every failover scenario.
    fn scenarios<'a>(&'a self, env: &'a Environment) -> impl Iterator<Item = &'a Scenario> {
        env.scenarios.iter().filter(move |s| match self.scenario {
            Some(own) => own.name.value == s.name.value,
            None => matches!(s.strategy, Strategy::Failover { .. }),
        })
    }

    fn what(&self) -> String {
        match self.scenario {
            Some(scenario) => format!(
                "scenario `{}` recovers away from {}",
                scenario.name.value, self.failed
            ),
            None => format!("failing over away from {}", self.failed),
        }
    }
}

/// Warnings for failing over in `scenario`, or in any failover scenario when `None`.
pub fn warnings(env: &Environment, scenario: Option<&str>) -> Vec<Problem> {
    let is_failover = |s: &&Scenario| matches!(s.strategy, Strategy::Failover { .. });
    let failover = match scenario {
        Some(name) => match env.scenario(name).filter(is_failover) {
            Some(scenario) => Failover {
                failed: &env.home.value,
                scenario: Some(scenario),
                anchor: anchor(scenario),
            },
            None => return Vec::new(),
        },
        None if env.scenarios.iter().any(|s| is_failover(&s)) => Failover {
            failed: &env.home.value,
            scenario: None,
            anchor: &env.home,
        },
        None => return Vec::new(),
    };
    let mut problems: Vec<Problem> = state_bucket(env, &failover).into_iter().collect();
    problems.extend(backups(env, &failover));
    problems.extend(probes(env, &failover));
    problems.extend(route53(env, &failover));
    problems.extend(health_checks(env, &failover));
    problems.extend(pages(env, &failover));
    problems.extend(alarms(env, &failover));
    problems.extend(watchers_in_one_region(env));
    problems.sort_by_key(Problem::offset);
    problems
}

fn anchor(scenario: &Scenario) -> &Located<String> {
    match &scenario.strategy {
        Strategy::Failover { to } => to,
        _ => &scenario.name,
    }
}

/// The region a bucket lives in: one named in the bucket's name, else the region
/// drplan's AWS clients use.
fn bucket_region<'a>(env: &'a Environment, bucket: &str) -> &'a str {
    env.regions
        .iter()
        .map(|r| r.name.value.as_str())
        .find(|region| bucket.contains(region))
        .or(env.providers.region.as_deref())
        .unwrap_or(DEFAULT_AWS_REGION)
}

fn state_bucket(env: &Environment, failover: &Failover<'_>) -> Option<Problem> {
    let StateLocation::S3 { bucket, .. } = &env.state else {
        return None;
    };
    (bucket_region(env, bucket) == failover.failed).then(|| {
        Problem::new(
            ProblemKind::StateInFailedRegion,
            format!("{}, but the state bucket `{bucket}` (and its lock) appears to live there", failover.what()),
            env.home.span.clone(),
            "the failing region",
        )
        .help("keep the state bucket in another region (or replicate it) so a failover can still read and lock the state")
    })
}

fn backups(env: &Environment, failover: &Failover<'_>) -> Vec<Problem> {
    let restored = env.data.iter().filter(|d| failover.moves(&d.service.value));
    restored
        .filter_map(|data| {
            let location = data.backups.as_ref()?;
            (bucket_region(env, &location.bucket) == failover.failed).then(|| {
                Problem::new(
                    ProblemKind::BackupsInFailedRegion,
                    format!(
                        "{}, but the only backups of `{}` ({}) appear to live there",
                        failover.what(),
                        data.name.value,
                        location.url()
                    ),
                    data.name.span.clone(),
                    "backups in the failing region",
                )
                .help("replicate backups to the failover region (e.g. S3 cross-region replication) and point `backups` at the replica, or name the bucket's region in providers.region")
            })
        })
        .collect()
}

fn probes(env: &Environment, failover: &Failover<'_>) -> Vec<Problem> {
    env.services
        .iter()
        .filter(|s| failover.moves(&s.name.value) && names_region(s, failover.failed))
        .map(|service| {
            Problem::new(
                ProblemKind::ProbeTargetsFailedRegion,
                format!("{}, but `{}` probes or runs commands against {} by name", failover.what(), service.name.value, failover.failed),
                service.name.span.clone(),
                "names the failing region",
            )
            .help("write {region} in health URLs and commands so they follow the failover instead of the failed region")
        })
        .collect()
}

/// Whether a service's health probe or commands name `region` literally.
fn names_region(service: &Service, region: &str) -> bool {
    let probe = service.health.iter().flat_map(|h| match &h.check {
        HealthCheck::Http { url, .. } => vec![url.to_string()],
        HealthCheck::Command { argv } => argv.argv(),
    });
    let commands = [&service.activate, &service.restore]
        .into_iter()
        .flatten()
        .flat_map(|c| c.command.argv());
    probe.chain(commands).any(|text| text.contains(region))
}

/// True when the failover edits Route53 through its control plane while us-east-1,
/// where that control plane lives, is the region failing.
fn needs_route53_control_plane(env: &Environment, failover: &Failover<'_>) -> bool {
    env.providers.dns == ProviderKind::Route53 && failover.failed == ROUTE53_CONTROL_PLANE
}

fn route53(env: &Environment, failover: &Failover<'_>) -> Option<Problem> {
    let moves_records = env
        .records
        .iter()
        .any(|r| !r.is_failover() && failover.moves(&r.follows.value));
    (needs_route53_control_plane(env, failover) && moves_records).then(|| {
        Problem::new(
            ProblemKind::Route53ControlPlane,
            format!("{} by editing Route53 records, whose control plane lives in {ROUTE53_CONTROL_PLANE}", failover.what()),
            failover.anchor.span.clone(),
            "failing over from us-east-1",
        )
        .help("pre-provision failover records with Route53 health checks (or Route53 ARC routing controls), so failing over needs only the data plane")
    })
}

/// Failover records are moved by editing their PRIMARY's health check
/// (`UpdateHealthCheck`), a Route53 control-plane call too.
fn health_checks(env: &Environment, failover: &Failover<'_>) -> Vec<Problem> {
    if !needs_route53_control_plane(env, failover) {
        return Vec::new();
    }
    env.records
        .iter()
        .filter(|r| r.is_failover() && failover.moves(&r.follows.value))
        .map(|record| {
            Problem::new(
                ProblemKind::HealthCheckControlPlane,
                format!("{}, but [dns.{}] is moved by editing its PRIMARY's health check (UpdateHealthCheck), a Route53 control-plane call served from {ROUTE53_CONTROL_PLANE}", failover.what(), record.key.value),
                record.routing.span.clone(),
                "failover routing moved through a health check",
            )
            .help("use Route53 ARC routing controls as the records' health checks and move them with dns = \"arc\" (declared without `routing`): the ARC cluster's data plane answers from any region")
        })
        .collect()
}

fn pages(env: &Environment, failover: &Failover<'_>) -> Vec<Problem> {
    failover
        .scenarios(env)
        .filter_map(|scenario| {
            let bucket = &scenario.maintenance_page.as_ref()?.bucket;
            (bucket_region(env, &bucket.value) == failover.failed).then(|| {
                Problem::new(
                    ProblemKind::PageInFailedRegion,
                    format!(
                        "scenario `{}` recovers away from {}, but its maintenance page bucket `{}` appears to live there",
                        scenario.name.value, failover.failed, bucket.value
                    ),
                    bucket.span.clone(),
                    "bucket in the failing region",
                )
                .help("serve the maintenance page from a bucket in another region (the page is best effort: if it cannot go up, recovery goes on without it)")
            })
        })
        .collect()
}

/// Alarm triggers that read their alarm from CloudWatch in the failing region: a region
/// that is down may not report its own alarm.
fn alarms(env: &Environment, failover: &Failover<'_>) -> Vec<Problem> {
    env.triggers
        .iter()
        .filter_map(|trigger| {
            let TriggerKind::Alarm(alarm) = &trigger.kind else {
                return None;
            };
            let region = alarm
                .region
                .as_deref()
                .or(env.providers.region.as_deref())
                .unwrap_or(DEFAULT_AWS_REGION);
            (region == failover.failed).then(|| {
                Problem::new(
                    ProblemKind::AlarmInFailedRegion,
                    format!(
                        "{}, but trigger `{}` reads its alarm `{}` from CloudWatch there",
                        failover.what(),
                        trigger.name.value,
                        alarm.name
                    ),
                    trigger.name.span.clone(),
                    "alarm in the failing region",
                )
                .help("alarm from another region too (e.g. a Route 53 health check's metric in us-east-1 for a region elsewhere), or add a `health` trigger: a region that is down may not report its own alarm")
            })
        })
        .collect()
}

/// Every declared watcher runs in one region: when that region fails or is cut off,
/// no quorum can form anywhere.
fn watchers_in_one_region(env: &Environment) -> Option<Problem> {
    let watch = env.watch.as_ref()?;
    let first = watch.watchers.first()?;
    let one_region = watch
        .watchers
        .iter()
        .all(|w| w.region.value == first.region.value);
    one_region.then(|| {
        Problem::new(
            ProblemKind::WatchersInOneRegion,
            format!(
                "every watcher runs in {}: if that region fails or is cut off, no quorum can judge the triggers",
                first.region.value
            ),
            first.region.span.clone(),
            "the only region watchers run in",
        )
        .help("run watchers in at least two regions (one outside home), so a quorum survives the loss of one")
    })
}
