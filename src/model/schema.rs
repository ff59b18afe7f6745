//! The environment format as data: every key the decoder (`model::decode`) reads, its
//! kind and what it means. `drplan schema` prints it as a JSON Schema for editors; a
//! test decodes a kitchen-sink environment and fails when the decoder asks for a key
//! this table does not describe, or this table describes a key the decoder never asks
//! for.

use serde_json::{Map, Value, json};

use super::data_set::LagProbe;
use super::{DataMethod, Phase, Strategy};

/// What a key holds.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    String,
    /// A string with `${env:NAME}` references and `{service}` / `{region}` placeholders.
    Templated,
    Integer,
    Number,
    Boolean,
    /// `500ms`, `30s`, `5m`, `1h30m`, `7d`.
    Duration,
    Strings,
    /// An argument vector: `["program", "arg", …]`.
    Command,
    /// A command, or a table of its `command`, `estimate` and `timeout`.
    CommandOrTable,
    Choice(&'static [&'static str]),
    /// The name of a phase.
    Phase,
    /// A table of the keys below it.
    Table,
    /// Tables by name (`[services.NAME]`), each of the keys below `PATH.*`.
    Named,
    /// An array of tables (`[[notify]]`), each of the keys below `PATH[]`.
    List,
    /// A table of strings by key (a region, a variable's name).
    StringMap,
    /// A table of whole numbers by key (a region).
    IntegerMap,
}

/// A key: its path (`services.*.tier`), kind and meaning.
pub struct Field {
    pub path: &'static str,
    pub kind: Kind,
    pub description: &'static str,
}

const fn field(path: &'static str, kind: Kind, description: &'static str) -> Field {
    Field {
        path,
        kind,
        description,
    }
}

const STATUS: Kind = Kind::Integer;

/// Every key of an environment file.
pub const FIELDS: &[Field] = &[
    field(
        "environment",
        Kind::Table,
        "The environment: its name, home region and recovery-time objective.",
    ),
    field(
        "environment.name",
        Kind::String,
        "The environment's name (letters, digits, `-`, `_`).",
    ),
    field(
        "environment.home",
        Kind::String,
        "The region every service runs in when nothing is failed over.",
    ),
    field(
        "environment.rto",
        Kind::Duration,
        "The recovery-time objective: a failover must be estimated to finish within it.",
    ),
    field(
        "environment.state",
        Kind::String,
        "Where the state lives: \"local\" (.drplan/) or \"s3://bucket/key.json\".",
    ),
    field(
        "providers",
        Kind::Table,
        "Which providers act on the world (sim by default).",
    ),
    field(
        "providers.dns",
        Kind::Choice(&["sim", "route53", "command", "arc"]),
        "The DNS provider: the sim, Route 53, your own commands ([providers.dns_commands]), or Route 53 ARC routing controls ([providers.arc]).",
    ),
    field(
        "providers.storage",
        Kind::Choice(&["sim", "s3", "none"]),
        "The backup storage provider (`none`: nothing declares backups or a maintenance page).",
    ),
    field(
        "providers.endpoint",
        Kind::String,
        "An endpoint URL for the AWS providers (e.g. a local moto server).",
    ),
    field(
        "providers.region",
        Kind::String,
        "The AWS region the providers' clients use.",
    ),
    field(
        "providers.dns_commands",
        Kind::Table,
        "With dns = \"command\": the commands that read and move DNS records.",
    ),
    field(
        "providers.dns_commands.read",
        Kind::Command,
        "Prints a record's weighted sets as JSON (the record in $DRPLAN_RECORD, $DRPLAN_RECORD_NAME, …).",
    ),
    field(
        "providers.dns_commands.apply",
        Kind::Command,
        "Sets a record's weighted sets from the JSON in $DRPLAN_RECORD_SETS.",
    ),
    field(
        "providers.arc",
        Kind::Table,
        "With dns = \"arc\": the Route 53 ARC cluster and a routing control per region.",
    ),
    field(
        "providers.arc.endpoints",
        Kind::StringMap,
        "Region → the cluster's endpoint there (https://…), tried in turn until one answers.",
    ),
    field(
        "providers.arc.routing_controls",
        Kind::StringMap,
        "Region → the ARN of the routing control that sends traffic there.",
    ),
    field(
        "providers.arc.control_panel",
        Kind::String,
        "The control panel's ARN: its safety rules are read before each plan, and a plan that would break one is refused.",
    ),
    field(
        "providers.dns_commands.timeout",
        Kind::Duration,
        "How long one run of either command may take (default 2m).",
    ),
    field(
        "environment.retries",
        Kind::Integer,
        "How many times a failed activation or check is tried again unless it says (default 2).",
    ),
    field(
        "environment.vars",
        Kind::StringMap,
        "Values of `{vars.NAME}` in every command and URL.",
    ),
    field(
        "regions.*.vars",
        Kind::StringMap,
        "Values of `{vars.NAME}` for this region; they override the environment's.",
    ),
    field("regions", Kind::Named, "The regions, by name."),
    field(
        "regions.*.role",
        Kind::Choice(&["primary", "secondary", "tertiary"]),
        "The region's role.",
    ),
    field(
        "regions.*.standby",
        Kind::Choice(&["hot", "warm", "cold"]),
        "How ready the region's standby is.",
    ),
    field("services", Kind::Named, "The services, by name."),
    field(
        "services.*.tier",
        Kind::Integer,
        "The restoration tier, from 1: lower tiers are recovered and healthy first.",
    ),
    field(
        "services.*.depends_on",
        Kind::Strings,
        "The services this one needs running first.",
    ),
    field(
        "services.*.regions",
        Kind::Strings,
        "The regions the service can run in.",
    ),
    field(
        "services.*.estimate",
        Kind::Duration,
        "How long activating the service takes.",
    ),
    field(
        "services.*.activate",
        Kind::CommandOrTable,
        "The command that brings the service up in a region, or `{ command, timeout }`.",
    ),
    field(
        "services.*.activate.command",
        Kind::Command,
        "The command that brings the service up.",
    ),
    field(
        "services.*.activate.timeout",
        Kind::Duration,
        "How long it may run before it is stopped.",
    ),
    field(
        "services.*.activate.retries",
        Kind::Integer,
        "How many times a failed activation is tried again, backing off from 1s (default: the environment's, else 2).",
    ),
    field(
        "services.*.rds",
        Kind::Table,
        "An RDS instance per region: activating the service promotes its read replica there.",
    ),
    field(
        "services.*.rds.instances",
        Kind::StringMap,
        "Region → DB instance identifier.",
    ),
    field(
        "services.*.rds.timeout",
        Kind::Duration,
        "How long a promotion may take to become available (default 30m).",
    ),
    field(
        "services.*.aurora",
        Kind::Table,
        "An Aurora global database: activating the service in a region moves the writer to the member cluster there.",
    ),
    field(
        "services.*.aurora.global_cluster",
        Kind::String,
        "The global cluster identifier.",
    ),
    field(
        "services.*.aurora.clusters",
        Kind::StringMap,
        "Region → DB cluster identifier of the member cluster there.",
    ),
    field(
        "services.*.aurora.timeout",
        Kind::Duration,
        "How long a switchover, failover or detach may take to become available (default 30m).",
    ),
    field(
        "services.*.restore",
        Kind::CommandOrTable,
        "The command that loads the newest backup ({backup}) into the service, or `{ command, timeout }`.",
    ),
    field(
        "services.*.restore.command",
        Kind::Command,
        "The command that loads the backup.",
    ),
    field(
        "services.*.restore.timeout",
        Kind::Duration,
        "How long it may run before it is stopped.",
    ),
    field(
        "services.*.deactivate",
        Kind::CommandOrTable,
        "The command that fences, demotes or stops the service in the region being left.",
    ),
    field(
        "services.*.deactivate.command",
        Kind::Command,
        "The command.",
    ),
    field(
        "services.*.deactivate.estimate",
        Kind::Duration,
        "How long it usually takes.",
    ),
    field(
        "services.*.deactivate.timeout",
        Kind::Duration,
        "How long it may take at most.",
    ),
    field(
        "services.*.resync",
        Kind::CommandOrTable,
        "The command that makes the service's copy in a region a replica of the active one.",
    ),
    field("services.*.resync.command", Kind::Command, "The command."),
    field(
        "services.*.resync.estimate",
        Kind::Duration,
        "How long it usually takes.",
    ),
    field(
        "services.*.resync.timeout",
        Kind::Duration,
        "How long it may take at most.",
    ),
    field(
        "services.*.backup",
        Kind::CommandOrTable,
        "For a service rebuilt from backups where it moves: the command that backs it up in a region, run on the side a switchover or failback leaves, once fenced.",
    ),
    field("services.*.backup.command", Kind::Command, "The command."),
    field(
        "services.*.backup.estimate",
        Kind::Duration,
        "How long it usually takes.",
    ),
    field(
        "services.*.backup.timeout",
        Kind::Duration,
        "How long it may take at most.",
    ),
    field(
        "services.*.health",
        Kind::Table,
        "How to tell the service is healthy: a `url` or a `command`.",
    ),
    field("services.*.health.url", Kind::Templated, "The URL to GET."),
    field(
        "services.*.health.command",
        Kind::Command,
        "The command that exits 0 when healthy.",
    ),
    field(
        "services.*.health.expect",
        STATUS,
        "The HTTP status expected (default 200).",
    ),
    field(
        "services.*.health.max_latency",
        Kind::Duration,
        "The slowest answer still healthy.",
    ),
    field(
        "services.*.health.timeout",
        Kind::Duration,
        "How long one attempt may take.",
    ),
    field(
        "services.*.health.attempts",
        Kind::Integer,
        "How many attempts before the service is unhealthy.",
    ),
    field(
        "services.*.health.interval",
        Kind::Duration,
        "The wait between attempts.",
    ),
    field(
        "services.*.health.until",
        Kind::Table,
        "Wait until a condition on the probe's output holds: `json` or `regex`, then `equals`, `below` or `above` (or a `regex` alone: the output matches it).",
    ),
    field(
        "services.*.health.until.json",
        Kind::String,
        "A JSON pointer to the value.",
    ),
    field(
        "services.*.health.until.regex",
        Kind::String,
        "A regular expression: its first group is the value; alone, the output must match it.",
    ),
    field(
        "services.*.health.until.equals",
        Kind::String,
        "The value to wait for.",
    ),
    field(
        "services.*.health.until.below",
        Kind::Number,
        "Wait until the value is a number below this one.",
    ),
    field(
        "services.*.health.until.above",
        Kind::Number,
        "Wait until the value is a number above this one.",
    ),
    field(
        "services.*.health.until.timeout",
        Kind::Duration,
        "How long to keep trying in all (default 5m).",
    ),
    field(
        "services.*.health.until.interval",
        Kind::Duration,
        "The wait between tries (default 10s).",
    ),
    field(
        "dns",
        Kind::Named,
        "The DNS records that follow services, by key.",
    ),
    field("dns.*.zone", Kind::String, "The hosted zone."),
    field("dns.*.zone_id", Kind::String, "The Route53 hosted-zone id."),
    field("dns.*.name", Kind::String, "The record's name."),
    field(
        "dns.*.type",
        Kind::Choice(&["A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA"]),
        "The record type.",
    ),
    field("dns.*.ttl", Kind::Integer, "The time to live, in seconds."),
    field(
        "dns.*.switchover_ttl",
        Kind::Duration,
        "A switchover first lowers the record's TTL to this (whole seconds, below `ttl`; not on alias records or with dns = \"arc\") and waits the old one out, so the switch takes effect within it; the declared TTL is put back once verified.",
    ),
    field(
        "dns.*.follows",
        Kind::String,
        "The service whose region the record points at.",
    ),
    field("dns.*.alias", Kind::Table, "A Route53 alias record."),
    field(
        "dns.*.alias.zone_id",
        Kind::String,
        "The hosted-zone id of the alias target.",
    ),
    field(
        "dns.*.alias.evaluate_health",
        Kind::Boolean,
        "Whether Route53 evaluates the target's health.",
    ),
    field(
        "dns.*.targets",
        Kind::StringMap,
        "The record's value in each region.",
    ),
    field(
        "dns.*.weights",
        Kind::IntegerMap,
        "Active-active: each region's share of traffic (0-255, relative) while home serves; a failover moves home's share to the others, a failback restores these.",
    ),
    field(
        "dns.*.routing",
        Kind::Choice(&["weighted", "failover"]),
        "How Route 53 routes the record: weighted record sets (default), or a failover pair (home's set the PRIMARY, with a health check; exactly two targets) moved by overriding the PRIMARY's health check.",
    ),
    field("data", Kind::Named, "The data sets, by name."),
    field(
        "data.*.service",
        Kind::String,
        "The service that holds the data.",
    ),
    field("data.*.priority", Kind::String, "The priority, e.g. P0."),
    field(
        "data.*.rpo",
        Kind::Duration,
        "The recovery-point objective: the most data that may be lost.",
    ),
    field(
        "data.*.method",
        Kind::Choice(&DataMethod::NAMES),
        "How the data is recovered.",
    ),
    field(
        "data.*.backups",
        Kind::String,
        "Where the backups are: \"s3://bucket/prefix/\".",
    ),
    field(
        "data.*.lag",
        Kind::Table,
        "How to measure a replicated copy's lag: a `url` or a `command`, read by `json` or `regex`.",
    ),
    field("data.*.lag.url", Kind::Templated, "The URL to GET."),
    field("data.*.lag.command", Kind::Command, "The command to run."),
    field(
        "data.*.lag.json",
        Kind::String,
        "A JSON pointer to the lag in the answer.",
    ),
    field(
        "data.*.lag.regex",
        Kind::String,
        "A regular expression whose first group is the lag.",
    ),
    field(
        "data.*.lag.unit",
        Kind::Choice(&LagProbe::UNITS),
        "The lag's unit.",
    ),
    field(
        "data.*.lag.timeout",
        Kind::Duration,
        "How long one measurement may take.",
    ),
    field(
        "data.*.lag.until",
        Kind::Table,
        "Read the lag only from an output that meets a condition (e.g. the replication state is `streaming`), trying again until it does: `json` or `regex`, then `equals`, `below` or `above` (or a `regex` alone).",
    ),
    field(
        "data.*.lag.until.json",
        Kind::String,
        "A JSON pointer to the value.",
    ),
    field(
        "data.*.lag.until.regex",
        Kind::String,
        "A regular expression: its first group is the value; alone, the output must match it.",
    ),
    field(
        "data.*.lag.until.equals",
        Kind::String,
        "The value to wait for.",
    ),
    field(
        "data.*.lag.until.below",
        Kind::Number,
        "Wait until the value is a number below this one.",
    ),
    field(
        "data.*.lag.until.above",
        Kind::Number,
        "Wait until the value is a number above this one.",
    ),
    field(
        "data.*.lag.until.timeout",
        Kind::Duration,
        "How long to keep trying in all (default 5m).",
    ),
    field(
        "data.*.lag.until.interval",
        Kind::Duration,
        "The wait between tries (default 10s).",
    ),
    field("scenarios", Kind::Named, "The scenarios, by name."),
    field(
        "scenarios.*.severity",
        Kind::String,
        "The incident severity, e.g. SEV-1.",
    ),
    field(
        "scenarios.*.strategy",
        Kind::Choice(&Strategy::NAMES),
        "How the scenario recovers.",
    ),
    field(
        "scenarios.*.to",
        Kind::String,
        "The region a failover or switchover moves to.",
    ),
    field(
        "scenarios.*.approval",
        Kind::String,
        "Who must approve the plan; \"manual\" asks once per phase that changes something.",
    ),
    field(
        "scenarios.*.approvers",
        Kind::Strings,
        "With approval = \"manual\": who may approve.",
    ),
    field(
        "scenarios.*.services",
        Kind::Strings,
        "The services the scenario recovers (default: all).",
    ),
    field(
        "scenarios.*.maintenance_page",
        Kind::Table,
        "A page put up while the scenario runs.",
    ),
    field(
        "scenarios.*.maintenance_page.bucket",
        Kind::String,
        "The S3 bucket.",
    ),
    field(
        "scenarios.*.maintenance_page.key",
        Kind::String,
        "The object key the page replaces.",
    ),
    field(
        "scenarios.*.maintenance_page.file",
        Kind::String,
        "The page's file, beside the environment file.",
    ),
    field(
        "scenarios.*.steps",
        Kind::List,
        "The scenario's own steps: a `run` or a `manual` in a phase.",
    ),
    field(
        "scenarios.*.steps[].phase",
        Kind::Phase,
        "The phase the step runs in.",
    ),
    field("scenarios.*.steps[].name", Kind::String, "The step's name."),
    field(
        "scenarios.*.steps[].estimate",
        Kind::Duration,
        "How long the step is expected to take (feeds the RTO estimate).",
    ),
    field(
        "scenarios.*.steps[].timeout",
        Kind::Duration,
        "How long a `run` step may take before it is stopped.",
    ),
    field(
        "scenarios.*.steps[].best_effort",
        Kind::Boolean,
        "A failed `run` step is recorded and the run goes on.",
    ),
    field(
        "scenarios.*.steps[].until",
        Kind::Table,
        "Wait until a condition on what a `run` step prints holds (it runs again every `interval`): `json` or `regex`, then `equals`, `below` or `above` (or a `regex` alone).",
    ),
    field(
        "scenarios.*.steps[].until.json",
        Kind::String,
        "A JSON pointer to the value.",
    ),
    field(
        "scenarios.*.steps[].until.regex",
        Kind::String,
        "A regular expression: its first group is the value; alone, the output must match it.",
    ),
    field(
        "scenarios.*.steps[].until.equals",
        Kind::String,
        "The value to wait for.",
    ),
    field(
        "scenarios.*.steps[].until.below",
        Kind::Number,
        "Wait until the value is a number below this one.",
    ),
    field(
        "scenarios.*.steps[].until.above",
        Kind::Number,
        "Wait until the value is a number above this one.",
    ),
    field(
        "scenarios.*.steps[].until.timeout",
        Kind::Duration,
        "How long to keep trying in all (default 5m).",
    ),
    field(
        "scenarios.*.steps[].until.interval",
        Kind::Duration,
        "The wait between tries (default 10s).",
    ),
    field(
        "scenarios.*.steps[].run",
        Kind::Command,
        "The command to run.",
    ),
    field(
        "scenarios.*.steps[].manual",
        Kind::String,
        "The instruction a person carries out; apply pauses until confirmed.",
    ),
    field(
        "triggers",
        Kind::Named,
        "What `drplan watch` watches, by name.",
    ),
    field(
        "triggers.*.scenario",
        Kind::String,
        "The scenario the trigger starts.",
    ),
    field(
        "triggers.*.when",
        Kind::Choice(&["health", "error-rate", "alarm"]),
        "What fails the trigger.",
    ),
    field(
        "triggers.*.threshold",
        Kind::Number,
        "The error rate (0 to 1) above which it fails.",
    ),
    field(
        "triggers.*.probe",
        Kind::Table,
        "Where the error rate is read: a `url` or a `command`.",
    ),
    field("triggers.*.probe.url", Kind::Templated, "The URL to GET."),
    field(
        "triggers.*.probe.alarm",
        Kind::String,
        "With when = \"alarm\": the CloudWatch alarm whose ALARM state fails the trigger.",
    ),
    field(
        "triggers.*.probe.region",
        Kind::String,
        "The alarm's region (default: the providers' region).",
    ),
    field(
        "triggers.*.probe.command",
        Kind::Command,
        "The command to run.",
    ),
    field(
        "triggers.*.services",
        Kind::Strings,
        "The services whose health is watched (default: all).",
    ),
    field(
        "triggers.*.for",
        Kind::Duration,
        "How long the failure must last.",
    ),
    field("triggers.*.interval", Kind::Duration, "How often to probe."),
    field(
        "triggers.*.automatic",
        Kind::Boolean,
        "Apply the scenario without asking (default false: notify and wait).",
    ),
    field(
        "triggers.*.failback",
        Kind::Choice(&["auto", "manual"]),
        "Whether to fail back once healthy again.",
    ),
    field(
        "watch",
        Kind::Table,
        "The watchers that must agree before a trigger fires (without it: one watcher).",
    ),
    field(
        "watch.watchers",
        Kind::List,
        "Each watcher: its name (`drplan watch --as NAME`) and the region it runs in.",
    ),
    field("watch.watchers[].name", Kind::String, "The watcher's name."),
    field(
        "watch.watchers[].region",
        Kind::String,
        "The region the watcher runs in.",
    ),
    field(
        "watch.quorum",
        Kind::Integer,
        "How many watchers must see a trigger's condition for its `for` (default: a majority).",
    ),
    field(
        "watch.freshness",
        Kind::Duration,
        "How old a watcher's observation may be and still count (default: two intervals).",
    ),
    field("notify", Kind::List, "The communication timeline."),
    field(
        "notify[].after",
        Kind::Duration,
        "When to send, after the start.",
    ),
    field("notify[].to", Kind::String, "Who is told."),
    field(
        "notify[].via",
        Kind::Choice(&["webhook", "command"]),
        "How.",
    ),
    field("notify[].url", Kind::Templated, "The webhook URL."),
    field("notify[].command", Kind::Command, "The command to run."),
    field("notify[].template", Kind::String, "The message template."),
    field(
        "checks",
        Kind::List,
        "The validation checklist run after recovery.",
    ),
    field("checks[].name", Kind::String, "The check's name."),
    field(
        "checks[].timeout",
        Kind::Duration,
        "How long the check may take before it fails.",
    ),
    field("checks[].url", Kind::Templated, "The URL to GET."),
    field(
        "checks[].expect",
        STATUS,
        "The HTTP status expected (default 200).",
    ),
    field(
        "checks[].max_latency",
        Kind::Duration,
        "The slowest answer that passes.",
    ),
    field(
        "checks[].dns",
        Kind::String,
        "A DNS record (its key under [dns]) that must point at the active region.",
    ),
    field(
        "checks[].command",
        Kind::Command,
        "The command that exits 0 when the check passes.",
    ),
    field(
        "checks[].until",
        Kind::Table,
        "Wait until a condition on the check's output holds: `json` or `regex`, then `equals`, `below` or `above` (or a `regex` alone: the output matches it).",
    ),
    field(
        "checks[].until.json",
        Kind::String,
        "A JSON pointer to the value.",
    ),
    field(
        "checks[].until.regex",
        Kind::String,
        "A regular expression: its first group is the value; alone, the output must match it.",
    ),
    field(
        "checks[].until.equals",
        Kind::String,
        "The value to wait for.",
    ),
    field(
        "checks[].until.below",
        Kind::Number,
        "Wait until the value is a number below this one.",
    ),
    field(
        "checks[].until.above",
        Kind::Number,
        "Wait until the value is a number above this one.",
    ),
    field(
        "checks[].until.timeout",
        Kind::Duration,
        "How long to keep trying in all (default 5m).",
    ),
    field(
        "checks[].until.interval",
        Kind::Duration,
        "The wait between tries (default 10s).",
    ),
    field(
        "checks[].retries",
        Kind::Integer,
        "How many times a failed check is tried again, backing off from 1s (default: the environment's, else 2).",
    ),
    field("drills", Kind::Named, "The drill calendar, by name."),
    field(
        "drills.*.scenario",
        Kind::String,
        "The scenario to rehearse.",
    ),
    field("drills.*.every", Kind::Duration, "How often."),
];

/// The JSON Schema (draft 2020-12) of an environment file.
pub fn json_schema() -> Value {
    let mut schema = object_of("");
    if let Value::Object(map) = &mut schema {
        map.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        map.insert("title".into(), json!("drplan environment"));
        map.insert("required".into(), json!(["environment"]));
    }
    schema
}

/// A closed object of the fields directly below `prefix` (`""` for the root).
fn object_of(prefix: &str) -> Value {
    let mut properties = Map::new();
    for field in FIELDS.iter().filter(|f| parent(f.path) == prefix) {
        let name = field.path.rsplit(['.', ']']).next().unwrap_or(field.path);
        properties.insert(name.to_string(), schema_of(field));
    }
    json!({ "type": "object", "properties": properties, "additionalProperties": false })
}

/// `services.*.health.url` → `services.*.health`; `notify[].to` → `notify[]`.
fn parent(path: &str) -> &str {
    path.rfind('.').map_or("", |dot| &path[..dot])
}

fn schema_of(field: &Field) -> Value {
    let (path, description) = (field.path, field.description);
    let mut schema = match field.kind {
        Kind::String | Kind::Templated | Kind::Duration => json!({ "type": "string" }),
        Kind::Integer => json!({ "type": "integer" }),
        Kind::Number => json!({ "type": "number" }),
        Kind::Boolean => json!({ "type": "boolean" }),
        Kind::Strings => json!({ "type": "array", "items": { "type": "string" } }),
        Kind::Command => command(),
        Kind::CommandOrTable => json!({ "anyOf": [command(), object_of(path)] }),
        Kind::Choice(choices) => json!({ "enum": choices }),
        Kind::Phase => json!({ "enum": Phase::ALL.map(Phase::name) }),
        Kind::Table => object_of(path),
        Kind::Named => {
            json!({ "type": "object", "additionalProperties": object_of(&format!("{path}.*")) })
        }
        Kind::List => json!({ "type": "array", "items": object_of(&format!("{path}[]")) }),
        Kind::StringMap => {
            json!({ "type": "object", "additionalProperties": { "type": "string" } })
        }
        Kind::IntegerMap => {
            json!({ "type": "object", "additionalProperties": { "type": "integer", "minimum": 0 } })
        }
    };
    if let Value::Object(map) = &mut schema {
        map.insert("description".into(), json!(description));
    }
    schema
}

fn command() -> Value {
    json!({ "type": "array", "items": { "type": "string" }, "minItems": 1 })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use regex::Regex;

    use super::*;

    /// How the decoder names a table (`[services.api]`, `` `health` of [services.api] ``,
    /// `step 1 of [scenarios.x]`, `[[notify]] entry 2`) → its path (`services.*`, …).
    fn path_of(table: &str) -> String {
        let rules = [
            (r"^the file$", ""),
            (r"^\[(\w+)\]$", "$1"),
            (r"^\[providers\.dns_commands\]$", "providers.dns_commands"),
            (r"^\[providers\.arc\]$", "providers.arc"),
            (r"^`(\w+)` of \[providers\.arc\]$", "providers.arc.$1"),
            (r"^\[(\w+)\.[^\]]+\]$", "$1.*"),
            (r"^`(\w+)` of \[(\w+)\.[^\]]+\]$", "$2.*.$1"),
            (r"^`(\w+)\.(\w+)` of \[(\w+)\.[^\]]+\]$", "$3.*.$1.$2"),
            (r"^step \d+ of \[(\w+)\.[^\]]+\]$", "$1.*.steps[]"),
            (
                r"^`(\w+)` of step \d+ of \[(\w+)\.[^\]]+\]$",
                "$2.*.steps[].$1",
            ),
            (r"^\[\[(\w+)\]\] entry \d+$", "$1[]"),
            (r"^`(\w+)` of \[\[(\w+)\]\] entry \d+$", "$2[].$1"),
            (r"^watcher \d+ of \[watch\]$", "watch.watchers[]"),
        ];
        for (pattern, path) in rules {
            let pattern = Regex::new(pattern).expect("a valid pattern");
            if pattern.is_match(table) {
                return pattern.replace(table, path).into_owned();
            }
        }
        panic!("the decoder names a table `{table}` that no rule maps to a path")
    }

    #[test]
    fn the_table_describes_every_key_the_decoder_reads_and_no_other() {
        let fixtures = [
            include_str!("../../tests/fixtures/kitchen-sink.toml"),
            include_str!("../../tests/fixtures/kitchen-sink-outside-aws.toml"),
            include_str!("../../tests/fixtures/kitchen-sink-arc.toml"),
        ];
        let mut asked = Vec::new();
        for text in fixtures {
            let (env, asks) =
                crate::config::tree::record_asks(|| super::super::parse("kitchen-sink.toml", text));
            assert!(env.is_ok(), "the kitchen-sink environment is valid");
            asked.extend(asks);
        }
        let asked: BTreeSet<String> = asked
            .iter()
            .map(|(table, key)| match path_of(table).as_str() {
                "" => (*key).to_string(),
                path => format!("{path}.{key}"),
            })
            .collect();
        let described: BTreeSet<String> = FIELDS.iter().map(|f| f.path.to_string()).collect();
        let undescribed: Vec<&String> = asked.difference(&described).collect();
        let unread: Vec<&String> = described.difference(&asked).collect();
        assert!(
            undescribed.is_empty(),
            "read by the decoder but not in schema::FIELDS: {undescribed:?}"
        );
        assert!(
            unread.is_empty(),
            "in schema::FIELDS but not read from the kitchen sink: {unread:?}"
        );
        assert!(FIELDS.iter().all(|f| !f.description.is_empty()));
    }
}
