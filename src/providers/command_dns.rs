//! DNS through the team's own commands — Cloudflare, on-premises DNS, a load balancer:
//! `read` prints a record's weighted sets as JSON, `apply` sets them from
//! `$DRPLAN_RECORD_SETS`. Each command runs once per record, with the record in
//! `$DRPLAN_RECORD`, `$DRPLAN_RECORD_NAME`, `$DRPLAN_RECORD_ZONE` and
//! `$DRPLAN_RECORD_TYPE`; a JSON array of `{"region", "value", "weight"}` (and an
//! optional `ttl`) is the one format both ways.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{DnsProvider, RecordChange, process};
use crate::error::Error;
use crate::model::{DnsCommands, DnsRecord, Environment, RecordSet};
use crate::secrets::Secrets;

/// Records read and moved by declared commands.
pub struct CommandDns {
    read: Vec<String>,
    apply: Vec<String>,
    timeout: Duration,
    secrets: Arc<Secrets>,
}

impl CommandDns {
    /// The commands of `env`, their `{environment}` and `{vars.NAME}` rendered.
    pub fn new(commands: &DnsCommands, env: &Environment, secrets: Arc<Secrets>) -> Self {
        let context = env.context(None);
        Self {
            read: commands.read.render(&context),
            apply: commands.apply.render(&context),
            timeout: commands.timeout,
            secrets,
        }
    }

    async fn run(&self, argv: &[String], env: &[(String, String)]) -> Result<String, Error> {
        let output = process::run(argv, self.timeout, env, &self.secrets).await?;
        Ok(output.log)
    }
}

#[async_trait]
impl DnsProvider for CommandDns {
    async fn read(&self, records: &[DnsRecord]) -> Result<BTreeMap<String, Vec<RecordSet>>, Error> {
        let mut read = BTreeMap::new();
        for record in records {
            let output = self.run(&self.read, &record_env(record)).await?;
            let sets = parse_sets(&output).map_err(|detail| Error::UnreadableDnsCommand {
                record: record.key.value.clone(),
                detail,
            })?;
            read.insert(record.key.value.clone(), declared_only(record, sets));
        }
        Ok(read)
    }

    async fn apply(&self, changes: &[RecordChange]) -> Result<(), Error> {
        for change in changes {
            let mut env = record_env(&change.record);
            env.push(("DRPLAN_RECORD_SETS".to_string(), sets_json(&change.after)));
            self.run(&self.apply, &env).await?;
        }
        Ok(())
    }
}

/// What a DNS command is told about the record it reads or moves.
fn record_env(record: &DnsRecord) -> Vec<(String, String)> {
    [
        ("DRPLAN_RECORD", record.key.value.as_str()),
        ("DRPLAN_RECORD_NAME", record.name.as_str()),
        ("DRPLAN_RECORD_ZONE", record.zone.as_str()),
        ("DRPLAN_RECORD_TYPE", record.record_type.as_str()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect()
}

fn sets_json(sets: &[RecordSet]) -> String {
    serde_json::to_string(sets).unwrap_or_else(|_| "[]".to_string())
}

/// The first JSON value of `output` (what the command printed; anything after it, such
/// as its standard error, is ignored), as record sets.
fn parse_sets(output: &str) -> Result<Vec<RecordSet>, String> {
    let mut values = serde_json::Deserializer::from_str(output).into_iter::<Vec<RecordSet>>();
    match values.next() {
        Some(Ok(sets)) => Ok(sets),
        Some(Err(error)) => Err(format!(
            "expected a JSON array of {{\"region\", \"value\", \"weight\"}} objects: {error}"
        )),
        None => Err("the command printed nothing; print `[]` for a record with no sets".into()),
    }
}

/// The sets of `record`'s declared target regions, in the order the command printed
/// them; others are neither reported nor touched (as with Route 53).
fn declared_only(record: &DnsRecord, sets: Vec<RecordSet>) -> Vec<RecordSet> {
    sets.into_iter()
        .filter(|set| record.target(&set.region).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_json_value_and_ignores_what_follows() {
        let sets = parse_sets(
            "[{\"region\": \"a\", \"value\": \"x\", \"weight\": 100}]\nwarning: slow api\n",
        )
        .unwrap();
        assert_eq!(
            sets,
            vec![RecordSet {
                region: "a".into(),
                value: "x".into(),
                weight: 100,
                ttl: None,
                failover: None
            }]
        );
    }

    #[test]
    fn says_what_it_expected() {
        let error = parse_sets("{\"a\": 1}").unwrap_err();
        assert!(error.starts_with("expected a JSON array"), "{error}");
        let error = parse_sets("  ").unwrap_err();
        assert!(error.contains("printed nothing"), "{error}");
        let error =
            parse_sets("[{\"region\": \"a\", \"value\": \"x\", \"weight\": 300}]").unwrap_err();
        assert!(error.contains("300"), "{error}");
    }
}
