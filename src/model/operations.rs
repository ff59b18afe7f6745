//! Incident operations: triggers (the decision matrix), notifications (the
//! communication timeline), checks (the validation checklist) and drills (the calendar).

use std::time::Duration;

use super::{Command, Located};

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
    Url(String),
    Command(Command),
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
    Webhook { url: String },
    Command(Command),
}

/// One item of the post-recovery checklist.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub kind: CheckKind,
    /// How long the check may take (`None`: an HTTP probe's default, or a command's).
    pub timeout: Option<Duration>,
}

/// What a check verifies.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    Http {
        url: String,
        expect: u16,
        max_latency: Option<Duration>,
    },
    Dns {
        record: Located<String>,
    },
    Command(Command),
}

/// A recurring rehearsal.
#[derive(Debug, Clone)]
pub struct Drill {
    pub name: String,
    pub scenario: Located<String>,
    pub every: Duration,
}
