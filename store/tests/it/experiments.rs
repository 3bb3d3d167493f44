//! Experiments in the store: created as drafts against the flag as it is,
//! edited only as drafts, started and stopped with their flag marked as
//! exposure-tracked in the published document, every change audited; and
//! what is refused, with nothing written; and their results, kept as a
//! history.

use serde_json::{Value, json};
use store::{
    Action, AuditFilter, ExperimentInput, ExperimentStatus, FlagChange, Metric, MetricKind,
    RolloutWeight, Store, StoreError, Subject,
};

use test_support::{TestDb, input, with_flag_set};

fn split_flag() -> Value {
    json!({
        "state": "ENABLED",
        "variants": {"control": "A", "treatment": "B", "off": "-"},
        "defaultVariant": "off",
        "targeting": {"fractional": [["control", 50], ["treatment", 50]]}
    })
}

fn experiment(flag: &str) -> ExperimentInput {
    ExperimentInput {
        flag: flag.into(),
        control: "control".into(),
        weights: None,
        metrics: vec![Metric {
            name: "purchases".into(),
            event: "purchase".into(),
            kind: MetricKind::Conversion,
        }],
        window_seconds: None,
        alpha: None,
        sequential_tuning: None,
    }
}

/// The `ensign.experiment` metadata of `flag` in the published document.
async fn published_mark(store: &Store, flag: &str) -> Value {
    let (_, document) = store.document("production").await.unwrap();
    document["flags"][flag]["metadata"]["ensign.experiment"].clone()
}

#[tokio::test]
async fn an_experiment_goes_from_draft_to_running_to_stopped_audited() {
    for db in TestDb::both("an_experiment_goes_from_draft_to_running_to_stopped_audited").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        store
            .write_flag(
                &actor,
                "production",
                "checkout",
                FlagChange::Create(input(split_flag())),
            )
            .await
            .unwrap();

        let draft = store
            .create_experiment(
                &actor,
                "production",
                "checkout-test",
                experiment("checkout"),
            )
            .await
            .unwrap();
        assert_eq!(draft.status, ExperimentStatus::Draft);
        assert_eq!(draft.window_seconds, 7 * 24 * 3600);
        assert_eq!(draft.weights, None);
        assert_eq!(
            published_mark(store, "checkout").await,
            Value::Null,
            "{}",
            db.backend
        );

        let mut edited = experiment("checkout");
        edited.window_seconds = Some(3600);
        edited.metrics.push(Metric {
            name: "revenue".into(),
            event: "purchase".into(),
            kind: MetricKind::Sum,
        });
        let draft = store
            .update_experiment(&actor, "production", "checkout-test", 1, edited.clone())
            .await
            .unwrap();
        assert_eq!(
            (draft.version, draft.window_seconds, draft.metrics.len()),
            (2, 3600, 2)
        );
        // A stale version is refused.
        let stale = store
            .update_experiment(&actor, "production", "checkout-test", 1, edited.clone())
            .await
            .unwrap_err();
        assert_eq!(stale.code(), "VERSION_CONFLICT", "{stale}");
        assert!(
            stale
                .to_string()
                .starts_with("experiment \"checkout-test\""),
            "{stale}"
        );

        let set_version = store.flag_set("production").await.unwrap().version;
        let running = store
            .start_experiment(&actor, "production", "checkout-test")
            .await
            .unwrap();
        assert_eq!(running.status, ExperimentStatus::Running);
        assert!(running.started_at.is_some());
        // The expected weights are the flag's split, fixed at the start.
        assert_eq!(
            running.weights,
            Some(vec![
                RolloutWeight {
                    variant: "control".into(),
                    weight: 50
                },
                RolloutWeight {
                    variant: "treatment".into(),
                    weight: 50
                },
            ])
        );
        assert_eq!(
            store.flag_set("production").await.unwrap().version,
            set_version + 1
        );
        assert_eq!(
            published_mark(store, "checkout").await,
            json!("checkout-test")
        );
        // The flag's own definition is unchanged: only what is published
        // carries the mark.
        let flag = store.flag("production", "checkout").await.unwrap();
        assert_eq!(flag.definition, split_flag());
        // A running experiment is not edited.
        let refused = store
            .update_experiment(&actor, "production", "checkout-test", 3, edited)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "INVALID_INPUT", "{refused}");

        let stopped = store
            .stop_experiment(&actor, "production", "checkout-test")
            .await
            .unwrap();
        assert_eq!(stopped.status, ExperimentStatus::Stopped);
        assert!(stopped.stopped_at.is_some());
        assert_eq!(published_mark(store, "checkout").await, Value::Null);
        assert_eq!(
            store.flag_set("production").await.unwrap().version,
            set_version + 2
        );

        let listed = store
            .experiments("production", Some("checkout"))
            .await
            .unwrap();
        assert_eq!(listed, vec![stopped.clone()]);
        assert_eq!(
            store
                .experiment("production", "checkout-test")
                .await
                .unwrap(),
            stopped
        );

        let trail = store
            .audit(&AuditFilter {
                flag_set: Some("production".into()),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        let actions: Vec<Action> = trail
            .items
            .iter()
            .filter(|e| e.subject == Subject::Experiment)
            .map(|e| e.action)
            .collect();
        assert_eq!(
            actions,
            [
                Action::StopExperiment,
                Action::StartExperiment,
                Action::Update,
                Action::Create
            ]
        );
        let start = trail
            .items
            .iter()
            .find(|e| e.action == Action::StartExperiment)
            .unwrap();
        assert_eq!(start.before.as_ref().unwrap()["status"], "draft");
        assert_eq!(start.after.as_ref().unwrap()["status"], "running");
        assert!(start.diff.is_some());
        db.drop_all().await;
    }
}

#[tokio::test]
async fn bad_experiments_are_refused_and_nothing_is_written() {
    for db in TestDb::both("bad_experiments_are_refused_and_nothing_is_written").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        store
            .write_flag(
                &actor,
                "production",
                "checkout",
                FlagChange::Create(input(split_flag())),
            )
            .await
            .unwrap();
        let mut no_split = split_flag();
        no_split["targeting"] = json!({"if": [{"var": "beta"}, "treatment"]});
        store
            .write_flag(
                &actor,
                "production",
                "plain",
                FlagChange::Create(input(no_split)),
            )
            .await
            .unwrap();

        let cases: Vec<(&str, &str, ExperimentInput, &str)> = vec![
            ("x", "nope", experiment("missing"), "FLAG_NOT_FOUND"),
            (
                "x",
                "bad control",
                ExperimentInput {
                    control: "z".into(),
                    ..experiment("checkout")
                },
                "INVALID_INPUT",
            ),
            (
                "x",
                "unknown weight",
                ExperimentInput {
                    weights: Some(vec![
                        RolloutWeight {
                            variant: "control".into(),
                            weight: 1,
                        },
                        RolloutWeight {
                            variant: "zz".into(),
                            weight: 1,
                        },
                    ]),
                    ..experiment("checkout")
                },
                "INVALID_INPUT",
            ),
            (
                "x",
                "zero weights",
                ExperimentInput {
                    weights: Some(vec![RolloutWeight {
                        variant: "control".into(),
                        weight: 0,
                    }]),
                    ..experiment("checkout")
                },
                "INVALID_INPUT",
            ),
            (
                "x",
                "control left out",
                ExperimentInput {
                    weights: Some(vec![RolloutWeight {
                        variant: "treatment".into(),
                        weight: 1,
                    }]),
                    ..experiment("checkout")
                },
                "INVALID_INPUT",
            ),
            (
                "x",
                "twice weighted",
                ExperimentInput {
                    weights: Some(vec![
                        RolloutWeight {
                            variant: "control".into(),
                            weight: 1,
                        },
                        RolloutWeight {
                            variant: "control".into(),
                            weight: 1,
                        },
                    ]),
                    ..experiment("checkout")
                },
                "INVALID_INPUT",
            ),
            (
                "x",
                "blank metric",
                ExperimentInput {
                    metrics: vec![Metric {
                        name: " ".into(),
                        event: "e".into(),
                        kind: MetricKind::Sum,
                    }],
                    ..experiment("checkout")
                },
                "INVALID_INPUT",
            ),
            (
                "x",
                "huge event name",
                ExperimentInput {
                    metrics: vec![Metric {
                        name: "m".into(),
                        event: "e".repeat(256),
                        kind: MetricKind::Sum,
                    }],
                    ..experiment("checkout")
                },
                "INVALID_INPUT",
            ),
            (
                "x",
                "window zero",
                ExperimentInput {
                    window_seconds: Some(0),
                    ..experiment("checkout")
                },
                "INVALID_INPUT",
            ),
            (
                "x",
                "window over a year",
                ExperimentInput {
                    window_seconds: Some(366 * 86400),
                    ..experiment("checkout")
                },
                "INVALID_INPUT",
            ),
            (
                "x",
                "alpha zero",
                ExperimentInput {
                    alpha: Some(0.0),
                    ..experiment("checkout")
                },
                "INVALID_INPUT",
            ),
            (
                "x",
                "alpha one half",
                ExperimentInput {
                    alpha: Some(0.5),
                    ..experiment("checkout")
                },
                "INVALID_INPUT",
            ),
            (
                "x",
                "alpha not a number",
                ExperimentInput {
                    alpha: Some(f64::NAN),
                    ..experiment("checkout")
                },
                "INVALID_INPUT",
            ),
            (
                "x",
                "tuning zero",
                ExperimentInput {
                    sequential_tuning: Some(0.0),
                    ..experiment("checkout")
                },
                "INVALID_INPUT",
            ),
            (
                "x",
                "tuning infinite",
                ExperimentInput {
                    sequential_tuning: Some(f64::INFINITY),
                    ..experiment("checkout")
                },
                "INVALID_INPUT",
            ),
            (
                "bad\u{202e}key",
                "invalid key",
                experiment("checkout"),
                "INVALID_KEY",
            ),
        ];
        for (key, what, input, code) in cases {
            let error = store
                .create_experiment(&actor, "production", key, input)
                .await
                .unwrap_err();
            assert_eq!(error.code(), code, "{what}: {error}");
        }
        assert!(
            store
                .experiments("production", None)
                .await
                .unwrap()
                .is_empty()
        );

        // A draft on a flag without a split, or without metrics, does not
        // start; a second experiment of a flag does not run beside the first.
        store
            .create_experiment(&actor, "production", "plain-test", experiment("plain"))
            .await
            .unwrap();
        let error = store
            .start_experiment(&actor, "production", "plain-test")
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_INPUT", "{error}");
        store
            .create_experiment(
                &actor,
                "production",
                "no-metrics",
                ExperimentInput {
                    metrics: vec![],
                    ..experiment("checkout")
                },
            )
            .await
            .unwrap();
        let error = store
            .start_experiment(&actor, "production", "no-metrics")
            .await
            .unwrap_err();
        assert!(error.to_string().contains("no metric"), "{error}");
        store
            .create_experiment(&actor, "production", "first", experiment("checkout"))
            .await
            .unwrap();
        store
            .create_experiment(&actor, "production", "second", experiment("checkout"))
            .await
            .unwrap();
        let duplicate = store
            .create_experiment(&actor, "production", "first", experiment("checkout"))
            .await
            .unwrap_err();
        assert_eq!(duplicate.code(), "ALREADY_EXISTS", "{duplicate}");
        store
            .start_experiment(&actor, "production", "first")
            .await
            .unwrap();
        let version = store.flag_set("production").await.unwrap().version;
        let error = store
            .start_experiment(&actor, "production", "second")
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("already in running experiment"),
            "{error}"
        );
        assert_eq!(store.flag_set("production").await.unwrap().version, version);
        assert_eq!(published_mark(store, "checkout").await, json!("first"));
        // Stopping twice, starting a stopped one, an unknown key.
        store
            .stop_experiment(&actor, "production", "first")
            .await
            .unwrap();
        for error in [
            store
                .stop_experiment(&actor, "production", "first")
                .await
                .unwrap_err(),
            store
                .start_experiment(&actor, "production", "first")
                .await
                .unwrap_err(),
        ] {
            assert_eq!(error.code(), "INVALID_INPUT", "{error}");
        }
        let missing = store.experiment("production", "ghost").await.unwrap_err();
        assert!(
            matches!(missing, StoreError::ExperimentNotFound { .. }),
            "{missing}"
        );
        assert_eq!(missing.code(), "EXPERIMENT_NOT_FOUND");
        db.drop_all().await;
    }
}

#[tokio::test]
async fn results_form_a_history_of_each_experiment() {
    for db in TestDb::both("results_form_a_history_of_each_experiment").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        store
            .write_flag(
                &actor,
                "production",
                "checkout",
                FlagChange::Create(input(split_flag())),
            )
            .await
            .unwrap();
        let draft = store
            .create_experiment(
                &actor,
                "production",
                "checkout-test",
                ExperimentInput {
                    alpha: Some(0.1),
                    sequential_tuning: Some(1000.0),
                    ..experiment("checkout")
                },
            )
            .await
            .unwrap();
        assert_eq!((draft.alpha, draft.sequential_tuning), (0.1, 1000.0));
        assert!(store.running_experiments().await.unwrap().is_empty());
        store
            .start_experiment(&actor, "production", "checkout-test")
            .await
            .unwrap();
        let running = store.running_experiments().await.unwrap();
        assert_eq!(
            running
                .iter()
                .map(|e| (e.flag_set.as_str(), e.key.as_str(), e.alpha))
                .collect::<Vec<_>>(),
            [("production", "checkout-test", 0.1)]
        );

        let hour = time::Duration::hours(1);
        let start = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        // Written out of order: the history is by the time each ran.
        for (hours, users) in [(2, 300), (0, 100), (1, 200)] {
            store
                .record_result(
                    "production",
                    "checkout-test",
                    store::NewResult {
                        computed_at: start + hour * hours,
                        users,
                        srm_mismatch: users == 300,
                        report: json!({"users": users}),
                    },
                )
                .await
                .unwrap();
        }
        let history = store
            .results("production", "checkout-test", 10)
            .await
            .unwrap();
        assert_eq!(
            history
                .iter()
                .map(|r| (
                    r.computed_at - start,
                    r.users,
                    r.srm_mismatch,
                    r.report["users"].clone()
                ))
                .collect::<Vec<_>>(),
            [
                (hour * 2, 300, true, json!(300)),
                (hour, 200, false, json!(200)),
                (time::Duration::ZERO, 100, false, json!(100)),
            ]
        );
        let latest = store
            .results("production", "checkout-test", 1)
            .await
            .unwrap();
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].users, 300);
        assert_eq!(
            store.results_of(draft.id, 2).await.unwrap().len(),
            2,
            "a limit below the history's length"
        );

        // A report that is not an object, an unknown experiment: refused,
        // nothing written.
        let error = store
            .record_result(
                "production",
                "checkout-test",
                store::NewResult {
                    computed_at: start,
                    users: 0,
                    srm_mismatch: false,
                    report: json!([1, 2]),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_INPUT", "{error}");
        let error = store.results("production", "ghost", 10).await.unwrap_err();
        assert_eq!(error.code(), "EXPERIMENT_NOT_FOUND", "{error}");
        assert_eq!(
            store
                .results("production", "checkout-test", 10)
                .await
                .unwrap()
                .len(),
            3
        );

        store
            .stop_experiment(&actor, "production", "checkout-test")
            .await
            .unwrap();
        assert!(store.running_experiments().await.unwrap().is_empty());
        db.drop_all().await;
    }
}
