//! The drplan binary: parse the arguments, run, and turn an error into a report and
//! exit code 1.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = drplan::cli::Cli::parse();
    match drplan::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprint!(
                "{}",
                drplan::error::render(&error, std::io::stderr().is_terminal())
            );
            ExitCode::FAILURE
        }
    }
}
