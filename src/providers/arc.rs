//! Route 53 ARC routing controls through the cluster's data plane (`dns = "arc"`), the
//! statically stable way to move traffic: a region's routing control `On` sends its
//! traffic there. Every record is read as one weighted set per region, at 100 where
//! the region's control is on and 0 where it is off (`GetRoutingControlState`); a move
//! sets every control in ONE `UpdateRoutingControlStates` call, the new region on and
//! the old one off together, so the control panel's safety rules judge the end state.
//! Each call tries the cluster's regional endpoints in turn until one answers, as AWS
//! advises, starting from the one that answered last (an endpoint down costs its
//! retries once); an answer that refuses (a safety rule's `ConflictException`, a
//! `ServiceLimitExceededException`) is reported with its code, not tried elsewhere.
//! With a `control_panel`, its safety rules are read for each plan (`ListSafetyRules`,
//! the control-config API, in us-west-2 only: a plan-time read, never needed to move),
//! with the states of every control they name, so the plan is judged before apply.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_route53recoverycluster::Client;
use aws_sdk_route53recoverycluster::config::http::HttpResponse;
use aws_sdk_route53recoverycluster::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_route53recoverycluster::types::{RoutingControlState, UpdateRoutingControlStateEntry};

use super::aws::Failure;
use super::{DnsProvider, RecordChange};
use crate::error::Error;
use crate::model::safety_rules::{ArcSafety, RuleConfig, RuleKind, RuleTest, SafetyRule};
use crate::model::{ArcCluster, DnsRecord, RecordSet};

const PROVIDER: &str = "arc";

/// The only region of the ARC control-config API.
const CONTROL_CONFIG_REGION: &str = "us-west-2";

/// Error codes of an answer that refuses the change itself.
const REFUSALS: [&str; 2] = ["ConflictException", "ServiceLimitExceededException"];

/// Routing controls read and set through the cluster's endpoints.
pub struct ArcDns {
    sdk: SdkConfig,
    cluster: ArcCluster,
    /// The endpoint that answered last: tried first by the next call, so an endpoint
    /// down (a failed region's) costs its retries once per run, not once per call.
    answered: AtomicUsize,
}

impl ArcDns {
    pub fn new(sdk: &SdkConfig, cluster: &ArcCluster) -> Self {
        Self {
            sdk: sdk.clone(),
            cluster: cluster.clone(),
            answered: AtomicUsize::new(0),
        }
    }

    /// A client of the endpoint `url` in `region`.
    fn client(&self, region: &str, url: &str) -> Client {
        let config = aws_sdk_route53recoverycluster::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(region.to_string()))
            .endpoint_url(url)
            .build();
        Client::from_conf(config)
    }

    /// Runs `call` against each endpoint in turn, from the one that answered last,
    /// until one answers; the last failure when none does.
    async fn on_any_endpoint<T, E, F, Fut>(&self, action: &str, call: F) -> Result<T, Error>
    where
        F: Fn(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let mut last = None;
        let endpoints = &self.cluster.endpoints;
        let first = self.answered.load(Ordering::Relaxed);
        for index in (0..endpoints.len()).map(|i| (first + i) % endpoints.len()) {
            let (region, url) = &endpoints[index];
            match call(self.client(&region.value, url)).await {
                Ok(answer) => {
                    self.answered.store(index, Ordering::Relaxed);
                    return Ok(answer);
                }
                Err(err) => {
                    let failure = Failure::of(&err);
                    if let Some(code) = failure.code().filter(|c| REFUSALS.contains(c)) {
                        return Err(Error::ArcRefused {
                            action: action.to_string(),
                            code: code.to_string(),
                            message: err.message().unwrap_or_default().to_string(),
                        });
                    }
                    if !failure.is_unavailable() {
                        return Err(failure.into_error(PROVIDER, action));
                    }
                    last = Some(failure);
                }
            }
        }
        Err(last.map_or_else(
            || Error::Bug {
                detail: "[providers.arc] declares no endpoint".to_string(),
            },
            |failure| failure.into_error(PROVIDER, action),
        ))
    }

    /// Whether the routing control `arn` is on.
    async fn is_on(&self, arn: &str) -> Result<bool, Error> {
        let action = format!("read the routing control {arn}");
        let answer = self
            .on_any_endpoint(&action, |client| async move {
                client
                    .get_routing_control_state()
                    .routing_control_arn(arn)
                    .send()
                    .await
            })
            .await?;
        Ok(answer.routing_control_state() == &RoutingControlState::On)
    }

    /// Every safety rule of `panel`, following `NextToken`.
    async fn list_rules(&self, panel: &str) -> Result<Vec<SafetyRule>, Error> {
        let config = aws_sdk_route53recoverycontrolconfig::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(CONTROL_CONFIG_REGION))
            .build();
        let client = aws_sdk_route53recoverycontrolconfig::Client::from_conf(config);
        let action = format!("list the safety rules of {panel}");
        let mut rules = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = client
                .list_safety_rules()
                .control_panel_arn(panel)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|err| super::aws::describe(PROVIDER, &action, &err))?;
            for rule in page.safety_rules() {
                rules.push(safety_rule(rule).ok_or_else(|| Error::Api {
                    provider: PROVIDER,
                    message: format!("{action}: a rule without a name or a rule config"),
                    help: "check the control panel's safety rules in the ARC console",
                })?);
            }
            match page.next_token() {
                Some(next) if Some(next) != token.as_deref() => token = Some(next.to_string()),
                _ => return Ok(rules),
            }
        }
    }
}

/// A safety rule as drplan judges it; `None` when ARC left out its name or config.
fn safety_rule(rule: &aws_sdk_route53recoverycontrolconfig::types::Rule) -> Option<SafetyRule> {
    use aws_sdk_route53recoverycontrolconfig::types::RuleType;
    let (name, config, kind) = if let Some(a) = rule.assertion() {
        let controls = a.asserted_controls().to_vec();
        (
            a.name()?,
            a.rule_config()?,
            RuleKind::Assertion { controls },
        )
    } else {
        let g = rule.gating()?;
        let kind = RuleKind::Gating {
            gating: g.gating_controls().to_vec(),
            targets: g.target_controls().to_vec(),
        };
        (g.name()?, g.rule_config()?, kind)
    };
    let test = match config.r#type()? {
        RuleType::Atleast => RuleTest::AtLeast,
        RuleType::And => RuleTest::And,
        RuleType::Or => RuleTest::Or,
        _ => return None,
    };
    Some(SafetyRule {
        name: name.to_string(),
        kind,
        config: RuleConfig {
            test,
            threshold: u32::try_from(config.threshold().unwrap_or(0)).unwrap_or(0),
            inverted: config.inverted().unwrap_or(false),
        },
    })
}

#[async_trait]
impl DnsProvider for ArcDns {
    async fn read(&self, records: &[DnsRecord]) -> Result<BTreeMap<String, Vec<RecordSet>>, Error> {
        let mut on = BTreeMap::new();
        for (region, arn) in &self.cluster.routing_controls {
            on.insert(region.value.clone(), self.is_on(arn).await?);
        }
        Ok(records
            .iter()
            .map(|record| {
                let sets = record
                    .targets
                    .iter()
                    .filter_map(|(region, value)| {
                        Some(RecordSet {
                            region: region.value.clone(),
                            value: value.clone(),
                            weight: if *on.get(&region.value)? { 100 } else { 0 },
                            ttl: record.alias.is_none().then(|| record.ttl()),
                            failover: None,
                        })
                    })
                    .collect();
                (record.key.value.clone(), sets)
            })
            .collect())
    }

    /// One call for every region the changes name: on where a set has weight, off
    /// where none has.
    async fn apply(&self, changes: &[RecordChange]) -> Result<(), Error> {
        let mut wanted: BTreeMap<&str, bool> = BTreeMap::new();
        for set in changes.iter().flat_map(|c| &c.after) {
            *wanted.entry(set.region.as_str()).or_default() |= set.weight > 0;
        }
        let mut entries = Vec::new();
        let mut words = Vec::new();
        for (region, on) in &wanted {
            let Some(arn) = self.cluster.routing_control(region) else {
                continue;
            };
            let state = if *on {
                RoutingControlState::On
            } else {
                RoutingControlState::Off
            };
            words.push(format!("{region} {}", if *on { "on" } else { "off" }));
            entries.push(
                UpdateRoutingControlStateEntry::builder()
                    .routing_control_arn(arn)
                    .routing_control_state(state)
                    .build()
                    .map_err(|e| Error::Bug {
                        detail: format!("an ARC update entry: {e}"),
                    })?,
            );
        }
        if entries.is_empty() {
            return Ok(());
        }
        let action = format!("set the routing controls ({})", words.join(", "));
        self.on_any_endpoint(&action, |client| {
            let entries = entries.clone();
            async move {
                client
                    .update_routing_control_states()
                    .set_update_routing_control_state_entries(Some(entries))
                    .send()
                    .await
            }
        })
        .await?;
        Ok(())
    }

    async fn safety_rules(&self) -> Result<Option<ArcSafety>, Error> {
        let Some(panel) = &self.cluster.control_panel else {
            return Ok(None);
        };
        let rules = self.list_rules(panel).await?;
        let mut states = std::collections::BTreeMap::new();
        for rule in &rules {
            let named = match &rule.kind {
                RuleKind::Assertion { controls } => controls.iter().collect::<Vec<_>>(),
                RuleKind::Gating { gating, targets } => gating.iter().chain(targets).collect(),
            };
            for arn in named {
                if !states.contains_key(arn) {
                    states.insert(arn.clone(), self.is_on(arn).await?);
                }
            }
        }
        Ok(Some(ArcSafety { rules, states }))
    }
}

/// moto has no ARC data plane: these run through the SDK's replay client, with answers
/// hand-recorded from the shapes of the Route 53 ARC cluster API reference (JSON 1.0).
#[cfg(test)]
mod tests {
    use aws_sdk_s3::primitives::SdkBody;
    use aws_smithy_http_client::test_util::StaticReplayClient;

    use super::*;
    use crate::located::Located;
    use crate::model::weighted_sets;
    use crate::providers::aws::replay::{bodies, client, sdk_config, uris};

    const EAST: &str =
        "arn:aws:route53-recovery-control::123456789012:controlpanel/p/routingcontrol/east";
    const WEST: &str =
        "arn:aws:route53-recovery-control::123456789012:controlpanel/p/routingcontrol/west";
    const GATE: &str =
        "arn:aws:route53-recovery-control::123456789012:controlpanel/p/routingcontrol/gate";
    const PANEL: &str = "arn:aws:route53-recovery-control::123456789012:controlpanel/p";

    fn located(text: &str) -> Located<String> {
        Located::new(text.to_string(), 0..0)
    }

    fn arc(replay: &StaticReplayClient) -> ArcDns {
        let cluster = ArcCluster {
            endpoints: vec![
                (
                    located("us-west-2"),
                    "https://first.us-west-2.example.com/v1".to_string(),
                ),
                (
                    located("us-east-1"),
                    "https://second.us-east-1.example.com/v1".to_string(),
                ),
            ],
            routing_controls: vec![
                (located("us-east-1"), EAST.to_string()),
                (located("us-west-2"), WEST.to_string()),
            ],
            control_panel: Some(PANEL.to_string()),
        };
        ArcDns::new(&sdk_config(replay), &cluster)
    }

    fn record() -> DnsRecord {
        DnsRecord {
            key: located("www"),
            zone: "example.com".to_string(),
            zone_id: None,
            name: "www.example.com".to_string(),
            record_type: "CNAME".to_string(),
            ttl: None,
            switchover_ttl: None,
            follows: located("web"),
            alias: None,
            targets: vec![
                (located("us-east-1"), "web.east.example.com".to_string()),
                (located("us-west-2"), "web.west.example.com".to_string()),
            ],
            weights: Vec::new(),
            routing: Located::new(crate::model::Routing::Weighted, 0..0),
        }
    }

    fn json(status: u16, body: &str) -> HttpResponse {
        let mut response = HttpResponse::new(
            status.try_into().expect("a valid status"),
            SdkBody::from(body),
        );
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        response
    }

    fn state(arn: &str, on: bool) -> HttpResponse {
        let state = if on { "On" } else { "Off" };
        json(
            200,
            &format!(
                r#"{{"RoutingControlArn": "{arn}", "RoutingControlState": "{state}", "RoutingControlName": "cell"}}"#
            ),
        )
    }

    fn error(status: u16, code: &str, message: &str) -> HttpResponse {
        json(
            status,
            &format!(r#"{{"__type": "{code}", "message": "{message}"}}"#),
        )
    }

    /// An endpoint that cannot take the call: the next one is tried.
    fn unavailable() -> HttpResponse {
        error(
            503,
            "EndpointTemporarilyUnavailableException",
            "try another",
        )
    }

    fn switch_west() -> Vec<RecordChange> {
        let record = record();
        let after = weighted_sets(&record, "us-east-1", "us-west-2");
        vec![RecordChange { record, after }]
    }

    #[tokio::test]
    async fn the_states_are_read_as_weights_and_moved_in_one_call() {
        let replay = client(vec![state(EAST, true), state(WEST, false), json(200, "{}")]);
        let arc = arc(&replay);
        let read = arc.read(&[record()]).await.unwrap();
        assert_eq!(
            read["www"],
            weighted_sets(&record(), "us-east-1", "us-east-1")
        );
        arc.apply(&switch_west()).await.unwrap();
        let sent = bodies(&replay);
        assert_eq!(sent.len(), 3);
        let update: serde_json::Value = serde_json::from_str(&sent[2]).unwrap();
        assert_eq!(
            update["UpdateRoutingControlStateEntries"],
            serde_json::json!([
                {"RoutingControlArn": EAST, "RoutingControlState": "Off"},
                {"RoutingControlArn": WEST, "RoutingControlState": "On"},
            ])
        );
    }

    #[tokio::test]
    async fn an_endpoint_that_fails_is_left_for_the_next() {
        // The SDK retries the first endpoint (3 attempts) before drplan moves on.
        let replay = client(vec![
            unavailable(),
            unavailable(),
            unavailable(),
            json(200, "{}"),
        ]);
        arc(&replay).apply(&switch_west()).await.unwrap();
        let uris = uris(&replay);
        assert_eq!(uris.len(), 4);
        assert!(
            uris[..3].iter().all(|u| u.contains("first.us-west-2")),
            "{uris:?}"
        );
        assert!(uris[3].contains("second.us-east-1"), "{uris:?}");
    }

    #[tokio::test]
    async fn the_endpoint_that_answered_is_tried_first_by_the_next_call() {
        let replay = client(vec![
            unavailable(),
            unavailable(),
            unavailable(),
            state(EAST, true),
            state(WEST, false),
            json(200, "{}"),
        ]);
        let arc = arc(&replay);
        arc.read(&[record()]).await.unwrap();
        arc.apply(&switch_west()).await.unwrap();
        let uris = uris(&replay);
        // The endpoint down costs its retries once; every later call goes to the one
        // that answered.
        assert_eq!(uris.len(), 6, "{uris:?}");
        assert!(
            uris[3..].iter().all(|u| u.contains("second.us-east-1")),
            "{uris:?}"
        );
    }

    #[tokio::test]
    async fn throttling_is_reported_after_the_sdk_retries() {
        let throttled = || error(400, "ThrottlingException", "slow down");
        let replay = client(vec![throttled(), throttled(), throttled()]);
        let error = arc(&replay).apply(&switch_west()).await.unwrap_err();
        assert!(
            matches!(&error, Error::Throttled { code, .. } if code == "ThrottlingException"),
            "{error:?}"
        );
        assert_eq!(uris(&replay).len(), 3, "not tried on the next endpoint");
    }

    /// A `ListSafetyRules` page (REST JSON, as the control-config API reference shapes it).
    fn rules_page(rules: &str, next: Option<&str>) -> HttpResponse {
        let next = next.map_or(String::new(), |n| format!(r#", "NextToken": "{n}""#));
        let mut response = json(200, &format!(r#"{{"SafetyRules": [{rules}]{next}}}"#));
        response
            .headers_mut()
            .insert("content-type", "application/json");
        response
    }

    #[tokio::test]
    async fn safety_rules_are_read_across_pages_with_the_states_of_their_controls() {
        let assertion = format!(
            r#"{{"ASSERTION": {{"AssertedControls": ["{EAST}", "{WEST}"], "ControlPanelArn": "{PANEL}", "Name": "one-cell-on", "RuleConfig": {{"Inverted": false, "Threshold": 1, "Type": "ATLEAST"}}, "SafetyRuleArn": "{PANEL}/safetyrule/a", "Status": "DEPLOYED", "WaitPeriodMs": 5000}}}}"#
        );
        let gating = format!(
            r#"{{"GATING": {{"GatingControls": ["{GATE}"], "TargetControls": ["{EAST}", "{WEST}"], "ControlPanelArn": "{PANEL}", "Name": "master-switch", "RuleConfig": {{"Inverted": false, "Threshold": 0, "Type": "OR"}}, "SafetyRuleArn": "{PANEL}/safetyrule/g", "Status": "DEPLOYED", "WaitPeriodMs": 5000}}}}"#
        );
        let replay = client(vec![
            rules_page(&assertion, Some("page-2")),
            rules_page(&gating, None),
            state(EAST, true),
            state(WEST, false),
            state(GATE, false),
        ]);
        let safety = arc(&replay).safety_rules().await.unwrap().unwrap();
        let uris = uris(&replay);
        assert!(
            uris[0].starts_with("https://route53-recovery-control-config.us-west-2.amazonaws.com/")
                && uris[1].contains("NextToken=page-2"),
            "{uris:?}"
        );
        assert_eq!(safety.rules.len(), 2);
        assert_eq!(safety.states.len(), 3);
        // The gate is off: the failover's one update would be refused, and the plan says so.
        let switch: BTreeMap<String, bool> =
            [(EAST.to_string(), false), (WEST.to_string(), true)].into();
        let breaches = safety.breaches(&switch);
        assert_eq!(
            breaches,
            [
                "gating rule `master-switch` lets [east, west] change only while any on of [gate] (they are not)"
            ]
        );
    }

    #[tokio::test]
    async fn a_safety_rule_conflict_is_reported_with_its_code() {
        let replay = client(vec![error(
            409,
            "ConflictException",
            "the update would violate safety rule at-least-one-on",
        )]);
        let error = arc(&replay).apply(&switch_west()).await.unwrap_err();
        assert!(
            matches!(&error, Error::ArcRefused { code, message, .. }
                if code == "ConflictException" && message.contains("at-least-one-on")),
            "{error:?}"
        );
        assert!(error.to_string().contains("us-west-2 on"), "{error}");
        assert_eq!(uris(&replay).len(), 1, "a refusal is not tried elsewhere");
    }
}
