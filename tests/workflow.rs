//! drplan in the team's workflow: a saved plan says where it went and is shown again
//! exactly as planned, with a verdict on whether it is still current.

use std::fmt::Write;
use std::fs;
use std::path::Path;

use crate::apply::saved_plan;
use crate::support::{mermaid, snapshot};

const EXAMPLE: &str = "environments/example.toml";

#[test]
fn saving_a_plan_says_where_it_went_and_how_to_run_it() {
    let workspace = saved_plan();
    let run = workspace
        .run(&[
            "plan",
            EXAMPLE,
            "--scenario",
            "region-outage",
            "--out",
            "again.json",
        ])
        .expect(0);
    snapshot::assert("workflow", "plan-out", &run.stdout);
    let run = workspace
        .run(&[
            "plan",
            EXAMPLE,
            "--scenario",
            "region-outage",
            "--offline",
            "--format",
            "markdown",
            "--out",
            "plan.md",
        ])
        .expect(0);
    snapshot::assert("workflow", "plan-out-markdown", &run.stdout);
}

#[test]
fn show_renders_a_saved_plan_as_plan_did_in_every_format() {
    let workspace = saved_plan();
    for format in ["text", "markdown", "json"] {
        let planned = workspace
            .run(&[
                "plan",
                EXAMPLE,
                "--scenario",
                "region-outage",
                "--format",
                format,
            ])
            .expect(0);
        let shown = workspace
            .run(&["show", "plan.json", "--format", format])
            .expect(0);
        assert_eq!(shown.stdout, planned.stdout, "{format}");
        assert!(
            shown.stderr.contains("the plan is current"),
            "{}",
            shown.stderr
        );
    }
}

#[test]
fn show_says_when_a_saved_plan_is_stale() {
    let workspace = saved_plan();
    let file = workspace.path().join(EXAMPLE);
    let text = fs::read_to_string(&file).expect("readable");
    fs::write(&file, text.replace("rto = \"20m\"", "rto = \"25m\"")).expect("writable");
    let run = workspace.run(&["show", "plan.json"]).expect(0);
    snapshot::assert("workflow", "show-stale", &run.stderr);
}

/// An environment of `services` services over 5 tiers (each depending on one of the
/// tier before), one DNS record per 10 services and a data set per 50, with a failover.
fn generated_environment(services: usize) -> String {
    let mut out = String::from(
        "[environment]\nname = \"big\"\nhome = \"region-a\"\nrto = \"30m\"\n\n\
         [regions.region-a]\nrole = \"primary\"\n\n\
         [regions.region-b]\nrole = \"secondary\"\nstandby = \"warm\"\n\n",
    );
    let per_tier = services.div_ceil(5);
    for i in 0..services {
        let depends_on = if i < per_tier {
            String::new()
        } else {
            format!("\"svc-{:05}\"", i - per_tier)
        };
        let _ = write!(
            out,
            "[services.svc-{i:05}]\ntier = {}\ndepends_on = [{depends_on}]\nregions = [\"region-a\", \"region-b\"]\n\
             activate = [\"deploy\", \"{{service}}\", \"--region\", \"{{region}}\"]\n\n",
            1 + i / per_tier
        );
    }
    for i in (0..services).step_by(10) {
        let _ = write!(
            out,
            "[dns.rec-{i:05}]\nzone = \"big.example\"\nname = \"rec-{i:05}.big.example\"\ntype = \"CNAME\"\n\
             follows = \"svc-{i:05}\"\ntargets = {{ region-a = \"a.big.example\", region-b = \"b.big.example\" }}\n\n"
        );
    }
    for i in (0..services).step_by(50) {
        let _ = write!(
            out,
            "[data.data-{i:05}]\nservice = \"svc-{i:05}\"\nrpo = \"1h\"\nmethod = \"restore\"\nbackups = \"s3://big-backups/{i}/\"\n\n"
        );
    }
    out.push_str(
        "[scenarios.region-outage]\nseverity = \"SEV-1\"\nstrategy = \"failover\"\nto = \"region-b\"\n\n\
         [[checks]]\nname = \"site answers\"\nurl = \"https://big.example/health\"\n",
    );
    out
}

#[test]
fn the_markdown_plan_of_10000_services_fits_in_one_comment_and_says_what_it_left_out() {
    let workspace = saved_plan();
    fs::write(
        workspace.path().join("big.toml"),
        generated_environment(10_000),
    )
    .expect("the environment is written");
    let scenario = [
        "plan",
        "big.toml",
        "--scenario",
        "region-outage",
        "--offline",
        "--format",
        "markdown",
    ];
    let all = ["plan", "big.toml", "--all", "--offline"];
    let mut documents = Vec::new();
    for args in [&scenario[..], &all] {
        let markdown = workspace.run(args).expect(0).stdout;
        let length = markdown.chars().count();
        assert!(length < 65_536, "{}: {length} characters", args.join(" "));
        assert!(
            markdown.contains("Shortened to fit one pull-request comment: left out"),
            "{}",
            args.join(" ")
        );
        assert!(
            markdown.contains("--out plan.json`, then `drplan show plan.json --format markdown`"),
            "{}",
            args.join(" ")
        );
        documents.push(markdown);
    }
    assert!(documents[1].contains("--failback --out plan.json"));
    snapshot::assert(
        "workflow",
        "big-plan-summary",
        documents[0]
            .split("\n> offline plan")
            .next()
            .unwrap_or_default(),
    );
}

/// The files under `dir` (relative to the crate root), recursively, sorted.
fn files_under(dir: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("the directory is readable") {
            let path = entry.expect("the directory is readable").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Every Mermaid diagram drplan emits, as its snapshots and committed plans hold them:
/// the fenced `mermaid` blocks of plans and reports, and the output of
/// `graph --format mermaid` (snapshots named `*.mermaid.snap`).
fn emitted_diagrams() -> Vec<(String, String)> {
    let mut diagrams = Vec::new();
    let files = [files_under("snapshots"), files_under("plans")].concat();
    for path in files {
        let text = fs::read_to_string(&path).expect("readable");
        let name = path.display().to_string();
        let body = match text
            .strip_prefix("---\n")
            .and_then(|t| t.split_once("\n---\n"))
        {
            Some((_, body)) => body.to_string(),
            None => text,
        };
        if name.ends_with(".mermaid.snap") {
            diagrams.push((name, body));
        } else {
            diagrams.extend(
                mermaid::blocks(&body)
                    .into_iter()
                    .map(|b| (name.clone(), b)),
            );
        }
    }
    diagrams
}

#[test]
fn every_mermaid_diagram_drplan_emits_parses_with_mermaid() {
    let diagrams = emitted_diagrams();
    assert!(
        diagrams.len() > 40,
        "only {} diagrams found",
        diagrams.len()
    );
    let refused = mermaid::refused(&diagrams);
    assert!(refused.is_empty(), "{}", refused.join("\n"));

    let broken = [(
        "broken".to_string(),
        "flowchart TD\n  n0[\"a\" --> n1\n".to_string(),
    )];
    assert_eq!(
        mermaid::refused(&broken).len(),
        1,
        "a broken diagram parses"
    );
}

/// `check-jsonschema` as `scripts/test` installed it.
fn check_jsonschema() -> std::process::Command {
    let path = std::env::var_os("DRPLAN_CHECK_JSONSCHEMA")
        .filter(|path| Path::new(path).is_file())
        .unwrap_or_else(|| {
            panic!(
                "check-jsonschema is not installed: run the tests with scripts/test, which \
                 installs it from PyPI into .check-jsonschema/"
            )
        });
    std::process::Command::new(path)
}

#[test]
fn schema_is_printed_and_every_environment_validates_against_it() {
    let workspace = saved_plan();
    let schema = workspace.run(&["schema"]).expect(0).stdout;
    snapshot::assert("workflow", "schema", &schema);
    let schema_file = workspace.path().join("schema.json");
    fs::write(&schema_file, &schema).expect("the schema is written");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<std::path::PathBuf> = files_under("environments");
    files.push(root.join("tests/fixtures/kitchen-sink.toml"));
    files.push(root.join("tests/fixtures/kitchen-sink-outside-aws.toml"));
    files.push(root.join("tests/fixtures/kitchen-sink-arc.toml"));
    let output = check_jsonschema()
        .arg("--schemafile")
        .arg(&schema_file)
        .args(&files)
        .output()
        .expect("check-jsonschema runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    let broken = workspace.path().join("broken.toml");
    fs::write(
        &broken,
        "[environment]\nname = \"x\"\nhome = \"a\"\nrto = 5\n\n[services.a]\ntierr = 1\n",
    )
    .expect("written");
    let output = check_jsonschema()
        .arg("--schemafile")
        .arg(&schema_file)
        .arg(&broken)
        .output()
        .expect("check-jsonschema runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{report}");
    assert!(report.contains("'tierr' was unexpected"), "{report}");
    assert!(report.contains("5 is not of type 'string'"), "{report}");
}

#[test]
fn completions_of_every_shell_and_the_man_page() {
    let workspace = saved_plan();
    for shell in ["bash", "zsh", "fish"] {
        let script = workspace.run(&["completions", shell]).expect(0).stdout;
        snapshot::assert("workflow", &format!("completions.{shell}"), &script);
    }
    let script = workspace.path().join("drplan.bash");
    fs::write(
        &script,
        workspace.run(&["completions", "bash"]).expect(0).stdout,
    )
    .expect("written");
    let completed = std::process::Command::new("bash")
        .arg("-c")
        .arg(
            "source \"$1\"; COMP_WORDS=(drplan pl); COMP_CWORD=1; _drplan drplan pl drplan; \
             printf '%s\\n' \"${COMPREPLY[@]}\"",
        )
        .arg("bash")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert_eq!(
        String::from_utf8_lossy(&completed.stdout),
        "plan\n",
        "{}",
        String::from_utf8_lossy(&completed.stderr)
    );

    let page = workspace.run(&["man"]).expect(0).stdout;
    assert!(page.contains(".TH drplan 1"), "{page}");
    snapshot::assert("workflow", "man", &page);
}

#[test]
fn verify_prints_json_for_machines() {
    let workspace = saved_plan();
    let mut command = workspace.command(&["verify", EXAMPLE, "--format", "json"]);
    command.env("DRPLAN_TIME_SCALE", "0");
    let run = crate::support::runner::run(&mut command).expect(0);
    let verdict: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(verdict["passed"], true, "{}", run.stdout);
    snapshot::assert_live("workflow", "verify-json", &run.stdout);
}

#[test]
fn diagnostics_are_coloured_only_when_asked_and_never_with_no_color() {
    let fixture = "tests/fixtures/invalid/unknown_service-follows.toml";
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |colour: &[(&str, &str)]| {
        let mut command = crate::support::runner::command(root, &["validate", fixture]);
        command.env_remove("NO_COLOR");
        for (name, value) in colour {
            command.env(name, value);
        }
        crate::support::runner::run(&mut command).expect(1).stderr
    };
    let plain = run(&[]);
    assert!(
        !plain.contains('\u{1b}'),
        "not a terminal, yet coloured:\n{plain}"
    );
    let forced = run(&[("CLICOLOR_FORCE", "1")]);
    assert!(
        forced.contains("\u{1b}["),
        "CLICOLOR_FORCE, yet not coloured:\n{forced}"
    );
    let refused = run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert_eq!(refused, plain, "NO_COLOR, yet coloured");
    snapshot::assert("workflow", "diagnostic-plain", &plain);
    snapshot::assert("workflow", "diagnostic-colour", &forced);
}

#[test]
fn the_ci_script_checks_plans_drills_every_scenario_and_writes_one_comment() {
    let workspace = saved_plan();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plans = workspace.path().join("plans/example");
    fs::create_dir_all(&plans).expect("plans/example is created");
    for name in ["bad-migration.md", "failback.md", "region-outage.md"] {
        let text = fs::read_to_string(root.join("plans/example").join(name)).expect("committed");
        fs::write(plans.join(name), text).expect("copied");
    }
    let stale = plans.join("failback.md");
    let text = fs::read_to_string(&stale).expect("copied");
    fs::write(&stale, text.replacen("eu-west-1", "us-east-1", 1)).expect("written");

    let output = std::process::Command::new(root.join("examples/ci/drplan-ci.sh"))
        .arg(EXAMPLE)
        .current_dir(workspace.path())
        .env("DRPLAN", env!("CARGO_BIN_EXE_drplan"))
        .env("DRPLAN_TIME_SCALE", "0")
        .env("NO_COLOR", "1")
        .env_remove("DRPLAN_CI_POST")
        .env_remove("DRPLAN_CI_BASE")
        .output()
        .expect("the CI script runs");
    assert_eq!(
        output.status.code(),
        Some(1),
        "a stale plan fails the check"
    );
    let comment =
        fs::read_to_string(workspace.path().join("drplan-ci.md")).expect("the comment is written");
    assert!(
        comment.contains("| `environments/example.toml` | **out of date**"),
        "{comment}"
    );
    assert!(
        comment.contains("| `bad-migration` | passed |"),
        "{comment}"
    );
    assert!(
        comment.contains("| `region-outage` | passed |"),
        "{comment}"
    );
    assert!(
        comment.contains("-# failback eu-central-1 → us-east-1"),
        "{comment}"
    );
    let head = comment.split("<details>").next().unwrap_or_default();
    snapshot::assert_live("workflow", "ci-comment", head);
}
