//! `drplan sim init|set|show FILE`: create, change and show the sim world of an
//! environment, the stand-in for DNS, backups and services that demos, drills and
//! tests run against.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{ArgGroup, Subcommand, ValueEnum};

use super::{EnvironmentFile, print};
use crate::error::Error;
use crate::model::Environment;
use crate::providers::AlarmState;
use crate::providers::connect::time_scale;
use crate::providers::sim::{SimWorld, describe_weights};
use crate::providers::sim_data::{Replication, SimData};

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    #[command(subcommand)]
    pub command: SimCommand,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Create the sim world of an environment: every region up, every service active
    /// and routed at home, one five-minute-old backup per backup location.
    Init(InitArgs),
    /// Change the sim world: take a region or a service down (or up), age the backups,
    /// slow the health probes down, inject faults.
    Set(Box<SetArgs>),
    /// Show the sim world: regions, services, DNS weights, backups, latency and faults.
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
    /// Replace an existing world with the nominal one.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("subject").multiple(true).args(["region", "service"])))]
#[command(group(ArgGroup::new("service_change").multiple(true).args(["down", "up", "fault_rate", "rejoin"])))]
#[command(group(
    ArgGroup::new("change").required(true).multiple(true).args(["down", "up", "rejoin", "age_backups", "latency", "fault_rate", "writes", "lag", "replication", "alarm"])
))]
pub struct SetArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
    /// The region to mark down or up. With --service: the one region where the service
    /// is marked (without it: every region).
    #[arg(long, value_name = "REGION", requires = "mark")]
    pub region: Option<String>,
    /// The service to mark down or up, or to give its own --fault-rate.
    #[arg(long, value_name = "SERVICE", requires = "service_change")]
    pub service: Option<String>,
    /// Mark the region or service down.
    #[arg(long, group = "mark", requires = "subject")]
    pub down: bool,
    /// Mark the region or service up again.
    #[arg(long, group = "mark", requires = "subject")]
    pub up: bool,
    /// Make the Aurora service's cluster in --region a member of its global cluster
    /// again: stands for the new secondary a person makes in a reprotect.
    #[arg(long, group = "mark", requires_all = ["service", "region"])]
    pub rejoin: bool,
    /// Make every backup this much older, e.g. 2h (to breach an RPO).
    #[arg(long, value_name = "DURATION", value_parser = super::duration_arg)]
    pub age_backups: Option<Duration>,
    /// How long every health probe takes to answer, e.g. 250ms (0s for none).
    #[arg(long, value_name = "DURATION", value_parser = super::duration_arg)]
    pub latency: Option<Duration>,
    /// The probability, from 0 to 1, that an activation, a restore or a probe fails
    /// (with --service: of that service only).
    #[arg(long, value_name = "RATE")]
    pub fault_rate: Option<f64>,
    /// The replicated data set to write to or change replication of.
    #[arg(long, value_name = "DATA")]
    pub data: Option<String>,
    /// Make this many writes on the data set's active copy.
    #[arg(long, value_name = "N", requires = "data")]
    pub writes: Option<u64>,
    /// How long replication takes to carry a write to the replicas, e.g. 30s.
    #[arg(long, value_name = "DURATION", value_parser = super::duration_arg, requires = "data")]
    pub lag: Option<Duration>,
    /// Stop or restart replication of the data set.
    #[arg(long, value_enum, requires = "data")]
    pub replication: Option<ReplicationArg>,
    /// The alarm (of an alarm trigger) to put in a state; unset alarms follow the
    /// services: in ALARM while one fails where it is active.
    #[arg(long, value_name = "NAME", requires = "state")]
    pub alarm: Option<String>,
    /// The state to put the alarm in.
    #[arg(long, value_enum, requires = "alarm")]
    pub state: Option<AlarmArg>,
    /// A probe that waits until a condition (`health:SERVICE`, `check:NAME`,
    /// `step:NAME`), to answer --value from now on.
    #[arg(long, value_name = "NAME", group = "change", requires = "value")]
    pub probe: Option<String>,
    /// What the probe answers (its output, judged by its `until`).
    #[arg(long, value_name = "TEXT", requires = "probe")]
    pub value: Option<String>,
    /// The watcher (of [watch]) to cut off or reconnect.
    #[arg(long, value_name = "NAME", requires = "watcher_change")]
    pub watcher: Option<String>,
    /// Cut the watcher off: every probe it makes fails.
    #[arg(long, groups = ["change", "watcher_change"], requires = "watcher", conflicts_with = "reachable")]
    pub partitioned: bool,
    /// Reconnect a watcher cut off with --partitioned.
    #[arg(long, groups = ["change", "watcher_change"], requires = "watcher")]
    pub reachable: bool,
}

/// `--state ok|alarm|insufficient-data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlarmArg {
    Ok,
    Alarm,
    InsufficientData,
}

/// `--replication stopped|running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplicationArg {
    Stopped,
    Running,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
    /// How to print the world: a readable summary, or the world file itself.
    #[arg(long, value_enum, default_value_t = WorldFormat::Text)]
    pub format: WorldFormat,
}

/// Output formats of `drplan sim show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorldFormat {
    Text,
    Json,
}

pub fn run(args: &SimArgs) -> Result<ExitCode, Error> {
    match &args.command {
        SimCommand::Init(args) => init(args),
        SimCommand::Set(args) => set(args),
        SimCommand::Show(args) => show(args),
    }
    .map(|()| ExitCode::SUCCESS)
}

fn init(args: &InitArgs) -> Result<(), Error> {
    let env = crate::model::load(&args.env.file)?.env;
    let path = crate::paths::sim_file(&env.name);
    if path.exists() && !args.force {
        return Err(Error::Usage {
            message: format!("the sim world {} already exists", path.display()),
            help: "pass --force to replace it with the nominal world".to_string(),
        });
    }
    let world = SimWorld::nominal(&env, SystemTime::now());
    world.save(&path)?;
    print(&format!("{}: {}\n", path.display(), summary(&env, &world)))
}

/// `2 regions up, 5 services active in eu-west-1, 2 DNS records, 1 backup`.
fn summary(env: &Environment, world: &SimWorld) -> String {
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    format!(
        "{} up, {} active in {}, {}, {}",
        count(world.regions.len(), "region"),
        count(world.services.len(), "service"),
        env.home.value,
        count(world.records.len(), "DNS record"),
        count(world.objects.len(), "backup"),
    )
}

fn set(args: &SetArgs) -> Result<(), Error> {
    let env = crate::model::load(&args.env.file)?.env;
    let path = crate::paths::sim_file(&env.name);
    let probes = crate::model::until::probe_names(&env);
    let changes = SimWorld::edit(&path, time_scale(None)?, |world| {
        let mut changes = change(world, args)?;
        changes.extend(change_probe(world, args, &probes)?);
        changes.extend(change_watcher(&env, world, args)?);
        Ok(changes)
    })?;
    print(&format!("{}: {}\n", path.display(), changes.join("; ")))
}

/// Applies every change `args` asks for; returns one line describing each.
fn change(world: &mut SimWorld, args: &SetArgs) -> Result<Vec<String>, Error> {
    let mut changes = Vec::new();
    let status = if args.up { "up" } else { "down" };
    if let (Some(service), Some(region), true) = (&args.service, &args.region, args.rejoin) {
        world.rejoin(service, region)?;
        changes.push(format!(
            "{service}: the cluster in {region} is a member of its global cluster again"
        ));
    } else if let (Some(service), true) = (&args.service, args.down || args.up) {
        world.set_service(service, args.region.as_deref(), args.up)?;
        changes.push(format!(
            "{service} marked {status} in {}",
            args.region.as_deref().unwrap_or("every region")
        ));
    } else if let Some(region) = &args.region {
        world.set_region(region, args.up)?;
        changes.push(format!("region {region} marked {status}"));
    }
    if let Some(by) = args.age_backups {
        world.age_backups(by);
        changes.push(format!(
            "backups aged by {}",
            crate::duration::format_duration(by)
        ));
    }
    if let Some(latency) = args.latency {
        world.set_latency(latency);
        changes.push(format!(
            "probe latency {}",
            crate::duration::format_duration(latency)
        ));
    }
    if let Some(rate) = args.fault_rate {
        world.set_fault_rate(rate, args.service.as_deref())?;
        changes.push(match &args.service {
            Some(service) => format!("fault rate of {service} {rate}"),
            None => format!("fault rate {rate}"),
        });
    }
    if let Some(data) = &args.data {
        changes.extend(change_data(world, data, args)?);
    }
    if let (Some(alarm), Some(state)) = (&args.alarm, args.state) {
        let state = match state {
            AlarmArg::Ok => AlarmState::Ok,
            AlarmArg::Alarm => AlarmState::Alarm,
            AlarmArg::InsufficientData => AlarmState::InsufficientData,
        };
        world.alarms.insert(alarm.clone(), state);
        changes.push(format!("alarm {alarm} is {}", state.as_str()));
    }
    Ok(changes)
}

/// Applies `--probe NAME --value TEXT`: what a probe with an `until` condition answers.
fn change_probe(
    world: &mut SimWorld,
    args: &SetArgs,
    probes: &[String],
) -> Result<Option<String>, Error> {
    let (Some(probe), Some(value)) = (&args.probe, &args.value) else {
        return Ok(None);
    };
    world.set_probe_value(probe, value, probes)?;
    Ok(Some(format!("probe {probe} answers {value:?}")))
}

/// Applies `--watcher NAME --partitioned|--reachable`, for a watcher `[watch]` declares.
fn change_watcher(
    env: &Environment,
    world: &mut SimWorld,
    args: &SetArgs,
) -> Result<Option<String>, Error> {
    let Some(name) = &args.watcher else {
        return Ok(None);
    };
    crate::model::watchers::site(env, name)?;
    world.set_partitioned(name, args.partitioned);
    let status = if args.partitioned {
        "cut off: every probe it makes fails"
    } else {
        "reachable"
    };
    Ok(Some(format!("watcher {name} {status}")))
}

/// Applies the `--data` changes: lag, replication, then writes.
fn change_data(world: &mut SimWorld, data: &str, args: &SetArgs) -> Result<Vec<String>, Error> {
    let mut changes = Vec::new();
    if let Some(lag) = args.lag {
        world.data_mut(data)?.lag_ms = u64::try_from(lag.as_millis()).unwrap_or(u64::MAX);
        changes.push(format!(
            "{data}: replication lag {}",
            crate::duration::format_duration(lag)
        ));
    }
    if let Some(replication) = args.replication {
        world.data_mut(data)?.replication = match replication {
            ReplicationArg::Stopped => Replication::Stopped,
            ReplicationArg::Running => Replication::Running,
        };
        let status = if replication == ReplicationArg::Stopped {
            "stopped"
        } else {
            "running"
        };
        changes.push(format!("{data}: replication {status}"));
    }
    if let Some(count) = args.writes {
        world.write(data, count, SystemTime::now())?;
        let active = &world.data_mut(data)?.active;
        changes.push(format!("{data}: {count} write(s) on the copy in {active}"));
    }
    Ok(changes)
}

fn show(args: &ShowArgs) -> Result<(), Error> {
    let env = crate::model::load(&args.env.file)?.env;
    let mut world = SimWorld::load(&crate::paths::sim_file(&env.name))?;
    world.advance_data(SystemTime::now(), time_scale(None)?);
    print(&match args.format {
        WorldFormat::Text => render(&env, &world, SystemTime::now()),
        WorldFormat::Json => serde_json::to_string_pretty(&world).unwrap_or_default() + "\n",
    })
}

/// The world as readable sections; backup ages are relative to `now`.
fn render(env: &Environment, world: &SimWorld, now: SystemTime) -> String {
    let regions = world.regions.iter().map(|(name, region)| {
        (
            name.clone(),
            if region.up { "up" } else { "DOWN" }.to_string(),
        )
    });
    let services = world.services.iter().map(|(name, service)| {
        let down = service
            .down_in
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let marks = if down.is_empty() {
            String::new()
        } else {
            format!(", DOWN in {down}")
        };
        let fault = service
            .fault_rate
            .map(|rate| format!(", fault rate {rate}"))
            .unwrap_or_default();
        (
            name.clone(),
            format!("active in {}{marks}{fault}", service.active),
        )
    });
    let records = world
        .records
        .iter()
        .map(|(key, sets)| (key.clone(), describe_weights(sets)));
    let locations: BTreeSet<_> = env
        .data
        .iter()
        .filter_map(|data| data.backups.as_ref())
        .collect();
    let backups = locations.into_iter().map(|location| {
        let newest = world.newest(location, None).map_or_else(
            || "none".to_string(),
            |object| {
                format!(
                    "{}, {} old",
                    object.url,
                    whole_seconds(now.duration_since(object.last_modified).unwrap_or_default())
                )
            },
        );
        (location.url(), newest)
    });
    let data = world
        .data
        .iter()
        .map(|(name, data)| (name.clone(), describe_data(data)));
    let aurora = world
        .aurora
        .iter()
        .map(|(service, global)| (service.clone(), global.describe()));
    let probes = [
        (
            "latency".to_string(),
            whole_seconds(Duration::from_millis(world.latency_ms)).clone(),
        ),
        ("fault rate".to_string(), world.fault_rate.to_string()),
    ];
    let mut sections = vec![
        format!("sim world of {}\n", world.environment),
        section("regions", regions),
        section("services", services),
        section("dns records", records),
        section("backups (newest)", backups),
        section("replicated data", data),
    ];
    if !world.aurora.is_empty() {
        sections.push(section("aurora global databases", aurora));
    }
    sections.push(section("probes", probes));
    sections.join("\n")
}

/// `active in R (position 12), us-west-2 replica at 10, lag 0s, running, 0 lost`.
fn describe_data(data: &SimData) -> String {
    let copies: Vec<String> = data
        .copies
        .iter()
        .filter(|(region, _)| **region != data.active)
        .map(|(region, copy)| {
            let role = if copy.replica { "replica" } else { "detached" };
            format!("{region} {role} at {}", copy.position)
        })
        .collect();
    let replication = match data.replication {
        Replication::Running => "running",
        Replication::Stopped => "STOPPED",
    };
    let fenced = if data.copies.get(&data.active).is_some_and(|c| c.fenced) {
        ", fenced"
    } else {
        ""
    };
    format!(
        "active in {} at {}{fenced}; {}; lag {}, replication {replication}; {} write(s) lost",
        data.active,
        data.head(),
        copies.join(", "),
        whole_seconds(Duration::from_millis(data.lag_ms)),
        data.lost
    )
}

/// A duration for people: `5m 3s`, or `250ms` below a second.
fn whole_seconds(duration: Duration) -> String {
    crate::duration::format_duration(duration)
}

/// A titled two-column list, the first column padded to its widest entry.
fn section(title: &str, rows: impl IntoIterator<Item = (String, String)>) -> String {
    let rows: Vec<_> = rows.into_iter().collect();
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut text = format!("{title}\n");
    if rows.is_empty() {
        text.push_str("  (none)\n");
    }
    for (name, value) in rows {
        let _ = writeln!(text, "  {name:<width$}  {value}");
    }
    text
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn example() -> Environment {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/example.toml");
        crate::model::load(&path).unwrap().env
    }

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn set_args(args: &[&str]) -> Result<SetArgs, clap::Error> {
        let command_line = ["drplan", "sim", "set", "example.toml"].iter().chain(args);
        match Cli::try_parse_from(command_line)?.command {
            Command::Sim(SimArgs {
                command: SimCommand::Set(args),
            }) => Ok(*args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn set_needs_something_to_change_and_marks_need_a_subject() {
        assert!(set_args(&[]).is_err());
        assert!(set_args(&["--down"]).is_err());
        assert!(set_args(&["--region", "eu-west-1"]).is_err());
        assert!(set_args(&["--region", "eu-west-1", "--down", "--up"]).is_err());
        assert!(set_args(&["--age-backups", "soon"]).is_err());
        assert!(
            set_args(&[
                "--service",
                "api",
                "--region",
                "eu-west-1",
                "--down",
                "--latency",
                "1s"
            ])
            .is_ok()
        );
    }

    #[test]
    fn set_describes_each_change() {
        let mut world = SimWorld::nominal(&example(), now());
        let args = set_args(&[
            "--region",
            "eu-west-1",
            "--down",
            "--age-backups",
            "2h",
            "--fault-rate",
            "0.5",
        ])
        .unwrap();

        let changes = change(&mut world, &args).unwrap();

        assert_eq!(
            changes,
            [
                "region eu-west-1 marked down",
                "backups aged by 2h",
                "fault rate 0.5"
            ]
        );
        assert!(!world.regions["eu-west-1"].up);
        let args = set_args(&["--service", "web", "--up"]).unwrap();
        assert_eq!(
            change(&mut world, &args).unwrap(),
            ["web marked up in every region"]
        );
    }

    #[test]
    fn set_rejects_unknown_names_and_rates() {
        let mut world = SimWorld::nominal(&example(), now());
        let error = change(
            &mut world,
            &set_args(&["--service", "webs", "--down"]).unwrap(),
        )
        .unwrap_err();
        assert!(
            matches!(error, Error::UnknownSimName { help, .. } if help == "did you mean `web`?")
        );
        assert!(change(&mut world, &set_args(&["--fault-rate", "2"]).unwrap()).is_err());
    }

    #[test]
    fn show_prints_every_part_of_the_world() {
        let env = example();
        let mut world = SimWorld::nominal(&env, now());
        world
            .set_service("api", Some("eu-central-1"), false)
            .unwrap();
        world.set_region("eu-central-1", false).unwrap();
        world.set_latency(Duration::from_millis(250));

        let text = render(&env, &world, now());

        assert_eq!(
            text,
            "sim world of example

regions
  eu-central-1  DOWN
  eu-west-1     up

services
  api       active in eu-west-1, DOWN in eu-central-1
  cache     active in eu-west-1
  postgres  active in eu-west-1
  web       active in eu-west-1
  worker    active in eu-west-1

dns records
  api   eu-west-1=100 eu-central-1=0
  shop  eu-west-1=100 eu-central-1=0

backups (newest)
  s3://shop-backups/postgres/  s3://shop-backups/postgres/example-20231114T220820Z.dump, 5m old

replicated data
  orders-stream  active in eu-west-1 at 0; eu-central-1 replica at 0; lag 0s, replication running; 0 write(s) lost

probes
  latency     250ms
  fault rate  0
"
        );
        assert_eq!(
            summary(&env, &SimWorld::nominal(&env, now())),
            "2 regions up, 5 services active in eu-west-1, 2 DNS records, 1 backup"
        );
    }
}
