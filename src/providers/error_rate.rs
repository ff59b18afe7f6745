//! Reading an error rate: the body of a URL, or what a command prints, as a ratio
//! from 0 to 1.

use std::time::Duration;

use crate::error::Error;
use crate::model::{Environment, ErrorRateProbe};
use crate::secrets::Secrets;

/// How long reading an error rate may take.
const RATIO_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the trigger's error-rate probe: the body of a URL, or what a command prints
/// (`${env:VAR}` resolved with `secrets`).
pub async fn read(
    env: &Environment,
    trigger: &str,
    probe: Option<&ErrorRateProbe>,
    secrets: &Secrets,
) -> Result<f64, Error> {
    let text = match probe {
        Some(ErrorRateProbe::Url(url)) => {
            let client = super::http::client();
            let url = url.render(&env.context(None));
            super::http::get_text(&client, &url, RATIO_TIMEOUT, "error-rate", secrets).await?
        }
        Some(ErrorRateProbe::Command(argv)) => {
            let argv = argv.render(&env.context(None));
            super::process::run(&argv, RATIO_TIMEOUT, &[], secrets)
                .await?
                .log
        }
        None => {
            return Err(Error::NoErrorRateProbe {
                trigger: trigger.to_string(),
            });
        }
    };
    parse_ratio(&text)
}

/// A ratio from 0 to 1, the first word of `text`.
fn parse_ratio(text: &str) -> Result<f64, Error> {
    let word = text.split_whitespace().next().unwrap_or("");
    word.parse::<f64>()
        .ok()
        .filter(|ratio| (0.0..=1.0).contains(ratio))
        .ok_or_else(|| Error::NotARatio {
            text: word.to_string(),
        })
}

// Each test compares a ratio parsed from text with that same literal: exact, not computed.
#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[test]
    fn a_ratio_is_the_first_word_between_zero_and_one() {
        assert_eq!(parse_ratio("0.25\n").unwrap(), 0.25);
        assert_eq!(parse_ratio("  1 errors/requests").unwrap(), 1.0);
        for bad in ["", "high", "1.5", "-0.1"] {
            assert!(parse_ratio(bad).is_err(), "{bad:?}");
        }
    }

    fn example() -> Environment {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/example.toml");
        crate::model::load(&path).unwrap().env
    }

    #[tokio::test]
    async fn an_error_rate_is_read_from_what_a_command_prints() {
        let probe = ErrorRateProbe::Command(crate::model::Command::plain(["echo", "0.75"]));
        let ratio = read(&example(), "errors", Some(&probe), &Secrets::default()).await;
        assert_eq!(ratio.unwrap(), 0.75);
    }

    #[tokio::test]
    async fn an_error_rate_is_read_from_the_body_of_a_url_on_a_loopback_server() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/errors", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0_u8; 1024];
            let _ = stream.read(&mut request).await.unwrap();
            let response = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\n0.125";
            stream.write_all(response.as_bytes()).await.unwrap();
        });
        let probe = ErrorRateProbe::Url(crate::model::Template::text(&url));
        let ratio = read(&example(), "errors", Some(&probe), &Secrets::default()).await;
        server.await.unwrap();
        assert_eq!(ratio.unwrap(), 0.125);
    }
}
