//! Mermaid diagrams parsed by the real Mermaid library: node runs
//! `tests/support/mermaid.mjs` in the folder where `scripts/test` installed it
//! (`$DRPLAN_MERMAID`, `.mermaid/`).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The folder Mermaid is installed in; panics with how to install it when it is not.
fn installed() -> PathBuf {
    let dir = std::env::var_os("DRPLAN_MERMAID").map(PathBuf::from);
    match dir {
        Some(dir) if dir.join("node_modules/mermaid").is_dir() => dir,
        _ => panic!(
            "Mermaid is not installed: run the tests with scripts/test, which installs the \
             pinned mermaid and jsdom from npm into .mermaid/ (node and npm must be on PATH)"
        ),
    }
}

/// The diagrams among `diagrams` (name, text) that Mermaid refuses, with its message.
pub fn refused(diagrams: &[(String, String)]) -> Vec<String> {
    let input: Vec<serde_json::Value> = diagrams
        .iter()
        .map(|(name, text)| serde_json::json!({ "name": name, "text": text }))
        .collect();
    let mut child = Command::new("node")
        .current_dir(installed())
        .args(["--input-type=module", "--eval", include_str!("mermaid.mjs")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs (install Node.js)");
    let mut stdin = child.stdin.take().expect("node's stdin");
    stdin
        .write_all(serde_json::to_string(&input).expect("JSON").as_bytes())
        .expect("the diagrams are written to node");
    drop(stdin);
    let output = child.wait_with_output().expect("node finishes");
    assert!(
        output.status.success(),
        "the Mermaid parser failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The bodies of the fenced `mermaid` blocks of a markdown text.
pub fn blocks(markdown: &str) -> Vec<String> {
    markdown
        .split("```mermaid\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(body, _)| body.to_string()))
        .collect()
}
