//! `ensign validate`: schema and compile checks of flag files.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::{Map, Value};

use engine::logic::compile::{CompileInput, compile};
use engine::{CompileOptions, Diagnostic, FlagSet, Format, PathTable, Severity};

use crate::cli::{FileKind, OutputFormat, ValidateArgs};

#[derive(Debug, Serialize)]
struct FileReport {
    path: String,
    valid: bool,
    diagnostics: Vec<Diagnostic>,
}

pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let mut reports = Vec::new();
    for path in &args.files {
        let diagnostics = check_file(path, args.kind)?;
        reports.push(FileReport {
            path: path.display().to_string(),
            valid: diagnostics.is_empty(),
            diagnostics,
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
            }
        }
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every diagnostic of one file; warnings count, since they are violations
/// of flagd's schema even where flagd would still evaluate the flag.
fn check_file(path: &Path, kind: FileKind) -> anyhow::Result<Vec<Diagnostic>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let format = Format::from_path(&path.to_string_lossy());
    match kind {
        FileKind::Flags => Ok(check_flags(&path.display().to_string(), &text, format)),
        FileKind::Targeting => Ok(check_targeting(&text, format)),
    }
}

fn check_flags(name: &str, text: &str, format: Format) -> Vec<Diagnostic> {
    let (file, mut diagnostics) = match engine::model::parse(text, format) {
        Ok(parsed) => parsed,
        Err(error) => return vec![error.to_diagnostic()],
    };
    let (_, more) = FlagSet::compile(name, &file, &CompileOptions::default(), None);
    diagnostics.extend(more);
    // Each shared evaluator must be a valid rule on its own too.
    for (evaluator, rule) in &file.evaluators {
        let base = format!("/$evaluators/{}", engine::pointer::escape(evaluator));
        diagnostics.extend(rule_diagnostics(rule, &file.evaluators, &base));
    }
    diagnostics
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
            let mut evaluators = Map::new();
            collect_refs(&rule, &mut evaluators);
            rule_diagnostics(&rule, &evaluators, "")
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
fn collect_refs(rule: &Value, out: &mut Map<String, Value>) {
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

fn rule_diagnostics(rule: &Value, evaluators: &Map<String, Value>, base: &str) -> Vec<Diagnostic> {
    if !rule.is_object() {
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
    match compile(rule, &input, &mut PathTable::default()) {
        Ok((_, report)) => report.warnings.into_iter().map(to_diagnostic).collect(),
        Err(errors) => errors.into_iter().map(to_diagnostic).collect(),
    }
}
