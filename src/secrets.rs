//! `${env:VAR}` references: resolved only when a step runs, and redacted back to
//! `${env:VAR}` in everything written (journal, state, reports).

use crate::error::Error;

/// The values of the environment variables a run has resolved.
#[derive(Debug, Default)]
pub struct Secrets {
    /// (placeholder, value), longest values first so redaction never leaves a tail.
    known: std::sync::Mutex<Vec<(String, String)>>,
}

impl Secrets {
    /// `text` with every `${env:VAR}` replaced by the variable's value.
    pub fn resolve(&self, text: &str) -> Result<String, Error> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some((before, name, after)) = next_reference(rest) {
            out.push_str(before);
            let value = std::env::var(name).map_err(|_| Error::UnsetVariable {
                name: name.to_string(),
            })?;
            self.remember(format!("${{env:{name}}}"), value.clone());
            out.push_str(&value);
            rest = after;
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Every argument of `argv` resolved.
    pub fn resolve_all(&self, argv: &[String]) -> Result<Vec<String>, Error> {
        argv.iter().map(|arg| self.resolve(arg)).collect()
    }

    /// `text` with every resolved value replaced by its `${env:VAR}` placeholder.
    pub fn redact(&self, text: &str) -> String {
        let known = self.known.lock().map(|k| k.clone()).unwrap_or_default();
        known
            .iter()
            .fold(text.to_string(), |acc, (placeholder, value)| {
                acc.replace(value, placeholder)
            })
    }

    fn remember(&self, placeholder: String, value: String) {
        if value.is_empty() {
            return;
        }
        if let Ok(mut known) = self.known.lock()
            && !known.iter().any(|(p, _)| *p == placeholder)
        {
            known.push((placeholder, value));
            known.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        }
    }
}

/// The variables `texts` refer to (`${env:VAR}`) that are not set, each once, in order.
pub fn unset<'t>(texts: impl IntoIterator<Item = &'t str>) -> Vec<String> {
    let mut unset: Vec<String> = Vec::new();
    for text in texts {
        let mut rest = text;
        while let Some((_, name, after)) = next_reference(rest) {
            if std::env::var_os(name).is_none() && !unset.iter().any(|u| u == name) {
                unset.push(name.to_string());
            }
            rest = after;
        }
    }
    unset
}

/// The first `${env:VAR}` of `text`: the text before it, VAR, and the text after it.
fn next_reference(text: &str) -> Option<(&str, &str, &str)> {
    let start = text.find("${env:")?;
    let after = &text[start + 6..];
    let end = after.find('}')?;
    Some((&text[..start], &after[..end], &after[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_then_redacts() {
        // SAFETY: tests in this module are the only readers of this variable.
        unsafe { std::env::set_var("DRPLAN_TEST_SECRET_HOOK", "https://hooks.example/s3cr3t") };
        let secrets = Secrets::default();
        let url = secrets
            .resolve("${env:DRPLAN_TEST_SECRET_HOOK}?x=1")
            .unwrap();
        assert_eq!(url, "https://hooks.example/s3cr3t?x=1");
        assert_eq!(
            secrets.redact("POST https://hooks.example/s3cr3t?x=1 failed"),
            "POST ${env:DRPLAN_TEST_SECRET_HOOK}?x=1 failed"
        );
    }

    #[test]
    fn unset_variables_are_listed_once() {
        // SAFETY: tests in this module are the only readers of this variable.
        unsafe { std::env::set_var("DRPLAN_TEST_SECRET_SET", "x") };
        let texts = [
            "${env:DRPLAN_TEST_SECRET_SET} ${env:DRPLAN_TEST_UNSET_A}",
            "${env:DRPLAN_TEST_UNSET_A}/${env:DRPLAN_TEST_UNSET_B}",
        ];
        assert_eq!(unset(texts), ["DRPLAN_TEST_UNSET_A", "DRPLAN_TEST_UNSET_B"]);
    }

    #[test]
    fn a_missing_variable_is_an_error() {
        let secrets = Secrets::default();
        assert!(
            secrets
                .resolve("${env:DRPLAN_TEST_NOT_SET_ANYWHERE}")
                .is_err()
        );
    }
}
