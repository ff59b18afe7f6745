//! The sim world.
