//! Watch: the decision matrix at work. Every trigger probes every `interval`; its
//! [`streak::Streak`] fires after `for` of continuous failure (never on one probe).
//! Then an `automatic` trigger plans and applies its scenario under the state lock
//! (when another operator holds it, or changed the state since, it stands back); any
//! other notifies with the plan and waits for `drplan apply`. Once the environment is
//! failed over by a trigger's scenario, the trigger watches home instead: healthy for
//! `for`, it applies the failback (`failback = "auto"`) or notifies (`"manual"`).
//!
//! With `[watch]` declared, each watcher (`--as NAME`) publishes what it saw to the
//! state backend and acts only when a quorum of fresh watchers agrees ([`quorum`]);
//! the state lock still picks the one that applies, and a watcher that finds the
//! lock's owner dead resumes its run.
//!
//! One line is printed per evaluation and per decision, stamped with the watch's time
//! (simulated on sim: see [`clock`]).

pub mod clock;
pub mod history;
pub mod notice;
pub mod probe;
pub mod quorum;
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
use crate::model::{Environment, FailbackMode, Trigger, WatchQuorum, WatcherSite};
use crate::plan::file::PlanFile;
use crate::session::{Session, SimFlags};
use crate::state::observations::{Observation, Observations, Watching};
use crate::state::{RunStatus, State};

/// How a watch runs.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// The watcher of `[watch]` this process is (`--as NAME`).
    pub watcher: Option<String>,
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
    let peer = Peer::of(&env, options.watcher.as_deref())?;
    let history_name = peer.as_ref().map_or_else(
        || env.name.clone(),
        |peer| format!("{}.{}", env.name, peer.me.name.value),
    );
    let mut watcher = Watcher {
        file: file.to_path_buf(),
        flags: options.sim,
        render_plan: options.render_plan,
        env,
        history: History::default(),
        peer,
    };
    if options.once {
        watcher.history = History::load(&history_name)?;
        let now = SystemTime::now();
        for index in 0..watcher.env.triggers.len() {
            watcher.evaluate(index, now).await?;
        }
        return watcher.history.save(&history_name);
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
    /// With `[watch]`: who this watcher is, and what it published last.
    peer: Option<Peer>,
}

/// One watcher among those `[watch]` declares.
struct Peer {
    me: WatcherSite,
    watch: WatchQuorum,
    published: Observations,
    /// The first watcher (by name) of the quorum that agreed last: the one that
    /// notifies, so that people hear of an incident once.
    first_agreeing: Option<String>,
}

impl Peer {
    /// This watcher, when `env` declares `[watch]` (then `--as` is required).
    fn of(env: &Environment, name: Option<&str>) -> Result<Option<Self>, Error> {
        let Some(watch) = &env.watch else {
            return match name {
                Some(name) => crate::model::watchers::site(env, name).map(|_| None),
                None => Ok(None),
            };
        };
        let Some(name) = name else {
            let names: Vec<&str> = watch
                .watchers
                .iter()
                .map(|w| w.name.value.as_str())
                .collect();
            return Err(Error::Usage {
                message: format!("{} declares [watch]: say which watcher this is", env.name),
                help: format!("pass --as NAME, one of {}", names.join(", ")),
            });
        };
        let me = crate::model::watchers::site(env, name)?.clone();
        let published = Observations {
            watcher: me.name.value.clone(),
            region: me.region.value.clone(),
            triggers: std::collections::BTreeMap::new(),
        };
        Ok(Some(Self {
            me,
            watch: watch.clone(),
            published,
            first_agreeing: None,
        }))
    }

    /// Publishes what this watcher saw of `trigger`, then judges it from every
    /// watcher's observations. A state that cannot be reached is an error: the
    /// watcher does not act.
    async fn judge(
        &mut self,
        session: &Session,
        trigger: &Trigger,
        observation: Observation,
    ) -> Result<quorum::Verdict, Error> {
        let (now, watching) = (observation.observed, observation.watching);
        let name = trigger.name.value.clone();
        self.published.triggers.insert(name.clone(), observation);
        let backend = &session.state_backend;
        let unreachable = |error: Error| Error::Usage {
            message: format!("cannot reach the state: {error}"),
            help: "a watcher that cannot reach the state never acts".to_string(),
        };
        backend
            .publish(&self.published)
            .await
            .map_err(unreachable)?;
        let all = backend.observations().await.map_err(unreachable)?;
        let rule = quorum::Rule {
            watching,
            hold: trigger.duration,
            freshness: self.watch.freshness(trigger),
            needed: self.watch.needed(),
        };
        Ok(quorum::judge(&self.me.name.value, &name, &all, now, rule))
    }
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
            resume: self.peer.is_some()
                && state.run.as_ref().is_some_and(|run| {
                    matches!(run.status, RunStatus::Running | RunStatus::Interrupted)
                }),
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
                .await
        }
    }

    async fn watch_incident(
        &mut self,
        session: Session,
        state: &State,
        trigger: &Trigger,
        decision: Decision,
    ) -> Result<(), Error> {
        let finding = match self.cut_off(&session, Watching::Incident) {
            Some(finding) => finding,
            None => probe::incident(&session, state, trigger).await,
        };
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
        let agreed = self
            .agreed(
                &session,
                trigger,
                Watching::Incident,
                reading,
                &finding,
                decision.now,
            )
            .await?;
        if let (Reading::Fires(held), true) = (reading, agreed) {
            let outcome = self
                .respond(session, trigger, held, &finding, decision)
                .await;
            say(decision.now, name, &outcome.message);
            if outcome.locked_out && self.peer.is_some() {
                self.history.of(name).incident.rearm();
            }
        } else if let Reading::Fires(_) = reading {
            self.history.of(name).incident.rearm();
        }
        Ok(())
    }

    /// On sim, a watcher cut off sees every probe fail: the services failing, home
    /// not healthy.
    fn cut_off(&self, session: &Session, watching: Watching) -> Option<Finding> {
        let peer = self.peer.as_ref()?;
        let name = peer.me.name.value.as_str();
        quorum::is_cut_off(session, name).then(|| quorum::cut_off(name, watching))
    }

    /// Without `[watch]`: true. With it: publishes this probe, judges the trigger from
    /// every watcher's observations, prints the verdict, and is true only when a quorum
    /// agrees (and this watcher is not the one cut off).
    async fn agreed(
        &mut self,
        session: &Session,
        trigger: &Trigger,
        watching: Watching,
        reading: Reading,
        finding: &Finding,
        now: SystemTime,
    ) -> Result<bool, Error> {
        let Some(peer) = self.peer.as_mut() else {
            return Ok(true);
        };
        let seen = quorum::observation(watching, now, reading, finding);
        let verdict = peer.judge(session, trigger, seen).await?;
        say(now, &trigger.name.value, &verdict.describe());
        peer.first_agreeing = match &verdict {
            quorum::Verdict::Agreed { agreeing } => agreeing.first().cloned(),
            _ => None,
        };
        Ok(matches!(verdict, quorum::Verdict::Agreed { .. }))
    }

    async fn watch_home(
        &mut self,
        session: Session,
        trigger: &Trigger,
        decision: Decision,
    ) -> Result<(), Error> {
        let finding = match self.cut_off(&session, Watching::Home) {
            Some(finding) => finding,
            None => probe::home(&session, trigger).await?,
        };
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
        let agreed = self
            .agreed(
                &session,
                trigger,
                Watching::Home,
                reading,
                &finding,
                decision.now,
            )
            .await?;
        if let (Reading::Fires(held), true) = (reading, agreed) {
            let outcome = self.fail_back(session, trigger, held, decision).await;
            say(decision.now, name, &outcome.message);
            if outcome.locked_out && self.peer.is_some() {
                self.history.of(name).home.rearm();
            }
        } else if let Reading::Fires(_) = reading {
            self.history.of(name).home.rearm();
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
    ) -> Outcome {
        let scenario = trigger.scenario.value.as_str();
        let fired = format!("FIRED after {}", describe(held));
        if decision.resume {
            let outcome = apply(session, Some(scenario), decision).await;
            return outcome.after(&format!("{fired}: resuming the unfinished run"));
        }
        if trigger.automatic {
            let outcome = apply(session, Some(scenario), decision).await;
            return outcome.after(&format!("{fired}: applying {scenario}"));
        }
        if let Some(first) = self.notifies_instead() {
            return Outcome::told(format!("{fired}: {first} notifies; standing back"));
        }
        if let Some(told) = self
            .already_told(&session, trigger, "notice", decision)
            .await
        {
            return Outcome::told(format!("{fired}: {told}"));
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
        Outcome::told(format!("{fired}: {outcome}"))
    }

    /// Home healthy for `for` after this trigger's failover: fail back, or notify.
    async fn fail_back(
        &self,
        session: Session,
        trigger: &Trigger,
        held: Held,
        decision: Decision,
    ) -> Outcome {
        let healthy = format!(
            "home {} healthy for {}",
            self.env.home.value,
            describe(held)
        );
        if trigger.failback == FailbackMode::Auto {
            let outcome = apply(session, None, decision).await;
            return outcome.after(&format!("{healthy}: applying the failback"));
        }
        if let Some(first) = self.notifies_instead() {
            return Outcome::told(format!("{healthy}: {first} notifies; standing back"));
        }
        if let Some(told) = self
            .already_told(&session, trigger, "failback-notice", decision)
            .await
        {
            return Outcome::told(format!("{healthy}: {told}"));
        }
        let waiting = Waiting {
            status: "home-healthy",
            observed: healthy.clone(),
            command: format!("drplan apply {} --failback", self.file.display()),
        };
        let outcome = self
            .notify(session, trigger, None, None, waiting, decision)
            .await;
        Outcome::told(format!("{healthy}: {outcome}"))
    }

    /// With `[watch]`: why this watcher does not notify, when another one already
    /// claimed this notice. Watchers that decide at once may each think itself the
    /// first to agree; the notice for this trigger at this state serial is claimed in
    /// the state backend, and only the first claim notifies. A watcher that cannot
    /// claim does not notify either.
    async fn already_told(
        &self,
        session: &Session,
        trigger: &Trigger,
        kind: &str,
        decision: Decision,
    ) -> Option<String> {
        let peer = self.peer.as_ref()?;
        let name = format!("{kind}-{}-{}", trigger.name.value, decision.serial);
        match session
            .state_backend
            .claim(&name, &peer.me.name.value)
            .await
        {
            Ok(true) => None,
            Ok(false) => Some("another watcher already notified; standing back".to_string()),
            Err(error) => Some(format!("cannot claim the notice ({error}); standing back")),
        }
    }

    /// With `[watch]`: the watcher that notifies for the quorum, when not this one.
    fn notifies_instead(&self) -> Option<&str> {
        let peer = self.peer.as_ref()?;
        let first = peer.first_agreeing.as_deref()?;
        (first != peer.me.name.value).then_some(first)
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
    /// With `[watch]`: the state holds a run that did not finish (its watcher died):
    /// acting resumes it.
    resume: bool,
}

/// What came of acting on a fired trigger.
struct Outcome {
    message: String,
    /// Another process held the lock: this watcher stood back.
    locked_out: bool,
}

impl Outcome {
    fn told(message: String) -> Self {
        Self {
            message,
            locked_out: false,
        }
    }

    /// The outcome with `what` said before its message.
    fn after(self, what: &str) -> Self {
        Self {
            message: format!("{what}: {}", self.message),
            ..self
        }
    }
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
/// changed since the watcher read it at `serial` (another operator acted); or resumes
/// the unfinished run a dead watcher left.
async fn apply(session: Session, scenario: Option<&str>, decision: Decision) -> Outcome {
    let unchanged = |file: &PlanFile| match &file.state {
        Some(state) if state.serial == decision.serial => Ok(()),
        _ => Err(Error::WatcherOvertaken),
    };
    let request = if decision.resume {
        Request::Resume
    } else {
        Request::Plan(scenario.map(str::to_string))
    };
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
            let verb = if decision.resume {
                "resumed"
            } else {
                "applied"
            };
            Outcome::told(if applied.execution.complete() {
                format!("{verb} (run {run_id}); report {report}")
            } else {
                let failed = applied.execution.failed();
                format!("FAILED: {failed} step(s) failed (run {run_id}); report {report}")
            })
        }
        Err(Error::Locked { who, operation, .. }) => Outcome {
            message: format!("another operator holds the lock ({who}, {operation}): not acting"),
            locked_out: true,
        },
        Err(error) => Outcome::told(format!("not applied: {error}")),
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
