//! Fuzzes evaluation against its budget: rules built from the input out of
//! the operators that loop and build strings and arrays, compiled with small
//! limits and evaluated against a small context. Every evaluation must end
//! (libFuzzer's `-timeout`) and allocate no more than its budget allows, as
//! counted by this binary's allocator.

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

use engine::logic::EvalLimits;
use engine::logic::budget::BYTES_PER_STEP;
use engine::{CompileLimits, CompileOptions, Format, Selector, Snapshot};

/// Small limits, so that the fuzzer reaches them quickly.
const LIMITS: EvalLimits = EvalLimits {
    max_string_bytes: 4096,
    max_array_len: 512,
    max_depth: 16,
    max_steps: 20_000,
};

/// The most one evaluation may allocate at its peak: `BYTES_PER_STEP` per
/// step, twice for the growth of vectors and twice again for one copy of
/// the live values made before it is charged; a string built (twice its
/// length with growth) before it is charged; and a fixed allowance for what
/// the rule's own size bounds (argument vectors, the resolution).
const BOUND: usize =
    4 * BYTES_PER_STEP * LIMITS.max_steps as usize + 4 * LIMITS.max_string_bytes + 64 * 1024;

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    LIVE.fetch_sub(bytes, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's pointer, layout and size.
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if !moved.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Leaves of generated rules.
fn leaf(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=7)? {
        0 => json!(u.int_in_range(-3..=9)?),
        1 => json!(*u.choose(&["", "a", "ab", "xyz", "1", "a.b"])?),
        2 => json!({"var": *u.choose(&["current", "accumulator", "", "current.0"])?}),
        3 => json!({"var": *u.choose(&["list", "s", "n", "nested", "big", "missing"])?}),
        4 => {
            let len = u.int_in_range(0..=8)?;
            Value::Array((0..len).map(|i| json!(i)).collect())
        }
        5 => json!(u.arbitrary::<bool>()?),
        6 => Value::Null,
        _ => json!({"var": "list"}),
    })
}

/// Up to `count` generated arguments.
fn args(u: &mut Unstructured<'_>, depth: u32, count: u32) -> Result<Vec<Value>> {
    let n = u.int_in_range(0..=count)?;
    (0..n).map(|_| rule(u, depth)).collect()
}

/// A generated rule, at most `depth` operators deep.
fn rule(u: &mut Unstructured<'_>, depth: u32) -> Result<Value> {
    if depth == 0 || u.is_empty() {
        return leaf(u);
    }
    let d = depth - 1;
    Ok(match u.int_in_range(0..=16)? {
        0 => json!({"cat": args(u, d, 4)?}),
        1 => json!({"merge": args(u, d, 4)?}),
        2 => Value::Array(args(u, d, 4)?),
        3 => json!({"substr": [rule(u, d)?, u.int_in_range(-4..=4)?, u.int_in_range(-4..=4)?]}),
        4 => {
            let op = *u.choose(&["map", "filter", "all", "some", "none"])?;
            json!({op: [rule(u, d)?, rule(u, d)?]})
        }
        5 | 6 => json!({"reduce": [rule(u, d)?, rule(u, d)?, rule(u, d)?]}),
        7 => json!({"in": [rule(u, d)?, rule(u, d)?]}),
        8 => {
            let op = *u.choose(&["==", "!=", "<", ">=", "===", "<="])?;
            json!({op: [rule(u, d)?, rule(u, d)?]})
        }
        9 => {
            let op = *u.choose(&["+", "*", "-", "max", "min", "%"])?;
            json!({op: args(u, d, 3)?})
        }
        10 => json!({"if": args(u, d, 3)?}),
        11 => json!({"missing": args(u, d, 2)?}),
        12 => json!({"missing_some": [rule(u, d)?, rule(u, d)?]}),
        13 => json!({"!": [rule(u, d)?]}),
        14 => json!({"var": [rule(u, d)?, rule(u, d)?]}),
        15 => json!({"and": args(u, d, 3)?}),
        _ => leaf(u)?,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(targeting) = rule(&mut u, 8) else {
        return;
    };
    let file = json!({"flags": {"f": {
        "state": "ENABLED",
        "variants": {"on": "on", "off": "off"},
        "defaultVariant": "off",
        "targeting": targeting,
    }}})
    .to_string();
    let options = CompileOptions {
        limits: CompileLimits {
            eval: LIMITS,
            ..CompileLimits::default()
        },
        ..CompileOptions::default()
    };
    let Ok((snapshot, _)) = Snapshot::from_text("fuzz", &file, Format::Json, &options) else {
        return;
    };
    let Some(set) = snapshot.flag_set_for("f", &Selector::All).cloned() else {
        return;
    };
    let context = json!({
        "list": [1, 2, 3, 4, 5, 6, 7, 8],
        "s": "abcdef",
        "n": 3,
        "nested": [[1, 2], [3, [4]], "x"],
        "big": "y".repeat(1000),
    });
    let prepared = set.prepare(&context);
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let resolution = set.evaluate("f", &prepared);
    let peak = PEAK.load(Ordering::Relaxed) - before;
    drop(resolution);
    assert!(
        peak <= BOUND,
        "rule {targeting} allocated {peak} bytes at its peak, more than its budget allows ({BOUND})"
    );
    // The other paths must end too, and agree.
    let text = context.to_string();
    let plain = set.evaluate("f", &prepared);
    let from_text = set.evaluate_json("f", &text);
    assert_eq!(
        (plain.reason, plain.variant, plain.error_code()),
        (from_text.reason, from_text.variant, from_text.error_code()),
        "rule {targeting}: the prepared and JSON-text paths differ"
    );
});
