//! Guarded rollouts through the API (scheduled with a guard, read back with
//! its latest check, announced because they change what is published) and
//! the scheduler's guarantees with guards on PostgreSQL: racing runners
//! apply each step once, one node runs them and another takes over, a
//! step and a guard's stop never both happen, and two stops act once.

use serde_json::{Value, json};
use store::{
    Action, Actor, AuditFilter, FlagChange, FlagInput, GuardAction, GuardCheck, GuardDirection,
    GuardMetric, GuardVerdict, MetricKind, NewRollout, RolloutGuard, RolloutRecord, RolloutStatus,
    RolloutStep, RolloutWeight, StepOutcome, Store, fractional_weights,
};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::client::Client;
use crate::rollouts::{lock_key, ran, scheduler};
use test_support::TestDb;

fn ramp_flag() -> Value {
    json!({
        "state": "ENABLED",
        "variants": {"new": "B", "old": "A"},
        "defaultVariant": "old",
        "targeting": {"fractional": [["new", 0], ["old", 100]]}
    })
}

async fn create(store: &Store, actor: &Actor, key: &str) {
    store
        .write_flag(
            actor,
            "production",
            key,
            FlagChange::Create(FlagInput {
                definition: ramp_flag(),
                client_visible: None,
                locked: None,
            }),
        )
        .await
        .unwrap();
}

/// The time the steps fall due, far from the real clock on purpose.
fn t(minutes: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::days(22_000) + Duration::minutes(minutes)
}

/// `new` at each of `shares` percent, ten minutes apart.
fn ramp(shares: &[u32]) -> Vec<RolloutStep> {
    shares
        .iter()
        .zip(0..)
        .map(|(share, i)| RolloutStep {
            at: t(10 * i),
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

fn guard(action: GuardAction) -> RolloutGuard {
    RolloutGuard {
        metric: GuardMetric {
            event: "purchase".into(),
            kind: MetricKind::Conversion,
            window_seconds: 3_600,
        },
        direction: GuardDirection::HigherIsBetter,
        tolerance: 0.02,
        min_users: 1_000,
        action,
    }
}

async fn schedule(store: &Store, actor: &Actor, flag: &str, action: GuardAction) -> RolloutRecord {
    store
        .schedule_rollout(
            actor,
            NewRollout {
                flag_set: "production".into(),
                flag: flag.into(),
                steps: ramp(&[1, 10, 50]),
                guard: Some(guard(action)),
            },
        )
        .await
        .unwrap()
}

fn check(step: usize, verdict: GuardVerdict) -> GuardCheck {
    GuardCheck {
        step,
        checked_at: OffsetDateTime::now_utc(),
        verdict,
        old_users: 1_800,
        new_users: 200,
        lift: Some(if verdict == GuardVerdict::Regressed {
            -0.2
        } else {
            0.01
        }),
        interval: Some(if verdict == GuardVerdict::Regressed {
            [-0.3, -0.1]
        } else {
            [-0.01, 0.03]
        }),
        reason: None,
    }
}

async fn new_weight(store: &Store, flag: &str) -> u32 {
    let flag = store.flag("production", flag).await.unwrap();
    fractional_weights(&flag.definition)
        .unwrap()
        .into_iter()
        .find(|(variant, _)| variant == "new")
        .map(|(_, weight)| weight)
        .unwrap()
}

/// The audit events of `action` on flag or rollout `flag`.
async fn events(store: &Store, flag: &str, action: Action) -> usize {
    store
        .audit(&AuditFilter {
            limit: 500,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|event| event.action == action && event.subject_key == flag)
        .count()
}

const SCHEDULE: &str = r#"mutation($steps: [RolloutStepInput!]!, $guard: RolloutGuardInput) {
    scheduleRollout(flagSet: "production", key: "checkout", steps: $steps, guard: $guard) {
        id status guardedVariant
        guard { metric { event kind windowSeconds } direction tolerance minUsers action }
    }
}"#;

const READ: &str = r#"query($id: Int!) {
    rollout(id: $id) {
        status nextStep stepStartedAt initialWeights { variant weight }
        guardCheck { step verdict oldUsers newUsers lift interval reason }
    }
}"#;

fn steps_json(shares: &[u32]) -> Value {
    json!(
        shares
            .iter()
            .enumerate()
            .map(|(i, share)| json!({
                "at": format!("2031-03-01T09:{:02}:00Z", 10 * i),
                "weights": [{"variant": "new", "weight": share}, {"variant": "old", "weight": 100 - share}],
            }))
            .collect::<Vec<_>>()
    )
}

/// An editor schedules a guarded rollout through the API; the guard, the
/// variant it rolls out and its checks read back; a ramp that would move
/// the new variant's users, and a guard out of bounds, are refused with
/// nothing written; scheduling and cancelling are announced.
#[tokio::test]
async fn guarded_rollouts_through_the_api() {
    for db in TestDb::both("guarded_rollouts_through_the_api").await {
        let store = &db.store;
        let client = Client::new(store, Default::default()).await;
        create(store, &Actor::named("setup"), "checkout").await;
        let mut announced = client.admin.commits.subscribe();
        let guard = json!({
            "metric": {"event": "purchase", "kind": "CONVERSION"},
            "tolerance": 0.02,
            "minUsers": 1000,
        });

        // Refused whole: a ramp down, a sum that changes, a tolerance of
        // 100%, a role that may not write.
        let rollouts_before = store.rollouts("production", None).await.unwrap().len();
        let audit_before = store
            .audit(&AuditFilter {
                limit: 500,
                ..AuditFilter::default()
            })
            .await
            .unwrap()
            .items
            .len();
        for (steps, guard, code, says) in [
            (
                steps_json(&[10, 5]),
                guard.clone(),
                "INVALID_INPUT",
                "a guarded rollout raises one variant only",
            ),
            (
                json!([{"at": "2031-03-01T09:00:00Z", "weights": [{"variant": "new", "weight": 10}]}]),
                guard.clone(),
                "INVALID_INPUT",
                "changes the weights' sum from 100 to 110",
            ),
            (
                steps_json(&[10, 50]),
                json!({"metric": {"event": "purchase", "kind": "CONVERSION"}, "tolerance": 1.0, "minUsers": 1000}),
                "INVALID_INPUT",
                "above 0 and below 1, not 1",
            ),
        ] {
            let answer = client
                .post(
                    &client.editor,
                    SCHEDULE,
                    json!({"steps": steps, "guard": guard}),
                )
                .await;
            assert_eq!(answer.code(), code, "{}", answer.body);
            let message = answer.body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains(says), "{message}");
        }
        let answer = client
            .post(
                &client.viewer,
                SCHEDULE,
                json!({"steps": steps_json(&[10, 50]), "guard": guard}),
            )
            .await;
        assert_eq!(answer.code(), "FORBIDDEN", "{}", answer.body);
        assert_eq!(
            store.rollouts("production", None).await.unwrap().len(),
            rollouts_before
        );
        assert_eq!(
            store
                .audit(&AuditFilter {
                    limit: 500,
                    ..AuditFilter::default()
                })
                .await
                .unwrap()
                .items
                .len(),
            audit_before
        );
        assert!(announced.try_recv().is_err());

        // Scheduled, with the defaults filled in, and announced: the flag
        // is now exposure-tracked.
        let answer = client
            .post(
                &client.editor,
                SCHEDULE,
                json!({"steps": steps_json(&[1, 10, 50]), "guard": guard}),
            )
            .await;
        let scheduled = &answer.body["data"]["scheduleRollout"];
        let id = scheduled["id"].as_i64().expect("scheduled");
        assert_eq!(
            scheduled,
            &json!({
                "id": id,
                "status": "SCHEDULED",
                "guardedVariant": "new",
                "guard": {
                    "metric": {"event": "purchase", "kind": "CONVERSION", "windowSeconds": 604_800},
                    "direction": "HIGHER_IS_BETTER",
                    "tolerance": 0.02,
                    "minUsers": 1000,
                    "action": "PAUSE",
                },
            }),
            "{}",
            answer.body
        );
        let commit = announced.try_recv().expect("scheduling is announced");
        assert_eq!(
            (commit.flag.as_deref(), commit.action, commit.actor.as_str()),
            (Some("checkout"), Action::ScheduleRollout, "ada")
        );
        let (_, document) = store.document("production").await.unwrap();
        assert_eq!(
            document["flags"]["checkout"]["metadata"]["ensign.experiment"],
            json!(format!("rollout:{id}"))
        );

        // The first step, then a check: both read back.
        let ran = store
            .run_rollout_step(
                id,
                OffsetDateTime::parse("2031-03-01T09:00:00Z", &Rfc3339).unwrap(),
            )
            .await
            .unwrap()
            .expect("the first step runs");
        assert!(matches!(ran.outcome, StepOutcome::Applied { .. }));
        let read = client.post(&client.viewer, READ, json!({"id": id})).await;
        let rollout = &read.body["data"]["rollout"];
        assert_eq!(rollout["status"], "RUNNING", "{}", read.body);
        assert_eq!(rollout["guardCheck"], Value::Null);
        assert_eq!(
            rollout["initialWeights"],
            json!([{"variant": "new", "weight": 0}, {"variant": "old", "weight": 100}])
        );
        assert!(rollout["stepStartedAt"].is_string());
        store
            .record_guard_check(id, &check(0, GuardVerdict::TooFewUsers))
            .await
            .unwrap()
            .expect("recorded");
        let read = client.post(&client.viewer, READ, json!({"id": id})).await;
        assert_eq!(
            read.body["data"]["rollout"]["guardCheck"],
            json!({"step": 0, "verdict": "TOO_FEW_USERS", "oldUsers": 1800, "newUsers": 200,
                   "lift": 0.01, "interval": [-0.01, 0.03], "reason": null}),
            "{}",
            read.body
        );

        // Paused by hand, and announced: the flag is no longer tracked, and
        // a viewer may not resume it.
        let started = read.body["data"]["rollout"]["stepStartedAt"].clone();
        let answer = client
            .post(
                &client.editor,
                "mutation($id: Int!) { pauseRollout(id: $id) { status nextAt } }",
                json!({"id": id}),
            )
            .await;
        assert_eq!(
            answer.body["data"]["pauseRollout"],
            json!({"status": "PAUSED", "nextAt": null}),
            "{}",
            answer.body
        );
        assert_eq!(
            announced.try_recv().expect("announced").action,
            Action::PauseRollout
        );
        let (_, document) = store.document("production").await.unwrap();
        assert_eq!(
            document["flags"]["checkout"]["metadata"]["ensign.experiment"],
            Value::Null
        );
        let resume = "mutation($id: Int!) { resumeRollout(id: $id) { status stepStartedAt guardCheck { step } } }";
        let answer = client.post(&client.viewer, resume, json!({"id": id})).await;
        assert_eq!(answer.code(), "FORBIDDEN", "{}", answer.body);

        // Resumed: tracked again, and the current step is observed afresh,
        // its last check dropped.
        let answer = client.post(&client.editor, resume, json!({"id": id})).await;
        let resumed = &answer.body["data"]["resumeRollout"];
        assert_eq!(resumed["status"], "RUNNING", "{}", answer.body);
        assert_eq!(resumed["guardCheck"], Value::Null);
        let time =
            |value: &Value| OffsetDateTime::parse(value.as_str().unwrap(), &Rfc3339).unwrap();
        assert!(
            time(&resumed["stepStartedAt"]) > time(&started),
            "{resumed}"
        );
        assert_eq!(
            announced.try_recv().expect("announced").action,
            Action::ResumeRollout
        );
        let (_, document) = store.document("production").await.unwrap();
        assert_eq!(
            document["flags"]["checkout"]["metadata"]["ensign.experiment"],
            json!(format!("rollout:{id}"))
        );
        let answer = client.post(&client.editor, resume, json!({"id": id})).await;
        assert_eq!(answer.code(), "INVALID_INPUT", "{}", answer.body);

        // Cancelled, and announced: the flag is no longer tracked.
        let answer = client
            .post(
                &client.editor,
                "mutation($id: Int!) { cancelRollout(id: $id) { status } }",
                json!({"id": id}),
            )
            .await;
        assert_eq!(
            answer.body["data"]["cancelRollout"]["status"], "CANCELLED",
            "{}",
            answer.body
        );
        let commit = announced.try_recv().expect("cancelling is announced");
        assert_eq!(commit.action, Action::CancelRollout);
        let (_, document) = store.document("production").await.unwrap();
        assert_eq!(
            document["flags"]["checkout"]["metadata"]["ensign.experiment"],
            Value::Null
        );
        db.drop_all().await;
    }
}

/// Two runners race at every tick while two analysis nodes record the same
/// healthy checks: each step is applied once, in order, and only after its
/// step before was cleared.
#[tokio::test]
async fn racing_runners_apply_each_guarded_step_once() {
    let Some(db) = TestDb::postgres("racing_runners_apply_each_guarded_step_once").await else {
        return;
    };
    let store = &db.store;
    let other = store.clone();
    let actor = Actor::named("ada");
    Client::new(store, Default::default()).await;
    create(store, &actor, "checkout").await;
    let rollout = schedule(store, &actor, "checkout", GuardAction::Pause).await;
    let applied = |runs: Vec<store::StepRun>| {
        runs.into_iter()
            .filter(|run| matches!(run.outcome, StepOutcome::Applied { .. }))
            .map(|run| run.step)
            .collect::<Vec<_>>()
    };
    let mut steps = Vec::new();
    for (minutes, share) in [(0, 1), (10, 10), (20, 50)] {
        // Before its clearance the step waits, however many runners try.
        if minutes > 0 {
            let (a, b) = tokio::join!(store.run_due(t(minutes)), other.run_due(t(minutes)));
            assert!(applied(a.unwrap()).is_empty() && applied(b.unwrap()).is_empty());
            let step = usize::try_from(minutes / 10 - 1).unwrap();
            let healthy = check(step, GuardVerdict::Healthy);
            let (a, b) = tokio::join!(
                store.record_guard_check(rollout.id, &healthy),
                other.record_guard_check(rollout.id, &healthy),
            );
            assert!(a.unwrap().is_some() && b.unwrap().is_some());
        }
        let (a, b) = tokio::join!(store.run_due(t(minutes)), other.run_due(t(minutes)));
        let (a, b) = (applied(a.unwrap()), applied(b.unwrap()));
        assert_eq!(a.len() + b.len(), 1, "at {minutes} minutes: {a:?} {b:?}");
        steps.extend(a.into_iter().chain(b));
        assert_eq!(new_weight(store, "checkout").await, share);
    }
    assert_eq!(steps, vec![0, 1, 2]);
    assert_eq!(events(store, "checkout", Action::RolloutStep).await, 3);
    let done = store.rollout(rollout.id).await.unwrap();
    assert_eq!(done.status, RolloutStatus::Done);
    // Done: the flag is no longer exposure-tracked.
    let (_, document) = store.document("production").await.unwrap();
    assert_eq!(
        document["flags"]["checkout"]["metadata"]["ensign.experiment"],
        Value::Null
    );
    db.drop_all().await;
}

/// A cleared step and a guard's stop of the step before race, on many
/// rollouts at once: each time exactly one of them happens. When the step
/// wins the stop does nothing; when the stop wins (restoring the starting
/// weights) the step is never applied. Two stops racing act once.
#[tokio::test]
async fn a_step_and_a_guard_stop_never_both_happen() {
    let Some(db) = TestDb::postgres("a_step_and_a_guard_stop_never_both_happen").await else {
        return;
    };
    let store = &db.store;
    let other = store.clone();
    let actor = Actor::named("ada");
    Client::new(store, Default::default()).await;
    let flags: Vec<String> = (0..8).map(|i| format!("checkout-{i}")).collect();
    let mut rollouts = Vec::new();
    for flag in &flags {
        create(store, &actor, flag).await;
        let rollout = schedule(store, &actor, flag, GuardAction::Restore).await;
        store
            .run_rollout_step(rollout.id, t(0))
            .await
            .unwrap()
            .expect("the first step runs");
        store
            .record_guard_check(rollout.id, &check(0, GuardVerdict::Healthy))
            .await
            .unwrap()
            .expect("recorded");
        rollouts.push(rollout);
    }
    let (mut stepped, mut stopped) = (0, 0);
    for (flag, rollout) in flags.iter().zip(&rollouts) {
        let regressed = check(0, GuardVerdict::Regressed);
        let (step, stop, again) = tokio::join!(
            store.run_rollout_step(rollout.id, t(10)),
            other.stop_guarded_rollout(rollout.id, &regressed),
            store.stop_guarded_rollout(rollout.id, &regressed),
        );
        let step = step.unwrap();
        let stops = [stop.unwrap(), again.unwrap()];
        let stops = stops.iter().flatten().count();
        let record = store.rollout(rollout.id).await.unwrap();
        match step.map(|run| run.outcome) {
            Some(StepOutcome::Applied { .. }) => {
                stepped += 1;
                assert_eq!(stops, 0, "{flag}: stopped after its step moved on");
                assert_eq!(record.status, RolloutStatus::Running);
                assert_eq!(record.next_step, 2);
                assert_eq!(new_weight(store, flag).await, 10);
                assert_eq!(events(store, flag, Action::GuardStop).await, 0);
            }
            outcome => {
                stopped += 1;
                assert!(outcome.is_none(), "{flag}: {outcome:?}");
                assert_eq!(stops, 1, "{flag}: one stop acts");
                assert_eq!(record.status, RolloutStatus::Restored);
                assert_eq!(record.next_step, 1);
                assert_eq!(new_weight(store, flag).await, 0);
                assert_eq!(events(store, flag, Action::GuardStop).await, 1);
                assert_eq!(events(store, flag, Action::RolloutRestore).await, 1);
                // Stopped for good: a later run applies nothing.
                assert!(
                    store
                        .run_rollout_step(rollout.id, t(30))
                        .await
                        .unwrap()
                        .is_none()
                );
            }
        }
        assert_eq!(
            events(store, flag, Action::RolloutStep).await,
            if record.next_step == 2 { 2 } else { 1 }
        );
    }
    assert_eq!(stepped + stopped, flags.len());
    db.drop_all().await;
}

/// Two admin nodes schedule a guarded rollout: one leads and applies each
/// step once, after its clearance; when it stops, the other takes over
/// where it left off.
#[tokio::test]
async fn one_node_runs_a_guarded_rollout_and_another_takes_over() {
    let Some(db) = TestDb::postgres("one_node_runs_a_guarded_rollout_and_another_takes_over").await
    else {
        return;
    };
    let store = &db.store;
    let actor = Actor::named("ada");
    Client::new(store, Default::default()).await;
    create(store, &actor, "checkout").await;
    let rollout = schedule(store, &actor, "checkout", GuardAction::Pause).await;
    let key = lock_key();
    let (commits, _) = tokio::sync::broadcast::channel(16);
    let mut a = scheduler(store, &commits, key);
    let mut b = scheduler(store, &commits, key);

    let (first, second) = tokio::join!(a.tick(t(0)), b.tick(t(0)));
    let (first, second) = (ran(&first.unwrap()), ran(&second.unwrap()));
    assert!(first.is_some() != second.is_some(), "{first:?} {second:?}");
    assert_eq!(
        first.clone().or(second.clone()),
        Some(vec![(rollout.id, 0)])
    );
    let (mut leader, mut standby) = if first.is_some() { (a, b) } else { (b, a) };

    // Due but not cleared: the leader applies nothing, the other stands by.
    let (first, second) = tokio::join!(leader.tick(t(10)), standby.tick(t(10)));
    assert_eq!(ran(&first.unwrap()), Some(vec![]));
    assert_eq!(ran(&second.unwrap()), None);
    store
        .record_guard_check(rollout.id, &check(0, GuardVerdict::Healthy))
        .await
        .unwrap()
        .expect("recorded");
    let (first, second) = tokio::join!(leader.tick(t(11)), standby.tick(t(11)));
    assert_eq!(ran(&first.unwrap()), Some(vec![(rollout.id, 1)]));
    assert_eq!(ran(&second.unwrap()), None);

    // The leader stops; the other takes over and applies the last step
    // once it is cleared.
    leader.release().await;
    store
        .record_guard_check(rollout.id, &check(1, GuardVerdict::Healthy))
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(
        ran(&standby.tick(t(20)).await.unwrap()),
        Some(vec![(rollout.id, 2)])
    );
    assert_eq!(ran(&leader.tick(t(30)).await.unwrap()), None);
    assert_eq!(events(store, "checkout", Action::RolloutStep).await, 3);
    assert_eq!(events(store, "checkout", Action::GuardClear).await, 2);
    assert_eq!(
        store.rollout(rollout.id).await.unwrap().status,
        RolloutStatus::Done
    );
    standby.release().await;
    db.drop_all().await;
}
