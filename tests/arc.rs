//! `environments/aws.toml` — an Aurora global database and ARC routing controls — on
//! the sim: a failover and the failback move the writer and the traffic without an
//! account, and the sim holds the global cluster's members the way AWS does (a
//! detached cluster is not switched back to until it rejoins). (The ARC data plane itself, which moto lacks, is tested through the SDK's
//! replay client in `src/providers/arc.rs`; Aurora on moto in `tests/aurora.rs`.)

use std::fs;
use std::path::Path;

use serde_json::Value;

use drplan::cli::PlanFormat;
use drplan::model::LoadedEnvironment;
use drplan::model::safety_rules::{ArcSafety, RuleConfig, RuleKind, RuleTest, SafetyRule};
use drplan::observe::ActualState;
use drplan::plan::file::PlanFile;
use drplan::plan::{Intent, Plan};

use crate::support::runner;
use crate::support::snapshot;
use crate::support::workspace::Workspace;

const AWS: &str = "environments/aws.toml";

/// The weight of each region in the sim's `www` record, in the order held.
fn www(workspace: &Workspace) -> Vec<(String, u64)> {
    let world =
        fs::read_to_string(workspace.path().join(".drplan/sim/aws.json")).expect("the sim world");
    let world: Value = serde_json::from_str(&world).expect("JSON");
    world["records"]["www"]
        .as_array()
        .expect("the www record")
        .iter()
        .map(|set| {
            (
                set["region"].as_str().unwrap_or_default().to_string(),
                set["weight"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// The Aurora global database as `drplan sim show` prints it.
fn aurora(workspace: &Workspace) -> String {
    let show = workspace.run(&["sim", "show", AWS]).expect(0);
    show.stdout
        .lines()
        .skip_while(|line| *line != "aurora global databases")
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A workspace holding `environments/aws.toml` as `edit` leaves it, with its world.
fn workspace_with(edit: impl Fn(String) -> String) -> Workspace {
    let workspace = Workspace::new();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(AWS);
    let text = fs::read_to_string(source).expect("the environment");
    fs::create_dir_all(workspace.path().join("environments")).expect("a directory");
    fs::write(workspace.path().join(AWS), edit(text)).expect("the environment is written");
    workspace.run(&["sim", "init", AWS]).expect(0);
    workspace
}

/// `drplan apply environments/aws.toml --sim …` with no waiting, expecting `code`.
fn apply(workspace: &Workspace, args: &[&str], code: i32) -> runner::Run {
    let mut all = vec!["apply", AWS, "--sim", "--auto-approve", "--time-scale", "0"];
    all.extend_from_slice(args);
    workspace.run(&all).expect(code)
}

#[test]
fn the_aws_native_environment_fails_over_and_back_on_the_sim() {
    let workspace = workspace_with(|text| text);
    workspace
        .run(&["sim", "set", AWS, "--region", "us-east-1", "--down"])
        .expect(0);
    apply(&workspace, &["--scenario", "complete-outage"], 0);
    let east_off = vec![("us-east-1".to_string(), 0), ("us-west-2".to_string(), 100)];
    assert_eq!(www(&workspace), east_off);
    // The failover detached the cluster in us-west-2: no other cluster follows it.
    assert_eq!(
        aurora(&workspace),
        "database  omniops: writer us-west-2; members us-west-2; detached eu-west-1, us-east-1"
    );

    workspace
        .run(&["sim", "set", AWS, "--region", "us-east-1", "--up"])
        .expect(0);
    apply(&workspace, &["--failback"], 0);
    let home = vec![("us-east-1".to_string(), 100), ("us-west-2".to_string(), 0)];
    assert_eq!(www(&workspace), home);
    // The failback's resync made us-east-1 a secondary again, and the switchover home
    // left us-west-2 one.
    assert_eq!(
        aurora(&workspace),
        "database  omniops: writer us-east-1; members us-east-1, us-west-2; detached eu-west-1"
    );
}

#[test]
fn a_failback_to_a_detached_cluster_is_refused_on_the_sim_until_it_rejoins() {
    // Without `resync`, the failback only asks a person to make the new secondary.
    let workspace = workspace_with(|text| {
        text.lines()
            .filter(|line| !line.starts_with("resync = { command = [\"supabase\""))
            .collect::<Vec<_>>()
            .join("\n")
    });
    workspace
        .run(&["sim", "set", AWS, "--region", "us-east-1", "--down"])
        .expect(0);
    apply(&workspace, &["--scenario", "regional-failure"], 0);
    workspace
        .run(&["sim", "set", AWS, "--region", "us-east-1", "--up"])
        .expect(0);

    let failback = apply(&workspace, &["--failback"], 1);
    let said = format!("{}{}", failback.stdout, failback.stderr);
    assert!(
        said.contains("FAILED check:database-members")
            && said
                .contains("the cluster in us-east-1 is not a member of the global cluster omniops"),
        "{failback}"
    );
    // Refused before anything is fenced: us-west-2 keeps serving.
    assert!(!said.contains("start  deactivate:database"), "{failback}");

    // The person makes the new secondary (on the sim: --rejoin); the resume switches over.
    workspace
        .run(&[
            "sim",
            "set",
            AWS,
            "--service",
            "database",
            "--region",
            "us-east-1",
            "--rejoin",
        ])
        .expect(0);
    workspace
        .run(&[
            "apply",
            "--resume",
            AWS,
            "--sim",
            "--auto-approve",
            "--time-scale",
            "0",
        ])
        .expect(0);
    assert_eq!(
        aurora(&workspace),
        "database  omniops: writer us-east-1; members us-east-1, us-west-2; detached eu-west-1"
    );
}

/// The aws environment naming its ARC control panel.
fn with_control_panel(text: &str) -> String {
    text.replace(
        "[providers.arc]\n",
        "[providers.arc]\ncontrol_panel = \"arn:aws:route53-recovery-control::123456789012:controlpanel/omniops\"\n",
    )
}

#[test]
fn a_plan_that_would_break_an_arc_safety_rule_says_so_in_every_format() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(AWS);
    let text = with_control_panel(&fs::read_to_string(source).expect("the environment"));
    let env = drplan::model::parse(AWS, &text).expect("aws.toml with a control panel is valid");
    let control = |region: &str| {
        env.providers
            .arc
            .as_ref()
            .and_then(|arc| arc.routing_control(region))
            .expect("a routing control")
            .to_string()
    };
    let gate =
        "arn:aws:route53-recovery-control::123456789012:controlpanel/omniops/routingcontrol/gate";
    // A gating rule whose gate is off: no routing control may change.
    let mut actual = ActualState::nominal(&env);
    actual.safety_rules = Some(ArcSafety {
        rules: vec![SafetyRule {
            name: "change-freeze".to_string(),
            kind: RuleKind::Gating {
                gating: vec![gate.to_string()],
                targets: vec![control("us-east-1"), control("us-west-2")],
            },
            config: RuleConfig {
                test: RuleTest::Or,
                threshold: 0,
                inverted: false,
            },
        }],
        states: [
            (control("us-east-1"), true),
            (control("us-west-2"), false),
            (gate.to_string(), false),
        ]
        .into(),
    });
    let scenario = env.scenario("regional-failure").expect("the scenario");
    let plan = Plan::build(&env, Intent::Scenario(scenario), &actual);
    assert_eq!(plan.summary.safety_breaches.len(), 1, "{:?}", plan.summary);
    let loaded = LoadedEnvironment {
        path: AWS.into(),
        env,
        config_hash: String::new(),
        text,
    };
    let file = PlanFile::new(plan, &loaded, false, None, None);
    let summary = |format: PlanFormat| {
        let text = drplan::cli::render::plan(&loaded.env, &file, format);
        text.lines()
            .filter(|line| line.contains("safety") || line.contains("change-freeze"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    snapshot::assert(
        "arc",
        "safety-rule-breach",
        &format!(
            "text:\n{}\n\nmarkdown:\n{}\n\njson:\n{}\n",
            summary(PlanFormat::Text),
            summary(PlanFormat::Markdown),
            summary(PlanFormat::Json)
        ),
    );
}
