//! Graphs as text, Graphviz DOT, Mermaid and SVG (laid out by `layout-rs`): the step
//! graph of a plan, or the service graph of an environment (tiers and dependencies).

use std::collections::HashMap;
use std::fmt::Write;
use std::time::Duration;

use crate::cli::graph_command::GraphFormat;
use crate::duration::format_seconds;
use crate::graph::step::{Action, Step, StepId};
use crate::model::Environment;

/// The step graph in `format`.
pub fn steps(steps: &[Step], format: GraphFormat) -> String {
    match format {
        GraphFormat::Mermaid => return mermaid_steps(steps),
        GraphFormat::Svg => return svg(&folded(steps)),
        _ => {}
    }
    let nodes: Vec<Node<'_>> = steps
        .iter()
        .map(|s| Node {
            id: s.id.as_str(),
            label: format!("{} {}", s.id, s.target()),
            edges: s.depends_on.iter().map(StepId::as_str).collect(),
            group: None,
            small: false,
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
            small: false,
        })
        .collect();
    draw(&nodes, format)
}

/// The step graph as the body of a Mermaid block, top to bottom, read at page width:
/// a service's health check folded into the step that brings it up, gates drawn small.
pub fn mermaid_steps(steps: &[Step]) -> String {
    mermaid(&folded(steps))
}

/// The steps as nodes, each health check folded into the activation or restore of the
/// same service in the same region (edges to it then lead to that step).
fn folded<'a>(steps: &'a [Step]) -> Vec<Node<'a>> {
    let brought_up: HashMap<(&str, &str), &Step> = steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Activate {
                service, region, ..
            }
            | Action::Restore {
                service, region, ..
            } => Some(((service.as_str(), region.as_str()), s)),
            _ => None,
        })
        .collect();
    let health: HashMap<&str, &Step> = steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Health {
                service, region, ..
            } => {
                let up = brought_up.get(&(service.as_str(), region.as_str()))?;
                Some((up.id.as_str(), s))
            }
            _ => None,
        })
        .collect();
    let folded_into: HashMap<&str, &str> = health
        .iter()
        .map(|(up, check)| (check.id.as_str(), *up))
        .collect();
    let alias = |id: &'a StepId| -> &'a str {
        folded_into.get(id.as_str()).copied().unwrap_or(id.as_str())
    };
    steps
        .iter()
        .filter(|s| !folded_into.contains_key(s.id.as_str()))
        .map(|s| {
            let check = health.get(s.id.as_str());
            let estimate = s.estimate + check.map_or(Duration::ZERO, |c| c.estimate);
            let label = match (check, s.action.is_gate()) {
                (_, true) => s.target(),
                (Some(_), false) => format!("{} + health · {}", s.id, format_seconds(estimate)),
                (None, false) => format!("{} · {}", s.id, format_seconds(estimate)),
            };
            Node {
                id: s.id.as_str(),
                label,
                edges: s.depends_on.iter().map(alias).collect(),
                group: None,
                small: s.action.is_gate(),
            }
        })
        .collect()
}

struct Node<'a> {
    id: &'a str,
    label: String,
    /// What this node waits for.
    edges: Vec<&'a str>,
    /// The tier, for service graphs.
    group: Option<u32>,
    /// Drawn small: a gate.
    small: bool,
}

fn draw(nodes: &[Node<'_>], format: GraphFormat) -> String {
    match format {
        GraphFormat::Text => text(nodes),
        GraphFormat::Dot => dot(nodes),
        GraphFormat::Mermaid => mermaid(nodes),
        GraphFormat::Svg => svg(nodes),
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
    let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let mut out = String::from("flowchart TD\n");
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
        let (open, close) = if node.small { ("([", "])") } else { ("[", "]") };
        let _ = writeln!(
            out,
            "  n{i}{open}\"{}\"{close}",
            node.label.replace('"', "#quot;")
        );
    }
    if group.is_some() {
        out.push_str("  end\n");
    }
    let mut drawn = std::collections::HashSet::new();
    for (i, node) in nodes.iter().enumerate() {
        for &edge in node.edges.iter().filter_map(|e| index.get(e)) {
            if edge != i && drawn.insert((edge, i)) {
                let _ = writeln!(out, "  n{edge} --> n{i}");
            }
        }
    }
    out
}

/// The graph drawn top to bottom as an SVG picture.
fn svg(nodes: &[Node<'_>]) -> String {
    use layout::backends::svg::SVGWriter;
    use layout::core::base::Orientation;
    use layout::core::geometry::Point;
    use layout::core::style::StyleAttr;
    use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
    use layout::topo::layout::VisualGraph;

    let orientation = Orientation::TopToBottom;
    let mut graph = VisualGraph::new(orientation);
    let handles: Vec<_> = nodes
        .iter()
        .map(|node| {
            let label = match node.group {
                Some(tier) => format!("{} (tier {tier})", node.label),
                None => node.label.clone(),
            };
            let size = Point::new(label.chars().count() as f64 * 8.0 + 24.0, 40.0);
            let shape = if node.small {
                ShapeKind::new_circle(&label)
            } else {
                ShapeKind::new_box(&label)
            };
            graph.add_node(Element::create(
                shape,
                StyleAttr::simple(),
                orientation,
                size,
            ))
        })
        .collect();
    let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    for (i, node) in nodes.iter().enumerate() {
        for &edge in node.edges.iter().filter_map(|e| index.get(e)) {
            if edge != i {
                graph.add_edge(Arrow::simple(""), handles[edge], handles[i]);
            }
        }
    }
    let mut svg = SVGWriter::new();
    if !nodes.is_empty() {
        graph.do_it(false, false, false, &mut svg);
    }
    svg.finalize()
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
