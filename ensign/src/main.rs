//! The `ensign` command: validates flag files, evaluates flags, and serves
//! them.

mod cli;
mod eval;
mod serve;
mod validate;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let outcome = match cli.command {
        cli::Command::Validate(args) => validate::run(&args),
        cli::Command::Eval(args) => eval::run(&args),
        cli::Command::Serve(args) => serve::run(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
