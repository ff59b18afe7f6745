//! Incident operations: triggers (the decision matrix), notifications (the
//! communication timeline), checks (the validation checklist) and drills (the calendar).

use std::time::Duration;

use super::until::Until;
use super::{Command, Context, Located, Template};

/// The probe interval of a trigger that declares none.
pub const DEFAULT_TRIGGER_INTERVAL: Duration = Duration::from_secs(30);

/// What starts a scenario.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub name: Located<String>,
    pub scenario: Located<String>,
    pub kind: TriggerKind,
    pub services: Option<Vec<Located<String>>>,
    pub duration: Duration,
    pub interval: Duration,
    pub automatic: bool,
    pub failback: FailbackMode,
}

/// What a trigger watches.
#[derive(Debug, Clone, PartialEq)]
pub enum TriggerKind {
    Health,
    ErrorRate {
        threshold: f64,
        probe: Option<ErrorRateProbe>,
    },
    /// A CloudWatch alarm the team already has: the condition holds while it is in
    /// `ALARM`.
    Alarm(AlarmProbe),
}

/// A CloudWatch alarm, by name, in a region (else the providers' region).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmProbe {
    pub name: String,
    pub region: Option<String>,
}

/// Where an error-rate trigger reads its ratio.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorRateProbe {
    Url(Template),
    Command(Command),
}

impl ErrorRateProbe {
    /// The URL or the arguments.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            Self::Url(url) => vec![url],
            Self::Command(argv) => argv.0.iter().collect(),
        }
    }
}

/// How failback happens once home is healthy again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailbackMode {
    Auto,
    Manual,
}

/// One entry of the communication timeline.
#[derive(Debug, Clone)]
pub struct Notification {
    pub after: Duration,
    pub to: String,
    pub via: NotifyVia,
    pub template: String,
}

/// How a notification is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyVia {
    Webhook { url: Template },
    Command(Command),
}

impl NotifyVia {
    /// The URL or the arguments.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            Self::Webhook { url } => vec![url],
            Self::Command(argv) => argv.0.iter().collect(),
        }
    }
}

impl Notification {
    /// The entry with the placeholders of its URL or command replaced.
    #[must_use]
    pub fn render(&self, context: &Context<'_>) -> Self {
        let via = match &self.via {
            NotifyVia::Webhook { url } => NotifyVia::Webhook {
                url: url.render_template(context),
            },
            NotifyVia::Command(argv) => NotifyVia::Command(argv.render_command(context)),
        };
        Self {
            via,
            ..self.clone()
        }
    }
}

/// One item of the post-recovery checklist.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub kind: CheckKind,
    /// How long the check may take (`None`: an HTTP probe's default, or a command's).
    pub timeout: Option<Duration>,
    /// A condition on the command's output to wait for.
    pub until: Option<Until>,
    /// How many times a failed check is tried again (`None`: the environment's).
    pub retries: Option<u32>,
}

/// What a check verifies.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    Http {
        url: Template,
        expect: u16,
        max_latency: Option<Duration>,
    },
    Dns {
        record: Located<String>,
    },
    Command(Command),
}

impl CheckKind {
    /// The URL or the arguments (none for a DNS check).
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            Self::Http { url, .. } => vec![url],
            Self::Command(argv) => argv.0.iter().collect(),
            Self::Dns { .. } => Vec::new(),
        }
    }
}

impl Check {
    /// The check with the placeholders of its URL or command replaced.
    #[must_use]
    pub fn render(&self, context: &Context<'_>) -> Self {
        let kind = match &self.kind {
            CheckKind::Http {
                url,
                expect,
                max_latency,
            } => CheckKind::Http {
                url: url.render_template(context),
                expect: *expect,
                max_latency: *max_latency,
            },
            CheckKind::Dns { record } => CheckKind::Dns {
                record: record.clone(),
            },
            CheckKind::Command(argv) => CheckKind::Command(argv.render_command(context)),
        };
        Self {
            name: self.name.clone(),
            kind,
            timeout: self.timeout,
            until: self.until.clone(),
            retries: self.retries,
        }
    }
}

/// A recurring rehearsal.
#[derive(Debug, Clone)]
pub struct Drill {
    pub name: String,
    pub scenario: Located<String>,
    pub every: Duration,
}
