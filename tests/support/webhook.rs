//! A webhook on a loopback port that keeps every request it receives and answers
//! each as its script says: the Nth request gets answer N ([`Script::InOrder`]), or
//! the Nth delivery of a body does ([`Script::PerBody`]: a notification and its
//! retries carry the same body); every request past the script gets `200 OK`.

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How the webhook answers one request.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// Never: the connection is held open until the test ends (the request stays in
    /// flight until drplan gives up or dies).
    Never,
    /// This HTTP status, e.g. `500`.
    Status(u16),
    /// `200 OK` with this JSON body.
    Body(&'static str),
}

/// Which answer of the script a request gets.
#[derive(Debug, Clone, Copy)]
pub enum Script<'a> {
    InOrder(&'a [Answer]),
    PerBody(&'a [Answer]),
    /// Every request gets this answer.
    Always(Answer),
}

pub struct Webhook {
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Webhook {
    pub fn start(script: Script<'_>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
        let requests: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&requests);
        let (answers, per_body, always) = match script {
            Script::InOrder(answers) => (answers.to_vec(), false, None),
            Script::PerBody(answers) => (answers.to_vec(), true, None),
            Script::Always(answer) => (Vec::new(), false, Some(answer)),
        };
        thread::spawn(move || {
            // One thread a connection: a client that connects and sends nothing must
            // not hold up the next request.
            for mut client in listener.incoming().flatten() {
                let kept = Arc::clone(&kept);
                let answers = answers.clone();
                thread::spawn(move || {
                    let request = read_request(&mut client);
                    if request.is_empty() {
                        return;
                    }
                    let index = {
                        let mut kept = kept.lock().expect("not poisoned");
                        let this = body(&request);
                        let earlier = kept
                            .iter()
                            .filter(|r: &&String| !per_body || body(r) == this)
                            .count();
                        kept.push(request);
                        earlier
                    };
                    let answer = always
                        .or_else(|| answers.get(index).copied())
                        .unwrap_or(Answer::Status(200));
                    let (status, body) = match answer {
                        Answer::Never => {
                            thread::sleep(Duration::from_mins(10));
                            return;
                        }
                        Answer::Status(status) => (status, ""),
                        Answer::Body(body) => (200, body),
                    };
                    let answer = format!(
                        "HTTP/1.1 {status} Scripted\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = std::io::Write::write_all(&mut client, answer.as_bytes());
                });
            }
        });
        Self { url, requests }
    }

    /// Every request received so far, head and body, in order of arrival.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

/// The body of an HTTP request.
pub fn body(request: &str) -> &str {
    request.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// One whole HTTP request from `client`: its head, then as many body bytes as its
/// `content-length` says (headers and body may arrive in separate reads; a loaded
/// machine may take its time). Also read by `arc_stand_in.rs`.
pub fn read_request(client: &mut TcpStream) -> String {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let mut request = Vec::new();
    let mut buffer = [0; 16 * 1024];
    loop {
        let text = String::from_utf8_lossy(&request).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length").then_some(value)
                })
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        match std::io::Read::read(client, &mut buffer) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&request).to_string(),
            Ok(read) => request.extend_from_slice(&buffer[..read]),
        }
    }
}
