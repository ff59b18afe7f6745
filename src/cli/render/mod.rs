//! Rendering of plans (text for terminals, markdown for pull requests, JSON for
//! machines) and graphs. Rendering only formats: every number comes from the plan.

mod budget;
pub mod graph;
mod markdown;
mod text;

use std::fmt::Write as _;
use std::time::Duration;

use similar::{ChangeTag, TextDiff};

use super::PlanFormat;
use crate::duration::format_seconds;
use crate::graph::step::{Action, Change, Placement, Step};
use crate::model::service::DEFAULT_LIFECYCLE_TIMEOUT;
use crate::model::{
    AuroraMove, BackupLocation, Check, CheckKind, DEFAULT_RETRIES, Environment, FailoverRole,
    HealthCheck, HealthProbe, Notification, NotifyVia, Phase, RecordSet,
};
use crate::plan::Plan;
use crate::plan::file::PlanFile;

/// A rendered plan and the file name it is written under.
#[derive(Debug)]
pub struct Rendered {
    pub name: String,
    pub text: String,
    pub has_changes: bool,
}

/// Renders a plan in `format`.
pub fn plan(env: &Environment, file: &PlanFile, format: PlanFormat) -> String {
    match format {
        PlanFormat::Text => text::render(env, &file.plan),
        PlanFormat::Markdown => markdown::render(env, file, budget::COMMENT_LIMIT),
        PlanFormat::Json => file.to_json(),
    }
}

/// Every plan of an environment in one markdown document that fits a pull-request
/// comment: an index, then each plan folded.
pub fn all_markdown(env: &Environment, files: &[PlanFile]) -> String {
    markdown::render_all(env, files, budget::COMMENT_LIMIT)
}

/// The steps grouped by phase in order (gates included, so every `after` names a
/// listed step); phases without a step left out.
pub fn phases(plan: &Plan) -> Vec<(Phase, Vec<&Step>)> {
    Phase::ALL
        .into_iter()
        .map(|phase| {
            let steps = plan.steps.iter().filter(|s| s.phase == phase).collect();
            (phase, steps)
        })
        .filter(|(_, steps): &(Phase, Vec<&Step>)| !steps.is_empty())
        .collect()
}

/// A unified diff of two versions of a file.
pub fn diff(name: &str, old: &str, new: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(name, name)
        .to_string()
}

/// The before → after of a step as diff lines (`- old`, `+ new`, `  same`).
pub fn change_lines(step: &Step) -> Vec<String> {
    let (before, after) = match &step.change {
        None => return Vec::new(),
        Some(Change::Placement { before, after }) => (placement(before), placement(after)),
        Some(Change::Weights { before, after }) => {
            let with_ttl = changes_ttl(&step.action);
            (record_sets(before, with_ttl), record_sets(after, with_ttl))
        }
    };
    let (before, after) = (format!("{before}\n"), format!("{after}\n"));
    let diff = TextDiff::from_lines(&before, &after);
    diff.iter_all_changes()
        .map(|change| {
            let sign = match change.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            };
            format!("{sign} {}", change.value().trim_end())
        })
        .collect()
}

/// `active in eu-central-1`, and what a restore loads there.
fn placement(placement: &Placement) -> String {
    match &placement.restored_from {
        Some(backups) => format!(
            "active in {}, restored from the newest backup under {}",
            placement.region,
            backups.url()
        ),
        None => format!("active in {}", placement.region),
    }
}

/// One line per record set: `eu-west-1 shop.eu-west-1.example weight=100`, and
/// ` ttl=300` when `with_ttl`.
fn record_sets(sets: &[RecordSet], with_ttl: bool) -> String {
    let lines: Vec<String> = sets
        .iter()
        .map(|s| {
            let line = format!("{} {} weight={}", s.region, s.value, s.weight);
            match (with_ttl, s.ttl) {
                (false, _) => line,
                (true, Some(ttl)) => format!("{line} ttl={ttl}"),
                (true, None) => format!("{line} ttl=unset"),
            }
        })
        .collect();
    lines.join("\n")
}

/// True for the steps whose change is a record's TTL (its sets are otherwise the same).
pub fn changes_ttl(action: &Action) -> bool {
    matches!(action, Action::LowerTtl { .. } | Action::RestoreTtl { .. })
}

/// The TTLs of `sets` (`5m`; several when they differ).
pub fn ttls(sets: &[RecordSet]) -> String {
    let mut ttls: Vec<String> = sets
        .iter()
        .map(|s| {
            s.ttl.map_or("unset".to_string(), |ttl| {
                format_seconds(Duration::from_secs(u64::from(ttl)))
            })
        })
        .collect();
    ttls.dedup();
    ttls.join(", ")
}

/// How a renderer sets a command, URL, key or `${env:…}` reference apart: as it is
/// for a terminal, as code for markdown ([`code`]).
pub type Literal = fn(&str) -> String;

/// `text` as it is.
pub fn plain(text: &str) -> String {
    text.to_string()
}

/// `text` as markdown inline code, fenced by one more backtick than it holds in a row.
pub fn code(text: &str) -> String {
    let longest = text
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or_default();
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// What a step runs or probes, in one line, when there is something to say.
/// What a lifecycle command on the side being left (fence, resync, backup) runs.
fn lifecycle_detail(action: &Action, lit: Literal) -> Option<String> {
    let shell = |words: &[String]| lit(&argv(words));
    match action {
        Action::Deactivate {
            command,
            timeout,
            best_effort,
            ..
        } => Some(format!(
            "runs: {} ({}, at most {})",
            shell(command),
            if *best_effort {
                "best effort: the region is presumed down, a failure is recorded and recovery goes on"
            } else {
                "mandatory: if it fails, nothing is promoted"
            },
            format_seconds(*timeout)
        )),
        Action::Resync {
            command, timeout, ..
        } => Some(format!(
            "runs: {} (at most {})",
            shell(command),
            format_seconds(*timeout)
        )),
        Action::Backup {
            command,
            backups,
            timeout,
            ..
        } => Some(format!(
            "runs: {} (at most {}), then finds the new backup it made under {}: the restore then loads it, with every write made before the fence",
            shell(command),
            format_seconds(*timeout),
            backups
                .iter()
                .map(BackupLocation::url)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => None,
    }
}

pub fn detail(env: &Environment, plan: &Plan, step: &Step, lit: Literal) -> Option<String> {
    let shell = |words: &[String]| lit(&argv(words));
    match &step.action {
        Action::Activate { retries, .. } => Some(format!(
            "{}{}",
            recovery_detail(env, &step.action, lit),
            retries_note(*retries)
        )),
        Action::Restore { .. } => Some(recovery_detail(env, &step.action, lit)),
        Action::Run {
            argv,
            timeout,
            best_effort,
            until,
            ..
        } => {
            let run = run_detail(&shell(&argv.argv()), *timeout, *best_effort);
            Some(match until {
                Some(until) => format!("{run}, {}", until.describe()),
                None => run,
            })
        }
        Action::Deactivate { .. } | Action::Resync { .. } | Action::Backup { .. } => {
            lifecycle_detail(&step.action, lit)
        }
        Action::CatchUp { data, timeout, .. } => {
            let condition = env
                .data_set(data)
                .and_then(|d| d.lag.as_ref()?.until.as_ref())
                .map(|until| format!("; its lag is read once the probe {}", until.describe()))
                .unwrap_or_default();
            Some(format!(
                "waits until the copy holds every write of the active one (at most {}); a copy that is behind is not promoted without --accept-data-loss{condition}",
                format_seconds(*timeout)
            ))
        }
        Action::Manual { instruction, .. } => Some(format!("pause: {instruction}")),
        Action::Health {
            probe: Some(probe), ..
        } => Some(health(probe, lit)),
        Action::Health { probe: None, .. } => {
            Some("no health probe: taken as healthy once active".to_string())
        }
        Action::Notify { index, .. } => env
            .notify
            .get(*index)
            .map(|n| notify_detail(&n.render(&plan.placeholders(env)), lit)),
        Action::Verify {
            index,
            retries,
            ttl_wait,
            ..
        } => env.checks.get(*index).map(|c| {
            let check = check_detail(&c.render(&plan.placeholders(env)), lit);
            // A check that waits until a condition is not retried: its wait is bounded.
            let check = match &c.until {
                Some(until) => format!("{check}, {}", until.describe()),
                None => format!("{check}{}", retries_note(*retries)),
            };
            match ttl_wait {
                Some(wait) => format!(
                    "{check}, once resolvers no longer hold the old answer of {} (its TTL, {}, after the switch; no wait on the sim, which caches nothing)",
                    lit(&wait.name),
                    format_seconds(wait.ttl)
                ),
                None => check,
            }
        }),
        Action::Switch { .. } => failover_detail(step, lit),
        Action::LowerTtl { .. } | Action::RestoreTtl { .. } => ttl_detail(&step.action),
        Action::Upload { file, key, .. } => Some(format!(
            "uploads {}; what {} held is kept as {}",
            lit(file),
            lit(key),
            lit(&crate::model::kept_key(key))
        )),
        Action::Revert { key, .. } => Some(format!(
            "puts back what {} held before (or removes the page if nothing did)",
            lit(key)
        )),
        _ => None,
    }
}

/// How a failover-routed record moves (`None` for a weighted one): through its
/// PRIMARY's health check, forced unhealthy (disabled + inverted) or released.
fn failover_detail(step: &Step, lit: Literal) -> Option<String> {
    let Some(Change::Weights { after, .. }) = &step.change else {
        return None;
    };
    let role = |role: FailoverRole| {
        after
            .iter()
            .find(|s| s.failover.as_ref().is_some_and(|f| f.role == role))
    };
    let (primary, secondary) = (role(FailoverRole::Primary)?, role(FailoverRole::Secondary)?);
    let check = match primary
        .failover
        .as_ref()
        .and_then(|f| f.health_check.as_deref())
    {
        Some(id) => format!("its health check {}", lit(id)),
        None => "its health check".to_string(),
    };
    Some(if primary.weight == 0 {
        format!(
            "failover routing: PRIMARY {} forced unhealthy through {check} (disabled + inverted) → Route 53 answers SECONDARY {}",
            primary.region, secondary.region
        )
    } else {
        format!(
            "failover routing: PRIMARY {} judged by {check} again (override lifted: enabled, not inverted) → Route 53 answers PRIMARY {} while it is healthy, else SECONDARY {}",
            primary.region, primary.region, secondary.region
        )
    })
}

/// What a TTL step sets, and why.
fn ttl_detail(action: &Action) -> Option<String> {
    match action {
        Action::LowerTtl { ttl, wait, .. } => Some(format!(
            "lowers the TTL to {ttl} and waits out the old {wait} (answers cached before the lowering), so that the switch takes effect within {ttl}; the declared TTL is put back once the switchover is verified",
            ttl = format_seconds(*ttl),
            wait = format_seconds(*wait)
        )),
        Action::RestoreTtl { ttl, .. } => Some(format!(
            "puts the declared TTL, {}, back: the switchover is verified",
            format_seconds(*ttl)
        )),
        _ => None,
    }
}

/// What an activate or restore step runs (or, for an RDS service, promotes).
fn recovery_detail(env: &Environment, action: &Action, lit: Literal) -> String {
    let shell = |words: &[String]| lit(&argv(words));
    match action {
        Action::Activate {
            service,
            region,
            aurora: Some(how),
            ..
        } => aurora_detail(env, service, region, *how, lit),
        Action::Activate {
            command: Some(argv),
            timeout,
            ..
        } => format!("runs: {}{}", shell(argv), declared_timeout(*timeout)),
        Action::Restore {
            command: Some(argv),
            backups,
            timeout,
            ..
        } => format!(
            "runs: {} ({}: the newest backup under {}, chosen when the step runs){}",
            shell(argv),
            lit("{backup}"),
            lit(&backups.url()),
            declared_timeout(*timeout)
        ),
        Action::Activate {
            service, region, ..
        } => match env
            .service(service)
            .and_then(|s| s.rds.as_ref()?.instance(region))
        {
            Some(id) => format!(
                "promotes the RDS read replica {} (PromoteReadReplica), then waits until it is available",
                lit(id)
            ),
            None => "no activate command: the standby is taken as ready".to_string(),
        },
        Action::Restore { backups, .. } => {
            format!("restores from {} (no restore command)", lit(&backups.url()))
        }
        _ => String::new(),
    }
}

/// `, retries 3` for retries other than the default; nothing for the default.
fn retries_note(retries: u32) -> String {
    if retries == DEFAULT_RETRIES {
        String::new()
    } else {
        format!(", retries {retries}")
    }
}

/// How an Aurora service's writer moves to its cluster in `region`, and why that way.
fn aurora_detail(
    env: &Environment,
    service: &str,
    region: &str,
    how: AuroraMove,
    lit: Literal,
) -> String {
    let Some(aurora) = env.service(service).and_then(|s| s.aurora.as_ref()) else {
        return String::new();
    };
    let (global, cluster) = (
        lit(&aurora.global_cluster),
        lit(aurora.cluster(region).unwrap_or_default()),
    );
    match how {
        AuroraMove::Switchover => format!(
            "switches the Aurora global database {global} over to {cluster} (SwitchoverGlobalCluster: both regions are up, Aurora waits until {cluster} holds every write, so nothing is lost, and the old primary becomes a secondary), then waits until it is available"
        ),
        AuroraMove::Failover => format!(
            "detaches {cluster} from the Aurora global database {global} (RemoveFromGlobalCluster: the primary's region is presumed down, and a detached cluster is writable at once; making the old primary a secondary again then needs a new cluster); under --accept-data-loss, FailoverGlobalCluster with AllowDataLoss instead (the global database stays together and the old primary rejoins as a secondary when its region is back); either way the writes not yet replicated are lost; then waits until it is available"
        ),
    }
}

/// ` (at most 10m)` for a declared timeout; nothing for the default one.
fn declared_timeout(timeout: Duration) -> String {
    if timeout == DEFAULT_LIFECYCLE_TIMEOUT {
        String::new()
    } else {
        format!(" (at most {})", format_seconds(timeout))
    }
}

/// A scenario's own command (as shown), its timeout and whether it is best effort.
fn run_detail(shown: &str, timeout: Option<Duration>, best_effort: bool) -> String {
    let mut line = format!("runs: {shown}");
    if let Some(timeout) = timeout {
        let _ = write!(line, " (at most {})", format_seconds(timeout));
    }
    if best_effort {
        line.push_str(" (best effort: a failure is recorded and the run goes on)");
    }
    line
}

/// A notification, rendered for the plan.
fn notify_detail(entry: &Notification, lit: Literal) -> String {
    match &entry.via {
        NotifyVia::Webhook { url } => {
            format!(
                "webhook {} (template {})",
                lit(&url.to_string()),
                entry.template
            )
        }
        NotifyVia::Command(argv) => format!(
            "runs: {} (template {})",
            lit(&self::argv(&argv.argv())),
            entry.template
        ),
    }
}

/// A check, rendered for the plan.
fn check_detail(check: &Check, lit: Literal) -> String {
    match &check.kind {
        CheckKind::Http { url, expect, .. } => {
            format!("GET {} expects {expect}", lit(&url.to_string()))
        }
        CheckKind::Dns { record } => format!(
            "DNS record {} points at the active region",
            lit(&record.value)
        ),
        CheckKind::Command(argv) => format!("runs: {}", lit(&self::argv(&argv.argv()))),
    }
}

/// What a health probe asks and how often.
fn health(probe: &HealthProbe, lit: Literal) -> String {
    if let Some(until) = &probe.until {
        let source = match &probe.check {
            HealthCheck::Http { url, .. } => format!("GET {}", lit(&url.to_string())),
            HealthCheck::Command { argv } => format!("runs: {}", lit(&self::argv(&argv.argv()))),
        };
        return format!("{source}, {}", until.describe());
    }
    match &probe.check {
        HealthCheck::Http { url, expect, .. } => {
            format!(
                "GET {} expects {expect}, {} attempts every {}",
                lit(&url.to_string()),
                probe.attempts,
                format_seconds(probe.interval)
            )
        }
        HealthCheck::Command { argv } => {
            format!(
                "runs: {} ({} attempts every {})",
                lit(&self::argv(&argv.argv())),
                probe.attempts,
                format_seconds(probe.interval)
            )
        }
    }
}

/// An argument vector as a shell would need it typed: arguments with spaces quoted.
pub fn argv(words: &[String]) -> String {
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
}
