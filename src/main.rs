//! The drplan binary: parse the arguments, run, and turn an error into a report and
//! exit code 1.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Printing into a closed pipe (`drplan plan … | head`) ends the process quietly,
    // as it does for every Unix tool, instead of panicking.
    // SAFETY: restoring the default disposition of a signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = drplan::cli::Cli::parse();
    match drplan::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            drplan::cli::eprint(&drplan::error::render(&error, drplan::cli::colour()));
            ExitCode::FAILURE
        }
    }
}
