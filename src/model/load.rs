//! Loading an environment file: TOML with spans → the validated model, with every
//! problem reported at once.

use std::path::{Path, PathBuf};

use super::{Environment, decode, stability, validate};
use crate::config::tree::Fields;
use crate::error::{Error, InvalidConfig, Problem, Warnings};
use crate::problems::Problems;

/// An environment file, loaded and validated.
#[derive(Debug, Clone)]
pub struct LoadedEnvironment {
    pub path: PathBuf,
    pub env: Environment,
    /// SHA-256 of the file's bytes: a saved plan records it to detect edits.
    pub config_hash: String,
    /// The file's text, for diagnostics about it.
    pub text: String,
}

impl LoadedEnvironment {
    /// The static-stability warnings about recovering in `scenario` (every failover
    /// scenario when `None`), rendered with the file's text; `None` when there are none.
    pub fn warnings(&self, scenario: Option<&str>) -> Option<Warnings> {
        let problems = stability::warnings(&self.env, scenario);
        (!problems.is_empty())
            .then(|| Warnings::new(&self.path.display().to_string(), &self.text, problems))
    }
}

/// Reads, decodes and validates the environment file at `path`.
pub fn load(path: &Path) -> Result<LoadedEnvironment, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let env = parse(&path.display().to_string(), &text)?;
    Ok(LoadedEnvironment {
        path: path.to_path_buf(),
        env,
        config_hash: crate::config::hash(&text),
        text,
    })
}

/// Decodes and validates environment text; `name` is how diagnostics name the file.
pub fn parse(name: &str, text: &str) -> Result<Environment, Error> {
    let mut problems = Problems::default();
    let env = decode_text(text, &mut problems);
    if let Some(env) = &env {
        validate::check(env, &mut problems);
    }
    match env {
        Some(env) if problems.list.is_empty() => Ok(env),
        _ => Err(invalid(name, text, problems.list)),
    }
}

fn decode_text(text: &str, problems: &mut Problems) -> Option<Environment> {
    let root = crate::config::parse(text, problems)?;
    let span = root.span();
    let mut fields = Fields::new(root.get_ref(), span, "the file".to_string());
    let env = decode::environment(&mut fields, problems);
    fields.finish(problems);
    env
}

fn invalid(name: &str, text: &str, problems: Vec<Problem>) -> Error {
    Error::InvalidConfig(Box::new(InvalidConfig::new(name, text, problems)))
}
