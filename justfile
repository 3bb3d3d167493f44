# Recipes for everyday work; each is one command. `just --list` shows them.

# Serve the bundled example flags (the README's run command).
run:
    cargo run -p ensign -- serve

# The whole test suite (the README's test command).
test:
    cargo test --workspace

# Format and lint as CI does.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# The dashboard's dev server on http://localhost:5173, forwarding /graphql to the admin API of `just run`.
dashboard:
    cd dashboard && ([ -d node_modules ] || npm ci) && npm run dev

# The dashboard's checks, as CI runs them (codegen, types, lint with the browser tests' files, tests, build, bundle budget).
dashboard-check:
    cd dashboard/e2e && npm ci && npm run typecheck
    cd dashboard && npm ci && npm run codegen:check && npm run typecheck && npm run lint && npm test && npm run build && npm run budget

# The flagd-testbed suites: the evaluator suite against the engine, and the provider-level suite through the JavaScript flagd provider against the real binary.
conformance:
    cargo test -p conformance --test evaluator --test provider_suite

# Engine benchmarks against datalogic-rs, flagd-evaluation-engine and jsonlogic-rs.
bench-engine:
    cargo bench -p engine --bench evaluate

# Fuzz parsing, compiling and evaluating flag files (seeded with the testbed's flag files), evaluation against its budget, and admin request bodies, each for a bounded time.
fuzz-smoke seconds="60":
    cargo install cargo-fuzz --locked --quiet
    mkdir -p engine/fuzz/corpus/parse_eval engine/fuzz/corpus/rule_budget
    # RUSTC_BOOTSTRAP lets cargo-fuzz pass its sanitizer flags on the stable toolchain.
    RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir engine/fuzz parse_eval engine/fuzz/corpus/parse_eval ${ENSIGN_CONFORMANCE_DIR:-../shared/conformance}/flagd-testbed/flags examples -- -max_total_time={{seconds}}
    # Rules are generated from the input's bytes: give them room from the start.
    RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir engine/fuzz rule_budget engine/fuzz/corpus/rule_budget -- -max_total_time={{seconds}} -timeout=10 -max_len=2048 -len_control=0
    mkdir -p graphql-admin/fuzz/corpus/graphql_request
    RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir graphql-admin/fuzz graphql_request graphql-admin/fuzz/corpus/graphql_request graphql-admin/fuzz/seeds -- -max_total_time={{seconds}}

# Fuzz the OFREP API from its OpenAPI document with schemathesis (PyPI); fails on any server error.
fuzz-api examples="500":
    scripts/fuzz-api {{examples}}

# The evaluation server under load (OFREP single and bulk, gRPC) against a bare warp handler, per server core; `just bench-server soak=300` adds the 5-minute memory soak.
bench-server *args:
    cargo build --release -p ensign
    cargo build --release -p provider --features server --example bare
    cargo bench -p provider --features server --bench server -- {{args}}

# Commit-to-served latency of 200 admin changes on two evaluation nodes fed by Redis (needs PostgreSQL and Redis), p50/p99 against a bare Redis publish, and the time per stage from the nodes' timing events.
bench-propagation:
    cargo build --release -p ensign
    cargo bench -p ensign --bench propagation

# Exposure recording under load (needs PostgreSQL and Redis): OFREP evaluations of a tracked flag over fresh users against an untracked one, per server core, on an admin node writing to PostgreSQL and on an evaluation node sending through Redis; an open loop at 20,000/s with drops and the evaluation-to-commit delay; the store write alone; the deduplication cache's bytes.
bench-exposures *args:
    cargo build --release -p ensign
    cargo bench -p ensign --bench exposures -- {{args}}

# The experiment analysis over 10 million exposures and 2 million events (generated as CSV), wall time and peak memory against DuckDB (PyPI duckdb) running the same attribution in SQL, and a hand-written single-pass floor.
bench-analytics *args:
    cargo build --release -p ensign
    python3 -c 'import duckdb' || pip install duckdb
    cargo bench -p ensign --bench analytics -- {{args}}
