//! `environments/aws.toml` — an Aurora global database and ARC routing controls — on
//! the sim: a failover and the failback move the writer and the traffic without an
//! account. (The ARC data plane itself, which moto lacks, is tested through the SDK's
//! replay client in `src/providers/arc.rs`; Aurora on moto in `tests/aurora.rs`.)

use std::fs;
use std::path::Path;

use serde_json::Value;

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

#[test]
fn the_aws_native_environment_fails_over_and_back_on_the_sim() {
    let workspace = Workspace::new();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(AWS);
    fs::copy(source, workspace.path().join(AWS)).expect("the environment is copied");
    workspace.run(&["sim", "init", AWS]).expect(0);
    let apply = |args: &[&str]| {
        let mut all = vec!["apply", AWS, "--sim", "--auto-approve", "--time-scale", "0"];
        all.extend_from_slice(args);
        workspace.run(&all).expect(0)
    };

    apply(&["--scenario", "complete-outage"]);
    let east_off = vec![("us-east-1".to_string(), 0), ("us-west-2".to_string(), 100)];
    assert_eq!(www(&workspace), east_off);

    apply(&["--failback"]);
    let home = vec![("us-east-1".to_string(), 100), ("us-west-2".to_string(), 0)];
    assert_eq!(www(&workspace), home);
}
