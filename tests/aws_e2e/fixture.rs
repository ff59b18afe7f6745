//! The reference world for running the drplan binary against moto, shared by
//! `tests/aws_e2e.rs`, `tests/aws_native_e2e.rs`, `benches/route53.rs` and
//! `benches/aws_failover.rs` (the benches include this file by `#[path]`):
//!
//! - the reference environment (or its AWS-native sibling, `environments/aws.toml`)
//!   with only its health and check URLs pointed at a loopback HTTP server
//!   ([`Loopback`]), since `https://*.omniops.co.uk` cannot be reached from here, and
//!   for the sibling its ARC endpoints wherever the caller says ([`with_arc_endpoints`]);
//! - stand-ins for the commands it runs (`tests/fixtures/aws/standin`), and the
//!   environment a child process (drplan, the `aws` CLI) runs in ([`ChildEnv`]);
//! - the seed: the hosted zone and the reference's weighted record sets, the buckets,
//!   and the sibling's Aurora global database and its lag, created through the AWS SDK
//!   ([`Seeder`]); and what is there afterwards, listed with the `aws` CLI, an
//!   independent client ([`list_weighted`]);
//! - a [`CountingProxy`] in front of moto that records every request drplan sends.
//!
//! Nothing here is drplan's own code: the seed is written from the environment's
//! records, not from drplan's planning.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use drplan::model::{DnsRecord, Environment};
use serde_json::{Value, json};

/// The reference environment, the flagship example.
pub const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/environments/production.toml");

/// Its AWS-native sibling: an Aurora global database and ARC routing controls.
pub const AWS_NATIVE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/environments/aws.toml");

/// The one stand-in script; installed under each command's name.
const STANDIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/aws/standin");

/// The commands of the reference environment that are looked up on PATH.
const COMMANDS: [&str; 5] = ["supabase", "vercel", "redis-cli", "psql", "aws"];

/// The hosted zone of the reference's records.
pub const ZONE: &str = "omniops.co.uk";

/// The reference's home region: active (weight 100) in the seed.
pub const HOME: &str = "us-east-1";

/// Where the reference's health probes and `[[checks]]` point.
const HTTPS_URL: &str = "url = \"https://";

/// How long a loopback connection may sit idle.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The text of `environments/production.toml` with ONLY the health probe and check URLs
/// (`url = "https://HOST/PATH"`) rewritten to `BASE/HOST/PATH` on the loopback server
/// `base`. It is made from the real file every time, so it stays in sync with it:
/// services, records, data, scenarios and commands are the reference's own.
pub fn reference_text(base: &str) -> String {
    let rewritten = urls_on_loopback(REFERENCE, base);
    assert!(
        !rewritten.contains("https://"),
        "an https:// URL was left in the reference copy"
    );
    rewritten
}

/// The text of the environment at `path` with its health probe and check URLs
/// rewritten as [`reference_text`] says.
pub fn urls_on_loopback(path: &str, base: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{path}: {err}"));
    let urls = text.matches(HTTPS_URL).count();
    assert!(urls >= 2, "{path} has no health URLs to rewrite ({urls})");
    text.replace(HTTPS_URL, &format!("url = \"{base}/"))
}

/// `text` with the one `endpoints = { … }` line of `[providers.arc]` replaced by
/// `endpoints` (region, URL), in that order: the order drplan tries them in.
pub fn with_arc_endpoints(text: &str, endpoints: &[(&str, &str)]) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("endpoints = {"))
        .collect();
    assert_eq!(lines.len(), 1, "one ARC endpoints line: {lines:?}");
    let table: Vec<String> = endpoints
        .iter()
        .map(|(region, url)| format!("{region} = \"{url}\""))
        .collect();
    let rewritten = text.replace(lines[0], &format!("endpoints = {{ {} }}", table.join(", ")));
    assert!(
        !rewritten.contains("https://"),
        "an https:// URL was left in the copy"
    );
    rewritten
}

/// `text` with us-east-1 and us-west-2 (and the cluster names `…-use1`, `…-usw2`)
/// swapped everywhere: the AWS-native sibling with its home in us-west-2, failing over
/// to us-east-1. moto 5.2.5 can detach a cluster from a global database only in
/// us-east-1: it keeps every global cluster in its us-east-1 backend
/// (`RDSResponse.global_backend`), yet looks `RemoveFromGlobalCluster` up in the
/// backend of the region the call is made in, global cluster and member alike, and
/// answers 200 with no `GlobalCluster` when either is missing there. drplan calls in
/// the target's region (as AWS advises: the primary's may be down), so only a failover
/// TO us-east-1 detaches on moto; on AWS every region serves the global cluster.
pub fn home_and_target_swapped(text: &str) -> String {
    let mut swapped = text.to_string();
    for (a, b) in [("us-east-1", "us-west-2"), ("use1", "usw2")] {
        assert!(!swapped.contains('\u{1}'), "a placeholder in the text");
        swapped = swapped
            .replace(a, "\u{1}")
            .replace(b, a)
            .replace('\u{1}', b);
    }
    swapped
}

/// `http://127.0.0.1:PORT/v1` on a port nothing listens on: an ARC endpoint that is down.
#[allow(dead_code)] // the AWS-native test and bench use it; the others do not
pub fn closed_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let address = listener.local_addr().expect("a local address");
    drop(listener);
    format!("http://{address}/v1")
}

/// `text` decoded and validated by drplan (to read the records to seed).
pub fn environment(text: &str) -> Environment {
    drplan::model::parse("production.toml", text).expect("the reference environment loads")
}

/// `text`, the AWS-native sibling's copy, decoded and validated by drplan.
pub fn aws_native(text: &str) -> Environment {
    drplan::model::parse("aws.toml", text).expect("the AWS-native environment loads")
}

/// Installs the stand-in commands into `workspace`: `bin/NAME` for every command on
/// PATH, `scripts/rotate-secrets` (run by a relative path). Returns the `bin` directory.
pub fn install_standins(workspace: &Path) -> PathBuf {
    let bin = workspace.join("bin");
    let scripts = workspace.join("scripts");
    for dir in [&bin, &scripts] {
        std::fs::create_dir_all(dir).expect("the stand-in directory is created");
    }
    let targets = COMMANDS
        .iter()
        .map(|name| bin.join(name))
        .chain([scripts.join("rotate-secrets")]);
    for target in targets {
        std::fs::copy(STANDIN, &target).expect("the stand-in is copied");
        make_executable(&target);
    }
    bin
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut permissions = std::fs::metadata(path)
        .expect("the stand-in exists")
        .permissions();
    permissions.set_mode(0o755);
    std::fs::set_permissions(path, permissions).expect("the stand-in is made executable");
}

/// `PATH` with `bin` first.
pub fn path_with(bin: &Path) -> String {
    let inherited = std::env::var("PATH").unwrap_or_default();
    format!("{}:{inherited}", bin.display())
}

/// Sets up `command`, a child process run in `workspace` (where [`install_standins`]
/// put the stand-ins), the way every run here is made: moto's credentials (`aws_env`)
/// with `endpoint` (moto, or a proxy in front of it), the webhooks on the loopback
/// server `loopback`, the stand-ins first on PATH logging to `commands.log`, and
/// nothing of the host's AWS or drplan configuration.
pub fn child_env(
    command: &mut Command,
    aws_env: Vec<(String, String)>,
    endpoint: &str,
    loopback: &str,
    workspace: &Path,
) {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("AWS_") || name.starts_with("DRPLAN_") {
            command.env_remove(name.as_ref());
        }
    }
    command
        .current_dir(workspace)
        .envs(aws_env)
        .env("AWS_ENDPOINT_URL", endpoint)
        .envs(webhooks(loopback))
        .env("PATH", path_with(&workspace.join("bin")))
        .env("DRPLAN_STANDIN_LOG", standin_log(workspace));
}

/// Where the stand-ins in `workspace` log what they were run with.
pub fn standin_log(workspace: &Path) -> PathBuf {
    workspace.join("commands.log")
}

/// The webhook variables of the reference's `[[notify]]`, pointed at `base`.
pub fn webhooks(base: &str) -> Vec<(String, String)> {
    [
        "PAGERDUTY_WEBHOOK",
        "SLACK_EXEC_WEBHOOK",
        "STATUSPAGE_WEBHOOK",
    ]
    .into_iter()
    .map(|name| (name.to_string(), format!("{base}/{}", name.to_lowercase())))
    .collect()
}

/// Seeds moto through the AWS SDK (the `aws` CLI starts Python for every call, which
/// takes seconds here; it is kept for checking what drplan did).
pub struct Seeder {
    runtime: tokio::runtime::Runtime,
    sdk: aws_config::SdkConfig,
    route53: aws_sdk_route53::Client,
    s3: aws_sdk_s3::Client,
}

impl Seeder {
    /// Clients of the server at `endpoint` with fake credentials.
    pub fn new(endpoint: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let credentials =
            aws_credential_types::Credentials::new("testing", "testing", None, None, "seed");
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(HOME))
            .endpoint_url(endpoint)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
            )
            .build();
        let s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build();
        Self {
            runtime,
            route53: aws_sdk_route53::Client::new(&sdk),
            s3: aws_sdk_s3::Client::from_conf(s3),
            sdk,
        }
    }

    /// Creates the hosted zone [`ZONE`]; returns its id without `/hostedzone/`.
    pub fn create_zone(&self) -> String {
        let created = self
            .runtime
            .block_on(
                self.route53
                    .create_hosted_zone()
                    .name(ZONE)
                    .caller_reference("drplan-e2e")
                    .send(),
            )
            .expect("the hosted zone is created");
        let id = created.hosted_zone().expect("a hosted zone").id();
        id.trim_start_matches("/hostedzone/").to_string()
    }

    /// Creates every weighted record set of the environment's records, one per target
    /// region (set identifier = region), `active` at weight 100 and the others at 0.
    pub fn seed_records(&self, zone_id: &str, env: &Environment, active: &str) {
        self.change(zone_id, &env.records, active, &ChangeAction::Create);
    }

    /// UPSERTs every weighted record set of `records` with `active` at weight 100.
    #[allow(dead_code)] // benches/route53.rs resets the records with it
    pub fn move_records(&self, zone_id: &str, records: &[DnsRecord], active: &str) {
        self.change(zone_id, records, active, &ChangeAction::Upsert);
    }

    fn change(&self, zone_id: &str, records: &[DnsRecord], active: &str, action: &ChangeAction) {
        let changes = records
            .iter()
            .flat_map(|record| {
                record.targets.iter().map(|(region, value)| {
                    let weight = if region.value == active { 100 } else { 0 };
                    sdk_change(record, &region.value, value, weight, action.clone())
                })
            })
            .collect();
        let batch = ChangeBatch::builder()
            .set_changes(Some(changes))
            .build()
            .expect("a change batch");
        self.runtime
            .block_on(
                self.route53
                    .change_resource_record_sets()
                    .hosted_zone_id(zone_id)
                    .change_batch(batch)
                    .send(),
            )
            .expect("the record sets are changed");
    }

    pub fn create_bucket(&self, bucket: &str) {
        self.runtime
            .block_on(self.s3.create_bucket().bucket(bucket).send())
            .expect("the bucket is created");
    }

    /// Puts an object of a few bytes at `key`: moto dates it now.
    pub fn put_object(&self, bucket: &str, key: &str) {
        self.runtime
            .block_on(
                self.s3
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(aws_sdk_s3::primitives::ByteStream::from_static(b"backup"))
                    .send(),
            )
            .expect("the object is put");
    }

    /// The object at `key`, if there is one.
    pub fn get_object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.runtime.block_on(async {
            let output = self
                .s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .ok()?;
            Some(output.body.collect().await.ok()?.into_bytes().to_vec())
        })
    }

    /// Creates the Aurora global database `global` (aurora-postgresql) through the
    /// endpoint of `global_region`, then its member clusters in order: on moto the
    /// first becomes the writer, the others secondaries.
    #[allow(dead_code)] // the AWS-native test and bench seed it; the others do not
    pub fn create_global_database(
        &self,
        global_region: &str,
        global: &str,
        members: &[(&str, &str)],
    ) {
        let engine = "aurora-postgresql";
        self.runtime
            .block_on(
                self.rds(global_region)
                    .create_global_cluster()
                    .global_cluster_identifier(global)
                    .engine(engine)
                    .send(),
            )
            .expect("the global cluster is created");
        for (region, cluster) in members {
            self.runtime
                .block_on(
                    self.rds(region)
                        .create_db_cluster()
                        .db_cluster_identifier(*cluster)
                        .engine(engine)
                        .global_cluster_identifier(global)
                        .master_username("omniops")
                        .master_user_password("not-a-secret")
                        .send(),
                )
                .expect("the member cluster is created");
        }
    }

    /// Puts CloudWatch's `AuroraGlobalDBReplicationLag` of `cluster` in `region`, now.
    #[allow(dead_code)] // the AWS-native test and bench seed it; the others do not
    pub fn put_aurora_lag(&self, region: &str, cluster: &str, millis: f64) {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
        let config = aws_sdk_cloudwatch::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(region.to_string()))
            .build();
        let datum = MetricDatum::builder()
            .metric_name("AuroraGlobalDBReplicationLag")
            .dimensions(
                Dimension::builder()
                    .name("DBClusterIdentifier")
                    .value(cluster)
                    .build(),
            )
            .value(millis)
            .build();
        self.runtime
            .block_on(
                aws_sdk_cloudwatch::Client::from_conf(config)
                    .put_metric_data()
                    .namespace("AWS/RDS")
                    .metric_data(datum)
                    .send(),
            )
            .expect("the lag is put");
    }

    /// The ARNs of the members of the global cluster `global`, read through `region`.
    #[allow(dead_code)] // benches/aws_failover.rs checks each run with it
    pub fn global_members(&self, region: &str, global: &str) -> Vec<String> {
        let answer = self
            .runtime
            .block_on(
                self.rds(region)
                    .describe_global_clusters()
                    .global_cluster_identifier(global)
                    .send(),
            )
            .expect("the global cluster is described");
        answer
            .global_clusters()
            .iter()
            .flat_map(aws_sdk_rds::types::GlobalCluster::global_cluster_members)
            .filter_map(|m| m.db_cluster_arn().map(str::to_string))
            .collect()
    }

    fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        let config = aws_sdk_rds::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(region.to_string()))
            .build();
        aws_sdk_rds::Client::from_conf(config)
    }

    /// The keys in `bucket`.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let listed = self
            .runtime
            .block_on(self.s3.list_objects_v2().bucket(bucket).send())
            .expect("the bucket is listed");
        listed
            .contents()
            .iter()
            .filter_map(|object| object.key().map(str::to_string))
            .collect()
    }
}

fn sdk_change(
    record: &DnsRecord,
    region: &str,
    value: &str,
    weight: u8,
    action: ChangeAction,
) -> Change {
    let set = ResourceRecordSet::builder()
        .name(&record.name)
        .r#type(RrType::from(record.record_type.as_str()))
        .set_identifier(region)
        .weight(i64::from(weight));
    let set = match &record.alias {
        Some(alias) => set.alias_target(
            AliasTarget::builder()
                .hosted_zone_id(&alias.zone_id)
                .dns_name(value)
                .evaluate_target_health(alias.evaluate_health)
                .build()
                .expect("an alias target"),
        ),
        None => set.ttl(i64::from(record.ttl())).resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .expect("a resource record"),
        ),
    };
    Change::builder()
        .action(action)
        .resource_record_set(set.build().expect("a record set"))
        .build()
        .expect("a change")
}

/// The weighted record set of `record` for `region` pointing at `value`, as the JSON
/// of the `aws` CLI: plain records with their TTL, alias records with their alias target.
pub fn record_set(record: &DnsRecord, region: &str, value: &str, weight: u8) -> Value {
    let mut set = json!({
        "Name": record.name,
        "Type": record.record_type,
        "SetIdentifier": region,
        "Weight": weight,
    });
    if let Some(alias) = &record.alias {
        set["AliasTarget"] = json!({
            "HostedZoneId": alias.zone_id,
            "DNSName": value,
            "EvaluateTargetHealth": alias.evaluate_health,
        });
    } else {
        set["TTL"] = json!(record.ttl());
        set["ResourceRecords"] = json!([{ "Value": value }]);
    }
    set
}

/// Runs the `aws` CLI against moto with these arguments and returns its stdout (JSON).
pub type AwsCli<'a> = &'a dyn Fn(&[&str]) -> String;

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}):\n{text}"))
}

/// A weighted record set as the `aws` CLI lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listed {
    /// Without the trailing dot.
    pub name: String,
    pub set_identifier: String,
    pub weight: u64,
    /// The record's value or alias target, without the trailing dot.
    pub value: String,
}

/// Every weighted record set of the zone, per `aws route53 list-resource-record-sets`.
pub fn list_weighted(aws: AwsCli<'_>, zone_id: &str) -> Vec<Listed> {
    let listed = json_of(&aws(&[
        "route53",
        "list-resource-record-sets",
        "--hosted-zone-id",
        zone_id,
    ]));
    let undot = |text: &str| text.trim_end_matches('.').to_string();
    let mut sets: Vec<Listed> = listed["ResourceRecordSets"]
        .as_array()
        .expect("ResourceRecordSets")
        .iter()
        .filter_map(|set| {
            let value = set["AliasTarget"]["DNSName"]
                .as_str()
                .or_else(|| set["ResourceRecords"][0]["Value"].as_str())?;
            Some(Listed {
                name: undot(set["Name"].as_str()?),
                set_identifier: set["SetIdentifier"].as_str()?.to_string(),
                weight: set["Weight"].as_u64()?,
                value: undot(value),
            })
        })
        .collect();
    sets.sort();
    sets
}

/// An HTTP server on a loopback port that answers `200 ok` to every request: the
/// health endpoints, the checks and the webhooks of the reference environment.
pub struct Loopback {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Loopback {
    /// Starts serving on a free port, until the process ends.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("a local address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                thread::spawn(move || {
                    if let Ok(line) = answer_ok(stream) {
                        seen.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(line);
                    }
                });
            }
        });
        Self { url, requests }
    }

    /// The request lines received so far (`GET /db.us-west-2.omniops.co.uk/health HTTP/1.1`).
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Reads one request (head and Content-Length body), answers 200 and closes.
fn answer_ok(stream: TcpStream) -> io::Result<String> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut stream = stream;
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
    )?;
    stream.flush()?;
    Ok(request_line.trim_end().to_string())
}

/// What clients sent through a [`CountingProxy`]: one growing buffer per connection.
type Sent = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// A TCP relay on a loopback port in front of an HTTP server (moto) that keeps every
/// byte clients send, so the requests drplan makes can be counted on the wire. It can
/// be cut (the endpoint dies: every connection is closed, every new one dropped) and
/// opened again, with the server and what it holds unchanged.
pub struct CountingProxy {
    /// `http://127.0.0.1:PORT`: give it as the endpoint instead of the server's.
    pub endpoint: String,
    connections: Sent,
    open: Arc<AtomicBool>,
}

impl CountingProxy {
    /// Relays to the server on `127.0.0.1:upstream_port`, until the process ends.
    pub fn start(upstream_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("a local address"));
        let connections: Sent = Arc::default();
        let all = Arc::clone(&connections);
        let open = Arc::new(AtomicBool::new(true));
        let relaying = Arc::clone(&open);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !relaying.load(Ordering::SeqCst) {
                    continue;
                }
                let sent = Arc::new(Mutex::new(Vec::new()));
                all.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Arc::clone(&sent));
                let open = Arc::clone(&relaying);
                thread::spawn(move || relay(client, upstream_port, &sent, &open));
            }
        });
        Self {
            endpoint,
            connections,
            open,
        }
    }

    /// Cuts the endpoint off (`false`) or opens it again (`true`).
    pub fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
    }

    /// The request line of every request sent through the proxy so far, in the order
    /// of their connections (`POST /2013-04-01/hostedzone/Z1/rrset HTTP/1.1`).
    pub fn requests(&self) -> Vec<String> {
        let connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connections
            .iter()
            .flat_map(|sent| request_lines(&sent.lock().unwrap_or_else(PoisonError::into_inner)))
            .collect()
    }
}

/// Copies `client` ↔ the server, keeping what the client sends in `sent` before it is
/// forwarded (so a request is on record before its answer can arrive).
fn relay(client: TcpStream, upstream_port: u16, sent: &Mutex<Vec<u8>>, open: &AtomicBool) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
        return;
    };
    let (Ok(mut from_server), Ok(mut to_client)) = (server.try_clone(), client.try_clone()) else {
        return;
    };
    let back = thread::spawn(move || {
        let _ = io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Write);
    });
    let (mut from_client, mut to_server) = (client, server);
    let mut buffer = [0; 16 * 1024];
    loop {
        let read = match from_client.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        if !open.load(Ordering::SeqCst) {
            // Cut: both ends see the connection close, as when the server dies.
            let _ = from_client.shutdown(Shutdown::Both);
            let _ = to_server.shutdown(Shutdown::Both);
            break;
        }
        sent.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(&buffer[..read]);
        if to_server.write_all(&buffer[..read]).is_err() {
            break;
        }
    }
    let _ = to_server.shutdown(Shutdown::Write);
    let _ = back.join();
}

/// The request lines of the HTTP/1.1 requests in `bytes` (one connection's stream),
/// skipping bodies by Content-Length or chunked encoding. A request whose operation is
/// not in its path (the Query protocol's `Action=` body of RDS and CloudWatch, a JSON
/// protocol's `X-Amz-Target`) has it appended as `SERVICE:Operation`, the service
/// being its signature's (`POST / HTTP/1.1 rds:RemoveFromGlobalCluster`).
pub fn request_lines(mut bytes: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    while let Some(end) = find(bytes, b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut head_lines = head.split("\r\n");
        let mut line = head_lines.next().unwrap_or_default().to_string();
        let (mut length, mut chunked) = (0, false);
        let (mut service, mut target) = (None, None);
        for header in head_lines {
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("authorization") {
                // `… Credential=KEY/DATE/REGION/SERVICE/aws4_request, …`
                service = value.split('/').nth(3).map(str::to_string);
            } else if name.eq_ignore_ascii_case("x-amz-target") {
                target = value.rsplit('.').next().map(str::to_string);
            }
        }
        bytes = &bytes[end + 4..];
        let body = &bytes[..if chunked { 0 } else { length.min(bytes.len()) }];
        let action = target.or_else(|| query_action(body));
        if let (Some(service), Some(action)) = (service, action) {
            line = format!("{line} {service}:{action}");
        }
        lines.push(line);
        bytes = if chunked {
            after_chunks(bytes)
        } else {
            &bytes[length.min(bytes.len())..]
        };
    }
    lines
}

/// The `Action` of a Query protocol body (`Action=DescribeDBClusters&Version=…`).
fn query_action(body: &[u8]) -> Option<String> {
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_string)
}

/// What follows a chunked body (its last chunk and trailers).
fn after_chunks(mut bytes: &[u8]) -> &[u8] {
    loop {
        let Some(end) = find(bytes, b"\r\n") else {
            return &[];
        };
        let size_text = String::from_utf8_lossy(&bytes[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        bytes = &bytes[end + 2..];
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let Some(end) = find(bytes, b"\r\n") else {
                    return &[];
                };
                bytes = &bytes[end + 2..];
                if end == 0 {
                    return bytes;
                }
            }
        }
        bytes = &bytes[(size + 2).min(bytes.len())..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The AWS operation of a request line, for the requests drplan and the `aws` CLI
/// make (the `SERVICE:Operation` [`request_lines`] appended, when it did); anything
/// else is named by its method and path.
pub fn operation(request_line: &str) -> String {
    let mut parts = request_line.split_whitespace();
    if let Some(named) = parts.clone().nth(3) {
        return named.to_string();
    }
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = path.trim_end_matches('/');
    let route53 = path.strip_prefix("/2013-04-01/");
    let name = match (method, route53) {
        ("POST", Some(rest)) if rest.starts_with("hostedzone/") && rest.ends_with("/rrset") => {
            "route53:ChangeResourceRecordSets"
        }
        ("GET", Some(rest)) if rest.starts_with("hostedzone/") && rest.ends_with("/rrset") => {
            "route53:ListResourceRecordSets"
        }
        ("GET", Some("hostedzonesbyname")) => "route53:ListHostedZonesByName",
        ("GET", Some(rest)) if rest.starts_with("change/") => "route53:GetChange",
        ("GET", None) if query.contains("list-type=2") => "s3:ListObjectsV2",
        ("GET", None) => "s3:GetObject",
        ("PUT", None) => "s3:PutObject",
        ("DELETE", None) => "s3:DeleteObject",
        _ => return format!("{method} {path}"),
    };
    name.to_string()
}
