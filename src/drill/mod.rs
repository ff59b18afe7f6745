//! Drill: rehearse a scenario and its failback, and file the report. By default on a
//! sim copy of the environment, never on its real world or state: a private
//! directory (`.drplan/drills/<environment>-<time>/`, removed afterwards unless
//! `--keep`) holding a nominal sim world and a fresh state. With `--target FILE`, on
//! that test environment's own providers instead.
//!
//! The drill injects the failure the scenario is about, measures the time to detect
//! it (the watch logic on watch time), plans and applies the scenario, runs the
//! checks, repairs the failure, plans and applies the failback, runs the checks again,
//! and writes the report under `drills/`. `--due` reads those reports against the
//! `[drills]` calendar.

pub mod detect;
pub mod due;
pub mod inject;
pub mod report;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use detect::{TriggerDetection, Watched};
use inject::Injection;
use report::{DataWrites, DrillReport, FailedStep, RunSummary};

use crate::apply::verify::CheckOutcome;

use crate::apply::executor::Outcome;
use crate::apply::run::{self, Request};
use crate::apply::{Applied, ApplyOptions};
use crate::error::Error;
use crate::model::{Environment, Scenario, Trigger};
use crate::providers::sim::SimWorld;
use crate::session::{Session, SimFlags};

/// Where drill reports are filed, relative to the working directory.
pub const REPORTS_DIR: &str = "drills";

/// Writes a drill makes on every replicated data set before the failure is injected,
/// and again once recovered (on the copy that took over): the failback must keep them.
const WRITES_BEFORE: u64 = 100;
const WRITES_DURING: u64 = 50;

/// How a drill runs.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    pub scenario: String,
    /// A test environment to rehearse on with its own providers.
    pub target: Option<PathBuf>,
    pub time_scale: Option<f64>,
    /// Keep the private directory of a sim drill.
    pub keep: bool,
    pub accept_data_loss: bool,
}

/// Rehearses `options.scenario` of the environment in `file` and files the report;
/// returns it and where its markdown was written.
pub async fn drill(file: &Path, options: &DrillOptions) -> Result<(DrillReport, PathBuf), Error> {
    let env = crate::model::load(file)?.env;
    let scenario = env.resolve_scenario(&options.scenario)?.clone();
    let started = SystemTime::now();
    let mut report = new_report(file, &env, &scenario, started);
    match &options.target {
        None => on_sim_copy(file, &env, &scenario, options, &mut report).await?,
        Some(target) => on_target(target, &scenario, options, &mut report).await?,
    }
    let path = report.write(Path::new(REPORTS_DIR))?;
    Ok((report, path))
}

/// Rehearses in a private directory on a nominal sim world, then removes it (unless kept).
async fn on_sim_copy(
    file: &Path,
    env: &Environment,
    scenario: &Scenario,
    options: &DrillOptions,
    report: &mut DrillReport,
) -> Result<(), Error> {
    let dir = crate::paths::drill_dir(&format!("{}-{}", env.name, report::stamp(report.started)));
    report.ground = format!(
        "a sim copy: nominal world and fresh state in `{}`",
        dir.display()
    );
    let rehearsal = crate::paths::with_root(dir.clone(), async {
        let world = crate::paths::sim_file(&env.name);
        SimWorld::nominal(env, SystemTime::now()).save(&world)?;
        let rehearsal = Rehearsal {
            file: file.to_path_buf(),
            flags: SimFlags {
                sim: true,
                time_scale: options.time_scale,
            },
            scenario: scenario.clone(),
            injection: Injection::of(env, scenario),
            world: Some(world),
            accept_data_loss: options.accept_data_loss,
        };
        rehearsal.run(report).await
    })
    .await;
    if options.keep {
        report.kept = Some(dir.display().to_string());
    } else {
        std::fs::remove_dir_all(&dir).map_err(|source| Error::Write {
            path: dir.clone(),
            source,
        })?;
    }
    rehearsal
}

/// Rehearses on the test environment in `target`, with its own providers (failures are
/// injected only into a sim world).
async fn on_target(
    target: &Path,
    scenario: &Scenario,
    options: &DrillOptions,
    report: &mut DrillReport,
) -> Result<(), Error> {
    let env = crate::model::load(target)?.env;
    env.resolve_scenario(&scenario.name.value)?;
    report.ground = format!("the test environment `{}` ({})", target.display(), env.name);
    let rehearsal = Rehearsal {
        file: target.to_path_buf(),
        flags: SimFlags {
            sim: false,
            time_scale: options.time_scale,
        },
        scenario: scenario.clone(),
        injection: Injection::of(&env, scenario),
        world: env
            .providers
            .is_sim()
            .then(|| crate::paths::sim_file(&env.name)),
        accept_data_loss: options.accept_data_loss,
    };
    rehearsal.run(report).await
}

fn new_report(
    file: &Path,
    env: &Environment,
    scenario: &Scenario,
    started: SystemTime,
) -> DrillReport {
    let strategy = match scenario.strategy.to() {
        Some(to) => format!("{} to {}", scenario.strategy.name(), to.value),
        None => scenario.strategy.name().to_string(),
    };
    DrillReport {
        format_version: report::FORMAT_VERSION,
        environment: env.name.clone(),
        environment_file: file.display().to_string(),
        scenario: scenario.name.value.clone(),
        severity: scenario.severity.clone(),
        strategy,
        ground: String::new(),
        time_scale: None,
        started,
        injected: String::new(),
        detection_note: None,
        detection: Vec::new(),
        detection_wall_ms: 0,
        failback_detection: Vec::new(),
        recovery: not_run(&scenario.name.value, "not started".to_string()),
        rto_target: env.rto,
        data_at_risk: Vec::new(),
        writes: Vec::new(),
        checks_after_recovery: Vec::new(),
        failback: None,
        checks_after_failback: Vec::new(),
        kept: None,
    }
}

/// One rehearsal: the environment file the sessions open and how, and what it breaks.
struct Rehearsal {
    file: PathBuf,
    flags: SimFlags,
    scenario: Scenario,
    injection: Injection,
    /// The sim world failures are injected into, when there is one.
    world: Option<PathBuf>,
    accept_data_loss: bool,
}

impl Rehearsal {
    async fn run(&self, report: &mut DrillReport) -> Result<(), Error> {
        let scale = crate::providers::connect::time_scale(self.flags.time_scale)?;
        self.write(scale, WRITES_BEFORE)?;
        self.inject(scale, report)?;
        phase(&format!("injected: {}", report.injected));
        let session = Session::open(&self.file, self.flags).await?;
        report.time_scale = session.connection.time_scale;
        report.detection_note = self.detection_note(&session);
        if report.detection_note.is_none() {
            let (detections, wall) = self.detect(&session, Watched::Incident).await?;
            report.detection = detections;
            report.detection_wall_ms = wall.as_millis();
        }
        let name = self.scenario.name.value.as_str();
        phase(&format!("recovering: plan and apply {name}"));
        let (recovery, data_at_risk) = self.apply(session, Some(name)).await?;
        report.recovery = recovery;
        report.data_at_risk = data_at_risk;
        phase("verifying after recovery");
        let to = self.scenario.strategy.to().map(|to| to.value.as_str());
        report.checks_after_recovery = self.verify(to).await?;
        self.write(scale, WRITES_DURING)?;
        if let Some(world) = &self.world {
            self.injection.set(world, scale, true)?;
        }
        let moves = self.scenario.strategy.to().is_some();
        if moves {
            let session = Session::open(&self.file, self.flags).await?;
            if report.detection_note.is_none() {
                phase("home repaired: detecting it");
                let (detections, _) = self.detect(&session, Watched::Home).await?;
                report.failback_detection = detections;
            }
            phase("failing back: plan and apply the failback");
            report.failback = Some(self.apply(session, None).await?.0);
            phase("verifying after failback");
            report.checks_after_failback = self.verify(None).await?;
        }
        report.writes = self.writes(scale, moves)?;
        Ok(())
    }

    /// Makes `count` writes on every replicated data set of the sim world (none on
    /// real providers); a data set whose active copy refuses them gets none.
    fn write(&self, scale: f64, count: u64) -> Result<(), Error> {
        let Some(world) = &self.world else {
            return Ok(());
        };
        SimWorld::edit(world, scale, |world| {
            let names: Vec<String> = world.data.keys().cloned().collect();
            for name in names {
                if let Err(error) = world.write(&name, count, SystemTime::now()) {
                    phase(&format!("no writes to {name}: {error}"));
                }
            }
            Ok(())
        })
    }

    /// What became of the writes to each replicated data set; `failed_back` when the
    /// drill went home again.
    fn writes(&self, scale: f64, failed_back: bool) -> Result<Vec<DataWrites>, Error> {
        let Some(world) = &self.world else {
            return Ok(Vec::new());
        };
        let env = crate::model::load(&self.file)?.env;
        let home = env.home.value.clone();
        SimWorld::edit(world, scale, |world| {
            Ok(world
                .data
                .iter()
                .map(|(name, data)| {
                    let rpo = env
                        .data
                        .iter()
                        .find(|d| d.name.value == *name)
                        .map_or(Duration::ZERO, |d| d.rpo);
                    let lost_where = |home_only: bool| {
                        data.losses
                            .iter()
                            .filter(|l| !home_only || l.promoted == home)
                            .filter(|l| home_only || l.beyond(rpo))
                            .map(|l| l.writes)
                            .sum()
                    };
                    DataWrites {
                        data: name.clone(),
                        rpo,
                        writes: data.writes,
                        lost: data.lost,
                        lost_beyond_rpo: lost_where(false),
                        lost_failing_back: if failed_back { lost_where(true) } else { 0 },
                        on_home: failed_back
                            .then(|| data.copies.get(&home).map_or(0, |c| c.position)),
                    }
                })
                .collect())
        })
    }

    fn inject(&self, scale: f64, report: &mut DrillReport) -> Result<(), Error> {
        match &self.world {
            Some(world) => {
                self.injection.set(world, scale, false)?;
                report.injected = self.injection.describe();
            }
            None => {
                report.injected =
                    "nothing: failures cannot be injected into real providers".to_string();
            }
        }
        Ok(())
    }

    /// The triggers that name the scenario.
    fn triggers<'e>(&self, env: &'e Environment) -> Vec<&'e Trigger> {
        env.triggers
            .iter()
            .filter(|t| t.scenario.value == self.scenario.name.value)
            .collect()
    }

    /// Why detection cannot be timed, or `None` when it can.
    fn detection_note(&self, session: &Session) -> Option<String> {
        if self.triggers(&session.loaded.env).is_empty() {
            Some("no trigger names this scenario".to_string())
        } else if self.world.is_none() || self.injection == Injection::Nothing {
            Some("no failure was injected".to_string())
        } else {
            None
        }
    }

    /// Runs the triggers that name the scenario, watching for `watched`.
    async fn detect(
        &self,
        session: &Session,
        watched: Watched,
    ) -> Result<(Vec<TriggerDetection>, Duration), Error> {
        let triggers = self.triggers(&session.loaded.env);
        phase(&format!("detecting: {} trigger(s) probing", triggers.len()));
        let clock = crate::watch::clock::Clock::new(session.connection.time_scale);
        detect::detect(session, &triggers, watched, clock).await
    }

    /// Plans and applies `scenario` (or the failback); a run that fails or is refused
    /// is part of the report, not an error of the drill.
    async fn apply(
        &self,
        session: Session,
        scenario: Option<&str>,
    ) -> Result<(RunSummary, Vec<crate::plan::DataRisk>), Error> {
        let (state, version) = session.state().await?;
        let preview = session
            .plan(scenario, &state, version.as_ref(), None)
            .await?;
        let options = ApplyOptions {
            parallelism: 10,
            keep_going: false,
            auto_approve: true,
            accept_data_loss: self.accept_data_loss,
            at: None,
            time_scale: None,
            quiet: true,
        };
        let request = Request::Plan(scenario.map(str::to_string));
        let started = Instant::now();
        let result = run::run(session, request, options, Duration::ZERO, &|_| Ok(())).await;
        let wall = started.elapsed();
        let intent = scenario.unwrap_or("failback");
        let (mut summary, simulated_ms) = match result {
            Ok(applied) => (summarize(intent, &applied), applied.simulated_ms),
            Err(error) => (not_run(intent, error.to_string()), None),
        };
        summary.estimated = preview.plan.summary.estimated_rto;
        summary.wall_ms = wall.as_millis();
        // The run's own measure: the longest chain of step durations in sim time,
        // without drplan's journal writes.
        summary.simulated_ms = simulated_ms;
        Ok((summary, preview.plan.summary.data_at_risk))
    }

    /// Runs the checklist with `region` active (`None`: home).
    async fn verify(&self, region: Option<&str>) -> Result<Vec<CheckOutcome>, Error> {
        let session = Session::open(&self.file, self.flags).await?;
        let env = &session.loaded.env;
        let region = region.unwrap_or(&env.home.value);
        Ok(crate::apply::verify::checklist(env, &session.connection.runtime, region).await)
    }
}

/// The summary of a run that happened (finished or not).
fn summarize(intent: &str, applied: &Applied) -> RunSummary {
    let run = applied.state.run.as_ref();
    let steps = run.map_or(&[][..], |run| run.plan.plan.steps.as_slice());
    let failed_steps = steps
        .iter()
        .zip(&applied.execution.results)
        .filter_map(|(step, result)| match &result.outcome {
            Outcome::Failed(error) => Some(FailedStep {
                step: step.id.clone(),
                error: error.clone(),
            }),
            _ => None,
        })
        .collect();
    let execution = &applied.execution;
    let status = execution.status().name();
    RunSummary {
        intent: intent.to_string(),
        run_id: run.map(|run| run.id.clone()),
        status: status.to_string(),
        steps: run.map_or(0, |run| run.plan.plan.work().count()),
        failed_steps,
        error: None,
        estimated: Duration::ZERO,
        wall_ms: 0,
        simulated_ms: None,
        timeline: applied.timeline.clone(),
    }
}

/// The summary of a run that did not happen, and why.
fn not_run(intent: &str, error: String) -> RunSummary {
    RunSummary {
        intent: intent.to_string(),
        run_id: None,
        status: "not run".to_string(),
        steps: 0,
        failed_steps: Vec::new(),
        error: Some(error),
        estimated: Duration::ZERO,
        wall_ms: 0,
        simulated_ms: None,
        timeline: Vec::new(),
    }
}

/// Tells the person running the drill where it is (on stderr; the report is the
/// output). A line that cannot be written is dropped: the drill goes on.
fn phase(text: &str) {
    let _ = writeln!(std::io::stderr(), "drill: {text}");
}
