//! drplan: a disaster-recovery runbook as code.
//!
//! The modules stack one way: each uses only the ones listed before it, so data flows
//! config → model → graph → observe → plan → apply (→ watch → drill → cli).
//! `tests/layering.rs` fails when a module imports one listed after it.
//!
//! - ground, for every module: `error`, `duration`, `timestamp`, `located`, `problems`,
//!   `suggest`, `fsio`, `paths`, `secrets`, `excerpt`
//! - `config`: TOML text → a tree of values with spans
//! - `model`: the validated environment
//! - `providers`: the world behind one trait per resource kind (sim, AWS, commands)
//! - `graph`: steps, their order and critical path
//! - `observe`: the actual state, read from the providers
//! - `plan`: desired − actual → changes → steps; plan files and staleness
//! - `state`: lineage, serial, placement and journal; local and S3 backends, locks
//! - `session`: an environment loaded, its providers and state connected
//! - `apply`: the executor, journal, resume, run reports
//! - `watch`: triggers → plan → apply or notify
//! - `drill`: rehearsals on a sim copy, the DR calendar
//! - `cli`: the commands, and every rendering of plans, graphs and reports

pub mod apply;
pub mod cli;
pub mod config;
pub mod drill;
pub mod duration;
pub mod error;
pub mod excerpt;
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
