//! The step graph: steps as nodes, "must finish before" as edges (petgraph), with
//! one gate node per tier and per phase instead of n² edges; its order, levels and
//! critical path.

pub mod step;

use std::collections::HashMap;
use std::time::Duration;

use petgraph::graph::{DiGraph, NodeIndex};

use step::Step;

use crate::model::Phase;

/// The steps of a plan as a DAG.
#[derive(Debug)]
pub struct StepGraph {
    graph: DiGraph<usize, ()>,
    nodes: Vec<NodeIndex>,
}

impl StepGraph {
    /// Builds the graph of `steps`, which lists every step after the ones it waits for.
    pub fn new(steps: &[Step]) -> Self {
        let mut graph = DiGraph::with_capacity(steps.len(), steps.len() * 2);
        let nodes: Vec<NodeIndex> = (0..steps.len()).map(|i| graph.add_node(i)).collect();
        let index: HashMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        for (i, step) in steps.iter().enumerate() {
            for dependency in &step.depends_on {
                if let Some(&j) = index.get(dependency.as_str()) {
                    graph.add_edge(nodes[j], nodes[i], ());
                }
            }
        }
        Self { graph, nodes }
    }

    /// The predecessors of step `i`.
    fn predecessors(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(self.nodes[i], petgraph::Direction::Incoming)
            .map(|n| self.graph[n])
    }

    /// The level of each step: 0 for steps that wait for nothing, else one more than
    /// the deepest step it waits for. Steps of one level can run together.
    pub fn levels(&self) -> Vec<usize> {
        let mut levels = vec![0; self.nodes.len()];
        for i in 0..self.nodes.len() {
            levels[i] = self
                .predecessors(i)
                .map(|p| levels[p] + 1)
                .max()
                .unwrap_or(0);
        }
        levels
    }

    /// The longest chain of estimates up to recovery through the graph, and its total:
    /// the resolve phase (notices, the maintenance page coming down, the region left
    /// regaining redundancy) runs once recovery is verified, so it does not count.
    pub fn critical_path(&self, steps: &[Step]) -> (Duration, Vec<usize>) {
        let estimates: Vec<Duration> = steps
            .iter()
            .map(|s| {
                if s.phase == Phase::Resolve {
                    Duration::ZERO
                } else {
                    s.estimate
                }
            })
            .collect();
        self.longest_path(&estimates)
    }

    /// When each step starts at the earliest, all starting at zero, when step `i`
    /// takes `weights[i]`: as soon as the last step it waits for has finished.
    pub fn earliest_starts(&self, weights: &[Duration]) -> Vec<Duration> {
        let (finish, _) = self.finishes(weights);
        finish
            .iter()
            .zip(weights)
            .map(|(finish, weight)| finish.saturating_sub(*weight))
            .collect()
    }

    /// When each step finishes at the earliest, and the step it waited for last.
    fn finishes(&self, weights: &[Duration]) -> (Vec<Duration>, Vec<Option<usize>>) {
        let mut finish = vec![Duration::ZERO; weights.len()];
        let mut via: Vec<Option<usize>> = vec![None; weights.len()];
        for i in 0..weights.len() {
            let longest = self
                .predecessors(i)
                .max_by_key(|&p| (finish[p], std::cmp::Reverse(p)));
            finish[i] = longest
                .map_or(Duration::ZERO, |p| finish[p])
                .saturating_add(weights[i]);
            via[i] = longest;
        }
        (finish, via)
    }

    /// The longest chain through the graph when step `i` takes `weights[i]`, and its total.
    pub fn longest_path(&self, weights: &[Duration]) -> (Duration, Vec<usize>) {
        let (finish, via) = self.finishes(weights);
        let Some(end) = (0..weights.len()).max_by_key(|&i| (finish[i], std::cmp::Reverse(i)))
        else {
            return (Duration::ZERO, Vec::new());
        };
        let mut path = vec![end];
        while let Some(previous) = via[*path.last().unwrap_or(&end)] {
            path.push(previous);
        }
        path.reverse();
        (finish[end], path)
    }
}
