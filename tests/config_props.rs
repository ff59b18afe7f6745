//! Bad TOML never panics and never points outside the file. Random edits of the
//! reference environment — keys deleted, duplicated, renamed, or given a value of
//! another type; the text cut short or a character slipped in — either load, or are
//! refused with problems that each carry a label inside the text, and the refusal
//! renders.

use proptest::prelude::*;
use proptest::sample::Index;
use toml::{Table, Value};

const REFERENCE: &str = include_str!("../environments/production.toml");

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
}

impl Kind {
    fn sample(self) -> Value {
        match self {
            Self::String => Value::String("api".to_string()),
            Self::Integer => Value::Integer(1),
            Self::Boolean => Value::Boolean(true),
            Self::Array => Value::Array(vec![Value::String("api".to_string())]),
            Self::Table => Value::Table(Table::new()),
        }
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    let kind = prop_oneof![
        Just(Kind::String),
        Just(Kind::Integer),
        Just(Kind::Boolean),
        Just(Kind::Array),
        Just(Kind::Table)
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

/// Parsing `text` does not panic; when it refuses, every problem has a label and
/// every label lies on character boundaries inside `text`, and the report renders.
fn check(text: &str) -> Result<(), TestCaseError> {
    let Err(error) = drplan::model::parse("fuzz.toml", text) else {
        return Ok(());
    };
    let drplan::error::Error::InvalidConfig(invalid) = &error else {
        return Err(TestCaseError::fail(format!(
            "parse refused with something other than InvalidConfig: {error:?}"
        )));
    };
    let problems = &invalid.problems;
    prop_assert!(!problems.is_empty(), "InvalidConfig without problems");
    for problem in problems {
        prop_assert!(!problem.labels.is_empty(), "no label: {problem:?}");
        for (span, _) in &problem.labels {
            let inside = span.start <= span.end && span.end <= text.len();
            prop_assert!(
                inside && text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
                "{span:?} is outside the text ({} bytes): {problem:?}",
                text.len()
            );
        }
    }
    drplan::error::render(&error, false);
    Ok(())
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
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn edited_keys_are_diagnosed_without_panic(edits in prop::collection::vec((any::<Index>(), edit()), 1..4)) {
        let mut root = Value::Table(REFERENCE.parse::<Table>().expect("the reference is TOML"));
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
    fn truncated_text_is_diagnosed_without_panic(cut in any::<Index>()) {
        check(&REFERENCE[..boundary(REFERENCE, cut.index(REFERENCE.len() + 1))])?;
    }

    #[test]
    fn inserted_character_is_diagnosed_without_panic(at in any::<Index>(), c in character()) {
        let mut text = REFERENCE.to_string();
        text.insert(boundary(REFERENCE, at.index(REFERENCE.len() + 1)), c);
        check(&text)?;
    }
}
