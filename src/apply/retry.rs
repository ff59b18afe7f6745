//! Retries with backoff: an activation or a check whose attempt fails for a reason
//! that may pass (a command that failed or timed out, a provider that did not answer,
//! an injected fault) is tried again after 1s, 2s, 4s… (at most 30s, scaled like
//! every wait of a run). Each failed attempt is journaled (`retrying`), so a crash
//! mid-retry resumes the step, and the step's result says how many attempts it took.

use std::future::Future;
use std::time::Duration;

use super::Context;
use crate::duration::format_seconds;
use crate::error::Error;
use crate::graph::step::Step;
use crate::state::StepEvent;

/// The wait before the first retry.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Runs `attempt` until it succeeds, at most `retries` more times after the first
/// failure, backing off between attempts; a failure that cannot pass by waiting
/// ends it at once.
pub async fn with_retries<F, Fut>(
    ctx: &Context,
    step: &Step,
    retries: u32,
    mut attempt: F,
) -> Result<String, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<String, Error>>,
{
    let attempts = retries.saturating_add(1);
    let mut backoff = FIRST_BACKOFF;
    let mut failures = Vec::new();
    for number in 1..=attempts {
        let error = match attempt().await {
            Ok(detail) if failures.is_empty() => return Ok(detail),
            Ok(detail) => return Ok(after_failures(number, &failures, &detail)),
            Err(error) => error,
        };
        if number == attempts || !transient(&error) || ctx.commands.terminating() {
            return Err(error);
        }
        let note = ctx.redact(&format!(
            "attempt {number} of {attempts} failed: {error}; trying again in {}",
            format_seconds(backoff)
        ));
        ctx.progress.line(&format!("{}: {note}", step.id));
        ctx.journal
            .step(step, StepEvent::Retrying, note.clone())
            .await?;
        failures.push(
            error
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        );
        tokio::time::sleep(ctx.scaled(backoff)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    Err(Error::Bug {
        detail: "a retry loop ended without an attempt".to_string(),
    })
}

/// The result of a step that succeeded on attempt `number` after `failures`.
fn after_failures(number: u32, failures: &[String], detail: &str) -> String {
    let earlier: Vec<String> = failures
        .iter()
        .enumerate()
        .map(|(i, failure)| format!("attempt {}: {failure}", i + 1))
        .collect();
    let attempts = format!("{number} attempts ({})", earlier.join("; "));
    if detail.is_empty() {
        attempts
    } else {
        format!("{attempts}; then: {detail}")
    }
}

/// True for a failure that may pass by trying again: a command that failed or ran
/// too long, a provider that did not answer or was busy, an injected fault. A wrong
/// name, a missing program, a refusal or a region down do not pass by waiting.
pub fn transient(error: &Error) -> bool {
    matches!(
        error,
        Error::CommandFailed { .. }
            | Error::CommandTimedOut { .. }
            | Error::Unreachable { .. }
            | Error::Throttled { .. }
            | Error::Api { .. }
            | Error::BadStatus { .. }
            | Error::InjectedFault { .. }
            | Error::CheckFailed { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_counts_the_attempts() {
        let failures = vec!["command: `start` exited with 1".to_string()];
        assert_eq!(
            after_failures(2, &failures, "started"),
            "2 attempts (attempt 1: command: `start` exited with 1); then: started"
        );
    }

    #[test]
    fn only_failures_that_may_pass_are_retried() {
        assert!(transient(&Error::InjectedFault {
            action: "activate".to_string()
        }));
        assert!(!transient(&Error::RegionDown {
            region: "eu-west-1".to_string()
        }));
        assert!(!transient(&Error::ProgramNotFound {
            program: "start".to_string()
        }));
    }
}
