//! The load generator Ensign's benchmarks share: workers that keep one
//! request each in flight, in closed loop (peak throughput) or open loop (a
//! fixed rate, latency counted from the scheduled send time), and the
//! processes under test, pinned to a core, with their CPU and memory read
//! from `/proc`.

pub mod load;
pub mod process;

pub use load::{Call, FreshKeys, Http1, Outcome, Requests, Worker, closed, closed_polling, open};
pub use process::Server;

/// A benchmark's arguments, `key=value` each (keys may start with `--`),
/// as (key, value) pairs; a value is a number unless the key is one of
/// `text_keys`. The `--bench` that `cargo bench` adds is skipped.
pub fn arguments(
    args: impl Iterator<Item = String>,
    text_keys: &[&str],
) -> anyhow::Result<Vec<(String, Argument)>> {
    let mut parsed = Vec::new();
    for arg in args {
        if arg == "--bench" {
            continue;
        }
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("expected key=value, got {arg:?}"))?;
        let key = key.trim_start_matches('-').to_owned();
        let value = if text_keys.contains(&key.as_str()) {
            Argument::Text(value.to_owned())
        } else {
            Argument::Number(
                value
                    .parse()
                    .map_err(|_| anyhow::anyhow!("{key} takes a number, got {value:?}"))?,
            )
        };
        parsed.push((key, value));
    }
    Ok(parsed)
}

/// A benchmark argument's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Argument {
    /// A whole number.
    Number(u64),
    /// Text, for the keys that take it.
    Text(String),
}

/// An HTTP/1.1 POST with a JSON body, as bytes ready to write.
pub fn http_post(host: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
