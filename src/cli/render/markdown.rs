//! The plan for a pull request, read in 30 seconds: a title "failover A → B", the
//! summary table, what changes (one row per change), the worst-case data loss per
//! data set; then folded: the steps per phase, the data sets in detail and the step
//! graph in Mermaid. The whole fits in one comment ([`budget`](super::budget)).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use super::budget::{ALL, Document, Share};
use super::{code, detail};
use crate::duration::format_seconds;
use crate::graph::step::{Action, Change, Placement, Step, StepId};
use crate::model::{Environment, RecordSet};
use crate::observe::BackupObservation;
use crate::plan::file::PlanFile;
use crate::plan::{DataRisk, Plan, risk};

/// The plan in markdown, at most `limit` characters.
pub fn render(env: &Environment, file: &PlanFile, limit: usize) -> String {
    let plan = &file.plan;
    let mut doc = Document::new(limit);
    doc.whole(
        "the summary",
        &format!("# {}\n\n{}", title(plan), summary(plan)),
    );
    doc.note_here();
    let notes: Vec<String> = plan.notes.iter().map(|n| format!("> {n}\n\n")).collect();
    doc.rows("notes", "", &notes, "", Share(8));
    if plan.is_empty() {
        doc.whole(
            "the verdict",
            "**No changes.** The actual state already matches what this plan wants.\n",
        );
        return doc.finish("");
    }
    doc.rows(
        "rows of What changes",
        "## What changes\n\n| Step | What | Before → after | Estimate | Waits for |\n|---|---|---|---|---|\n",
        &changes(plan),
        "\n",
        Share(2),
    );
    let risks = &plan.summary.data_at_risk;
    if !risks.is_empty() {
        doc.rows(
            "data sets of Data loss",
            "## Data loss, worst case\n\n",
            &risks.iter().map(|r| loss_line(plan, r)).collect::<Vec<_>>(),
            "\n",
            Share(8),
        );
    }
    folded_lists(&mut doc, plan);
    steps(&mut doc, env, plan);
    if !risks.is_empty() {
        doc.whole(
            "the data-set table",
            &fold("Data sets in detail", &risk::table(risks)),
        );
    }
    let graph = super::graph::mermaid_steps(&plan.steps);
    if graph.len() < MERMAID_MAX_TEXT {
        doc.whole(
            "the step graph",
            &fold("Step graph", &format!("```mermaid\n{graph}```\n")),
        );
    } else {
        doc.leave_out("the step graph (too large for Mermaid)");
    }
    doc.finish(&format!(
        "The full plan: `drplan plan {} {} --out plan.json`, then `drplan show plan.json --format markdown`.",
        file.environment_file,
        target_flag(plan)
    ))
}

/// Every plan in one document of at most `limit` characters: an index table, then each
/// plan folded, in an equal share of what is left.
pub fn render_all(env: &Environment, files: &[PlanFile], limit: usize) -> String {
    let mut out = format!(
        "# drplan plans for {}\n\n| Plan | What | Changes | Estimated RTO |\n|---|---|---|---|\n",
        env.name
    );
    for file in files {
        let plan = &file.plan;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            code(&plan.intent.name),
            cell(&title(plan)),
            plan.summary.changes,
            cell(&rto(plan))
        );
    }
    out.push('\n');
    let used = out.chars().count();
    let share = limit.saturating_sub(used) / files.len().max(1);
    for file in files {
        let title = format!("<b>{}</b>: {}", file.plan.intent.name, title(&file.plan));
        let overhead = fold(&title, "").chars().count();
        out.push_str(&fold(
            &title,
            &render(env, file, share.saturating_sub(overhead)),
        ));
    }
    out
}

/// Mermaid refuses diagrams longer than this (its default `maxTextSize`).
const MERMAID_MAX_TEXT: usize = 50_000;

/// `--scenario NAME` or `--failback`.
fn target_flag(plan: &Plan) -> String {
    if plan.intent.name == "failback" {
        "--failback".to_string()
    } else {
        format!("--scenario {}", plan.intent.name)
    }
}

/// `failover eu-west-1 → eu-central-1`, or `restore in eu-west-1`.
pub fn title(plan: &Plan) -> String {
    let intent = &plan.intent;
    let verb = if intent.name == "failback" {
        "failback"
    } else {
        intent.strategy.as_str()
    };
    let from = regions_left(plan);
    match (from.is_empty(), &intent.to) {
        (false, Some(to)) => format!("{verb} {} → {to}", from.join(", ")),
        (true, Some(to)) => format!("{verb} in {to}"),
        (_, None) => verb.to_string(),
    }
}

/// The regions services are moved out of.
fn regions_left(plan: &Plan) -> Vec<String> {
    let from: BTreeSet<&str> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.change {
            Some(Change::Placement { before, after }) if before.region != after.region => {
                Some(before.region.as_str())
            }
            _ => None,
        })
        .collect();
    from.into_iter().map(str::to_string).collect()
}

fn summary(plan: &Plan) -> String {
    let summary = &plan.summary;
    let intent = &plan.intent;
    let mut scenario = if intent.name == "failback" {
        format!("{} · failback", plan.environment)
    } else {
        format!(
            "{} · {} ({})",
            plan.environment, intent.name, intent.strategy
        )
    };
    if let Some(severity) = &intent.severity {
        let _ = write!(scenario, " · {severity}");
    }
    let mut rows = vec![("Plan", scenario)];
    let from = regions_left(plan);
    if let Some(to) = &intent.to {
        let from = if from.is_empty() {
            "-".to_string()
        } else {
            from.join(", ")
        };
        rows.push(("From → to", format!("{from} → {to}")));
    }
    rows.push(("Moves", moves(plan)));
    let counts: Vec<String> = summary
        .counts
        .iter()
        .map(|(a, n)| format!("{a} {n}"))
        .collect();
    rows.push((
        "Changes",
        format!(
            "{} changes in {} steps ({})",
            summary.changes,
            summary.counts.values().sum::<usize>(),
            counts.join(", ")
        ),
    ));
    rows.push(("Estimated RTO", rto(plan)));
    let fenced: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::Deactivate { .. }))
        .map(Step::target)
        .collect();
    if !fenced.is_empty() {
        rows.push(("Fenced or stopped", fenced.join("; ")));
    }
    rows.push(("Approvals", approvals(plan)));
    let violated = summary.data_at_risk.iter().filter(|r| r.violation).count();
    if !summary.data_at_risk.is_empty() {
        let verdict = if violated > 0 {
            format!("⚠️ {violated} lose data beyond their RPO")
        } else {
            "none beyond its RPO".to_string()
        };
        rows.push((
            "Data sets",
            format!("{}; {verdict}", summary.data_at_risk.len()),
        ));
    }
    if !summary.safety_breaches.is_empty() {
        rows.push((
            "ARC safety rules",
            format!(
                "⚠️ broken, apply refuses: {}",
                summary.safety_breaches.join("; ")
            ),
        ));
    }
    let (first, rest) = rows
        .split_first()
        .map_or((None, &[][..]), |(f, r)| (Some(f), r));
    let mut out = String::new();
    if let Some((key, value)) = first {
        let _ = writeln!(out, "| {key} | {} |\n|---|---|", cell(value));
    }
    for (key, value) in rest {
        let _ = writeln!(out, "| {key} | {} |", cell(value));
    }
    out.push('\n');
    out
}

/// `5 services, 1 DNS record`.
fn moves(plan: &Plan) -> String {
    let (mut services, mut records) = (0, 0);
    for step in &plan.steps {
        match (&step.change, &step.action) {
            (Some(Change::Placement { .. }), _) => services += 1,
            (Some(Change::Weights { .. }), Action::Switch { .. }) => records += 1,
            _ => {}
        }
    }
    format!(
        "{services} {}, {records} DNS {}",
        if services == 1 { "service" } else { "services" },
        if records == 1 { "record" } else { "records" }
    )
}

/// `13m 5s over 10 steps: 6m 55s to spare against the 20m target`.
fn rto(plan: &Plan) -> String {
    let summary = &plan.summary;
    let steps = summary
        .critical_path
        .iter()
        .filter(|id| !id.as_str().starts_with("gate:"))
        .count();
    let margin = if summary.over_rto {
        format!(
            "⚠️ {} over the {} target",
            format_seconds(summary.estimated_rto.saturating_sub(summary.rto_target)),
            format_seconds(summary.rto_target)
        )
    } else {
        format!(
            "{} to spare against the {} target",
            format_seconds(summary.rto_target.saturating_sub(summary.estimated_rto)),
            format_seconds(summary.rto_target)
        )
    };
    format!(
        "{} along a critical path of {steps} steps: {margin}",
        format_seconds(summary.estimated_rto)
    )
}

/// `1 for the plan (any-engineer), 3 steps`.
fn approvals(plan: &Plan) -> String {
    let approvals = &plan.summary.approvals;
    let whole: Vec<&str> = approvals
        .iter()
        .filter(|a| a.step.is_none())
        .map(|a| a.who.as_str())
        .collect();
    let steps = approvals.len() - whole.len();
    let mut parts = Vec::new();
    if !whole.is_empty() {
        parts.push(format!("the plan by {}", whole.join(", ")));
    }
    if steps > 0 {
        parts.push(format!(
            "{steps} {} (listed below)",
            if steps == 1 { "step" } else { "steps" }
        ));
    }
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join("; ")
    }
}

/// A table cell: pipes escaped, on one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `text` folded under `title`.
fn fold(title: &str, body: &str) -> String {
    format!("<details><summary>{title}</summary>\n\n{body}\n</details>\n\n")
}

/// One row per step that changes the world.
fn changes(plan: &Plan) -> Vec<String> {
    let gates: HashMap<&StepId, String> = plan
        .steps
        .iter()
        .filter(|s| s.action.is_gate())
        .map(|s| (&s.id, s.target()))
        .collect();
    plan.steps
        .iter()
        .filter(|s| s.action.is_change())
        .map(|s| change_row(&gates, s))
        .collect()
}

/// `| step | what | before → after | estimate | waits for |`, gates named by what
/// they wait for (`tier 1 healthy`).
fn change_row(gates: &HashMap<&StepId, String>, step: &Step) -> String {
    let waits: Vec<String> = step
        .depends_on
        .iter()
        .map(|id| gates.get(id).cloned().unwrap_or_else(|| code(id.as_str())))
        .chain(step.approval.iter().map(|who| format!("approval by {who}")))
        .collect();
    format!(
        "| {} | {} | {} | {} | {} |\n",
        code(step.id.as_str()),
        cell(&step.target()),
        cell(&before_after(step)),
        format_seconds(step.estimate),
        cell(&waits.join(", "))
    )
}

/// The value a step changes, `before → after`; or what it does to the world.
fn before_after(step: &Step) -> String {
    match (&step.change, &step.action) {
        (Some(Change::Placement { before, after }), _) => {
            format!("{} → {}", placement(before), placement(after))
        }
        (Some(Change::Weights { before, after }), action) if super::changes_ttl(action) => {
            format!("TTL {} → {}", super::ttls(before), super::ttls(after))
        }
        (Some(Change::Weights { before, after }), _) => {
            format!("{} → {}", weights(before), weights(after))
        }
        (None, Action::Deactivate { best_effort, .. }) => if *best_effort {
            "fenced (best effort)"
        } else {
            "fenced (mandatory)"
        }
        .to_string(),
        (None, action) => action.name().to_string(),
    }
}

fn placement(placement: &Placement) -> String {
    match &placement.restored_from {
        Some(backups) => format!(
            "{} (restored from {})",
            placement.region,
            code(&backups.url())
        ),
        None => placement.region.clone(),
    }
}

/// `eu-west-1 100, eu-central-1 0`.
fn weights(sets: &[RecordSet]) -> String {
    let sets: Vec<String> = sets
        .iter()
        .map(|s| format!("{} {}", s.region, s.weight))
        .collect();
    sets.join(", ")
}

/// `- ⚠️ **orders** (postgres, P0, restore; RPO 15m): … · guarded by check:orders`.
fn loss_line(plan: &Plan, risk: &DataRisk) -> String {
    let warning = if risk.violation { "⚠️ " } else { "" };
    let guards: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| protects(s, risk))
        .map(|s| code(s.id.as_str()))
        .collect();
    let guarded = if guards.is_empty() {
        "no step guards it".to_string()
    } else {
        format!("guarded by {}", guards.join(", "))
    };
    format!(
        "- {warning}**{}** ({}, {}, {}; RPO {}): {} · {guarded}\n",
        risk.data,
        risk.service,
        risk.priority,
        risk.method,
        format_seconds(risk.rpo),
        worst_case(risk)
    )
}

/// The most the recovery may lose of a data set, in words.
fn worst_case(risk: &DataRisk) -> String {
    if let Some(replica) = &risk.replica {
        return if replica.loses_beyond(risk.rpo) {
            format!("loses what the copy lacks ({})", replica.describe())
        } else if replica.waits {
            format!(
                "nothing: the copy in {} is promoted once caught up",
                replica.region
            )
        } else {
            format!(
                "up to the lag of the copy promoted ({})",
                replica.describe()
            )
        };
    }
    match &risk.backup {
        None => format!("everything it held ({} on recovery)", risk.method),
        Some(BackupObservation::Unknown) => {
            "the writes since the newest backup (its age is unknown offline)".to_string()
        }
        Some(BackupObservation::Missing) => "everything: no backup found".to_string(),
        Some(BackupObservation::Found { url, age }) => format!(
            "the writes of the last {} (newest backup {})",
            format_seconds(*age),
            code(url)
        ),
    }
}

/// Whether `step` guards a data set: checks its backup, waits for its copy, or
/// restores it.
fn protects(step: &Step, risk: &DataRisk) -> bool {
    match &step.action {
        Action::CheckRpo { data, .. } | Action::CatchUp { data, .. } => *data == risk.data,
        Action::Restore { service, .. } => *service == risk.service,
        _ => false,
    }
}

/// The approvals and the critical path, each folded.
fn folded_lists(doc: &mut Document, plan: &Plan) {
    let summary = &plan.summary;
    let approvals: Vec<String> = summary
        .approvals
        .iter()
        .map(|a| match &a.step {
            Some(step) => format!("- {} for {}\n", a.who, code(step.as_str())),
            None => format!("- {} for the plan\n", a.who),
        })
        .collect();
    if !approvals.is_empty() {
        doc.rows(
            "approvals",
            &format!(
                "<details><summary>Approvals ({})</summary>\n\n",
                approvals.len()
            ),
            &approvals,
            "\n</details>\n\n",
            Share(16),
        );
    }
    let path: Vec<String> = summary
        .critical_path
        .iter()
        .filter_map(|id| plan.steps.iter().find(|s| &s.id == id))
        .filter(|s| !s.action.is_gate())
        .map(|s| {
            format!(
                "1. {} {} · {}\n",
                code(s.id.as_str()),
                s.target(),
                format_seconds(s.estimate)
            )
        })
        .collect();
    if !path.is_empty() {
        doc.rows(
            "steps of the critical path",
            &format!(
                "<details><summary>Critical path ({} steps, {})</summary>\n\n",
                path.len(),
                format_seconds(summary.estimated_rto)
            ),
            &path,
            "\n</details>\n\n",
            Share(16),
        );
    }
}

fn steps(doc: &mut Document, env: &Environment, plan: &Plan) {
    doc.whole("the steps", "## Steps\n\n");
    for (phase, in_phase) in super::phases(plan) {
        let count = in_phase.iter().filter(|s| !s.action.is_gate()).count();
        let noun = if count == 1 { "step" } else { "steps" };
        let lines: Vec<String> = in_phase.iter().map(|s| step_line(env, plan, s)).collect();
        doc.rows(
            &format!("steps of {}", phase.name()),
            &format!(
                "<details><summary><b>{}</b> ({count} {noun})</summary>\n\n",
                phase.name()
            ),
            &lines,
            "\n</details>\n\n",
            ALL,
        );
    }
}

fn step_line(env: &Environment, plan: &Plan, step: &Step) -> String {
    let approval = step
        .approval
        .as_deref()
        .map(|a| format!(" · approval: **{a}**"))
        .unwrap_or_default();
    let mut line = format!(
        "- {} {} · {}{approval}\n",
        code(step.id.as_str()),
        step.target(),
        format_seconds(step.estimate)
    );
    if !step.depends_on.is_empty() {
        let after: Vec<String> = step.depends_on.iter().map(|d| code(d.as_str())).collect();
        let _ = writeln!(line, "  - after {}", after.join(", "));
    }
    if let Some(detail) = detail(env, plan, step, code) {
        let _ = writeln!(line, "  - {detail}");
    }
    line
}
