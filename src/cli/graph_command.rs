//! `drplan graph FILE [--scenario S | --failback]`: the step graph of a plan, or the
//! service graph without one.

use std::process::ExitCode;

use clap::ValueEnum;

use super::render::graph as render;
use super::{EnvironmentFile, Target};
use crate::error::Error;
use crate::plan::{Plan, assumed_actual};

/// Output formats of a graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
    Svg,
}

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub env: EnvironmentFile,
    #[command(flatten)]
    pub target: Target,
    /// How to print the graph: text, dot (Graphviz), mermaid (renders in GitHub markdown) or svg (a picture).
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,
}

pub fn run(args: &GraphArgs) -> Result<ExitCode, Error> {
    let loaded = crate::model::load(&args.env.file)?;
    let env = &loaded.env;
    let output = match super::intent(env, &args.target)? {
        None => render::services(env, args.format),
        Some(intent) => render::steps(
            &Plan::build(env, intent, &assumed_actual(env, intent)).steps,
            args.format,
        ),
    };
    super::print(&output)?;
    Ok(ExitCode::SUCCESS)
}
