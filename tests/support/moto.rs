//! A local moto server for tests that talk to S3 and Route 53.
//!
//! `moto_server` and the `aws` CLI come from `.venv`, which `scripts/test`
//! fills with pinned versions and points to via `DRPLAN_MOTO_SERVER` and
//! `DRPLAN_AWS_CLI`. A missing tool is a test failure, never a skip.
//!
//! Most tests use [`shared`], one server per test binary. Tests run in
//! parallel against it, so give resources unique names rather than calling
//! [`MotoServer::reset`] on the shared server; a test that needs a clean
//! slate starts its own with [`MotoServer::start`].

use std::env;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

const INSTALL_HINT: &str = "run scripts/test, which installs moto[server] into .venv (with awscli)";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Host variables that would point the AWS CLI away from the test config.
const HOST_AWS_VARS: [&str; 3] = ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"];

/// A running `moto_server` on a free loopback port; killed on drop.
pub struct MotoServer {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub endpoint: String,
    pub port: u16,
    /// Holds the server log and the empty AWS config files.
    dir: PathBuf,
    child: Child,
}

impl MotoServer {
    /// Starts a server and waits until it answers HTTP.
    ///
    /// The server is killed when the thread that called this exits
    /// (`PR_SET_PDEATHSIG`), so keep it on the thread that started it.
    pub fn start() -> MotoServer {
        let port = free_port();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("moto-{port}"));
        prepare_dir(&dir);
        let child = spawn_server(port, &dir);
        let mut server = MotoServer {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            dir,
            child,
        };
        server.wait_until_ready();
        server
    }

    /// Forgets every resource the server holds.
    pub fn reset(&self) {
        let response = http_request(self.port, "POST", "/moto-api/reset")
            .unwrap_or_else(|err| panic!("POST /moto-api/reset failed: {err}"));
        assert!(
            is_ok(&response),
            "POST /moto-api/reset answered:\n{response}"
        );
    }

    /// Environment for a child process (the AWS CLI, drplan) to use this
    /// server with fake credentials and none of the host's AWS config.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        let vars = [
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("AWS_CONFIG_FILE", path_string(&self.dir.join("aws-config"))),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                path_string(&self.dir.join("aws-credentials")),
            ),
        ];
        vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// Runs `aws --endpoint-url … --output json ARGS`, asserts it succeeded
    /// and returns its stdout.
    pub fn aws_cli(&self, args: &[&str]) -> String {
        let aws = tool_path("DRPLAN_AWS_CLI", "aws");
        let mut command = Command::new(&aws);
        command
            .args(["--endpoint-url", &self.endpoint, "--output", "json"])
            .args(args)
            .envs(self.aws_env())
            .stdin(Stdio::null());
        for var in HOST_AWS_VARS {
            command.env_remove(var);
        }
        let output = command
            .output()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", aws.display()));
        assert!(
            output.status.success(),
            "aws {} failed ({}):\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("aws printed non-UTF-8 output")
    }

    /// Polls `GET /moto-api/` until it answers 200; panics with the server
    /// log if the server exits or the timeout passes.
    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while !self.answers() {
            let exited = self.child.try_wait().expect("cannot poll moto_server");
            if let Some(status) = exited {
                panic!(
                    "moto_server exited ({status}) before answering; log:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() <= deadline,
                "moto_server not ready after {STARTUP_TIMEOUT:?}; log:\n{}",
                self.log()
            );
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn answers(&self) -> bool {
        http_request(self.port, "GET", "/moto-api/").is_ok_and(|response| is_ok(&response))
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log"))
            .unwrap_or_else(|err| format!("(no log: {err})"))
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server shared by every test in this binary, started on first use.
///
/// `PR_SET_PDEATHSIG` fires when the spawning *thread* exits, and each test
/// runs on its own thread, so the server is spawned from a thread that lives
/// as long as the test binary; it dies with the binary.
pub fn shared() -> &'static MotoServer {
    static SERVER: OnceLock<MotoServer> = OnceLock::new();
    SERVER.get_or_init(start_on_keeper_thread)
}

fn start_on_keeper_thread() -> MotoServer {
    let (sender, receiver) = mpsc::channel();
    thread::Builder::new()
        .name("moto-keeper".to_string())
        .spawn(move || {
            let _ = sender.send(MotoServer::start());
            loop {
                thread::park();
            }
        })
        .expect("cannot spawn the moto keeper thread");
    receiver
        .recv()
        .expect("moto_server failed to start; see the panic above")
}

/// `$env_var`, else `.venv/bin/NAME` in the crate root, else a panic that
/// says how to install it.
pub fn tool_path(env_var: &str, name: &str) -> PathBuf {
    if let Some(path) = env::var_os(env_var) {
        return PathBuf::from(path);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name);
    assert!(
        path.exists(),
        "{name} not found (${env_var} is unset and {} is missing): {INSTALL_HINT}",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port");
    listener.local_addr().expect("no local address").port()
}

/// Creates `dir` with empty AWS config and credentials files.
fn prepare_dir(dir: &Path) {
    fs::create_dir_all(dir).unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
    for name in ["aws-config", "aws-credentials"] {
        File::create(dir.join(name)).unwrap_or_else(|err| panic!("cannot create {name}: {err}"));
    }
}

fn spawn_server(port: u16, dir: &Path) -> Child {
    let moto_server = tool_path("DRPLAN_MOTO_SERVER", "moto_server");
    let log = File::create(dir.join("server.log")).expect("cannot create server.log");
    let mut command = Command::new(&moto_server);
    command
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("cannot clone the log handle"))
        .stderr(log);
    die_with_parent(&mut command);
    command.spawn().unwrap_or_else(|err| {
        panic!(
            "cannot start {}: {err}; {INSTALL_HINT}",
            moto_server.display()
        )
    })
}

/// Makes the child get SIGKILL when the spawning thread exits.
fn die_with_parent(command: &mut Command) {
    let parent: libc::pid_t = std::process::id().cast_signed();
    // SAFETY: the closure only calls async-signal-safe functions and does not allocate.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// One HTTP/1.1 request with an empty body; returns the whole response.
fn http_request(port: u16, method: &str, path: &str) -> io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

fn is_ok(response: &str) -> bool {
    response.split_whitespace().nth(1) == Some("200")
}

fn path_string(path: &Path) -> String {
    path.to_str().expect("non-UTF-8 temp path").to_string()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}):\n{text}"))
}

#[test]
fn moto_server_starts_and_answers_the_aws_cli() {
    let moto = shared();
    moto.aws_cli(&["s3api", "create-bucket", "--bucket", "harness-check"]);
    let created = json(&moto.aws_cli(&[
        "route53",
        "create-hosted-zone",
        "--name",
        "example.test",
        "--caller-reference",
        "harness-check",
    ]));
    // moto answers with the id prefixed ("/hostedzone/ABC…") and the name dot-terminated.
    let zone_id = created["HostedZone"]["Id"]
        .as_str()
        .expect("no HostedZone.Id");
    assert!(
        zone_id.starts_with("/hostedzone/"),
        "unexpected zone id {zone_id}"
    );

    let buckets = json(&moto.aws_cli(&["s3api", "list-buckets"]));
    let bucket_names: Vec<&str> = buckets["Buckets"]
        .as_array()
        .expect("no Buckets")
        .iter()
        .filter_map(|bucket| bucket["Name"].as_str())
        .collect();
    assert!(
        bucket_names.contains(&"harness-check"),
        "buckets: {bucket_names:?}"
    );

    let zones = json(&moto.aws_cli(&["route53", "list-hosted-zones"]));
    let zone = zones["HostedZones"]
        .as_array()
        .expect("no HostedZones")
        .iter()
        .find(|zone| zone["Id"] == zone_id)
        .unwrap_or_else(|| panic!("zone {zone_id} not listed: {zones}"));
    assert_eq!(zone["Name"], "example.test.");
}

#[test]
fn reset_forgets_everything_on_a_private_server() {
    let moto = MotoServer::start();
    moto.aws_cli(&["s3api", "create-bucket", "--bucket", "doomed"]);
    moto.reset();
    let buckets = json(&moto.aws_cli(&["s3api", "list-buckets"]));
    assert_eq!(buckets["Buckets"], serde_json::json!([]));
}
