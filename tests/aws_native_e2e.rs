//! `environments/aws.toml` — an Aurora global database, ARC routing controls, S3 —
//! run through the real binary against moto the way an operator runs it: plan, apply
//! the `regional-failure` failover, fail back; checked from outside with the `aws` CLI
//! and the requests the ARC cluster received.
//!
//! The world is the one `tests/aws_e2e.rs` runs in ([`fixture`]): only the health and
//! check URLs point at a loopback server, the commands are stand-ins on PATH, and the
//! AWS endpoint is moto. moto has no ARC data plane, so the cluster's endpoints are
//! an [`ArcStandIn`]; the first one written (the failed home region's) is a closed
//! port, so every ARC call falls through to the next endpoint for real.
//!
//! What moto does differently from AWS, and how the worlds meet it: moto 5.2.5 keeps
//! every global cluster in its us-east-1 backend, yet looks `RemoveFromGlobalCluster`
//! up in the backend of the region the call is made in, and answers 200 without doing
//! anything when the global cluster or the member is not there; AWS detaches a member
//! through any region. drplan calls in the target's region (the primary's may be
//! down), so on moto only a failover TO us-east-1 detaches. The main world therefore
//! runs aws.toml with us-east-1 and us-west-2 swapped ([`SWAPPED`]: home us-west-2,
//! failing over to us-east-1; nothing else changed); one test runs aws.toml as written
//! and asserts what moto really does there. moto also answers every status `available`
//! at once and leaves `GlobalClusterIdentifier` on a detached cluster (AWS clears it);
//! nothing here relies on that.

use std::fs;
use std::path::Path;

use serde_json::Value;
use tempfile::TempDir;

use crate::aws_e2e::fixture::{self, Loopback, Seeder};
use crate::support::arc_stand_in::ArcStandIn;
use crate::support::moto::MotoServer;
use crate::support::runner::{self, Run};
use crate::support::snapshot;

const ENV: &str = "aws.toml";
const SCENARIO: &str = "regional-failure";
/// The Aurora global database of `services.database` and its member per region (the
/// same in the swapped copy, whose cluster names are swapped with their regions).
const GLOBAL: &str = "omniops";
const CLUSTERS: [(&str, &str); 3] = [
    ("us-east-1", "omniops-use1"),
    ("us-west-2", "omniops-usw2"),
    ("eu-west-1", "omniops-euw1"),
];

/// The copy of aws.toml a world runs, and its home and failover target.
#[derive(Clone, Copy)]
struct Layout {
    home: &'static str,
    to: &'static str,
    /// Applied to aws.toml (URLs already on the loopback server).
    edit: fn(&str) -> String,
}

/// aws.toml with home and target swapped: the failover goes to us-east-1, where moto
/// can detach (see [`fixture::home_and_target_swapped`]).
const SWAPPED: Layout = Layout {
    home: "us-west-2",
    to: "us-east-1",
    edit: fixture::home_and_target_swapped,
};

/// A moto server and an ARC stand-in seeded as aws.toml's home, and a directory to
/// run drplan in.
struct World {
    layout: Layout,
    moto: MotoServer,
    loopback: Loopback,
    arc: ArcStandIn,
    /// Region → routing control ARN, as the copy declares them.
    controls: Vec<(String, String)>,
    dir: TempDir,
}

impl World {
    fn new(layout: Layout) -> Self {
        let moto = MotoServer::start();
        let loopback = Loopback::start();
        let text = (layout.edit)(&fixture::urls_on_loopback(
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
        let states: Vec<(&str, bool)> = controls
            .iter()
            .map(|(region, arn)| (arn.as_str(), region == layout.home))
            .collect();
        let arc = ArcStandIn::start(&states);
        // The failed region's endpoint is written first, and is down.
        let closed = fixture::closed_endpoint();
        let text = fixture::with_arc_endpoints(
            &text,
            &[
                (layout.home, &closed),
                (layout.to, &arc.url),
                ("eu-west-1", &arc.url),
            ],
        );
        let dir = TempDir::new().expect("a temporary directory");
        fs::write(dir.path().join(ENV), text).expect("the environment is written");
        fixture::install_standins(dir.path());
        let world = Self {
            layout,
            moto,
            loopback,
            arc,
            controls,
            dir,
        };
        world.seed();
        world
    }

    /// The global database with its writer at home and the target's lag within the
    /// RPO; the backups bucket with a backup made just now; the static bucket. (aws.toml's
    /// database data sets are recovered by `restore`, so this scenario gates on the
    /// backup's age, and drplan does not read the lag: `benches/aws_failover.rs` counts
    /// no CloudWatch call.)
    fn seed(&self) {
        let seeder = Seeder::new(&self.moto.endpoint);
        let member = |region: &str| {
            CLUSTERS
                .into_iter()
                .find(|(r, _)| *r == region)
                .expect("a member cluster")
        };
        let (home, to) = (member(self.layout.home), member(self.layout.to));
        // The writer first.
        seeder.create_global_database(home.0, GLOBAL, &[home, to, member("eu-west-1")]);
        seeder.put_aurora_lag(to.0, to.1, 2000.0);
        seeder.create_bucket("omniops-backups");
        seeder.create_bucket("omniops-static");
        seeder.put_object("omniops-backups", "database/nightly.dump");
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `drplan ARGS…` in the world's directory, run to the end.
    fn drplan(&self, args: &[&str]) -> Run {
        let mut command = runner::command(self.path(), args);
        fixture::child_env(
            &mut command,
            self.moto.aws_env(),
            &self.moto.endpoint,
            &self.loopback.url,
            self.path(),
        );
        command.env("HOME", self.path());
        runner::run(&mut command)
    }

    /// `aws ARGS… --region REGION` against moto, as JSON.
    fn aws(&self, region: &str, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--region", region]);
        serde_json::from_str(&self.moto.aws_cli(&all)).expect("the aws CLI prints JSON")
    }

    /// The members of the global database (ARN, writer), as `describe-global-clusters`
    /// lists them through the failover target's region.
    fn members(&self) -> Vec<(String, bool)> {
        let listed = self.aws(
            self.layout.to,
            &[
                "rds",
                "describe-global-clusters",
                "--global-cluster-identifier",
                GLOBAL,
            ],
        );
        listed["GlobalClusters"][0]["GlobalClusterMembers"]
            .as_array()
            .expect("GlobalClusterMembers")
            .iter()
            .map(|member| {
                (
                    member["DBClusterArn"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    member["IsWriter"] == true,
                )
            })
            .collect()
    }

    /// The cluster `id` in `region` as `describe-db-clusters` shows it.
    fn cluster(&self, region: &str, id: &str) -> Value {
        let listed = self.aws(
            region,
            &["rds", "describe-db-clusters", "--db-cluster-identifier", id],
        );
        listed["DBClusters"][0].clone()
    }

    /// The routing control of `region`.
    fn control(&self, region: &str) -> String {
        self.controls
            .iter()
            .find(|(r, _)| r == region)
            .map(|(_, arn)| arn.clone())
            .expect("a routing control")
    }

    /// Region → whether its routing control is on, per the stand-in, in the order
    /// the copy declares them.
    fn traffic(&self) -> Vec<(&str, bool)> {
        self.controls
            .iter()
            .map(|(region, arn)| {
                let on = self
                    .arc
                    .is_on(arn)
                    .expect("a routing control the stand-in holds");
                (region.as_str(), on)
            })
            .collect()
    }

    /// The entries (ARN, state) of every `UpdateRoutingControlStates` the stand-in
    /// received after its first `after` requests.
    fn updates(&self, after: usize) -> Vec<Vec<(String, &'static str)>> {
        self.arc.requests()[after..]
            .iter()
            .filter(|request| request.operation == "UpdateRoutingControlStates")
            .map(|request| {
                request.body["UpdateRoutingControlStateEntries"]
                    .as_array()
                    .expect("entries")
                    .iter()
                    .map(|entry| {
                        let state = if entry["RoutingControlState"] == "On" {
                            "On"
                        } else {
                            "Off"
                        };
                        let arn = entry["RoutingControlArn"].as_str().unwrap_or_default();
                        (arn.to_string(), state)
                    })
                    .collect()
            })
            .collect()
    }

    /// The run report an apply names.
    fn report(&self, apply: &Run) -> String {
        let report = apply
            .stdout
            .lines()
            .find_map(|line| line.strip_prefix("report: "))
            .expect("the apply names its report");
        fs::read_to_string(self.path().join(report)).expect("the report")
    }

    fn commands(&self) -> Vec<String> {
        fs::read_to_string(fixture::standin_log(self.path()))
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.ends_with("info replication"))
            .map(str::to_string)
            .collect()
    }
}

/// A world on the swapped copy, failed over by `apply plan.json`; the ARC requests
/// received before the apply are returned, so the apply's own can be told apart.
fn failed_over() -> (World, usize) {
    let world = World::new(SWAPPED);
    world
        .drplan(&["plan", ENV, "--scenario", SCENARIO, "--out", "plan.json"])
        .expect(0);
    let before = world.arc.requests().len();
    let applied = world.drplan(&["apply", "plan.json"]).expect(0);
    assert!(applied.stdout.contains("apply complete"), "{applied}");
    (world, before)
}

#[test]
fn the_failover_detaches_the_target_cluster_and_moves_traffic_in_one_arc_call() {
    let world = World::new(SWAPPED);
    let (home, to) = (SWAPPED.home, SWAPPED.to);
    assert!(
        world.members().contains(&(arn(to), false)),
        "a secondary before"
    );

    let planned = world
        .drplan(&["plan", ENV, "--scenario", SCENARIO])
        .expect(0);
    snapshot::assert_live("aws_native", "plan_regional_failure", &planned.stdout);

    world
        .drplan(&["plan", ENV, "--scenario", SCENARIO, "--out", "plan.json"])
        .expect(0);
    let before = world.arc.requests().len();
    let applied = world.drplan(&["apply", "plan.json"]).expect(0);
    assert!(applied.stdout.contains("apply complete"), "{applied}");

    // The target is detached (a writable standalone cluster); the global database
    // keeps the old primary as its writer and the other secondary.
    assert_eq!(
        world.members(),
        [(arn(home), true), (arn("eu-west-1"), false)]
    );
    assert_eq!(world.cluster(to, "omniops-use1")["Status"], "available");
    let report = world.report(&applied);
    assert!(
        report.contains("RemoveFromGlobalCluster omniops → omniops-use1 in us-east-1"),
        "{report}"
    );

    // Traffic: one call, the target on and the old home off together; the failed
    // region's endpoint, written first, is down, so every call fell through to the next.
    let updates = world.updates(before);
    assert_eq!(
        updates,
        [vec![
            (world.control(to), "On"),
            (world.control(home), "Off")
        ]]
    );
    assert_eq!(
        world.traffic(),
        [
            ("us-west-2", false),
            ("us-east-1", true),
            ("eu-west-1", false)
        ]
    );
    let commands = world.commands();
    for expected in [
        "supabase db fence --project omniops-us-west-2",
        "vercel deploy --prod --regions us-east-1",
    ] {
        assert!(
            commands.iter().any(|c| c == expected),
            "{expected}: {commands:?}"
        );
    }
}

#[test]
fn the_failback_after_a_detach_is_refused_before_traffic_moves_and_loses_no_write() {
    let (world, _) = failed_over();
    let (home, to) = (SWAPPED.home, SWAPPED.to);

    let planned = world.drplan(&["plan", ENV, "--failback"]).expect(0);
    snapshot::assert_live("aws_native", "plan_failback_after_detach", &planned.stdout);

    let before = world.arc.requests().len();
    let failback = world
        .drplan(&["apply", ENV, "--failback", "--auto-approve"])
        .expect(1);

    // The old primary never left the global database and is still its writer, so a
    // SwitchoverGlobalCluster to it would find the move "done" and leave behind every
    // write the detached cluster took: drplan's check before the fence refuses it,
    // naming the cluster to reprotect, and moves no traffic to the stale copy.
    assert!(
        failback
            .stderr
            .contains("omniops-use1 in us-east-1 is not a member of the global cluster omniops"),
        "{failback}"
    );
    let report = world.report(&failback);
    assert!(
        !report.contains("SwitchoverGlobalCluster omniops →")
            && !report.contains("already done, nothing to SwitchoverGlobalCluster"),
        "{report}"
    );
    let commands = world.commands();
    assert!(
        commands.contains(&"supabase db resync --project omniops-us-west-2".to_string()),
        "the home region is resynced first: {commands:?}"
    );
    // Refused before the fence: the detached cluster keeps serving.
    assert!(
        !commands.contains(&"supabase db fence --project omniops-us-east-1".to_string()),
        "{commands:?}"
    );
    assert_eq!(
        world.members(),
        [(arn(home), true), (arn("eu-west-1"), false)]
    );
    assert_eq!(world.cluster(to, "omniops-use1")["Status"], "available");
    assert!(
        world.updates(before).is_empty(),
        "no routing control changed"
    );
    assert_eq!(
        world.traffic(),
        [
            ("us-west-2", false),
            ("us-east-1", true),
            ("eu-west-1", false)
        ]
    );
}

/// aws.toml as written, its Aurora timeout cut to 5 s so the test does not wait 20 min.
const AS_WRITTEN: Layout = Layout {
    home: "us-east-1",
    to: "us-west-2",
    edit: short_aurora_timeout,
};

fn short_aurora_timeout(text: &str) -> String {
    let declared = "timeout = \"20m\" }";
    assert_eq!(
        text.matches(declared).count(),
        1,
        "aws.toml's Aurora timeout"
    );
    text.replace(declared, "timeout = \"5s\" }")
}

#[test]
fn on_moto_a_target_outside_us_east_1_is_never_detached_and_drplan_stops_at_the_timeout() {
    let world = World::new(AS_WRITTEN);
    let before = world.arc.requests().len();
    let failed = world
        .drplan(&["apply", ENV, "--scenario", SCENARIO, "--auto-approve"])
        .expect(1);
    assert!(
        failed
            .message()
            .contains("1 step(s) failed: activate:database"),
        "{failed}"
    );
    let report = world.report(&failed);
    assert!(
        report.contains("| `activate:database` | failed |")
            && report.contains(
                "aurora: the RemoveFromGlobalCluster of omniops to omniops-usw2 in us-west-2 is not done 5s after it began (global cluster `available`, cluster `available`)"
            ),
        "{report}"
    );
    // moto answered RemoveFromGlobalCluster and did nothing: still a member.
    let members = world.members();
    assert!(members.contains(&(arn("us-west-2"), false)), "{members:?}");
    assert_eq!(world.updates(before), Vec::<Vec<(String, &str)>>::new());
    assert_eq!(
        world.traffic(),
        [
            ("us-east-1", true),
            ("us-west-2", false),
            ("eu-west-1", false)
        ]
    );
}

/// The ARN of the member cluster in `region`.
fn arn(region: &str) -> String {
    let (_, id) = CLUSTERS
        .into_iter()
        .find(|(r, _)| *r == region)
        .expect("a member cluster");
    format!("arn:aws:rds:{region}:123456789012:cluster:{id}")
}
