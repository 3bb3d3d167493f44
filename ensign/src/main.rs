//! The `ensign` command: validates flag files, evaluates flags, serves
//! them, and manages the store.

mod admin;
mod analysis;
mod banner;
mod cli;
mod config;
mod dashboard;
mod eval;
mod event_files;
mod exposure_files;
mod imports;
mod records;
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
        cli::Command::Serve(options) => match matches.subcommand_matches("serve") {
            // The matches say which settings the command line or the
            // environment gave, to put over the config file.
            Some(given) => config::load(options.config.as_deref(), given)
                .and_then(|settings| serve::run(&settings)),
            None => unreachable!("clap parsed the serve subcommand"),
        },
        cli::Command::Migrate(args) => admin::migrate(&args),
        cli::Command::Token(cli::TokenCommand::Create(args)) => admin::create_token(&args),
        cli::Command::Store(cli::StoreCommand::Copy(args)) => admin::copy_store(&args),
        cli::Command::Exposures(cli::ExposuresCommand::Import(args)) => {
            exposure_files::import(&args)
        }
        cli::Command::Exposures(cli::ExposuresCommand::Export(args)) => {
            exposure_files::export(&args)
        }
        cli::Command::Events(cli::EventsCommand::Import(args)) => event_files::import(&args),
        cli::Command::Events(cli::EventsCommand::Export(args)) => event_files::export(&args),
        cli::Command::Analytics(cli::AnalyticsCommand::Run(args)) => analysis::run(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
