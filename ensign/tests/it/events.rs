//! Tracking events and evaluation counts end to end with the real binary:
//! an embedded node stores the events applications send and how often each
//! flag was evaluated, flushing both at SIGTERM, with events scoped to the
//! flag set of the key that sent them; evaluation nodes hand both to the
//! admin node's store through Redis.

use std::time::Duration;

use serde_json::{Value, json};

use crate::exposures::Cluster;
use crate::serve::{Serve, graphql, scratch, services_present};

/// Posts `body` to `serve`'s events endpoint, with `key` if given.
async fn send_events(serve: &Serve, key: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("http://{}/ensign/v1/events", serve.ofrep))
        .json(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("OFREP answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Evaluates `key` with `secret`, answering the status.
async fn evaluate_with(serve: &Serve, secret: &str, key: &str) -> u16 {
    reqwest::Client::new()
        .post(format!(
            "http://{}/ofrep/v1/evaluate/flags/{key}",
            serve.ofrep
        ))
        .bearer_auth(secret)
        .json(&json!({"context": {"targetingKey": "u"}}))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// A client-visible flag `key` in flag set `flag_set` serving `on` to pro
/// users, `off` to the rest.
async fn create_flag(serve: &Serve, token: &str, flag_set: &str, key: &str) {
    let definition = json!({"state": "ENABLED", "variants": {"on": true, "off": false},
        "defaultVariant": "off",
        "targeting": {"if": [{"==": [{"var": "plan"}, "pro"]}, "on", "off"]}});
    let created: Value = reqwest::Client::new()
        .post(format!("http://{}/graphql", serve.admin.expect("an admin API")))
        .bearer_auth(token)
        .json(&json!({
            "query": "mutation($set: String!, $key: String!, $def: JSON!) {
                createFlag(flagSet: $set, key: $key, flag: {definition: $def, clientVisible: true}) { version } }",
            "variables": {"set": flag_set, "key": key, "def": definition},
        }))
        .send()
        .await
        .expect("the admin API answers")
        .json()
        .await
        .expect("a JSON body");
    assert!(created["errors"].is_null(), "{created}");
}

/// A client SDK key of `flag_set`.
async fn client_key(serve: &Serve, token: &str, flag_set: &str) -> (String, i64) {
    let (_, body) = graphql(
        serve,
        token,
        &format!(
            r#"mutation {{ createToken(name: "web-{flag_set}", role: "client", flagSet: "{flag_set}") {{ secret token {{ id }} }} }}"#
        ),
    )
    .await;
    (
        body["data"]["createToken"]["secret"]
            .as_str()
            .unwrap_or_else(|| panic!("a secret: {body}"))
            .to_owned(),
        body["data"]["createToken"]["token"]["id"]
            .as_i64()
            .expect("an id"),
    )
}

/// Waits until `serve` answers `key`'s evaluation with `secret` with
/// `status`.
async fn wait_for_status(serve: &Serve, secret: &str, key: &str, status: u16) {
    for _ in 0..200 {
        if evaluate_with(serve, secret, key).await == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{key} never answered {status}");
}

fn purchase(user: &str, value: f64) -> Value {
    json!({"name": "purchase", "context": {"targetingKey": user, "plan": "pro"},
           "details": {"value": value, "currency": "EUR"}})
}

#[tokio::test]
async fn an_embedded_node_stores_events_and_counts_before_it_stops() {
    let dir = scratch("events-embedded");
    let serve = Serve::start_in(&dir, &["--evaluation-count-interval", "1"]);
    serve.wait_ready().await;
    let token = serve.token.clone().expect("a first start prints a token");
    create_flag(&serve, &token, "default", "banner").await;
    let (_, beta) = graphql(
        &serve,
        &token,
        r#"mutation { createFlagSet(key: "beta", name: "Beta") { key } }"#,
    )
    .await;
    assert!(beta["errors"].is_null(), "{beta}");
    create_flag(&serve, &token, "beta", "beta-banner").await;
    let (default_key, _) = client_key(&serve, &token, "default").await;
    let (beta_key, beta_id) = client_key(&serve, &token, "beta").await;
    // Once the keys reach the node, it requires one (before, it is open,
    // and events name no flag set). Asked of a flag that does not exist,
    // so that no evaluation is counted meanwhile.
    wait_for_status(&serve, "not-a-key", "no-such-flag", 401).await;
    wait_for_status(&serve, &default_key, "banner", 200).await;
    wait_for_status(&serve, &beta_key, "beta-banner", 200).await;

    // Evaluations: banner 30 times (20 pro, 10 not), beta-banner 5 times,
    // besides the probes above, which are counted too.
    // The probes above: each answered 200 once, when it stopped.
    let banner_probes = 1;
    let beta_probes = 1;
    let evaluate = |secret: &str, key: &str, plan: &str| {
        let url = format!("http://{}/ofrep/v1/evaluate/flags/{key}", serve.ofrep);
        let request = reqwest::Client::new()
            .post(url)
            .bearer_auth(secret)
            .json(&json!({"context": {"targetingKey": "u", "plan": plan}}));
        async move { request.send().await.expect("OFREP answers").status() }
    };
    for i in 0..30 {
        let plan = if i < 20 { "pro" } else { "free" };
        assert_eq!(evaluate(&default_key, "banner", plan).await, 200);
    }
    for _ in 0..5 {
        assert_eq!(evaluate(&beta_key, "beta-banner", "free").await, 200);
    }
    // Events: each key's go to its flag set; a bad one is listed, the
    // rest stored.
    let batch = json!({"events": [purchase("u1", 12.5), purchase("u2", 7.0),
        {"name": "purchase", "context": {"targetingKey": "u3"}, "details": {"value": "7"}},
        {"name": "signup", "context": {"targetingKey": "u3"}}]});
    let (status, answer) = send_events(&serve, Some(&default_key), &batch).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["accepted"], 3, "{answer}");
    assert_eq!(answer["rejected"][0]["index"], 2, "{answer}");
    assert_eq!(answer["rejected"][0]["code"], "INVALID_VALUE", "{answer}");
    let (status, answer) = send_events(
        &serve,
        Some(&beta_key),
        &json!({"events": [purchase("b1", 3.0)]}),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let (status, _) = send_events(&serve, Some("not-a-key"), &batch).await;
    assert_eq!(status, 401);
    // A revoked key sends no more.
    let (_, revoked) = graphql(
        &serve,
        &token,
        &format!(r#"mutation {{ revokeToken(id: {beta_id}) {{ id }} }}"#),
    )
    .await;
    assert!(revoked["errors"].is_null(), "{revoked}");
    let mut evaluated_until_revoked = 0;
    for _ in 0..200 {
        match evaluate_with(&serve, &beta_key, "beta-banner").await {
            200 => evaluated_until_revoked += 1,
            401 => break,
            status => panic!("unexpected {status}"),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(evaluate_with(&serve, &beta_key, "beta-banner").await, 401);
    let (status, _) = send_events(
        &serve,
        Some(&beta_key),
        &json!({"events": [purchase("b2", 3.0)]}),
    )
    .await;
    assert_eq!(status, 401);

    // Counts reach the store within a roll-up interval, while it runs.
    let expected_banner = 30 + banner_probes;
    let mut usage = Value::Null;
    for _ in 0..100 {
        let (_, body) = graphql(
            &serve,
            &token,
            r#"{ flagUsage(flagSet: "default") { flag lastEvaluatedAt evaluations24h evaluations30d
                 variants { variant evaluations24h } } }"#,
        )
        .await;
        usage = body["data"]["flagUsage"]
            .as_array()
            .and_then(|flags| flags.iter().find(|f| f["flag"] == "banner"))
            .cloned()
            .unwrap_or(Value::Null);
        if usage["evaluations24h"] == expected_banner {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(usage["evaluations24h"], expected_banner, "{usage}");
    assert_eq!(usage["evaluations30d"], expected_banner, "{usage}");
    assert!(usage["lastEvaluatedAt"].is_string(), "{usage}");
    let variants: Vec<(Value, Value)> = usage["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["variant"].clone(), v["evaluations24h"].clone()))
        .collect();
    // The probe asked without a plan: off.
    assert_eq!(
        variants,
        [
            (json!("off"), json!(10 + banner_probes)),
            (json!("on"), json!(20))
        ]
    );

    // Some more of each, then SIGTERM: what the node holds is written.
    for _ in 0..7 {
        assert_eq!(evaluate(&default_key, "banner", "pro").await, 200);
    }
    let (status, _) = send_events(
        &serve,
        Some(&default_key),
        &json!({"events": [purchase("u4", 1.0)]}),
    )
    .await;
    assert_eq!(status, 202);
    let (code, log) = serve.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("Writer stopped. what=\"events\""), "{log}");
    assert!(
        log.contains("Writer stopped. what=\"evaluation_counts\""),
        "{log}"
    );

    let store = store::Store::connect(&format!("sqlite:{}", dir.join("ensign.db").display()))
        .await
        .expect("the store opens");
    let events = store
        .events("default", &store::EventFilter::default())
        .await
        .unwrap();
    let mut stored: Vec<(String, String, Option<f64>, String)> = events
        .iter()
        .map(|e| {
            (
                e.targeting_key.clone(),
                e.name.clone(),
                e.value,
                e.attributes.clone(),
            )
        })
        .collect();
    stored.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        stored,
        [
            (
                "u1".into(),
                "purchase".into(),
                Some(12.5),
                r#"{"currency":"EUR"}"#.into()
            ),
            (
                "u2".into(),
                "purchase".into(),
                Some(7.0),
                r#"{"currency":"EUR"}"#.into()
            ),
            ("u3".into(), "signup".into(), None, String::new()),
            (
                "u4".into(),
                "purchase".into(),
                Some(1.0),
                r#"{"currency":"EUR"}"#.into()
            ),
        ]
    );
    let beta_events = store
        .events("beta", &store::EventFilter::default())
        .await
        .unwrap();
    assert_eq!(beta_events.len(), 1);
    assert_eq!(beta_events[0].targeting_key, "b1");
    let now = time::OffsetDateTime::now_utc();
    let count_of = |usage: &[store::FlagUsage], key: &str| {
        usage
            .iter()
            .find(|u| u.flag == key)
            .map_or(0, |u| u.evaluations_24h)
    };
    let default_usage = store.flag_usage("default", now).await.unwrap();
    assert_eq!(count_of(&default_usage, "banner"), 37 + banner_probes);
    let beta_usage = store.flag_usage("beta", now).await.unwrap();
    assert_eq!(
        count_of(&beta_usage, "beta-banner"),
        5 + beta_probes + evaluated_until_revoked
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two evaluation nodes without a store hand events and evaluation counts
/// to the admin node through Redis; after SIGTERM, the store holds every
/// event and each node's count of each flag.
#[tokio::test]
async fn evaluation_nodes_hand_events_and_counts_to_the_store_through_redis() {
    let test = "evaluation_nodes_hand_events_and_counts_to_the_store_through_redis";
    if !services_present(test) {
        return;
    }
    let unique = format!("ensign_events_{}_{}", std::process::id(), line!());
    let cluster = Cluster::start(&unique, "events").await;
    let token = cluster.admin.token.clone().expect("a token");
    create_flag(&cluster.admin, &token, "default", "banner").await;
    for node in &cluster.nodes {
        for _ in 0..200 {
            if node.evaluate("banner", json!({})).await["value"] == false {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    // Each node was probed without a plan until it served the flag (`off`);
    // `on` is served only to the 60 and 40 evaluations that follow.
    let mut sent = 0;
    for (i, node) in cluster.nodes.iter().enumerate() {
        let evaluations = if i == 0 { 60 } else { 40 };
        for _ in 0..evaluations {
            let answer = node
                .evaluate("banner", json!({"targetingKey": "u", "plan": "pro"}))
                .await;
            assert_eq!(answer["value"], true, "{answer}");
        }
        let events: Vec<Value> = (0..50)
            .map(|j| purchase(&format!("node{i}-user{j}"), f64::from(j)))
            .collect();
        let (status, answer) = send_events(node, None, &json!({ "events": events })).await;
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["accepted"], 50, "{answer}");
        sent += 50;
    }
    let Cluster {
        database,
        admin,
        nodes,
        ..
    } = cluster;
    for node in nodes {
        let (code, log) = node.terminate();
        assert_eq!(code, Some(0), "{log}");
        assert!(log.contains("Writer stopped. what=\"events\""), "{log}");
    }
    let store = store::Store::connect(&database.url)
        .await
        .expect("the store opens");
    let mut events = Vec::new();
    let mut on = 0;
    for _ in 0..200 {
        events = store
            .events("default", &store::EventFilter::default())
            .await
            .unwrap();
        let usage = store
            .flag_usage("default", time::OffsetDateTime::now_utc())
            .await
            .unwrap();
        on = usage
            .iter()
            .find(|u| u.flag == "banner")
            .and_then(|u| {
                u.variants
                    .iter()
                    .find(|v| v.variant.as_deref() == Some("on"))
                    .map(|v| v.evaluations_24h)
            })
            .unwrap_or(0);
        if events.len() >= sent && on >= 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(events.len(), sent);
    assert_eq!(on, 100, "each evaluation counted once, from both nodes");
    let total: f64 = events.iter().filter_map(|e| e.value).sum();
    assert!((total - 2.0 * (0..50).map(f64::from).sum::<f64>()).abs() < 1e-9);
    assert_eq!(admin.terminate().0, Some(0));
    database.drop_database().await;
}

/// A JavaScript application (`conformance/js/purchases.mjs`) evaluates a
/// flag for 1,000 users through two evaluation nodes with the OFREP
/// provider and tracks a purchase for each with OpenFeature's `track`;
/// afterwards the store holds every event, and the flag's 24-hour count
/// equals the evaluations made.
#[tokio::test]
async fn a_javascript_application_tracks_purchases_through_two_nodes() {
    let test = "a_javascript_application_tracks_purchases_through_two_nodes";
    if !services_present(test) {
        return;
    }
    let Some((js, _installed)) = crate::exposures::javascript(test) else {
        return;
    };
    let unique = format!("ensign_events_{}_{}", std::process::id(), line!());
    let cluster = Cluster::start(&unique, "events-js").await;
    let token = cluster.admin.token.clone().expect("a token");
    create_flag(&cluster.admin, &token, "default", "upsell").await;
    // Each node is asked until it serves the flag: one evaluation each
    // that is counted (before, the flag is unknown, which is not counted).
    for node in &cluster.nodes {
        let mut served = false;
        for _ in 0..200 {
            if node.evaluate("upsell", json!({})).await["value"] == false {
                served = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(served, "the node serves the new flag");
    }
    let probes = 2;
    let urls: Vec<String> = cluster
        .nodes
        .iter()
        .map(|node| format!("http://{}", node.ofrep))
        .collect();
    let output = std::process::Command::new("node")
        .arg("purchases.mjs")
        .args(["upsell", "1000"])
        .args(&urls)
        .current_dir(&js)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "purchases.mjs failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(report["evaluations"], 1000, "{report}");
    assert_eq!(report["events"], 1000, "{report}");
    assert_eq!(report["rejected"], json!([]), "{report}");
    let Cluster {
        database,
        admin,
        nodes,
        ..
    } = cluster;
    for node in nodes {
        let (code, log) = node.terminate();
        assert_eq!(code, Some(0), "{log}");
    }
    let store = store::Store::connect(&database.url)
        .await
        .expect("the store opens");
    let mut events = Vec::new();
    let mut counted = 0;
    for _ in 0..200 {
        events = store
            .events("default", &store::EventFilter::default())
            .await
            .unwrap();
        counted = store
            .flag_usage("default", time::OffsetDateTime::now_utc())
            .await
            .unwrap()
            .iter()
            .find(|u| u.flag == "upsell")
            .map_or(0, |u| u.evaluations_24h);
        if events.len() >= 1000 && counted >= 1000 + probes {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(events.len(), 1000);
    let users: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e.targeting_key.as_str()).collect();
    assert_eq!(users.len(), 1000, "one purchase per user");
    assert!(
        events
            .iter()
            .all(|e| e.name == "purchase" && e.attributes == r#"{"currency":"EUR"}"#)
    );
    let value: f64 = events.iter().filter_map(|e| e.value).sum();
    assert_eq!(Some(value), report["value"].as_f64());
    assert_eq!(counted, 1000 + probes, "every evaluation counted once");
    assert_eq!(admin.terminate().0, Some(0));
    database.drop_database().await;
}

/// The README's plain HTTP examples (`examples/events/`), in JavaScript
/// and Python, as the README shows them, send their events to a node,
/// which stores them.
#[tokio::test]
async fn the_readmes_plain_http_examples_send_events() {
    let test = "the_readmes_plain_http_examples_send_events";
    let examples = crate::workspace_root().join("examples/events");
    let readme = std::fs::read_to_string(crate::workspace_root().join("README.md")).unwrap();
    for file in ["send-event.mjs", "send_event.py"] {
        let text = std::fs::read_to_string(examples.join(file)).unwrap();
        assert!(readme.contains(&text), "README.md shows {file} as it is");
    }
    if let Err(missing) = test_support::node::node_toolchain() {
        test_support::skip(test, &missing);
        return;
    }
    let dir = scratch("events-examples");
    let serve = Serve::start_in(&dir, &[]);
    serve.wait_ready().await;
    let url = format!("http://{}", serve.ofrep);
    for (program, file) in [("node", "send-event.mjs"), ("python3", "send_event.py")] {
        let output = std::process::Command::new(program)
            .arg(file)
            .arg(&url)
            .current_dir(&examples)
            .output()
            .unwrap_or_else(|error| panic!("{program} runs: {error}"));
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && printed.starts_with("202 "),
            "{file}: {printed}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (code, log) = serve.terminate();
    assert_eq!(code, Some(0), "{log}");
    let store = store::Store::connect(&format!("sqlite:{}", dir.join("ensign.db").display()))
        .await
        .expect("the store opens");
    let mut events: Vec<(String, String, Option<f64>, String)> = store
        .events("default", &store::EventFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.targeting_key, e.value, e.attributes))
        .collect();
    events.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        events,
        [
            (
                "purchase".into(),
                "user-42".into(),
                Some(12.5),
                r#"{"currency":"EUR"}"#.into()
            ),
            (
                "signup".into(),
                "user-42".into(),
                None,
                r#"{"source":"newsletter"}"#.into()
            ),
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bad input to the real binary is refused with its code and stores
/// nothing, a partly bad batch stores its valid events, and a key past its
/// rate limit is answered 429 for events as for evaluations.
#[tokio::test]
async fn bad_events_and_a_limited_key_store_nothing_they_should_not() {
    let dir = scratch("events-bad-input");
    std::fs::write(
        dir.join("ensign.yaml"),
        "rate-limit: {requests-per-second: 1, burst: 6}\n",
    )
    .unwrap();
    let serve = Serve::start_in(&dir, &["--config", "ensign.yaml"]);
    serve.wait_ready().await;
    let deep = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
    let huge = "x".repeat(2 << 20);
    let too_many: Vec<Value> = (0..1001).map(|i| purchase(&format!("u{i}"), 1.0)).collect();
    let raw = |text: String| {
        let url = format!("http://{}/ensign/v1/events", serve.ofrep);
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .body(text)
                .send()
                .await
                .expect("OFREP answers");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // Six requests within the burst.
    for (body, status, code) in [
        ("{\"events\": [".to_owned(), 400, "INVALID_BODY"),
        (
            json!({"events": [{"name": "purchase", "context": {"targetingKey": "u1"},
                               "details": {"value": "HUGE"}}]})
            .to_string()
            .replace("\"HUGE\"", "1e999"),
            400,
            "INVALID_VALUE",
        ),
        (
            json!({"events": [{"name": "purchase", "context": {"targetingKey": "u1"},
                               "timestamp": "2999-01-01T00:00:00Z"}]})
            .to_string(),
            400,
            "TIMESTAMP_IN_FUTURE",
        ),
        (
            json!({ "events": too_many }).to_string(),
            400,
            "TOO_MANY_EVENTS",
        ),
        (
            format!(
                r#"{{"events": [{{"name": "purchase", "context": {{"targetingKey": "u1"}}, "details": {{"x": {deep}}}}}]}}"#
            ),
            400,
            "INVALID_EVENT",
        ),
    ] {
        let (answered, answer) = raw(body).await;
        assert_eq!(answered, status, "{answer}");
        assert_eq!(answer["errorCode"], code, "{answer}");
    }
    let (status, answer) = send_events(
        &serve,
        None,
        &json!({"events": [purchase("kept", 5.0), {"name": "purchase", "context": {}}]}),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["rejected"][0]["code"], "TARGETING_KEY_MISSING");
    // Past the burst (and the token or two that time adds): refused
    // before anything is read.
    let mut kept_late = Vec::new();
    let mut limited = false;
    for i in 0..5 {
        let user = format!("late-{i}");
        let (status, _) =
            send_events(&serve, None, &json!({"events": [purchase(&user, 1.0)]})).await;
        match status {
            202 => kept_late.push(user),
            429 => {
                limited = true;
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(limited, "the key's rate limit applies to events");
    // Larger than the body limit, whatever the rate: 413 or 429, never kept.
    let (status, _) = raw(format!(r#"{{"events": [], "pad": "{huge}"}}"#)).await;
    assert!(status == 413 || status == 429, "{status}");
    let (code, log) = serve.terminate();
    assert_eq!(code, Some(0), "{log}");
    let store = store::Store::connect(&format!("sqlite:{}", dir.join("ensign.db").display()))
        .await
        .expect("the store opens");
    let kept: Vec<String> = store
        .events("default", &store::EventFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.targeting_key)
        .collect();
    let mut expected = vec!["kept".to_owned()];
    expected.extend(kept_late);
    assert_eq!(kept, expected);
    let _ = std::fs::remove_dir_all(&dir);
}
