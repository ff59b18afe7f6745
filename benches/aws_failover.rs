//! The failover of `environments/aws.toml` (Aurora global database + ARC routing
//! controls) on moto: drplan against a sequential `aws` CLI script making the same
//! AWS changes (issue 13).
//!
//! The world is the one `tests/aws_native_e2e.rs` runs in (shared through `#[path]`):
//! moto, the ARC stand-in for the cluster's data plane, aws.toml with only its URLs
//! and ARC endpoints on loopback and its commands as stand-ins. As there, us-east-1 and
//! us-west-2 are swapped (home us-west-2, failing over to us-east-1), because moto
//! detaches a cluster from a global database only in us-east-1
//! (`fixture::home_and_target_swapped` says why).
//!
//! - **drplan**: `drplan apply plan.json` of the `regional-failure` plan, timed as a
//!   whole process (the plan is made, untimed, just before). Its run report gives the
//!   database step (`RemoveFromGlobalCluster`, then waiting for `available`) and the
//!   switch steps (one `UpdateRoutingControlStates`). The ARC endpoints all answer,
//!   the target's first; one more row has the failed region's endpoint first and down,
//!   as in the test, to show what the fall-through costs.
//! - **script**: the same changes by hand, in sequence, `set -e`: `aws rds
//!   remove-from-global-cluster`, `describe-db-clusters` polled until `available`, `aws
//!   route53-recovery-cluster update-routing-control-states` (the new region on, the old
//!   off). The scenario has no maintenance page, so no `s3api put-object`.
//!
//! Before every run moto is reset and seeded again (a detached cluster cannot rejoin),
//! the routing controls set home and drplan's `.drplan/` removed. Timings go straight
//! to moto; one extra run of each goes through a counting proxy (moto's calls) and the
//! stand-in counts its own.
//!
//! Run with `cargo bench --bench aws_failover`.

#[path = "../tests/support/moto.rs"]
#[allow(dead_code)]
mod moto;

#[path = "../tests/aws_e2e/fixture.rs"]
#[allow(dead_code)]
mod fixture;

#[path = "../tests/support/webhook.rs"]
#[allow(dead_code)]
mod webhook;

#[path = "../tests/support/arc_stand_in.rs"]
#[allow(dead_code)]
mod arc_stand_in;

#[path = "support/measure.rs"]
#[allow(dead_code)]
mod measure;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use arc_stand_in::ArcStandIn;
use fixture::{CountingProxy, Loopback, Seeder};
use measure::{calls_text, median, row, secs, time};
use moto::MotoServer;

const SCENARIO: &str = "regional-failure";
const ITERATIONS: usize = 5;
/// The swapped copy's home and failover target.
const HOME: &str = "us-west-2";
const TO: &str = "us-east-1";
const GLOBAL: &str = "omniops";
/// The member clusters, the writer first.
const MEMBERS: [(&str, &str); 3] = [
    ("us-west-2", "omniops-usw2"),
    ("us-east-1", "omniops-use1"),
    ("eu-west-1", "omniops-euw1"),
];
/// The target's cluster.
const TARGET: &str = "omniops-use1";
/// Every endpoint answers (the target's first), or the failed region's is down and first.
const LIVE: &str = "aws.toml";
const DOWN_FIRST: &str = "aws-down-first.toml";

fn main() {
    let moto = MotoServer::start();
    let proxy = CountingProxy::start(moto.port);
    let loopback = Loopback::start();
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let bench = Bench::new(dir.path(), &moto, &loopback);

    println!(
        "aws.toml failover ({SCENARIO}, {HOME} -> {TO}) on moto; medians of {ITERATIONS} runs\n"
    );

    let mut applies = Vec::new();
    let mut databases = Vec::new();
    let mut switches = Vec::new();
    for _ in 0..ITERATIONS {
        let failover = bench.drplan_failover(LIVE, &moto.endpoint);
        applies.push(failover.wall);
        databases.push(failover.database);
        switches.push(failover.switch);
    }
    let down_first: Vec<Duration> = (0..ITERATIONS)
        .map(|_| bench.drplan_failover(DOWN_FIRST, &moto.endpoint).wall)
        .collect();
    let arc_before = bench.arc.requests().len();
    let sent_before = proxy.requests().len();
    bench.drplan_failover(LIVE, &proxy.endpoint);
    let drplan_calls = bench.calls(&proxy, sent_before, arc_before);

    let script = bench.dir.join("failover.sh");
    std::fs::write(&script, bench.script_text()).expect("the script is written");
    let scripts: Vec<Duration> = (0..ITERATIONS)
        .map(|_| bench.time_script(&script, &moto.endpoint))
        .collect();
    let arc_before = bench.arc.requests().len();
    let sent_before = proxy.requests().len();
    bench.time_script(&script, &proxy.endpoint);
    let script_calls = bench.calls(&proxy, sent_before, arc_before);

    let startups: Vec<Duration> = (0..ITERATIONS)
        .map(|_| time(&mut bench.command(&measure::aws_cli(), &["--version"], &moto.endpoint)))
        .collect();

    let (apply, database, switch) = (median(applies), median(databases), median(switches));
    let (script, startup, down_first) = (median(scripts), median(startups), median(down_first));
    println!("{:<58} {:>10}", "", "median");
    row("drplan apply (whole failover, one process)", apply);
    row("  its database step (detach, wait for available)", database);
    row("  its switch steps (one ARC call)", switch);
    row(
        "drplan apply, failed region's ARC endpoint down first",
        down_first,
    );
    row("script: aws CLI calls in sequence", script);
    row("aws --version (the CLI's start-up)", startup);
    println!();
    println!(
        "whole process: script / drplan = {:.1}x",
        secs(script) / secs(apply)
    );
    println!(
        "AWS changes only: script / (drplan database + switch steps) = {:.1}x",
        secs(script) / secs(database + switch)
    );
    println!("\nAPI calls (through the counting proxy and the ARC stand-in, one run each):");
    println!("  drplan apply: {}", calls_text(&drplan_calls));
    println!("  script:       {}", calls_text(&script_calls));
}

/// One timed failover by drplan.
struct Failover {
    wall: Duration,
    /// The `activate:database` step's own duration.
    database: Duration,
    /// The switch steps' own duration (one call).
    switch: Duration,
}

/// The workspace drplan and the script run in, and the servers they reach.
struct Bench<'a> {
    dir: PathBuf,
    moto: &'a MotoServer,
    loopback: &'a Loopback,
    arc: ArcStandIn,
    /// Region → routing control ARN, as the copy declares them.
    controls: Vec<(String, String)>,
}

impl<'a> Bench<'a> {
    /// Writes both copies of aws.toml (live endpoints; the failed region's down and
    /// first) and installs the stand-ins.
    fn new(dir: &Path, moto: &'a MotoServer, loopback: &'a Loopback) -> Self {
        let text = fixture::home_and_target_swapped(&fixture::urls_on_loopback(
            fixture::AWS_NATIVE,
            &loopback.url,
        ));
        let controls: Vec<(String, String)> = fixture::aws_native(&text)
            .providers
            .arc
            .as_ref()
            .expect("aws.toml declares [providers.arc]")
            .routing_controls
            .iter()
            .map(|(region, arn)| (region.value.clone(), arn.clone()))
            .collect();
        let arc = ArcStandIn::start(&[]);
        let (live, closed) = (arc.url.as_str(), fixture::closed_endpoint());
        let copies = [
            (LIVE, [(TO, live), (HOME, live), ("eu-west-1", live)]),
            (
                DOWN_FIRST,
                [(HOME, &closed), (TO, live), ("eu-west-1", live)],
            ),
        ];
        for (file, endpoints) in copies {
            std::fs::write(
                dir.join(file),
                fixture::with_arc_endpoints(&text, &endpoints),
            )
            .expect("the environment is written");
        }
        fixture::install_standins(dir);
        Self {
            dir: dir.to_path_buf(),
            moto,
            loopback,
            arc,
            controls,
        }
    }

    /// moto as at home (the global database, the target's lag within the RPO, the
    /// buckets and a fresh backup), the routing controls home, no drplan state.
    fn reset(&self) {
        self.moto.reset();
        let seeder = Seeder::new(&self.moto.endpoint);
        seeder.create_global_database(HOME, GLOBAL, &MEMBERS);
        seeder.put_aurora_lag(TO, TARGET, 2000.0);
        seeder.create_bucket("omniops-backups");
        seeder.create_bucket("omniops-static");
        seeder.put_object("omniops-backups", "database/nightly.dump");
        for (region, arn) in &self.controls {
            self.arc.set(arn, region == HOME);
        }
        let state = self.dir.join(".drplan");
        if state.exists() {
            std::fs::remove_dir_all(&state).expect(".drplan is removed");
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

    /// Resets, plans the failover of `file`, applies it (timed) through `endpoint`.
    fn drplan_failover(&self, file: &str, endpoint: &str) -> Failover {
        self.reset();
        let plan = ["plan", file, "--scenario", SCENARIO, "--out", "plan.json"];
        time(&mut self.drplan(&plan, endpoint));
        let wall = time(&mut self.drplan(&["apply", "plan.json"], endpoint));
        let report = measure::new_report(&self.dir.join(".drplan/runs"), &[]);
        self.assert_failed_over();
        Failover {
            wall,
            database: measure::step(&report, "activate:database"),
            switch: measure::longest_step(&report, "switch"),
        }
    }

    /// Resets and runs the script (timed) with `endpoint` for moto.
    fn time_script(&self, script: &Path, endpoint: &str) -> Duration {
        self.reset();
        let took =
            time(&mut self.command(Path::new("sh"), &[&script.display().to_string()], endpoint));
        self.assert_failed_over();
        took
    }

    /// Both made the same changes: the target detached, its routing control alone on.
    fn assert_failed_over(&self) {
        let seeder = Seeder::new(&self.moto.endpoint);
        let members = seeder.global_members(TO, GLOBAL);
        assert!(
            !members
                .iter()
                .any(|arn| arn.ends_with(&format!(":{TARGET}"))),
            "{TARGET} is still a member: {members:?}"
        );
        for (region, arn) in &self.controls {
            assert_eq!(
                self.arc.is_on(arn),
                Some(region == TO),
                "{region}'s control"
            );
        }
    }

    /// The requests since `sent_before` (moto, through `proxy`) and `arc_before` (the
    /// stand-in), by operation.
    fn calls(
        &self,
        proxy: &CountingProxy,
        sent_before: usize,
        arc_before: usize,
    ) -> BTreeMap<String, usize> {
        let mut calls = measure::count(&proxy.requests()[sent_before..], fixture::operation);
        for request in &self.arc.requests()[arc_before..] {
            let name = format!("route53-recovery-cluster:{}", request.operation);
            *calls.entry(name).or_default() += 1;
        }
        calls
    }

    /// The failover's AWS changes as a runbook script: one `aws` call after another.
    fn script_text(&self) -> String {
        let aws = measure::aws_cli().display().to_string();
        // moto (or the proxy) given explicitly, as `tests/support/moto.rs` does: this
        // CLI sends RDS calls to AWS's own endpoint despite `AWS_ENDPOINT_URL`.
        let rds = format!("{aws} --endpoint-url \"$AWS_ENDPOINT_URL\" rds");
        let arn = |region: &str| {
            self.controls
                .iter()
                .find(|(r, _)| r == region)
                .map(|(_, arn)| arn.clone())
                .expect("a routing control")
        };
        let entries = json!([
            { "RoutingControlArn": arn(TO), "RoutingControlState": "On" },
            { "RoutingControlArn": arn(HOME), "RoutingControlState": "Off" },
        ]);
        let mut text = String::from(
            "#!/bin/sh\n# Generated by benches/aws_failover.rs: the AWS changes of aws.toml's\n# regional-failure failover, one aws CLI call after another.\nset -e\n",
        );
        let _ = writeln!(
            text,
            "{rds} remove-from-global-cluster --region {TO} --global-cluster-identifier {GLOBAL} --db-cluster-identifier arn:aws:rds:{TO}:123456789012:cluster:{TARGET} > /dev/null"
        );
        let _ = writeln!(
            text,
            "until [ \"$({rds} describe-db-clusters --region {TO} --db-cluster-identifier {TARGET} --query 'DBClusters[0].Status' --output text)\" = available ]; do sleep 5; done"
        );
        let _ = writeln!(
            text,
            "{aws} route53-recovery-cluster update-routing-control-states --region {TO} --endpoint-url {} --update-routing-control-state-entries '{entries}' > /dev/null",
            self.arc.url
        );
        text
    }
}
