//! Hostile and unlucky input through the binary: names that would leave drplan's
//! directories, durations past any sum, a line no diagnostic can show, a full disk
//! (under standard output, and under the state mid-apply), a time scale that never ends, files that never end, files drplan writes (private,
//! never through a link it did not make), and `--quiet`. Each ends as an error with its
//! code (exit 1, never a panic's 101) or does what it should.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use crate::support::runner::{self, Run};
use crate::support::workspace::Workspace;

const EXAMPLE: &str = "environments/example.toml";
/// Where [`Workspace::hostile`] writes its environment.
const HOSTILE: &str = "environments/hostile.toml";

/// Names that must never become (part of) a path: `..`, `/`, NUL, newline, 1,000
/// characters.
fn hostile_names() -> Vec<String> {
    vec![
        "..".to_string(),
        "../../../../some/where".to_string(),
        "a/b".to_string(),
        "nul\0here".to_string(),
        "two\nlines".to_string(),
        "x".repeat(1_000),
    ]
}

/// `name` as a TOML basic string on one line (usable as a key).
fn quoted(name: &str) -> String {
    let escaped: String = name
        .chars()
        .map(|c| match c {
            '"' | '\\' => format!("\\{c}"),
            c if c.is_control() => format!("\\u{:04X}", u32::from(c)),
            c => c.to_string(),
        })
        .collect();
    format!("\"{escaped}\"")
}

impl Workspace {
    /// A workspace holding the example with `edit` applied as [`HOSTILE`].
    fn hostile(edit: impl FnOnce(String) -> String) -> Self {
        let workspace = Self::new();
        let text = fs::read_to_string(workspace.path().join(EXAMPLE)).expect("the example");
        fs::write(workspace.path().join(HOSTILE), edit(text)).expect("the file is written");
        workspace
    }

    /// `drplan ARGS…` at sim time scale 0.
    fn drplan(&self, args: &[&str]) -> Run {
        runner::run(self.command(args).env("DRPLAN_TIME_SCALE", "0"))
    }

    /// Every file in the workspace but the environment files.
    fn written(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        collect(self.path(), &mut files);
        files.retain(|file| !file.starts_with(self.path().join("environments")));
        files
    }
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("a directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() && !path.is_symlink() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// Asserts that `run` was refused with `code`, and did not panic.
#[track_caller]
fn assert_refused(run: &Run, code: &str) {
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains(code), "expected {code}:\n{run}");
}

#[test]
fn a_scenario_named_to_leave_drplans_directories_is_refused_by_validate_drill_and_apply() {
    for name in hostile_names() {
        let workspace = Workspace::hostile(|text| {
            text.replace(
                "[scenarios.region-outage]",
                &format!("[scenarios.{}]", quoted(&name)),
            )
            .replace("\"region-outage\"", &quoted(&name))
        });
        let run = workspace.drplan(&["validate", HOSTILE]);
        assert_refused(&run, "drplan::config::invalid_value");
        assert!(
            run.message().contains("is not usable as a scenario name"),
            "{run}"
        );
        // An argument cannot hold a NUL: that name is tried through the file only.
        if !name.contains('\0') {
            let scenario = ["--scenario", name.as_str()];
            let drill = workspace.drplan(&[&["drill", HOSTILE][..], &scenario].concat());
            assert_refused(&drill, "drplan::config::invalid_value");
            let apply = [
                &["apply", HOSTILE, "--sim", "--auto-approve"][..],
                &scenario,
            ]
            .concat();
            assert_refused(&workspace.drplan(&apply), "drplan::config::invalid_value");
        }
        assert_eq!(workspace.written(), Vec::<PathBuf>::new(), "{name:?}");
    }
}

#[test]
fn an_environment_or_drill_named_to_leave_drplans_directories_is_refused() {
    let long = "e".repeat(300);
    for name in hostile_names().iter().chain([&long]) {
        let environment = Workspace::hostile(|text| {
            text.replace("name = \"example\"", &format!("name = {}", quoted(name)))
        });
        let run = environment.drplan(&["validate", HOSTILE]);
        assert_refused(&run, "drplan::config::invalid_value");
        assert!(
            run.message()
                .contains("is not usable as an environment name"),
            "{run}"
        );
        assert_refused(
            &environment.drplan(&["sim", "init", HOSTILE]),
            "drplan::config::invalid_value",
        );
        assert_eq!(environment.written(), Vec::<PathBuf>::new(), "{name:?}");

        let drill = Workspace::hostile(|text| {
            text.replace("[drills.monthly]", &format!("[drills.{}]", quoted(name)))
        });
        let run = drill.drplan(&["validate", HOSTILE]);
        assert_refused(&run, "drplan::config::invalid_value");
        assert!(
            run.message().contains("is not usable as a drill name"),
            "{run}"
        );
    }
}

#[test]
fn a_trigger_or_watcher_named_to_leave_drplans_directories_is_refused() {
    for name in hostile_names() {
        let trigger = Workspace::hostile(|text| {
            text.replace(
                "[triggers.region-down]",
                &format!("[triggers.{}]", quoted(&name)),
            )
        });
        let run = trigger.drplan(&["validate", HOSTILE]);
        assert_refused(&run, "drplan::config::invalid_value");
        assert!(
            run.message().contains("is not usable as a trigger name"),
            "{run}"
        );

        let watcher = Workspace::hostile(|text| {
            format!(
                "{text}\n[watch]\nwatchers = [{{ name = {}, region = \"eu-west-1\" }}]\n",
                quoted(&name)
            )
        });
        let run = watcher.drplan(&["validate", HOSTILE]);
        assert_refused(&run, "drplan::config::invalid_value");
        assert!(
            run.message().contains("is not usable as a watcher name"),
            "{run}"
        );
        assert_eq!(watcher.written(), Vec::<PathBuf>::new(), "{name:?}");
    }
}

#[test]
fn a_run_id_edited_in_the_state_names_a_report_inside_the_runs_directory() {
    let workspace = Workspace::new();
    workspace.drplan(&["sim", "init", EXAMPLE]).expect(0);
    let failover = [
        "apply",
        EXAMPLE,
        "--scenario",
        "region-outage",
        "--auto-approve",
    ];
    workspace.drplan(&failover).expect(0);
    let path = workspace.path().join(".drplan/state/example.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).expect("the state")).expect("JSON");
    state["run"]["id"] = "../../../escaped".into();
    state["run"]["status"] = "failed".into();
    fs::write(&path, state.to_string()).expect("the state is written");

    let run = workspace.drplan(&["apply", "--resume", EXAMPLE]).expect(0);
    let report = workspace
        .path()
        .join(".drplan/runs/%2E%2E%2F%2E%2E%2F%2E%2E%2Fescaped.md");
    assert!(report.exists(), "{run}");
    let runs = workspace.path().join(".drplan/runs");
    for file in workspace.written() {
        assert!(
            file.starts_with(&runs) || !file.to_string_lossy().contains("escaped"),
            "{}",
            file.display()
        );
    }
}

#[test]
fn a_duration_longer_than_a_year_is_a_validate_error_and_never_an_overflow() {
    let workspace = Workspace::hostile(|text| {
        text.replace("estimate = \"6m\"", "estimate = \"18446744073709551615s\"")
    });
    for args in [
        &["validate", HOSTILE][..],
        &["plan", HOSTILE, "--scenario", "region-outage", "--offline"],
        &["graph", HOSTILE, "--scenario", "region-outage"],
    ] {
        let run = workspace.drplan(args);
        assert_refused(&run, "drplan::config::bad_duration");
        assert!(run.message().contains("is longer than a year"), "{run}");
    }
}

#[test]
fn a_saved_plan_with_an_endless_estimate_is_not_a_plan() {
    let workspace = crate::apply::saved_plan();
    let path = workspace.path().join("plan.json");
    let mut saved: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).expect("the plan")).expect("JSON");
    for step in saved["plan"]["steps"].as_array_mut().expect("steps") {
        step["estimate"] = u64::MAX.into();
    }
    fs::write(&path, saved.to_string()).expect("the plan is written");

    let run = workspace.drplan(&["apply", "plan.json", "--auto-approve"]);
    assert_refused(&run, "drplan::plan::not_a_plan");
    assert!(run.message().contains("longer than a year"), "{run}");
}

#[test]
fn a_syntax_error_past_column_65535_is_shown_on_a_cut_line() {
    let workspace = Workspace::hostile(|text| {
        let long = format!("tags = [{} = ]", "\"x\", ".repeat(20_000));
        text.replace("rto = \"20m\"", &format!("rto = \"20m\"\n{long}"))
    });
    let run = workspace.drplan(&["validate", HOSTILE]);
    assert_refused(&run, "drplan::config::toml_syntax");
    assert!(run.stderr.contains("\"x\", \"x\",  = ]"), "{run}");
    assert!(run.stderr.contains('…'), "{run}");
    assert!(run.stderr.lines().all(|line| line.len() < 1_000), "{run}");
}

#[test]
fn apply_into_a_full_disk_ends_as_an_error_and_releases_the_lock() {
    let workspace = Workspace::new();
    workspace.drplan(&["sim", "init", EXAMPLE]).expect(0);
    let failover = [
        "apply",
        EXAMPLE,
        "--scenario",
        "region-outage",
        "--auto-approve",
    ];
    let run = runner::run_on_full_disk(workspace.command(&failover).env("DRPLAN_TIME_SCALE", "0"));
    assert_refused(&run, "drplan::io::stdout");
    assert!(!workspace.path().join(".drplan/state/example.lock").exists());
    workspace.drplan(&failover).expect(0);
}

/// In a private mount namespace: `.drplan/state` on a 256 KiB tmpfs, filled up once
/// the run's journal has its first line; then space is freed and the run resumed. The
/// outputs are left in the workspace (the tmpfs goes with the namespace).
const FULL_STATE_DISK: &str = r#"
mount -t tmpfs -o size=256k tmpfs .drplan/state || exit 90
"$DRPLAN" apply environments/example.toml --scenario region-outage --auto-approve \
    --time-scale 0.002 > apply.out 2> apply.err &
apply=$!
while [ ! -s .drplan/state/example.journal ]; do sleep 0.01; done
dd if=/dev/zero of=.drplan/state/filler bs=4k 2> /dev/null
wait $apply
echo $? > apply.code
ls .drplan/state > after-apply.ls
rm .drplan/state/filler
"$DRPLAN" apply --resume environments/example.toml --auto-approve --time-scale 0 \
    > resume.out 2> resume.err
echo $? > resume.code
"#;

#[test]
fn a_full_disk_under_the_state_stops_the_apply_as_disk_full_and_resume_finishes_it() {
    let workspace = Workspace::new();
    workspace.drplan(&["sim", "init", EXAMPLE]).expect(0);
    fs::create_dir_all(workspace.path().join(".drplan/state")).expect("the state directory");
    let status = std::process::Command::new("unshare")
        .args(["--map-root-user", "--mount", "sh", "-c", FULL_STATE_DISK])
        .current_dir(workspace.path())
        .env("DRPLAN", env!("CARGO_BIN_EXE_drplan"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .status()
        .expect("unshare runs");
    assert_eq!(
        status.code(),
        Some(0),
        "a tmpfs could not be mounted in a namespace"
    );
    let read = |name: &str| fs::read_to_string(workspace.path().join(name)).expect(name);
    let apply_err = read("apply.err").replace('\n', " ");

    assert_eq!(read("apply.code").trim(), "1", "{apply_err}");
    for expected in [
        "drplan::apply::journal_failed",
        "drplan::io::disk_full",
        "cannot write .drplan/state/example.journal: the disk is full",
        "run `drplan apply --resume FILE`",
    ] {
        assert!(apply_err.contains(expected), "{expected}: {apply_err}");
    }
    assert!(!apply_err.contains("someone else"), "{apply_err}");
    assert!(
        !read("after-apply.ls").contains("example.lock"),
        "the lock is released"
    );
    assert_eq!(read("resume.code").trim(), "0", "{}", read("resume.err"));
    assert!(read("resume.out").contains("apply complete"));
}

#[test]
fn a_time_scale_that_is_not_a_finite_number_up_to_1000_is_refused() {
    let workspace = Workspace::new();
    workspace.drplan(&["sim", "init", EXAMPLE]).expect(0);
    let failover = [
        "apply",
        EXAMPLE,
        "--scenario",
        "region-outage",
        "--auto-approve",
    ];
    for scale in ["1e300", "NaN", "-1", "inf", "1001"] {
        let run = runner::run(workspace.command(&failover).env("DRPLAN_TIME_SCALE", scale));
        assert_refused(&run, "drplan::cli::usage");
        let expected = format!("DRPLAN_TIME_SCALE={scale} is not between 0 and 1000");
        assert!(run.message().contains(&expected), "{run}");
    }
    let flag = [&failover[..], &["--time-scale", "1e300"]].concat();
    let run = workspace.drplan(&flag);
    assert!(
        run.message()
            .contains("--time-scale 1e300 is not between 0 and 1000"),
        "{run}"
    );
}

#[test]
fn files_that_never_end_are_refused_past_their_limit() {
    let workspace = Workspace::new();
    let run = workspace.drplan(&["apply", "/dev/zero", "--failback"]);
    assert_refused(&run, "drplan::io::too_large");
    assert!(
        run.message()
            .contains("larger than 16 MiB, the most drplan reads of an environment file"),
        "{run}"
    );

    symlink("/dev/zero", workspace.path().join("plan.json")).expect("a link");
    let run = workspace.drplan(&["apply", "plan.json"]);
    assert_refused(&run, "drplan::io::too_large");
    assert!(
        run.message()
            .contains("larger than 64 MiB, the most drplan reads of a plan"),
        "{run}"
    );
}

#[test]
fn every_file_drplan_writes_is_readable_by_its_owner_only() {
    let workspace = crate::apply::saved_plan();
    workspace
        .drplan(&["apply", "plan.json", "--auto-approve"])
        .expect(0);
    workspace.drplan(&["watch", EXAMPLE, "--once"]).expect(0);
    let written = workspace.written();
    assert!(
        written.len() >= 6,
        "plan, world, state, reports, watch history: {written:?}"
    );
    for file in written {
        let mode = fs::metadata(&file).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{} is {mode:o}", file.display());
    }
}

#[test]
fn plan_out_replaces_a_symbolic_link_instead_of_writing_through_it() {
    let workspace = Workspace::new();
    let victim = workspace.path().join("victim.txt");
    fs::write(&victim, "untouched").expect("the victim is written");
    let link = workspace.path().join("plan.json");
    symlink(&victim, &link).expect("a link");
    let plan = [
        "plan",
        EXAMPLE,
        "--scenario",
        "region-outage",
        "--offline",
        "--out",
        "plan.json",
    ];
    workspace.drplan(&plan).expect(0);
    assert_eq!(
        fs::read_to_string(&victim).expect("the victim"),
        "untouched"
    );
    assert!(!link.is_symlink(), "the link was written through");
    assert!(
        fs::read_to_string(&link)
            .expect("the plan")
            .contains("\"format_version\"")
    );
}

#[test]
fn quiet_apply_prints_the_outcome_and_not_the_plan() {
    let workspace = Workspace::new();
    workspace.drplan(&["sim", "init", EXAMPLE]).expect(0);
    let failover = [
        "apply",
        EXAMPLE,
        "--scenario",
        "region-outage",
        "--auto-approve",
        "--quiet",
    ];
    let run = workspace.drplan(&failover).expect(0);
    assert!(!run.stdout.contains("drplan plan for"), "{run}");
    assert!(run.stdout.contains("apply complete"), "{run}");
    assert_eq!(run.stderr, "", "{run}");
}
