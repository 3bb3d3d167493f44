//! The crate graph as ARCHITECTURE.md states it: what each workspace crate
//! must not depend on, checked against `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

use crate::workspace_root;

/// How far a rule looks.
#[derive(Debug, Clone, Copy)]
enum Reach {
    /// Every crate the library or binary links, however indirectly
    /// (normal dependencies, not dev- or build-dependencies).
    Linked,
    /// Only the crate's own `[dependencies]`.
    Direct,
}

/// The crates that do I/O or are one: none reaches the engine.
const IO_CRATES: &[&str] = &[
    "tokio",
    "mio",
    "warp",
    "hyper",
    "tonic",
    "reqwest",
    "redis",
    "bb8",
    "sea-orm",
    "sqlx",
    "polars",
    "anyhow",
    "async-graphql",
    "notify",
];

/// The rules, one line per crate and reach: the crate, how far it looks,
/// and what must not appear there.
const RULES: &[(&str, Reach, &[&str])] = &[
    ("engine", Reach::Linked, IO_CRATES),
    (
        "provider",
        Reach::Linked,
        &[
            "store",
            "migrations",
            "sea-orm",
            "sqlx",
            "graphql-admin",
            "async-graphql",
        ],
    ),
    (
        "store",
        Reach::Linked,
        &[
            "async-graphql",
            "warp",
            "hyper",
            "tonic",
            "redis",
            "provider",
            "graphql-admin",
        ],
    ),
    (
        "migrations",
        Reach::Linked,
        &["engine", "store", "provider"],
    ),
    ("graphql-admin", Reach::Linked, &["provider", "tonic"]),
    ("redact", Reach::Direct, &["engine", "provider", "store"]),
    (
        "analytics",
        Reach::Linked,
        &[
            "engine",
            "redact",
            "provider",
            "store",
            "migrations",
            "graphql-admin",
            "sea-orm",
            "sqlx",
            "async-graphql",
        ],
    ),
];

/// The workspace as `cargo metadata` resolves it.
struct Graph {
    /// Package id → name.
    names: BTreeMap<String, String>,
    /// Workspace crate name → package id.
    members: BTreeMap<String, String>,
    /// Package id → (dependency id, the kinds it is needed as: "normal",
    /// "dev", "build").
    edges: BTreeMap<String, Vec<(String, BTreeSet<String>)>>,
}

impl Graph {
    fn load() -> Graph {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        // The graph for this machine's platform: it needs only the
        // packages the build already fetched, so it reads offline.
        let output = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--offline", "--locked"])
            .args(["--filter-platform", &host_triple()])
            .current_dir(workspace_root())
            .output()
            .expect("cargo metadata runs");
        assert!(
            output.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
        let names = metadata["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|p| (string(&p["id"]), string(&p["name"])))
            .collect::<BTreeMap<_, _>>();
        let members = metadata["workspace_members"]
            .as_array()
            .expect("workspace members")
            .iter()
            .map(|id| (names[&string(id)].clone(), string(id)))
            .collect();
        let edges = metadata["resolve"]["nodes"]
            .as_array()
            .expect("a resolved graph")
            .iter()
            .map(|node| {
                let deps = node["deps"]
                    .as_array()
                    .expect("deps")
                    .iter()
                    .map(|dep| {
                        let kinds = dep["dep_kinds"]
                            .as_array()
                            .expect("dep kinds")
                            .iter()
                            .map(|k| k["kind"].as_str().unwrap_or("normal").to_owned())
                            .collect();
                        (string(&dep["pkg"]), kinds)
                    })
                    .collect();
                (string(&node["id"]), deps)
            })
            .collect();
        Graph {
            names,
            members,
            edges,
        }
    }

    /// The names of what `krate` depends on with `reach`.
    fn dependencies(&self, krate: &str, reach: Reach) -> BTreeSet<String> {
        let start = &self.members[krate];
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.clone()];
        while let Some(id) = todo.pop() {
            for (dep, kinds) in &self.edges[&id] {
                if kinds.contains("normal")
                    && seen.insert(dep.clone())
                    && matches!(reach, Reach::Linked)
                {
                    todo.push(dep.clone());
                }
            }
        }
        seen.iter().map(|id| self.names[id].clone()).collect()
    }

    /// The workspace crates that need `target` as `kind`, directly.
    fn dependents(&self, target: &str, kind: &str) -> BTreeSet<String> {
        let target = &self.members[target];
        self.members
            .iter()
            .filter(|(_, id)| {
                self.edges[*id]
                    .iter()
                    .any(|(dep, kinds)| dep == target && kinds.contains(kind))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// The platform rustc builds for by default.
fn host_triple() -> String {
    let output = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc names its host")
        .to_owned()
}

fn string(value: &Value) -> String {
    value.as_str().expect("a string").to_owned()
}

/// Every rule whose crate exists holds.
#[test]
fn no_crate_depends_on_what_architecture_md_rules_out() {
    let graph = Graph::load();
    let mut broken = Vec::new();
    for (krate, reach, forbidden) in RULES {
        assert!(
            graph.members.contains_key(*krate),
            "{krate} is not a workspace crate: a rule for a crate that does not exist holds nothing"
        );
        let found = graph.dependencies(krate, *reach);
        for name in *forbidden {
            if found.contains(*name) {
                broken.push(format!("{krate} depends on {name} ({reach:?})"));
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}

/// Only the tests use `test-support` and only the benchmarks `loadgen`,
/// which depends on nothing of ours, and nothing links the binary's crate,
/// the analysis or polars but the crates meant to.
#[test]
fn test_support_is_for_tests_and_the_binary_is_a_root() {
    let graph = Graph::load();
    for krate in ["test-support", "loadgen"] {
        for kind in ["normal", "build"] {
            assert_eq!(
                graph.dependents(krate, kind),
                BTreeSet::new(),
                "{krate} as a {kind} dependency"
            );
        }
        assert!(
            !graph.dependents(krate, "dev").is_empty(),
            "{krate} is used"
        );
    }
    let ours: BTreeSet<String> = graph.members.keys().cloned().collect();
    let loadgen_uses: BTreeSet<String> = graph
        .dependencies("loadgen", Reach::Direct)
        .intersection(&ours)
        .cloned()
        .collect();
    assert_eq!(loadgen_uses, BTreeSet::new(), "loadgen uses crates of ours");
    for kind in ["normal", "build", "dev"] {
        assert_eq!(
            graph.dependents("ensign", kind),
            BTreeSet::new(),
            "the ensign crate as a {kind} dependency"
        );
    }
    let with_polars: BTreeSet<String> = graph
        .members
        .keys()
        .filter(|m| *m != "analytics" && *m != "ensign")
        .filter(|m| graph.dependencies(m, Reach::Linked).contains("polars"))
        .cloned()
        .collect();
    assert_eq!(with_polars, BTreeSet::new(), "polars outside analytics");
    assert!(
        graph
            .dependencies("analytics", Reach::Linked)
            .contains("polars"),
        "the analysis is built on polars"
    );
    let on_analytics: BTreeSet<String> = ["normal", "build", "dev"]
        .into_iter()
        .flat_map(|kind| graph.dependents("analytics", kind))
        .collect();
    assert_eq!(
        on_analytics,
        BTreeSet::from(["ensign".to_owned()]),
        "only the binary wires the analysis in"
    );
}

/// The check sees what it is meant to: the graph has the edges the rules
/// are about, so an empty answer above is not a broken reading.
#[test]
fn the_graph_reading_finds_known_edges() {
    let graph = Graph::load();
    let linked = |krate| graph.dependencies(krate, Reach::Linked);
    assert!(linked("provider").contains("tokio"));
    assert!(linked("provider").contains("engine"));
    assert!(linked("store").contains("sea-orm"));
    assert!(linked("store").contains("sqlx"));
    assert!(linked("graphql-admin").contains("store"));
    assert!(linked("graphql-admin").contains("async-graphql"));
    assert!(linked("ensign").contains("provider"));
    assert!(linked("engine").contains("serde_json"));
    assert!(
        !graph
            .dependencies("graphql-admin", Reach::Direct)
            .contains("sqlx")
    );
    assert!(graph.dependents("store", "normal").contains("ensign"));
    assert!(graph.dependents("test-support", "dev").contains("store"));
}
