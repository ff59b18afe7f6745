//! Alarm triggers: `when = "alarm"` acts on a CloudWatch alarm the team already has.
//! On the sim, an alarm is set with `drplan sim set --alarm`; against moto, with the
//! `aws` CLI (`put-metric-alarm`, `set-alarm-state`), read by drplan through the SDK.

use std::fs;

use crate::command_dns::ENV as ONPREM;
use crate::support::moto::MotoServer;
use crate::support::workspace::Workspace;

const EXAMPLE: &str = "environments/example.toml";

/// An alarm trigger that only notifies (so `watch --once` reports and never applies).
const ALARM_TRIGGER: &str = r#"
[triggers.api-errors]
scenario = "{scenario}"
when = "alarm"
probe = { alarm = "api-5xx", region = "us-east-1" }
for = "1m"
"#;

impl Workspace {
    fn add_alarm_trigger(&self, file: &str, scenario: &str) {
        let path = self.path().join(file);
        let text = fs::read_to_string(&path).expect("the environment exists");
        let trigger = ALARM_TRIGGER.replace("{scenario}", scenario);
        fs::write(&path, text + &trigger).expect("the environment is written");
    }
}

/// What `watch --once` printed about the alarm trigger (the timestamp dropped).
fn alarm_line(stdout: &str) -> String {
    stdout
        .lines()
        .filter_map(|line| line.split_once(' ').map(|(_, rest)| rest))
        .filter_map(|rest| rest.strip_prefix("api-errors: "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn an_alarm_trigger_follows_the_alarm_the_sim_is_told_about_and_else_the_services() {
    let workspace = Workspace::new();
    workspace.add_alarm_trigger(EXAMPLE, "region-outage");
    workspace.run(&["sim", "init", EXAMPLE]).expect(0);
    let once = || {
        alarm_line(
            &workspace
                .run(&["watch", EXAMPLE, "--once"])
                .expect(0)
                .stdout,
        )
    };

    assert_eq!(once(), "ok: alarm api-5xx is OK");
    workspace
        .run(&["sim", "set", EXAMPLE, "--region", "eu-west-1", "--down"])
        .expect(0);
    assert!(once().contains("alarm api-5xx is ALARM"), "{}", once());
    workspace
        .run(&["sim", "set", EXAMPLE, "--alarm", "api-5xx", "--state", "ok"])
        .expect(0);
    assert_eq!(once(), "ok: alarm api-5xx is OK", "a set state wins");
    workspace
        .run(&[
            "sim", "set", EXAMPLE, "--alarm", "api-5xx", "--state", "alarm",
        ])
        .expect(0);
    assert!(once().contains("alarm api-5xx is ALARM"), "{}", once());
}

#[test]
fn an_alarm_trigger_reads_the_cloudwatch_alarm_through_the_sdk() {
    let moto = MotoServer::start();
    let workspace = Workspace::new();
    workspace.onprem();
    workspace.add_alarm_trigger(ONPREM, "dc-outage");
    let once = || {
        let mut command = workspace.command(&["watch", ONPREM, "--once"]);
        command.envs(moto.aws_env());
        alarm_line(&crate::support::runner::run(&mut command).expect(0).stdout)
    };

    assert!(
        once().contains("there is no alarm named `api-5xx` in us-east-1"),
        "{}",
        once()
    );
    moto.aws_cli(&[
        "cloudwatch",
        "put-metric-alarm",
        "--alarm-name",
        "api-5xx",
        "--namespace",
        "App",
        "--metric-name",
        "5xx",
        "--statistic",
        "Sum",
        "--period",
        "60",
        "--evaluation-periods",
        "1",
        "--threshold",
        "1",
        "--comparison-operator",
        "GreaterThanThreshold",
    ]);
    let set = |state: &str| {
        moto.aws_cli(&[
            "cloudwatch",
            "set-alarm-state",
            "--alarm-name",
            "api-5xx",
            "--state-value",
            state,
            "--state-reason",
            "drplan test",
        ]);
    };
    set("ALARM");
    assert!(once().contains("alarm api-5xx is ALARM"), "{}", once());
    set("OK");
    assert_eq!(once(), "ok: alarm api-5xx is OK");
}
