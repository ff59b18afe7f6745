//! The plan for a pull request: the summary table first, the steps folded per phase,
//! the graph in Mermaid.

use std::fmt::Write;

use super::text::{headline, rto_line};
use super::{change_lines, detail};
use crate::duration::format_seconds;
use crate::model::Environment;
use crate::plan::{DataRisk, Plan, risk};

pub fn render(env: &Environment, plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# drplan plan for {}: {}\n",
        plan.environment,
        headline(plan)
    );
    summary(&mut out, plan);
    for note in &plan.notes {
        let _ = writeln!(out, "> {note}\n");
    }
    if plan.is_empty() {
        out.push_str("**No changes.** The actual state already matches what this plan wants.\n");
        return out;
    }
    data_at_risk(&mut out, &plan.summary.data_at_risk);
    steps(&mut out, env, plan);
    let _ = writeln!(out, "<details><summary>Step graph</summary>\n");
    let _ = writeln!(out, "```mermaid");
    out.push_str(&super::graph::mermaid_steps(&plan.steps));
    let _ = writeln!(out, "```\n\n</details>");
    out
}

fn summary(out: &mut String, plan: &Plan) {
    let summary = &plan.summary;
    let counts: Vec<String> = summary
        .counts
        .iter()
        .map(|(action, n)| format!("{action} {n}"))
        .collect();
    let approvals: Vec<String> = summary
        .approvals
        .iter()
        .map(|a| match &a.step {
            Some(step) => format!("{} for `{step}`", a.who),
            None => format!("{} for the plan", a.who),
        })
        .collect();
    let rto = if summary.over_rto {
        format!("⚠️ {}", rto_line(summary))
    } else {
        rto_line(summary)
    };
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Changes | {} |", summary.changes);
    let _ = writeln!(
        out,
        "| Steps | {} |",
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts.join(", ")
        }
    );
    let _ = writeln!(out, "| Estimated RTO | {rto} |");
    let _ = writeln!(
        out,
        "| Approvals | {} |",
        if approvals.is_empty() {
            "none".to_string()
        } else {
            approvals.join("; ")
        }
    );
    let critical: Vec<String> = summary
        .critical_path
        .iter()
        .filter(|id| !id.as_str().starts_with("gate:"))
        .map(|id| format!("`{id}`"))
        .collect();
    if !critical.is_empty() {
        let _ = writeln!(out, "| Critical path | {} |", critical.join(" → "));
    }
    out.push('\n');
}

fn data_at_risk(out: &mut String, risks: &[DataRisk]) {
    if !risks.is_empty() {
        let _ = writeln!(out, "## Data at risk\n\n{}", risk::table(risks));
    }
}

fn steps(out: &mut String, env: &Environment, plan: &Plan) {
    let _ = writeln!(out, "## Steps\n");
    for (phase, in_phase) in super::phases(plan) {
        let count = in_phase.iter().filter(|s| !s.action.is_gate()).count();
        let noun = if count == 1 { "step" } else { "steps" };
        let _ = writeln!(
            out,
            "<details><summary><b>{}</b> ({count} {noun})</summary>\n",
            phase.name()
        );
        for step in in_phase {
            let approval = step
                .approval
                .as_deref()
                .map(|a| format!(" · approval: **{a}**"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- `{}` {} · {}{approval}",
                step.id,
                step.target(),
                format_seconds(step.estimate)
            );
            if !step.depends_on.is_empty() {
                let after: Vec<String> = step.depends_on.iter().map(|d| format!("`{d}`")).collect();
                let _ = writeln!(out, "  - after {}", after.join(", "));
            }
            if let Some(detail) = detail(env, plan, step) {
                let _ = writeln!(out, "  - {detail}");
            }
            let lines = change_lines(step);
            if !lines.is_empty() {
                let _ = writeln!(out, "\n  ```diff\n  {}\n  ```", lines.join("\n  "));
            }
        }
        let _ = writeln!(out, "\n</details>\n");
    }
}
