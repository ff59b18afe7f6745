//! Shared helpers for the integration tests.
pub mod arc_stand_in;
pub mod mermaid;
pub mod moto;
pub mod runner;
pub mod snapshot;
pub mod terminal;
pub mod webhook;
pub mod workspace;
