//! Route53, S3 and the S3 state backend against a real moto server: seeded and
//! checked with the AWS CLI (an independent client), driven through drplan's own
//! provider types. Every test uses its own zone and bucket names on the shared server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_route53::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_route53::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use drplan::apply::maintenance;
use drplan::error::Error;
use drplan::model::{BackupLocation, DnsRecord, Environment, ProviderKind, Providers};
use drplan::model::{RecordSet, weighted_sets};
use drplan::providers::aws::sdk_config;
use drplan::providers::route53::Route53Dns;
use drplan::providers::s3::{S3Store, content_type_for};
use drplan::providers::{DnsProvider, ObjectStore, RecordChange, StoredObject};
use drplan::state::s3::S3State;
use drplan::state::{LockInfo, State, StateBackend};
use serde_json::{Value, json};

use crate::support::moto::{self, MotoServer};

/// The reference environment's home region.
const HOME: &str = "us-east-1";

/// The reference environment with its domain replaced by `domain`.
fn reference_environment(domain: &str) -> Environment {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/environments/production.toml");
    let text = std::fs::read_to_string(path).expect("environments/production.toml");
    drplan::model::parse("production.toml", &text.replace("omniops.co.uk", domain))
        .expect("the reference loads")
}

/// drplan's SDK configuration for moto, with `credentials` in place of the default chain.
async fn sdk(moto: &MotoServer, credentials: impl ProvideCredentials + 'static) -> SdkConfig {
    let providers = Providers {
        dns: ProviderKind::Route53,
        storage: ProviderKind::S3,
        endpoint: Some(moto.endpoint.clone()),
        region: Some("us-east-1".to_string()),
        dns_commands: None,
        arc: None,
    };
    let sdk = sdk_config(&providers).await;
    sdk.into_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build()
}

async fn moto_sdk(moto: &MotoServer) -> SdkConfig {
    sdk(
        moto,
        Credentials::new("testing", "testing", None, None, "test"),
    )
    .await
}

/// What the default credential chain answers when it finds nothing.
#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
            "no providers in chain provided credentials",
        )))
    }
}

/// Every request a client sends: (operation, URI).
#[derive(Debug, Clone, Default)]
struct CallLog(Arc<Mutex<Vec<(String, String)>>>);

impl CallLog {
    /// The URIs of the calls of `operation` so far.
    fn calls(&self, operation: &str) -> Vec<String> {
        let calls = self.0.lock().unwrap();
        calls
            .iter()
            .filter(|(name, _)| name == operation)
            .map(|(_, uri)| uri.clone())
            .collect()
    }

    fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_string())
            .unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .push((operation, context.request().uri().to_string()));
        Ok(())
    }
}

/// Route53 through drplan, with every request logged.
fn logged_route53(sdk: &SdkConfig) -> (Route53Dns, CallLog) {
    let log = CallLog::default();
    let config = aws_sdk_route53::config::Builder::from(sdk)
        .interceptor(log.clone())
        .build();
    (
        Route53Dns::from_client(aws_sdk_route53::Client::from_conf(config)),
        log,
    )
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}):\n{text}"))
}

/// Creates a hosted zone named `name` with the AWS CLI; returns its id (`Z…`).
fn create_zone(moto: &MotoServer, name: &str) -> String {
    static CREATED: AtomicUsize = AtomicUsize::new(0);
    let reference = format!("{name}-{}", CREATED.fetch_add(1, Ordering::Relaxed));
    let created = json_of(&moto.aws_cli(&[
        "route53",
        "create-hosted-zone",
        "--name",
        name,
        "--caller-reference",
        &reference,
    ]));
    let id = created["HostedZone"]["Id"].as_str().expect("a zone id");
    id.trim_start_matches("/hostedzone/").to_string()
}

/// Creates the record sets of `records` with the AWS CLI, `active` at weight 100.
fn seed_records(moto: &MotoServer, zone_id: &str, records: &[DnsRecord], active: &str) {
    let changes: Vec<Value> = records
        .iter()
        .flat_map(|record| {
            weighted_sets(record, HOME, active)
                .into_iter()
                .map(move |set| cli_change(record, &set))
        })
        .collect();
    let batch = json!({ "Changes": changes }).to_string();
    moto.aws_cli(&[
        "route53",
        "change-resource-record-sets",
        "--hosted-zone-id",
        zone_id,
        "--change-batch",
        &batch,
    ]);
}

fn cli_change(record: &DnsRecord, set: &RecordSet) -> Value {
    let mut record_set = json!({
        "Name": record.name, "Type": record.record_type, "SetIdentifier": set.region, "Weight": set.weight,
    });
    if let Some(alias) = &record.alias {
        record_set["AliasTarget"] = json!({ "HostedZoneId": alias.zone_id, "DNSName": set.value, "EvaluateTargetHealth": alias.evaluate_health });
    } else {
        record_set["TTL"] = json!(record.ttl());
        record_set["ResourceRecords"] = json!([{ "Value": set.value }]);
    }
    json!({ "Action": "CREATE", "ResourceRecordSet": record_set })
}

/// (name, set identifier, weight) of every weighted record set in the zone, per the AWS CLI.
fn cli_weights(moto: &MotoServer, zone_id: &str) -> Vec<(String, String, u64)> {
    let listed = json_of(&moto.aws_cli(&[
        "route53",
        "list-resource-record-sets",
        "--hosted-zone-id",
        zone_id,
    ]));
    let sets = listed["ResourceRecordSets"]
        .as_array()
        .expect("ResourceRecordSets");
    let mut weights: Vec<_> = sets
        .iter()
        .filter_map(|set| {
            let name = set["Name"].as_str()?.trim_end_matches('.').to_string();
            Some((
                name,
                set["SetIdentifier"].as_str()?.to_string(),
                set["Weight"].as_u64()?,
            ))
        })
        .collect();
    weights.sort();
    weights
}

fn moves_to(records: &[DnsRecord], region: &str) -> Vec<RecordChange> {
    records
        .iter()
        .map(|record| RecordChange {
            record: record.clone(),
            after: weighted_sets(record, HOME, region),
        })
        .collect()
}

fn expected_sets(
    records: &[DnsRecord],
    active: &str,
) -> std::collections::BTreeMap<String, Vec<RecordSet>> {
    records
        .iter()
        .map(|record| {
            (
                record.key.value.clone(),
                weighted_sets(record, HOME, active),
            )
        })
        .collect()
}

fn provider_message(error: &Error) -> (String, String) {
    let help = miette::Diagnostic::help(error)
        .map(|help| help.to_string())
        .unwrap_or_default();
    (error.to_string(), help)
}

#[tokio::test]
async fn route53_reads_the_seeded_records_and_moves_their_weights() {
    let moto = moto::shared();
    let domain = "move.omniops.test";
    let env = reference_environment(domain);
    let zone_id = create_zone(moto, domain);
    seed_records(moto, &zone_id, &env.records, "us-east-1");
    let (dns, log) = logged_route53(&moto_sdk(moto).await);

    assert_eq!(
        dns.read(&env.records).await.unwrap(),
        expected_sets(&env.records, "us-east-1")
    );

    dns.apply(&moves_to(&env.records, "us-west-2"))
        .await
        .unwrap();

    let changes = log.calls("ChangeResourceRecordSets");
    assert_eq!(
        changes.len(),
        1,
        "one ChangeResourceRecordSets for the one zone: {changes:?}"
    );
    assert_eq!(
        log.calls("ListHostedZonesByName").len(),
        1,
        "the zone id is looked up once"
    );
    let weights = cli_weights(moto, &zone_id);
    let names = [
        format!("api.{domain}"),
        domain.to_string(),
        format!("www.{domain}"),
    ];
    let mut expected: Vec<_> = names
        .into_iter()
        .flat_map(|name| {
            [
                (name.clone(), "us-east-1".to_string(), 0),
                (name, "us-west-2".to_string(), 100),
            ]
        })
        .collect();
    expected.sort();
    assert_eq!(weights, expected);
    assert_eq!(
        dns.read(&env.records).await.unwrap(),
        expected_sets(&env.records, "us-west-2")
    );
}

#[tokio::test]
async fn route53_moves_an_active_active_share_off_home_and_restores_it() {
    let moto = moto::shared();
    let domain = "shares.omniops.test";
    let mut env = reference_environment(domain);
    for record in &mut env.records {
        record.weights = ["us-east-1", "us-west-2"]
            .iter()
            .map(|region| {
                (
                    drplan::located::Located::new((*region).to_string(), 0..0),
                    50,
                )
            })
            .collect();
    }
    let zone_id = create_zone(moto, domain);
    seed_records(moto, &zone_id, &env.records, HOME);
    let (dns, _) = logged_route53(&moto_sdk(moto).await);
    let shares = |east: u64, west: u64| {
        let mut expected: Vec<_> = [
            format!("api.{domain}"),
            domain.to_string(),
            format!("www.{domain}"),
        ]
        .into_iter()
        .flat_map(|name| {
            [
                (name.clone(), "us-east-1".to_string(), east),
                (name, "us-west-2".to_string(), west),
            ]
        })
        .collect();
        expected.sort();
        expected
    };
    assert_eq!(cli_weights(moto, &zone_id), shares(50, 50));

    // Failover: home's share moves off it; us-west-2 keeps its declared 50, now all of it.
    dns.apply(&moves_to(&env.records, "us-west-2"))
        .await
        .unwrap();
    assert_eq!(cli_weights(moto, &zone_id), shares(0, 50));
    assert_eq!(
        dns.read(&env.records).await.unwrap(),
        expected_sets(&env.records, "us-west-2")
    );

    // Failback: the declared 50/50.
    dns.apply(&moves_to(&env.records, HOME)).await.unwrap();
    assert_eq!(cli_weights(moto, &zone_id), shares(50, 50));
}

#[tokio::test]
async fn route53_sends_one_change_batch_per_zone_per_apply() {
    let moto = moto::shared();
    let (main, status) = ("batch.omniops.test", "status-batch.omniops.test");
    let main_id = create_zone(moto, main);
    let status_id = create_zone(moto, status);
    let mut records = reference_environment(main).records;
    let mut status_page = records[0].clone();
    status_page.key.value = "status".to_string();
    status_page.zone = status.to_string();
    status_page.name = format!("www.{status}");
    records.push(status_page);
    let (dns, log) = logged_route53(&moto_sdk(moto).await);

    // Nothing is seeded: the UPSERTs create the record sets.
    for region in ["us-west-2", "us-east-1"] {
        log.clear();
        dns.apply(&moves_to(&records, region)).await.unwrap();
        let calls = log.calls("ChangeResourceRecordSets");
        assert_eq!(calls.len(), 2, "{calls:?}");
        for zone_id in [&main_id, &status_id] {
            let path = format!("/hostedzone/{zone_id}/rrset");
            assert_eq!(
                calls.iter().filter(|uri| uri.ends_with(&path)).count(),
                1,
                "{calls:?}"
            );
        }
        assert_eq!(
            dns.read(&records).await.unwrap(),
            expected_sets(&records, region)
        );
    }
    assert!(cli_weights(moto, &status_id).contains(&(
        format!("www.{status}"),
        "us-east-1".to_string(),
        100
    )));
}

#[tokio::test]
async fn route53_reports_an_unknown_zone() {
    let moto = moto::shared();
    let mut record = reference_environment("nowhere.omniops.test")
        .records
        .remove(0);
    let dns = Route53Dns::new(&moto_sdk(moto).await);

    let (message, help) =
        provider_message(&dns.read(std::slice::from_ref(&record)).await.unwrap_err());
    assert_eq!(
        message,
        "route53: no hosted zone is named `nowhere.omniops.test`"
    );
    assert!(help.contains("zone_id"), "{help}");

    record.zone_id = Some("ZNOSUCHZONE".to_string());
    let (message, help) = provider_message(&dns.read(&[record]).await.unwrap_err());
    assert_eq!(
        message,
        "route53: cannot list the record sets of www.nowhere.omniops.test: the hosted zone does not exist"
    );
    assert!(help.contains("zone_id"), "{help}");
}

#[tokio::test]
async fn route53_refuses_failover_sets_of_a_record_declared_weighted_instead_of_guessing() {
    let moto = moto::shared();
    let domain = "failover.omniops.test";
    let zone_id = create_zone(moto, domain);
    let record = reference_environment(domain)
        .records
        .into_iter()
        .find(|r| r.key.value == "api")
        .expect("the reference's api record");
    // The record the way Route 53's failover routing writes it: PRIMARY and SECONDARY.
    let changes: Vec<Value> = [("us-east-1", "PRIMARY"), ("us-west-2", "SECONDARY")]
        .iter()
        .map(|(region, role)| {
            json!({ "Action": "CREATE", "ResourceRecordSet": {
                "Name": record.name, "Type": record.record_type, "SetIdentifier": region,
                "Failover": role, "TTL": 60,
                "ResourceRecords": [{ "Value": record.target(region).expect("a target") }],
            }})
        })
        .collect();
    moto.aws_cli(&[
        "route53",
        "change-resource-record-sets",
        "--hosted-zone-id",
        &zone_id,
        "--change-batch",
        &json!({ "Changes": changes }).to_string(),
    ]);
    let dns = Route53Dns::new(&moto_sdk(moto).await);

    let (message, help) =
        provider_message(&dns.read(std::slice::from_ref(&record)).await.unwrap_err());
    assert_eq!(
        message,
        format!(
            "route53: {} has failover (PRIMARY) routing, but [dns] declares it weighted",
            record.name
        )
    );
    assert!(help.contains("routing = \"failover\""), "{help}");
}

#[tokio::test]
async fn route53_does_not_guess_between_zones_of_the_same_name() {
    let moto = moto::shared();
    let domain = "twin.omniops.test";
    let ids = [create_zone(moto, domain), create_zone(moto, domain)];
    let mut record = reference_environment(domain).records.remove(0);
    let dns = Route53Dns::new(&moto_sdk(moto).await);

    let (message, help) =
        provider_message(&dns.read(std::slice::from_ref(&record)).await.unwrap_err());
    assert_eq!(
        message,
        format!(
            "route53: 2 hosted zones are named `{domain}`: {}, {}",
            ids[0], ids[1]
        )
    );
    assert!(help.contains("zone_id"), "{help}");

    record.zone_id = Some(ids[1].clone());
    assert_eq!(dns.read(&[record]).await.unwrap()["www"], []);
}

#[tokio::test]
async fn s3_finds_the_newest_backup_and_uploads_pages() {
    let moto = moto::shared();
    let bucket = "newest-backups";
    moto.aws_cli(&["s3api", "create-bucket", "--bucket", bucket]);
    // The newer backup has the smaller key: the order must come from LastModified.
    for key in ["database/b-older.dump", "database/a-newer.dump"] {
        moto.aws_cli(&["s3api", "put-object", "--bucket", bucket, "--key", key]);
        std::thread::sleep(Duration::from_millis(1100));
    }
    moto.aws_cli(&[
        "s3api",
        "put-object",
        "--bucket",
        bucket,
        "--key",
        "other/latest.dump",
    ]);
    let store = S3Store::new(&moto_sdk(moto).await);
    let location = BackupLocation::parse(&format!("s3://{bucket}/database/")).unwrap();

    let newest = store
        .newest(&location, None)
        .await
        .unwrap()
        .expect("a backup");
    assert_eq!(newest.url, format!("s3://{bucket}/database/a-newer.dump"));
    let earlier = store
        .newest(&location, Some(newest.last_modified))
        .await
        .unwrap()
        .expect("an earlier backup");
    assert_eq!(earlier.url, format!("s3://{bucket}/database/b-older.dump"));
    let empty = BackupLocation::parse(&format!("s3://{bucket}/nothing/")).unwrap();
    assert_eq!(store.newest(&empty, None).await.unwrap(), None);

    store
        .put(
            bucket,
            "index.html",
            b"<h1>down</h1>".to_vec(),
            content_type_for("maintenance.html"),
        )
        .await
        .unwrap();
    let head = json_of(&moto.aws_cli(&[
        "s3api",
        "head-object",
        "--bucket",
        bucket,
        "--key",
        "index.html",
    ]));
    assert_eq!(head["ContentType"], "text/html; charset=utf-8");
    assert_eq!(head["ContentLength"], 13);
}

/// The object at `key`, read from outside with the aws CLI: (body, content type), or
/// `None` when there is none.
fn cli_object(moto: &MotoServer, bucket: &str, key: &str) -> Option<(String, String)> {
    let listed = json_of(&moto.aws_cli(&["s3api", "list-objects-v2", "--bucket", bucket]));
    let keys: Vec<&str> = listed["Contents"]
        .as_array()
        .map(|objects| objects.iter().filter_map(|o| o["Key"].as_str()).collect())
        .unwrap_or_default();
    if !keys.contains(&key) {
        return None;
    }
    let file = tempfile::NamedTempFile::new().expect("a temp file");
    let path = file.path().to_str().expect("a UTF-8 path");
    let head = json_of(&moto.aws_cli(&[
        "s3api",
        "get-object",
        "--bucket",
        bucket,
        "--key",
        key,
        path,
    ]));
    let body = std::fs::read_to_string(path).expect("the downloaded body");
    let content_type = head["ContentType"].as_str().unwrap_or_default().to_string();
    Some((body, content_type))
}

#[tokio::test]
async fn s3_maintenance_page_goes_up_and_down_putting_back_the_original() {
    let moto = moto::shared();
    let bucket = "static-site";
    moto.aws_cli(&["s3api", "create-bucket", "--bucket", bucket]);
    moto.aws_cli(&[
        "s3api",
        "put-object",
        "--bucket",
        bucket,
        "--key",
        "index.html",
        "--content-type",
        "text/html",
        "--body",
        "Cargo.toml",
    ]);
    let original = std::fs::read_to_string("Cargo.toml").unwrap();
    let store = S3Store::new(&moto_sdk(moto).await);
    let page = StoredObject {
        body: b"<h1>down for maintenance</h1>".to_vec(),
        content_type: content_type_for("maintenance.html").to_string(),
    };

    let up = maintenance::put_up(&store, bucket, "index.html", page.clone())
        .await
        .unwrap();
    assert!(
        up.contains("kept at s3://static-site/index.html.drplan-original"),
        "{up}"
    );
    let shown = cli_object(moto, bucket, "index.html").expect("the page");
    assert_eq!(
        shown,
        (
            "<h1>down for maintenance</h1>".to_string(),
            "text/html; charset=utf-8".to_string()
        )
    );
    // A rerun (resume) does not keep its own page as the original.
    maintenance::put_up(&store, bucket, "index.html", page.clone())
        .await
        .unwrap();
    let kept = cli_object(moto, bucket, "index.html.drplan-original").expect("the kept original");
    assert_eq!(kept, (original.clone(), "text/html".to_string()));

    let down = maintenance::take_down(&store, bucket, "index.html", &page)
        .await
        .unwrap();
    assert!(down.contains("put back"), "{down}");
    assert_eq!(
        cli_object(moto, bucket, "index.html"),
        Some((original, "text/html".to_string()))
    );
    assert_eq!(cli_object(moto, bucket, "index.html.drplan-original"), None);
    assert_eq!(
        store
            .get(bucket, "index.html.drplan-original")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn s3_reports_a_missing_bucket() {
    let moto = moto::shared();
    let sdk = moto_sdk(moto).await;
    let location = BackupLocation::parse("s3://no-such-bucket/database/").unwrap();

    let (message, help) = provider_message(
        &S3Store::new(&sdk)
            .newest(&location, None)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        message,
        "s3: cannot list s3://no-such-bucket/database/: the bucket does not exist"
    );
    assert!(help.contains("create the bucket"), "{help}");

    let state = S3State::new(&sdk, "production", "no-such-bucket", "production.json");
    let (message, _) = provider_message(&state.read().await.unwrap_err());
    assert_eq!(
        message,
        "s3: cannot read s3://no-such-bucket/production.json: the bucket does not exist"
    );
}

#[tokio::test]
async fn missing_credentials_are_reported_with_help() {
    let moto = moto::shared();
    let sdk = sdk(moto, NoCredentials).await;
    let location = BackupLocation::parse("s3://any-bucket/database/").unwrap();

    let (message, help) = provider_message(
        &S3Store::new(&sdk)
            .newest(&location, None)
            .await
            .unwrap_err(),
    );
    assert!(
        message
            .starts_with("s3: cannot list s3://any-bucket/database/: no usable AWS credentials ("),
        "{message}"
    );
    assert!(
        help.contains("AWS_PROFILE") && help.contains("aws sso login"),
        "{help}"
    );

    let record = reference_environment("creds.omniops.test")
        .records
        .remove(0);
    let (message, _) = provider_message(&Route53Dns::new(&sdk).read(&[record]).await.unwrap_err());
    assert!(
        message.starts_with(
            "route53: cannot look up the hosted zone creds.omniops.test: no usable AWS credentials"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn s3_state_writes_only_over_the_version_it_read() {
    let moto = moto::shared();
    let bucket = "state-writes";
    moto.aws_cli(&["s3api", "create-bucket", "--bucket", bucket]);
    let sdk = moto_sdk(moto).await;
    let backend = S3State::new(&sdk, "production", bucket, "drplan/production.json");
    let other_writer = S3State::new(&sdk, "production", bucket, "drplan/production.json");
    assert_eq!(backend.read().await.unwrap(), None);

    let mut state = State::new("production");
    let first = backend.write(&state, None).await.unwrap();
    // If-None-Match: * refuses a second "first" write.
    assert!(matches!(
        other_writer.write(&state, None).await,
        Err(Error::StateConflict { .. })
    ));
    assert_eq!(
        backend.read().await.unwrap(),
        Some((state.clone(), first.clone()))
    );

    state.serial += 1;
    let second = other_writer.write(&state, Some(&first)).await.unwrap();
    assert_ne!(second, first);
    // If-Match with the ETag read before the other writer's write is refused.
    state.serial += 1;
    let conflict = backend.write(&state, Some(&first)).await.unwrap_err();
    let Error::StateConflict { detail } = &conflict else {
        panic!("expected StateConflict, got {conflict:?}")
    };
    assert!(
        detail.contains("no longer has the version this operation read"),
        "{detail}"
    );
    let (stored, version) = backend.read().await.unwrap().expect("a state");
    assert_eq!((stored.serial, version), (1, second));
}

/// The id of the lock holder (timestamps lose their sub-millisecond part in JSON).
async fn holder_id(backend: &S3State) -> Option<String> {
    backend.lock_holder().await.unwrap().map(|holder| holder.id)
}

#[tokio::test]
async fn s3_state_lock_admits_one_holder() {
    let moto = moto::shared();
    let bucket = "state-locks";
    moto.aws_cli(&["s3api", "create-bucket", "--bucket", bucket]);
    let sdk = moto_sdk(moto).await;
    let alice = S3State::new(&sdk, "production", bucket, "production.json");
    let bob = S3State::new(&sdk, "production", bucket, "production.json");
    let (alice_lock, bob_lock) = (LockInfo::new("apply"), LockInfo::new("apply"));

    alice.lock(&alice_lock).await.unwrap();
    let refused = bob.lock(&bob_lock).await.unwrap_err();
    let Error::Locked {
        environment,
        who,
        operation,
        id,
        ..
    } = &refused
    else {
        panic!("expected Locked, got {refused:?}")
    };
    assert_eq!(
        (environment.as_str(), who, operation.as_str(), id),
        ("production", &alice_lock.who, "apply", &alice_lock.id)
    );
    assert_eq!(holder_id(&bob).await, Some(alice_lock.id.clone()));
    let lock_object = json_of(&moto.aws_cli(&[
        "s3api",
        "head-object",
        "--bucket",
        bucket,
        "--key",
        "production.json.lock",
    ]));
    assert_eq!(lock_object["ContentType"], "application/json");

    // Unlocking with another id leaves the lock alone; force-unlock needs the holder's id.
    bob.unlock(&bob_lock.id).await.unwrap();
    assert_eq!(holder_id(&alice).await, Some(alice_lock.id.clone()));
    let mismatch = bob.force_unlock("not-the-id").await.unwrap_err();
    assert!(
        matches!(&mismatch, Error::LockMismatch { given, holder } if given == "not-the-id" && holder.as_ref() == Some(&alice_lock.id)),
        "{mismatch:?}"
    );
    bob.force_unlock(&alice_lock.id).await.unwrap();
    assert_eq!(holder_id(&alice).await, None);

    bob.lock(&bob_lock).await.unwrap();
    assert!(
        matches!(alice.lock(&alice_lock).await, Err(Error::Locked { id, .. }) if id == bob_lock.id)
    );
    bob.unlock(&bob_lock.id).await.unwrap();
    assert_eq!(holder_id(&bob).await, None);
    assert!(matches!(
        bob.force_unlock(&bob_lock.id).await,
        Err(Error::LockMismatch { holder: None, .. })
    ));
}

#[tokio::test]
async fn s3_state_lock_of_a_dead_process_is_taken_over_here_at_once_and_elsewhere_after_its_lease()
{
    let moto = moto::shared();
    let bucket = "state-locks-crashed";
    moto.aws_cli(&["s3api", "create-bucket", "--bucket", bucket]);
    let backend = S3State::new(
        &moto_sdk(moto).await,
        "production",
        bucket,
        "production.json",
    );
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let crashed = LockInfo {
        pid: dead_pid,
        ..LockInfo::new("apply")
    };
    backend.lock(&crashed).await.unwrap();

    let resume = LockInfo::new("apply --resume");
    backend.lock(&resume).await.unwrap();
    assert_eq!(holder_id(&backend).await, Some(resume.id.clone()));

    // A holder on another host is judged by its lease only: renewed, it holds; its lease
    // run out, it is taken over.
    backend.unlock(&resume.id).await.unwrap();
    let mut elsewhere = LockInfo {
        who: "someone@elsewhere.invalid".to_string(),
        pid: dead_pid,
        ..LockInfo::new("apply")
    };
    backend.lock(&elsewhere).await.unwrap();
    assert!(matches!(
        backend.lock(&LockInfo::new("apply")).await,
        Err(Error::Locked { id, .. }) if id == elsewhere.id
    ));
    elsewhere.renewed =
        Some(std::time::SystemTime::now() - drplan::state::LOCK_LEASE - Duration::from_secs(1));
    backend.renew(&elsewhere).await.unwrap();
    let takeover = LockInfo::new("apply --resume");
    backend.lock(&takeover).await.unwrap();
    assert_eq!(holder_id(&backend).await, Some(takeover.id.clone()));
}
