//! The local state backend.
