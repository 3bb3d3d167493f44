//! Placeholder until the runner lands.
fn main() {}
