//! The one way tests take snapshots: every snapshot lives under the top-level
//! `snapshots/<group>/`, is named by the test (no module prefix), and has the
//! volatile parts of the output — the drplan version, temporary directories —
//! replaced by placeholders.

use std::path::Path;

/// Asserts that `text` matches `snapshots/<group>/<name>.snap`.
pub fn assert(group: &str, name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("snapshots")
            .join(group),
    );
    settings.set_prepend_module_to_snapshot(false);
    settings.add_filter(
        r#""drplan_version": "[^"]*""#,
        r#""drplan_version": "[version]""#,
    );
    // tempfile names its directories `.tmpXXXXXX`, wherever the temporary directory is.
    settings.add_filter(r"[^\s`'\x22]*/\.tmp[0-9A-Za-z]{6}", "[tempdir]");
    settings.bind(|| insta::assert_snapshot!(name, text));
}
