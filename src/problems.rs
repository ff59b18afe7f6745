//! The problems found while reading an environment file: all of them, never just the
//! first.

use crate::error::Problem;

/// Problems found so far; decoding goes on after each one.
#[derive(Debug, Default)]
pub struct Problems {
    pub list: Vec<Problem>,
    /// `KIND.NAME` of every declared entity that could not be decoded: references to
    /// it are not reported again as unknown.
    pub broken: std::collections::HashSet<String>,
}

impl Problems {
    pub fn push(&mut self, problem: Problem) {
        self.list.push(problem);
    }

    /// Whether `[kind.name]` is declared but could not be decoded.
    pub fn is_broken(&self, kind: &str, name: &str) -> bool {
        self.broken.contains(&format!("{kind}.{name}"))
    }

    /// The value, or `None` with the problem recorded.
    pub fn ok<T>(&mut self, result: Result<T, Problem>) -> Option<T> {
        result.map_err(|problem| self.push(problem)).ok()
    }
}
