//! Experiment analysis with the real binary: `ensign analytics run` over
//! files (JSON, Markdown, charts, bad input named by its line), and an
//! embedded node that analyses its running experiment periodically, keeps
//! each result, and answers them through GraphQL, the same figures as the
//! command line computes from the node's exported data.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::serve::{Serve, graphql, scratch};
use crate::{ensign, stdout};

/// A reference case of the analytics crate: an experiment with its
/// exposures and events.
fn reference(case: &str) -> std::path::PathBuf {
    crate::workspace_root()
        .join("analytics/tests/data/reference")
        .join(case)
}

fn run_case(case: &str, extra: &[&str]) -> std::process::Output {
    let dir = reference(case);
    let path = |file: &str| dir.join(file).to_string_lossy().into_owned();
    let mut args = vec![
        "analytics".to_owned(),
        "run".to_owned(),
        "--experiment".to_owned(),
        path("experiment.json"),
        "--exposures".to_owned(),
        path("exposures.csv"),
        "--events".to_owned(),
        path("events.csv"),
    ];
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    ensign(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The keys `schema` requires of an object and every key it allows.
fn schema_keys(schema: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let keys = |value: &Value| -> BTreeSet<String> {
        match value {
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Value::Object(map) => map.keys().cloned().collect(),
            _ => BTreeSet::new(),
        }
    };
    (keys(&schema["required"]), keys(&schema["properties"]))
}

#[track_caller]
fn has_the_schemas_keys(what: &str, object: &Value, schema: &Value) {
    let (required, allowed) = schema_keys(schema);
    let present: BTreeSet<String> = object
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {object}"))
        .keys()
        .cloned()
        .collect();
    assert!(
        required.is_subset(&present),
        "{what} lacks {:?}",
        &required - &present
    );
    assert!(
        present.is_subset(&allowed),
        "{what} has {:?} beyond the schema",
        &present - &allowed
    );
}

#[test]
fn analytics_run_prints_the_report_as_json_markdown_and_charts() {
    let output = run_case("three_variants", &[]);
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_str(&stdout(&output)).expect("a JSON report");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::workspace_root().join("analytics/report.schema.json"))
            .expect("the report's schema"),
    )
    .expect("JSON");
    has_the_schemas_keys("the report", &report, &schema);
    for variant in report["variants"].as_array().expect("variants") {
        has_the_schemas_keys("a variant", variant, &schema["$defs"]["variant"]);
        for metric in variant["metrics"].as_object().expect("metrics").values() {
            has_the_schemas_keys("a metric", metric, &schema["$defs"]["metric"]);
        }
    }
    let comparisons = report["comparisons"].as_array().expect("comparisons");
    // Two metrics, two treatments each.
    assert_eq!(comparisons.len(), 4, "{report}");
    for comparison in comparisons {
        has_the_schemas_keys("a comparison", comparison, &schema["$defs"]["comparison"]);
    }
    // The figures are those the reference computed with scipy and
    // statsmodels (the analytics crate's tests hold every one of them).
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(reference("three_variants").join("expected.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        report["variants"][0]["users"],
        expected["variants"][0]["users"]
    );
    let p = |report: &Value| report["comparisons"][1]["p_value"].as_f64().unwrap();
    assert!((p(&report) - p(&expected)).abs() < 1e-12, "{report}");

    let dir = scratch("analytics-run");
    let plots = dir.join("charts");
    let output = run_case(
        "three_variants",
        &["--format", "markdown", "--plot", plots.to_str().unwrap()],
    );
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(
        text.starts_with("# Experiment Recommendation model"),
        "{text}"
    );
    assert!(text.contains("**Verdict.** "), "{text}");
    assert!(text.contains("\n## clicked\n"), "{text}");
    let mut drawn: Vec<String> = std::fs::read_dir(&plots)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    drawn.sort();
    assert_eq!(drawn, ["basket_value.png", "clicked.png"]);
    for file in &drawn {
        let bytes = std::fs::read(plots.join(file)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{file}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn analytics_run_names_what_is_wrong_with_its_input() {
    let dir = scratch("analytics-bad-input");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let experiment = write(
        "experiment.yaml",
        "name: test\nflag: checkout\ncontrol: a\nvariants: [{name: a, weight: 1}, {name: b, weight: 1}]\n\
         metrics: [{name: bought, event: purchase, kind: conversion}]\n",
    );
    let exposures = write(
        "exposures.csv",
        "flag_key,variant,targeting_key,timestamp\ncheckout,a,u1,2026-03-01T10:00:00Z\n\
         checkout,b,u2,2026-03-01T10:00:01.5Z\n",
    );
    let events = write(
        "events.csv",
        "event_name,targeting_key,timestamp,value\npurchase,u1,2026-03-01T11:00:00Z,\n",
    );
    let run = |experiment: &str, exposures: &str, events: &str| {
        let output = ensign(&[
            "analytics",
            "run",
            "--experiment",
            experiment,
            "--exposures",
            exposures,
            "--events",
            events,
        ]);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    // The good files, in YAML and CSV, analyse.
    let (code, stderr) = run(&experiment, &exposures, &events);
    assert_eq!(code, Some(0), "{stderr}");

    let cases = [
        (
            write(
                "bad-time.csv",
                "flag_key,variant,targeting_key,timestamp\ncheckout,a,u1,2026-03-01T10:00:00Z\n\
                 checkout,b,u2,yesterday\n",
            ),
            events.clone(),
            "line 3: timestamp \"yesterday\" is not RFC 3339",
        ),
        (
            write(
                "no-variant.csv",
                "flag_key,targeting_key,timestamp\ncheckout,u1,2026-03-01T10:00:00Z\n",
            ),
            events.clone(),
            "no column \"variant\"",
        ),
        (
            write(
                "empty-key.csv",
                "flag_key,variant,targeting_key,timestamp\ncheckout,a,,2026-03-01T10:00:00Z\n",
            ),
            events.clone(),
            "line 2: no targeting_key",
        ),
        (
            exposures.clone(),
            write(
                "bad-value.csv",
                "event_name,targeting_key,timestamp,value\npurchase,u1,2026-03-01T11:00:00Z,12\n\
                 purchase,u2,2026-03-01T11:00:00Z,twelve\n",
            ),
            "line 3: value \"twelve\" is not a finite number",
        ),
        (
            exposures.clone(),
            write(
                "infinite.csv",
                "event_name,targeting_key,timestamp,value\npurchase,u1,2026-03-01T11:00:00Z,inf\n",
            ),
            "line 2: value \"inf\" is not a finite number",
        ),
        (
            write("exposures.txt", "x"),
            events.clone(),
            "not a .csv or .parquet file",
        ),
    ];
    for (exposures, events, expected) in cases {
        let (code, stderr) = run(&experiment, &exposures, &events);
        assert_eq!(code, Some(2), "{expected}: {stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    for (definition, expected) in [
        (
            "name: t\nflag: f\ncontrol: z\nvariants: [{name: a, weight: 1}, {name: b, weight: 1}]\nmetrics: [{name: m, event: e, kind: sum}]\n",
            "the control \"z\" is not among the variants",
        ),
        (
            "name: t\nflag: f\ncontrol: a\nvariants: [{name: a, weight: 1}, {name: b, weight: 1}]\nmetrics: [{name: m, event: e, kind: sum}]\nalpha: 0.7\n",
            "alpha is 0.7",
        ),
        (
            "name: t\nflag: f\ncontrol: a\nvariants: [{name: a, weight: 1}, {name: b, weight: 0}]\nmetrics: [{name: m, event: e, kind: sum}]\n",
            "weights must be positive",
        ),
        (
            "name: t\nflag: f\ncontrol: a\nvariants: [{name: a, weight: 1}, {name: b, weight: 1}]\nmetrics: [{name: m, event: e, kind: median}]\n",
            "unknown variant `median`",
        ),
        ("[1, 2", "not an experiment definition"),
    ] {
        let path = write("definition.yaml", definition);
        let (code, stderr) = run(&path, &exposures, &events);
        assert_eq!(code, Some(2), "{expected}: {stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A deterministic coin with probability `p` for user `i` and `salt`.
fn coin(i: u64, salt: u64, p: f64) -> bool {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64 <= p
}

/// Asserts that two JSON values are equal, numbers within 1e-12 relative.
#[track_caller]
fn close(a: &Value, b: &Value) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-12 * y.abs(), "{x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{a} vs {b}");
            x.iter().zip(y).for_each(|(x, y)| close(x, y));
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>());
            x.iter().for_each(|(key, x)| close(x, &y[key]));
        }
        _ => assert_eq!(a, b),
    }
}

const RESULT: &str = "computedAt users alpha verdict srm { chi2 pValue mismatch } \
    multipleExposureShare variants { variant users metrics { metric count sum mean variance } } \
    comparisons { variant metric absLift relLift pValue sequentialPValue sequentialPValueHolm \
                  sequentialCi { low high } chanceToBeatControl } notes { pointer reason }";

#[tokio::test]
async fn a_running_experiment_is_analysed_periodically_and_read_through_graphql() {
    let dir = scratch("analysis-embedded");
    let serve = Serve::start_in(&dir, &["--analysis-interval", "1"]);
    serve.wait_ready().await;
    let token = serve.token.clone().expect("a first start prints a token");
    let (_, created) = graphql(
        &serve,
        &token,
        r#"mutation {
            createFlag(flagSet: "default", key: "checkout", flag: {definition: {
                state: "ENABLED", variants: {control: "A", treatment: "B"},
                defaultVariant: "control",
                targeting: {fractional: [["control", 50], ["treatment", 50]]}}}) { version }
            createExperiment(flagSet: "default", key: "checkout-test", settings: {
                flag: "checkout", control: "control", windowSeconds: 3600,
                metrics: [{name: "purchases", event: "purchase", kind: CONVERSION},
                          {name: "revenue", event: "purchase", kind: SUM}]}) { key }
            startExperiment(flagSet: "default", key: "checkout-test") { status } }"#,
    )
    .await;
    assert!(created["errors"].is_null(), "{created}");

    // The node serves the experiment's mark once its feed delivers it.
    for attempt in 0.. {
        let served = serve
            .evaluate("checkout", json!({"targetingKey": "probe"}))
            .await;
        if served["metadata"]["ensign.experiment"] == "checkout-test" {
            break;
        }
        assert!(attempt < 200, "the mark never arrived: {served}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // 2,000 users: the treatment converts at 25%, the control at 10%.
    let users = 2_000;
    let mut events = Vec::new();
    let mut per_variant = std::collections::BTreeMap::<String, u64>::new();
    for i in 0..users {
        let user = format!("user-{i}");
        let answer = serve
            .evaluate("checkout", json!({"targetingKey": user}))
            .await;
        let variant = answer["variant"].as_str().expect("a variant").to_owned();
        *per_variant.entry(variant.clone()).or_default() += 1;
        let rate = if variant == "treatment" { 0.25 } else { 0.10 };
        if coin(i, 1, rate) {
            events.push(
                json!({"name": "purchase", "context": {"targetingKey": user},
                               "details": {"value": 10 + i % 7}}),
            );
        }
    }
    let sent = events.len();
    for batch in events.chunks(500) {
        let response = reqwest::Client::new()
            .post(format!("http://{}/ensign/v1/events", serve.ofrep))
            .json(&json!({ "events": batch }))
            .send()
            .await
            .expect("the events endpoint answers");
        assert_eq!(response.status().as_u16(), 202);
    }

    // The periodic analysis (every second) catches up with everything
    // recorded; each run is kept.
    let query = format!(
        r#"{{ experiment(flagSet: "default", key: "checkout-test") {{
              health {{ users srmMismatch verdict }}
              latestResult {{ {RESULT} }}
              results(last: 100) {{ computedAt users }} }} }}"#
    );
    let mut answer = Value::Null;
    for attempt in 0.. {
        let (_, body) = graphql(&serve, &token, &query).await;
        answer = body;
        let latest = &answer["data"]["experiment"]["latestResult"];
        let converted = latest["variants"]
            .as_array()
            .map(|variants| {
                variants
                    .iter()
                    .map(|v| v["metrics"][0]["count"].as_u64().unwrap_or(0))
                    .sum::<u64>()
            })
            .unwrap_or(0);
        if latest["users"] == users + 1 && converted == sent as u64 {
            break;
        }
        assert!(attempt < 600, "the analysis never caught up: {answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let experiment = &answer["data"]["experiment"];
    let latest = &experiment["latestResult"];
    let verdict = latest["verdict"].as_str().unwrap_or_default();
    assert!(
        verdict.starts_with("treatment beats control on purchases: +"),
        "{verdict}"
    );
    assert!(verdict.contains("The sample is healthy"), "{verdict}");
    assert_eq!(latest["srm"]["mismatch"], false, "{latest}");
    assert_eq!(latest["alpha"], 0.05);
    let metrics: Vec<&str> = latest["variants"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["metric"].as_str().unwrap())
        .collect();
    assert_eq!(metrics, ["purchases", "revenue"], "the experiment's order");
    let purchases = &latest["comparisons"][0];
    assert_eq!(purchases["metric"], "purchases");
    assert!(
        purchases["sequentialPValueHolm"].as_f64().unwrap() < 0.05,
        "{purchases}"
    );
    assert!(
        purchases["sequentialCi"]["low"].as_f64().unwrap() > 0.0,
        "{purchases}"
    );
    assert!(
        purchases["chanceToBeatControl"].as_f64().unwrap() > 0.999,
        "{purchases}"
    );
    assert_eq!(experiment["health"]["users"], users + 1);
    assert_eq!(experiment["health"]["verdict"], latest["verdict"]);
    // Results form a history, oldest first.
    let history = experiment["results"].as_array().unwrap();
    assert!(history.len() >= 2, "{experiment}");
    let times: Vec<&str> = history
        .iter()
        .map(|r| r["computedAt"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "{times:?}");

    // runAnalysis computes the same now, and names what it cannot analyse.
    let (_, run) = graphql(
        &serve,
        &token,
        &format!(
            r#"mutation {{ runAnalysis(flagSet: "default", key: "checkout-test") {{ {RESULT} }} }}"#
        ),
    )
    .await;
    let now = &run["data"]["runAnalysis"];
    assert_eq!(now["users"], latest["users"], "{run}");
    // The same figures, but for the last bits: per-user sums are added in
    // whatever order the grouping yields.
    close(&now["comparisons"], &latest["comparisons"]);
    let (_, missing) = graphql(
        &serve,
        &token,
        r#"mutation { runAnalysis(flagSet: "default", key: "ghost") { users } }"#,
    )
    .await;
    assert_eq!(
        missing["errors"][0]["extensions"]["code"], "EXPERIMENT_NOT_FOUND",
        "{missing}"
    );
    let (_, draft) = graphql(
        &serve,
        &token,
        r#"mutation {
            createExperiment(flagSet: "default", key: "later", settings: {
                flag: "checkout", control: "control",
                metrics: [{name: "purchases", event: "purchase", kind: CONVERSION}]}) { key } }"#,
    )
    .await;
    assert!(draft["errors"].is_null(), "{draft}");
    let (_, refused) = graphql(
        &serve,
        &token,
        r#"mutation { runAnalysis(flagSet: "default", key: "later") { users } }"#,
    )
    .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "ANALYSIS_FAILED",
        "{refused}"
    );
    // The list shows each experiment's health: null before any analysis.
    let (_, list) = graphql(
        &serve,
        &token,
        r#"{ experiments(flagSet: "default") { key health { users srmMismatch } } }"#,
    )
    .await;
    assert_eq!(
        list["data"]["experiments"],
        json!([{"key": "later", "health": null},
               {"key": "checkout-test", "health": {"users": users + 1, "srmMismatch": false}}]),
        "{list}"
    );

    // The node's data, exported, gives the command line the same figures:
    // the store's input and the files' go through the same code.
    let (code, log) = serve.terminate();
    assert_eq!(code, Some(0), "{log}");
    let url = format!("sqlite:{}", dir.join("ensign.db").display());

    // `ensign analytics run` runs the job once on the store: the running
    // experiment is analysed and its result kept, and the charts show the
    // whole history.
    let charts = dir.join("charts");
    let once = ensign(&[
        "analytics",
        "run",
        "--database-url",
        &url,
        "--format",
        "markdown",
        "--plot",
        charts.to_str().unwrap(),
    ]);
    assert!(once.status.success(), "{once:?}");
    let text = stdout(&once);
    assert!(
        text.starts_with("# Experiment checkout-test (flag `checkout`)"),
        "{text}"
    );
    assert!(
        text.contains("**Verdict.** treatment beats control on purchases"),
        "{text}"
    );
    let drawn = charts.join("default/checkout-test");
    for metric in ["purchases.png", "revenue.png"] {
        assert!(
            drawn.join(metric).is_file(),
            "{metric} in {}",
            drawn.display()
        );
    }
    let store = store::Store::connect(&url).await.unwrap();
    let kept = store
        .results("default", "checkout-test", 1000)
        .await
        .unwrap();
    // The job's (some more ran after the history was read), runAnalysis's
    // and this run's.
    assert!(kept.len() >= history.len() + 2, "{} results", kept.len());
    // A draft cannot be analysed: said so, with a failing status.
    let draft = ensign(&[
        "analytics",
        "run",
        "--database-url",
        &url,
        "--flag-set",
        "default",
        "--key",
        "later",
    ]);
    assert_eq!(draft.status.code(), Some(1), "{draft:?}");
    assert!(
        String::from_utf8_lossy(&draft.stderr).contains("has no expected weights yet"),
        "{draft:?}"
    );

    let exported = |args: &[&str], file: &str| {
        let path = dir.join(file);
        let mut all = args.to_vec();
        let path_text = path.to_string_lossy().into_owned();
        all.extend(["--database-url", &url, "--output", &path_text]);
        let output = ensign(&all);
        assert!(output.status.success(), "{output:?}");
        path_text
    };
    let exposures = exported(
        &[
            "exposures",
            "export",
            "--experiment",
            "checkout-test",
            "--flag-set",
            "default",
        ],
        "exposures.csv",
    );
    let events = exported(&["events", "export", "--flag-set", "default"], "events.csv");
    let definition = dir.join("experiment.json");
    std::fs::write(
        &definition,
        json!({"name": "checkout-test", "flag": "checkout", "control": "control",
               "variants": [{"name": "control", "weight": 50}, {"name": "treatment", "weight": 50}],
               "metrics": [{"name": "purchases", "event": "purchase", "kind": "conversion"},
                           {"name": "revenue", "event": "purchase", "kind": "sum"}],
               "window_seconds": 3600})
        .to_string(),
    )
    .unwrap();
    let output = ensign(&[
        "analytics",
        "run",
        "--experiment",
        definition.to_str().unwrap(),
        "--exposures",
        &exposures,
        "--events",
        &events,
    ]);
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let users_of = |variant: &Value| variant["users"].as_u64().unwrap();
    assert_eq!(
        report["variants"]
            .as_array()
            .unwrap()
            .iter()
            .map(users_of)
            .sum::<u64>(),
        users + 1
    );
    for (cli, api) in report["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .zip(latest["comparisons"].as_array().unwrap())
    {
        for (cli_field, api_field) in [
            ("abs_lift", "absLift"),
            ("p_value", "pValue"),
            ("sequential_p_value", "sequentialPValue"),
        ] {
            let (a, b) = (
                cli[cli_field].as_f64().unwrap(),
                api[api_field].as_f64().unwrap(),
            );
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1e-300),
                "{cli_field}: {a} vs {b}"
            );
        }
    }

    // The same data exported as Parquet partitioned by day gives the same
    // report to the last bit, and imports into another store whole.
    let parquet = |args: &[&str], folder: &str| {
        let path = dir.join(folder);
        let path_text = path.to_string_lossy().into_owned();
        let mut all = args.to_vec();
        all.extend([
            "--database-url",
            &url,
            "--format",
            "parquet",
            "--output",
            &path_text,
        ]);
        let output = ensign(&all);
        assert!(output.status.success(), "{output:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("daily partitions"),
            "{output:?}"
        );
        path_text
    };
    let exposures_dir = parquet(
        &[
            "exposures",
            "export",
            "--experiment",
            "checkout-test",
            "--flag-set",
            "default",
        ],
        "exposures-parquet",
    );
    let events_dir = parquet(
        &["events", "export", "--flag-set", "default"],
        "events-parquet",
    );
    let partitions: Vec<String> = std::fs::read_dir(&exposures_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !partitions.is_empty() && partitions.iter().all(|p| p.starts_with("date=")),
        "{partitions:?}"
    );
    let from_parquet = ensign(&[
        "analytics",
        "run",
        "--experiment",
        definition.to_str().unwrap(),
        "--exposures",
        &exposures_dir,
        "--events",
        &events_dir,
    ]);
    assert!(from_parquet.status.success(), "{from_parquet:?}");
    let parquet_report: Value = serde_json::from_str(&stdout(&from_parquet)).unwrap();
    assert_eq!(parquet_report["variants"], report["variants"]);
    assert_eq!(parquet_report["comparisons"], report["comparisons"]);
    // Exporting into the same folder again is refused, not mixed.
    let again = ensign(&[
        "events",
        "export",
        "--flag-set",
        "default",
        "--database-url",
        &url,
        "--format",
        "parquet",
        "--output",
        &events_dir,
    ]);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("holds partitions"),
        "{again:?}"
    );
    let other = format!("sqlite:{}", dir.join("other.db").display());
    for args in [
        vec![
            "exposures",
            "import",
            "--experiment",
            "checkout-test",
            "--flag-set",
            "lab",
            &exposures_dir,
        ],
        vec!["events", "import", "--flag-set", "lab", &events_dir],
    ] {
        let mut all = args.clone();
        all.extend(["--database-url", &other]);
        let output = ensign(&all);
        assert!(output.status.success(), "{output:?}");
        // The same files again add nothing.
        let output = ensign(&all);
        assert!(
            stdout(&output).contains("before; nothing was written"),
            "{output:?}"
        );
    }
    let imported = store::Store::connect(&other).await.unwrap();
    assert_eq!(
        imported
            .exposures("lab", "checkout-test")
            .await
            .unwrap()
            .len(),
        usize::try_from(users + 1).unwrap()
    );
    assert_eq!(
        imported
            .events("lab", &store::EventFilter::default())
            .await
            .unwrap()
            .len(),
        sent
    );
    let _ = std::fs::remove_dir_all(&dir);
}
