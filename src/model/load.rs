//! Loading an environment file: TOML with spans → the validated model, with every
//! problem reported at once.

use std::path::{Path, PathBuf};

use super::{Environment, circular, decode, lifecycle, stability, validate};
use crate::config::tree::Fields;
use crate::error::{Error, InvalidConfig, Problem, ProblemKind, Warnings};
use crate::fsio::read_bounded;
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
        let mut problems = stability::warnings(&self.env, scenario);
        problems.extend(lifecycle::warnings(&self.env));
        problems.extend(circular::warnings(&self.env));
        problems.sort_by_key(Problem::offset);
        (!problems.is_empty())
            .then(|| Warnings::new(&self.path.display().to_string(), &self.text, problems))
    }
}

/// The largest environment file drplan reads: 16 MiB (the reference is 9 KiB, the
/// 10,000-service benchmark 2.5 MB).
const MAX_ENVIRONMENT_FILE: u64 = 16 * 1024 * 1024;

/// Reads, decodes and validates the environment file at `path`.
pub fn load(path: &Path) -> Result<LoadedEnvironment, Error> {
    let bytes = read_bounded(path, "an environment file", MAX_ENVIRONMENT_FILE)?;
    let name = path.display().to_string();
    let text = String::from_utf8(bytes).map_err(|error| not_utf8(&name, &error))?;
    let env = parse(&name, &text)?;
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

/// The file is not UTF-8: where its first invalid byte is.
fn not_utf8(name: &str, error: &std::string::FromUtf8Error) -> Error {
    let offset = error.utf8_error().valid_up_to();
    let byte = error.as_bytes()[offset];
    // The lossy text keeps every byte before the first invalid one where it was, and
    // shows that one as U+FFFD.
    let text = String::from_utf8_lossy(error.as_bytes());
    let problem = Problem::new(
        ProblemKind::InvalidUtf8,
        format!("the file is not UTF-8: byte {offset} (0x{byte:02x}) is not part of a UTF-8 character"),
        offset..offset + char::REPLACEMENT_CHARACTER.len_utf8(),
        "not UTF-8",
    )
    .help("drplan reads environment files as UTF-8: save this one as UTF-8 (with iconv, or your editor)");
    invalid(name, &text, vec![problem])
}

fn invalid(name: &str, text: &str, problems: Vec<Problem>) -> Error {
    Error::InvalidConfig(Box::new(InvalidConfig::new(name, text, problems)))
}
