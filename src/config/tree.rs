//! Typed, span-keeping reads of a parsed TOML tree.
//!
//! [`Fields`] hands out the keys of one table; whatever the decoder never asked for is
//! reported as an unknown field with a "did you mean" drawn from the keys it did ask
//! for, so the schema lives in one place: the decoder.

use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::duration::{BadDuration, parse_duration};
use crate::error::{Problem, ProblemKind, Span};
use crate::located::Located;
use crate::problems::Problems;
use crate::suggest::did_you_mean;

/// One TOML value and its span.
#[derive(Clone, Copy)]
pub struct Node<'a, 'i> {
    value: &'a DeValue<'i>,
    span: (usize, usize),
}

impl<'a, 'i> Node<'a, 'i> {
    pub fn new(value: &'a Spanned<DeValue<'i>>) -> Self {
        let span = value.span();
        Self {
            value: value.get_ref(),
            span: (span.start, span.end),
        }
    }

    pub fn span(&self) -> Span {
        self.span.0..self.span.1
    }

    fn wrong_type(&self, expected: &str) -> Problem {
        let found = self.value.type_str();
        Problem::new(
            ProblemKind::WrongType,
            format!("expected {expected}, found {found}"),
            self.span(),
            format!("this is a {found}"),
        )
        .help(format!("write {expected} here"))
    }

    /// A string; any `${…}` in it must be a well-formed `${env:NAME}`.
    pub fn string(&self) -> Result<Located<String>, Problem> {
        let DeValue::String(text) = self.value else {
            return Err(self.wrong_type("a string"));
        };
        check_env_references(text, self.span())?;
        Ok(Located::new(text.to_string(), self.span()))
    }

    pub fn integer(&self) -> Result<Located<i64>, Problem> {
        let DeValue::Integer(int) = self.value else {
            return Err(self.wrong_type("an integer"));
        };
        i64::from_str_radix(int.as_str(), int.radix())
            .map(|value| Located::new(value, self.span()))
            .map_err(|_| self.invalid("this integer is out of range", "use a smaller number"))
    }

    /// A non-negative integer that fits `T`.
    pub fn unsigned<T: TryFrom<i64>>(&self) -> Result<Located<T>, Problem> {
        let int = self.integer()?;
        T::try_from(int.value)
            .map(|value| Located::new(value, int.span))
            .map_err(|_| {
                self.invalid(
                    "this number is out of range",
                    "use a small non-negative number",
                )
            })
    }

    /// A float; integers are accepted too (`threshold = 1`).
    pub fn number(&self) -> Result<Located<f64>, Problem> {
        match self.value {
            DeValue::Float(float) => float
                .as_str()
                .parse::<f64>()
                .map(|value| Located::new(value, self.span()))
                .map_err(|_| {
                    self.invalid("this is not a number", "write a decimal number such as 0.5")
                }),
            DeValue::Integer(_) => self
                .integer()
                .map(|int| Located::new(int.value as f64, int.span)),
            _ => Err(self.wrong_type("a number")),
        }
    }

    pub fn boolean(&self) -> Result<bool, Problem> {
        self.value
            .as_bool()
            .ok_or_else(|| self.wrong_type("true or false"))
    }

    /// A duration such as `30s`, `5m`, `1h30m`, `7d`, at most a year.
    pub fn duration(&self) -> Result<Located<Duration>, Problem> {
        let text = self.string()?;
        let (message, label, help) = match parse_duration(&text.value) {
            Ok(value) => return Ok(Located::new(value, text.span)),
            Err(BadDuration::Unreadable) => (
                format!("`{}` is not a duration", text.value),
                "not a duration",
                "write a number and a unit: `500ms`, `30s`, `5m`, `1h`, `7d` (units may be combined: `1h30m`)",
            ),
            Err(BadDuration::TooLong) => (
                format!("`{}` is longer than a year", text.value),
                "too long",
                "drplan accepts durations up to a year (`1y`, `366d`)",
            ),
        };
        Err(Problem::new(ProblemKind::BadDuration, message, text.span, label).help(help))
    }

    pub fn array(&self) -> Result<Vec<Node<'a, 'i>>, Problem> {
        let DeValue::Array(items) = self.value else {
            return Err(self.wrong_type("an array"));
        };
        Ok(items.iter().map(Node::new).collect())
    }

    pub fn strings(&self) -> Result<Vec<Located<String>>, Problem> {
        self.array()?.iter().map(Node::string).collect()
    }

    /// An argument vector: a non-empty array of strings.
    pub fn argv(&self) -> Result<Vec<String>, Problem> {
        let argv: Vec<String> = self.strings()?.into_iter().map(|arg| arg.value).collect();
        if argv.is_empty() {
            return Err(self.invalid(
                "an empty command",
                "name the program first: [\"program\", \"arg\", …]",
            ));
        }
        Ok(argv)
    }

    /// A table, described as `name` in problems (e.g. "[services.api]").
    pub fn table(&self, name: impl Into<String>) -> Result<Fields<'a, 'i>, Problem> {
        let DeValue::Table(table) = self.value else {
            return Err(self.wrong_type("a table"));
        };
        Ok(Fields::new(table, self.span(), name.into()))
    }

    /// A problem with this value that is not about its type.
    pub fn invalid(&self, message: &str, help: &str) -> Problem {
        Problem::new(ProblemKind::InvalidValue, message, self.span(), "here").help(help)
    }
}

/// The keys of one table, handed out one by one.
pub struct Fields<'a, 'i> {
    entries: Vec<(Located<&'a str>, Node<'a, 'i>)>,
    taken: Vec<bool>,
    asked: Vec<&'static str>,
    span: Span,
    name: String,
}

impl<'a, 'i> Fields<'a, 'i> {
    pub fn new(table: &'a DeTable<'i>, span: Span, name: String) -> Self {
        let entries: Vec<_> = table
            .iter()
            .map(|(key, value)| {
                (
                    Located::new(key.get_ref().as_ref(), key.span()),
                    Node::new(value),
                )
            })
            .collect();
        let taken = vec![false; entries.len()];
        Self {
            entries,
            taken,
            asked: Vec::new(),
            span,
            name,
        }
    }

    /// How problems name this table.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn span(&self) -> Span {
        self.span.clone()
    }

    /// Whether `key` is written, whatever its value.
    pub fn present(&self, key: &str) -> bool {
        self.entries.iter().any(|(name, _)| name.value == key)
    }

    /// The value of `key`, if written.
    pub fn optional(&mut self, key: &'static str) -> Option<Node<'a, 'i>> {
        self.asked.push(key);
        #[cfg(test)]
        ASKED.with(|asked| asked.borrow_mut().push((self.name.clone(), key)));
        let index = self
            .entries
            .iter()
            .position(|(name, _)| name.value == key)?;
        self.taken[index] = true;
        Some(self.entries[index].1)
    }

    /// The value of `key`, or a missing-field problem naming the table.
    pub fn required(&mut self, key: &'static str) -> Result<Node<'a, 'i>, Problem> {
        self.optional(key).ok_or_else(|| {
            Problem::new(
                ProblemKind::MissingField,
                format!("{} has no `{key}`", self.name),
                self.span(),
                format!("`{key}` is missing in this table"),
            )
            .help(format!("add `{key} = …` to {}", self.name))
        })
    }

    /// Reads a required key; a problem is recorded and `None` returned when it is
    /// missing or unreadable.
    pub fn req<T>(
        &mut self,
        key: &'static str,
        read: impl FnOnce(&Node<'a, 'i>) -> Result<T, Problem>,
        problems: &mut Problems,
    ) -> Option<T> {
        problems.ok(self.required(key).and_then(|node| read(&node)))
    }

    /// Reads an optional key; an unreadable value is recorded and read as absent.
    pub fn opt<T>(
        &mut self,
        key: &'static str,
        read: impl FnOnce(&Node<'a, 'i>) -> Result<T, Problem>,
        problems: &mut Problems,
    ) -> Option<T> {
        let node = self.optional(key)?;
        problems.ok(read(&node))
    }

    /// Every entry, for tables whose keys are names (`[services.NAME]`).
    pub fn entries(&mut self) -> Vec<(Located<String>, Node<'a, 'i>)> {
        self.taken.fill(true);
        self.entries
            .iter()
            .map(|(key, node)| (Located::new(key.value.to_string(), key.span.clone()), *node))
            .collect()
    }

    /// Reports every key that was never asked for.
    pub fn finish(&mut self, problems: &mut Problems) {
        for ((key, _), taken) in self.entries.iter().zip(&self.taken) {
            if !taken {
                problems.push(unknown_field(
                    key.value,
                    key.span.clone(),
                    &self.name,
                    &self.asked,
                ));
            }
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Every (table, key) a decoder asked for on this thread, for `record_asks`.
    static ASKED: std::cell::RefCell<Vec<(String, &'static str)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `decode` and returns what it returned and every (table name, key) it asked for
/// (so a test can check a schema against what the decoder reads).
#[cfg(test)]
pub fn record_asks<T>(decode: impl FnOnce() -> T) -> (T, Vec<(String, &'static str)>) {
    ASKED.with(|asked| asked.borrow_mut().clear());
    let result = decode();
    (result, ASKED.with(std::cell::RefCell::take))
}

fn unknown_field(key: &str, span: Span, table: &str, known: &[&str]) -> Problem {
    let problem = Problem::new(
        ProblemKind::UnknownField,
        format!("unknown field `{key}` in {table}"),
        span,
        "unknown field",
    );
    match did_you_mean(key, known.iter().copied()) {
        Some(close) => problem.help(format!("did you mean `{close}`?")),
        None => problem.help(format!("the fields of {table} are: {}", known.join(", "))),
    }
}

/// Checks that every `${…}` in `text` is `${env:NAME}` with NAME a valid variable name.
fn check_env_references(text: &str, span: Span) -> Result<(), Problem> {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}');
        let inner = end.map_or(after, |end| &after[..end]);
        let valid = end.is_some() && inner.strip_prefix("env:").is_some_and(is_env_name);
        if !valid {
            return Err(Problem::new(
                ProblemKind::BadEnvReference,
                format!("malformed environment reference `${{{inner}{}`", if end.is_some() { "}" } else { "" }),
                span,
                "malformed reference",
            )
            .help("write `${env:NAME}`, where NAME is an environment variable such as PAGERDUTY_WEBHOOK"));
        }
        rest = &after[end.unwrap_or(after.len())..];
    }
    Ok(())
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_must_be_well_formed() {
        assert!(check_env_references("${env:PAGERDUTY_WEBHOOK}", 0..1).is_ok());
        assert!(check_env_references("https://x/${env:A}/${env:_B2}", 0..1).is_ok());
        assert!(check_env_references("no references", 0..1).is_ok());
        for bad in [
            "${env:}",
            "${PAGERDUTY}",
            "${env:A",
            "${env:1A}",
            "${env:A-B}",
        ] {
            assert!(
                check_env_references(bad, 0..1).is_err(),
                "{bad} should be refused"
            );
        }
    }
}
