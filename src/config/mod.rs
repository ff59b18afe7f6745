//! Reading an environment file's TOML: the syntax, with spans, and typed reads of the
//! tree ([`tree`]). What the values mean is the model's business.

pub mod tree;

use sha2::{Digest, Sha256};
use toml::Spanned;
use toml::de::DeTable;

use crate::error::{Problem, ProblemKind};
use crate::problems::Problems;

/// Parses `text` as TOML; `None` with the syntax problems recorded when it is not.
pub fn parse<'i>(text: &'i str, problems: &mut Problems) -> Option<Spanned<DeTable<'i>>> {
    let (root, errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        return Some(root);
    }
    for error in errors {
        problems.push(syntax_problem(&error, text.len()));
    }
    None
}

fn syntax_problem(error: &toml::de::Error, len: usize) -> Problem {
    let span = error.span().unwrap_or(len..len);
    Problem::new(
        ProblemKind::TomlSyntax,
        format!("invalid TOML: {}", error.message().trim()),
        span,
        "here",
    )
    .help("see https://toml.io for the syntax; strings need quotes, tables are [name]")
}

/// SHA-256 of `text`, hex-encoded.
pub fn hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}
