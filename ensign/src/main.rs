//! The `ensign` command: validates flag files, evaluates flags, serves
//! them, and manages the store.

mod admin;
mod banner;
mod cli;
mod config;
mod eval;
mod serve;
mod store_node;
mod validate;

use std::process::ExitCode;

use clap::FromArgMatches;

fn main() -> ExitCode {
    let matches = cli::command().get_matches();
    let cli = match cli::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let outcome = match cli.command {
        cli::Command::Validate(args) => validate::run(&args),
        cli::Command::Eval(args) => eval::run(&args),
        cli::Command::Serve(args) => {
            // Which options the user set, so a config file fills only the rest.
            let given = |id: &str| {
                matches.subcommand_matches("serve").is_some_and(|m| {
                    !matches!(
                        m.value_source(id),
                        None | Some(clap::parser::ValueSource::DefaultValue)
                    )
                })
            };
            config::load(*args, given).and_then(|settings| serve::run(&settings))
        }
        cli::Command::Migrate(args) => admin::migrate(&args),
        cli::Command::Token(cli::TokenCommand::Create(args)) => admin::create_token(&args),
        cli::Command::Store(cli::StoreCommand::Copy(args)) => admin::copy_store(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
