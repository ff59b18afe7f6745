//! Notifications: the timeline's entries rendered from a template and sent through
//! the notifier, each at its offset from the start of the run (or as soon as recovery
//! is done, if that comes first). A failed notification is retried, then recorded;
//! it never fails recovery. Each is sent at most once per run: the journal records it
//! before the first attempt (a resume does not send it again), and its body carries
//! an `idempotency_key` (run and step) for receivers that see a retry twice.

use std::time::Duration;

use serde_json::{Value, json};

use super::Context;
use crate::error::Error;
use crate::graph::step::{NotifyStatus, Step};
use crate::model::Notification;

/// How many times a notification is tried.
const ATTEMPTS: u32 = 3;

/// Sends timeline entry `index` (for `step`) once its time has come.
pub async fn send(
    ctx: &Context,
    step: &Step,
    index: usize,
    after: Duration,
    status: NotifyStatus,
) -> Result<String, Error> {
    let Some(entry) = ctx.env.notify.get(index) else {
        return Ok(String::new());
    };
    ctx.wait_until(after).await;
    let mut body = body(ctx, entry, status)?;
    let rendered = entry.render(&ctx.plan.placeholders(&ctx.env));
    let key = format!("{}/{}", ctx.run_id, step.id);
    if let Value::Object(fields) = &mut body {
        fields.insert("idempotency_key".to_string(), Value::String(key.clone()));
    }
    ctx.journal
        .sending(step, format!("idempotency key {key}"))
        .await?;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match ctx.runtime.notifier.send(&rendered, &body).await {
            Ok(()) => return Ok(format!("notified {} ({})", entry.to, entry.template)),
            Err(error) => last = error.to_string(),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(ctx.scaled(Duration::from_secs(u64::from(attempt)))).await;
        }
    }
    Ok(format!(
        "notification to {} failed after {ATTEMPTS} attempts (recovery goes on): {last}",
        entry.to
    ))
}

/// The JSON body of a notification: a built-in template or a template file.
pub fn body(ctx: &Context, entry: &Notification, status: NotifyStatus) -> Result<Value, Error> {
    let plan = &ctx.plan;
    let status = match status {
        NotifyStatus::Started => "recovering",
        NotifyStatus::Resolved => "resolved",
    };
    let eta = crate::duration::format_duration(plan.summary.estimated_rto).clone();
    let started = humantime::format_rfc3339_seconds(ctx.started).to_string();
    let impact = impact(plan);
    let fields = [
        ("environment", plan.environment.as_str()),
        ("scenario", plan.intent.name.as_str()),
        ("severity", plan.intent.severity.as_deref().unwrap_or("")),
        ("status", status),
        ("started", started.as_str()),
        ("impact", impact.as_str()),
        ("eta", eta.as_str()),
    ];
    match entry.template.as_str() {
        "internal-alert" => Ok(json!({
            "template": "internal-alert",
            "environment": plan.environment,
            "scenario": plan.intent.name,
            "severity": plan.intent.severity,
            "status": status,
            "started": started,
            "impact": impact,
            "eta": eta,
            "text": format!("[{}] {} {}: {} ({impact}); estimated recovery {eta}", plan.intent.severity.as_deref().unwrap_or("-"), plan.environment, plan.intent.name, status),
        })),
        "customer-notice" => Ok(json!({
            "template": "customer-notice",
            "status": status,
            "started": started,
            "eta": eta,
            "message": match status {
                "resolved" => "The incident is resolved and every service is available again.".to_string(),
                _ => format!("We are recovering from an incident affecting some services. We expect to be fully available within {eta}."),
            },
        })),
        file => template_file(ctx, file, &fields),
    }
}

/// What the plan touches, in words.
fn impact(plan: &crate::plan::Plan) -> String {
    let services = plan
        .steps
        .iter()
        .filter(|s| s.action.name() == "activate" || s.action.name() == "restore")
        .count();
    let records = plan
        .steps
        .iter()
        .filter(|s| s.action.name() == "switch")
        .count();
    format!("{services} service(s) recovered, {records} DNS record(s) moved")
}

/// A JSON template file (relative to the environment file) with `{field}` placeholders
/// (message fields, not the placeholders of commands and URLs: the file is JSON, its
/// braces are its own).
fn template_file(ctx: &Context, file: &str, fields: &[(&str, &str)]) -> Result<Value, Error> {
    let path = ctx.env_dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    let text = fields.iter().fold(text, |text, (name, value)| {
        text.replace(&format!("{{{name}}}"), value)
    });
    serde_json::from_str(&text).map_err(|e| Error::TemplateNotJson {
        path,
        detail: e.to_string(),
    })
}
