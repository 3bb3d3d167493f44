//! The load generator Ensign's benchmarks share: workers that keep one
//! request each in flight, in closed loop (peak throughput) or open loop (a
//! fixed rate, latency counted from the scheduled send time), and the
//! processes under test, pinned to a core, with their CPU and memory read
//! from `/proc`.

pub mod load;
pub mod process;

pub use load::{Call, FreshKeys, Http1, Outcome, Requests, Worker, closed, open};
pub use process::Server;

/// An HTTP/1.1 POST with a JSON body, as bytes ready to write.
pub fn http_post(host: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
