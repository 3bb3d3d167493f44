//! Guarded rollouts in the store: scheduled only as monotone ramps, their
//! flag exposure-tracked while they run, each step after the first held
//! until the guard clears the one before, and stopped by the guard
//! (paused, or restored to the starting weights) with the figures audited.

use serde_json::{Value, json};
use store::{
    Action, Actor, AuditFilter, FlagChange, GuardAction, GuardCheck, GuardDirection, GuardMetric,
    GuardVerdict, MetricKind, NewRollout, RolloutGuard, RolloutRecord, RolloutStatus, RolloutStep,
    RolloutWeight, Store, StoreError, Subject, fractional_weights,
};
use time::{Duration, OffsetDateTime};

use test_support::{TestDb, input, with_flag_set};

fn ramp_flag() -> Value {
    json!({
        "state": "ENABLED",
        "variants": {"new": "B", "old": "A"},
        "defaultVariant": "old",
        "targeting": {"fractional": [["new", 0], ["old", 100]]}
    })
}

fn guard(action: GuardAction) -> RolloutGuard {
    RolloutGuard {
        metric: GuardMetric {
            event: "purchase".into(),
            kind: MetricKind::Conversion,
            window_seconds: 86_400,
        },
        direction: GuardDirection::HigherIsBetter,
        tolerance: 0.02,
        min_users: 1_000,
        action,
    }
}

/// Steps to `shares` percent of `new`, all due now.
fn ramp(shares: &[u32]) -> Vec<RolloutStep> {
    let at = OffsetDateTime::now_utc() - Duration::hours(1);
    shares
        .iter()
        .enumerate()
        .map(|(i, share)| RolloutStep {
            at: at + Duration::seconds(i as i64),
            weights: vec![
                RolloutWeight {
                    variant: "new".into(),
                    weight: *share,
                },
                RolloutWeight {
                    variant: "old".into(),
                    weight: 100 - share,
                },
            ],
        })
        .collect()
}

fn guarded(shares: &[u32], action: GuardAction) -> NewRollout {
    NewRollout {
        flag_set: "production".into(),
        flag: "checkout".into(),
        steps: ramp(shares),
        guard: Some(guard(action)),
    }
}

fn check(step: usize, verdict: GuardVerdict) -> GuardCheck {
    GuardCheck {
        step,
        checked_at: OffsetDateTime::UNIX_EPOCH + Duration::days(20_000),
        verdict,
        old_users: 900,
        new_users: 300,
        lift: Some(-0.2),
        interval: Some([-0.31, -0.09]),
        reason: None,
    }
}

async fn setup(store: &Store) -> Actor {
    let actor = with_flag_set(store).await;
    store
        .write_flag(
            &actor,
            "production",
            "checkout",
            FlagChange::Create(input(ramp_flag())),
        )
        .await
        .unwrap();
    actor
}

/// The `ensign.experiment` mark of the flag in the published document.
async fn published_mark(store: &Store) -> Value {
    let (_, document) = store.document("production").await.unwrap();
    document["flags"]["checkout"]["metadata"]["ensign.experiment"].clone()
}

async fn weights(store: &Store) -> Vec<(String, u32)> {
    let flag = store.flag("production", "checkout").await.unwrap();
    fractional_weights(&flag.definition).unwrap()
}

/// Runs the rollout's due steps now, as the scheduler does.
async fn run(store: &Store, rollout: &RolloutRecord) -> RolloutRecord {
    while store
        .run_rollout_step(rollout.id, OffsetDateTime::now_utc())
        .await
        .unwrap()
        .is_some()
    {}
    store.rollout(rollout.id).await.unwrap()
}

#[tokio::test]
async fn a_guarded_rollout_advances_only_as_its_guard_clears_each_step() {
    for db in TestDb::both("a_guarded_rollout_advances_only_as_its_guard_clears_each_step").await {
        let store = &db.store;
        let actor = setup(store).await;
        let rollout = store
            .schedule_rollout(&actor, guarded(&[1, 10, 50], GuardAction::Pause))
            .await
            .unwrap();
        assert_eq!(rollout.guarded_variant.as_deref(), Some("new"));
        assert_eq!(rollout.guard, Some(guard(GuardAction::Pause)));
        assert_eq!(published_mark(store).await, json!(rollout.exposure_key()));

        // The first step needs no check; the second waits for one.
        let after_first = run(store, &rollout).await;
        assert_eq!(after_first.next_step, 1, "{}", db.backend);
        assert_eq!(after_first.status, RolloutStatus::Running);
        assert!(after_first.step_started_at.is_some());
        assert_eq!(
            after_first.initial_weights,
            Some(vec![
                RolloutWeight {
                    variant: "new".into(),
                    weight: 0
                },
                RolloutWeight {
                    variant: "old".into(),
                    weight: 100
                },
            ])
        );
        assert_eq!(weights(store).await[0], ("new".into(), 1));

        // Too few users, then an undefined lift: still waiting.
        for verdict in [GuardVerdict::TooFewUsers, GuardVerdict::Undefined] {
            let checked = store
                .record_guard_check(rollout.id, &check(0, verdict))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(checked.guard_check, Some(check(0, verdict)));
            assert_eq!(run(store, &rollout).await.next_step, 1, "{verdict:?}");
        }
        // A check of another step is refused, and clears nothing.
        assert!(
            store
                .record_guard_check(rollout.id, &check(1, GuardVerdict::Healthy))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(run(store, &rollout).await.next_step, 1);

        // Healthy clears the next step, and only it. The clearance is
        // audited with its figures once, however often it is found again;
        // the checks that only wait were not audited.
        let clears = || async {
            store
                .audit(&AuditFilter {
                    limit: 100,
                    ..AuditFilter::default()
                })
                .await
                .unwrap()
                .items
                .into_iter()
                .filter(|e| e.subject == Subject::Rollout && e.action == Action::GuardClear)
                .collect::<Vec<_>>()
        };
        assert!(clears().await.is_empty());
        for _ in 0..2 {
            store
                .record_guard_check(rollout.id, &check(0, GuardVerdict::Healthy))
                .await
                .unwrap()
                .unwrap();
        }
        let cleared = clears().await;
        assert_eq!(cleared.len(), 1, "{}", db.backend);
        let after = cleared[0].after.as_ref().unwrap();
        assert_eq!(after["guardCheck"]["verdict"], "healthy");
        assert_eq!(after["guardCheck"]["step"], 0);
        assert_eq!(after["guard"]["tolerance"], 0.02);
        assert_eq!(cleared[0].actor, rollout.actor());
        assert_eq!(run(store, &rollout).await.next_step, 2);
        store
            .record_guard_check(rollout.id, &check(1, GuardVerdict::Healthy))
            .await
            .unwrap()
            .unwrap();
        let done = run(store, &rollout).await;
        assert_eq!(done.status, RolloutStatus::Done);
        assert_eq!(weights(store).await[0], ("new".into(), 50));
        // Over: the flag is no longer tracked, nor checked.
        assert_eq!(published_mark(store).await, Value::Null);
        assert!(store.guarded_rollouts().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_regression_pauses_or_restores_and_the_figures_are_audited() {
    for db in TestDb::both("a_regression_pauses_or_restores_and_the_figures_are_audited").await {
        let store = &db.store;
        let actor = setup(store).await;
        // The first rollout pauses at 10%; the second starts there, steps to
        // 30% and is restored to 10%.
        for (action, status, first, share) in [
            (GuardAction::Pause, RolloutStatus::Paused, 10, 10),
            (GuardAction::Restore, RolloutStatus::Restored, 30, 10),
        ] {
            let rollout = store
                .schedule_rollout(&actor, guarded(&[first, 50], action))
                .await
                .unwrap();
            let running = run(store, &rollout).await;
            assert_eq!(running.next_step, 1);
            assert_eq!(weights(store).await[0], ("new".into(), first));
            assert_eq!(
                store
                    .guarded_rollouts()
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.id)
                    .collect::<Vec<_>>(),
                [rollout.id]
            );
            // A stale check (of another step) stops nothing.
            assert!(
                store
                    .stop_guarded_rollout(rollout.id, &check(1, GuardVerdict::Regressed))
                    .await
                    .unwrap()
                    .is_none()
            );
            let stop = store
                .stop_guarded_rollout(rollout.id, &check(0, GuardVerdict::Regressed))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(stop.rollout.status, status, "{}", db.backend);
            assert_eq!(
                stop.restored_version.is_some(),
                action == GuardAction::Restore
            );
            assert_eq!(weights(store).await[0], ("new".into(), share));
            assert_eq!(published_mark(store).await, Value::Null);
            // Stopped for good: no further step, no second stop.
            let stopped = run(store, &rollout).await;
            assert_eq!((stopped.status, stopped.next_step), (status, 1));
            assert!(
                store
                    .stop_guarded_rollout(rollout.id, &check(0, GuardVerdict::Regressed))
                    .await
                    .unwrap()
                    .is_none()
            );

            let audit = store
                .audit(&AuditFilter {
                    limit: 200,
                    ..AuditFilter::default()
                })
                .await
                .unwrap()
                .items;
            let stopped = audit
                .iter()
                .find(|e| {
                    e.subject == Subject::Rollout
                        && e.action == Action::GuardStop
                        && e.after.as_ref().unwrap()["id"] == rollout.id
                })
                .expect("the stop is audited");
            let after = stopped.after.as_ref().unwrap();
            assert_eq!(after["status"], status.as_str());
            assert_eq!(after["guard"]["tolerance"], 0.02);
            assert_eq!(after["guard"]["variant"], "new");
            assert_eq!(after["guardCheck"]["oldUsers"], 900);
            assert_eq!(after["guardCheck"]["newUsers"], 300);
            assert_eq!(after["guardCheck"]["lift"], -0.2);
            assert_eq!(after["guardCheck"]["interval"], json!([-0.31, -0.09]));
            assert_eq!(after["guardCheck"]["verdict"], "regressed");
        }
        let restores = store
            .audit(&AuditFilter {
                limit: 200,
                ..AuditFilter::default()
            })
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.action == Action::RolloutRestore)
            .count();
        assert_eq!(restores, 1, "{}", db.backend);
    }
}

#[tokio::test]
async fn what_a_guarded_rollout_refuses_writes_nothing() {
    for db in TestDb::both("what_a_guarded_rollout_refuses_writes_nothing").await {
        let store = &db.store;
        let actor = setup(store).await;
        let (version, _) = store.document("production").await.unwrap();
        let moved = NewRollout {
            steps: {
                let mut steps = ramp(&[10]);
                steps[0].weights[1].weight = 80;
                steps
            },
            ..guarded(&[10], GuardAction::Pause)
        };
        let mut bad_tolerance = guarded(&[10], GuardAction::Pause);
        if let Some(guard) = &mut bad_tolerance.guard {
            guard.tolerance = 2.0;
        }
        for (rollout, expect) in [
            (moved, "changes the weights' sum from 100 to 90"),
            (
                guarded(&[10, 5], GuardAction::Pause),
                "step 2 raises variant \"old\"",
            ),
            (bad_tolerance, "above 0 and below 1"),
        ] {
            let error = store.schedule_rollout(&actor, rollout).await.unwrap_err();
            assert!(
                matches!(error, StoreError::InvalidInput { .. }),
                "{error:?}"
            );
            assert!(error.to_string().contains(expect), "{error}");
        }
        // One guarded rollout tracks the flag; a second cannot.
        let first = store
            .schedule_rollout(&actor, guarded(&[10], GuardAction::Pause))
            .await
            .unwrap();
        let (tracked_version, _) = store.document("production").await.unwrap();
        assert_eq!(tracked_version, version + 1);
        store.cancel_rollout(&actor, first.id).await.unwrap();
        assert_eq!(published_mark(store).await, Value::Null);
        let _second = store
            .schedule_rollout(&actor, guarded(&[10], GuardAction::Pause))
            .await
            .unwrap();
        let error = store
            .schedule_rollout(&actor, guarded(&[20], GuardAction::Pause))
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("already exposure-tracked, by rollout:"),
            "{error}"
        );
        assert_eq!(store.rollouts("production", None).await.unwrap().len(), 2);
    }
}
