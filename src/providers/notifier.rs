//! The real notifier: a webhook POST with the JSON body, or a command with the body
//! in `$DRPLAN_NOTIFICATION`. `${env:VAR}` in URLs and commands is resolved here, at
//! send time, and never written anywhere.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{Notifier, http, process};
use crate::error::Error;
use crate::model::{Notification, NotifyVia};
use crate::secrets::Secrets;

/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends notifications over HTTP or through commands.
pub struct RealNotifier {
    client: reqwest::Client,
    secrets: Arc<Secrets>,
}

impl RealNotifier {
    pub fn new(client: reqwest::Client, secrets: Arc<Secrets>) -> Self {
        Self { client, secrets }
    }
}

#[async_trait]
impl Notifier for RealNotifier {
    async fn send(&self, entry: &Notification, body: &serde_json::Value) -> Result<(), Error> {
        match &entry.via {
            NotifyVia::Webhook { url } => {
                let status =
                    http::post_json(&self.client, &url.to_string(), body, TIMEOUT, &self.secrets)
                        .await?;
                if (200..300).contains(&status) {
                    Ok(())
                } else {
                    Err(Error::BadStatus {
                        provider: "notify",
                        request: format!("the webhook for {}", entry.to),
                        status,
                    })
                }
            }
            NotifyVia::Command(argv) => {
                let env = [("DRPLAN_NOTIFICATION".to_string(), body.to_string())];
                process::run(&argv.argv(), TIMEOUT, &env, &self.secrets)
                    .await
                    .map(|_| ())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::{Command, Template};
    use crate::providers::http::test_server;

    fn entry(via: NotifyVia) -> Notification {
        Notification {
            after: Duration::ZERO,
            to: "on-call".to_string(),
            via,
            template: "internal-alert".to_string(),
        }
    }

    #[tokio::test]
    async fn a_webhook_gets_the_body_at_the_secret_url_and_the_secret_is_redacted_afterwards() {
        let (base, server) = test_server::answer_once("200 OK", Duration::ZERO).await;
        // SAFETY: this variable is read only by this test.
        unsafe { std::env::set_var("DRPLAN_TEST_HOOK_PATH", "hook-s3cr3t") };
        let secrets = Arc::new(Secrets::default());
        let notifier = RealNotifier::new(http::client(), secrets.clone());
        let body = serde_json::json!({ "status": "recovering", "scenario": "region-outage" });
        let via = NotifyVia::Webhook {
            url: Template::parse(&format!("{base}/${{env:DRPLAN_TEST_HOOK_PATH}}"), 0..0)
                .expect("a template"),
        };
        notifier.send(&entry(via), &body).await.expect("delivered");
        let request = server.await.expect("the server saw the request");
        assert!(request.starts_with("POST /hook-s3cr3t "), "{request}");
        assert!(
            request.contains(r#""scenario":"region-outage""#),
            "{request}"
        );
        let logged = secrets.redact(&format!("POST {base}/hook-s3cr3t failed"));
        assert!(
            !logged.contains("s3cr3t") && logged.contains("${env:DRPLAN_TEST_HOOK_PATH}"),
            "{logged}"
        );
    }

    #[tokio::test]
    async fn a_webhook_answering_an_error_is_a_failed_delivery() {
        let (base, _server) =
            test_server::answer_once("500 Internal Server Error", Duration::ZERO).await;
        let notifier = RealNotifier::new(http::client(), Arc::new(Secrets::default()));
        let via = NotifyVia::Webhook {
            url: Template::text(&format!("{base}/hook")),
        };
        let error = notifier
            .send(&entry(via), &serde_json::json!({}))
            .await
            .expect_err("500 is a failure");
        assert!(error.to_string().contains("answered 500"), "{error}");
    }

    #[tokio::test]
    async fn a_command_gets_the_body_in_its_environment() {
        let dir = tempfile::TempDir::new().expect("a temp dir");
        let out = dir.path().join("body.json");
        let script = format!("printf '%s' \"$DRPLAN_NOTIFICATION\" > {}", out.display());
        let via = NotifyVia::Command(Command::plain(["sh", "-c", &script]));
        let notifier = RealNotifier::new(http::client(), Arc::new(Secrets::default()));
        notifier
            .send(&entry(via), &serde_json::json!({ "status": "resolved" }))
            .await
            .expect("ran");
        let body = std::fs::read_to_string(out).expect("the command wrote the body");
        assert_eq!(body, r#"{"status":"resolved"}"#);
    }
}
