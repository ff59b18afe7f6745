//! Route 53 ARC safety rules, as a control panel holds them, and whether routing
//! control states keep them. An assertion rule must hold for its controls after every
//! update; a gating rule lets its target controls change only while its gating controls
//! hold the rule. ARC refuses an update that breaks one (`ConflictException`); drplan
//! judges the plan's end state against them first, so the plan says so before apply.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One safety rule of a control panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyRule {
    pub name: String,
    pub kind: RuleKind,
    pub config: RuleConfig,
}

/// Which controls a rule judges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "rule")]
pub enum RuleKind {
    /// The rule must hold for `controls` after every update.
    Assertion { controls: Vec<String> },
    /// `targets` may change only while the rule holds for `gating`.
    Gating {
        gating: Vec<String>,
        targets: Vec<String>,
    },
}

/// The test a rule applies to the states of its controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleConfig {
    pub test: RuleTest,
    /// For `at-least`: how many controls must be on.
    pub threshold: u32,
    /// The rule holds when the test fails.
    pub inverted: bool,
}

/// ARC's rule types: `ATLEAST`, `AND`, `OR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleTest {
    AtLeast,
    And,
    Or,
}

/// The safety rules of a control panel and the state of every control they name, as
/// observed before a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArcSafety {
    pub rules: Vec<SafetyRule>,
    /// Routing control ARN → whether it is on.
    pub states: BTreeMap<String, bool>,
}

impl RuleConfig {
    /// Whether the rule holds for `controls` in `states` (a control not in `states`
    /// counts as off).
    fn holds(self, controls: &[String], states: &BTreeMap<String, bool>) -> bool {
        let on = controls
            .iter()
            .filter(|c| states.get(*c).copied().unwrap_or(false))
            .count();
        let passes = match self.test {
            RuleTest::AtLeast => on >= usize::try_from(self.threshold).unwrap_or(usize::MAX),
            RuleTest::And => on == controls.len(),
            RuleTest::Or => on > 0,
        };
        passes != self.inverted
    }

    /// `at least 1 on`, `all on`, `any on`, with `not` when inverted.
    fn describe(self) -> String {
        let test = match self.test {
            RuleTest::AtLeast => format!("at least {} on", self.threshold),
            RuleTest::And => "all on".to_string(),
            RuleTest::Or => "any on".to_string(),
        };
        if self.inverted {
            format!("not {test}")
        } else {
            test
        }
    }
}

impl ArcSafety {
    /// Every rule that setting the controls in `changes` (ARN → on) breaks, in words;
    /// controls not in `changes` keep their observed state.
    pub fn breaches(&self, changes: &BTreeMap<String, bool>) -> Vec<String> {
        let mut after = self.states.clone();
        after.extend(changes.iter().map(|(arn, on)| (arn.clone(), *on)));
        let moves = |arn: &String| changes.get(arn).is_some_and(|on| self.is_on(arn) != *on);
        self.rules
            .iter()
            .filter_map(|rule| {
                let config = rule.config;
                match &rule.kind {
                    RuleKind::Assertion { controls } => {
                        (!config.holds(controls, &after)).then(|| {
                            format!(
                                "assertion rule `{}` ({} of {}) would not hold after the update",
                                rule.name,
                                config.describe(),
                                names(controls)
                            )
                        })
                    }
                    RuleKind::Gating { gating, targets } => (targets.iter().any(moves)
                        && !config.holds(gating, &self.states))
                    .then(|| {
                        format!(
                            "gating rule `{}` lets {} change only while {} of {} (they are not)",
                            rule.name,
                            names(targets),
                            config.describe(),
                            names(gating)
                        )
                    }),
                }
            })
            .collect()
    }

    fn is_on(&self, arn: &str) -> bool {
        self.states.get(arn).copied().unwrap_or(false)
    }
}

/// The last part of each routing control ARN (`…/routingcontrol/NAME`), listed.
fn names(controls: &[String]) -> String {
    let names: Vec<&str> = controls
        .iter()
        .map(|arn| arn.rsplit('/').next().unwrap_or(arn))
        .collect();
    format!("[{}]", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EAST: &str = "arn:aws:route53-recovery-control::1:controlpanel/p/routingcontrol/east";
    const WEST: &str = "arn:aws:route53-recovery-control::1:controlpanel/p/routingcontrol/west";
    const GATE: &str = "arn:aws:route53-recovery-control::1:controlpanel/p/routingcontrol/gate";

    fn config(test: RuleTest, threshold: u32) -> RuleConfig {
        RuleConfig {
            test,
            threshold,
            inverted: false,
        }
    }

    fn safety(rules: Vec<SafetyRule>, on: &[&str]) -> ArcSafety {
        ArcSafety {
            rules,
            states: [EAST, WEST, GATE]
                .iter()
                .map(|arn| ((*arn).to_string(), on.contains(arn)))
                .collect(),
        }
    }

    fn at_least_one() -> SafetyRule {
        SafetyRule {
            name: "one-cell-on".to_string(),
            kind: RuleKind::Assertion {
                controls: vec![EAST.to_string(), WEST.to_string()],
            },
            config: config(RuleTest::AtLeast, 1),
        }
    }

    fn set(pairs: &[(&str, bool)]) -> BTreeMap<String, bool> {
        pairs
            .iter()
            .map(|(a, on)| ((*a).to_string(), *on))
            .collect()
    }

    #[test]
    fn moving_on_and_off_together_keeps_an_at_least_one_rule() {
        let safety = safety(vec![at_least_one()], &[EAST]);
        assert!(
            safety
                .breaches(&set(&[(EAST, false), (WEST, true)]))
                .is_empty()
        );
        let breaches = safety.breaches(&set(&[(EAST, false)]));
        assert_eq!(
            breaches,
            [
                "assertion rule `one-cell-on` (at least 1 on of [east, west]) would not hold after the update"
            ]
        );
    }

    #[test]
    fn a_gating_rule_that_is_off_blocks_changes_of_its_targets_only() {
        let gating = SafetyRule {
            name: "master-switch".to_string(),
            kind: RuleKind::Gating {
                gating: vec![GATE.to_string()],
                targets: vec![EAST.to_string(), WEST.to_string()],
            },
            config: config(RuleTest::Or, 0),
        };
        let closed = safety(vec![gating.clone()], &[EAST]);
        assert_eq!(
            closed.breaches(&set(&[(EAST, false), (WEST, true)])).len(),
            1
        );
        // Setting a control to the state it is in changes nothing.
        assert!(closed.breaches(&set(&[(EAST, true)])).is_empty());
        let open = safety(vec![gating], &[EAST, GATE]);
        assert!(
            open.breaches(&set(&[(EAST, false), (WEST, true)]))
                .is_empty()
        );
    }

    #[test]
    fn an_inverted_rule_holds_when_its_test_fails() {
        let both = SafetyRule {
            name: "never-both".to_string(),
            kind: RuleKind::Assertion {
                controls: vec![EAST.to_string(), WEST.to_string()],
            },
            config: RuleConfig {
                test: RuleTest::And,
                threshold: 0,
                inverted: true,
            },
        };
        let safety = safety(vec![both], &[EAST]);
        assert!(
            safety
                .breaches(&set(&[(EAST, false), (WEST, true)]))
                .is_empty()
        );
        assert_eq!(safety.breaches(&set(&[(WEST, true)])).len(), 1);
    }
}
