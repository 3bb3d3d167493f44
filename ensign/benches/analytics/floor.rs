//! The floor: a hand-written, single-threaded, single-pass aggregation of
//! the same CSV files with the same attribution, in plain Rust with a hash
//! map per user (keyed by foldhash, as Ensign's own hot maps are): what
//! reading and attributing the data costs at least on one core, with none
//! of a query engine's generality.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;

use anyhow::{Context as _, bail};

use crate::data::{FLAG, WINDOW_SECONDS};

/// Per variant (control, treatment): users, purchasers, the revenue's
/// sum and sample variance, as JSON on standard output.
pub fn run(exposures: &Path, events: &Path) -> anyhow::Result<()> {
    const VARIANTS: [&str; 2] = ["control", "treatment"];
    // Per user: the first exposure's time and variant (0, 1, or 2 for one
    // the experiment does not list), by index.
    let mut index: HashMap<Box<[u8]>, u32, foldhash::fast::FixedState> =
        HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0x5eed));
    let mut first: Vec<(i64, u8)> = Vec::new();
    for_each_line(exposures, |fields| {
        let [flag, variant, user, at] = fields else {
            bail!("an exposure row has {} fields", fields.len());
        };
        if *flag != FLAG.as_bytes() {
            return Ok(());
        }
        let at = micros(at)?;
        let rank = match *variant {
            b"control" => 0,
            b"treatment" => 1,
            _ => 2,
        };
        match index.get(*user) {
            Some(&i) => {
                let current = &mut first[i as usize];
                // Ties on time go to the smaller name; "control" <
                // "treatment", and an unlisted name is compared as is.
                let smaller = |a: u8, b: u8| match (a, b) {
                    (2, _) | (_, 2) => false,
                    (a, b) => a < b,
                };
                if at < current.0 || (at == current.0 && smaller(rank, current.1)) {
                    *current = (at, rank);
                }
            }
            None => {
                index.insert((*user).into(), first.len() as u32);
                first.push((at, rank));
            }
        }
        Ok(())
    })?;
    let window = WINDOW_SECONDS * 1_000_000;
    let mut purchases = vec![0u32; first.len()];
    let mut revenue = vec![0f64; first.len()];
    for_each_line(events, |fields| {
        let [name, user, at, value] = fields else {
            bail!("an event row has {} fields", fields.len());
        };
        if *name != b"purchase" {
            return Ok(());
        }
        let Some(&i) = index.get(*user) else {
            return Ok(());
        };
        let (t0, _) = first[i as usize];
        let at = micros(at)?;
        if at < t0 || at >= t0 + window {
            return Ok(());
        }
        purchases[i as usize] += 1;
        if !value.is_empty() {
            revenue[i as usize] += std::str::from_utf8(value)?.parse::<f64>()?;
        }
        Ok(())
    })?;
    let mut out = Vec::new();
    for (rank, variant) in VARIANTS.iter().enumerate() {
        let members = || {
            first
                .iter()
                .enumerate()
                .filter(move |(_, (_, r))| usize::from(*r) == rank)
                .map(|(i, _)| i)
        };
        let users = members().count();
        let purchasers = members().filter(|&i| purchases[i] > 0).count();
        let sum: f64 = members().map(|i| revenue[i]).sum();
        let mean = sum / users as f64;
        let squares: f64 = members().map(|i| (revenue[i] - mean).powi(2)).sum();
        out.push(serde_json::json!({
            "variant": variant, "users": users, "purchasers": purchasers,
            "revenue": sum, "revenue_variance": squares / (users as f64 - 1.0),
        }));
    }
    println!("{}", serde_json::Value::Array(out));
    Ok(())
}

/// Calls `each` with the fields of every line after the header.
fn for_each_line(
    path: &Path,
    mut each: impl FnMut(&[&[u8]]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::with_capacity(128);
    reader.read_until(b'\n', &mut line)?;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let mut fields: [&[u8]; 8] = [&[]; 8];
        let mut count = 0;
        for field in text.split(|&b| b == b',') {
            if count < fields.len() {
                fields[count] = field;
            }
            count += 1;
        }
        each(&fields[..count.min(fields.len())])?;
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` as microseconds since the epoch.
fn micros(text: &[u8]) -> anyhow::Result<i64> {
    let digits = |range: std::ops::Range<usize>| -> anyhow::Result<i64> {
        let mut value = 0i64;
        for &b in text.get(range).context("a short timestamp")? {
            if !b.is_ascii_digit() {
                bail!("not a timestamp: {}", String::from_utf8_lossy(text));
            }
            value = value * 10 + i64::from(b - b'0');
        }
        Ok(value)
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let seconds = digits(11..13)? * 3600 + digits(14..16)? * 60 + digits(17..19)?;
    let fraction = digits(20..26)?;
    // Howard Hinnant's days-from-civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok((days * 86_400 + seconds) * 1_000_000 + fraction)
}
