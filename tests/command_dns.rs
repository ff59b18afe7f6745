//! Traffic outside AWS: with `dns = "command"` the environment reads and moves its
//! records through the team's own commands, and every command of the plan runs for
//! real with no AWS provider at all. The "DNS" here is a folder of JSON files that
//! the two commands read and write, checked from outside after the apply.

use std::fs;

use serde_json::Value;

use crate::support::snapshot;
use crate::support::webhook::{Script, Webhook};
use crate::support::workspace::Workspace;

pub const ENV: &str = "environments/onprem.toml";

/// Two data centres behind a DNS that only commands reach. Activation and health are
/// files in the working directory, so the test sees what ran.
pub const ONPREM: &str = r#"
[environment]
name = "onprem"
home = "dc-east"
rto = "30m"

[providers]
dns = "command"
storage = "none"

[providers.dns_commands]
read = ["sh", "-c", "cat \"dns/$DRPLAN_RECORD.json\""]
apply = ["sh", "-c", "printf '%s' \"$DRPLAN_RECORD_SETS\" > \"dns/$DRPLAN_RECORD.json\" && echo \"$DRPLAN_RECORD_NAME $DRPLAN_RECORD_ZONE $DRPLAN_RECORD_TYPE\" >> dns/applied.log"]
timeout = "10s"

[regions.dc-east]
role = "primary"

[regions.dc-west]
role = "secondary"

[services.web]
tier = 1
regions = ["dc-east", "dc-west"]
estimate = "1m"
activate = ["sh", "-c", "echo {region} >> activated-{service}"]
health = { command = ["test", "-e", "activated-{service}"] }

[dns.www]
zone = "example.org"
name = "www.example.org"
type = "CNAME"
follows = "web"
targets = { dc-east = "web.east.example.org", dc-west = "web.west.example.org" }

[scenarios.dc-outage]
severity = "SEV-1"
strategy = "failover"
to = "dc-west"
"#;

/// Home serves `www` at weight 100, as the "DNS" says before any failover.
const HOME_SETS: &str = r#"[{"region": "dc-east", "value": "web.east.example.org", "weight": 100},
 {"region": "dc-west", "value": "web.west.example.org", "weight": 0}]"#;

impl Workspace {
    pub fn onprem(&self) {
        self.onprem_in(&[], "");
    }

    /// The on-premises environment with its data centres renamed (`from`, `to`) and
    /// `extra` TOML appended; its "DNS" serves home.
    pub fn onprem_in(&self, renames: &[(&str, &str)], extra: &str) {
        let rename = |text: &str| {
            renames
                .iter()
                .fold(text.to_string(), |text, (from, to)| text.replace(from, to))
        };
        fs::write(self.path().join(ENV), rename(ONPREM) + extra)
            .expect("the environment is written");
        fs::create_dir_all(self.path().join("dns")).expect("dns/ is created");
        fs::write(self.path().join("dns/www.json"), rename(HOME_SETS))
            .expect("the record is written");
    }

    fn read(&self, file: &str) -> String {
        fs::read_to_string(self.path().join(file)).unwrap_or_default()
    }
}

#[test]
fn a_command_dns_provider_is_read_for_the_plan_and_moved_by_the_apply() {
    let workspace = Workspace::new();
    workspace.onprem();

    let plan = workspace
        .run(&["plan", ENV, "--scenario", "dc-outage"])
        .expect(0);
    snapshot::assert_live("command_dns", "plan_through_dns_commands", &plan.stdout);

    workspace
        .run(&["apply", ENV, "--scenario", "dc-outage", "--auto-approve"])
        .expect(0);
    let moved: Value = serde_json::from_str(&workspace.read("dns/www.json"))
        .expect("the apply command wrote JSON");
    assert_eq!(
        moved,
        serde_json::json!([
            {"region": "dc-east", "value": "web.east.example.org", "weight": 0, "ttl": 60},
            {"region": "dc-west", "value": "web.west.example.org", "weight": 100, "ttl": 60},
        ])
    );
    assert_eq!(
        workspace.read("dns/applied.log"),
        "www.example.org example.org CNAME\n"
    );
    assert_eq!(
        workspace.read("activated-web"),
        "dc-west\n",
        "activation ran for real"
    );
}

#[test]
fn a_read_command_that_prints_no_record_sets_is_refused_with_what_it_printed() {
    let workspace = Workspace::new();
    workspace.onprem();
    fs::write(workspace.path().join("dns/www.json"), "not json").expect("written");

    let plan = workspace
        .run(&["plan", ENV, "--scenario", "dc-outage"])
        .expect(1);
    snapshot::assert_live("command_dns", "unreadable_read_command", &plan.stderr);
}

#[test]
fn dns_command_without_its_commands_is_a_validate_error() {
    let workspace = Workspace::new();
    let broken = ONPREM.replace("[providers.dns_commands]", "[providers.elsewhere]");
    fs::write(workspace.path().join(ENV), broken).expect("written");
    let validate = workspace.run(&["validate", ENV]).expect(1);
    snapshot::assert("command_dns", "missing_dns_commands", &validate.stderr);
}

/// When a run report's step started, and when it ended (its start plus its duration),
/// in milliseconds since the epoch.
fn span_ms(report: &Value, step: &str) -> (u128, u128) {
    let entry = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == step)
        .unwrap_or_else(|| panic!("{step} in {report:#}"));
    let started = humantime::parse_rfc3339(entry["started"].as_str().expect("started"))
        .expect("an RFC 3339 time");
    let started = started
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_millis();
    let duration = u128::from(entry["duration_ms"].as_u64().expect("a duration"));
    (started, started + duration)
}

#[test]
fn a_client_facing_check_waits_out_the_old_ttl_of_the_record_it_reaches() {
    // The check reaches the site through the record this failover moves (`localhost`,
    // served by a loopback server), whose old answer may be cached for 2s.
    let site = Webhook::start(Script::InOrder(&[]));
    let url = site.url.replace("127.0.0.1", "localhost");
    let workspace = Workspace::new();
    workspace.onprem_in(
        &[(
            "name = \"www.example.org\"",
            "name = \"localhost\"\nttl = 2",
        )],
        &format!("\n[[checks]]\nname = \"site answers\"\nurl = \"{url}\"\nexpect = 200\n"),
    );

    let plan = workspace
        .run(&["plan", ENV, "--scenario", "dc-outage"])
        .expect(0);
    assert!(
        plan.stdout.contains(&format!(
            "GET {url} expects 200, once resolvers no longer hold the old answer of localhost (its TTL, 2s, after the switch"
        )),
        "{}",
        plan.stdout
    );

    workspace
        .run(&["apply", ENV, "--scenario", "dc-outage", "--auto-approve"])
        .expect(0);
    let reports = workspace.files(".drplan/runs", "json");
    let report = workspace.json(&reports[0].to_string_lossy());
    // The switch moved the record after it started, so the check, which waits 2s from
    // that move, ends at least 2s after the switch started (the report keeps
    // milliseconds: allow one for rounding).
    let waited = span_ms(&report, "verify:site-answers").1 - span_ms(&report, "switch:www").0;
    assert!(
        waited >= 1999,
        "the check ended {waited} ms after the switch started"
    );
    assert_eq!(site.requests().len(), 1, "the site was checked once");
}
