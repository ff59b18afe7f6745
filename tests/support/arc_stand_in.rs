//! A Route 53 ARC cluster endpoint on a loopback port, for runs of the drplan binary
//! (and of the `aws` CLI) against `dns = "arc"`. moto has no ARC data plane, and the
//! SDK's replay client (used in `src/providers/arc.rs`) cannot reach into another
//! process: this stands in for it there. It speaks the cluster API's JSON 1.0
//! (`X-Amz-Target: ToggleCustomerAPI.*`) for the two calls drplan makes:
//! `GetRoutingControlState` answers the state the control was last set to, shaped as
//! the replay tests' recorded answers; `UpdateRoutingControlStates` sets every entry at
//! once and answers `{}`. A control it does not hold is a `ResourceNotFoundException`.
//! Every request is kept, in order of arrival.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use serde_json::{Value, json};

use super::webhook::{body, read_request};

/// The `X-Amz-Target` prefix of the cluster API.
const TARGET_PREFIX: &str = "ToggleCustomerAPI.";

/// One request the stand-in received: its operation (`UpdateRoutingControlStates`)
/// and its JSON body.
#[derive(Debug, Clone)]
pub struct ArcRequest {
    pub operation: String,
    pub body: Value,
}

/// The routing controls' states (ARN → on) and the requests so far.
#[derive(Default)]
struct Cluster {
    states: BTreeMap<String, bool>,
    requests: Vec<ArcRequest>,
}

pub struct ArcStandIn {
    /// `http://127.0.0.1:PORT/v1`: an endpoint as `[providers.arc] endpoints` gives it.
    pub url: String,
    cluster: Arc<Mutex<Cluster>>,
}

impl ArcStandIn {
    /// Serves the routing controls `states` (ARN, on) until the process ends.
    pub fn start(states: &[(&str, bool)]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}/v1", listener.local_addr().expect("an address"));
        let cluster = Arc::new(Mutex::new(Cluster {
            states: states
                .iter()
                .map(|(arn, on)| ((*arn).to_string(), *on))
                .collect(),
            requests: Vec::new(),
        }));
        let shared = Arc::clone(&cluster);
        thread::spawn(move || {
            for mut client in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                thread::spawn(move || {
                    let request = read_request(&mut client);
                    if request.is_empty() {
                        return;
                    }
                    let (code, answer) = lock(&shared).answer(&request);
                    let reason = if code == 200 { "OK" } else { "Error" };
                    let response = format!(
                        "HTTP/1.1 {code} {reason}\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                        answer.len()
                    );
                    let _ = std::io::Write::write_all(&mut client, response.as_bytes());
                });
            }
        });
        Self { url, cluster }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<ArcRequest> {
        lock(&self.cluster).requests.clone()
    }

    /// Whether the routing control `arn` is on now (`None`: not held).
    pub fn is_on(&self, arn: &str) -> Option<bool> {
        lock(&self.cluster).states.get(arn).copied()
    }

    /// Sets the routing control `arn` (a reset between runs).
    #[allow(dead_code)] // benches/aws_failover.rs resets the controls with it
    pub fn set(&self, arn: &str, on: bool) {
        lock(&self.cluster).states.insert(arn.to_string(), on);
    }
}

fn lock(cluster: &Mutex<Cluster>) -> std::sync::MutexGuard<'_, Cluster> {
    cluster.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Cluster {
    /// Records `request` and answers it: an HTTP status and a JSON body.
    fn answer(&mut self, request: &str) -> (u16, String) {
        let operation = request
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("x-amz-target")
                    .then(|| value.trim().trim_start_matches(TARGET_PREFIX).to_string())
            })
            .unwrap_or_default();
        let body: Value = serde_json::from_str(body(request)).unwrap_or(Value::Null);
        self.requests.push(ArcRequest {
            operation: operation.clone(),
            body: body.clone(),
        });
        match operation.as_str() {
            "GetRoutingControlState" => self.state(&body),
            "UpdateRoutingControlStates" => self.update(&body),
            _ => error(
                400,
                "ValidationException",
                &format!("unknown operation `{operation}`"),
            ),
        }
    }

    fn state(&self, body: &Value) -> (u16, String) {
        let arn = body["RoutingControlArn"].as_str().unwrap_or_default();
        let Some(on) = self.states.get(arn) else {
            return not_found(arn);
        };
        let answer = json!({
            "RoutingControlArn": arn,
            "RoutingControlState": if *on { "On" } else { "Off" },
            "RoutingControlName": arn.rsplit('/').next().unwrap_or_default(),
        });
        (200, answer.to_string())
    }

    /// Sets every entry, or none when one names a control it does not hold.
    fn update(&mut self, body: &Value) -> (u16, String) {
        let entries = body["UpdateRoutingControlStateEntries"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut wanted = Vec::new();
        for entry in &entries {
            let arn = entry["RoutingControlArn"].as_str().unwrap_or_default();
            if !self.states.contains_key(arn) {
                return not_found(arn);
            }
            wanted.push((arn.to_string(), entry["RoutingControlState"] == "On"));
        }
        self.states.extend(wanted);
        (200, "{}".to_string())
    }
}

fn not_found(arn: &str) -> (u16, String) {
    error(
        404,
        "ResourceNotFoundException",
        &format!("no routing control {arn}"),
    )
}

fn error(status: u16, code: &str, message: &str) -> (u16, String) {
    (
        status,
        json!({ "__type": code, "message": message }).to_string(),
    )
}
