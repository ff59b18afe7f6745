//! Desired minus actual: which services must be activated or restored where, and
//! which DNS records must move. What is already true makes no change.
//!
//! Moving is asymmetric: the side being left is fenced (`deactivate`: best effort in
//! a failover, mandatory in a switchover or a failback); a switchover and a failback
//! promote a replicated copy only once it has caught up, and a failback first makes
//! home a replica of the active side again (`resync`, or a manual step).

use std::collections::{BTreeMap, HashSet};

use super::Intent;
use crate::graph::step::{Action, Change, Placement};
use crate::model::service::DEFAULT_LIFECYCLE_TIMEOUT;
use crate::model::{
    self, AuroraMove, BackupLocation, DataMethod, DataSet, DnsRecord, Environment, MaintenancePage,
    RecordSet, ScenarioStep, Service, Strategy, keep_observed_failover, weighted_sets,
};
use crate::observe::ActualState;

/// Everything a plan must change, before it is laid out as steps.
#[derive(Debug)]
pub struct ChangeSet<'e> {
    /// The scenario's approval rule (`manual`: each phase that changes something
    /// waits for a person).
    pub approval: Option<&'e str>,
    /// Who may approve those phases (empty: anyone).
    pub approvers: &'e [String],
    /// The region recovery moves to, when it moves.
    pub target_region: Option<&'e str>,
    /// The data sets of the services recovered.
    pub data: Vec<&'e DataSet>,
    pub maintenance_page: Option<&'e MaintenancePage>,
    /// In tier order, then the order written.
    pub recoveries: Vec<Recovery<'e>>,
    pub switches: Vec<Switch<'e>>,
    pub own_steps: &'e [ScenarioStep],
    /// Dependencies of moving services that stay where they are, by name.
    pub staying: Vec<Staying<'e>>,
    /// Services in scope that cannot move to the target region.
    pub unmovable: Vec<&'e str>,
    /// How services move, when they move.
    pub movement: Option<Movement>,
    /// Services fenced in the region they leave.
    pub fences: Vec<Fence<'e>>,
    /// Services whose copy at home is made a replica again before a failback.
    pub resyncs: Vec<Resync<'e>>,
    /// Services whose copy in the region left is made a replica of the new active one
    /// once recovery is verified (a switchover or a failback: that region is up), so
    /// the next failover has a copy to promote.
    pub reprotects: Vec<Resync<'e>>,
    /// Replicated data sets whose copy must catch up before it is promoted.
    pub catch_up: Vec<CatchUp<'e>>,
    /// Services rebuilt from backups where they move, backed up in the region a
    /// planned move leaves (once fenced) so the restore holds every write.
    pub backups: Vec<Backup<'e>>,
    /// Moving services that hold data but declare no `deactivate`.
    pub unfenced: Vec<&'e str>,
}

/// How services move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    /// Unplanned: the region being left is presumed down.
    Failover,
    /// Planned: both regions up; fence, catch up, promote.
    Switchover,
    /// Home again: resync home, then a switchover.
    Failback,
}

/// A service fenced in the region it leaves.
#[derive(Debug)]
pub struct Fence<'e> {
    pub service: &'e Service,
    pub region: String,
    pub best_effort: bool,
}

/// A service whose copy in `region` is made a replica of the one in `from`.
#[derive(Debug)]
pub struct Resync<'e> {
    pub service: &'e Service,
    pub region: String,
    pub from: String,
}

/// A service backed up in `region` before it is restored in `to`.
#[derive(Debug)]
pub struct Backup<'e> {
    pub service: &'e Service,
    pub region: String,
    pub to: String,
}

/// A replicated data set whose copy in `region` must catch up before promotion.
#[derive(Debug)]
pub struct CatchUp<'e> {
    pub data: &'e DataSet,
    pub region: String,
}

/// A service that stays where it is while services depending on it move.
#[derive(Debug)]
pub struct Staying<'e> {
    pub service: &'e str,
    /// Where it stays.
    pub region: String,
    /// The moving services that depend on it, in plan order.
    pub dependents: Vec<&'e str>,
}

impl ChangeSet<'_> {
    /// True when nothing needs doing.
    pub fn is_empty(&self) -> bool {
        self.recoveries.is_empty() && self.switches.is_empty() && self.own_steps.is_empty()
    }
}

/// One service brought up somewhere, or restored in place.
#[derive(Debug)]
pub struct Recovery<'e> {
    pub service: &'e Service,
    pub region: String,
    pub from: String,
    pub restore_from: Option<BackupLocation>,
}

impl Recovery<'_> {
    /// The step action that performs this recovery, when services move as `movement`.
    pub fn action(&self, env: &Environment, movement: Option<Movement>) -> Action {
        let service = self.service.name.value.clone();
        let region = self.region.clone();
        let context = env
            .context(Some(&self.region))
            .service(&self.service.name.value)
            .from(&self.from)
            .to(&self.region);
        let timeout =
            |c: Option<&model::Lifecycle>| c.map_or(DEFAULT_LIFECYCLE_TIMEOUT, |c| c.timeout);
        match &self.restore_from {
            Some(backups) => Action::Restore {
                // `{backup}` stays for the step to fill in with the backup it finds.
                command: self.service.restore.as_ref().map(|c| {
                    let command = c.command.render_command(&context);
                    command
                        .0
                        .iter()
                        .map(crate::model::Template::source)
                        .collect()
                }),
                timeout: timeout(self.service.restore.as_ref()),
                service,
                region,
                backups: backups.clone(),
            },
            None => Action::Activate {
                command: self
                    .service
                    .activate
                    .as_ref()
                    .map(|c| c.command.render(&context)),
                timeout: timeout(self.service.activate.as_ref()),
                retries: env.retries(self.service.activate.as_ref().and_then(|a| a.retries)),
                aurora: self.service.aurora.as_ref().map(|_| aurora_move(movement)),
                service,
                region,
            },
        }
    }

    /// Where the service is active before the recovery and after it.
    pub fn change(&self) -> Change {
        Change::Placement {
            before: Placement {
                region: self.from.clone(),
                restored_from: None,
            },
            after: Placement {
                region: self.region.clone(),
                restored_from: self.restore_from.clone(),
            },
        }
    }
}

/// How an Aurora service's writer moves: a failover detaches (or fails over) the
/// target cluster; a switchover and a failback switch over, since both regions are up.
fn aurora_move(movement: Option<Movement>) -> AuroraMove {
    match movement {
        Some(Movement::Failover) => AuroraMove::Failover,
        Some(Movement::Switchover | Movement::Failback) | None => AuroraMove::Switchover,
    }
}

/// A DNS record whose weighted record sets must change.
#[derive(Debug)]
pub struct Switch<'e> {
    pub record: &'e DnsRecord,
    pub before: Vec<RecordSet>,
    pub after: Vec<RecordSet>,
}

/// Compares what `intent` wants with `actual`.
pub fn compute<'e>(
    env: &'e Environment,
    intent: &Intent<'e>,
    actual: &ActualState,
) -> ChangeSet<'e> {
    let scenario = match intent {
        Intent::Scenario(scenario) => Some(*scenario),
        Intent::Failback => None,
    };
    let in_scope = |service: &Service| match scenario.and_then(|s| s.services.as_ref()) {
        Some(names) => names.iter().any(|n| n.value == service.name.value),
        None => true,
    };
    let target_region = match (intent, scenario.map(|s| &s.strategy)) {
        (Intent::Failback, _) => Some(env.home.value.as_str()),
        (_, Some(strategy)) => strategy.to().map(|to| to.value.as_str()),
        _ => None,
    };
    let restoring = scenario.is_some_and(|s| s.strategy == Strategy::Restore);
    let mut recoveries = Vec::new();
    let mut unmovable = Vec::new();
    for service in env.services.iter().filter(|s| in_scope(s)) {
        let from = actual.active_region(env, &service.name.value);
        if restoring {
            recoveries.extend(restores(env, service, from));
        } else if let Some(to) = target_region {
            if !service.runs_in(to) {
                unmovable.push(service.name.value.as_str());
            } else if from != to && env.restored_when_moved(service) {
                recoveries.extend(restores(env, service, to).into_iter().map(|r| Recovery {
                    from: from.to_string(),
                    ..r
                }));
            } else if from != to {
                recoveries.push(Recovery {
                    service,
                    region: to.to_string(),
                    from: from.to_string(),
                    restore_from: None,
                });
            }
        }
    }
    recoveries.sort_by_key(|r| r.service.tier.value);
    let recovered: HashSet<&str> = recoveries
        .iter()
        .map(|r| r.service.name.value.as_str())
        .collect();
    let switches = target_region.map_or_else(Vec::new, |to| switches(env, &recovered, to, actual));
    let data = env
        .data
        .iter()
        .filter(|d| recovered.contains(d.service.value.as_str()))
        .collect();
    let staying = staying(env, &recoveries, &recovered, actual);
    let movement = match (intent, scenario.map(|s| &s.strategy)) {
        (Intent::Failback, _) => Some(Movement::Failback),
        (_, Some(Strategy::Failover { .. })) => Some(Movement::Failover),
        (_, Some(Strategy::Switchover { .. })) => Some(Movement::Switchover),
        _ => None,
    };
    let lifecycle = movement.map(|m| lifecycle(env, m, &recoveries));
    let (fences, resyncs, reprotects, catch_up, backups, unfenced) = lifecycle.unwrap_or_default();
    ChangeSet {
        approval: scenario.and_then(|s| s.approval.as_deref()),
        approvers: scenario.map_or(&[], |s| s.approvers.as_slice()),
        target_region: target_region.filter(|_| !recoveries.is_empty()),
        data,
        maintenance_page: scenario.and_then(|s| s.maintenance_page.as_ref()),
        switches,
        own_steps: scenario.map_or(&[], |s| s.steps.as_slice()),
        staying,
        unmovable,
        recoveries,
        movement,
        fences,
        resyncs,
        reprotects,
        catch_up,
        backups,
        unfenced,
    }
}

type Lifecycle<'e> = (
    Vec<Fence<'e>>,
    Vec<Resync<'e>>,
    Vec<Resync<'e>>,
    Vec<CatchUp<'e>>,
    Vec<Backup<'e>>,
    Vec<&'e str>,
);

/// The fences, resyncs and catch-ups of the services that move.
fn lifecycle<'e>(
    env: &'e Environment,
    movement: Movement,
    recoveries: &[Recovery<'e>],
) -> Lifecycle<'e> {
    let (mut fences, mut resyncs, mut reprotects, mut catch_up, mut backups, mut unfenced) =
        Lifecycle::default();
    for recovery in recoveries.iter().filter(|r| r.region != r.from) {
        let service = recovery.service;
        let name = service.name.value.as_str();
        let holds_data = env.data_of(name).any(|d| d.method.is_persistent());
        // Restoring the newest backups where it moves is all the carrying over it needs.
        let restored = recovery.restore_from.is_some();
        if service.deactivate.is_some() {
            fences.push(Fence {
                service,
                region: recovery.from.clone(),
                best_effort: movement == Movement::Failover,
            });
        } else if holds_data && !(service.aurora.is_some() && movement != Movement::Failover) {
            // A global cluster's switchover fences the old primary itself.
            unfenced.push(name);
        }
        let backed_up = backups
            .iter()
            .any(|b: &Backup<'_>| b.service.name == service.name);
        if movement != Movement::Failover && restored && service.backup.is_some() && !backed_up {
            backups.push(Backup {
                service,
                region: recovery.from.clone(),
                to: recovery.region.clone(),
            });
        }
        if movement == Movement::Failback && holds_data && !restored {
            resyncs.push(Resync {
                service,
                region: recovery.region.clone(),
                from: recovery.from.clone(),
            });
        }
        if movement != Movement::Failover && holds_data && !restored && service.resync.is_some() {
            reprotects.push(Resync {
                service,
                region: recovery.from.clone(),
                from: recovery.region.clone(),
            });
        }
        if movement != Movement::Failover {
            catch_up.extend(
                env.data_of(name)
                    .filter(|d| d.method == DataMethod::Replicate)
                    .map(|data| CatchUp {
                        data,
                        region: recovery.region.clone(),
                    }),
            );
        }
    }
    (fences, resyncs, reprotects, catch_up, backups, unfenced)
}

/// One restore per distinct backup location of the service's restorable data.
fn restores<'e>(env: &'e Environment, service: &'e Service, region: &str) -> Vec<Recovery<'e>> {
    let mut locations: Vec<&BackupLocation> = env
        .data_of(&service.name.value)
        .filter(|d| d.method == DataMethod::Restore)
        .filter_map(|d| d.backups.as_ref())
        .collect();
    locations.dedup();
    locations
        .into_iter()
        .map(|backups| Recovery {
            service,
            region: region.to_string(),
            from: region.to_string(),
            restore_from: Some(backups.clone()),
        })
        .collect()
}

/// Records following a recovered service, whose record sets differ from the ones
/// pointing at the region it is recovered in.
fn switches<'e>(
    env: &'e Environment,
    recovered: &HashSet<&str>,
    to: &str,
    actual: &ActualState,
) -> Vec<Switch<'e>> {
    env.records
        .iter()
        .filter(|record| {
            let follows = record.follows.value.as_str();
            recovered.contains(follows) || actual.active_region(env, follows) == to
        })
        .filter_map(|record| {
            let before = actual
                .records
                .get(&record.key.value)
                .cloned()
                .unwrap_or_default();
            let after = keep_observed_failover(weighted_sets(record, &env.home.value, to), &before);
            (before != after).then_some(Switch {
                record,
                before,
                after,
            })
        })
        .collect()
}

/// Direct dependencies of recovered services that are not recovered themselves.
fn staying<'e>(
    env: &'e Environment,
    recoveries: &[Recovery<'e>],
    recovered: &HashSet<&str>,
    actual: &ActualState,
) -> Vec<Staying<'e>> {
    let mut staying: BTreeMap<&str, Staying<'e>> = BTreeMap::new();
    for recovery in recoveries.iter().filter(|r| r.region != r.from) {
        let dependent = recovery.service.name.value.as_str();
        let stays = recovery
            .service
            .depends_on
            .iter()
            .filter(|d| !recovered.contains(d.value.as_str()))
            .filter_map(|d| env.service(&d.value));
        for service in stays {
            let name = service.name.value.as_str();
            let entry = staying.entry(name).or_insert_with(|| Staying {
                service: name,
                region: actual.active_region(env, name).to_string(),
                dependents: Vec::new(),
            });
            if !entry.dependents.contains(&dependent) {
                entry.dependents.push(dependent);
            }
        }
    }
    staying.into_values().collect()
}
