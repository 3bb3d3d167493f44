//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Ensign: an OpenFeature- and flagd-compatible feature-flag service.
#[derive(Debug, Parser)]
#[command(name = "ensign", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Checks flag files and prints every diagnostic; exits 1 if any file is
    /// not valid against flagd's schema or does not compile.
    Validate(ValidateArgs),
    /// Evaluates a flag (or a file of cases) and prints OFREP-shaped JSON.
    Eval(EvalArgs),
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
