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
        while let Some(start) = rest.find("${env:") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 6..];
            let Some(end) = after.find('}') else { break };
            let name = &after[..end];
            let value = std::env::var(name).map_err(|_| Error::UnsetVariable {
                name: name.to_string(),
            })?;
            self.remember(format!("${{env:{name}}}"), value.clone());
            out.push_str(&value);
            rest = &after[end + 1..];
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
    fn a_missing_variable_is_an_error() {
        let secrets = Secrets::default();
        assert!(
            secrets
                .resolve("${env:DRPLAN_TEST_NOT_SET_ANYWHERE}")
                .is_err()
        );
    }
}
