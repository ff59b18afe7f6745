//! Every refusal and provider failure as a user sees it: one snapshot per code under
//! `snapshots/errors/`, named after the code (`drplan::apply::rpo_breached` is
//! `apply-rpo_breached.snap`), each built with the values of the reference environment.

use std::collections::BTreeSet;
use std::path::PathBuf;

use drplan::error::Error;

use crate::support::snapshot;

// One example of every error variant, in one list so a new variant is easy to add.
#[allow(clippy::too_many_lines)]
fn examples() -> Vec<Error> {
    let s = ToString::to_string;
    vec![
        Error::TooLarge {
            path: PathBuf::from("/dev/zero"),
            what: "an environment file",
            limit: s("16 MiB"),
        },
        Error::Stdout {
            source: std::io::Error::from_raw_os_error(28),
        },
        Error::NotAPlan {
            path: PathBuf::from("environments/production.toml"),
            detail: s("expected value at line 1 column 1"),
        },
        Error::PlanFormat {
            path: PathBuf::from("plan.json"),
            found: 1,
            expected: 2,
        },
        Error::RpoBreached {
            data: vec![s("customer-configs"), s("conversations")],
        },
        Error::NoNewBackup {
            service: s("orders-db"),
            location: s("s3://shop-velero/backups/orders-"),
            newest: s("s3://shop-velero/backups/orders-hourly-20261202010000/velero-backup.json"),
        },
        Error::SafetyRulesBreached {
            breaches: vec![s(
                "switch:www: assertion rule `one-cell-on` (at least 1 on of [east, west]) would not hold after the update",
            )],
        },
        Error::BackupBeyondRpo {
            data: s("customer-configs"),
            found: s(
                "newest backup s3://omniops-backups/database/production-20240501T020000Z.dump is 3h 12m old",
            ),
            rpo: s("1h"),
        },
        Error::Aborted,
        Error::ConditionNotMet {
            step: s("reseed"),
            detail: s(r#"waited for /status = "COMPLETED": last saw `RUNNING`"#),
        },
        Error::DiskFull {
            path: PathBuf::from(".drplan/state/production.journal"),
            source: std::io::Error::from_raw_os_error(28),
        },
        Error::JournalFailed {
            cause: Box::new(Error::Unreachable {
                provider: "s3",
                message: s("cannot write s3://omniops-state/production.json: connection refused"),
                help: "check the network, and `endpoint` under [providers] or AWS_ENDPOINT_URL when one is set",
            }),
            spool: Some(PathBuf::from(".drplan/spool/production.journal")),
        },
        Error::Unrecorded {
            detail: s("s3: cannot write s3://omniops-state/production.json: connection refused"),
        },
        Error::RegionDown {
            region: s("us-west-2"),
        },
        Error::NoBackup {
            location: s("s3://omniops-backups/database/"),
        },
        Error::Unhealthy {
            service: s("api"),
            region: s("us-west-2"),
            attempts: 3,
            detail: s("http: GET https://api.us-west-2.omniops.co.uk/health: connection refused"),
        },
        Error::CheckFailed {
            check: s("site answers"),
            target: s("https://www.omniops.co.uk/"),
            detail: s("answered 503, expected 200"),
        },
        Error::NotApproved {
            step: s("switch:api.omniops.co.uk"),
        },
        Error::NoTerminal,
        Error::Cancelled,
        Error::NothingToResume {
            environment: s("production"),
        },
        Error::RunFinished {
            run: s("20240501T051200Z-regional-failure-3fa9c2"),
        },
        Error::TemplateNotJson {
            path: PathBuf::from("environments/templates/status-page.json"),
            detail: s("expected `,` or `}` at line 4 column 3"),
        },
        Error::UnsetSecrets {
            names: vec![s("PAGERDUTY_WEBHOOK"), s("DB_TOKEN")],
        },
        Error::UnsetVariable {
            name: s("SLACK_WEBHOOK"),
        },
        Error::WatcherOvertaken,
        Error::Credentials {
            provider: "route53",
            message: s(
                "cannot look up the hosted zone omniops.co.uk: AWS rejected the credentials (ExpiredToken)",
            ),
            help: "refresh them (`aws sso login`, new access keys) and check AWS_PROFILE",
        },
        Error::AccessDenied {
            provider: "s3",
            action: s("list s3://omniops-backups/database/"),
        },
        Error::Unreachable {
            provider: "s3",
            message: s(
                "cannot list s3://omniops-backups/database/: AWS could not be reached (dispatch failure: io error: Connection refused (os error 111))",
            ),
            help: "check the network, and `endpoint` under [providers] or AWS_ENDPOINT_URL when one is set",
        },
        Error::NotFound {
            provider: "s3",
            message: s("cannot list s3://omniops-backups/database/: the bucket does not exist"),
            help: "create the bucket, or fix the s3:// URL in the environment file",
        },
        Error::Throttled {
            provider: "route53",
            action: s("change 3 record set(s) in zone Z0123456789ABC"),
            code: s("Throttling"),
        },
        Error::WrongRegion {
            provider: "s3",
            action: s("read s3://drplan-state/production.json"),
        },
        Error::Api {
            provider: "s3",
            message: s(
                "cannot upload s3://omniops-static/index.html: AWS answered InvalidStorageClass: The storage class you specified is not valid",
            ),
            help: "see the AWS documentation of this error code",
        },
        Error::AmbiguousZone {
            zone: s("omniops.co.uk"),
            ids: vec![s("Z0123456789ABC"), s("Z0987654321XYZ")],
        },
        Error::ChangePending {
            change: s("C02468ACE13579"),
            waited: s("5m"),
        },
        Error::InvalidUrl {
            method: "GET",
            url: s("api.omniops.co.uk/health"),
        },
        Error::BadStatus {
            provider: "notify",
            request: s("the webhook for on-call"),
            status: 404,
        },
        Error::UnsupportedRouting {
            record: s("api.omniops.co.uk"),
            policy: s("failover (PRIMARY)"),
            declared: "weighted",
        },
        Error::FailoverSets {
            record: s("www.omniops.co.uk"),
            detail: s("it has no SECONDARY set"),
        },
        Error::FailoverWithoutHealthCheck {
            record: s("www.omniops.co.uk"),
            region: s("us-east-1"),
        },
        Error::PartialHealthCheckOverride {
            record: s("www.omniops.co.uk"),
            health_check: s("abc123"),
            state: s("inverted only (a failing PRIMARY would look healthy)"),
        },
        Error::ProgramNotFound {
            program: s("supabase"),
        },
        Error::NotExecutable {
            program: s("./scripts/promote.sh"),
        },
        Error::CommandOs {
            program: s("supabase"),
            action: "start",
            detail: s("Too many open files (os error 24)"),
        },
        Error::CommandFailed {
            program: s("supabase"),
            how: s("exited with code 1"),
            tail: vec![
                s("promoting replica db-us-west-2"),
                s("error: replica is 4h behind"),
            ],
        },
        Error::CommandTimedOut {
            program: s("supabase"),
            timeout: s("5m"),
            tail: vec![s("waiting for the replica to catch up")],
        },
        Error::NoSimWorld {
            path: PathBuf::from(".drplan/sim/production.json"),
        },
        Error::CorruptSimWorld {
            path: PathBuf::from(".drplan/sim/production.json"),
            detail: s("EOF while parsing an object at line 12 column 0"),
        },
        Error::UnknownActiveRegion {
            region: s("us-west-3"),
            known: s("us-east-1, us-west-2"),
        },
        Error::UnknownSimName {
            kind: s("region"),
            name: s("us-west-3"),
            help: s("did you mean `us-west-2`?"),
        },
        Error::SimRegionDown {
            service: s("api"),
            region: s("us-west-2"),
        },
        Error::InjectedFault {
            action: s("activate api in us-west-2"),
        },
        Error::NoErrorRateProbe {
            trigger: s("error-rate"),
        },
        Error::NotARatio { text: s("<html>") },
        Error::UnreadableLag {
            data: s("conversations"),
            region: s("us-west-2"),
            detail: s("the output has no /replication/lag_ms"),
        },
        Error::PromotionTimeout {
            instance: s("omniops-db-usw2"),
            region: s("us-west-2"),
            status: s("modifying"),
            waited: s("30m"),
        },
        Error::ArcRefused {
            action: s("turn the routing control of us-west-2 on and of us-east-1 off"),
            code: s("ConflictException"),
            message: s("the update would violate safety rule at-least-one-on"),
        },
        Error::AuroraTimeout {
            target: s("orders-west in us-west-2"),
            global_cluster: s("orders"),
            call: "SwitchoverGlobalCluster",
            status: s("global cluster `switching-over`, cluster `available`"),
            waited: s("30m"),
        },
        Error::AuroraDetached {
            cluster: s("orders-east in us-east-1"),
            global_cluster: s("orders"),
        },
        Error::NoSuchAlarm {
            alarm: s("api-5xx"),
            region: s("us-east-1"),
        },
        Error::UnreadableDnsCommand {
            record: s("www"),
            detail: s("the command printed nothing; print `[]` for a record with no sets"),
        },
        Error::EditedPlan {
            difference: s("step `activate:database` is not the step planning produces"),
        },
        Error::SimPlan {
            path: PathBuf::from("plan.json"),
        },
        Error::NotCaughtUp {
            data: s("conversations"),
            region: s("us-east-1"),
            gap: s("50 write(s) behind, replication does not feed it"),
        },
        Error::SimUnreachable {
            action: s("deactivate database us-east-1"),
            reason: s("database is marked down in us-east-1"),
        },
        Error::SimWriteRefused {
            data: s("conversations"),
            reason: s("the copy in us-east-1 is fenced: it refuses writes"),
        },
        Error::Bug {
            detail: s("no dns provider could be set up"),
        },
    ]
}

#[test]
fn every_refusal_and_provider_failure_has_its_own_code_and_help() {
    let mut seen = BTreeSet::new();
    for error in examples() {
        let code = miette::Diagnostic::code(&error)
            .expect("every error has a code")
            .to_string();
        assert!(seen.insert(code.clone()), "{code} has two examples");
        assert!(
            miette::Diagnostic::help(&error).is_some(),
            "{code} has no help"
        );
        let name = code.trim_start_matches("drplan::").replace("::", "-");
        snapshot::assert("errors", &name, &drplan::error::render(&error, false));
    }
}
