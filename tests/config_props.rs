//! Bad TOML never panics and never points outside the file. Random edits of every
//! environment under `environments/` — keys deleted, duplicated, renamed, or given a
//! value of another type (a duration longer than drplan accepts, a line too long for a
//! diagnostic to show); the text cut short or a character slipped in — either
//! load, and then every plan of them builds and renders, or are refused with problems
//! that each carry a label inside the text shown, and the refusal renders.
//!
//! Each property runs 256 cases; `PROPTEST_CASES=N` runs N (see BENCHMARKS.md).

use std::path::Path;
use std::sync::LazyLock;

use drplan::cli::PlanFormat;
use drplan::model::{Environment, LoadedEnvironment};
use drplan::plan::file::PlanFile;
use drplan::plan::{Intent, Plan, assumed_actual};
use proptest::prelude::*;
use proptest::sample::Index;
use toml::{Table, Value};

/// The text of every environment under `environments/`.
static ENVIRONMENTS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("environments");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("environments/ is readable")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| std::fs::read_to_string(path).expect("an environment is readable"))
        .collect()
});

/// One of the environments.
fn environment(index: Index) -> &'static str {
    &ENVIRONMENTS[index.index(ENVIRONMENTS.len())]
}

/// One edit of one key of the parsed reference.
#[derive(Debug, Clone)]
enum Edit {
    Delete,
    /// The same value again under another name.
    Duplicate(String),
    Rename(String),
    /// A value of this kind instead.
    Retype(Kind),
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    String,
    Integer,
    Boolean,
    Array,
    Table,
    /// A duration longer than any drplan accepts.
    LongDuration,
    /// An array on one line longer than a diagnostic can show, a name at its end.
    LongLine,
}

impl Kind {
    fn sample(self) -> Value {
        match self {
            Self::String => Value::String("api".to_string()),
            Self::Integer => Value::Integer(1),
            Self::Boolean => Value::Boolean(true),
            Self::Array => Value::Array(vec![Value::String("api".to_string())]),
            Self::Table => Value::Table(Table::new()),
            Self::LongDuration => Value::String("18446744073709551615s".to_string()),
            Self::LongLine => Value::Array(vec![
                Value::String("x".repeat(70_000)),
                Value::String("api".to_string()),
            ]),
        }
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    let kind = prop_oneof![
        Just(Kind::String),
        Just(Kind::Integer),
        Just(Kind::Boolean),
        Just(Kind::Array),
        Just(Kind::Table),
        Just(Kind::LongDuration),
        Just(Kind::LongLine)
    ];
    prop_oneof![
        Just(Edit::Delete),
        "[a-z_-]{1,12}".prop_map(Edit::Duplicate),
        "[a-z_-]{1,12}".prop_map(Edit::Rename),
        kind.prop_map(Edit::Retype),
    ]
}

/// A step from a value into one of its parts.
#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Item(usize),
}

/// The path of every key in `value`, tables inside arrays included.
fn key_paths(value: &Value, prefix: &[Segment], paths: &mut Vec<Vec<Segment>>) {
    let children: Vec<(Segment, &Value)> = match value {
        Value::Table(table) => table
            .iter()
            .map(|(key, value)| (Segment::Key(key.clone()), value))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, value)| (Segment::Item(i), value))
            .collect(),
        _ => return,
    };
    for (segment, child) in children {
        let path = [prefix, std::slice::from_ref(&segment)].concat();
        if matches!(segment, Segment::Key(_)) {
            paths.push(path.clone());
        }
        key_paths(child, &path, paths);
    }
}

/// Applies `edit` to the key at `path` (its last segment is the key).
fn apply(root: &mut Value, path: &[Segment], edit: &Edit) {
    let Some((Segment::Key(key), parents)) = path.split_last() else {
        panic!("a key path ends with a key")
    };
    let mut value = root;
    for segment in parents {
        let next = match segment {
            Segment::Key(key) => value.get_mut(key.as_str()),
            Segment::Item(i) => value.get_mut(*i),
        };
        value = next.expect("the path was collected from this value");
    }
    let table = value.as_table_mut().expect("a key's parent is a table");
    match edit {
        Edit::Delete => {
            table.remove(key);
        }
        Edit::Duplicate(name) => {
            let copy = table[key].clone();
            table.insert(name.clone(), copy);
        }
        Edit::Rename(name) => {
            let moved = table.remove(key).expect("the key exists");
            table.insert(name.clone(), moved);
        }
        Edit::Retype(kind) => {
            table.insert(key.clone(), kind.sample());
        }
    }
}

/// Parsing `text` does not panic; when it loads, every plan of it builds and renders;
/// when it is refused, every problem has a label and every label lies on character
/// boundaries inside the text the diagnostic shows, and the report renders.
fn check(text: &str) -> Result<(), TestCaseError> {
    let error = match drplan::model::parse("fuzz.toml", text) {
        Ok(env) => {
            plan_everything(env, text);
            return Ok(());
        }
        Err(error) => error,
    };
    let drplan::error::Error::InvalidConfig(invalid) = &error else {
        return Err(TestCaseError::fail(format!(
            "parse refused with something other than InvalidConfig: {error:?}"
        )));
    };
    let shown = invalid.source_code.inner();
    let problems = &invalid.problems;
    prop_assert!(!problems.is_empty(), "InvalidConfig without problems");
    for problem in problems {
        prop_assert!(!problem.labels.is_empty(), "no label: {problem:?}");
        for (span, _) in &problem.labels {
            let inside = span.start <= span.end && span.end <= shown.len();
            prop_assert!(
                inside && shown.is_char_boundary(span.start) && shown.is_char_boundary(span.end),
                "{span:?} is outside the text ({} bytes): {problem:?}",
                shown.len()
            );
        }
    }
    drplan::error::render(&error, false);
    Ok(())
}

/// Builds and renders, in every format, the offline plan of every scenario and of the
/// failback of `env`, loaded from `text`.
fn plan_everything(env: Environment, text: &str) {
    let loaded = LoadedEnvironment {
        path: "fuzz.toml".into(),
        env,
        config_hash: String::new(),
        text: text.to_string(),
    };
    let env = &loaded.env;
    let intents = env.scenarios.iter().map(Intent::Scenario);
    for intent in intents.chain([Intent::Failback]) {
        let plan = Plan::build(env, intent, &assumed_actual(env, intent));
        let file = PlanFile::new(plan, &loaded, false, None, None);
        for format in [PlanFormat::Text, PlanFormat::Markdown, PlanFormat::Json] {
            drplan::cli::render::plan(env, &file, format);
        }
    }
}

/// The largest character boundary of `text` at or before `at`.
fn boundary(text: &str, at: usize) -> usize {
    (0..=at)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// Characters that matter to TOML, and any character at all.
fn character() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            '"', '\'', '[', ']', '{', '}', '=', ',', '.', '#', '\n', '\\'
        ]),
        any::<char>()
    ]
}

proptest! {
    #[test]
    fn edited_keys_are_diagnosed_without_panic(file in any::<Index>(), edits in prop::collection::vec((any::<Index>(), edit()), 1..4)) {
        let mut root = Value::Table(environment(file).parse::<Table>().expect("an environment is TOML"));
        for (index, edit) in &edits {
            let mut paths = Vec::new();
            key_paths(&root, &[], &mut paths);
            if paths.is_empty() {
                break;
            }
            apply(&mut root, &paths[index.index(paths.len())], edit);
        }
        let text = toml::to_string(&root).expect("an edited table serializes");
        check(&text)?;
    }

    #[test]
    fn truncated_text_is_diagnosed_without_panic(file in any::<Index>(), cut in any::<Index>()) {
        let text = environment(file);
        check(&text[..boundary(text, cut.index(text.len() + 1))])?;
    }

    #[test]
    fn inserted_character_is_diagnosed_without_panic(file in any::<Index>(), at in any::<Index>(), c in character()) {
        let original = environment(file);
        let mut text = original.to_string();
        text.insert(boundary(original, at.index(original.len() + 1)), c);
        check(&text)?;
    }
}
