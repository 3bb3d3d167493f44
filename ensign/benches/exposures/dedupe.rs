//! The deduplication cache's memory: its tables' bytes after a million
//! fresh users, and after two million (its capacity bounds it).

use std::sync::atomic::Ordering;

use provider::server::exposures::{ExposureSettings, Exposures, Observed, Surface};

/// What the cache took.
pub struct Report {
    pub bytes_after_million: usize,
    pub bytes_after_two_million: usize,
}

pub fn measure() -> Report {
    let exposures = Exposures::default();
    let settings = ExposureSettings::default();
    let Some(mut queue) = exposures.attach(&settings) else {
        unreachable!("a new recorder has no writer")
    };
    let mut bytes_after_million = 0;
    let keys: Vec<String> = (0..2_000_000usize)
        .map(|n| format!("user-{n:016}"))
        .collect();
    let started = std::time::Instant::now();
    for (n, key) in keys.iter().enumerate() {
        exposures.record(Observed {
            experiment: "dedupe",
            flag_set: "default",
            flag: "tracked",
            variant: if n % 2 == 0 { "control" } else { "treatment" },
            targeting_key: key,
            flag_set_version: 1,
            surface: Surface::OfrepSingle,
            at_micros: Some(0),
        });
        // What a writer would take, so the buffer never fills.
        if n % 10_000 == 9_999 {
            exposures.settle();
            queue.drain();
        }
        if n == 999_999 {
            bytes_after_million = exposures.dedupe_bytes();
        }
    }
    exposures.settle();
    let took = started.elapsed();
    let counts = exposures.outbox().counts();
    let report = Report {
        bytes_after_million,
        bytes_after_two_million: exposures.dedupe_bytes(),
    };
    println!(
        "Deduplication cache (capacity {} keys): {:.1} MiB after 1,000,000 fresh users, \
         {:.1} MiB after 2,000,000 ({} recorded, {} dropped, {:.0} ns per exposure recorded \
         and taken from the buffer).",
        settings.dedupe,
        report.bytes_after_million as f64 / (1024.0 * 1024.0),
        report.bytes_after_two_million as f64 / (1024.0 * 1024.0),
        counts.recorded.load(Ordering::Relaxed),
        counts.dropped.load(Ordering::Relaxed),
        took.as_nanos() as f64 / keys.len() as f64,
    );
    report
}
