//! Command-line arguments.

use std::path::PathBuf;

use clap::{CommandFactory as _, Parser, Subcommand, ValueEnum};

use crate::config::ServeSettings;

/// Ensign: an OpenFeature- and flagd-compatible feature-flag service.
#[derive(Debug, Parser)]
#[command(name = "ensign", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The command line to parse. Help shows which environment variable feeds
/// each option but never its value: `ENSIGN_DATABASE_URL` and
/// `ENSIGN_REDIS_URL` carry passwords, and so may any other value.
pub fn command() -> clap::Command {
    hide_env_values(Cli::command())
}

/// `command` and every subcommand under it with environment values hidden.
fn hide_env_values(command: clap::Command) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let mut command = command.mut_args(|arg| arg.hide_env_values(true));
    for name in names {
        command = command.mut_subcommand(name, hide_env_values);
    }
    command
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Checks flag files and prints every diagnostic; exits 1 if any file is
    /// not valid against flagd's schema or does not compile.
    Validate(ValidateArgs),
    /// Evaluates a flag (or a file of cases) and prints OFREP-shaped JSON.
    Eval(EvalArgs),
    /// Serves flags over OFREP and flagd's gRPC protocols. Option names
    /// follow `flagd start`.
    ///
    /// Each option is also an `ENSIGN_*` variable and a key of the --config
    /// file. Options beat variables, which beat the file.
    Serve(Box<ServeSettings>),
    /// Applies the store's pending migrations.
    Migrate(StoreArgs),
    /// Manages API tokens in the store.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Moves a whole store to another database.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Imports and exports an experiment's exposures as CSV.
    #[command(subcommand)]
    Exposures(ExposuresCommand),
    /// Imports and exports a flag set's tracking events as CSV.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Analyses experiments: which variant wins, by how much, how surely.
    #[command(subcommand)]
    Analytics(AnalyticsCommand),
}

#[derive(Debug, Subcommand)]
pub enum AnalyticsCommand {
    /// Runs the analysis once. Without files, the store's: every running
    /// experiment (or the one named) is analysed and its result stored,
    /// as the periodic analysis does. With --experiment, --exposures and
    /// --events, those files'. Prints the reports as JSON or Markdown.
    Run(AnalyticsRunArgs),
}

#[derive(Debug, clap::Args)]
pub struct AnalyticsRunArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only this flag set's experiments (store).
    #[arg(long, conflicts_with = "experiment")]
    pub flag_set: Option<String>,
    /// Only this experiment, running or stopped (store; with --flag-set).
    #[arg(long, requires = "flag_set", conflicts_with = "experiment")]
    pub key: Option<String>,
    /// The experiment's definition, JSON or YAML: name, flag, control,
    /// variants (name, weight), metrics (name, event, kind), window_seconds,
    /// alpha, sequential_tuning.
    #[arg(long, requires_all = ["exposures", "events"])]
    pub experiment: Option<PathBuf>,
    /// The exposures: CSV or Parquet with the columns
    /// `flag_key,variant,targeting_key,timestamp`, or a folder of
    /// `date=YYYY-MM-DD/` Parquet partitions.
    #[arg(long, requires = "experiment")]
    pub exposures: Option<PathBuf>,
    /// The tracking events: CSV or Parquet with the columns
    /// `event_name,targeting_key,timestamp,value`, or a folder of
    /// partitions.
    #[arg(long, requires = "experiment")]
    pub events: Option<PathBuf>,
    /// How to print the reports.
    #[arg(long, value_enum, default_value_t = ReportFormat::Json)]
    pub format: ReportFormat,
    /// A folder to draw one PNG chart per metric into: each variant's mean
    /// with its interval, and each treatment's lift with its confidence
    /// sequence, over the experiment's result history (store:
    /// DIR/FLAG_SET/EXPERIMENT/).
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// The report as JSON (analytics/report.schema.json).
    Json,
    /// Tables and the verdict in words.
    Markdown,
}

#[derive(Debug, Subcommand)]
pub enum ExposuresCommand {
    /// Imports exposures collected elsewhere from CSV with the columns
    /// `flag_key,variant,targeting_key,timestamp` (RFC 3339 UTC), after an
    /// optional leading `flag_set` column. All of the file or nothing; the
    /// same file imported again adds nothing.
    Import(ExposuresImportArgs),
    /// Exports an experiment's exposures as CSV with the columns
    /// `flag_set,flag_key,variant,targeting_key,timestamp`.
    Export(ExposuresExportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExposuresImportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The experiment the exposures belong to.
    #[arg(long)]
    pub experiment: String,
    /// The flag set of rows without a `flag_set` column (Parquet has
    /// none).
    #[arg(long)]
    pub flag_set: Option<String>,
    /// The CSV file (`-` for standard input), or Parquet: a `.parquet`
    /// file or a folder of `date=YYYY-MM-DD/` partitions.
    pub file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ExposuresExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The experiment whose exposures to export.
    #[arg(long)]
    pub experiment: String,
    /// Its flag set.
    #[arg(long, default_value = "default")]
    pub flag_set: String,
    /// Where to write the CSV (standard output when not given), or the
    /// folder of Parquet partitions.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// CSV, or Parquet partitioned by day (`date=YYYY-MM-DD/`), which
    /// DuckDB, Spark and Trino read as is.
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Imports tracking events collected elsewhere from CSV with the
    /// columns `event_name,targeting_key,timestamp,value`: the timestamp in
    /// RFC 3339 (kept to the microsecond), the value a number or empty for
    /// none. Imported events have no attributes and were received at the
    /// import. All of the file or nothing; the same file imported again
    /// into the same flag set adds nothing.
    Import(EventsImportArgs),
    /// Exports a flag set's tracking events as CSV with the columns
    /// `event_name,targeting_key,timestamp,value` (timestamps in UTC), in
    /// the order they occurred, without their attributes.
    Export(EventsExportArgs),
}

#[derive(Debug, clap::Args)]
pub struct EventsImportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The flag set the events belong to.
    #[arg(long, default_value = "default")]
    pub flag_set: String,
    /// The CSV file (`-` for standard input), or Parquet: a `.parquet`
    /// file or a folder of `date=YYYY-MM-DD/` partitions.
    pub file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct EventsExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The flag set whose events to export.
    #[arg(long, default_value = "default")]
    pub flag_set: String,
    /// Only the events with this name (`purchase`).
    #[arg(long)]
    pub name: Option<String>,
    /// Where to write the CSV (standard output when not given), or the
    /// folder of Parquet partitions.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// CSV, or Parquet partitioned by day (`date=YYYY-MM-DD/`), which
    /// DuckDB, Spark and Trino read as is.
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values with a header.
    Csv,
    /// Apache Parquet, one folder per UTC day.
    Parquet,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copies everything (flag sets, flags, segments, audit history, tokens)
    /// from one store into an empty one, e.g. from the embedded SQLite file
    /// to PostgreSQL, verified table by table by counts and checksums.
    Copy(StoreCopyArgs),
}

#[derive(Debug, clap::Args)]
pub struct StoreCopyArgs {
    /// The store to copy: sqlite:PATH or postgres://….
    #[arg(long)]
    pub from: String,
    /// The empty store to copy into (migrated first).
    #[arg(long)]
    pub to: String,
}

/// Where the store is.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The store: postgres://USER@HOST/DB, or sqlite:PATH (created when
    /// missing).
    #[arg(long, env = "ENSIGN_DATABASE_URL", default_value = "sqlite:ensign.db")]
    pub database_url: String,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Creates a token and prints it once: an admin token to bootstrap the
    /// admin API, or an SDK key bound to a flag set.
    Create(TokenCreateArgs),
}

#[derive(Debug, clap::Args)]
pub struct TokenCreateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The token's name: the actor of the audit events it causes.
    #[arg(long)]
    pub name: String,
    /// viewer, editor or admin (admin API); server or client (SDK keys).
    #[arg(long, default_value = "admin")]
    pub role: String,
    /// The flag set an SDK key is bound to.
    #[arg(long)]
    pub flag_set: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Flag files (JSON, or YAML by extension .yaml/.yml).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// What the files hold: flag files, or bare targeting rules
    /// (flagd's targeting.json schema).
    #[arg(long, value_enum, default_value_t = FileKind::Flags)]
    pub kind: FileKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// One line per diagnostic.
    Text,
    /// One JSON document, for CI pipelines.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileKind {
    /// Flag files (flagd.json, or flags.json when `$schema` names it).
    Flags,
    /// A single JSONLogic targeting rule per file.
    Targeting,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The flag file to evaluate against.
    #[arg(long, short = 'f')]
    pub flags: PathBuf,
    /// The flag to evaluate.
    #[arg(long, required_unless_present = "cases", conflicts_with = "cases")]
    pub flag: Option<String>,
    /// Evaluation context as a JSON object.
    #[arg(long, default_value = "{}")]
    pub context: String,
    /// The type the caller expects; a flag of another type gives TYPE_MISMATCH.
    #[arg(long = "type", value_enum)]
    pub flag_type: Option<TypeArg>,
    /// Adds the decision path to the output.
    #[arg(long)]
    pub explain: bool,
    /// A file with one case per line: {"flag": KEY, "context": {...}, "type": "boolean"}.
    #[arg(long)]
    pub cases: Option<PathBuf>,
    /// Bucketing scheme of `fractional` (flag-set metadata
    /// "ensign.fractional" overrides it).
    #[arg(long, env = "ENSIGN_FRACTIONAL", default_value = "v2")]
    pub fractional: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TypeArg {
    Boolean,
    String,
    Integer,
    Float,
    Object,
}

impl From<TypeArg> for engine::FlagType {
    fn from(t: TypeArg) -> Self {
        match t {
            TypeArg::Boolean => engine::FlagType::Boolean,
            TypeArg::String => engine::FlagType::String,
            TypeArg::Integer => engine::FlagType::Integer,
            TypeArg::Float => engine::FlagType::Float,
            TypeArg::Object => engine::FlagType::Object,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option of every subcommand, for checks that must hold for all.
    fn all_args(command: &clap::Command) -> Vec<(String, clap::Arg)> {
        let mut args: Vec<(String, clap::Arg)> = command
            .get_arguments()
            .map(|a| (command.get_name().to_owned(), a.clone()))
            .collect();
        for sub in command.get_subcommands() {
            args.extend(all_args(sub));
        }
        args
    }

    #[test]
    fn no_environment_value_is_shown_in_help() {
        let args = all_args(&command());
        assert!(args.iter().any(|(_, a)| a.get_env().is_some()));
        for (command, arg) in args {
            if arg.get_env().is_some() {
                assert!(
                    arg.is_hide_env_values_set(),
                    "{command} --{}: its environment value would be shown in help",
                    arg.get_id()
                );
            }
        }
    }
}
