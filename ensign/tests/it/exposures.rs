//! Exposures end to end with the real binary: an embedded node records the
//! evaluations its running experiment's split decides, once per user and
//! variant, and what it recorded before SIGTERM is in its store after.

use serde_json::{Value, json};

use crate::serve::{Serve, graphql, scratch};

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
    let (_, created) = graphql(
        &serve,
        &token,
        r#"mutation { createFlag(flagSet: "default", key: "checkout", flag: {definition: {
            state: "ENABLED", variants: {control: "A", treatment: "B", staff: "S"},
            defaultVariant: "control",
            targeting: {if: [{var: "staff"}, "staff",
                             {fractional: [["control", 50], ["treatment", 50]]}]}}}) { version } }"#,
    )
    .await;
    assert!(created["errors"].is_null(), "{created}");
    let (_, experiment) = graphql(
        &serve,
        &token,
        r#"mutation {
            createExperiment(flagSet: "default", key: "checkout-test", settings: {
                flag: "checkout", control: "control",
                metrics: [{name: "purchases", event: "purchase", kind: CONVERSION}]}) { key }
            startExperiment(flagSet: "default", key: "checkout-test") { status } }"#,
    )
    .await;
    assert_eq!(
        experiment["data"]["startExperiment"]["status"], "RUNNING",
        "{experiment}"
    );
    // The node serves the mark once the store's feed has delivered it.
    let mut served = Value::Null;
    for _ in 0..200 {
        served = serve
            .evaluate("checkout", json!({"targetingKey": "probe"}))
            .await;
        if served["metadata"]["ensign.experiment"] == "checkout-test" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(
        served["metadata"]["ensign.experiment"], "checkout-test",
        "{served}"
    );

    // 300 users, each evaluated twice; staff and anonymous evaluations are
    // not exposures.
    let mut answered = std::collections::BTreeMap::new();
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

    let (code, log) = serve.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("Exposure writer stopped."), "{log}");

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
