//! Shared helpers for the integration tests.
pub mod moto;
pub mod snapshot;
pub mod workspace;
