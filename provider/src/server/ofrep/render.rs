//! Successful evaluations rendered once per snapshot and reused.
//!
//! What a successful evaluation's JSON says depends only on the flag, the
//! chosen variant and the reason, and a snapshot has few such combinations,
//! while serializing one (escaping every string of its key, value and
//! metadata) cost more than evaluating the flag. Each worker thread keeps
//! the renderings it has made for the current snapshot; a response copies
//! them. Failures and explained evaluations are rendered each time.

use std::cell::RefCell;
use std::sync::Arc;

use engine::{Reason, Resolution, Snapshot};
use rustc_hash::FxHashMap;

use crate::server::ofrep::wire::Evaluation;

/// Renderings kept per thread before the cache starts over: a bound for
/// snapshots with very many flags and variants.
const MAX_ENTRIES: usize = 4096;

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// One thread's renderings, for one snapshot.
#[derive(Default)]
struct Cache {
    /// The snapshot the renderings belong to, held so that the addresses
    /// keying them stay its own while it is cached.
    snapshot: Option<Arc<Snapshot>>,
    /// By the addresses of the flag's key and the chosen value in the
    /// snapshot, and the reason: keys no client chooses, so a fast
    /// non-keyed hash is safe.
    renderings: FxHashMap<(usize, usize, Reason), Box<[u8]>>,
}

/// Appends the JSON of a resolution made against `snapshot` to `out`, as
/// serializing [`Evaluation::from_resolution`] (without explain) writes it.
pub fn write_evaluation(out: &mut Vec<u8>, snapshot: &Arc<Snapshot>, resolution: &Resolution<'_>) {
    if resolution.error.is_some() {
        render(out, resolution);
        return;
    }
    CACHE.with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            render(out, resolution);
            return;
        };
        let cache = &mut *cache;
        if !cache
            .snapshot
            .as_ref()
            .is_some_and(|cached| Arc::ptr_eq(cached, snapshot))
        {
            cache.snapshot = Some(Arc::clone(snapshot));
            cache.renderings.clear();
        }
        // A successful resolution's key, value and metadata all belong to
        // its flag in the snapshot: the key's and value's addresses name
        // the flag and the variant.
        let id = (
            resolution.key.as_ptr() as usize,
            resolution
                .value
                .map_or(0, |v| std::ptr::from_ref(v) as usize),
            resolution.reason,
        );
        if let Some(rendered) = cache.renderings.get(&id) {
            out.extend_from_slice(rendered);
            return;
        }
        let start = out.len();
        render(out, resolution);
        if cache.renderings.len() >= MAX_ENTRIES {
            cache.renderings.clear();
        }
        cache.renderings.insert(id, out[start..].into());
    });
}

/// Serializes a resolution.
fn render(out: &mut Vec<u8>, resolution: &Resolution<'_>) {
    // Serializing these structs into a vector cannot fail.
    let _ = serde_json::to_writer(&mut *out, &Evaluation::from_resolution(resolution, None));
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::{CompileOptions, Format, Selector, Snapshot};

    fn snapshot(document: &str) -> Arc<Snapshot> {
        let (snapshot, diagnostics) =
            Snapshot::from_text("test", document, Format::Json, &CompileOptions::default())
                .unwrap();
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        Arc::new(snapshot)
    }

    const FLAGS: &str = r##"{"metadata": {"team": "growth \"core\""}, "flags": {
        "banner": {"state": "ENABLED", "variants": {"on": true, "off": false},
                   "defaultVariant": "off",
                   "targeting": {"if": [{"==": [{"var": "plan"}, "pro"]}, "on", null]}},
        "color": {"state": "ENABLED", "variants": {"red": "#f00", "blue": "#00f\\u0000"},
                  "defaultVariant": "red", "metadata": {"owner": "ui\u00e9"}},
        "off": {"state": "DISABLED", "variants": {"a": 1}, "defaultVariant": "a"}
    }}"##;

    /// Every kind of outcome, rendered twice (the second time from the
    /// cache), is byte for byte what serializing it writes.
    #[test]
    fn cached_renderings_are_what_serializing_writes() {
        let snapshot = snapshot(FLAGS);
        let cases = [
            ("banner", r#"{"plan": "pro"}"#),
            ("banner", r#"{"plan": "free"}"#),
            ("color", "{}"),
            ("off", "{}"),
            ("missing", "{}"),
            ("banner", "[1]"),
        ];
        for _ in 0..2 {
            for (key, context) in cases {
                let resolution = snapshot.evaluate_json(key, &Selector::All, context);
                let mut cached = Vec::new();
                write_evaluation(&mut cached, &snapshot, &resolution);
                let serialized =
                    serde_json::to_vec(&Evaluation::from_resolution(&resolution, None)).unwrap();
                assert_eq!(
                    String::from_utf8(cached).unwrap(),
                    String::from_utf8(serialized).unwrap(),
                    "{key} with {context}"
                );
            }
        }
    }

    /// A new snapshot's resolutions are not answered with the renderings of
    /// an earlier one.
    #[test]
    fn a_new_snapshot_starts_afresh() {
        let first = snapshot(FLAGS);
        let resolution = first.evaluate_json("color", &Selector::All, "{}");
        let mut out = Vec::new();
        write_evaluation(&mut out, &first, &resolution);
        assert!(String::from_utf8_lossy(&out).contains("#f00"));

        let second = snapshot(&FLAGS.replace("#f00", "#e00"));
        let resolution = second.evaluate_json("color", &Selector::All, "{}");
        let mut out = Vec::new();
        write_evaluation(&mut out, &second, &resolution);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("#e00"), "{text}");
    }
}
