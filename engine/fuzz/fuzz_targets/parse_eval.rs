//! Fuzzes flag-file parsing, compilation and evaluation: whatever the bytes,
//! nothing panics, and every flag of a file that parses resolves.

#![no_main]

use libfuzzer_sys::fuzz_target;

use engine::{CompileOptions, Format, FractionalVersion, Selector, Snapshot};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the format and bucketing scheme; the rest splits
    // into a flag file and a context at the first NUL byte.
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let (file, context) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b"{}"[..]),
    };
    let Ok(text) = std::str::from_utf8(file) else {
        return;
    };
    let format = if control & 1 == 0 { Format::Json } else { Format::Yaml };
    let fractional = match (control >> 1) % 3 {
        0 => FractionalVersion::V1,
        1 => FractionalVersion::V2,
        _ => FractionalVersion::V3,
    };
    let options = CompileOptions {
        fractional,
        ..CompileOptions::default()
    };
    let Ok((snapshot, _)) = Snapshot::from_text("fuzz", text, format, &options) else {
        return;
    };
    let context_text = String::from_utf8_lossy(context);
    let parsed: serde_json::Value = serde_json::from_str(&context_text).unwrap_or_default();
    for (_, entry) in snapshot.visible(&Selector::All) {
        let key = entry.key();
        let _ = snapshot.evaluate_json(key, &Selector::All, &context_text);
        if parsed.is_object() {
            let _ = snapshot.evaluate(key, &Selector::All, &parsed);
            let _ = snapshot.explain(key, &Selector::All, &parsed);
        }
    }
});
