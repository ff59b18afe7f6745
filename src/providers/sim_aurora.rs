//! The sim's Aurora global databases: for each service that declares `aurora`, the
//! region whose cluster writes and the regions whose clusters follow it as members of
//! its global cluster. The moves play AWS's rules, so a rehearsal meets the refusals a
//! real failback would:
//! - `SwitchoverGlobalCluster` needs the target to be a member and the writer's region
//!   up; the old writer stays a member (a secondary);
//! - `FailoverGlobalCluster` needs the target to be a member and keeps every member
//!   (the old writer rejoins as a secondary once its region is back);
//! - `RemoveFromGlobalCluster` (a detach) makes the target a standalone writer that no
//!   other cluster follows, until a resync (the reprotect: a new secondary cluster)
//!   makes a region a member again.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::model::{AuroraCall, AuroraGlobal};

/// One Aurora global database of the sim world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimGlobalCluster {
    /// The global cluster identifier.
    pub global_cluster: String,
    /// The regions with a declared cluster.
    pub clusters: BTreeSet<String>,
    /// The region whose cluster takes the writes.
    pub writer: String,
    /// The regions whose clusters are members of the writer's global cluster, the
    /// writer's included.
    pub members: BTreeSet<String>,
}

impl SimGlobalCluster {
    /// Every declared cluster a member, the one in `home` the writer.
    pub fn nominal(aurora: &AuroraGlobal, home: &str) -> Self {
        let clusters: BTreeSet<String> = aurora
            .clusters
            .iter()
            .map(|(r, _)| r.value.clone())
            .collect();
        Self {
            global_cluster: aurora.global_cluster.clone(),
            members: clusters.clone(),
            clusters,
            writer: home.to_string(),
        }
    }

    /// Why `call` cannot move the writer to `region` (`writer_up`: whether the
    /// writer's region is up); `None` when it can, or when it is the writer already.
    pub fn refusal(&self, region: &str, call: AuroraCall, writer_up: bool) -> Option<String> {
        let global = &self.global_cluster;
        if region == self.writer {
            None
        } else if !self.members.contains(region) {
            Some(format!(
                "the cluster in {region} is not a member of the global cluster {global} (it was detached): {} needs a secondary there; make a new secondary cluster (the reprotect, the service's `resync`) first",
                call.name()
            ))
        } else if call == AuroraCall::Switchover && !writer_up {
            Some(format!(
                "SwitchoverGlobalCluster needs the writer's region {} up; with it down, only a failover (detach, or FailoverGlobalCluster under --accept-data-loss) moves the writer",
                self.writer
            ))
        } else {
            None
        }
    }

    /// Moves the writer to `region` by `call` (already checked by [`refusal`](Self::refusal)).
    pub fn apply(&mut self, region: &str, call: AuroraCall) {
        if region == self.writer {
            return;
        }
        if call == AuroraCall::Detach {
            self.members = BTreeSet::from([region.to_string()]);
        }
        self.writer = region.to_string();
    }

    /// Makes the cluster in `region` a member again (a new secondary of the writer);
    /// false when no cluster is declared there.
    pub fn rejoin(&mut self, region: &str) -> bool {
        if !self.clusters.contains(region) {
            return false;
        }
        self.members.insert(region.to_string());
        true
    }

    /// Whether the cluster in `region` follows the writer.
    pub fn follows(&self, region: &str) -> bool {
        region != self.writer && self.members.contains(region)
    }

    /// `orders: writer us-west-2; members us-east-1, us-west-2` (and the regions
    /// detached).
    pub fn describe(&self) -> String {
        let list = |set: Vec<&str>| set.join(", ");
        let members: Vec<&str> = self.members.iter().map(String::as_str).collect();
        let detached: Vec<&str> = self
            .clusters
            .iter()
            .filter(|r| !self.members.contains(*r))
            .map(String::as_str)
            .collect();
        let detached = if detached.is_empty() {
            String::new()
        } else {
            format!("; detached {}", list(detached))
        };
        format!(
            "{}: writer {}; members {}{detached}",
            self.global_cluster,
            self.writer,
            list(members)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> SimGlobalCluster {
        SimGlobalCluster {
            global_cluster: "orders".to_string(),
            clusters: ["east", "west"].map(String::from).into(),
            writer: "east".to_string(),
            members: ["east", "west"].map(String::from).into(),
        }
    }

    #[test]
    fn a_switchover_keeps_the_old_writer_a_member_and_needs_it_up() {
        let mut global = cluster();
        assert!(
            global
                .refusal("west", AuroraCall::Switchover, false)
                .is_some()
        );
        assert_eq!(global.refusal("west", AuroraCall::Switchover, true), None);
        global.apply("west", AuroraCall::Switchover);
        assert_eq!(global.writer, "west");
        assert!(global.follows("east"));
    }

    #[test]
    fn a_detach_leaves_the_old_writer_out_until_it_rejoins() {
        let mut global = cluster();
        assert_eq!(global.refusal("west", AuroraCall::Detach, false), None);
        global.apply("west", AuroraCall::Detach);
        assert!(!global.follows("east"));
        let refusal = global.refusal("east", AuroraCall::Switchover, true);
        assert!(refusal.is_some_and(|r| r.contains("not a member")));
        assert_eq!(
            global.describe(),
            "orders: writer west; members west; detached east"
        );
        assert!(global.rejoin("east"));
        assert!(!global.rejoin("north"));
        assert_eq!(global.refusal("east", AuroraCall::Switchover, true), None);
        assert_eq!(global.describe(), "orders: writer west; members east, west");
    }

    #[test]
    fn a_managed_failover_keeps_every_member() {
        let mut global = cluster();
        global.apply("west", AuroraCall::Failover);
        assert!(global.follows("east"));
        assert_eq!(global.refusal("west", AuroraCall::Detach, false), None);
    }
}
