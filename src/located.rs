//! A value read from an environment file, with the span it was written at.

use crate::error::Span;

/// A value read from the file, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Located<T> {
    pub value: T,
    #[serde(skip)]
    pub span: Span,
}

impl<T> Located<T> {
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}
