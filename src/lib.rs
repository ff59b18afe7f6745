//! drplan: a disaster-recovery runbook as code.
//!
//! The pipeline, one module a stage:
//! config (TOML → spans) → model (validated environment) → graph (steps, tier gates,
//! critical path) → observe (actual state) → plan (desired − actual → steps) → apply.

pub mod apply;
pub mod cli;
pub mod config;
pub mod drill;
pub mod duration;
pub mod error;
pub mod fsio;
pub mod graph;
pub mod located;
pub mod model;
pub mod observe;
pub mod paths;
pub mod plan;
pub mod problems;
pub mod providers;
pub mod secrets;
pub mod session;
pub mod state;
pub mod suggest;
pub mod timestamp;
pub mod watch;
