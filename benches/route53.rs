//! The reference failover's DNS move, drplan against the seed runbook's way, on one
//! moto server.
//!
//! The world is the one `tests/aws_e2e.rs` runs in (shared through `#[path]`): the
//! reference zone seeded at home, `environments/production.toml` with only its health
//! and check URLs on a loopback server, stand-ins for its commands.
//!
//! - **drplan**: `drplan apply plan.json` of the `regional-failure` plan — the real
//!   route53 and s3 providers, not `--sim` — timed as a whole process. Its run report
//!   gives the duration of the switch steps alone (the DNS part).
//! - **script**: what the seed runbook does, generated from the same plan's switch
//!   steps: one `aws route53 change-resource-record-sets` per weighted record set (an
//!   UPSERT each), in sequence.
//!
//! Between runs the records go back home (drplan: `apply --failback`; the script: one
//! untimed batch). Timings go straight to moto; one extra run of each goes through a
//! counting proxy for the API calls. Also measured, to show where the script's time
//! goes: `aws --version` (the CLI's Python start-up) and the script's six UPSERTs sent
//! one by one from one process through the SDK.
//!
//! Run with `cargo bench --bench route53`.

#[path = "../tests/support/moto.rs"]
#[allow(dead_code)]
mod moto;

#[path = "../tests/aws_e2e/fixture.rs"]
#[allow(dead_code)]
mod fixture;

#[path = "support/measure.rs"]
#[allow(dead_code)]
mod measure;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecordSet};
use serde_json::{Value, json};

use fixture::{CountingProxy, HOME, Loopback, Seeder};
use measure::{calls_text, median, row, secs, time, verdict};
use moto::MotoServer;

const SCENARIO: &str = "regional-failure";
const ITERATIONS: usize = 5;
/// The goal: drplan at least this many times faster than the script.
const GOAL_RATIO: f64 = 10.0;

fn main() {
    let moto = MotoServer::start();
    let proxy = CountingProxy::start(moto.port);
    let loopback = Loopback::start();
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let bench = Bench::new(dir.path(), &moto, &loopback);
    let seeder = Seeder::new(&moto.endpoint);
    let zone_id = seeder.create_zone();
    seeder.seed_records(&zone_id, &bench.env, HOME);
    seeder.create_bucket("omniops-backups");
    seeder.create_bucket("omniops-static");
    seeder.put_object("omniops-backups", "database/nightly.dump");

    println!(
        "reference failover ({SCENARIO}) on moto, {} record sets in 1 zone; medians of {ITERATIONS} runs\n",
        bench
            .env
            .records
            .iter()
            .map(|r| r.targets.len())
            .sum::<usize>()
    );

    // drplan: plan, then the timed apply, then the failback.
    let mut applies = Vec::new();
    let mut switches = Vec::new();
    for _ in 0..ITERATIONS {
        let failover = bench.drplan_failover(None);
        applies.push(failover.wall);
        switches.push(failover.switch);
    }
    let drplan_calls = bench
        .drplan_failover(Some(&proxy))
        .calls
        .expect("counted calls");

    // The script, generated from the last failover plan.
    let plan: Value = serde_json::from_str(
        &std::fs::read_to_string(bench.dir.join("plan.json")).expect("the plan"),
    )
    .expect("the plan is JSON");
    let upserts = bench.upserts(&plan);
    let script = bench.dir.join("failover.sh");
    std::fs::write(&script, script_text(&zone_id, &upserts)).expect("the script is written");
    let mut scripts = Vec::new();
    for _ in 0..ITERATIONS {
        scripts.push(bench.time_script(&script, &moto.endpoint));
        seeder.move_records(&zone_id, &bench.env.records, HOME);
    }
    let script_calls = {
        let before = proxy.requests().len();
        bench.time_script(&script, &proxy.endpoint);
        seeder.move_records(&zone_id, &bench.env.records, HOME);
        count(&proxy.requests()[before..])
    };

    // Where the script's time goes.
    let startups: Vec<Duration> = (0..ITERATIONS)
        .map(|_| time(&mut bench.aws(&["--version"], &moto.endpoint)))
        .collect();
    let one_by_one: Vec<Duration> = (0..ITERATIONS)
        .map(|_| {
            let took = sdk_one_by_one(&moto.endpoint, &zone_id, &upserts);
            seeder.move_records(&zone_id, &bench.env.records, HOME);
            took
        })
        .collect();

    let (apply, switch, script) = (median(applies), median(switches), median(scripts));
    let (startup, one_by_one) = (median(startups), median(one_by_one));
    let whole = secs(script) / secs(apply);
    let dns = secs(script) / secs(switch);
    println!("{:<58} {:>10}", "", "median");
    row(
        "drplan apply (whole failover, 52 steps, one process)",
        apply,
    );
    row("script: one aws CLI call per record set", script);
    row("drplan switch steps alone (run report)", switch);
    row("aws --version (the CLI's start-up)", startup);
    row(
        &format!(
            "{} UPSERTs one by one through the SDK, one process",
            upserts.len()
        ),
        one_by_one,
    );
    println!();
    println!(
        "whole process: script / drplan = {whole:.1}x   goal >= {GOAL_RATIO}x: {}",
        verdict(whole >= GOAL_RATIO)
    );
    println!(
        "DNS only:      script / drplan switch = {dns:.1}x   goal >= {GOAL_RATIO}x: {}",
        verdict(dns >= GOAL_RATIO)
    );
    println!(
        "batching alone: {} UPSERTs one by one (SDK) / drplan switch = {:.1}x",
        upserts.len(),
        secs(one_by_one) / secs(switch)
    );
    println!(
        "script minus {} CLI start-ups: {:.0} ms",
        upserts.len(),
        (secs(script) - secs(startup) * upserts.len() as f64) * 1000.0
    );
    println!("\nAPI calls (through the counting proxy, one run each):");
    println!("  drplan apply: {}", calls_text(&drplan_calls));
    println!("  script:       {}", calls_text(&script_calls));
}

/// One timed failover by drplan.
struct Failover {
    wall: Duration,
    /// The switch steps' own duration (one batch).
    switch: Duration,
    /// The requests of the apply by operation, when counted.
    calls: Option<BTreeMap<String, usize>>,
}

/// The workspace and environment drplan runs in.
struct Bench<'a> {
    dir: PathBuf,
    moto: &'a MotoServer,
    loopback: &'a Loopback,
    env: drplan::model::Environment,
}

impl<'a> Bench<'a> {
    fn new(dir: &Path, moto: &'a MotoServer, loopback: &'a Loopback) -> Self {
        let text = fixture::reference_text(&loopback.url);
        std::fs::write(dir.join("production.toml"), &text).expect("the environment is written");
        fixture::install_standins(dir);
        Self {
            dir: dir.to_path_buf(),
            moto,
            loopback,
            env: fixture::environment(&text),
        }
    }

    /// A command with moto's credentials and `endpoint`, nothing of the host's AWS setup.
    fn command(&self, program: &Path, args: &[&str], endpoint: &str) -> Command {
        let mut command = Command::new(program);
        fixture::child_env(
            &mut command,
            self.moto.aws_env(),
            endpoint,
            &self.loopback.url,
            &self.dir,
        );
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    }

    fn drplan(&self, args: &[&str], endpoint: &str) -> Command {
        self.command(Path::new(env!("CARGO_BIN_EXE_drplan")), args, endpoint)
    }

    fn aws(&self, args: &[&str], endpoint: &str) -> Command {
        self.command(&measure::aws_cli(), args, endpoint)
    }

    /// Plans the failover, applies it (timed) and fails back. Returns the apply's wall
    /// time, the duration of its switch steps from the run report, and the requests
    /// the apply alone sent through `proxy`, when the run goes through it.
    fn drplan_failover(&self, proxy: Option<&CountingProxy>) -> Failover {
        let endpoint = proxy.map_or(self.moto.endpoint.as_str(), |p| p.endpoint.as_str());
        let plan = [
            "plan",
            "production.toml",
            "--scenario",
            SCENARIO,
            "--out",
            "plan.json",
        ];
        time(&mut self.drplan(&plan, endpoint));
        let runs = self.dir.join(".drplan/runs");
        let before = measure::reports(&runs);
        let sent_before = proxy.map_or(0, |p| p.requests().len());
        let wall = time(&mut self.drplan(&["apply", "plan.json"], endpoint));
        let calls = proxy.map(|p| count(&p.requests()[sent_before..]));
        let switch = measure::longest_step(&measure::new_report(&runs, &before), "switch");
        let failback = ["apply", "production.toml", "--failback", "--auto-approve"];
        time(&mut self.drplan(&failback, endpoint));
        Failover {
            wall,
            switch,
            calls,
        }
    }

    /// The weighted record sets the plan's switch steps set (their change's `after`),
    /// as `aws` CLI JSON.
    fn upserts(&self, plan: &Value) -> Vec<Value> {
        let steps = plan["plan"]["steps"].as_array().expect("steps");
        steps
            .iter()
            .filter(|step| step["action"]["kind"] == "switch")
            .flat_map(|step| {
                let key = step["action"]["record"].as_str().expect("a record");
                let record = self.env.record(key).expect("a declared record");
                let sets = step["change"]["after"].as_array().expect("after");
                sets.iter().map(move |set| {
                    let weight = u8::try_from(set["weight"].as_u64().expect("a weight"))
                        .expect("a weight of at most 255");
                    fixture::record_set(
                        record,
                        set["region"].as_str().expect("a region"),
                        set["value"].as_str().expect("a value"),
                        weight,
                    )
                })
            })
            .collect()
    }

    fn time_script(&self, script: &Path, endpoint: &str) -> Duration {
        time(&mut self.command(Path::new("sh"), &[&script.display().to_string()], endpoint))
    }
}

/// The seed runbook's way: one CLI call per record set, in sequence.
fn script_text(zone_id: &str, upserts: &[Value]) -> String {
    let aws = measure::aws_cli().display().to_string();
    let mut text = String::from(
        "#!/bin/sh\n# Generated by benches/route53.rs from the plan's switch steps: one\n# change-resource-record-sets per weighted record set, as the seed runbook does.\nset -e\n",
    );
    for set in upserts {
        let batch = json!({ "Changes": [{ "Action": "UPSERT", "ResourceRecordSet": set }] });
        let _ = writeln!(
            text,
            "{aws} route53 change-resource-record-sets --hosted-zone-id {zone_id} --change-batch '{batch}' > /dev/null"
        );
    }
    text
}

/// The script's UPSERTs sent one by one from one process through the SDK: the cost of
/// one call per record set without the CLI's start-up.
fn sdk_one_by_one(endpoint: &str, zone_id: &str, upserts: &[Value]) -> Duration {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(HOME))
            .endpoint_url(endpoint)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "testing", "testing", None, None, "bench",
                    ),
                ),
            )
            .build();
        let client = aws_sdk_route53::Client::new(&sdk);
        let sets: Vec<ResourceRecordSet> = upserts.iter().map(sdk_set).collect();
        let started = Instant::now();
        for set in sets {
            let change = Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(set)
                .build()
                .expect("a change");
            let batch = ChangeBatch::builder()
                .changes(change)
                .build()
                .expect("a batch");
            client
                .change_resource_record_sets()
                .hosted_zone_id(zone_id)
                .change_batch(batch)
                .send()
                .await
                .expect("the UPSERT is accepted");
        }
        started.elapsed()
    })
}

/// A record set of `aws` CLI JSON as an SDK value.
fn sdk_set(set: &Value) -> ResourceRecordSet {
    use aws_sdk_route53::types::{AliasTarget, ResourceRecord, RrType};
    let builder = ResourceRecordSet::builder()
        .name(set["Name"].as_str().expect("Name"))
        .r#type(RrType::from(set["Type"].as_str().expect("Type")))
        .set_identifier(set["SetIdentifier"].as_str().expect("SetIdentifier"))
        .weight(set["Weight"].as_i64().expect("Weight"));
    let builder = match set.get("AliasTarget") {
        Some(alias) => builder.alias_target(
            AliasTarget::builder()
                .hosted_zone_id(alias["HostedZoneId"].as_str().expect("HostedZoneId"))
                .dns_name(alias["DNSName"].as_str().expect("DNSName"))
                .evaluate_target_health(alias["EvaluateTargetHealth"].as_bool().unwrap_or(false))
                .build()
                .expect("an alias target"),
        ),
        None => builder
            .ttl(set["TTL"].as_i64().expect("TTL"))
            .resource_records(
                ResourceRecord::builder()
                    .value(set["ResourceRecords"][0]["Value"].as_str().expect("Value"))
                    .build()
                    .expect("a record"),
            ),
    };
    builder.build().expect("a record set")
}

/// Requests by AWS operation.
fn count(requests: &[String]) -> BTreeMap<String, usize> {
    measure::count(requests, fixture::operation)
}
