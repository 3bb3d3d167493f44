//! The bench's data, deterministic and generated as CSV: exposures of the
//! experiment's flag (and a few of another flag) over `users` users, most
//! exposed more than once and a few to both variants, and tracking events
//! of the experiment's metrics (and of an event no metric reads), most
//! after their user's exposure and some before it or of users never
//! exposed. Files are kept under the target directory by their
//! parameters, so later runs reuse them.

use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Distinct users exposed.
    pub users: u64,
    /// Exposure rows.
    pub exposures: u64,
    /// Event rows.
    pub events: u64,
}

/// The generated files.
#[derive(Debug, Clone)]
pub struct Files {
    pub exposures: PathBuf,
    pub events: PathBuf,
    pub experiment: PathBuf,
}

/// The experiment's flag.
pub const FLAG: &str = "checkout";
/// Its attribution window: 7 days.
pub const WINDOW_SECONDS: i64 = 7 * 24 * 3600;
/// Where the exposures start: 2026-03-01T00:00:00Z.
const START: i64 = 1_772_323_200;
/// The exposures spread over 14 days.
const SPREAD_SECONDS: u64 = 14 * 24 * 3600;

/// SplitMix64: a seeded, reproducible stream of numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// The variant the split gives user `user`: half each.
fn variant_of(user: u64) -> &'static str {
    if (user.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 63) == 0 {
        "control"
    } else {
        "treatment"
    }
}

/// RFC 3339 in UTC with microseconds, from seconds and microseconds since
/// the epoch.
fn timestamp(out: &mut Vec<u8>, seconds: i64, micros: u32) {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    );
}

/// The files for `sizes` under `root`, generated unless they exist.
pub fn files(root: &Path, sizes: Sizes) -> anyhow::Result<Files> {
    let dir = root.join(format!(
        "u{}-x{}-e{}",
        sizes.users, sizes.exposures, sizes.events
    ));
    let files = Files {
        exposures: dir.join("exposures.csv"),
        events: dir.join("events.csv"),
        experiment: dir.join("experiment.json"),
    };
    let mut check = Vec::new();
    timestamp(&mut check, START, 42);
    anyhow::ensure!(
        check == b"2026-03-01T00:00:00.000042Z",
        "the timestamp writer is wrong: {}",
        String::from_utf8_lossy(&check)
    );
    let done = dir.join("complete");
    if done.exists() {
        return Ok(files);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let started = std::time::Instant::now();
    generate(&files, sizes)?;
    std::fs::write(&done, b"")?;
    eprintln!(
        "generated {} exposures and {} events over {} users in {:.1} s",
        sizes.exposures,
        sizes.events,
        sizes.users,
        started.elapsed().as_secs_f64()
    );
    Ok(files)
}

fn generate(files: &Files, sizes: Sizes) -> anyhow::Result<()> {
    std::fs::write(
        &files.experiment,
        serde_json::json!({
            "name": "checkout redesign", "flag": FLAG, "control": "control",
            "variants": [{"name": "control", "weight": 50}, {"name": "treatment", "weight": 50}],
            "metrics": [{"name": "purchases", "event": "purchase", "kind": "conversion"},
                        {"name": "revenue", "event": "purchase", "kind": "sum"}],
            "window_seconds": WINDOW_SECONDS,
        })
        .to_string(),
    )?;

    // Each user's first exposure time, kept for the events.
    let mut first = vec![0i64; sizes.users as usize];
    let mut rng = Rng(0x5EED_0001);
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&files.exposures)?);
    let mut line = Vec::with_capacity(96);
    out.write_all(b"flag_key,variant,targeting_key,timestamp\n")?;
    // Every user once, then the rest of the rows as repeats of random
    // users, later than their first.
    for row in 0..sizes.exposures {
        line.clear();
        let (user, at, micros, flag) = if row < sizes.users {
            let at = START + rng.below(SPREAD_SECONDS) as i64;
            first[row as usize] = at;
            (row, at, rng.below(1_000_000) as u32, FLAG)
        } else {
            let user = rng.below(sizes.users);
            let at = first[user as usize] + rng.below(3 * 24 * 3600) as i64;
            let flag = if rng.chance(0.05) { "banner" } else { FLAG };
            (user, at, rng.below(1_000_000) as u32, flag)
        };
        // 1% of repeats see the other variant (a switched device, say).
        let variant = if row >= sizes.users && rng.chance(0.01) {
            if variant_of(user) == "control" {
                "treatment"
            } else {
                "control"
            }
        } else {
            variant_of(user)
        };
        let _ = write!(line, "{flag},{variant},user-{user:08},");
        timestamp(&mut line, at, micros);
        line.push(b'\n');
        out.write_all(&line)?;
    }
    out.flush()?;

    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&files.events)?);
    out.write_all(b"event_name,targeting_key,timestamp,value\n")?;
    for _ in 0..sizes.events {
        line.clear();
        // 2% of events come from users never exposed.
        let never = rng.chance(0.02);
        let user = if never {
            sizes.users + rng.below(sizes.users)
        } else {
            rng.below(sizes.users)
        };
        let base = if never { START } else { first[user as usize] };
        // Most within the window, some before the exposure, some after it.
        let offset = match rng.below(100) {
            0..=4 => -(rng.below(24 * 3600) as i64) - 1,
            5..=9 => WINDOW_SECONDS + rng.below(7 * 24 * 3600) as i64,
            _ => rng.below(WINDOW_SECONDS as u64) as i64,
        };
        // The treatment buys a little more often.
        let buys = variant_of(user) == "treatment" || rng.chance(0.9);
        let (name, value) = if rng.chance(0.1) {
            ("page_view", String::new())
        } else if buys {
            let cents = 500 + rng.below(20_000);
            ("purchase", format!("{}.{:02}", cents / 100, cents % 100))
        } else {
            ("purchase", String::new())
        };
        let _ = write!(line, "{name},user-{user:08},");
        timestamp(&mut line, base + offset, rng.below(1_000_000) as u32);
        let _ = writeln!(line, ",{value}");
        out.write_all(&line)?;
    }
    out.flush()?;
    Ok(())
}
