//! Turns a change set into steps, phase by phase: assess, notify, mitigate (the
//! maintenance page, resyncs of home, fences of the side being left, replicated copies
//! catching up; before them, in a switchover, the TTLs lowered), recover (tier by tier,
//! behind one gate node per tier), switch (each record after its service's health),
//! verify, resolve (the region left reprotected, the TTLs put back).
//! A scenario's own steps join their phase, in the order written, after the generated
//! ones. Phases are joined by one gate node each; with `approval = "manual"`, each
//! phase that changes something opens with one approval step.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use crate::graph::step::{Action, Change, NotifyStatus, Step, StepId, TtlWait, estimates};
use crate::model::{
    AuroraGlobal, Check, CheckKind, DataMethod, Environment, Phase, RdsInstances, ScenarioStep,
    ScenarioStepAction, Service,
};
use crate::plan::changes::{ChangeSet, Movement, Resync, Switch};
use crate::plan::ttl::{at_ttl, cached_for, lowered};

/// Builds the steps of `changes`; an empty change set gives no steps.
pub fn build(env: &Environment, changes: &ChangeSet<'_>) -> Vec<Step> {
    if changes.is_empty() {
        return Vec::new();
    }
    let mut builder = Builder {
        env,
        changes,
        steps: Vec::new(),
        ids: HashMap::new(),
        last_gate: None,
        health_of: HashMap::new(),
    };
    builder.assess();
    builder.notify(NotifyStatus::Started);
    builder.mitigate();
    builder.recover();
    builder.switch();
    builder.verify();
    builder.notify(NotifyStatus::Resolved);
    builder.reprotect();
    builder.restore_ttls();
    builder.maintenance_page(Phase::Resolve);
    match changes.approval {
        Some(MANUAL) => approve_per_phase(&builder.steps, &approver(changes.approvers)),
        _ => builder.steps,
    }
}

/// The `approval` that makes a person approve each phase that changes something.
pub const MANUAL: &str = "manual";

/// Who approves a phase: any of the scenario's `approvers`, or anyone (`manual`).
fn approver(approvers: &[String]) -> String {
    if approvers.is_empty() {
        MANUAL.to_string()
    } else {
        format!("{MANUAL}: one of {}", approvers.join(", "))
    }
}

/// One approval step at the start of each phase holding a change (other than manual
/// steps, which pause for a person anyway): it waits for what the phase's first steps
/// waited for, and every step of the phase waits for it.
fn approve_per_phase(steps: &[Step], who: &str) -> Vec<Step> {
    let mut out = Vec::with_capacity(steps.len() + Phase::ALL.len());
    for phase in Phase::ALL {
        let mut in_phase: Vec<Step> = steps.iter().filter(|s| s.phase == phase).cloned().collect();
        let changes = |s: &Step| s.action.is_change() && s.approval.is_none();
        if !in_phase.iter().any(changes) {
            out.extend(in_phase);
            continue;
        }
        let own: BTreeSet<StepId> = in_phase.iter().map(|s| s.id.clone()).collect();
        let id = StepId::new(format!("approve:{}", phase.name()));
        let mut before = Vec::new();
        for step in &mut in_phase {
            let (inside, outside): (Vec<StepId>, Vec<StepId>) =
                step.depends_on.drain(..).partition(|d| own.contains(d));
            for dep in outside {
                if !before.contains(&dep) {
                    before.push(dep);
                }
            }
            step.depends_on = inside;
            if step.depends_on.is_empty() {
                step.depends_on.push(id.clone());
            }
        }
        out.push(Step {
            id,
            phase,
            action: Action::Approve,
            change: None,
            depends_on: before,
            approval: Some(who.to_string()),
            estimate: Duration::ZERO,
        });
        out.extend(in_phase);
    }
    out
}

struct Builder<'a, 'e> {
    env: &'e Environment,
    changes: &'a ChangeSet<'e>,
    steps: Vec<Step>,
    /// Step id → index.
    ids: HashMap<StepId, usize>,
    /// The gate closing the last non-empty phase.
    last_gate: Option<StepId>,
    /// Service → the id of its health step.
    health_of: HashMap<String, StepId>,
}

impl Builder<'_, '_> {
    /// Adds a step with id `ACTION:KEY` (made unique with a suffix) and returns the id.
    fn add(&mut self, phase: Phase, action: Action, key: &str, depends_on: Vec<StepId>) -> StepId {
        let base = format!("{}:{}", action.name(), slug(key));
        let mut id = StepId::new(base.clone());
        let mut n = 1;
        while self.ids.contains_key(&id) {
            n += 1;
            id = StepId::new(format!("{base}-{n}"));
        }
        let estimate = self.estimate(&action);
        let approval = Self::approval(&action);
        self.ids.insert(id.clone(), self.steps.len());
        self.steps.push(Step {
            id: id.clone(),
            phase,
            action,
            change: None,
            depends_on,
            approval,
            estimate,
        });
        id
    }

    /// Adds a step that changes a value: `add`, with the value before and after.
    fn add_change(
        &mut self,
        phase: Phase,
        action: Action,
        change: Change,
        key: &str,
        depends_on: Vec<StepId>,
    ) -> StepId {
        let id = self.add(phase, action, key, depends_on);
        self.steps[self.ids[&id]].change = Some(change);
        id
    }

    fn estimate(&self, action: &Action) -> Duration {
        match action {
            Action::Gate { .. }
            | Action::Notify { .. }
            | Action::Approve
            | Action::RestoreTtl { .. } => Duration::ZERO,
            Action::CheckRegion { .. } | Action::CheckMembers { .. } | Action::CheckRpo { .. } => {
                estimates::CHECK
            }
            Action::Upload { .. } | Action::Revert { .. } => estimates::UPLOAD,
            Action::Activate {
                service, region, ..
            } => {
                let standby = self.env.region(region).and_then(|r| r.standby.as_deref());
                self.env
                    .service(service)
                    .map_or(Duration::ZERO, |s| s.activation_estimate(standby))
            }
            Action::Restore { service, .. } => self
                .env
                .service(service)
                .map_or(Duration::ZERO, Service::estimate),
            Action::Deactivate {
                service, timeout, ..
            } => self
                .env
                .service(service)
                .map_or(Duration::ZERO, Service::deactivate_estimate)
                .min(*timeout),
            Action::Resync { service, .. } => self
                .env
                .service(service)
                .map_or(Duration::ZERO, Service::resync_estimate),
            Action::Backup { service, .. } => self
                .env
                .service(service)
                .map_or(Duration::ZERO, Service::backup_estimate),
            Action::CatchUp { .. } => estimates::CATCH_UP,
            Action::Health { probe, .. } => probe.as_ref().map_or(Duration::ZERO, |p| p.interval),
            Action::Switch { record, .. } => self
                .env
                .record(record)
                .map_or(Duration::ZERO, |r| Duration::from_secs(u64::from(r.ttl()))),
            Action::LowerTtl { wait, .. } => *wait,
            Action::Verify { .. } => estimates::VERIFY,
            Action::Run { .. } => estimates::RUN,
            Action::Manual { .. } => estimates::MANUAL,
        }
    }

    /// Manual steps always need a person to confirm them.
    fn approval(action: &Action) -> Option<String> {
        matches!(action, Action::Manual { .. }).then(|| "confirm".to_string())
    }

    /// The gate of the previous phase, which a phase's first steps wait for.
    fn after_last_gate(&self) -> Vec<StepId> {
        self.last_gate.iter().cloned().collect()
    }

    /// The steps of the phase begun at `first` that nothing in it waits for, and the
    /// previous gate if nothing in it waits for that either.
    fn frontier(&self, first: usize) -> Vec<StepId> {
        let awaited: BTreeSet<&StepId> = self.steps[first..]
            .iter()
            .flat_map(|s| &s.depends_on)
            .collect();
        let mut open: Vec<StepId> = self.steps[first..]
            .iter()
            .filter(|s| !awaited.contains(&s.id))
            .map(|s| s.id.clone())
            .collect();
        open.extend(
            self.last_gate
                .iter()
                .filter(|gate| !awaited.contains(gate))
                .cloned(),
        );
        open
    }

    /// Appends the scenario's own steps for `phase`, in order, after everything the
    /// phase generated, and closes a non-empty phase with a gate over its frontier.
    fn close_phase(&mut self, phase: Phase, first: usize) {
        for own in self.changes.own_steps.iter().filter(|s| s.phase == phase) {
            let after = self.frontier(first);
            self.add_own(own, after);
        }
        if self.steps.len() == first {
            return;
        }
        let frontier = self.frontier(first);
        let gate = self.add(phase, Action::Gate { tier: None }, phase.name(), frontier);
        self.last_gate = Some(gate);
    }

    /// Adds one of the scenario's own steps after `after`, with its declared estimate.
    fn add_own(&mut self, own: &ScenarioStep, after: Vec<StepId>) -> StepId {
        let id = self.add(own.phase, self.own_action(own), &own.name, after);
        if let Some(estimate) = own.estimate {
            self.steps[self.ids[&id]].estimate = estimate;
        }
        id
    }

    /// The action of one of the scenario's own steps.
    fn own_action(&self, own: &ScenarioStep) -> Action {
        match &own.action {
            ScenarioStepAction::Run(argv) => Action::Run {
                name: own.name.clone(),
                argv: argv.render_command(&crate::plan::placeholders(
                    self.env,
                    self.changes.target_region,
                )),
                timeout: own.timeout,
                best_effort: own.best_effort,
                until: own.until.clone(),
            },
            ScenarioStepAction::Manual(text) => Action::Manual {
                name: own.name.clone(),
                instruction: text.clone(),
            },
        }
    }

    /// The scenario's own steps of a phase that holds nothing back (notify, resolve):
    /// in the order written, the first after the previous gate.
    fn own_steps_alongside(&mut self, phase: Phase) {
        let mut after = self.after_last_gate();
        for own in self.changes.own_steps.iter().filter(|s| s.phase == phase) {
            after = vec![self.add_own(own, after)];
        }
    }

    fn assess(&mut self) {
        let first = self.steps.len();
        if let Some(region) = self.changes.target_region {
            let action = Action::CheckRegion {
                region: region.to_string(),
            };
            self.add(Phase::Assess, action, region, vec![]);
        }
        for data in self.changes.data.iter().filter(|d| d.backups.is_some()) {
            let name = &data.name.value;
            let action = Action::CheckRpo {
                data: name.clone(),
                rpo: data.rpo,
            };
            self.add(Phase::Assess, action, name, vec![]);
        }
        self.close_phase(Phase::Assess, first);
    }

    /// The timeline hangs off the previous gate and holds nothing back.
    fn notify(&mut self, status: NotifyStatus) {
        let phase = if status == NotifyStatus::Started {
            Phase::Notify
        } else {
            Phase::Resolve
        };
        for (index, entry) in self.env.notify.iter().enumerate() {
            let (after, key) = match status {
                NotifyStatus::Started => (entry.after, format!("{}-{}", index + 1, entry.to)),
                NotifyStatus::Resolved => (
                    Duration::ZERO,
                    format!("{}-{}-resolved", index + 1, entry.to),
                ),
            };
            let action = Action::Notify {
                index,
                to: entry.to.clone(),
                after,
                status,
            };
            self.add(phase, action, &key, self.after_last_gate());
        }
        self.own_steps_alongside(phase);
    }

    /// The maintenance page; then home made a replica again (failback); then, in a
    /// switchover, the TTLs lowered and the old ones waited out; once every copy
    /// follows and every TTL is low, the side being left is fenced; once everything is
    /// fenced, every replicated copy to be promoted catches up — nothing is promoted
    /// before all are.
    fn mitigate(&mut self) {
        let first = self.steps.len();
        self.maintenance_page(Phase::Mitigate);
        let resynced: Vec<StepId> = self
            .changes
            .resyncs
            .iter()
            .map(|resync| self.resync(Phase::Mitigate, resync))
            .collect();
        let before_fences = if resynced.is_empty() {
            self.after_last_gate()
        } else {
            resynced
        };
        let lowered = self.lower_ttls(&before_fences);
        let before_fences = if lowered.is_empty() {
            before_fences
        } else {
            lowered
        };
        let checked = self.check_members(&before_fences);
        let before_fences = if checked.is_empty() {
            before_fences
        } else {
            checked
        };
        let mut fenced = Vec::new();
        for fence in &self.changes.fences {
            let service = fence.service;
            let name = service.name.value.as_str();
            let Some(deactivate) = &service.deactivate else {
                continue;
            };
            let context = self
                .env
                .context(Some(&fence.region))
                .service(name)
                .from(&fence.region)
                .to(self.changes.target_region.unwrap_or(&fence.region));
            let timeout = if fence.best_effort {
                deactivate.timeout.min(estimates::FENCE_BOUND)
            } else {
                deactivate.timeout
            };
            let action = Action::Deactivate {
                service: name.to_string(),
                region: fence.region.clone(),
                command: deactivate.command.render(&context),
                timeout,
                best_effort: fence.best_effort,
            };
            fenced.push(self.add(Phase::Mitigate, action, name, before_fences.clone()));
        }
        let mut before_catch_up = if fenced.is_empty() {
            before_fences
        } else {
            fenced
        };
        let backed_up = self.backups(&before_catch_up);
        if !backed_up.is_empty() {
            before_catch_up = backed_up;
        }
        for catch_up in &self.changes.catch_up {
            let data = catch_up.data.name.value.clone();
            let action = Action::CatchUp {
                data: data.clone(),
                region: catch_up.region.clone(),
                timeout: estimates::CATCH_UP_TIMEOUT,
            };
            self.add(Phase::Mitigate, action, &data, before_catch_up.clone());
        }
        self.close_phase(Phase::Mitigate, first);
    }

    /// The TTL of each record a switchover switches with a `switchover_ttl`, lowered
    /// after `after`, as the first change of the plan's work: the old TTL is waited out
    /// while the side being left still serves, before it is fenced (the wait costs
    /// time, not availability), so the switch later takes effect within the lowered
    /// TTL. The old TTL is the longest the sets carry or the declared one, whichever is
    /// longer: sets found already lowered (a run stopped mid-way) may have been lowered
    /// moments ago. Nothing to lower for a record without sets yet.
    fn lower_ttls(&mut self, after: &[StepId]) -> Vec<StepId> {
        let mut lowered_ids = Vec::new();
        for switch in &self.changes.switches {
            let Some(ttl) = lowered(switch, self.changes.movement) else {
                continue;
            };
            if switch.before.is_empty() {
                continue;
            }
            let record = switch.record;
            let old = cached_for(record, &switch.before).max(record.ttl());
            let action = Action::LowerTtl {
                record: record.key.value.clone(),
                name: record.name.clone(),
                record_type: record.record_type.clone(),
                ttl: Duration::from_secs(u64::from(ttl)),
                wait: Duration::from_secs(u64::from(old)),
            };
            let change = Change::Weights {
                before: switch.before.clone(),
                after: at_ttl(&switch.before, ttl),
            };
            let key = &record.key.value;
            let id = self.add_change(Phase::Mitigate, action, change, key, after.to_vec());
            lowered_ids.push(id);
        }
        lowered_ids
    }

    /// Once the switchover is verified, each record whose TTL it lowered gets its
    /// declared TTL back; the timeline is not held back by it.
    fn restore_ttls(&mut self) {
        for switch in &self.changes.switches {
            let Some(ttl) = lowered(switch, self.changes.movement) else {
                continue;
            };
            let record = switch.record;
            let action = Action::RestoreTtl {
                record: record.key.value.clone(),
                name: record.name.clone(),
                record_type: record.record_type.clone(),
                ttl: Duration::from_secs(u64::from(cached_for(record, &switch.after))),
            };
            let change = Change::Weights {
                before: at_ttl(&switch.after, ttl),
                after: switch.after.clone(),
            };
            let key = &record.key.value;
            self.add_change(Phase::Resolve, action, change, key, self.after_last_gate());
        }
    }

    /// Before a planned move fences anything: every Aurora service switched over has
    /// all its clusters in its global cluster (a refusal then leaves the side being
    /// left serving, instead of fenced with nothing promoted).
    fn check_members(&mut self, after: &[StepId]) -> Vec<StepId> {
        if self.changes.movement == Some(Movement::Failover) {
            return Vec::new();
        }
        let mut checked = Vec::new();
        for recovery in &self.changes.recoveries {
            let service = &recovery.service.name.value;
            if recovery.service.aurora.is_none() || recovery.region == recovery.from {
                continue;
            }
            let action = Action::CheckMembers {
                service: service.clone(),
                region: recovery.region.clone(),
            };
            let key = format!("{service}-members");
            checked.push(self.add(Phase::Mitigate, action, &key, after.to_vec()));
        }
        checked
    }

    /// Backs up, once fenced, the side a planned move leaves of each service rebuilt
    /// from backups where it moves.
    fn backups(&mut self, after: &[StepId]) -> Vec<StepId> {
        let mut done = Vec::new();
        for backup in &self.changes.backups {
            let service = backup.service;
            let name = service.name.value.as_str();
            let Some(lifecycle) = &service.backup else {
                continue;
            };
            let context = self
                .env
                .context(Some(&backup.region))
                .service(name)
                .from(&backup.region)
                .to(&backup.to);
            let action = Action::Backup {
                service: name.to_string(),
                region: backup.region.clone(),
                command: lifecycle.command.render(&context),
                backups: self
                    .env
                    .data_of(name)
                    .filter(|d| d.method == DataMethod::Restore)
                    .filter_map(|d| d.backups.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                timeout: lifecycle.timeout,
            };
            done.push(self.add(Phase::Mitigate, action, name, after.to_vec()));
        }
        done
    }

    /// Once recovery is verified, the region left becomes a replica of the new active
    /// one (redundancy regained); the timeline is not held back by it.
    fn reprotect(&mut self) {
        for reprotect in &self.changes.reprotects {
            self.resync(Phase::Resolve, reprotect);
        }
    }

    /// Makes `resync.region` a replica of the active side again: the service's
    /// `resync`, or a manual step when it declares none (never a silent promotion of
    /// a stale copy).
    fn resync(&mut self, phase: Phase, resync: &Resync<'_>) -> StepId {
        let service = resync.service;
        let name = service.name.value.as_str();
        let context = self
            .env
            .context(Some(&resync.region))
            .service(name)
            .from(&resync.from);
        let action = match &service.resync {
            Some(lifecycle) => Action::Resync {
                service: name.to_string(),
                region: resync.region.clone(),
                from: resync.from.clone(),
                command: lifecycle.command.render(&context),
                timeout: lifecycle.timeout,
            },
            None => Action::Manual {
                name: format!(
                    "make {name} in {} a replica of {}",
                    resync.region, resync.from
                ),
                instruction: match (&service.aurora, &service.rds) {
                    (Some(aurora), _) => aurora_rejoin(name, aurora, &resync.region),
                    (None, Some(rds)) => rds_reprotect(name, rds, &resync.region, &resync.from),
                    (None, None) => format!(
                        "{name} declares no `resync`: make its copy in {} a replica of the active one in {} (reprotect), and confirm once it follows",
                        resync.region, resync.from
                    ),
                },
            },
        };
        self.add(phase, action, name, self.after_last_gate())
    }

    /// The scenario's maintenance page goes up in the mitigate phase (`Upload`) and
    /// comes down in the resolve phase, once the checks passed (`Revert`).
    fn maintenance_page(&mut self, phase: Phase) {
        let Some(page) = self.changes.maintenance_page else {
            return;
        };
        let (bucket, key, file) = (
            page.bucket.value.clone(),
            page.key.clone(),
            page.file.clone(),
        );
        let action = if phase == Phase::Mitigate {
            Action::Upload { bucket, key, file }
        } else {
            Action::Revert { bucket, key, file }
        };
        self.add(phase, action, "maintenance-page", self.after_last_gate());
    }

    /// Per service, in tier order: activate (or restore), then its health step. A
    /// service waits for the health of its same-tier dependencies that move; earlier
    /// tiers are behind the tier gate.
    fn recover(&mut self) {
        let first = self.steps.len();
        let mut tier_gate = self.after_last_gate();
        let mut members: Vec<StepId> = Vec::new();
        let mut current_tier = None;
        for recovery in &self.changes.recoveries {
            let service = recovery.service;
            if current_tier != Some(service.tier.value) {
                if let Some(tier) = current_tier {
                    tier_gate = vec![self.tier_gate(tier, std::mem::take(&mut members))];
                }
                current_tier = Some(service.tier.value);
            }
            let same_tier = |d: &&crate::model::Located<String>| {
                self.env
                    .service(&d.value)
                    .is_some_and(|dep| dep.tier.value == service.tier.value)
            };
            let deps = service
                .depends_on
                .iter()
                .filter(same_tier)
                .filter_map(|d| self.health_of.get(&d.value).cloned());
            let depends_on: Vec<StepId> = tier_gate.iter().cloned().chain(deps).collect();
            let name = &service.name.value;
            let (action, change) = (
                recovery.action(self.env, self.changes.movement),
                recovery.change(),
            );
            let recovered = self.add_change(Phase::Recover, action, change, name, depends_on);
            let context = self.env.context(Some(&recovery.region)).service(name);
            let probe = service.health.as_ref().map(|probe| probe.render(&context));
            let action = Action::Health {
                service: name.clone(),
                region: recovery.region.clone(),
                probe,
            };
            let health = self.add(Phase::Recover, action, name, vec![recovered]);
            self.health_of.insert(name.clone(), health.clone());
            members.push(health);
        }
        if let Some(tier) = current_tier {
            self.tier_gate(tier, members);
        }
        self.close_phase(Phase::Recover, first);
    }

    fn tier_gate(&mut self, tier: u32, members: Vec<StepId>) -> StepId {
        let key = format!("tier-{tier}");
        let action = Action::Gate { tier: Some(tier) };
        self.add(Phase::Recover, action, &key, members)
    }

    /// Each record moves once its service is healthy where the record will point; at
    /// its lowered TTL when the plan lowered it (taking effect within that TTL).
    fn switch(&mut self) {
        let first = self.steps.len();
        for switch in &self.changes.switches {
            let record = switch.record;
            let depends_on = match self.health_of.get(&record.follows.value) {
                Some(health) => vec![health.clone()],
                None => self.after_last_gate(),
            };
            let action = Action::Switch {
                record: record.key.value.clone(),
                name: record.name.clone(),
                record_type: record.record_type.clone(),
            };
            let lowered = lowered(switch, self.changes.movement);
            let key = &record.key.value;
            let id = self.add_change(
                Phase::Switch,
                action,
                switched(switch, lowered),
                key,
                depends_on,
            );
            if let Some(ttl) = lowered {
                self.steps[self.ids[&id]].estimate = Duration::from_secs(u64::from(ttl));
            }
        }
        self.close_phase(Phase::Switch, first);
    }

    fn verify(&mut self) {
        let first = self.steps.len();
        for (index, check) in self.env.checks.iter().enumerate() {
            let action = Action::Verify {
                index,
                name: check.name.clone(),
                ttl_wait: self.ttl_wait(check),
                retries: self.env.retries(check.retries),
            };
            self.add(Phase::Verify, action, &check.name, self.after_last_gate());
        }
        self.close_phase(Phase::Verify, first);
    }

    /// The record a client-facing check reaches (its URL's host) when this plan
    /// switches it, with the TTL its old answer may still be cached for.
    fn ttl_wait(&self, check: &Check) -> Option<TtlWait> {
        let CheckKind::Http { url, .. } = &check.kind else {
            return None;
        };
        let url = reqwest::Url::parse(&url.to_string()).ok()?;
        let host = url.host_str()?;
        self.steps
            .iter()
            .find_map(|step| match (&step.action, &step.change) {
                (Action::Switch { record, .. }, Some(Change::Weights { before, .. })) => {
                    let declared = self.env.record(record)?;
                    let name = declared.name.trim_end_matches('.');
                    (name.eq_ignore_ascii_case(host)).then(|| TtlWait {
                        record: record.clone(),
                        name: name.to_string(),
                        ttl: Duration::from_secs(u64::from(cached_for(declared, before))),
                    })
                }
                _ => None,
            })
    }
}

/// The sets a switch moves, before and after: at the lowered TTL, when there is one.
fn switched(switch: &Switch<'_>, lowered: Option<u32>) -> Change {
    let (before, after) = match lowered {
        Some(ttl) => (at_ttl(&switch.before, ttl), at_ttl(&switch.after, ttl)),
        None => (switch.before.clone(), switch.after.clone()),
    };
    Change::Weights { before, after }
}

/// What a person does to make an Aurora service's cluster in `region` a secondary
/// again: nothing after a managed failover or a switchover; a new cluster after a
/// detach, which AWS cannot undo.
fn aurora_rejoin(name: &str, aurora: &AuroraGlobal, region: &str) -> String {
    let global = &aurora.global_cluster;
    let cluster = aurora.cluster(region).unwrap_or_default();
    format!(
        "{name} is the Aurora global database {global}. After FailoverGlobalCluster or SwitchoverGlobalCluster, {cluster} in {region} already is a secondary: confirm. After a detach (RemoveFromGlobalCluster), AWS cannot rejoin {cluster}: create a new secondary cluster in {region} (aws rds create-db-cluster --global-cluster-identifier {global} …), name it in `aurora.clusters` (or declare `resync` to do this), and confirm once it is available"
    )
}

/// What a person does to make an RDS service's instance in `region` a read replica of
/// the one in `from` again: AWS cannot turn a promoted or old primary back into a
/// replica, so a new read replica is created, and the old instance is retired by a
/// person (drplan never deletes a database).
fn rds_reprotect(name: &str, rds: &RdsInstances, region: &str, from: &str) -> String {
    let old = rds.instance(region).unwrap_or_default();
    let source = rds.instance(from).unwrap_or_default();
    format!(
        "{name} is the RDS instance {source} in {from}, promoted from a read replica. AWS cannot make {old} in {region} its replica again: create a new cross-region read replica of {source} in {region} (aws rds create-db-instance-read-replica --region {region} --source-db-instance-identifier <ARN of {source}> --db-instance-identifier <new id>), name it for {region} in `rds.instances` (or declare `resync` to do this), retire {old} yourself, and confirm once the new replica is available; the failback then promotes it once its ReplicaLag is 0"
    )
}

/// A step-id-safe form of a name: lowercase letters (any script), digits, `.`, `_`
/// and `-`.
pub fn slug(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_alphanumeric() || c == '.' || c == '_' {
            slug.extend(c.to_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_keep_letters_of_any_script_and_fold_the_rest_into_dashes() {
        assert_eq!(slug("Shop answers!"), "shop-answers");
        assert_eq!(slug("ünïcode"), "ünïcode");
        assert_eq!(slug("web.frontend_2"), "web.frontend_2");
        assert_eq!(slug("  --a  b-- "), "a-b");
    }
}
