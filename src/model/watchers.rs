//! `[watch]`: the watchers that judge the triggers together, where each runs, how many
//! must agree (`quorum`, default a majority) and how old an observation may be to
//! count (`freshness`, default two of the trigger's intervals). Names are unique,
//! regions declared, and the quorum between 1 and the number of watchers.

use std::collections::HashSet;
use std::time::Duration;

use super::decode::identifier;
use super::{Environment, Located, Trigger};
use crate::config::tree::{Fields, Node};
use crate::error::{Error, Problem, ProblemKind, Span};
use crate::problems::Problems;

/// The declared watchers and their agreement rule.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchQuorum {
    pub watchers: Vec<WatcherSite>,
    /// How many watchers must agree; `None`: a majority.
    pub quorum: Option<Located<u32>>,
    pub freshness: Option<Duration>,
    /// The `[watch]` table.
    pub span: Span,
}

/// One watcher: its name (`drplan watch --as NAME`) and the region it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherSite {
    pub name: Located<String>,
    pub region: Located<String>,
}

impl WatchQuorum {
    /// How many watchers must agree before a trigger fires.
    pub fn needed(&self) -> usize {
        self.quorum
            .as_ref()
            .map_or(self.watchers.len() / 2 + 1, |q| {
                usize::try_from(q.value).unwrap_or(usize::MAX)
            })
    }

    /// How old an observation of `trigger` may be and still count.
    pub fn freshness(&self, trigger: &Trigger) -> Duration {
        self.freshness.unwrap_or(trigger.interval * 2)
    }

    pub fn watcher(&self, name: &str) -> Option<&WatcherSite> {
        self.watchers.iter().find(|w| w.name.value == name)
    }
}

/// Decodes the `[watch]` table.
pub fn decode(f: &mut Fields<'_, '_>, p: &mut Problems) -> Option<WatchQuorum> {
    let watchers = f.req("watchers", Node::array, p);
    let quorum = f.opt("quorum", Node::unsigned::<u32>, p);
    let freshness = f.opt("freshness", Node::duration, p).map(|d| d.value);
    let span = f.span();
    f.finish(p);
    let watchers = watchers?
        .into_iter()
        .enumerate()
        .filter_map(|(index, node)| watcher_site(index, &node, p))
        .collect();
    Some(WatchQuorum {
        watchers,
        quorum,
        freshness,
        span,
    })
}

fn watcher_site(index: usize, node: &Node<'_, '_>, p: &mut Problems) -> Option<WatcherSite> {
    let mut f = p.ok(node.table(format!("watcher {} of [watch]", index + 1)))?;
    let name = f.req("name", |n| identifier(n, "a watcher name"), p);
    let region = f.req("region", Node::string, p);
    f.finish(p);
    Some(WatcherSite {
        name: name?,
        region: region?,
    })
}

/// Records every problem of `[watch]`: a name given twice, an unknown region, a
/// quorum no set of watchers can reach (or zero).
pub fn check(
    env: &Environment,
    region_ref: impl Fn(&Located<String>, &str, &mut Problems) -> bool,
    p: &mut Problems,
) {
    let Some(watch) = &env.watch else { return };
    let mut seen = HashSet::new();
    for watcher in &watch.watchers {
        if !seen.insert(watcher.name.value.as_str()) {
            p.push(
                Problem::new(
                    ProblemKind::DuplicateName,
                    format!("watcher `{}` is declared twice", watcher.name.value),
                    watcher.name.span.clone(),
                    "declared again here",
                )
                .help("give every watcher its own name: it publishes its observations under it"),
            );
        }
        region_ref(&watcher.region, "`watchers` of [watch]", p);
    }
    let count = watch.watchers.len();
    match &watch.quorum {
        Some(quorum) if quorum.value == 0 || quorum.value as usize > count => p.push(
            Problem::new(
                ProblemKind::InvalidValue,
                format!(
                    "a quorum of {} cannot be met by {count} watcher(s)",
                    quorum.value
                ),
                quorum.span.clone(),
                format!("expected 1 to {count}"),
            )
            .help(format!(
                "set quorum between 1 and {count}, or leave it out for a majority"
            )),
        ),
        None if count == 0 => p.push(
            Problem::new(
                ProblemKind::InvalidValue,
                "[watch] declares no watchers",
                watch.span.clone(),
                "in this table",
            )
            .help("add watchers = [{ name = \"east\", region = \"us-east-1\" }, …]"),
        ),
        _ => {}
    }
}

/// The watcher `name` of `env`'s `[watch]`; an error suggesting the closest name when
/// there is none.
pub fn site<'e>(env: &'e Environment, name: &str) -> Result<&'e WatcherSite, Error> {
    let Some(watch) = &env.watch else {
        return Err(Error::Usage {
            message: format!("environment {} declares no [watch] watchers", env.name),
            help: "declare them: [watch] watchers = [{ name = \"east\", region = \"…\" }, …]"
                .to_string(),
        });
    };
    watch.watcher(name).ok_or_else(|| {
        let names = watch.watchers.iter().map(|w| w.name.value.as_str());
        let help = match crate::suggest::did_you_mean(name, names.clone()) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!(
                "[watch] declares {}",
                names
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Error::Usage {
            message: format!("[watch] of {} declares no watcher `{name}`", env.name),
            help,
        }
    })
}
