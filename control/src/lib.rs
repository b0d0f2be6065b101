//! Allegro's control plane: the command line, standalone runs, results and reports.
//!
//! `main` only parses options and calls [`main_with_args`]; tests call the same functions.

pub mod cli;
pub mod note;
pub mod output;
pub mod results;
pub mod run;

use std::ffi::OsString;

/// Exit status: the run completed.
pub const EXIT_OK: i32 = 0;
/// Exit status: the run failed (a connection failed, the broker vanished).
pub const EXIT_FAILED: i32 = 1;
/// Exit status: bad input (options, URL).
pub const EXIT_USAGE: i32 = 2;
/// Exit status: interrupted (Ctrl-C).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Runs the command line `args` (program name first) and returns the exit status.
pub fn main_with_args<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let cli = match cli::parse(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match cli.command {
        cli::Command::Run(args) => match run::RunConfig::from_args(args) {
            Ok(cfg) => run::run(&cfg),
            Err(e) => {
                eprintln!("allegro: {e}");
                EXIT_USAGE
            }
        },
    }
}
