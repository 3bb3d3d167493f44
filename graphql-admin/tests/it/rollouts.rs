//! Scheduled progressive rollouts on PostgreSQL and SQLite: validation when
//! scheduling, due steps applied in order as audited commits, idempotence
//! after a crash, cancellation, and on PostgreSQL one scheduler at a time
//! with takeover. Time is driven through the `now` argument only.

use std::sync::atomic::{AtomicI64, Ordering};

use graphql_admin::api::{Admin, routes};
use graphql_admin::scheduler::{Scheduler, SchedulerSettings, Tick};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use store::Commit;
use store::{
    Action, FlagChange, FlagInput, NewFlagSet, NewRollout, RolloutStatus, RolloutStep,
    RolloutWeight, StepOutcome, StepRun, Subject, TokenRole,
};
use store::{Actor, AuditRecord, Store, StoreError};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use tokio::sync::broadcast;

use test_support::TestDb;

/// The time the tests' rollouts start, far from the real clock on purpose.
fn t(minutes: i64) -> OffsetDateTime {
    OffsetDateTime::parse("2031-03-01T09:00:00Z", &Rfc3339).unwrap() + Duration::minutes(minutes)
}

fn checkout() -> Value {
    json!({
        "state": "ENABLED",
        "variants": {"new": true, "old": false},
        "defaultVariant": "old",
        "targeting": {"fractional": [{"var": "email"}, ["new", 0], ["old", 100]]},
    })
}

/// A flag set `production` with `checkout` (a `fractional` rule) and
/// `plain` (none).
async fn setup(store: &Store) -> Actor {
    let actor = Actor::named("ada");
    store
        .create_flag_set(
            &actor,
            NewFlagSet {
                key: "production".into(),
                ..NewFlagSet::default()
            },
        )
        .await
        .unwrap();
    for (key, definition) in [
        ("checkout", checkout()),
        (
            "plain",
            json!({"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"}),
        ),
    ] {
        store
            .write_flag(
                &actor,
                "production",
                key,
                FlagChange::Create(FlagInput {
                    definition,
                    client_visible: None,
                    locked: None,
                }),
            )
            .await
            .unwrap();
    }
    actor
}

/// A step at `minutes` giving `new` `percent`% and `old` the rest.
fn step(minutes: i64, percent: u32) -> RolloutStep {
    RolloutStep {
        at: t(minutes),
        weights: vec![
            RolloutWeight {
                variant: "new".into(),
                weight: percent,
            },
            RolloutWeight {
                variant: "old".into(),
                weight: 100 - percent,
            },
        ],
    }
}

/// 1% → 10% → 50% → 100%, ten minutes apart.
fn progressive() -> Vec<RolloutStep> {
    vec![step(0, 1), step(10, 10), step(20, 50), step(30, 100)]
}

fn rollout_of(flag: &str, steps: Vec<RolloutStep>) -> NewRollout {
    NewRollout {
        flag_set: "production".into(),
        flag: flag.into(),
        steps,
        guard: None,
    }
}

/// The `new` variant's weight in the flag's `fractional` rule.
async fn new_weight(store: &Store) -> i64 {
    let flag = store.flag("production", "checkout").await.unwrap();
    let buckets = flag.definition["targeting"]["fractional"].clone();
    assert_eq!(buckets[0], json!({"var": "email"}), "bucketing kept");
    assert_eq!(buckets[1][0], "new");
    buckets[1][1].as_i64().unwrap()
}

/// The audited step writes of `checkout`.
async fn step_events(store: &Store) -> Vec<AuditRecord> {
    store
        .history("production", "checkout")
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == Action::RolloutStep)
        .collect()
}

async fn count(store: &Store, table: &str) -> i64 {
    store
        .connection()
        .query_one_raw(Statement::from_string(
            store.backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
}

/// The (rollout, step) pairs of the applied steps of a run.
fn applied(runs: &[StepRun]) -> Vec<(i64, usize)> {
    runs.iter()
        .filter(|r| matches!(r.outcome, StepOutcome::Applied { .. }))
        .map(|r| (r.rollout, r.step))
        .collect()
}

#[tokio::test]
async fn invalid_rollouts_are_refused_and_nothing_is_written() {
    for db in TestDb::both("invalid_rollouts_are_refused_and_nothing_is_written").await {
        let store = &db.store;
        let actor = setup(store).await;
        let flag_before = store.flag("production", "checkout").await.unwrap();
        let audit_before = count(store, "audit_events").await;
        let weights = |pairs: &[(&str, u32)]| -> Vec<RolloutWeight> {
            pairs
                .iter()
                .map(|(variant, weight)| RolloutWeight {
                    variant: (*variant).into(),
                    weight: *weight,
                })
                .collect()
        };
        let at = |minutes, pairs: &[(&str, u32)]| RolloutStep {
            at: t(minutes),
            weights: weights(pairs),
        };
        let cases: Vec<(NewRollout, &str, &str)> = vec![
            (
                rollout_of("checkout", vec![]),
                "INVALID_INPUT",
                "at least one step",
            ),
            (
                rollout_of("checkout", vec![step(10, 1), step(10, 50)]),
                "INVALID_INPUT",
                "step 2 is not later than step 1",
            ),
            (
                rollout_of("checkout", vec![step(0, 1), step(20, 10), step(10, 50)]),
                "INVALID_INPUT",
                "step 3 is not later than step 2",
            ),
            (
                rollout_of("checkout", vec![step(0, 1), at(5, &[("newer", 5)])]),
                "INVALID_INPUT",
                "step 2: the flag has no variant \"newer\"",
            ),
            (
                rollout_of("checkout", vec![at(0, &[("new", 0), ("old", 0)])]),
                "INVALID_INPUT",
                "step 1: at least one weight must be above 0",
            ),
            (
                rollout_of("checkout", vec![at(0, &[])]),
                "INVALID_INPUT",
                "step 1: at least one weight must be above 0",
            ),
            (
                rollout_of("checkout", vec![at(0, &[("new", 5), ("new", 95)])]),
                "INVALID_INPUT",
                "lists variant \"new\" twice",
            ),
            (
                rollout_of("plain", vec![at(0, &[("on", 5), ("off", 95)])]),
                "INVALID_INPUT",
                "no fractional rule",
            ),
            (
                rollout_of("checkout", (0..101).map(|m| step(m, 1)).collect()),
                "INVALID_INPUT",
                "at most 100",
            ),
            (rollout_of("nope", progressive()), "FLAG_NOT_FOUND", "nope"),
            (
                NewRollout {
                    flag_set: "staging".into(),
                    ..rollout_of("checkout", progressive())
                },
                "FLAG_SET_NOT_FOUND",
                "staging",
            ),
        ];
        for (rollout, code, message) in cases {
            let Err(error) = store.schedule_rollout(&actor, rollout.clone()).await else {
                panic!("{}: {rollout:?} must be refused", db.backend);
            };
            assert_eq!(error.code(), code, "{}: {error}", db.backend);
            assert!(
                error.to_string().contains(message),
                "{}: {error:?} should say {message:?}",
                db.backend
            );
        }
        assert_eq!(count(store, "rollouts").await, 0, "{}", db.backend);
        assert_eq!(count(store, "audit_events").await, audit_before);
        assert_eq!(
            store.flag("production", "checkout").await.unwrap(),
            flag_before
        );

        // One active rollout per flag.
        let first = store
            .schedule_rollout(&actor, rollout_of("checkout", progressive()))
            .await
            .unwrap();
        assert_eq!(first.status, RolloutStatus::Scheduled);
        assert_eq!(first.next_at(), Some(t(0)));
        let error = store
            .schedule_rollout(&actor, rollout_of("checkout", progressive()))
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::AlreadyExists { .. }),
            "{error:?}"
        );
        assert_eq!(count(store, "rollouts").await, 1);
        db.drop_all().await;
    }
}

#[tokio::test]
async fn due_steps_apply_in_order_each_one_audited_commit() {
    for db in TestDb::both("due_steps_apply_in_order_each_one_audited_commit").await {
        let store = &db.store;
        let actor = setup(store).await;
        let rollout = store
            .schedule_rollout(&actor, rollout_of("checkout", progressive()))
            .await
            .unwrap();
        let id = rollout.id;
        let scheduled = store.history("production", "checkout").await.unwrap();

        assert!(store.run_due(t(-1)).await.unwrap().is_empty());
        assert_eq!(new_weight(store).await, 0);

        assert_eq!(applied(&store.run_due(t(0)).await.unwrap()), [(id, 0)]);
        assert_eq!(new_weight(store).await, 1);
        let running = store.rollout(id).await.unwrap();
        assert_eq!(
            (running.status, running.next_step, running.next_at()),
            (RolloutStatus::Running, 1, Some(t(10)))
        );
        // Running again at the same time does nothing.
        assert!(store.run_due(t(0)).await.unwrap().is_empty());

        // Two steps fell due meanwhile: both, in order.
        assert_eq!(
            applied(&store.run_due(t(25)).await.unwrap()),
            [(id, 1), (id, 2)]
        );
        assert_eq!(new_weight(store).await, 50);
        assert!(store.run_due(t(25)).await.unwrap().is_empty());

        assert_eq!(applied(&store.run_due(t(90)).await.unwrap()), [(id, 3)]);
        assert_eq!(new_weight(store).await, 100);
        let done = store.rollout(id).await.unwrap();
        assert_eq!(
            (done.status, done.next_step, done.next_at()),
            (RolloutStatus::Done, 4, None)
        );
        assert!(store.run_due(t(1000)).await.unwrap().is_empty());

        // Each step is one audited commit of the flag, by the rollout.
        let events = step_events(store).await;
        assert_eq!(events.len(), 4, "{}", db.backend);
        let scheduled_version = scheduled.last().unwrap().version.unwrap();
        for (index, (event, percent)) in events.iter().zip([1, 10, 50, 100]).enumerate() {
            assert_eq!(event.actor, format!("rollout:{id}"));
            assert_eq!(event.request_id, Some(rollout.step_request_id(index)));
            assert_eq!(event.version, Some(scheduled_version + 1 + index as i64));
            assert_eq!(
                event.after.as_ref().unwrap()["definition"]["targeting"]["fractional"][1],
                json!(["new", percent])
            );
        }
        let audit = store
            .audit(&store::AuditFilter {
                actor: Some("ada".into()),
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            audit
                .items
                .iter()
                .any(|e| e.subject == Subject::Rollout && e.action == Action::ScheduleRollout),
            "scheduling is audited"
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn a_step_written_before_a_crash_is_not_written_again() {
    for db in TestDb::both("a_step_written_before_a_crash_is_not_written_again").await {
        let store = &db.store;
        let actor = setup(store).await;
        let rollout = store
            .schedule_rollout(&actor, rollout_of("checkout", progressive()))
            .await
            .unwrap();
        // The runner wrote step 0 and stopped before advancing the rollout:
        // the same write it makes, with the step's request id.
        let step_actor = Actor {
            name: rollout.actor(),
            request_id: Some(rollout.step_request_id(0)),
        };
        let edit = |definition: &mut Value| {
            store::set_weights(definition, &[("new".into(), 1), ("old".into(), 99)])
        };
        let written = store
            .write_flag(
                &step_actor,
                "production",
                "checkout",
                FlagChange::Edit {
                    expected_version: None,
                    action: Action::RolloutStep,
                    edit: &edit,
                },
            )
            .await
            .unwrap();

        let runs = store.run_due(t(0)).await.unwrap();
        assert_eq!(runs.len(), 1, "{}", db.backend);
        assert!(
            matches!(runs[0].outcome, StepOutcome::AlreadyApplied),
            "{:?}",
            runs[0].outcome
        );
        assert_eq!(step_events(store).await.len(), 1, "{}", db.backend);
        let flag = store.flag("production", "checkout").await.unwrap();
        assert_eq!(flag.version, written.version, "no second write");
        assert_eq!(flag.definition, written.definition);
        assert_eq!(store.rollout(rollout.id).await.unwrap().next_step, 1);

        // Setting the same weights again would not change the definition.
        let mut again = flag.definition.clone();
        edit(&mut again).unwrap();
        assert_eq!(again, flag.definition);

        // The rollout goes on from there.
        assert_eq!(
            applied(&store.run_due(t(10)).await.unwrap()),
            [(rollout.id, 1)]
        );
        assert_eq!(step_events(store).await.len(), 2);
        db.drop_all().await;
    }
}

#[tokio::test]
async fn cancelling_stops_a_rollout() {
    for db in TestDb::both("cancelling_stops_a_rollout").await {
        let store = &db.store;
        let actor = setup(store).await;
        let rollout = store
            .schedule_rollout(&actor, rollout_of("checkout", progressive()))
            .await
            .unwrap();
        store.run_due(t(0)).await.unwrap();

        let cancelled = store.cancel_rollout(&actor, rollout.id).await.unwrap();
        assert_eq!(
            (cancelled.status, cancelled.next_step, cancelled.next_at()),
            (RolloutStatus::Cancelled, 1, None)
        );
        assert!(store.run_due(t(1000)).await.unwrap().is_empty());
        assert_eq!(new_weight(store).await, 1, "applied steps stay");
        assert_eq!(step_events(store).await.len(), 1);

        let again = store.cancel_rollout(&actor, rollout.id).await.unwrap_err();
        assert_eq!(again.code(), "INVALID_INPUT", "{again}");
        let missing = store.cancel_rollout(&actor, 999_999).await.unwrap_err();
        assert!(
            matches!(missing, StoreError::RolloutNotFound { id: 999_999 }),
            "{missing:?}"
        );

        // The flag is free for a new rollout.
        let next = store
            .schedule_rollout(&actor, rollout_of("checkout", vec![step(2000, 100)]))
            .await
            .unwrap();
        let listed = store
            .rollouts("production", Some("checkout"))
            .await
            .unwrap();
        assert_eq!(
            listed.iter().map(|r| (r.id, r.status)).collect::<Vec<_>>(),
            [
                (next.id, RolloutStatus::Scheduled),
                (rollout.id, RolloutStatus::Cancelled)
            ]
        );
        assert!(
            store
                .rollouts("production", Some("plain"))
                .await
                .unwrap()
                .is_empty()
        );
        db.drop_all().await;
    }
}

/// A paused rollout applies nothing however late it gets; resuming moves
/// its remaining steps later by exactly the time it was paused, and the
/// steps then apply as scheduled. A flag with a paused rollout is free for
/// another one, which a resumption then may not overlap; a paused rollout
/// can be cancelled.
#[tokio::test]
async fn pausing_holds_a_rollout_and_resuming_moves_its_remaining_steps() {
    for db in TestDb::both("pausing_holds_a_rollout_and_resuming_moves_its_remaining_steps").await {
        let store = &db.store;
        let actor = setup(store).await;
        let rollout = store
            .schedule_rollout(&actor, rollout_of("checkout", progressive()))
            .await
            .unwrap();
        store.run_due(t(0)).await.unwrap();

        let paused = store.pause_rollout(&actor, rollout.id).await.unwrap();
        assert_eq!(
            (paused.status, paused.next_step, paused.next_at()),
            (RolloutStatus::Paused, 1, None)
        );
        assert!(store.run_due(t(1000)).await.unwrap().is_empty());
        assert_eq!(new_weight(store).await, 1, "nothing applied while paused");
        let again = store.pause_rollout(&actor, rollout.id).await.unwrap_err();
        assert_eq!(again.code(), "INVALID_INPUT", "{again}");
        assert!(
            again.to_string().contains("is paused, not active"),
            "{again}"
        );

        // The wait before the next step, as it was when paused.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let resumed = store.resume_rollout(&actor, rollout.id).await.unwrap();
        let paused_for = resumed.updated_at - paused.updated_at;
        assert!(paused_for >= Duration::milliseconds(20), "{paused_for}");
        assert_eq!(
            (resumed.status, resumed.next_step),
            (RolloutStatus::Running, 1)
        );
        assert_eq!(
            resumed.steps[0], paused.steps[0],
            "applied steps keep their time"
        );
        for (moved, planned) in resumed.steps.iter().zip(&paused.steps).skip(1) {
            assert_eq!(moved.at - planned.at, paused_for);
            assert_eq!(moved.weights, planned.weights);
        }
        assert_eq!(resumed.next_at(), Some(t(10) + paused_for));
        assert!(
            store.run_due(t(10)).await.unwrap().is_empty(),
            "not due yet"
        );
        assert_eq!(
            applied(&store.run_due(t(10) + paused_for).await.unwrap()),
            [(rollout.id, 1)]
        );
        assert_eq!(new_weight(store).await, 10);
        let again = store.resume_rollout(&actor, rollout.id).await.unwrap_err();
        assert!(
            again.to_string().contains("is running, not paused"),
            "{again}"
        );

        // Paused again, while another rollout of the flag is scheduled:
        // resuming would run two at once.
        store.pause_rollout(&actor, rollout.id).await.unwrap();
        let other = store
            .schedule_rollout(&actor, rollout_of("checkout", vec![step(2000, 100)]))
            .await
            .unwrap();
        let refused = store.resume_rollout(&actor, rollout.id).await.unwrap_err();
        assert_eq!(refused.code(), "ALREADY_EXISTS", "{refused}");
        assert_eq!(
            store.rollout(rollout.id).await.unwrap().status,
            RolloutStatus::Paused,
            "a refused resumption changes nothing"
        );
        let cancelled = store.cancel_rollout(&actor, rollout.id).await.unwrap();
        assert_eq!(cancelled.status, RolloutStatus::Cancelled);
        assert_eq!(
            store.rollout(other.id).await.unwrap().status,
            RolloutStatus::Scheduled
        );

        let actions: Vec<Action> = store
            .audit(&store::AuditFilter {
                limit: 100,
                ..store::AuditFilter::default()
            })
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.subject == Subject::Rollout && e.subject_key == "checkout")
            .map(|e| e.action)
            .rev()
            .collect();
        assert_eq!(
            actions,
            [
                Action::ScheduleRollout,
                Action::PauseRollout,
                Action::ResumeRollout,
                Action::PauseRollout,
                Action::ScheduleRollout,
                Action::CancelRollout,
            ]
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn a_step_that_no_longer_fits_the_flag_fails_the_rollout() {
    for db in TestDb::both("a_step_that_no_longer_fits_the_flag_fails_the_rollout").await {
        let store = &db.store;
        let actor = setup(store).await;
        let rollout = store
            .schedule_rollout(&actor, rollout_of("checkout", progressive()))
            .await
            .unwrap();
        // Someone drops the fractional rule before the first step.
        let current = store.flag("production", "checkout").await.unwrap();
        let mut definition = checkout();
        definition.as_object_mut().unwrap().remove("targeting");
        store
            .write_flag(
                &actor,
                "production",
                "checkout",
                FlagChange::Update {
                    expected_version: current.version,
                    input: FlagInput {
                        definition,
                        client_visible: None,
                        locked: None,
                    },
                },
            )
            .await
            .unwrap();

        let runs = store.run_due(t(30)).await.unwrap();
        assert_eq!(runs.len(), 1, "later steps are not tried");
        assert!(
            matches!(
                runs[0].outcome,
                StepOutcome::Failed(StoreError::InvalidInput { .. })
            ),
            "{:?}",
            runs[0].outcome
        );
        let failed = store.rollout(rollout.id).await.unwrap();
        assert_eq!(
            (failed.status, failed.next_step),
            (RolloutStatus::Failed, 0)
        );
        assert!(
            failed
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("fractional")),
            "{:?}",
            failed.last_error
        );
        assert!(step_events(store).await.is_empty());
        assert!(store.run_due(t(1000)).await.unwrap().is_empty());
        db.drop_all().await;
    }
}

/// A lock key no other test uses, so that tests running in parallel on the
/// shared server do not contend. Below 2^31, so it is `objid` in
/// `pg_locks`.
pub(crate) fn lock_key() -> i64 {
    static NEXT: AtomicI64 = AtomicI64::new(0);
    1_000_000_000
        + i64::from(std::process::id() % 1_000_000) * 100
        + NEXT.fetch_add(1, Ordering::Relaxed)
}

pub(crate) fn scheduler(
    store: &Store,
    commits: &broadcast::Sender<Commit>,
    lock_key: i64,
) -> Scheduler {
    Scheduler::new(
        store.clone(),
        commits.clone(),
        SchedulerSettings {
            lock_key,
            ..SchedulerSettings::default()
        },
    )
}

pub(crate) fn ran(tick: &Tick) -> Option<Vec<(i64, usize)>> {
    match tick {
        Tick::Standby => None,
        Tick::Ran(runs) => Some(applied(runs)),
    }
}

#[tokio::test]
async fn the_scheduler_applies_due_steps_and_announces_them() {
    for db in TestDb::both("the_scheduler_applies_due_steps_and_announces_them").await {
        let store = &db.store;
        let actor = setup(store).await;
        let rollout = store
            .schedule_rollout(&actor, rollout_of("checkout", progressive()))
            .await
            .unwrap();
        let (commits, mut announced) = broadcast::channel(16);
        let mut scheduler = scheduler(store, &commits, lock_key());

        let tick = scheduler.tick(t(-5)).await.unwrap();
        assert_eq!(ran(&tick), Some(vec![]), "{}", db.backend);
        let tick = scheduler.tick(t(12)).await.unwrap();
        assert_eq!(ran(&tick), Some(vec![(rollout.id, 0), (rollout.id, 1)]));
        assert!(scheduler.is_leader());
        for _ in 0..2 {
            assert_eq!(
                announced.try_recv().unwrap(),
                Commit {
                    flag_set: "production".into(),
                    flag: Some("checkout".into()),
                    action: Action::RolloutStep,
                    actor: rollout.actor(),
                }
            );
        }
        assert!(announced.try_recv().is_err(), "one commit per step");
        scheduler.release().await;
        db.drop_all().await;
    }
}

/// Runs that overlap (two nodes during a takeover) still apply each step
/// once: the rollout's row lock orders them.
#[tokio::test]
async fn overlapping_runs_apply_each_step_once() {
    let Some(db) = TestDb::postgres("overlapping_runs_apply_each_step_once").await else {
        return;
    };
    let store = &db.store;
    let actor = setup(store).await;
    store
        .schedule_rollout(&actor, rollout_of("checkout", progressive()))
        .await
        .unwrap();
    let other = store.clone();
    for minutes in [0, 10, 20, 30] {
        let (a, b) = tokio::join!(store.run_due(t(minutes)), other.run_due(t(minutes)));
        let steps = applied(&a.unwrap()).len() + applied(&b.unwrap()).len();
        assert_eq!(steps, 1, "at {minutes} minutes");
    }
    assert_eq!(step_events(store).await.len(), 4);
    assert_eq!(new_weight(store).await, 100);
    db.drop_all().await;
}

/// The session holding advisory lock `key`, if any.
async fn lock_holder(store: &Store, key: i64) -> Option<i32> {
    store
        .connection()
        .query_one_raw(Statement::from_string(
            store.backend(),
            format!(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND classid = 0 AND objid = {key} AND objsubid = 1"
            ),
        ))
        .await
        .unwrap()
        .map(|row| row.try_get::<i32>("", "pid").unwrap())
}

/// Two admin nodes: one runs the rollout, the other waits; when the first
/// stops, or its connection is cut, the other takes over, and every step
/// is applied exactly once.
#[tokio::test]
async fn one_scheduler_runs_rollouts_and_another_takes_over() {
    let Some(db) = TestDb::postgres("one_scheduler_runs_rollouts_and_another_takes_over").await
    else {
        return;
    };
    let store = &db.store;
    let actor = setup(store).await;
    let rollout = store
        .schedule_rollout(
            &actor,
            rollout_of(
                "checkout",
                vec![
                    step(0, 1),
                    step(10, 10),
                    step(20, 25),
                    step(30, 50),
                    step(40, 100),
                ],
            ),
        )
        .await
        .unwrap();
    let key = lock_key();
    let (commits, mut announced) = broadcast::channel(16);
    let mut a = scheduler(store, &commits, key);
    let mut b = scheduler(store, &commits, key);

    // Racing from the start: one leads, the other stands by, every time.
    let (first, second) = tokio::join!(a.tick(t(0)), b.tick(t(0)));
    let (first, second) = (ran(&first.unwrap()), ran(&second.unwrap()));
    assert!(first.is_some() != second.is_some(), "{first:?} {second:?}");
    let (mut leader, mut standby) = if first.is_some() { (a, b) } else { (b, a) };
    let (first, second) = tokio::join!(leader.tick(t(10)), standby.tick(t(10)));
    assert_eq!(ran(&first.unwrap()), Some(vec![(rollout.id, 1)]));
    assert_eq!(ran(&second.unwrap()), None);
    assert!(leader.is_leader() && !standby.is_leader());

    // The leader stops: the other takes over at its next tick.
    leader.release().await;
    assert_eq!(lock_holder(store, key).await, None);
    assert_eq!(
        ran(&standby.tick(t(20)).await.unwrap()),
        Some(vec![(rollout.id, 2)])
    );
    assert_eq!(ran(&leader.tick(t(20)).await.unwrap()), None);
    std::mem::swap(&mut leader, &mut standby);

    // The leader's session is cut (a crash, a network failure): the server
    // frees the lock, the other takes over, and the old leader notices and
    // stands by.
    let pid = lock_holder(store, key)
        .await
        .expect("the leader holds the lock");
    let terminated = store
        .connection()
        .query_one_raw(Statement::from_string(
            store.backend(),
            format!("SELECT pg_terminate_backend({pid}, 10000) AS done"),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<bool>("", "done")
        .unwrap();
    assert!(terminated);
    assert_eq!(
        ran(&standby.tick(t(30)).await.unwrap()),
        Some(vec![(rollout.id, 3)])
    );
    assert_eq!(ran(&leader.tick(t(40)).await.unwrap()), None);
    assert!(!leader.is_leader());
    assert_eq!(
        ran(&standby.tick(t(40)).await.unwrap()),
        Some(vec![(rollout.id, 4)])
    );

    // Five steps, five audited writes, five announcements.
    let events = step_events(store).await;
    assert_eq!(events.len(), 5);
    assert_eq!(
        events
            .iter()
            .map(|e| e.request_id.clone().unwrap())
            .collect::<Vec<_>>(),
        (0..5)
            .map(|i| rollout.step_request_id(i))
            .collect::<Vec<_>>()
    );
    for _ in 0..5 {
        assert_eq!(announced.try_recv().unwrap().action, Action::RolloutStep);
    }
    assert!(announced.try_recv().is_err());
    assert_eq!(
        store.rollout(rollout.id).await.unwrap().status,
        RolloutStatus::Done
    );
    leader.release().await;
    standby.release().await;
    db.drop_all().await;
}

async fn graphql(admin: &Admin, token: &str, query: &str, variables: Value) -> Value {
    let response = warp::test::request()
        .method("POST")
        .path("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .json(&json!({"query": query, "variables": variables}))
        .reply(&routes(admin.clone()))
        .await;
    serde_json::from_slice(response.body()).unwrap()
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

const SCHEDULE: &str = r#"mutation($steps: [RolloutStepInput!]!) {
    scheduleRollout(flagSet: "production", key: "checkout", steps: $steps) {
        id status nextStep nextAt actor createdBy steps { at weights { variant weight } }
    }
}"#;

#[tokio::test]
async fn rollouts_are_scheduled_listed_and_cancelled_through_the_api() {
    let db = TestDb::sqlite().await;
    let store = &db.store;
    let actor = setup(store).await;
    let editor = store
        .create_token(&actor, "ada", TokenRole::Editor, None)
        .await
        .unwrap()
        .secret;
    let viewer = store
        .create_token(&actor, "grace", TokenRole::Viewer, None)
        .await
        .unwrap()
        .secret;
    let admin = Admin {
        store: store.clone(),
        commits: broadcast::channel(16).0,
        analysis: None,
    };
    let steps = json!([
        {"at": "2031-03-01T10:00:00+01:00", "weights": [{"variant": "new", "weight": 10}, {"variant": "old", "weight": 90}]},
        {"at": "2031-03-01T09:30:00Z", "weights": [{"variant": "new", "weight": 100}, {"variant": "old", "weight": 0}]},
    ]);

    let body = graphql(&admin, &viewer, SCHEDULE, json!({"steps": steps})).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let body = graphql(
        &admin,
        &editor,
        SCHEDULE,
        json!({"steps": [{"at": "tomorrow", "weights": []}]}),
    )
    .await;
    assert_eq!(code(&body), "INVALID_INPUT", "{body}");
    let body = graphql(
        &admin,
        &editor,
        SCHEDULE,
        json!({"steps": [steps[1], steps[0]]}),
    )
    .await;
    assert_eq!(code(&body), "INVALID_INPUT", "{body}");

    let body = graphql(&admin, &editor, SCHEDULE, json!({"steps": steps})).await;
    let scheduled = &body["data"]["scheduleRollout"];
    let id = scheduled["id"].as_i64().expect("scheduled");
    assert_eq!(
        scheduled,
        &json!({
            "id": id,
            "status": "SCHEDULED",
            "nextStep": 0,
            "nextAt": "2031-03-01T09:00:00Z",
            "actor": format!("rollout:{id}"),
            "createdBy": "ada",
            "steps": [
                {"at": "2031-03-01T09:00:00Z", "weights": [{"variant": "new", "weight": 10}, {"variant": "old", "weight": 90}]},
                {"at": "2031-03-01T09:30:00Z", "weights": [{"variant": "new", "weight": 100}, {"variant": "old", "weight": 0}]},
            ],
        })
    );
    store.run_due(t(0)).await.unwrap();

    let body = graphql(
        &admin,
        &viewer,
        r#"{ rollouts(flagSet: "production", flag: "checkout") { id status nextStep } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["rollouts"],
        json!([{"id": id, "status": "RUNNING", "nextStep": 1}]),
        "{body}"
    );

    let cancel = "mutation($id: Int!) { cancelRollout(id: $id) { status nextAt } }";
    let body = graphql(&admin, &viewer, cancel, json!({"id": id})).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let body = graphql(&admin, &editor, cancel, json!({"id": id})).await;
    assert_eq!(
        body["data"]["cancelRollout"],
        json!({"status": "CANCELLED", "nextAt": null}),
        "{body}"
    );
    let body = graphql(&admin, &editor, cancel, json!({"id": id + 1})).await;
    assert_eq!(code(&body), "ROLLOUT_NOT_FOUND", "{body}");
    db.drop_all().await;
}

/// The loop as the binary runs it, on the real clock: a step already due
/// is applied and announced at the first tick, and on shutdown the lock is
/// released.
#[tokio::test]
async fn the_scheduler_loop_runs_until_shutdown_and_releases_its_lock() {
    for db in TestDb::both("the_scheduler_loop_runs_until_shutdown_and_releases_its_lock").await {
        let store = &db.store;
        let actor = setup(store).await;
        let past = OffsetDateTime::UNIX_EPOCH;
        let rollout = store
            .schedule_rollout(
                &actor,
                rollout_of(
                    "checkout",
                    vec![RolloutStep {
                        at: past,
                        ..step(0, 100)
                    }],
                ),
            )
            .await
            .unwrap();
        let key = lock_key();
        let (commits, mut announced) = broadcast::channel(16);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(scheduler(store, &commits, key).run(async {
            let _ = stopped.await;
        }));

        // A bound on a hang (a loop that never applies the step), not a
        // measure of speed.
        let commit = tokio::time::timeout(std::time::Duration::from_secs(60), announced.recv())
            .await
            .expect("the first tick applies the step")
            .unwrap();
        assert_eq!(commit.actor, rollout.actor());
        stop.send(()).unwrap();
        task.await.unwrap();
        assert_eq!(new_weight(store).await, 100, "{}", db.backend);
        assert_eq!(
            store.rollout(rollout.id).await.unwrap().status,
            RolloutStatus::Done
        );
        if db.schema.is_some() {
            assert_eq!(lock_holder(store, key).await, None);
        }
        db.drop_all().await;
    }
}

/// Weights the evaluator would refuse (one above `MAX_WEIGHT`, or a sum
/// above it) are refused when scheduled, naming the step and the cap; a
/// step exactly at the cap is scheduled and applied.
#[tokio::test]
async fn weights_above_the_evaluators_cap_are_refused_when_scheduled() {
    let cap = engine::ops::fractional::MAX_WEIGHT;
    let max = u32::try_from(cap).unwrap();
    for db in TestDb::both("weights_above_the_evaluators_cap_are_refused_when_scheduled").await {
        let store = &db.store;
        let actor = setup(store).await;
        let audit_before = count(store, "audit_events").await;
        let at = |minutes, new: u32, old: u32| RolloutStep {
            at: t(minutes),
            weights: vec![
                RolloutWeight {
                    variant: "new".into(),
                    weight: new,
                },
                RolloutWeight {
                    variant: "old".into(),
                    weight: old,
                },
            ],
        };
        let cases = [
            (vec![at(0, u32::MAX, 0)], "step 1", "4294967295"),
            (vec![step(0, 1), at(5, 0, max + 1)], "step 2", "2147483648"),
            (
                vec![step(0, 1), step(5, 10), at(9, max, 1)],
                "step 3",
                "sum",
            ),
            (vec![at(0, max / 2 + 1, max / 2 + 1)], "step 1", "sum"),
        ];
        for (steps, step_name, detail) in cases {
            let error = store
                .schedule_rollout(&actor, rollout_of("checkout", steps.clone()))
                .await
                .unwrap_err();
            let message = error.to_string();
            assert_eq!(
                error.code(),
                "WEIGHT_TOO_LARGE",
                "{}: {message}",
                db.backend
            );
            for part in [step_name, detail, &cap.to_string()] {
                assert!(message.contains(part), "{message:?} names {part:?}");
            }
        }
        assert_eq!(count(store, "rollouts").await, 0, "{}", db.backend);
        assert_eq!(count(store, "audit_events").await, audit_before);

        let at_cap = store
            .schedule_rollout(&actor, rollout_of("checkout", vec![at(0, max, 0)]))
            .await
            .unwrap();
        let runs = store.run_due(t(0)).await.unwrap();
        assert_eq!(applied(&runs), [(at_cap.id, 0)], "{}", db.backend);
        assert_eq!(new_weight(store).await, i64::from(max));
        db.drop_all().await;
    }
}

/// `setRollout` applies the same cap to a direct weight edit.
#[tokio::test]
async fn set_rollout_refuses_weights_above_the_cap() {
    let db = TestDb::sqlite().await;
    let store = &db.store;
    let actor = setup(store).await;
    let editor = store
        .create_token(&actor, "ada", TokenRole::Editor, None)
        .await
        .unwrap()
        .secret;
    let admin = Admin {
        store: store.clone(),
        commits: broadcast::channel(16).0,
        analysis: None,
    };
    let set = r#"mutation($weights: [Weight!]!) {
        setRollout(flagSet: "production", key: "checkout", expectedVersion: 1, weights: $weights) { version }
    }"#;
    let weights = |new: u32, old: u32| json!({"weights": [{"variant": "new", "weight": new}, {"variant": "old", "weight": old}]});
    let max = u32::try_from(engine::ops::fractional::MAX_WEIGHT).unwrap();
    for (new, old) in [(u32::MAX, 0), (max, 1), (0, max + 1)] {
        let body = graphql(&admin, &editor, set, weights(new, old)).await;
        assert_eq!(code(&body), "WEIGHT_TOO_LARGE", "{new}/{old}: {body}");
    }
    assert_eq!(new_weight(store).await, 0, "nothing was written");
    let body = graphql(&admin, &editor, set, weights(max, 0)).await;
    assert_eq!(body["data"]["setRollout"]["version"], 2, "{body}");
    assert_eq!(new_weight(store).await, i64::from(max));
    db.drop_all().await;
}
