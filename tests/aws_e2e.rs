//! `environments/production.toml` — `providers.dns = "route53"`, `storage = "s3"` — run
//! through the real binary against moto, the way an operator runs it: plan, apply,
//! failback; the RPO gate; a record moved by hand after `plan`; two operators racing
//! for the S3 state lock; the provider diagnostics; how many Route53 change calls one
//! apply makes.
//!
//! Every test has its own moto server (the reference's zone and buckets have fixed
//! names), its own temporary directory (`state = "local"` keeps `.drplan/` there), and
//! a copy of the reference in which only the health and check URLs point at a
//! loopback server (see [`fixture::reference_text`]). The reference's commands are
//! stand-ins on PATH that log their arguments. What apply did is checked with the `aws`
//! CLI, an independent client.

pub mod fixture;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use drplan::graph::StepGraph;
use drplan::graph::step::Action;
use drplan::plan::file::PlanFile;
use serde_json::Value;
use tempfile::TempDir;

use crate::support::moto::MotoServer;
use crate::support::runner::{self, PROCESS_TIMEOUT, Run, Spawned};
use crate::support::snapshot;
use fixture::{HOME, Listed, Loopback, Seeder, ZONE};

const SCENARIO: &str = "regional-failure";
/// Where the scenario fails over to.
const TO: &str = "us-west-2";
/// The bucket of the reference's backups (`s3://omniops-backups/database/`).
const BACKUPS: &str = "omniops-backups";
/// The bucket of the maintenance page.
const STATIC: &str = "omniops-static";

/// What is in moto when a test starts.
struct Seed {
    /// The hosted zone and the reference's record sets, active at home.
    dns: bool,
    /// The buckets, and whether `database/` holds a backup made just now.
    storage: Option<Backups>,
}

#[derive(Clone, Copy, PartialEq)]
enum Backups {
    Fresh,
    /// The bucket exists; nothing is under `database/`.
    Missing,
}

impl Seed {
    const REFERENCE: Seed = Seed {
        dns: true,
        storage: Some(Backups::Fresh),
    };
}

/// A moto server seeded for one test, and a directory to run drplan in.
struct World {
    moto: MotoServer,
    /// The hosted zone, when seeded.
    zone_id: Option<String>,
    loopback: Loopback,
    dir: TempDir,
    /// `AWS_ENDPOINT_URL` for drplan: moto, or a proxy in front of it.
    endpoint: String,
}

impl World {
    fn new(seed: &Seed) -> Self {
        Self::with_environment(seed, |text| text)
    }

    /// A world whose environment file is the reference copy changed by `edit`.
    fn with_environment(seed: &Seed, edit: impl FnOnce(String) -> String) -> Self {
        let moto = MotoServer::start();
        let loopback = Loopback::start();
        let dir = TempDir::new().expect("a temporary directory");
        let text = edit(fixture::reference_text(&loopback.url));
        fs::write(dir.path().join("production.toml"), &text).expect("the environment is written");
        fixture::install_standins(dir.path());
        let endpoint = moto.endpoint.clone();
        let mut world = Self {
            moto,
            zone_id: None,
            loopback,
            dir,
            endpoint,
        };
        world.seed(seed, &text);
        world
    }

    /// The reference world with its state in `s3://drplan-state/production.json` (the
    /// bucket created) instead of local.
    fn with_s3_state() -> Self {
        let state_line = "state = \"local\"";
        let world = Self::with_environment(&Seed::REFERENCE, |text| {
            assert!(text.contains(state_line), "the reference keeps local state");
            text.replacen(
                state_line,
                "state = \"s3://drplan-state/production.json\"",
                1,
            )
        });
        world.seeder().create_bucket("drplan-state");
        world
    }

    /// `drplan plan production.toml --scenario SCENARIO --out plan.json`.
    fn plan_to_file(&self) {
        self.drplan(&[
            "plan",
            "production.toml",
            "--scenario",
            SCENARIO,
            "--out",
            "plan.json",
        ])
        .expect(0);
    }

    fn seed(&mut self, seed: &Seed, text: &str) {
        let seeder = self.seeder();
        if seed.dns {
            let zone_id = seeder.create_zone();
            seeder.seed_records(&zone_id, &fixture::environment(text), HOME);
            self.zone_id = Some(zone_id);
        }
        if let Some(backups) = seed.storage {
            seeder.create_bucket(BACKUPS);
            seeder.create_bucket(STATIC);
            // Only objects under the data sets' prefix count as their backups.
            seeder.put_object(BACKUPS, "logs/app.log");
            if backups == Backups::Fresh {
                seeder.put_object(BACKUPS, "database/nightly.dump");
            }
        }
    }

    fn seeder(&self) -> Seeder {
        Seeder::new(&self.moto.endpoint)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn aws(&self, args: &[&str]) -> String {
        self.moto.aws_cli(args)
    }

    /// The weighted record sets of the zone, per the `aws` CLI.
    fn records(&self) -> Vec<Listed> {
        let zone_id = self.zone_id.as_deref().expect("a seeded zone");
        fixture::list_weighted(&|args: &[&str]| self.aws(args), zone_id)
    }

    /// `drplan ARGS…` in the world's directory: moto's endpoint and fake credentials,
    /// the stand-ins first on PATH, the webhooks on the loopback server, and nothing
    /// of the host's AWS or drplan configuration.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = runner::command(self.path(), args);
        fixture::child_env(
            &mut command,
            self.moto.aws_env(),
            &self.endpoint,
            &self.loopback.url,
            self.path(),
        );
        command.env("HOME", self.path());
        command
    }

    /// Runs drplan to the end.
    fn drplan(&self, args: &[&str]) -> Run {
        runner::run(&mut self.command(args))
    }

    fn standin_log_path(&self) -> PathBuf {
        fixture::standin_log(self.path())
    }

    /// The stand-in commands run so far that act, one line each: `supabase db promote
    /// …` (the replication-lag reads of observing, `redis-cli … info replication`,
    /// change nothing and are left out).
    fn commands(&self) -> Vec<String> {
        fs::read_to_string(self.standin_log_path())
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.ends_with("info replication"))
            .map(str::to_string)
            .collect()
    }

    /// The JSON run report of the only run so far.
    fn run_report(&self) -> Value {
        let runs = self.path().join(".drplan/runs");
        let mut reports: Vec<PathBuf> = fs::read_dir(&runs)
            .expect(".drplan/runs exists")
            .filter_map(|entry| Some(entry.ok()?.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        assert_eq!(reports.len(), 1, "{reports:?}");
        let text = fs::read_to_string(reports.remove(0)).expect("the report is readable");
        serde_json::from_str(&text).expect("the report is JSON")
    }
}

/// The reference's six weighted record sets with `active` at weight 100.
fn reference_records(active: &str) -> Vec<Listed> {
    let sets = [
        (
            "api.omniops.co.uk",
            "us-east-1",
            "api.us-east-1.omniops.co.uk",
        ),
        (
            "api.omniops.co.uk",
            "us-west-2",
            "api.us-west-2.omniops.co.uk",
        ),
        ("omniops.co.uk", "us-east-1", "primary.omniops.co.uk"),
        ("omniops.co.uk", "us-west-2", "backup.omniops.co.uk"),
        ("www.omniops.co.uk", "us-east-1", "primary.omniops.co.uk"),
        ("www.omniops.co.uk", "us-west-2", "secondary.omniops.co.uk"),
    ];
    let mut listed: Vec<Listed> = sets
        .into_iter()
        .map(|(name, region, value)| Listed {
            name: name.to_string(),
            set_identifier: region.to_string(),
            weight: if region == active { 100 } else { 0 },
            value: value.to_string(),
        })
        .collect();
    listed.sort();
    listed
}

#[test]
fn failover_and_failback_move_the_reference_records_in_route53() {
    let world = World::new(&Seed::REFERENCE);
    assert_eq!(world.records(), reference_records(HOME));

    world.plan_to_file();
    let applied = world.drplan(&["apply", "plan.json"]).expect(0);
    assert!(
        applied.stdout.contains("apply complete"),
        "{}",
        applied.stdout
    );

    assert_eq!(world.records(), reference_records(TO));
    let commands = world.commands();
    for expected in [
        "supabase db promote --project omniops-us-west-2",
        "vercel deploy --prod --regions us-west-2",
        "redis-cli -h redis.us-west-2.omniops.co.uk ping",
    ] {
        assert!(
            commands.iter().any(|c| c == expected),
            "{expected} not run: {commands:?}"
        );
    }
    let probes = world.loopback.requests();
    for probe in [
        "GET /db.us-west-2.omniops.co.uk/health HTTP/1.1",
        "GET /api.us-west-2.omniops.co.uk/api/health HTTP/1.1",
        "GET /omniops.co.uk/api/health HTTP/1.1",
    ] {
        assert!(
            probes.iter().any(|p| p == probe),
            "{probe} not probed: {probes:?}"
        );
    }

    let failback = world
        .drplan(&["apply", "production.toml", "--failback", "--auto-approve"])
        .expect(0);
    assert!(
        failback.stdout.contains("apply complete"),
        "{}",
        failback.stdout
    );
    assert_eq!(world.records(), reference_records(HOME));
    let commands = world.commands();
    for expected in [
        "supabase db promote --project omniops-us-east-1",
        "vercel deploy --prod --regions us-east-1",
    ] {
        assert!(
            commands.iter().any(|c| c == expected),
            "{expected} not run: {commands:?}"
        );
    }
}

#[test]
fn a_missing_backup_is_refused_without_accept_data_loss() {
    let world = World::new(&Seed {
        dns: true,
        storage: Some(Backups::Missing),
    });

    let planned = world
        .drplan(&["plan", "production.toml", "--scenario", SCENARIO])
        .expect(0);
    for data in ["customer-configs", "conversations"] {
        let line = format!(
            "{data} (database, P0): restore, RPO 1h; MISSING: no backup found (RPO violated)"
        );
        assert!(planned.stdout.contains(&line), "{}", planned.stdout);
    }
    world.plan_to_file();

    let refused = world.drplan(&["apply", "plan.json"]).expect(1);
    let message = refused.message();
    assert!(
        message
            .contains("recovering now loses data beyond its RPO: customer-configs, conversations")
            && message.contains("--accept-data-loss"),
        "{message}"
    );
    assert_eq!(world.records(), reference_records(HOME), "nothing moved");
    assert_eq!(world.commands(), Vec::<String>::new(), "nothing ran");

    world
        .drplan(&["apply", "plan.json", "--accept-data-loss"])
        .expect(0);
    assert_eq!(world.records(), reference_records(TO));
    let report = world.run_report();
    let check = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["id"] == "check:customer-configs")
        .expect("the RPO check ran");
    assert_eq!(
        check["detail"],
        "no backup under s3://omniops-backups/database/; RPO 1h (accepted with --accept-data-loss)"
    );
}

#[test]
fn a_record_moved_by_hand_after_plan_makes_the_plan_stale() {
    let world = World::new(&Seed::REFERENCE);
    world.plan_to_file();

    // Someone moves www to us-west-2 by hand.
    let env =
        fixture::environment(&fs::read_to_string(world.path().join("production.toml")).unwrap());
    let www = env.record("www").expect("the www record");
    let changes: Vec<Value> = www
        .targets
        .iter()
        .map(|(region, value)| {
            let weight = if region.value == TO { 100 } else { 0 };
            serde_json::json!({ "Action": "UPSERT", "ResourceRecordSet": fixture::record_set(www, &region.value, value, weight) })
        })
        .collect();
    world.aws(&[
        "route53",
        "change-resource-record-sets",
        "--hosted-zone-id",
        world.zone_id.as_deref().unwrap(),
        "--change-batch",
        &serde_json::json!({ "Changes": changes }).to_string(),
    ]);

    let refused = world.drplan(&["apply", "plan.json"]).expect(1);
    let message = refused.message();
    assert!(
        message.contains("drplan::apply::stale_plan")
            && message.contains(
                "the plan is stale: DNS record `www` changed since the plan was made (moved by hand?)"
            ),
        "{message}"
    );
    assert_eq!(world.commands(), Vec::<String>::new(), "nothing ran");
    let api: Vec<Listed> = world
        .records()
        .into_iter()
        .filter(|set| set.name == "api.omniops.co.uk")
        .collect();
    assert_eq!(api, reference_records(HOME)[..2], "api was not moved");
}

#[test]
fn two_applies_racing_for_the_s3_state_lock_one_applies() {
    let world = World::with_s3_state();
    let seeder = world.seeder();
    world.plan_to_file();

    // Whichever takes the lock stops inside it (the supabase stand-in waits for
    // `release`), so the other always meets the lock.
    let release = world.path().join("release");
    let racer = || {
        let mut command = world.command(&["apply", "plan.json"]);
        runner::spawn(command.env("DRPLAN_STANDIN_HOLD", &release))
    };
    let mut racers = [racer(), racer()];
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    while !racers.iter_mut().any(Spawned::has_exited) {
        assert!(Instant::now() < deadline, "neither apply stopped");
        thread::sleep(Duration::from_millis(20));
    }
    let [mut first, second] = racers;
    let (loser, winner) = if first.has_exited() {
        (first, second)
    } else {
        (second, first)
    };
    let lost = loser.wait().expect(1);
    // The lock object names its holder.
    let lock = seeder
        .get_object("drplan-state", "production.json.lock")
        .expect("the winner holds the lock");
    let lock: Value = serde_json::from_slice(&lock).expect("the lock is JSON");
    let holder = lock["id"].as_str().expect("a lock id").to_string();
    assert_eq!(lock["operation"], "apply");
    let message = lost.message();
    assert!(
        message.contains("the state of `production` is locked by")
            && message.contains(&format!("(operation: apply, lock id {holder})")),
        "{message}"
    );

    // While the winner holds the lock, a wrong id does not remove it.
    let mismatch = world
        .drplan(&["force-unlock", "production.toml", "not-the-lock-id"])
        .expect(1);
    let message = mismatch.message();
    assert!(
        message.contains("drplan::state::lock_mismatch")
            && message.contains(&format!(
                "lock id `not-the-lock-id` does not match the current lock (held with id {holder})"
            )),
        "{message}"
    );

    fs::write(&release, "").expect("the hold is released");
    winner.wait().expect(0);
    assert_eq!(world.records(), reference_records(TO));
    let promotions = world
        .commands()
        .iter()
        .filter(|c| c.starts_with("supabase db promote"))
        .count();
    assert_eq!(
        promotions,
        1,
        "exactly one apply ran: {:?}",
        world.commands()
    );

    // The state is in the bucket, and the lock is gone.
    assert_eq!(seeder.keys("drplan-state"), ["production.json"]);
    let state = seeder
        .get_object("drplan-state", "production.json")
        .expect("the state is stored");
    let state: Value = serde_json::from_slice(&state).expect("the state is JSON");
    assert_eq!(state["placement"]["api"], TO);
    assert_eq!(state["run"]["status"], "finished");
}

#[test]
fn the_s3_endpoint_dying_mid_apply_keeps_the_journal_in_the_spool_and_resume_pushes_it() {
    let mut world = World::with_s3_state();
    let proxy = fixture::CountingProxy::start(world.moto.port);
    world.endpoint = proxy.endpoint.clone();
    world.plan_to_file();

    // The apply holds inside its first supabase command; the endpoint dies meanwhile.
    let release = world.path().join("release");
    let mut command = world.command(&["apply", "plan.json"]);
    let apply = runner::spawn(command.env("DRPLAN_STANDIN_HOLD", &release));
    let waiting = world.path().join("release.waiting");
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    while !waiting.exists() {
        assert!(
            Instant::now() < deadline,
            "the apply never reached supabase"
        );
        thread::sleep(Duration::from_millis(20));
    }
    proxy.set_open(false);
    fs::write(&release, "").expect("the hold is released");
    let stopped = apply.wait().expect(1);
    let message = stopped.message();
    assert!(
        message.contains("drplan::apply::journal_failed")
            && message.contains("what ran since is kept in .drplan/spool/")
            && message.contains("drplan::provider::unreachable")
            && !message.contains("someone else"),
        "{stopped}"
    );
    let spooled = fs::read_to_string(world.path().join(".drplan/spool/production.journal"))
        .expect("the spool holds what the state did not take");
    let held = world
        .commands()
        .into_iter()
        .find(|c| c.starts_with("supabase"))
        .expect("a supabase command ran");
    assert!(spooled.contains("\"finished\""), "{spooled}");
    assert!(
        fs::read_dir(world.path().join(".drplan/runs")).is_ok_and(|mut runs| runs.next().is_some()),
        "a local run report is written"
    );

    proxy.set_open(true);
    world
        .drplan(&["apply", "--resume", "production.toml"])
        .expect(0);
    assert!(
        !world
            .path()
            .join(".drplan/spool/production.journal")
            .exists()
    );
    let state = world
        .seeder()
        .get_object("drplan-state", "production.json")
        .expect("the state is stored");
    let state: Value = serde_json::from_slice(&state).expect("the state is JSON");
    assert_eq!(state["run"]["status"], "finished");
    let journal = state["run"]["journal"].as_array().expect("a journal");
    for step in state["run"]["plan"]["plan"]["steps"]
        .as_array()
        .expect("steps")
    {
        let finished = journal
            .iter()
            .filter(|e| e["step"] == step["id"] && e["event"] == "finished")
            .count();
        assert_eq!(finished, 1, "{} finished {finished} times", step["id"]);
    }
    let ran = world.commands().iter().filter(|c| **c == held).count();
    assert_eq!(ran, 1, "`{held}` ran again after its end was spooled");
}

/// Takes a snapshot of a failed drplan's stderr under `snapshots/aws/`.
fn snapshot_stderr(name: &str, failed: &Run) {
    assert!(
        failed.stderr.contains("drplan::provider::") && failed.stderr.contains("help:"),
        "{failed}"
    );
    snapshot::assert_live("aws", name, &failed.stderr);
}

#[test]
fn provider_failures_are_diagnostics_with_help() {
    let mut world = World::new(&Seed {
        dns: false,
        storage: None,
    });
    let plan = ["plan", "production.toml", "--scenario", SCENARIO];

    // No credentials anywhere: no variables, empty config and credentials files, no IMDS.
    let mut without_credentials = world.command(&plan);
    without_credentials
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let failed = runner::run(&mut without_credentials).expect(1);
    snapshot_stderr("missing_credentials", &failed);

    let failed = world.drplan(&plan).expect(1);
    snapshot_stderr("unknown_hosted_zone", &failed);

    let text = fs::read_to_string(world.path().join("production.toml")).unwrap();
    world.seed(
        &Seed {
            dns: true,
            storage: None,
        },
        &text,
    );
    let failed = world.drplan(&plan).expect(1);
    snapshot_stderr("missing_bucket", &failed);
}

#[test]
fn one_apply_sends_one_route53_change_per_zone_and_level() {
    let mut world = World::new(&Seed::REFERENCE);
    let proxy = fixture::CountingProxy::start(world.moto.port);
    world.endpoint = proxy.endpoint.clone();
    world.plan_to_file();

    // The Route53 change calls the plan needs: one per hosted zone per graph level
    // that holds switch steps.
    let file = PlanFile::read(&world.path().join("plan.json")).expect("the saved plan");
    let env =
        fixture::environment(&fs::read_to_string(world.path().join("production.toml")).unwrap());
    let levels = StepGraph::new(&file.plan.steps).levels();
    let batches: BTreeSet<(String, usize)> = file
        .plan
        .steps
        .iter()
        .zip(&levels)
        .filter_map(|(step, level)| match &step.action {
            Action::Switch { record, .. } => Some((
                env.record(record).expect("a declared record").zone.clone(),
                *level,
            )),
            _ => None,
        })
        .collect();
    // The reference: three records in one zone, all following `api`: one level.
    assert_eq!(batches.len(), 1, "{batches:?}");
    assert!(batches.iter().all(|(zone, _)| zone == ZONE));

    let before = proxy.requests().len();
    world.drplan(&["apply", "plan.json"]).expect(0);
    let requests: Vec<String> = proxy.requests().split_off(before);
    let count = |operation: &str| {
        requests
            .iter()
            .filter(|line| fixture::operation(line) == operation)
            .count()
    };
    assert_eq!(
        count("route53:ChangeResourceRecordSets"),
        batches.len(),
        "{requests:#?}"
    );
    // Each change is polled until INSYNC (moto answers INSYNC at once).
    assert_eq!(count("route53:GetChange"), batches.len(), "{requests:#?}");
    // The zone id is looked up once per process.
    assert_eq!(count("route53:ListHostedZonesByName"), 1, "{requests:#?}");
    assert_eq!(world.records(), reference_records(TO));

    // Every call of the run, as BENCHMARKS.md's table of API calls gives them: a
    // change that alters them fails here until the table is measured again.
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for line in &requests {
        *tally.entry(fixture::operation(line)).or_default() += 1;
    }
    let expected = [
        ("route53:ChangeResourceRecordSets", 1),
        ("route53:GetChange", 1),
        ("route53:ListHostedZonesByName", 1),
        ("route53:ListResourceRecordSets", 4),
        ("s3:ListObjectsV2", 3),
    ];
    assert_eq!(
        tally,
        expected
            .iter()
            .map(|(operation, calls)| ((*operation).to_string(), *calls))
            .collect::<BTreeMap<_, _>>()
    );
}

#[test]
fn the_counting_proxy_finds_every_request_past_the_bodies() {
    let stream =
        b"POST /2013-04-01/hostedzone/Z1/rrset HTTP/1.1\r\nContent-Length: 5\r\n\r\n<a/>\n\
GET /b?list-type=2&prefix=x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
GET /2013-04-01/change/C1 HTTP/1.1\r\nHost: x\r\n\r\n";
    let operations: Vec<String> = fixture::request_lines(stream)
        .iter()
        .map(|line| fixture::operation(line))
        .collect();
    assert_eq!(
        operations,
        [
            "route53:ChangeResourceRecordSets",
            "s3:ListObjectsV2",
            "route53:GetChange"
        ]
    );
    // The Query and JSON protocols name the operation in the body or a header; the
    // service is the signature's.
    let query = b"POST / HTTP/1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20261202/us-east-1/rds/aws4_request, SignedHeaders=host\r\nContent-Length: 50\r\n\r\nAction=RemoveFromGlobalCluster&Version=2014-10-31\n\
POST / HTTP/1.1\r\nauthorization: AWS4-HMAC-SHA256 Credential=testing/20261202/us-west-2/monitoring/aws4_request\r\nX-Amz-Target: GraniteServiceVersion20100801.GetMetricStatistics\r\ncontent-length: 2\r\n\r\n{}";
    let operations: Vec<String> = fixture::request_lines(query)
        .iter()
        .map(|line| fixture::operation(line))
        .collect();
    assert_eq!(
        operations,
        [
            "rds:RemoveFromGlobalCluster",
            "monitoring:GetMetricStatistics"
        ]
    );
    // The aws CLI ends the path with a slash.
    assert_eq!(
        fixture::operation("POST /2013-04-01/hostedzone/Z1/rrset/ HTTP/1.1"),
        "route53:ChangeResourceRecordSets"
    );
}
