//! The one way tests take snapshots: every snapshot lives under the top-level
//! `snapshots/<group>/`, is named by the test (no module prefix), and has what changes
//! from run to run replaced by placeholders: in any output, the drplan version and
//! temporary directories ([`FIXED`]); in the output of a run on a world (the sim or
//! moto), also times, run ids, ages and durations ([`LIVE`]). Fixed output, such as a
//! help text's example time, stays as it is.

use std::path::Path;

/// Pattern and placeholder of what changes from run to run in any output.
const FIXED: [(&str, &str); 2] = [
    (
        r#""drplan_version": "[^"]*""#,
        r#""drplan_version": "[version]""#,
    ),
    // tempfile names its directories `.tmpXXXXXX`, wherever the temporary directory is.
    (r"[^\s`'\x22]*/\.tmp[0-9A-Za-z]{6}", "[tempdir]"),
];

/// Pattern and placeholder of what else changes from run to run in the output of a
/// run on a world, applied in order: where two are alike, the narrower comes first.
const LIVE: [(&str, &str); 16] = [
    // moto and the loopback servers listen on free ports.
    (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
    // Run ids, `20261129T150102Z-region-outage-1a2b3c`: quoted in a drill report's
    // table of runs, bare in a run report and the status.
    (r"`\d{8}T\d{6}Z-([a-z-]+)-[0-9a-f]{6}`", "`[run $1]`"),
    (r"\d{8}T\d{6}Z-([a-z0-9-]+)-[0-9a-f]{6}", "[run-id:$1]"),
    // Sim backups are named after the time the world was initialised; drill
    // directories after the time the drill started.
    (r"\d{8}T\d{6}Z\.dump", "[timestamp].dump"),
    (r"\d{8}T\d{6}Z", "[stamp]"),
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[time]"),
    (
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[uuid]",
    ),
    (r"serial \d+", "serial [n]"),
    // Ages of backups: `5m old`, `5m 2s old`, `is 5m 2s old`.
    (r"\b(\d+[a-z]+ )*\d+[a-z]+ old\b", "[age] old"),
    // Measured times: a drill report's simulated and wall times (in its table of runs,
    // `12m 3s | 0.9s`, and in prose, `12m 3s simulated (0.9s wall)`), then a run
    // report's durations, `| 0.4s |`.
    (
        r"\| (\d+(days?|h|m|s) ?)+ \| \d+\.\d+s \|",
        "| [simulated] | [wall] |",
    ),
    (r"\d+\.\d+s wall\b", "[wall] wall"),
    (r"\| \d+\.\ds \|", "| [duration] |"),
    (r"(\d+(days?|h|m|s) ?)+ simulated", "[simulated] simulated"),
    // The measured time only: the verdict stays, so a missed RTO changes the snapshot.
    // The measured time only: the verdict stays, so a missed RTO changes a snapshot.
    (
        r"\| [0-9a-z ]+ against the RTO target (\S+): (met|NOT met)",
        "| [measured] against the RTO target $1: $2",
    ),
    // The actual bars of a timeline: `activate api :a8, 233, 235`.
    (r"(:a\d+), \d+, \d+", "$1, [start], [end]"),
    // The drill calendar: `due in 6d 23h 59m`.
    (r"due in (\d+[dhm] ?)+", "due in [duration]"),
];

/// Asserts that `text`, fixed output, matches `snapshots/<group>/<name>.snap`.
pub fn assert(group: &str, name: &str, text: &str) {
    assert_filtered(group, name, text, &FIXED);
}

/// Asserts that `text`, the output of a run on a world, matches
/// `snapshots/<group>/<name>.snap`.
pub fn assert_live(group: &str, name: &str, text: &str) {
    assert_filtered(group, name, text, &[FIXED.as_slice(), &LIVE].concat());
}

fn assert_filtered(group: &str, name: &str, text: &str, filters: &[(&str, &str)]) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("snapshots")
            .join(group),
    );
    settings.set_prepend_module_to_snapshot(false);
    for (pattern, placeholder) in filters {
        settings.add_filter(pattern, *placeholder);
    }
    settings.bind(|| insta::assert_snapshot!(name, text));
}
