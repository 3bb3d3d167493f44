//! `ensign validate`: schema and compile checks of flag files.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value;

use engine::logic::compile::{CompileInput, compile, compile_evaluator};
use engine::{CompileOptions, Diagnostic, Evaluators, FlagSet, Format, PathTable, Severity};

use crate::cli::{FileKind, OutputFormat, ValidateArgs};

#[derive(Debug, Serialize)]
struct FileReport {
    path: String,
    valid: bool,
    diagnostics: Vec<Diagnostic>,
    /// Keys that flagd accepts but a store refuses (the store-key rule,
    /// `engine::flag_key`): reported, never a reason to fail, since file
    /// sources keep flagd's rule.
    #[serde(rename = "keyWarnings", skip_serializing_if = "Vec::is_empty")]
    key_warnings: Vec<Diagnostic>,
}

pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let mut reports = Vec::new();
    for path in &args.files {
        let (diagnostics, key_warnings) = check_file(path, args.kind)?;
        reports.push(FileReport {
            path: path.display().to_string(),
            valid: diagnostics.is_empty(),
            diagnostics,
            key_warnings,
        });
    }
    let all_valid = reports.iter().all(|r| r.valid);
    match args.format {
        OutputFormat::Json => {
            let out = serde_json::json!({ "valid": all_valid, "files": reports });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        OutputFormat::Text => {
            for report in &reports {
                if report.valid {
                    println!("{}: ok", report.path);
                }
                for d in &report.diagnostics {
                    println!("{}: {d}", report.path);
                }
                for d in &report.key_warnings {
                    println!("{}: {d}", report.path);
                }
            }
        }
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every diagnostic of one file (warnings count, since they are violations
/// of flagd's schema even where flagd would still evaluate the flag), and
/// the keys a store would refuse.
fn check_file(path: &Path, kind: FileKind) -> anyhow::Result<(Vec<Diagnostic>, Vec<Diagnostic>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let format = Format::from_path(&path.to_string_lossy());
    match kind {
        FileKind::Flags => Ok((
            check_flags(&path.display().to_string(), &text, format),
            key_warnings(&text, format),
        )),
        FileKind::Targeting => Ok((check_targeting(&text, format), Vec::new())),
    }
}

/// A warning for each flag or evaluator key that flagd accepts but the
/// store-key rule refuses, so that a file meant for import is fixed first.
fn key_warnings(text: &str, format: Format) -> Vec<Diagnostic> {
    let Ok((file, _)) = engine::model::parse(text, format) else {
        return Vec::new();
    };
    let flags = file.flags.iter().map(|f| ("flags", f.key.as_str(), true));
    let evaluators = file
        .evaluators
        .keys()
        .map(|k| ("$evaluators", k.as_str(), false));
    flags
        .chain(evaluators)
        .filter_map(|(section, key, is_flag)| {
            let problem = engine::flag_key::check_store_key(key).err()?;
            let what = if is_flag { "flag key" } else { "evaluator key" };
            Some(Diagnostic {
                severity: Severity::Warning,
                flag_key: is_flag.then(|| key.to_owned()),
                pointer: format!("/{section}/{}", engine::pointer::escape(key)),
                message: format!(
                    "the {what} {key:?} {problem}: flagd accepts it, but a store refuses it \
                     (importing this file would fail)"
                ),
            })
        })
        .collect()
}

fn check_flags(name: &str, text: &str, format: Format) -> Vec<Diagnostic> {
    let (file, mut diagnostics) = match engine::model::parse(text, format) {
        Ok(parsed) => parsed,
        Err(error) => return vec![error.to_diagnostic()],
    };
    // The engine's diagnostics include a warning for each `$ref` inside
    // `$evaluators`.
    let (_, more) = FlagSet::compile(name, &file, &CompileOptions::default(), None);
    diagnostics.extend(more);
    // Each shared evaluator must be a valid rule on its own too, as it
    // reads once pasted into a flag: its references resolve only to
    // evaluators declared after it.
    for (index, (evaluator, _)) in file.evaluators.iter().enumerate() {
        let base = format!("/$evaluators/{}", engine::pointer::escape(evaluator));
        diagnostics.extend(rule_diagnostics(
            Rule::Evaluator(index),
            &file.evaluators,
            &base,
        ));
    }
    diagnostics
}

/// What [`rule_diagnostics`] compiles.
#[derive(Debug, Clone, Copy)]
enum Rule<'r> {
    /// A bare targeting rule.
    Bare(&'r Value),
    /// The evaluator at this position of the flag file's `$evaluators`.
    Evaluator(usize),
}

fn check_targeting(text: &str, format: Format) -> Vec<Diagnostic> {
    let parsed: Result<Value, String> = match format {
        Format::Json => serde_json::from_str(text).map_err(|e| format!("JSON syntax error: {e}")),
        Format::Yaml => Err("targeting rules are checked as JSON".into()),
    };
    match parsed {
        Ok(rule) => {
            // A bare rule may name evaluators defined in the flag file that
            // will include it; the schema accepts any `$ref` here.
            let mut evaluators = Evaluators::new();
            collect_refs(&rule, &mut evaluators);
            rule_diagnostics(Rule::Bare(&rule), &evaluators, "")
        }
        Err(message) => vec![Diagnostic {
            severity: Severity::Error,
            flag_key: None,
            pointer: String::new(),
            message,
        }],
    }
}

/// Maps every `$ref` name in `rule` to a placeholder rule.
fn collect_refs(rule: &Value, out: &mut Evaluators) {
    match rule {
        Value::Object(map) => {
            if let (1, Some(Value::String(name))) = (map.len(), map.get("$ref")) {
                out.insert(name.clone(), Value::Bool(true));
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn rule_diagnostics(rule: Rule<'_>, evaluators: &Evaluators, base: &str) -> Vec<Diagnostic> {
    static NULL: Value = Value::Null;
    let value = match rule {
        Rule::Bare(value) => value,
        Rule::Evaluator(index) => evaluators
            .get_index(index)
            .map_or(&NULL, |(_, value)| value),
    };
    if !value.is_object() {
        return vec![Diagnostic {
            severity: Severity::Error,
            flag_key: None,
            pointer: base.to_owned(),
            message: "a targeting rule must be a JSONLogic object".into(),
        }];
    }
    let input = CompileInput {
        flag_key: "",
        evaluators,
        fractional: engine::FractionalVersion::default(),
        limits: engine::CompileLimits::default(),
    };
    let to_diagnostic = |e: engine::logic::CompileError| Diagnostic {
        severity: if e.fatal {
            Severity::Error
        } else {
            Severity::Warning
        },
        flag_key: None,
        pointer: format!("{base}{}", e.pointer),
        message: e.message,
    };
    let compiled = match rule {
        Rule::Bare(value) => compile(value, &input, &mut PathTable::default()),
        Rule::Evaluator(index) => compile_evaluator(index, &input, &mut PathTable::default()),
    };
    match compiled {
        Ok((_, report)) => report.warnings.into_iter().map(to_diagnostic).collect(),
        Err(errors) => errors.into_iter().map(to_diagnostic).collect(),
    }
}
