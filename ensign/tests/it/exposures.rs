//! Exposures end to end with the real binary: an embedded node records the
//! evaluations its running experiment's split decides, once per user and
//! variant, and what it recorded before SIGTERM is in its store after.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::serve::{PgDatabase, Serve, graphql, scratch, services_present};
use crate::test_redis_url;

/// A `/metrics` counter's value.
async fn counter(serve: &Serve, name: &str) -> u64 {
    let text = reqwest::get(format!("http://{}/metrics", serve.management))
        .await
        .expect("the management port answers")
        .text()
        .await
        .expect("a text body");
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[tokio::test]
async fn an_embedded_node_writes_every_exposure_before_it_stops() {
    let dir = scratch("exposures-embedded");
    let serve = Serve::start_in(&dir, &[]);
    serve.wait_ready().await;
    let token = serve.token.clone().expect("a first start prints a token");
    start_experiment(&serve, &token).await;
    // The node serves the mark once the store's feed has delivered it.
    let served = wait_for_mark(&serve).await;

    // 300 users, each evaluated twice; staff and anonymous evaluations are
    // not exposures.
    let mut answered = BTreeMap::new();
    answered.insert(
        "probe".to_owned(),
        served["variant"].as_str().unwrap().to_owned(),
    );
    for round in 0..2 {
        for i in 0..300 {
            let user = format!("user-{i}");
            let answer = serve
                .evaluate("checkout", json!({"targetingKey": user}))
                .await;
            let variant = answer["variant"].as_str().expect("a variant").to_owned();
            if round == 1 {
                assert_eq!(
                    answered.get(&user),
                    Some(&variant),
                    "a user keeps their variant"
                );
            }
            answered.insert(user, variant);
        }
    }
    for context in [json!({"targetingKey": "boss", "staff": true}), json!({})] {
        let answer = serve.evaluate("checkout", context).await;
        assert!(answer["variant"].is_string(), "{answer}");
    }
    // Exposures are looked up in the cache a few at a time, the last few
    // within the writer's linger, which commits them within another.
    for _ in 0..100 {
        if counter(&serve, "ensign_exposures_written_total").await == 301
            && counter(&serve, "ensign_exposures_deduplicated_total").await == 300
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        counter(&serve, "ensign_exposures_recorded_total").await,
        301
    );
    assert_eq!(
        counter(&serve, "ensign_exposures_deduplicated_total").await,
        300
    );
    assert_eq!(
        counter(&serve, "ensign_tracked_evaluations_not_exposures_total").await,
        2
    );
    assert_eq!(counter(&serve, "ensign_exposures_dropped_total").await, 0);
    // The cache holds what it saw: its tables take room.
    assert!(counter(&serve, "ensign_exposure_dedupe_bytes").await > 0);
    // Each exposure's delay to its commit is kept.
    assert_eq!(
        counter(&serve, "ensign_exposure_commit_delay_seconds_count").await,
        301
    );

    let (code, log) = serve.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("Writer stopped. what=\"exposures\""), "{log}");

    let store = store::Store::connect(&format!("sqlite:{}", dir.join("ensign.db").display()))
        .await
        .expect("the store opens");
    let rows = store.exposures("default", "checkout-test").await.unwrap();
    let stored: std::collections::BTreeMap<String, String> = rows
        .iter()
        .map(|row| (row.targeting_key.clone(), row.variant.clone()))
        .collect();
    assert_eq!(rows.len(), 301, "one row per user");
    assert_eq!(stored, answered);
    assert!(
        rows.iter()
            .all(|row| row.flag == "checkout" && row.surface == "ofrep_single")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two evaluation nodes without a store hand their exposures to the admin
/// node through the Redis stream; SIGTERM flushes what they hold, and the
/// store ends with exactly one row per user, with the variant served.
#[tokio::test]
async fn evaluation_nodes_hand_their_exposures_to_the_store_through_redis() {
    let test = "evaluation_nodes_hand_their_exposures_to_the_store_through_redis";
    if !services_present(test) {
        return;
    }
    let unique = format!("ensign_exposures_{}_{}", std::process::id(), line!());
    let Cluster {
        database,
        admin,
        nodes,
        node_uri,
    } = Cluster::start(&unique, "exposures").await;
    // A node serving a flag file opts in through flag metadata and sends
    // its exposures to the same stream.
    let file_dir = scratch("exposures-file-node");
    let file = file_dir.join("lab.json");
    std::fs::write(
        &file,
        r#"{"metadata": {"flagSetId": "lab"}, "flags": {"banner": {"state": "ENABLED",
            "variants": {"on": true, "off": false}, "defaultVariant": "off",
            "metadata": {"ensign.experiment": "banner-test"},
            "targeting": {"fractional": [["on", 50], ["off", 50]]}}}}"#,
    )
    .unwrap();
    let file_uri = format!("file:{}", file.display());
    let file_node = Serve::start_in(
        &file_dir,
        &["--uri", &file_uri, "--exposures-redis", &node_uri],
    );
    file_node.wait_ready().await;
    let mut from_file = BTreeMap::new();
    for i in 0..50 {
        let user = format!("reader-{i}");
        let answer = file_node
            .evaluate("banner", json!({"targetingKey": user}))
            .await;
        from_file.insert(
            user,
            answer["variant"].as_str().expect("a variant").to_owned(),
        );
    }
    let (code, log) = file_node.terminate();
    assert_eq!(code, Some(0), "{log}");
    let mut served = BTreeMap::new();
    for i in 0..400 {
        let user = format!("user-{i}");
        let node = &nodes[i % 2];
        let answer = node
            .evaluate("checkout", json!({"targetingKey": user}))
            .await;
        served.insert(
            user,
            answer["variant"].as_str().expect("a variant").to_owned(),
        );
    }
    // The probes of `wait_for_mark` are exposures too.
    for node in nodes {
        let (code, log) = node.terminate();
        assert_eq!(code, Some(0), "{log}");
        assert!(log.contains("Writer stopped. what=\"exposures\""), "{log}");
    }
    let store = store::Store::connect(&database.url)
        .await
        .expect("the store opens");
    let mut rows = Vec::new();
    for _ in 0..200 {
        rows = store.exposures("default", "checkout-test").await.unwrap();
        if rows.len() >= 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stored: BTreeMap<String, String> = rows
        .iter()
        .filter(|row| row.targeting_key != "probe")
        .map(|row| (row.targeting_key.clone(), row.variant.clone()))
        .collect();
    assert_eq!(stored, served);
    let probes = rows
        .iter()
        .filter(|row| row.targeting_key == "probe")
        .count();
    assert_eq!(probes, 1, "one row per user, across both nodes");
    assert_eq!(rows.len(), 401);
    let file_rows: BTreeMap<String, String> = store
        .exposures("lab", "banner-test")
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.targeting_key, row.variant))
        .collect();
    assert_eq!(file_rows, from_file);
    // The admin node's consumer kept every written row's commit delay: two
    // nodes' 200 users and probe each, and the file node's 50.
    assert_eq!(
        counter(&admin, "ensign_exposure_commit_delay_seconds_count").await,
        452
    );
    assert!(counter(&admin, "ensign_exposure_stream_batches_total").await >= 3);
    assert_eq!(admin.terminate().0, Some(0));
    database.drop_database().await;
}

/// An admin node on a PostgreSQL database of its own, publishing to Redis
/// under a prefix of its own, with experiment `checkout-test` running, and
/// two evaluation nodes following it that serve the experiment's mark.
pub(crate) struct Cluster {
    pub(crate) database: PgDatabase,
    pub(crate) admin: Serve,
    pub(crate) nodes: Vec<Serve>,
    /// The evaluation nodes' `--uri`, with the prefix.
    pub(crate) node_uri: String,
}

impl Cluster {
    /// Starts one under `unique` (database name and Redis prefix), its
    /// directories named after `name`.
    pub(crate) async fn start(unique: &str, name: &str) -> Cluster {
        let database = PgDatabase::create(unique).await;
        let admin = Serve::start_in(
            &scratch(&format!("{name}-admin")),
            &[
                "--database-url",
                &database.url,
                "--redis-url",
                test_redis_url().as_str(),
                "--redis-prefix",
                unique,
            ],
        );
        admin.wait_ready().await;
        let token = admin.token.clone().expect("a first start prints a token");
        start_experiment(&admin, &token).await;
        let mut node_uri = test_redis_url();
        node_uri.query_pairs_mut().append_pair("prefix", unique);
        let node_uri = node_uri.to_string();
        let nodes: Vec<Serve> = (1..=2)
            .map(|i| Serve::start_in(&scratch(&format!("{name}-{i}")), &["--uri", &node_uri]))
            .collect();
        for node in &nodes {
            node.wait_ready().await;
            wait_for_mark(node).await;
        }
        Cluster {
            database,
            admin,
            nodes,
            node_uri,
        }
    }
}

/// Creates `checkout` in flag set `default` (staff get variant `staff`,
/// everyone else a 50/50 split) and starts experiment `checkout-test` on
/// it.
async fn start_experiment(serve: &Serve, token: &str) {
    let (_, created) = graphql(
        serve,
        token,
        r#"mutation { createFlag(flagSet: "default", key: "checkout", flag: {definition: {
            state: "ENABLED", variants: {control: "A", treatment: "B", staff: "S"},
            defaultVariant: "control",
            targeting: {if: [{var: "staff"}, "staff",
                             {fractional: [["control", 50], ["treatment", 50]]}]}}}) { version } }"#,
    )
    .await;
    assert!(created["errors"].is_null(), "{created}");
    let (_, started) = graphql(
        serve,
        token,
        r#"mutation {
            createExperiment(flagSet: "default", key: "checkout-test", settings: {
                flag: "checkout", control: "control",
                metrics: [{name: "purchases", event: "purchase", kind: CONVERSION}]}) { key }
            startExperiment(flagSet: "default", key: "checkout-test") { status } }"#,
    )
    .await;
    assert_eq!(
        started["data"]["startExperiment"]["status"], "RUNNING",
        "{started}"
    );
}

/// Waits until `serve` serves `checkout` as tracked (asking as user
/// "probe"); answers the last evaluation.
async fn wait_for_mark(serve: &Serve) -> Value {
    let mut served = Value::Null;
    for _ in 0..200 {
        served = serve
            .evaluate("checkout", json!({"targetingKey": "probe"}))
            .await;
        if served["metadata"]["ensign.experiment"] == "checkout-test" {
            return served;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the node never served the experiment's mark: {served}");
}

/// `ensign exposures import` then `export`: the file's rows come back,
/// each user's earliest exposure per variant; the same file again adds
/// nothing; a bad row stops the whole import with its line.
#[test]
fn exposures_are_imported_and_exported_as_csv() {
    let dir = scratch("exposures-csv");
    let url = format!("sqlite:{}", dir.join("ensign.db").display());
    let file = dir.join("in.csv");
    std::fs::write(
        &file,
        "flag_key,variant,targeting_key,timestamp\n\
         checkout,b,u1,2026-12-06T10:00:02Z\n\
         checkout,b,u1,2026-12-06T10:00:01.5Z\n\
         checkout,a,\"u,2\",2026-12-06T10:00:03Z\n",
    )
    .unwrap();
    let import = |path: &std::path::Path| {
        crate::ensign(&[
            "exposures",
            "import",
            "--database-url",
            &url,
            "--experiment",
            "checkout-test",
            "--flag-set",
            "shop",
            path.to_str().unwrap(),
        ])
    };
    let first = import(&file);
    assert!(first.status.success(), "{first:?}");
    assert_eq!(
        crate::stdout(&first),
        "imported 3 exposures of experiment \"checkout-test\" (2 new or earlier than those stored)\n"
    );
    let again = import(&file);
    assert_eq!(
        crate::stdout(&again),
        "this file was imported before; nothing was written\n"
    );
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "flag_key,variant,targeting_key,timestamp\n\
         checkout,a,u9,2026-12-06T10:00:00Z\n\
         checkout,a,u10,tomorrow\n",
    )
    .unwrap();
    let refused = import(&bad);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("line 3: timestamp \"tomorrow\""),
        "{stderr}"
    );

    let export = crate::ensign(&[
        "exposures",
        "export",
        "--database-url",
        &url,
        "--experiment",
        "checkout-test",
        "--flag-set",
        "shop",
    ]);
    assert!(export.status.success(), "{export:?}");
    assert_eq!(
        crate::stdout(&export),
        "flag_set,flag_key,variant,targeting_key,timestamp\n\
         shop,checkout,b,u1,2026-12-06T10:00:01.5Z\n\
         shop,checkout,a,\"u,2\",2026-12-06T10:00:03Z\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `conformance/js`, with its packages installed, or `None` after a loud
/// skip (a failure under `ENSIGN_REQUIRE_SERVICES=1`) without Node.js.
pub(crate) fn javascript(
    test: &str,
) -> Option<(std::path::PathBuf, test_support::node::Installed)> {
    if let Err(missing) = test_support::node::node_toolchain() {
        test_support::skip(test, &missing);
        return None;
    }
    let js = crate::workspace_root().join("conformance/js");
    let installed =
        test_support::node::install_packages(&js, test).expect("the JavaScript packages install");
    Some((js, installed))
}

/// Runs `exposures.mjs` with `args`; answers the {user: variant} it printed.
fn run_js(js: &std::path::Path, args: &[&str]) -> BTreeMap<String, String> {
    let output = std::process::Command::new("node")
        .arg("exposures.mjs")
        .args(args)
        .current_dir(js)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "exposures.mjs {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON map of users to variants")
}

/// A JavaScript OFREP client evaluates an experiment flag for 1,000 users
/// over two evaluation nodes; afterwards the store holds exactly one
/// exposure per user, with the variant each was served.
#[tokio::test]
async fn a_javascript_ofrep_client_leaves_one_exposure_per_user() {
    let test = "a_javascript_ofrep_client_leaves_one_exposure_per_user";
    if !services_present(test) {
        return;
    }
    let Some((js, _installed)) = javascript(test) else {
        return;
    };
    let unique = format!("ensign_exposures_{}_{}", std::process::id(), line!());
    let Cluster {
        database,
        admin,
        nodes,
        ..
    } = Cluster::start(&unique, "exposures-js").await;
    let urls: Vec<String> = nodes
        .iter()
        .map(|n| format!("http://{}", n.ofrep))
        .collect();
    let mut args = vec!["ofrep", "checkout", "1000"];
    args.extend(urls.iter().map(String::as_str));
    let served = run_js(&js, &args);
    assert_eq!(served.len(), 1000);
    for node in nodes {
        assert_eq!(node.terminate().0, Some(0));
    }
    let store = store::Store::connect(&database.url)
        .await
        .expect("the store opens");
    let mut stored = BTreeMap::new();
    for _ in 0..200 {
        stored = store
            .exposures("default", "checkout-test")
            .await
            .unwrap()
            .into_iter()
            .filter(|row| row.targeting_key != "probe")
            .map(|row| (row.targeting_key, row.variant))
            .collect();
        if stored.len() >= 1000 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(stored, served);
    assert_eq!(admin.terminate().0, Some(0));
    database.drop_database().await;
}

/// The README's JavaScript hook, on flagd's in-process provider: the
/// exposures it sends are kept, and those of users another branch served
/// are not.
#[tokio::test]
async fn the_javascript_exposure_hook_reports_in_process_evaluations() {
    let test = "the_javascript_exposure_hook_reports_in_process_evaluations";
    let Some((js, _installed)) = javascript(test) else {
        return;
    };
    let hook = std::fs::read_to_string(js.join("exposure-hook.mjs")).unwrap();
    let readme = std::fs::read_to_string(crate::workspace_root().join("README.md")).unwrap();
    assert!(
        readme.contains(&hook),
        "README.md shows exposure-hook.mjs as it is"
    );

    let dir = scratch("exposures-hook");
    let serve = Serve::start_in(&dir, &[]);
    serve.wait_ready().await;
    let token = serve.token.clone().expect("a first start prints a token");
    start_experiment(&serve, &token).await;
    wait_for_mark(&serve).await;
    let sync = serve.sync.expect("a sync listener").to_string();
    let ofrep = format!("http://{}", serve.ofrep);
    let served = run_js(&js, &["hook", "checkout", "200", &sync, &ofrep]);
    assert_eq!(served.len(), 200);
    let (code, log) = serve.terminate();
    assert_eq!(code, Some(0), "{log}");
    let store = store::Store::connect(&format!("sqlite:{}", dir.join("ensign.db").display()))
        .await
        .expect("the store opens");
    let rows = store.exposures("default", "checkout-test").await.unwrap();
    let stored: BTreeMap<String, String> = rows
        .iter()
        .filter(|row| row.targeting_key != "probe")
        .map(|row| (row.targeting_key.clone(), row.variant.clone()))
        .collect();
    assert_eq!(stored, served, "staff users are not exposures");
    assert!(
        rows.iter()
            .filter(|row| row.targeting_key != "probe")
            .all(|row| row.surface == "in_process")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
