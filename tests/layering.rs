//! The layering written in `src/lib.rs`'s header holds: no module of `src/` imports a
//! module listed after it (ground modules serve all and use only each other).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers of `src/lib.rs`'s header: module → rank (0 for ground modules).
fn layers(header: &str) -> BTreeMap<String, usize> {
    let mut ranks = BTreeMap::new();
    let mut rank = 0;
    let mut ground = false;
    for line in header.lines().filter_map(|l| l.strip_prefix("//!")) {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("- ") {
            ground = rest.starts_with("ground");
            if !ground {
                rank += 1;
            }
            let names = if ground {
                rest
            } else {
                rest.split(':').next().unwrap_or("")
            };
            add_names(names, if ground { 0 } else { rank }, &mut ranks);
        } else if ground {
            add_names(line, 0, &mut ranks);
        }
    }
    ranks
}

fn add_names(text: &str, rank: usize, ranks: &mut BTreeMap<String, usize>) {
    for name in text.split('`').skip(1).step_by(2) {
        ranks.insert(name.to_string(), rank);
    }
}

/// The modules `text` names as `crate::NAME`.
fn imports(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if rest.starts_with('{') {
            let group = &rest[1..rest.find('}').unwrap_or(rest.len())];
            for item in group.split(',') {
                found.push(module_name(item.trim()));
            }
        } else {
            found.push(module_name(rest));
        }
    }
    found.retain(|name| !name.is_empty());
    found
}

fn module_name(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_module_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let ranks = layers(&lib);
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    for module in &declared {
        assert!(
            ranks.contains_key(*module),
            "src/lib.rs declares `{module}` but its header does not place it in a layer"
        );
    }
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs");
        let Some(&rank) = ranks.get(module) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        // Unit tests may set up whatever they need.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for used in imports(code) {
            let used_rank = ranks.get(&used).copied().unwrap_or(0);
            let allowed = if rank == 0 {
                used_rank == 0
            } else {
                used_rank <= rank
            };
            if !allowed {
                violations.push(format!("src/{} uses `{used}`", relative.display()));
            }
        }
    }
    violations.dedup();
    assert!(
        violations.is_empty(),
        "lower modules import higher ones (see the layers in src/lib.rs):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_header_is_read_as_layers() {
    let ranks = layers(
        "//! - ground, for every module: `error`,\n//!   `fsio`\n//! - `config`: x\n//! - `model`: uses `config`",
    );
    assert_eq!(ranks["error"], 0);
    assert_eq!(ranks["fsio"], 0);
    assert_eq!(ranks["config"], 1);
    assert_eq!(ranks["model"], 2);
    assert_eq!(
        imports("use crate::{a::B, c};\ncrate::d::e()"),
        ["a", "c", "d"]
    );
}
