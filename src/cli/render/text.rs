//! The plan for a terminal.

use std::fmt::Write;

use super::{change_lines, detail};
use crate::duration::format_seconds;
use crate::graph::step::StepId;
use crate::model::Environment;
use crate::plan::{Plan, Summary};

pub fn render(env: &Environment, plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "drplan plan for {}: {}",
        plan.environment,
        headline(plan)
    );
    for note in &plan.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out.push('\n');
    if plan.is_empty() {
        out.push_str("No changes. The actual state already matches what this plan wants.\n");
        return out;
    }
    summary(&mut out, &plan.summary);
    steps(&mut out, env, plan);
    out
}

/// `scenario regional-failure: failover to us-west-2 (SEV-1)`.
pub fn headline(plan: &Plan) -> String {
    let intent = &plan.intent;
    let mut line = if intent.name == "failback" {
        format!("failback to {}", intent.to.as_deref().unwrap_or("home"))
    } else {
        format!("scenario {}: {}", intent.name, intent.strategy)
    };
    if let (Some(to), true) = (&intent.to, intent.name != "failback") {
        let _ = write!(line, " to {to}");
    }
    if let Some(severity) = &intent.severity {
        let _ = write!(line, " ({severity})");
    }
    line
}

fn summary(out: &mut String, summary: &Summary) {
    let counts: Vec<String> = summary
        .counts
        .iter()
        .map(|(action, n)| format!("{action} {n}"))
        .collect();
    let _ = writeln!(out, "Summary");
    let _ = writeln!(out, "  changes:       {}", summary.changes);
    let _ = writeln!(out, "  steps:         {}", counts.join(", "));
    let _ = writeln!(out, "  estimated RTO: {}", rto_line(summary));
    for approval in &summary.approvals {
        let what = approval
            .step
            .as_ref()
            .map_or("the whole plan".to_string(), |s| format!("step {s}"));
        let _ = writeln!(out, "  approval:      {} for {what}", approval.who);
    }
    if !summary.data_at_risk.is_empty() {
        let _ = writeln!(out, "  data at risk:");
        for risk in &summary.data_at_risk {
            let [data, service, priority, method, rpo, backup, replica] = risk.cells();
            let replica = if risk.replica.is_some() {
                format!("; promotes {replica}")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "    {data} ({service}, {priority}): {method}, RPO {rpo}; {backup}{replica}"
            );
        }
    }
    if !summary.safety_breaches.is_empty() {
        let _ = writeln!(out, "  ARC safety rules BROKEN (apply refuses):");
        for breach in &summary.safety_breaches {
            let _ = writeln!(out, "    {breach}");
        }
    }
    out.push('\n');
}

/// `27m 45s against a target of 30m (within target)`.
pub fn rto_line(summary: &Summary) -> String {
    let verdict = if summary.over_rto {
        "OVER TARGET"
    } else {
        "within target"
    };
    format!(
        "{} against a target of {} ({verdict})",
        format_seconds(summary.estimated_rto),
        format_seconds(summary.rto_target)
    )
}

fn steps(out: &mut String, env: &Environment, plan: &Plan) {
    let _ = writeln!(out, "Steps");
    for (phase, in_phase) in super::phases(plan) {
        let _ = writeln!(out, "\n  {}", phase.name());
        for step in in_phase {
            let approval = step
                .approval
                .as_deref()
                .map(|a| format!(" [approval: {a}]"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    {}  {} ({}){approval}",
                step.id,
                step.target(),
                format_seconds(step.estimate)
            );
            if !step.depends_on.is_empty() {
                let after: Vec<&str> = step.depends_on.iter().map(StepId::as_str).collect();
                let _ = writeln!(out, "        after: {}", after.join(", "));
            }
            if let Some(detail) = detail(env, plan, step, super::plain) {
                let _ = writeln!(out, "        {detail}");
            }
            for line in change_lines(step) {
                let _ = writeln!(out, "        {line}");
            }
        }
    }
}
