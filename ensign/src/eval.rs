//! `ensign eval`: evaluates flags from a file and prints OFREP-shaped JSON.
//!
//! Exit codes: 0 when every resolution succeeded, 1 when any carries an
//! error code, 2 when the input itself is unusable (unreadable or unparseable
//! flag file, a context that is not a JSON object, a malformed case line).

use std::io::{BufRead, BufReader, Write};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::{Map, Value, json};

use engine::{CompileOptions, FlagType, Format, Resolution, Selector, Severity, Snapshot, Trace};

use crate::cli::EvalArgs;

pub fn run(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let fractional = args
        .fractional
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("reading --fractional")?;
    let options = CompileOptions {
        fractional,
        ..CompileOptions::default()
    };
    let path = args.flags.display().to_string();
    let text = std::fs::read_to_string(&args.flags).with_context(|| format!("reading {path}"))?;
    let (snapshot, diagnostics) =
        Snapshot::from_text(&path, &text, Format::from_path(&path), &options)
            .with_context(|| format!("parsing {path}"))?;
    for d in diagnostics.iter().filter(|d| d.severity == Severity::Error) {
        eprintln!("{path}: {d}");
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Some(cases) = &args.cases {
        return run_cases(&snapshot, cases, args.explain, &mut out);
    }
    let Some(key) = &args.flag else {
        bail!("either --flag or --cases is required");
    };
    let context: Value =
        serde_json::from_str(&args.context).context("reading --context: not JSON")?;
    if !context.is_object() {
        bail!("reading --context: the evaluation context must be a JSON object");
    }
    let value = evaluate(
        &snapshot,
        key,
        &context,
        args.flag_type.map(FlagType::from),
        args.explain,
    );
    writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    Ok(if value.get("errorCode").is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn run_cases(
    snapshot: &Snapshot,
    path: &std::path::Path,
    explain: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut any_error = false;
    let mut any_malformed = false;
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let result = match parse_case(&line) {
            Ok((key, context, flag_type)) => evaluate(snapshot, &key, &context, flag_type, explain),
            Err(message) => {
                any_malformed = true;
                json!({
                    "line": index + 1,
                    "errorCode": "INVALID_CONTEXT",
                    "errorDetails": message,
                })
            }
        };
        any_error |= result.get("errorCode").is_some();
        writeln!(out, "{}", serde_json::to_string(&result)?)?;
    }
    Ok(if any_malformed {
        ExitCode::from(2)
    } else if any_error {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn parse_case(line: &str) -> Result<(String, Value, Option<FlagType>), String> {
    let case: Value = serde_json::from_str(line).map_err(|e| format!("case is not JSON: {e}"))?;
    let Value::Object(mut case) = case else {
        return Err("a case must be a JSON object".into());
    };
    let key = match case.remove("flag") {
        Some(Value::String(key)) => key,
        _ => return Err("a case needs \"flag\": the flag key as a string".into()),
    };
    let context = match case.remove("context") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(context @ Value::Object(_)) => context,
        Some(_) => return Err("\"context\" must be a JSON object".into()),
    };
    let flag_type = match case.remove("type") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.parse::<FlagType>()?),
        Some(_) => return Err("\"type\" must be a string".into()),
    };
    if let Some(unknown) = case.keys().next() {
        return Err(format!(
            "unknown case member {unknown:?} (expected flag, context, type)"
        ));
    }
    Ok((key, context, flag_type))
}

fn evaluate(
    snapshot: &Snapshot,
    key: &str,
    context: &Value,
    flag_type: Option<FlagType>,
    explain: bool,
) -> Value {
    let (resolution, trace) = if explain {
        let (r, t) = snapshot.explain(key, &Selector::All, context);
        (r, Some(t))
    } else {
        (snapshot.evaluate(key, &Selector::All, context), None)
    };
    let resolution = match flag_type {
        Some(t) => resolution.expect_type(t),
        None => resolution,
    };
    to_ofrep(&resolution, trace.as_ref())
}

/// Renders a resolution in the shape of an OFREP evaluation response.
fn to_ofrep(resolution: &Resolution<'_>, trace: Option<&Trace>) -> Value {
    let mut out = Map::new();
    out.insert("key".into(), Value::String(resolution.key.to_owned()));
    if let Some(error) = &resolution.error {
        out.insert(
            "errorCode".into(),
            Value::String(error.code.as_str().to_owned()),
        );
        out.insert("errorDetails".into(), Value::String(error.message.clone()));
    }
    if let Some(value) = resolution.value {
        out.insert("value".into(), value.clone());
    }
    out.insert(
        "reason".into(),
        Value::String(resolution.reason.as_str().to_owned()),
    );
    if let Some(variant) = resolution.variant {
        out.insert("variant".into(), Value::String(variant.to_owned()));
    }
    out.insert(
        "metadata".into(),
        Value::Object(resolution.metadata.clone()),
    );
    if let Some(trace) = trace {
        out.insert(
            "explain".into(),
            json!({ "steps": trace.steps, "summary": trace.render() }),
        );
    }
    Value::Object(out)
}
