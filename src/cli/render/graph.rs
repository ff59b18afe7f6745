//! Graphs as text, Graphviz DOT and Mermaid: the step graph of a plan, or the service
//! graph of an environment (tiers and dependencies).

use std::fmt::Write;

use crate::cli::graph_command::GraphFormat;
use crate::graph::step::{Step, StepId};
use crate::model::Environment;

/// The step graph in `format`.
pub fn steps(steps: &[Step], format: GraphFormat) -> String {
    let nodes: Vec<Node<'_>> = steps
        .iter()
        .map(|s| Node {
            id: s.id.as_str(),
            label: format!("{} {}", s.id, s.target()),
            edges: s.depends_on.iter().map(StepId::as_str).collect(),
            group: None,
        })
        .collect();
    draw(&nodes, format)
}

/// The service graph: services by tier, edges to their dependencies.
pub fn services(env: &Environment, format: GraphFormat) -> String {
    let mut services: Vec<_> = env.services.iter().collect();
    services.sort_by_key(|s| s.tier.value);
    let nodes: Vec<Node<'_>> = services
        .iter()
        .map(|s| Node {
            id: &s.name.value,
            label: s.name.value.clone(),
            edges: s.depends_on.iter().map(|d| d.value.as_str()).collect(),
            group: Some(s.tier.value),
        })
        .collect();
    draw(&nodes, format)
}

/// The step graph as the body of a Mermaid block.
pub fn mermaid_steps(steps: &[Step]) -> String {
    self::steps(steps, GraphFormat::Mermaid)
}

struct Node<'a> {
    id: &'a str,
    label: String,
    /// What this node waits for.
    edges: Vec<&'a str>,
    /// The tier, for service graphs.
    group: Option<u32>,
}

fn draw(nodes: &[Node<'_>], format: GraphFormat) -> String {
    match format {
        GraphFormat::Text => text(nodes),
        GraphFormat::Dot => dot(nodes),
        GraphFormat::Mermaid => mermaid(nodes),
    }
}

fn text(nodes: &[Node<'_>]) -> String {
    let mut out = String::new();
    let mut group = None;
    for node in nodes {
        if node.group.is_some() && node.group != group {
            group = node.group;
            let _ = writeln!(out, "tier {}", group.unwrap_or_default());
        }
        let indent = if group.is_some() { "  " } else { "" };
        if node.edges.is_empty() {
            let _ = writeln!(out, "{indent}{}", node.label);
        } else {
            let _ = writeln!(out, "{indent}{} <- {}", node.label, node.edges.join(", "));
        }
    }
    out
}

fn dot(nodes: &[Node<'_>]) -> String {
    let mut out = String::from("digraph drplan {\n  rankdir=LR;\n  node [shape=box];\n");
    let mut group = None;
    for node in nodes {
        if node.group != group {
            if group.is_some() {
                out.push_str("  }\n");
            }
            group = node.group;
            if let Some(tier) = group {
                let _ = writeln!(
                    out,
                    "  subgraph cluster_tier_{tier} {{\n    label=\"tier {tier}\";"
                );
            }
        }
        let indent = if group.is_some() { "    " } else { "  " };
        let _ = writeln!(
            out,
            "{indent}\"{}\" [label=\"{}\"];",
            escape(node.id),
            escape(&node.label)
        );
    }
    if group.is_some() {
        out.push_str("  }\n");
    }
    for node in nodes {
        for edge in &node.edges {
            let _ = writeln!(out, "  \"{}\" -> \"{}\";", escape(edge), escape(node.id));
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid(nodes: &[Node<'_>]) -> String {
    let index: std::collections::HashMap<&str, usize> =
        nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let mut out = String::from("flowchart LR\n");
    let mut group = None;
    for (i, node) in nodes.iter().enumerate() {
        if node.group != group {
            if group.is_some() {
                out.push_str("  end\n");
            }
            group = node.group;
            if let Some(tier) = group {
                let _ = writeln!(out, "  subgraph tier{tier}[\"tier {tier}\"]");
            }
        }
        let _ = writeln!(out, "  n{i}[\"{}\"]", node.label.replace('"', "#quot;"));
    }
    if group.is_some() {
        out.push_str("  end\n");
    }
    for (i, node) in nodes.iter().enumerate() {
        for edge in node.edges.iter().filter_map(|e| index.get(e)) {
            let _ = writeln!(out, "  n{edge} --> n{i}");
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
