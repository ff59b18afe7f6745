//! CloudWatch alarms through the AWS SDK: an alarm trigger reads the state of an
//! alarm the team already has (`DescribeAlarms`), in the alarm's region.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::StateValue;

use super::aws::describe;
use super::{AlarmState, Alarms};
use crate::error::Error;
use crate::model::{AlarmProbe, Environment};

const PROVIDER: &str = "cloudwatch";

/// Alarms read from CloudWatch.
pub struct CloudWatchAlarms {
    sdk: SdkConfig,
}

impl CloudWatchAlarms {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self { sdk: sdk.clone() }
    }

    /// A client for `region`, else the SDK's own region.
    fn client(&self, region: Option<&str>) -> Client {
        let mut config = aws_sdk_cloudwatch::config::Builder::from(&self.sdk);
        if let Some(region) = region {
            config = config.region(aws_config::Region::new(region.to_string()));
        }
        Client::from_conf(config.build())
    }
}

#[async_trait]
impl Alarms for CloudWatchAlarms {
    async fn state(&self, _env: &Environment, alarm: &AlarmProbe) -> Result<AlarmState, Error> {
        let answer = self
            .client(alarm.region.as_deref())
            .describe_alarms()
            .alarm_names(&alarm.name)
            .send()
            .await
            .map_err(|error| {
                describe(PROVIDER, &format!("read the alarm {}", alarm.name), &error)
            })?;
        let found = answer
            .metric_alarms()
            .iter()
            .filter(|a| a.alarm_name() == Some(alarm.name.as_str()))
            .map(|a| a.state_value().cloned())
            .chain(
                answer
                    .composite_alarms()
                    .iter()
                    .filter(|a| a.alarm_name() == Some(alarm.name.as_str()))
                    .map(|a| a.state_value().cloned()),
            )
            .next();
        match found {
            Some(Some(value)) => Ok(state(&value)),
            Some(None) => Ok(AlarmState::InsufficientData),
            None => Err(Error::NoSuchAlarm {
                alarm: alarm.name.clone(),
                region: alarm
                    .region
                    .clone()
                    .or_else(|| self.sdk.region().map(ToString::to_string))
                    .unwrap_or_default(),
            }),
        }
    }
}

fn state(value: &StateValue) -> AlarmState {
    match value {
        StateValue::Alarm => AlarmState::Alarm,
        StateValue::Ok => AlarmState::Ok,
        _ => AlarmState::InsufficientData,
    }
}
