//! Circular health probes: a probe reached through a DNS record that a plan moves only
//! after that probe passes asks the region being left whether the new one is healthy
//! (every record switches after the health of the service it follows). A warning.

use super::{Environment, Service};
use crate::error::{Problem, ProblemKind};

/// One warning per service whose health probe goes through one of the records.
pub fn warnings(env: &Environment) -> Vec<Problem> {
    let mut warnings = Vec::new();
    for service in &env.services {
        let Some(probe) = &service.health else {
            continue;
        };
        let texts: Vec<String> = probe
            .check
            .templates()
            .iter()
            .map(ToString::to_string)
            .collect();
        let through = env.records.iter().find(|record| {
            texts
                .iter()
                .any(|text| host(text) == Some(record.name.as_str()) || *text == record.name)
        });
        if let Some(record) = through {
            warnings.push(warning(service, &record.name, &record.key.value));
        }
    }
    warnings
}

/// The host of a URL (`https://host:port/path` → `host`).
fn host(text: &str) -> Option<&str> {
    let rest = text.split_once("://")?.1;
    let end = rest.find(['/', ':', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

fn warning(service: &Service, name: &str, key: &str) -> Problem {
    let service_name = &service.name.value;
    Problem::new(
        ProblemKind::CircularHealthProbe,
        format!(
            "the health probe of `{service_name}` goes through {name} (DNS record `{key}`), which a plan moves only after that probe passes: it would ask the region being left"
        ),
        service.name.span.clone(),
        "probed through a record it moves",
    )
    .help(format!(
        "probe the region itself, e.g. url = \"https://{service_name}.{{region}}.example/health\" (a host per region, or {{vars.NAME}} per region)"
    ))
}

#[cfg(test)]
mod tests {
    use super::host;

    #[test]
    fn the_host_of_a_url() {
        assert_eq!(
            host("https://api.shop.example/healthz"),
            Some("api.shop.example")
        );
        assert_eq!(host("http://db:5432"), Some("db"));
        assert_eq!(host("pg_isready"), None);
    }
}
