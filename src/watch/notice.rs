//! What a watcher tells people when it will not act alone: a trigger fired and its
//! scenario waits for approval, or home is healthy again and the failback waits. The
//! body carries the plan (markdown) and the command that runs it. It goes to the
//! timeline entries due at once (`after = "0m"`: normally the on-call).

use serde_json::{Value, json};

use crate::model::{Environment, Notification};

/// One thing to tell.
#[derive(Debug, Clone)]
pub struct Notice {
    pub trigger: String,
    /// The scenario that waits, or `failback`.
    pub intent: String,
    pub severity: Option<String>,
    /// `awaiting-approval` (an incident) or `home-healthy` (a failback).
    pub status: &'static str,
    /// What the watcher saw.
    pub observed: String,
    /// When it decided (RFC 3339).
    pub detected: String,
    /// The command a person runs to go ahead.
    pub command: String,
    /// The plan, as markdown.
    pub plan: String,
}

/// The timeline entries a watcher notifies.
pub fn recipients(env: &Environment) -> impl Iterator<Item = &Notification> {
    env.notify.iter().filter(|entry| entry.after.is_zero())
}

/// The JSON body sent to `entry`.
pub fn body(env: &Environment, entry: &Notification, notice: &Notice) -> Value {
    let text = format!(
        "[{}] {}: trigger {} fired ({}); {} is planned and waiting for `{}`",
        notice.severity.as_deref().unwrap_or("-"),
        env.name,
        notice.trigger,
        notice.observed,
        notice.intent,
        notice.command
    );
    json!({
        "template": entry.template,
        "environment": env.name,
        "trigger": notice.trigger,
        "scenario": notice.intent,
        "severity": notice.severity,
        "status": notice.status,
        "detected": notice.detected,
        "text": text,
        "plan": notice.plan,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_carries_the_plan_and_the_command_to_run_it() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/example.toml");
        let env = crate::model::load(&path).unwrap().env;
        let notice = Notice {
            trigger: "region-down".to_string(),
            intent: "region-outage".to_string(),
            severity: Some("SEV-1".to_string()),
            status: "awaiting-approval",
            observed: "web in eu-west-1: region eu-west-1 is down".to_string(),
            detected: "2026-11-29T15:00:00Z".to_string(),
            command: "drplan apply environments/example.toml --scenario region-outage".to_string(),
            plan: "# Plan: region-outage\n".to_string(),
        };
        let entries: Vec<&Notification> = recipients(&env).collect();
        assert_eq!(entries.len(), 1);

        let body = body(&env, entries[0], &notice);

        assert_eq!(body["plan"], "# Plan: region-outage\n");
        assert_eq!(body["status"], "awaiting-approval");
        assert_eq!(
            body["text"],
            "[SEV-1] example: trigger region-down fired (web in eu-west-1: region eu-west-1 is down); \
             region-outage is planned and waiting for \
             `drplan apply environments/example.toml --scenario region-outage`"
        );
    }
}
