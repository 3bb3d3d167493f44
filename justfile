# Recipes for everyday work; each is one command. `just --list` shows them.

# Evaluate the bundled example flags (the README's run command).
run:
    cargo run -p ensign -- eval --flags examples/flags.json --cases examples/cases.jsonl

# The whole test suite (the README's test command).
test:
    cargo test --workspace

# Format and lint as CI does.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# The flagd-testbed evaluator suite against the engine.
conformance:
    cargo test -p conformance --test evaluator

# Engine benchmarks against datalogic-rs, flagd-evaluation-engine and jsonlogic-rs.
bench-engine:
    cargo bench -p engine --bench evaluate

# Fuzz flag-file parsing and evaluation for a bounded time (needs nightly-free cargo-fuzz).
fuzz-smoke:
    cargo fuzz run parse_eval --fuzz-dir engine/fuzz -- -max_total_time=60
