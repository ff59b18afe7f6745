//! The one error type of drplan: every failure a user can see, with a code, the
//! offending span where there is one, and a help line.
//!
//! Configuration problems are collected (never just the first) as [`Problem`]s and
//! reported together under [`Error::InvalidConfig`].

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use miette::{Diagnostic, LabeledSpan, NamedSource, Severity};

/// A byte range in a configuration file.
pub type Span = Range<usize>;

/// Every error drplan reports.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    InvalidConfig(Box<InvalidConfig>),

    #[error("cannot read {}", path.display())]
    #[diagnostic(
        code(drplan::io::read),
        help("check that the path exists and is readable")
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{} is larger than {limit}, the most drplan reads of {what}", path.display())]
    #[diagnostic(
        code(drplan::io::too_large),
        help("check that this is the file you meant to pass")
    )]
    TooLarge {
        path: PathBuf,
        /// `an environment file`, `a plan`.
        what: &'static str,
        /// The limit, formatted (`16 MiB`).
        limit: String,
    },

    #[error("cannot write to standard output")]
    #[diagnostic(
        code(drplan::io::stdout),
        help("check where standard output goes: a full disk, or a file or pipe that was closed")
    )]
    Stdout {
        #[source]
        source: std::io::Error,
    },

    #[error("cannot write {}", path.display())]
    #[diagnostic(
        code(drplan::io::write),
        help("check that the directory exists and is writable")
    )]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot write {}: the disk is full", path.display())]
    #[diagnostic(
        code(drplan::io::disk_full),
        help(
            "free space on the disk (or raise the quota) that holds it, then run the command again"
        )
    )]
    DiskFull {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("unknown scenario `{name}`")]
    #[diagnostic(code(drplan::cli::unknown_scenario), help("{help}"))]
    UnknownScenario { name: String, help: String },

    #[error("live planning is not available: {reason}")]
    #[diagnostic(code(drplan::cli::live_unavailable), help("{help}"))]
    LiveUnavailable { reason: String, help: String },

    #[error("{count} committed plan file(s) in {} are out of date", dir.display())]
    #[diagnostic(
        code(drplan::plan::out_of_date),
        help("regenerate them with `drplan plan FILE --all --offline --out {}` and commit the result", dir.display())
    )]
    PlansOutOfDate { dir: PathBuf, count: usize },

    #[error("{message}")]
    #[diagnostic(code(drplan::cli::usage), help("{help}"))]
    Usage { message: String, help: String },

    #[error("{count} warning(s), and --deny-warnings was given")]
    #[diagnostic(
        code(drplan::config::denied_warnings),
        help("fix the warnings above, or drop --deny-warnings")
    )]
    DeniedWarnings { count: usize },

    #[error(
        "the state of `{environment}` is locked by {who} since {since} (operation: {operation}, lock id {id})"
    )]
    #[diagnostic(
        code(drplan::state::locked),
        help(
            "wait for that operation to finish (or pass --lock-timeout); if it died, run `drplan force-unlock FILE {id}`"
        )
    )]
    Locked {
        environment: String,
        who: String,
        since: String,
        operation: String,
        id: String,
    },

    #[error("lock id `{given}` does not match the current lock{}", holder.as_ref().map(|h| format!(" (held with id {h})")).unwrap_or_default())]
    #[diagnostic(
        code(drplan::state::lock_mismatch),
        help("copy the id from the \"locked by\" message or `drplan status FILE`")
    )]
    LockMismatch {
        given: String,
        holder: Option<String>,
    },

    #[error("the state changed while this operation wrote it: {detail}")]
    #[diagnostic(
        code(drplan::state::conflict),
        help("someone else wrote the state; run `drplan status FILE`, then plan again")
    )]
    StateConflict { detail: String },

    #[error("the state file {} is unreadable: {detail}", path.display())]
    #[diagnostic(
        code(drplan::state::corrupt),
        help(
            "restore it from a backup or version history; drplan never rewrites a state it cannot read"
        )
    )]
    CorruptState { path: PathBuf, detail: String },

    #[error("the plan is stale: {reason}")]
    #[diagnostic(
        code(drplan::apply::stale_plan),
        help("make a new plan with `drplan plan FILE ... --out PLAN` and review it")
    )]
    StalePlan { reason: String },

    #[error("{provider}: {message}")]
    #[diagnostic(code(drplan::provider::credentials), help("{help}"))]
    Credentials {
        provider: &'static str,
        message: String,
        help: &'static str,
    },

    #[error("{provider}: cannot {action}: access denied")]
    #[diagnostic(
        code(drplan::provider::access_denied),
        help(
            "the AWS identity in use (`aws sts get-caller-identity`) lacks the IAM permission for this call"
        )
    )]
    AccessDenied {
        provider: &'static str,
        action: String,
    },

    /// No answer: connection refused, timed out, unknown host, broken off.
    #[error("{provider}: {message}")]
    #[diagnostic(code(drplan::provider::unreachable), help("{help}"))]
    Unreachable {
        provider: &'static str,
        message: String,
        help: &'static str,
    },

    /// A hosted zone, bucket or object that does not exist.
    #[error("{provider}: {message}")]
    #[diagnostic(code(drplan::provider::not_found), help("{help}"))]
    NotFound {
        provider: &'static str,
        message: String,
        help: &'static str,
    },

    #[error(
        "{provider}: cannot {action}: AWS kept throttling the request ({code}) after the SDK's retries"
    )]
    #[diagnostic(
        code(drplan::provider::throttled),
        help("try again in a minute; AWS_MAX_ATTEMPTS raises the number of attempts")
    )]
    Throttled {
        provider: &'static str,
        action: String,
        code: String,
    },

    #[error("{provider}: cannot {action}: the bucket is in another region")]
    #[diagnostic(
        code(drplan::provider::wrong_region),
        help("set `region` under [providers] (or AWS_REGION) to the bucket's region")
    )]
    WrongRegion {
        provider: &'static str,
        action: String,
    },

    /// Any other failed call, or an answer drplan cannot use.
    #[error("{provider}: {message}")]
    #[diagnostic(code(drplan::provider::api), help("{help}"))]
    Api {
        provider: &'static str,
        message: String,
        help: &'static str,
    },

    #[error("route53: {} hosted zones are named `{zone}`: {}", ids.len(), ids.join(", "))]
    #[diagnostic(
        code(drplan::provider::ambiguous_zone),
        help("set `zone_id` on the record to the zone drplan should change")
    )]
    AmbiguousZone { zone: String, ids: Vec<String> },

    #[error("route53: change {change} is still PENDING after {waited}")]
    #[diagnostic(
        code(drplan::provider::change_pending),
        help(
            "Route53 accepted it and will finish it; check with `aws route53 get-change --id ID`, then resume"
        )
    )]
    ChangePending {
        change: String,
        /// How long drplan waited, formatted.
        waited: String,
    },

    #[error("http: {method} {url}: not a valid URL")]
    #[diagnostic(
        code(drplan::provider::invalid_url),
        help("write an absolute http:// or https:// URL")
    )]
    InvalidUrl { method: &'static str, url: String },

    #[error("{provider}: {request} answered {status}")]
    #[diagnostic(
        code(drplan::provider::bad_status),
        help("check the URL and the service behind it: drplan expects a 2xx answer")
    )]
    BadStatus {
        provider: &'static str,
        request: String,
        status: u16,
    },

    #[error("route53: {record} has {policy} routing, but [dns] declares it {declared}")]
    #[diagnostic(
        code(drplan::provider::unsupported_routing),
        help(
            "drplan does not plan beside record sets it does not manage: make the record weighted (one set per region, set identifier = region), or declare routing = \"failover\" for a PRIMARY/SECONDARY pair, move it with ARC or a `dns = \"command\"` provider, or drop it from [dns]"
        )
    )]
    UnsupportedRouting {
        record: String,
        policy: String,
        /// How the environment file routes it: `weighted` or `failover`.
        declared: &'static str,
    },

    #[error(
        "route53: the failover record sets of {record} are not a pair drplan can move: {detail}"
    )]
    #[diagnostic(
        code(drplan::provider::failover_sets),
        help(
            "a failover record is one PRIMARY set (home's) and one SECONDARY set, each with set identifier = its region among the record's two targets; fix the sets in Route 53, or the record in the environment file"
        )
    )]
    FailoverSets { record: String, detail: String },

    #[error(
        "route53: the PRIMARY set ({region}) of {record} has no health check: drplan cannot override a failover record without one"
    )]
    #[diagnostic(
        code(drplan::provider::failover_without_health_check),
        help(
            "drplan moves a failover record by forcing the PRIMARY's health check unhealthy: associate a health check with the PRIMARY set (HealthCheckId), or use weighted routing (routing = \"weighted\")"
        )
    )]
    FailoverWithoutHealthCheck { record: String, region: String },

    #[error(
        "route53: the health check {health_check} of {record}'s PRIMARY is {state}, neither drplan's override (disabled + inverted) nor released (neither flag set)"
    )]
    #[diagnostic(
        code(drplan::provider::partial_health_check_override),
        help(
            "drplan does not guess what was meant: with `aws route53 update-health-check`, set --disabled --inverted (traffic to the SECONDARY) or --no-disabled --no-inverted (the PRIMARY serves while healthy), then plan again"
        )
    )]
    PartialHealthCheckOverride {
        record: String,
        health_check: String,
        /// `inverted only` or `disabled only`.
        state: String,
    },

    #[error("command: program `{program}` not found on PATH")]
    #[diagnostic(
        code(drplan::command::not_found),
        help("install it on this machine, or write its absolute path in the command")
    )]
    ProgramNotFound { program: String },

    #[error("command: program `{program}` is not executable")]
    #[diagnostic(
        code(drplan::command::not_executable),
        help("check the file's permissions (chmod +x) and that it is a program, not a directory")
    )]
    NotExecutable { program: String },

    #[error("command: cannot {action} `{program}`: {detail}")]
    #[diagnostic(
        code(drplan::command::os_error),
        help("this is an operating system error; run the command by hand to see what happens")
    )]
    CommandOs {
        program: String,
        /// `start` or `wait for`.
        action: &'static str,
        detail: String,
    },

    #[error("command: `{program}` {how}{}", output_tail(tail))]
    #[diagnostic(
        code(drplan::command::failed),
        help(
            "the end of its output is above; fix the cause, or run the command by hand to see more"
        )
    )]
    CommandFailed {
        program: String,
        /// `exited with code 3`, `was killed by signal 9`.
        how: String,
        /// The last lines of its output.
        tail: Vec<String>,
    },

    #[error(
        "command: `{program}` timed out after {timeout}; its process group was killed{}",
        output_tail(tail)
    )]
    #[diagnostic(
        code(drplan::command::timed_out),
        help("find out why it hangs (its output so far is above), or allow it more time")
    )]
    CommandTimedOut {
        program: String,
        /// The timeout, formatted.
        timeout: String,
        /// The last lines of its output.
        tail: Vec<String>,
    },

    #[error("sim: there is no sim world at {}", path.display())]
    #[diagnostic(
        code(drplan::sim::no_world),
        help("create it with `drplan sim init FILE`")
    )]
    NoSimWorld { path: PathBuf },

    #[error("sim: the sim world {} is unreadable: {detail}", path.display())]
    #[diagnostic(
        code(drplan::sim::corrupt_world),
        help("recreate it with `drplan sim init FILE --force`")
    )]
    CorruptSimWorld { path: PathBuf, detail: String },

    #[error("verify: `{region}` is not a region of the environment")]
    #[diagnostic(
        code(drplan::verify::unknown_region),
        help("pass --region one of its regions: {known}")
    )]
    UnknownActiveRegion { region: String, known: String },

    #[error("sim: unknown {kind} `{name}`")]
    #[diagnostic(code(drplan::sim::unknown_name), help("{help}"))]
    UnknownSimName {
        /// `region` or `service`.
        kind: String,
        name: String,
        /// The closest known name, or the known names.
        help: String,
    },

    #[error("sim: cannot reach {service} in {region}: the region is down")]
    #[diagnostic(
        code(drplan::sim::region_down),
        help(
            "bring the region back with `drplan sim set FILE --region REGION --up`, or plan a failover elsewhere"
        )
    )]
    SimRegionDown { service: String, region: String },

    #[error("sim: injected fault: {action}")]
    #[diagnostic(
        code(drplan::sim::injected_fault),
        help(
            "the sim world injects faults; lower the rate with `drplan sim set FILE --fault-rate 0`"
        )
    )]
    InjectedFault { action: String },

    #[error("error-rate: trigger {trigger} has no probe to read")]
    #[diagnostic(
        code(drplan::watch::no_probe),
        help("add probe = {{ url = \"…\" }} or probe = {{ command = [\"…\"] }} returning a ratio")
    )]
    NoErrorRateProbe { trigger: String },

    #[error("error-rate: `{text}` is not a ratio between 0 and 1")]
    #[diagnostic(
        code(drplan::watch::not_a_ratio),
        help("the probe must print (or answer) a number such as 0.02")
    )]
    NotARatio { text: String },

    #[error("cannot read the replication lag of `{data}` in {region}: {detail}")]
    #[diagnostic(
        code(drplan::data::unreadable_lag),
        help(
            "the lag probe must answer a duration (2s, 150ms) or a number in its `unit`; fix `json`/`regex` in [data.NAME].lag"
        )
    )]
    UnreadableLag {
        data: String,
        region: String,
        detail: String,
    },

    #[error(
        "the `read` command of [providers.dns_commands] answered for `{record}` what drplan cannot read: {detail}"
    )]
    #[diagnostic(
        code(drplan::dns::unreadable_command_output),
        help(
            "`read` must print the record's sets as JSON, e.g. [{{\"region\": \"eu-west-1\", \"value\": \"web.eu-west-1.example\", \"weight\": 100}}]"
        )
    )]
    UnreadableDnsCommand { record: String, detail: String },

    #[error("cloudwatch: there is no alarm named `{alarm}` in {region}")]
    #[diagnostic(
        code(drplan::watch::no_such_alarm),
        help(
            "the `alarm` of an alarm trigger's probe must name an existing CloudWatch alarm; check its name and `region` (aws cloudwatch describe-alarms --alarm-names NAME)"
        )
    )]
    NoSuchAlarm { alarm: String, region: String },

    #[error("rds: {instance} in {region} is still `{status}` {waited} after its promotion began")]
    #[diagnostic(
        code(drplan::rds::promotion_timeout),
        help(
            "look at the instance (aws rds describe-db-instances --db-instance-identifier ID); once it is available, `drplan apply --resume` goes on without promoting it again; raise `rds.timeout` if promotions take longer"
        )
    )]
    PromotionTimeout {
        instance: String,
        region: String,
        status: String,
        waited: String,
    },

    #[error("arc: Route 53 ARC refused to {action}: {code}: {message}")]
    #[diagnostic(
        code(drplan::arc::refused),
        help(
            "a ConflictException means a safety rule of the control panel forbids these states (e.g. at least one region on): check the rules (aws route53-recovery-control-config list-safety-rules) and the routing controls in [providers.arc]; a ServiceLimitExceededException means too many changes at once: try again later"
        )
    )]
    ArcRefused {
        action: String,
        code: String,
        message: String,
    },

    #[error(
        "aurora: the {call} of {global_cluster} to {target} is not done {waited} after it began ({status})"
    )]
    #[diagnostic(
        code(drplan::aurora::move_timeout),
        help(
            "look at the global cluster (aws rds describe-global-clusters --global-cluster-identifier ID) and the cluster (aws rds describe-db-clusters); once the move is done, `drplan apply --resume` goes on without moving it again; raise `aurora.timeout` if moves take longer"
        )
    )]
    AuroraTimeout {
        /// The cluster and its region: `orders-west in us-west-2`.
        target: String,
        global_cluster: String,
        call: &'static str,
        status: String,
        waited: String,
    },

    #[error(
        "aurora: {cluster} is not a member of the global cluster {global_cluster}: a failover detached it, and a switchover of {global_cluster} would leave behind the writes it took since"
    )]
    #[diagnostic(
        code(drplan::aurora::detached),
        help(
            "reprotect first: make a global database from that cluster with a secondary where the writer goes (AWS cannot rejoin a detached cluster), name its clusters in `aurora`, then `drplan apply --resume` or plan again"
        )
    )]
    AuroraDetached {
        /// The cluster and its region: `orders-west in us-west-2`.
        cluster: String,
        global_cluster: String,
    },

    #[error("the plan is not what planning produces: {difference}")]
    #[diagnostic(
        code(drplan::apply::edited_plan),
        help(
            "a plan is applied exactly as `drplan plan` wrote it and it was reviewed; plan again with `drplan plan FILE … --out PLAN` and review that"
        )
    )]
    EditedPlan { difference: String },

    #[error("{} was made on the sim world (a rehearsal), but the environment's providers are real", path.display())]
    #[diagnostic(
        code(drplan::apply::sim_plan),
        help(
            "pass --sim to rehearse it on the sim world, or plan again without --sim to act for real"
        )
    )]
    SimPlan { path: PathBuf },

    #[error("the copy of `{data}` in {region} has not caught up: {gap}")]
    #[diagnostic(
        code(drplan::apply::not_caught_up),
        help(
            "nothing was promoted; find out why replication lags (or resync the copy) and resume with `drplan apply --resume FILE`, or accept the loss with --accept-data-loss"
        )
    )]
    NotCaughtUp {
        data: String,
        region: String,
        gap: String,
    },

    #[error("sim: cannot {action}: {reason}")]
    #[diagnostic(
        code(drplan::sim::unreachable),
        help(
            "the service does not answer there; mark it up with `drplan sim set FILE --service NAME --region REGION --up`"
        )
    )]
    SimUnreachable { action: String, reason: String },

    #[error("writes to `{data}` are refused: {reason}")]
    #[diagnostic(
        code(drplan::sim::write_refused),
        help("writes go to the active copy; see where it is with `drplan sim show FILE`")
    )]
    SimWriteRefused { data: String, reason: String },

    /// What cannot happen unless drplan itself is wrong.
    #[error("internal error: {detail}")]
    #[diagnostic(code(drplan::bug), help("this is a bug in drplan; please report it"))]
    Bug { detail: String },

    #[error("{} is not a drplan plan: {detail}", path.display())]
    #[diagnostic(
        code(drplan::plan::not_a_plan),
        help(
            "pass a plan written by `drplan plan FILE ... --format json --out PLAN`, or an environment file with --scenario"
        )
    )]
    NotAPlan { path: PathBuf, detail: String },

    #[error("{} has plan format {found}, this drplan reads format {expected}", path.display())]
    #[diagnostic(
        code(drplan::plan::format_version),
        help("make the plan again with this version of drplan")
    )]
    PlanFormat {
        path: PathBuf,
        found: u32,
        expected: u32,
    },

    #[error("recovering now loses data beyond its RPO: {}", data.join(", "))]
    #[diagnostic(
        code(drplan::apply::rpo_breached),
        help("see the plan's data at risk; rerun with --accept-data-loss to recover anyway")
    )]
    RpoBreached { data: Vec<String> },

    #[error("the plan breaks the ARC control panel's safety rules: {}", breaches.join("; "))]
    #[diagnostic(
        code(drplan::apply::safety_rules_breached),
        help(
            "ARC would refuse the update half-way through; change the rules or the routing controls in the ARC console (or with --safety-rules-to-override of `aws route53-recovery-cluster update-routing-control-states`), then plan again"
        )
    )]
    SafetyRulesBreached { breaches: Vec<String> },

    #[error(
        "the backup of {service} left nothing new under {location} (the newest there is {newest})"
    )]
    #[diagnostic(
        code(drplan::apply::no_new_backup),
        help(
            "the restore that follows would load an older backup and lose the writes made since; make the `backup` command write under that location (and wait until it is written), then `drplan apply --resume FILE`"
        )
    )]
    NoNewBackup {
        service: String,
        location: String,
        newest: String,
    },

    /// The run's own check of a data set's newest backup, just before restoring it.
    #[error("{found}, beyond the RPO of {rpo} for {data}")]
    #[diagnostic(
        code(drplan::apply::backup_beyond_rpo),
        help("fix the backups, or rerun with --accept-data-loss to recover with what there is")
    )]
    BackupBeyondRpo {
        data: String,
        /// What the backups hold: the newest backup and its age, or that there is none.
        found: String,
        /// The RPO, formatted.
        rpo: String,
    },

    #[error("the target region {region} is down")]
    #[diagnostic(
        code(drplan::apply::region_down),
        help("choose a scenario that fails over to a healthy region")
    )]
    RegionDown { region: String },

    #[error("no backup found under {location}")]
    #[diagnostic(
        code(drplan::apply::no_backup),
        help("check the backup job, or restore by hand")
    )]
    NoBackup { location: String },

    #[error("{service} is not healthy in {region} after {attempts} probe(s): {detail}")]
    #[diagnostic(
        code(drplan::apply::unhealthy),
        help("look at the service; once it is healthy, run `drplan apply --resume FILE`")
    )]
    Unhealthy {
        service: String,
        region: String,
        attempts: u32,
        detail: String,
    },

    #[error("step `{step}` waited in vain: {detail}")]
    #[diagnostic(
        code(drplan::apply::condition_not_met),
        help(
            "the command ran, but what it prints never met the step's `until`: look at what it waits for, then run `drplan apply --resume FILE`"
        )
    )]
    ConditionNotMet { step: String, detail: String },

    #[error("check `{check}` failed ({target}): {detail}")]
    #[diagnostic(
        code(drplan::apply::check_failed),
        help("recovery ran, but this check does not pass: investigate before declaring recovery")
    )]
    CheckFailed {
        check: String,
        target: String,
        detail: String,
    },

    #[error("{step} was not approved")]
    #[diagnostic(
        code(drplan::apply::not_approved),
        help("run `drplan apply --resume FILE` when it may go ahead")
    )]
    NotApproved { step: String },

    #[error("this plan needs a person's approval and there is no terminal to ask")]
    #[diagnostic(
        code(drplan::apply::no_terminal),
        help(
            "run it from a terminal, or review it with `drplan plan` and rerun with --auto-approve"
        )
    )]
    NoTerminal,

    #[error("apply cancelled")]
    #[diagnostic(code(drplan::apply::cancelled), help("nothing was changed"))]
    Cancelled,

    #[error("there is no run of {environment} to resume")]
    #[diagnostic(
        code(drplan::apply::nothing_to_resume),
        help("start one with `drplan apply PLAN`")
    )]
    NothingToResume { environment: String },

    #[error("run {run} already finished")]
    #[diagnostic(
        code(drplan::apply::run_finished),
        help("there is nothing to resume; plan again for new changes")
    )]
    RunFinished { run: String },

    #[error("the notification template {} is not JSON: {detail}", path.display())]
    #[diagnostic(
        code(drplan::notify::template_not_json),
        help(
            "write the template as JSON; {{scenario}}, {{severity}}, {{status}}, {{started}}, {{impact}}, {{eta}} are filled in"
        )
    )]
    TemplateNotJson { path: PathBuf, detail: String },

    #[error("the environment variable {name} is not set")]
    #[diagnostic(
        code(drplan::secrets::unset_variable),
        help(
            "export {name}=… before running drplan (it is read only at apply time and never written)"
        )
    )]
    UnsetVariable { name: String },

    #[error("this run needs environment variables that are not set: {}", names.join(", "))]
    #[diagnostic(
        code(drplan::secrets::unset_before_run),
        help(
            "export them before applying (a real run checks every `${{env:…}}` its steps use before the first one); a rehearsal on the sim world needs none"
        )
    )]
    UnsetSecrets { names: Vec<String> },

    #[error("the state changed since this watcher decided: another operator acted")]
    #[diagnostic(
        code(drplan::watch::state_changed),
        help("the watcher looks again at its next probe")
    )]
    WatcherOvertaken,

    /// Not a failure for `drplan apply` (it exits 0), but watch and drill report it.
    #[error("the plan has nothing to change")]
    #[diagnostic(
        code(drplan::apply::no_changes),
        help("the world already matches it; nothing was done")
    )]
    NoChanges,

    #[error("{} step(s) failed: {}{}", failed.len(), failed.join(", "), if *interrupted { "; the run was interrupted" } else { "" })]
    #[diagnostic(
        code(drplan::apply::failed),
        help("see the run report; fix the cause and run `drplan apply --resume FILE` to continue")
    )]
    ApplyFailed {
        failed: Vec<String>,
        interrupted: bool,
    },

    #[error("{} check(s) failed: {}", failed.len(), failed.join(", "))]
    #[diagnostic(
        code(drplan::verify::failed),
        help("recovery is not proven until every check passes: investigate the failing ones")
    )]
    ChecksFailed { failed: Vec<String> },

    #[error("the run stopped: its journal could not be written{}", spool.as_ref().map(|p| format!("; what ran since is kept in {} and recorded on resume", p.display())).unwrap_or_default())]
    #[diagnostic(
        code(drplan::apply::journal_failed),
        help(
            "every step recorded before is kept; once the cause below is fixed (space freed, the endpoint back, access granted), run `drplan apply --resume FILE`"
        )
    )]
    JournalFailed {
        /// The error of the write that failed.
        #[diagnostic_source]
        cause: Box<dyn Diagnostic + Send + Sync>,
        /// Where the transitions the state did not take are kept, if they could be.
        spool: Option<PathBuf>,
    },

    #[error("the journal could not record this step, so it was stopped: {detail}")]
    #[diagnostic(
        code(drplan::state::unrecorded),
        help(
            "nothing runs unrecorded; run `drplan apply --resume FILE` once the state can be written"
        )
    )]
    Unrecorded { detail: String },

    #[error("the run was interrupted")]
    #[diagnostic(
        code(drplan::apply::interrupted),
        help("run `drplan apply --resume FILE` to continue with the unfinished steps")
    )]
    Interrupted,

    #[error("the run was aborted: its running steps were stopped and journaled abandoned")]
    #[diagnostic(
        code(drplan::apply::aborted),
        help(
            "their commands got SIGTERM, then SIGKILL; run `drplan apply --resume FILE` to run those steps again"
        )
    )]
    Aborted,

    #[error("the drill found {failures} failure(s)")]
    #[diagnostic(code(drplan::drill::failed), help("the report lists them: {report}"))]
    DrillFailed { failures: usize, report: String },
}

/// `; output ends with:` and the last lines of a command's output, when it printed any.
fn output_tail(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; output ends with:\n{}", tail.join("\n"))
    }
}

/// What kind of configuration problem a [`Problem`] is; each kind has a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    InvalidUtf8,
    TomlSyntax,
    UnknownField,
    MissingField,
    WrongType,
    InvalidValue,
    DuplicateName,
    BadDuration,
    BadEnvReference,
    UnknownPlaceholder,
    UnknownVariable,
    UnknownService,
    UnknownRegion,
    UnknownScenario,
    UnknownRecord,
    DependencyCycle,
    LaterTierDependency,
    DnsTargetRegion,
    FailoverToHome,
    RestoreWithoutBackups,
    UnreadableTrigger,
    StateInFailedRegion,
    BackupsInFailedRegion,
    ProbeTargetsFailedRegion,
    Route53ControlPlane,
    PageInFailedRegion,
    NoResync,
    NoBackup,
    CircularHealthProbe,
    UnmeasuredReplication,
    NoStorage,
    AlarmInFailedRegion,
    WatchersInOneRegion,
    HealthCheckControlPlane,
}

impl ProblemKind {
    /// Static-stability findings are warnings: the file is valid, but recovering may
    /// depend on what failed.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            Self::StateInFailedRegion
                | Self::BackupsInFailedRegion
                | Self::ProbeTargetsFailedRegion
                | Self::Route53ControlPlane
                | Self::PageInFailedRegion
                | Self::NoResync
                | Self::NoBackup
                | Self::CircularHealthProbe
                | Self::UnmeasuredReplication
                | Self::AlarmInFailedRegion
                | Self::WatchersInOneRegion
                | Self::HealthCheckControlPlane
        )
    }

    /// The stable, namespaced code shown with the diagnostic.
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidUtf8 => "drplan::config::invalid_utf8",
            Self::TomlSyntax => "drplan::config::toml_syntax",
            Self::UnknownField => "drplan::config::unknown_field",
            Self::MissingField => "drplan::config::missing_field",
            Self::WrongType => "drplan::config::wrong_type",
            Self::InvalidValue => "drplan::config::invalid_value",
            Self::DuplicateName => "drplan::config::duplicate_name",
            Self::BadDuration => "drplan::config::bad_duration",
            Self::BadEnvReference => "drplan::config::bad_env_reference",
            Self::UnknownPlaceholder => "drplan::config::unknown_placeholder",
            Self::UnknownVariable => "drplan::config::unknown_variable",
            Self::UnknownService => "drplan::config::unknown_service",
            Self::UnknownRegion => "drplan::config::unknown_region",
            Self::UnknownScenario => "drplan::config::unknown_scenario",
            Self::UnknownRecord => "drplan::config::unknown_record",
            Self::DependencyCycle => "drplan::config::dependency_cycle",
            Self::LaterTierDependency => "drplan::config::later_tier_dependency",
            Self::DnsTargetRegion => "drplan::config::dns_target_region",
            Self::FailoverToHome => "drplan::config::failover_to_home",
            Self::RestoreWithoutBackups => "drplan::config::restore_without_backups",
            Self::UnreadableTrigger => "drplan::config::unreadable_trigger",
            Self::StateInFailedRegion => "drplan::stability::state_in_failed_region",
            Self::BackupsInFailedRegion => "drplan::stability::backups_in_failed_region",
            Self::ProbeTargetsFailedRegion => "drplan::stability::probe_targets_failed_region",
            Self::Route53ControlPlane => "drplan::stability::route53_control_plane",
            Self::PageInFailedRegion => "drplan::stability::page_in_failed_region",
            Self::NoResync => "drplan::lifecycle::no_resync",
            Self::NoBackup => "drplan::lifecycle::no_backup",
            Self::CircularHealthProbe => "drplan::stability::circular_health_probe",
            Self::UnmeasuredReplication => "drplan::lifecycle::unmeasured_replication",
            Self::NoStorage => "drplan::config::no_storage",
            Self::AlarmInFailedRegion => "drplan::stability::alarm_in_failed_region",
            Self::WatchersInOneRegion => "drplan::stability::watchers_in_one_region",
            Self::HealthCheckControlPlane => "drplan::stability::health_check_control_plane",
        }
    }
}

/// One problem found in a configuration file: a message, labelled spans and a help line.
#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: ProblemKind,
    pub message: String,
    pub labels: Vec<(Span, String)>,
    pub help: Option<String>,
}

impl Problem {
    /// A problem with one labelled span.
    pub fn new(
        kind: ProblemKind,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            labels: vec![(span, label.into())],
            help: None,
        }
    }

    /// Adds the help line.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds another labelled span.
    #[must_use]
    pub fn label(mut self, span: Span, label: impl Into<String>) -> Self {
        self.labels.push((span, label.into()));
        self
    }

    /// The start of the first label, used to report problems in file order.
    pub fn offset(&self) -> usize {
        self.labels.first().map_or(0, |(span, _)| span.start)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.kind.code()))
    }

    fn severity(&self) -> Option<Severity> {
        Some(if self.kind.is_warning() {
            Severity::Warning
        } else {
            Severity::Error
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().map(|(span, text)| {
            LabeledSpan::new_with_span(Some(text.clone()), span.clone())
        })))
    }
}

/// Renders a diagnostic the way the CLI prints it; `colour` off gives stable text for snapshots.
pub fn render(diagnostic: &dyn Diagnostic, colour: bool) -> String {
    let theme = if colour {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    // Never split a word at a hyphen: lock ids, names and codes must stay copyable.
    let handler = miette::GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false)
        .with_word_splitter(textwrap::WordSplitter::NoHyphenation);
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = handler.render_report(&mut out, diagnostic);
    out
}

/// The file's text as its diagnostics show it (long lines cut), the labels of
/// `problems` moved to match.
fn shown_source(path: &str, text: &str, problems: &mut [Problem]) -> NamedSource<String> {
    let anchors: Vec<usize> = problems
        .iter()
        .flat_map(|p| p.labels.iter().map(|(span, _)| span.start))
        .collect();
    let excerpt = crate::excerpt::Excerpt::new(text, &anchors);
    for (span, _) in problems.iter_mut().flat_map(|p| p.labels.iter_mut()) {
        *span = excerpt.span(span);
    }
    NamedSource::new(path, excerpt.text)
}

/// Warnings about a valid file, shown together with the file's text.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{path}: {count} warning(s)")]
#[diagnostic(severity(Warning), code(drplan::stability::warnings))]
pub struct Warnings {
    pub path: String,
    pub count: usize,
    #[source_code]
    pub source_code: NamedSource<String>,
    #[related]
    pub problems: Vec<Problem>,
}

impl Warnings {
    /// The warnings `problems` about the file `path` holding `text`.
    pub fn new(path: &str, text: &str, mut problems: Vec<Problem>) -> Self {
        Self {
            path: path.to_string(),
            count: problems.len(),
            source_code: shown_source(path, text, &mut problems),
            problems,
        }
    }
}

/// Every problem found in one configuration file, shown with the file's text.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{path}: {summary}")]
#[diagnostic(
    code(drplan::config::invalid),
    help("fix every problem listed here, then run `drplan validate` again")
)]
pub struct InvalidConfig {
    pub path: String,
    pub summary: String,
    #[source_code]
    pub source_code: NamedSource<String>,
    #[related]
    pub problems: Vec<Problem>,
}

impl InvalidConfig {
    /// The problems of the file `path` holding `text`, in file order.
    pub fn new(path: &str, text: &str, mut problems: Vec<Problem>) -> Self {
        problems.sort_by_key(Problem::offset);
        let count = problems.len();
        Self {
            path: path.to_string(),
            summary: if count == 1 {
                "1 problem".to_string()
            } else {
                format!("{count} problems")
            },
            source_code: shown_source(path, text, &mut problems),
            problems,
        }
    }
}
