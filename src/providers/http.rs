//! HTTP for health probes and webhooks: one shared client (rustls), a timed GET and a
//! JSON POST, with failures turned into short readable messages ("connection
//! refused", "timed out after 5s", "cannot resolve the host name") rather than debug dumps.
//! `${env:VAR}` in a URL is resolved at the request; messages show the URL as written.

use std::error::Error as _;
use std::io;
use std::time::{Duration, Instant};

use reqwest::Client;

use crate::error::Error;
use crate::secrets::Secrets;

/// The provider name in HTTP errors.
const PROVIDER: &str = "http";

/// The client every probe and webhook shares. It does not follow redirects: a probe
/// judges the status of the URL it was given.
///
/// # Panics
///
/// When the TLS backend cannot be initialised, as `reqwest::Client::new` does.
#[must_use]
pub fn client() -> Client {
    Client::builder()
        .user_agent(concat!("drplan/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("the TLS backend initialises")
}

/// GETs `url` (its `${env:VAR}` resolved with `secrets`) within `timeout`: the
/// response status and how long it took to arrive.
///
/// # Errors
///
/// When a variable is unset, or no response arrives: the message says why (refused,
/// timed out, unknown host).
pub async fn get(
    client: &Client,
    url: &str,
    timeout: Duration,
    secrets: &Secrets,
) -> Result<(u16, Duration), Error> {
    let resolved = secrets.resolve(url)?;
    let started = Instant::now();
    let response = client
        .get(resolved)
        .timeout(timeout)
        .send()
        .await
        .map_err(|error| request_error("GET", url, timeout, error))?;
    Ok((response.status().as_u16(), started.elapsed()))
}

/// GETs `url` (its `${env:VAR}` resolved with `secrets`) within `timeout` for its
/// body, which must come with a 2xx status; `provider` names who asked in errors.
///
/// # Errors
///
/// As for [`get`], or the status is not 2xx.
pub async fn get_text(
    client: &Client,
    url: &str,
    timeout: Duration,
    provider: &'static str,
    secrets: &Secrets,
) -> Result<String, Error> {
    let unreadable = |error: reqwest::Error| request_error("GET", url, timeout, error);
    let response = client
        .get(secrets.resolve(url)?)
        .timeout(timeout)
        .send()
        .await
        .map_err(unreadable)?;
    let status = response.status();
    if !status.is_success() {
        return Err(Error::BadStatus {
            provider,
            request: format!("GET {url}"),
            status: status.as_u16(),
        });
    }
    response.text().await.map_err(unreadable)
}

/// POSTs `body` as JSON to `url` (its `${env:VAR}` resolved with `secrets`) within
/// `timeout`: the response status.
///
/// # Errors
///
/// As for [`get`]; any status is a response.
pub async fn post_json(
    client: &Client,
    url: &str,
    body: &serde_json::Value,
    timeout: Duration,
    secrets: &Secrets,
) -> Result<u16, Error> {
    let resolved = secrets.resolve(url)?;
    let response = client
        .post(resolved)
        .json(body)
        .timeout(timeout)
        .send()
        .await
        .map_err(|error| request_error("POST", url, timeout, error))?;
    Ok(response.status().as_u16())
}

/// "GET url: what went wrong", with a help line for the kind of failure; `url` is the
/// URL as written, and the resolved one is dropped from `error`.
pub(crate) fn request_error(
    method: &'static str,
    url: &str,
    timeout: Duration,
    error: reqwest::Error,
) -> Error {
    let error = &error.without_url();
    if error.is_builder() {
        return Error::InvalidUrl {
            method,
            url: url.to_string(),
        };
    }
    let (what, help) = if error.is_timeout() {
        (
            format!(
                "timed out after {}",
                crate::duration::format_duration(timeout)
            ),
            "check that the service answers, or allow it more time",
        )
    } else if error.is_dns() {
        (
            "cannot resolve the host name".to_string(),
            "check the host name in the URL and this machine's DNS",
        )
    } else if io_error_kind(error) == Some(io::ErrorKind::ConnectionRefused) {
        (
            "connection refused".to_string(),
            "nothing listens on that address and port; check the URL and that the service runs",
        )
    } else {
        (
            root_cause(error),
            "check the URL and that the service answers",
        )
    };
    Error::Unreachable {
        provider: PROVIDER,
        message: format!("{method} {url}: {what}"),
        help,
    }
}

/// The kind of the first I/O error among the causes of `error`.
fn io_error_kind(error: &reqwest::Error) -> Option<io::ErrorKind> {
    causes(error)
        .find_map(|cause| cause.downcast_ref::<io::Error>())
        .map(io::Error::kind)
}

/// The innermost cause's message: the most specific one (reqwest's own says only
/// "error sending request").
fn root_cause(error: &reqwest::Error) -> String {
    causes(error)
        .last()
        .map_or_else(|| error.to_string(), ToString::to_string)
}

fn causes(error: &reqwest::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(error.source(), |&cause| cause.source())
}

/// A loopback HTTP server for tests: each call answers one request with a fixed
/// response and hands back the request it received.
#[cfg(test)]
pub(crate) mod test_server {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::JoinHandle;

    /// Serves one request on a free loopback port: waits `delay`, then answers with
    /// `status` and an empty body. Returns the server's base URL and the request text.
    pub(crate) async fn answer_once(status: &str, delay: Duration) -> (String, JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let url = format!("http://{}", listener.local_addr().expect("a bound address"));
        let response =
            format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("a connection");
            let request = read_request(&mut stream).await;
            tokio::time::sleep(delay).await;
            // The client may have given up already; its side decides the test.
            let _ = stream.write_all(response.as_bytes()).await;
            request
        });
        (url, server)
    }

    /// A URL on a loopback port where nothing listens.
    pub(crate) async fn refusing_url() -> String {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        format!(
            "http://{}/health",
            listener.local_addr().expect("a bound address")
        )
    }

    /// The request head and its body (as long as `content-length` says).
    async fn read_request(stream: &mut TcpStream) -> String {
        let mut bytes = Vec::new();
        let mut chunk = [0_u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n")
                && body.len() >= content_length(head)
            {
                return text;
            }
            let read = stream.read(&mut chunk).await.expect("the request");
            if read == 0 {
                return text;
            }
            bytes.extend_from_slice(&chunk[..read]);
        }
    }

    fn content_length(head: &str) -> usize {
        head.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse().ok())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::test_server::{answer_once, refusing_url};
    use super::*;

    #[tokio::test]
    async fn get_returns_the_status_and_latency() {
        let (url, server) =
            answer_once("503 Service Unavailable", Duration::from_millis(100)).await;
        let (status, latency) = get(
            &client(),
            &format!("{url}/health"),
            Duration::from_secs(5),
            &Secrets::default(),
        )
        .await
        .expect("answers");
        assert_eq!(status, 503);
        assert!(latency >= Duration::from_millis(100), "{latency:?}");
        assert!(
            server
                .await
                .expect("served")
                .starts_with("GET /health HTTP/1.1\r\n")
        );
    }

    #[tokio::test]
    async fn post_json_sends_the_body() {
        let (url, server) = answer_once("204 No Content", Duration::ZERO).await;
        let body = serde_json::json!({ "text": "failover to eu-west started" });
        let status = post_json(
            &client(),
            &format!("{url}/hook"),
            &body,
            Duration::from_secs(5),
            &Secrets::default(),
        )
        .await
        .expect("answers");
        assert_eq!(status, 204);
        let request = server.await.expect("served");
        assert!(request.starts_with("POST /hook HTTP/1.1\r\n"), "{request}");
        assert!(
            request
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{request}"
        );
        assert!(
            request.ends_with("\r\n\r\n{\"text\":\"failover to eu-west started\"}"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn connection_refused_is_readable() {
        let url = refusing_url().await;
        let error = get(&client(), &url, Duration::from_secs(5), &Secrets::default())
            .await
            .expect_err("nothing listens");
        assert_eq!(
            error.to_string(),
            format!("http: GET {url}: connection refused")
        );
    }

    #[tokio::test]
    async fn timeout_is_readable() {
        let (url, _server) = answer_once("200 OK", Duration::from_secs(5)).await;
        let error = get(
            &client(),
            &url,
            Duration::from_millis(200),
            &Secrets::default(),
        )
        .await
        .expect_err("too slow");
        assert_eq!(
            error.to_string(),
            format!("http: GET {url}: timed out after 200ms")
        );
    }

    #[tokio::test]
    async fn unknown_host_is_readable() {
        let url = "http://drplan-test.invalid/health";
        let error = get(&client(), url, Duration::from_secs(5), &Secrets::default())
            .await
            .expect_err("the name does not resolve");
        assert_eq!(
            error.to_string(),
            format!("http: GET {url}: cannot resolve the host name")
        );
    }

    #[tokio::test]
    async fn invalid_url_is_readable() {
        let error = get(
            &client(),
            "not a url",
            Duration::from_secs(5),
            &Secrets::default(),
        )
        .await
        .expect_err("not a URL");
        assert_eq!(error.to_string(), "http: GET not a url: not a valid URL");
    }
}
