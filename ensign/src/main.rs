//! The `ensign` command: validates flag files and evaluates flags.

mod cli;
mod eval;
mod validate;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let outcome = match cli.command {
        cli::Command::Validate(args) => validate::run(&args),
        cli::Command::Eval(args) => eval::run(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
