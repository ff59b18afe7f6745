//! `drplan schema`: the JSON Schema of environment files, for editors (Taplo, Even
//! Better TOML): completion, descriptions on hover, errors while typing.

use std::process::ExitCode;

use crate::error::Error;

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {}

pub fn run(_args: &SchemaArgs) -> Result<ExitCode, Error> {
    let schema = crate::model::schema::json_schema();
    super::print(&(serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"))?;
    Ok(ExitCode::SUCCESS)
}
