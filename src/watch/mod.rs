//! Watch: the decision matrix at work. Every trigger probes every `interval`; its
//! [`streak::Streak`] fires after `for` of continuous failure (never on one probe).
//! Then an `automatic` trigger plans and applies its scenario under the state lock
//! (when another operator holds it, or changed the state since, it stands back); any
//! other notifies with the plan and waits for `drplan apply`. Once the environment is
//! failed over by a trigger's scenario, the trigger watches home instead: healthy for
//! `for`, it applies the failback (`failback = "auto"`) or notifies (`"manual"`).
//!
//! One line is printed per evaluation and per decision, stamped with the watch's time
//! (simulated on sim: see [`clock`]).

pub mod clock;
pub mod history;
pub mod notice;
pub mod probe;
pub mod streak;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clock::{Clock, Schedule};
use history::History;
use notice::Notice;
use probe::Finding;
use streak::{Confirmation, Held, Reading};

use crate::apply::ApplyOptions;
use crate::apply::run::{self, Request};
use crate::error::Error;
use crate::model::{Environment, FailbackMode, Trigger};
use crate::plan::file::PlanFile;
use crate::session::{Session, SimFlags};
use crate::state::State;

/// How a watch runs.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// One evaluation of every trigger, the history kept on disk between runs.
    pub once: bool,
    /// Stop after this long (on sim: simulated time).
    pub max_duration: Option<Duration>,
    pub sim: SimFlags,
    /// Renders a plan for the notification that asks people to apply it.
    pub render_plan: RenderPlan,
}

/// How a plan is shown to people (the command line's markdown renderer).
pub type RenderPlan = fn(&Environment, &PlanFile) -> String;

/// Watches the environment in `file` until `--max-duration`, Ctrl-C, or (with
/// `--once`) after one evaluation.
pub async fn watch(file: &Path, options: WatchOptions) -> Result<(), Error> {
    let session = Session::open(file, options.sim).await?;
    let env = session.loaded.env.clone();
    if env.triggers.is_empty() {
        return Err(Error::Usage {
            message: format!(
                "{} declares no [triggers]: there is nothing to watch",
                file.display()
            ),
            help: "declare the decision matrix under [triggers.NAME]".to_string(),
        });
    }
    let mut watcher = Watcher {
        file: file.to_path_buf(),
        flags: options.sim,
        render_plan: options.render_plan,
        env,
        history: History::default(),
    };
    if options.once {
        watcher.history = History::load(&watcher.env.name)?;
        let now = SystemTime::now();
        for index in 0..watcher.env.triggers.len() {
            watcher.evaluate(index, now).await?;
        }
        return watcher.history.save(&watcher.env.name);
    }
    watcher
        .run(
            Clock::new(session.connection.time_scale),
            options.max_duration,
        )
        .await;
    Ok(())
}

struct Watcher {
    file: PathBuf,
    flags: SimFlags,
    render_plan: RenderPlan,
    env: Environment,
    history: History,
}

impl Watcher {
    /// Evaluates each trigger on its schedule until `max_duration` or Ctrl-C.
    async fn run(&mut self, mut clock: Clock, max_duration: Option<Duration>) {
        let start = clock.now();
        let intervals = self.env.triggers.iter().map(|t| t.interval).collect();
        let mut schedule = Schedule::new(start, intervals);
        while let Some((index, due)) = schedule.next() {
            if max_duration.is_some_and(|max| due > start + max) {
                break;
            }
            tokio::select! {
                () = clock.wait_until(due) => {}
                _ = tokio::signal::ctrl_c() => {
                    say(clock.now(), "watch", "stopped (Ctrl-C)");
                    return;
                }
            }
            let name = self.env.triggers[index].name.value.clone();
            if let Err(error) = self.evaluate(index, clock.now()).await {
                say(clock.now(), &name, &format!("evaluation failed: {error}"));
            }
            schedule.advance(index);
        }
        say(clock.now(), "watch", "stopped (--max-duration reached)");
    }

    /// Probes trigger `index` once at `now` and acts on what its streak says: toward
    /// a failback once the environment is failed over by its scenario, toward an
    /// incident otherwise.
    async fn evaluate(&mut self, index: usize, now: SystemTime) -> Result<(), Error> {
        let trigger = self.env.triggers[index].clone();
        let session = Session::open(&self.file, self.flags).await?;
        let (state, _) = session.state().await?;
        let decision = Decision {
            now,
            serial: state.serial,
        };
        let owns_failover = state
            .last_applied
            .as_ref()
            .is_some_and(|applied| applied.intent == trigger.scenario.value)
            && probe::away_from_home(&session, &state).await?;
        if owns_failover {
            self.watch_home(session, &trigger, decision).await
        } else {
            self.watch_incident(session, &state, &trigger, decision)
                .await;
            Ok(())
        }
    }

    async fn watch_incident(
        &mut self,
        session: Session,
        state: &State,
        trigger: &Trigger,
        decision: Decision,
    ) {
        let finding = probe::incident(&session, state, trigger).await;
        let name = trigger.name.value.as_str();
        let history = self.history.of(name);
        history.home.reset();
        let reading =
            history
                .incident
                .record(decision.now, finding.holds, Confirmation::of(trigger));
        say(
            decision.now,
            name,
            &incident_line(trigger, reading, &finding),
        );
        if let Reading::Fires(held) = reading {
            let message = self
                .respond(session, trigger, held, &finding, decision)
                .await;
            say(decision.now, name, &message);
        }
    }

    async fn watch_home(
        &mut self,
        session: Session,
        trigger: &Trigger,
        decision: Decision,
    ) -> Result<(), Error> {
        let finding = probe::home(&session, trigger).await?;
        let name = trigger.name.value.as_str();
        let history = self.history.of(name);
        history.incident.reset();
        let reading = history
            .home
            .record(decision.now, finding.holds, Confirmation::of(trigger));
        say(
            decision.now,
            name,
            &home_line(&self.env, trigger, reading, &finding),
        );
        if let Reading::Fires(held) = reading {
            let message = self.fail_back(session, trigger, held, decision).await;
            say(decision.now, name, &message);
        }
        Ok(())
    }

    /// A fired incident: apply the scenario, or notify and wait.
    async fn respond(
        &self,
        session: Session,
        trigger: &Trigger,
        held: Held,
        finding: &Finding,
        decision: Decision,
    ) -> String {
        let scenario = trigger.scenario.value.as_str();
        let fired = format!("FIRED after {}", describe(held));
        if trigger.automatic {
            let outcome = apply(session, Some(scenario), decision.serial).await;
            return format!("{fired}: applying {scenario}: {outcome}");
        }
        let severity = self.env.scenario(scenario).map(|s| s.severity.clone());
        let waiting = Waiting {
            status: "awaiting-approval",
            observed: finding.detail.clone(),
            command: format!("drplan apply {} --scenario {scenario}", self.file.display()),
        };
        let outcome = self
            .notify(
                session,
                trigger,
                Some(scenario),
                severity,
                waiting,
                decision,
            )
            .await;
        format!("{fired}: {outcome}")
    }

    /// Home healthy for `for` after this trigger's failover: fail back, or notify.
    async fn fail_back(
        &self,
        session: Session,
        trigger: &Trigger,
        held: Held,
        decision: Decision,
    ) -> String {
        let healthy = format!(
            "home {} healthy for {}",
            self.env.home.value,
            describe(held)
        );
        if trigger.failback == FailbackMode::Auto {
            let outcome = apply(session, None, decision.serial).await;
            return format!("{healthy}: applying the failback: {outcome}");
        }
        let waiting = Waiting {
            status: "home-healthy",
            observed: healthy.clone(),
            command: format!("drplan apply {} --failback", self.file.display()),
        };
        let outcome = self
            .notify(session, trigger, None, None, waiting, decision)
            .await;
        format!("{healthy}: {outcome}")
    }

    /// Plans `scenario` (or the failback) and sends it to the timeline's first entries.
    async fn notify(
        &self,
        session: Session,
        trigger: &Trigger,
        scenario: Option<&str>,
        severity: Option<String>,
        waiting: Waiting,
        decision: Decision,
    ) -> String {
        let plan = match plan(&session, scenario).await {
            Ok(plan) => plan,
            Err(error) => return format!("cannot plan {}: {error}", intent_name(scenario)),
        };
        let notice = Notice {
            trigger: trigger.name.value.clone(),
            intent: intent_name(scenario).to_string(),
            severity,
            status: waiting.status,
            observed: waiting.observed,
            detected: humantime::format_rfc3339_seconds(decision.now).to_string(),
            command: waiting.command.clone(),
            plan: (self.render_plan)(&self.env, &plan),
        };
        let mut told = Vec::new();
        for entry in notice::recipients(&self.env) {
            let body = notice::body(&self.env, entry, &notice);
            told.push(
                match session.connection.runtime.notifier.send(entry, &body).await {
                    Ok(()) => format!("notified {}", entry.to),
                    Err(error) => format!("notifying {} failed: {error}", entry.to),
                },
            );
        }
        if told.is_empty() {
            told.push(
                "no [[notify]] entry is due at once (after = \"0m\"): nobody was told".to_string(),
            );
        }
        format!("{}; waiting for `{}`", told.join(", "), waiting.command)
    }
}

/// When a watcher decided, and the state serial it decided on.
#[derive(Debug, Clone, Copy)]
struct Decision {
    now: SystemTime,
    serial: u64,
}

/// What a notification asks people to do.
struct Waiting {
    status: &'static str,
    observed: String,
    command: String,
}

/// A new plan of `scenario` (or the failback) against the world as it is.
async fn plan(session: &Session, scenario: Option<&str>) -> Result<PlanFile, Error> {
    let (state, version) = session.state().await?;
    session.plan(scenario, &state, version.as_ref(), None).await
}

/// Plans and applies `scenario` (or the failback) under the lock, unless the state
/// changed since the watcher read it at `serial` (another operator acted).
async fn apply(session: Session, scenario: Option<&str>, serial: u64) -> String {
    let unchanged = |file: &PlanFile| match &file.state {
        Some(state) if state.serial == serial => Ok(()),
        _ => Err(Error::WatcherOvertaken),
    };
    let request = Request::Plan(scenario.map(str::to_string));
    match run::run(
        session,
        request,
        apply_options(),
        Duration::ZERO,
        &unchanged,
    )
    .await
    {
        Ok(applied) => {
            let run_id = applied.state.run.as_ref().map_or("", |run| run.id.as_str());
            let report = applied.report.display();
            if applied.execution.complete() {
                format!("applied (run {run_id}); report {report}")
            } else {
                let failed = applied.execution.failed();
                format!("FAILED: {failed} step(s) failed (run {run_id}); report {report}")
            }
        }
        Err(Error::Locked { who, operation, .. }) => {
            format!("another operator holds the lock ({who}, {operation}): not acting")
        }
        Err(error) => format!("not applied: {error}"),
    }
}

/// A watcher approves what it applies, and never accepts data loss on its own.
fn apply_options() -> ApplyOptions {
    ApplyOptions {
        parallelism: 10,
        keep_going: false,
        auto_approve: true,
        accept_data_loss: false,
        at: None,
        time_scale: None,
        quiet: true,
    }
}

fn intent_name(scenario: Option<&str>) -> &str {
    scenario.unwrap_or("failback")
}

/// The line of one incident probe.
fn incident_line(trigger: &Trigger, reading: Reading, finding: &Finding) -> String {
    let detail = &finding.detail;
    let act_after = humantime::format_duration(trigger.duration);
    match reading {
        Reading::Clear => format!("ok: {detail}"),
        Reading::Holding(held) => {
            format!(
                "failing for {} (acts after {act_after}): {detail}",
                describe(held)
            )
        }
        Reading::Fires(held) => format!("failing for {}: {detail}", describe(held)),
        Reading::Fired(held) => {
            format!(
                "still failing for {} (acted already): {detail}",
                describe(held)
            )
        }
    }
}

/// The line of one probe of home, after the trigger's failover.
fn home_line(env: &Environment, trigger: &Trigger, reading: Reading, finding: &Finding) -> String {
    let prefix = format!(
        "failed over by {}; home {}",
        trigger.scenario.value, env.home.value
    );
    let after = humantime::format_duration(trigger.duration);
    match reading {
        Reading::Clear => format!("{prefix} not healthy: {}", finding.detail),
        Reading::Holding(held) => {
            format!(
                "{prefix} healthy for {} (fails back after {after})",
                describe(held)
            )
        }
        Reading::Fires(held) => format!("{prefix} healthy for {}", describe(held)),
        Reading::Fired(held) => {
            format!(
                "{prefix} healthy for {} (failback handled already)",
                describe(held)
            )
        }
    }
}

/// `5m (11 probes)`.
fn describe(held: Held) -> String {
    let plural = if held.probes == 1 { "" } else { "s" };
    format!(
        "{} ({} probe{plural})",
        humantime::format_duration(held.duration),
        held.probes
    )
}

/// Prints one line of the watch log. A line that cannot be written is dropped: the
/// watcher goes on acting.
fn say(now: SystemTime, who: &str, message: &str) {
    let _ = writeln!(
        std::io::stdout(),
        "{} {who}: {message}",
        humantime::format_rfc3339_seconds(now)
    );
}
