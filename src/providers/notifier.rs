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
                let url = self.secrets.resolve(url)?;
                let status = http::post_json(&self.client, &url, body, TIMEOUT).await?;
                if (200..300).contains(&status) {
                    Ok(())
                } else {
                    Err(Error::provider(
                        "notify",
                        format!("the webhook for {} answered {status}", entry.to),
                        "check the webhook URL and its service",
                    ))
                }
            }
            NotifyVia::Command(argv) => {
                let argv = self.secrets.resolve_all(&argv.0)?;
                let env = [("DRPLAN_NOTIFICATION".to_string(), body.to_string())];
                process::run(&argv, TIMEOUT, &env).await.map(|_| ())
            }
        }
    }
}
