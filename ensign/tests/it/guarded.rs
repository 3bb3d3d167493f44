//! Guarded rollouts end to end with the real binary: an embedded node rolls
//! a flag out 1% → 10% → 50% under a guard on conversion, while simulated
//! users are evaluated through OFREP and send their purchases to the
//! events endpoint, and the node's periodic analysis checks each step.
//! When the new variant converts 20% worse, the guard pauses the rollout
//! before its last step and the audit log says why; when it converts as
//! well, the rollout runs to the end, each step cleared by an audited check
//! of the one before.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::serve::{Serve, graphql, scratch};

/// The old variant's conversion rate, per thousand. A high base rate keeps
/// the relative lift's variance small, so a few thousand users decide a
/// step.
const OLD_RATE: u64 = 700;
/// Users per round of traffic.
const ROUND: u64 = 1_500;
/// The users a step needs before it is judged or followed.
const MIN_USERS: u64 = 6_000;
/// Rounds before the test gives up on the rollout ending.
const MAX_ROUNDS: u64 = 30;

/// Which users convert: of the users served a variant, in the order they
/// are served, the k-th converts when ⌊(k + 1)·rate⌋ > ⌊k·rate⌋, so every
/// run of a variant's users converts at its rate to within one user. The
/// guard's verdict then rests on the true lift, not on which users a step's
/// timing happened to take in.
#[derive(Default)]
struct Quota {
    /// Users served so far, per variant.
    served: std::collections::BTreeMap<String, u64>,
}

impl Quota {
    /// Whether the next user served `variant` converts, at `rate` per
    /// thousand.
    fn converts(&mut self, variant: &str, rate: u64) -> bool {
        let k = self.served.entry(variant.to_owned()).or_default();
        let converts = (*k + 1) * rate / 1000 > *k * rate / 1000;
        *k += 1;
        converts
    }
}

const ROLLOUT: &str = "status nextStep stepStartedAt guardedVariant \
    guard { tolerance minUsers action } \
    guardCheck { step checkedAt verdict oldUsers newUsers lift interval reason }";

/// How a guarded rollout ended under simulated traffic.
struct Ended {
    serve: Serve,
    token: String,
    rollout: Value,
    /// The `new` variant's weight in the flag as served at the end.
    served_weight: Value,
    /// Users simulated.
    users: u64,
}

/// Rolls `checkout` out to `new` (1% → 10% → 50%) under a conversion guard
/// while users convert at `OLD_RATE` on the old variant and `new_rate` (per
/// thousand) on the new one, until the rollout is no longer running.
async fn guarded_rollout(test: &str, new_rate: u64) -> Ended {
    let dir = scratch(test);
    let serve = Serve::start_in(&dir, &["--analysis-interval", "1"]);
    serve.wait_ready().await;
    let token = serve.token.clone().expect("a first start prints a token");
    let (_, created) = graphql(
        &serve,
        &token,
        r#"mutation { createFlag(flagSet: "default", key: "checkout", flag: {definition: {
            state: "ENABLED", variants: {new: "B", old: "A"}, defaultVariant: "old",
            targeting: {fractional: [["new", 0], ["old", 100]]}}}) { version } }"#,
    )
    .await;
    assert!(created["errors"].is_null(), "{created}");
    // Every step is due at once: each waits only for its guard.
    let now = OffsetDateTime::now_utc();
    let at = |seconds: i64| {
        (now - time::Duration::minutes(1) + time::Duration::seconds(seconds))
            .format(&Rfc3339)
            .unwrap()
    };
    let step = |seconds: i64, share: u32| {
        format!(
            r#"{{at: "{}", weights: [{{variant: "new", weight: {share}}}, {{variant: "old", weight: {}}}]}}"#,
            at(seconds),
            100 - share
        )
    };
    let (_, scheduled) = graphql(
        &serve,
        &token,
        &format!(
            r#"mutation {{ scheduleRollout(flagSet: "default", key: "checkout",
                steps: [{}, {}, {}],
                guard: {{metric: {{event: "purchase", kind: CONVERSION, windowSeconds: 3600}},
                         direction: HIGHER_IS_BETTER, tolerance: 0.02, minUsers: {MIN_USERS},
                         action: PAUSE}}) {{ id }} }}"#,
            step(0, 1),
            step(1, 10),
            step(2, 50)
        ),
    )
    .await;
    let id = scheduled["data"]["scheduleRollout"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("scheduled: {scheduled}"));

    // The node tracks the flag's exposures for the rollout once its feed
    // delivers the mark, and serves the first step once it is applied.
    for attempt in 0.. {
        let served = serve
            .evaluate("checkout", json!({"targetingKey": "probe"}))
            .await;
        let (_, read) = graphql(
            &serve,
            &token,
            &format!("{{ rollout(id: {id}) {{ nextStep }} }}"),
        )
        .await;
        if served["metadata"]["ensign.experiment"] == format!("rollout:{id}")
            && read["data"]["rollout"]["nextStep"] == 1
        {
            break;
        }
        assert!(
            attempt < 400,
            "the first step never arrived: {served} {read}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    let client = reqwest::Client::new();
    let mut users = 0;
    let mut quota = Quota::default();
    let mut rollout = Value::Null;
    for round in 0..MAX_ROUNDS {
        // A round of new users, each evaluated once, then their purchases.
        let answers: Vec<(u64, String)> = futures::stream::iter(users..users + ROUND)
            .map(|i| {
                let client = client.clone();
                let url = format!("http://{}/ofrep/v1/evaluate/flags/checkout", serve.ofrep);
                async move {
                    let answer: Value = client
                        .post(url)
                        .json(&json!({"context": {"targetingKey": format!("user-{i}")}}))
                        .send()
                        .await
                        .expect("OFREP answers")
                        .json()
                        .await
                        .expect("a JSON body");
                    let variant = answer["variant"].as_str().expect("a variant").to_owned();
                    (i, variant)
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        users += ROUND;
        let purchases: Vec<Value> = answers
            .iter()
            .filter(|(_, variant)| {
                quota.converts(variant, if variant == "new" { new_rate } else { OLD_RATE })
            })
            .map(|(i, _)| json!({"name": "purchase", "context": {"targetingKey": format!("user-{i}")}}))
            .collect();
        for batch in purchases.chunks(500) {
            let response = client
                .post(format!("http://{}/ensign/v1/events", serve.ofrep))
                .json(&json!({ "events": batch }))
                .send()
                .await
                .expect("the events endpoint answers");
            assert_eq!(response.status().as_u16(), 202);
        }

        // The next check after this round (every second), or the end.
        let sent = OffsetDateTime::now_utc();
        for attempt in 0.. {
            let (_, read) = graphql(
                &serve,
                &token,
                &format!("{{ rollout(id: {id}) {{ {ROLLOUT} }} }}"),
            )
            .await;
            rollout = read["data"]["rollout"].clone();
            let checked = rollout["guardCheck"]["checkedAt"]
                .as_str()
                .and_then(|at| OffsetDateTime::parse(at, &Rfc3339).ok());
            if rollout["status"] != "RUNNING" || checked.is_some_and(|at| at > sent) {
                break;
            }
            assert!(attempt < 300, "no check came after round {round}: {read}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if rollout["status"] != "RUNNING" {
            break;
        }
    }
    let served = serve
        .evaluate("checkout", json!({"targetingKey": "probe"}))
        .await;
    let (_, flag) = graphql(
        &serve,
        &token,
        r#"{ flag(flagSet: "default", key: "checkout") { definition } }"#,
    )
    .await;
    assert!(served["variant"].is_string(), "{served}");
    Ended {
        served_weight: flag["data"]["flag"]["definition"]["targeting"]["fractional"][0][1].clone(),
        serve,
        token,
        rollout,
        users,
    }
}

/// The audit events of the rollout's flag, newest first.
async fn audit(serve: &Serve, token: &str) -> Vec<Value> {
    let (_, body) = graphql(
        serve,
        token,
        r#"{ audit(filter: {flagSet: "default", flag: "checkout", first: 100}) {
              items { subjectKind action actor after } } }"#,
    )
    .await;
    body["data"]["audit"]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("an audit page: {body}"))
        .clone()
}

#[tokio::test]
async fn a_guarded_rollout_that_lowers_conversion_pauses_and_says_why() {
    let ended = guarded_rollout("guarded-regression", OLD_RATE * 8 / 10).await;
    let rollout = &ended.rollout;
    println!("after {} users: {rollout}", ended.users);
    assert_eq!(
        rollout["status"], "PAUSED",
        "after {} users: {rollout}",
        ended.users
    );
    // Paused within its first steps: the 50% step was never applied, and
    // the flag keeps the weights of the step that regressed.
    let paused_at = rollout["guardCheck"]["step"].as_i64().unwrap();
    assert!(paused_at < 2, "{rollout}");
    assert_eq!(rollout["nextStep"], paused_at + 1, "{rollout}");
    assert_eq!(
        ended.served_weight,
        [1, 10][paused_at as usize],
        "{rollout}"
    );
    let check = &rollout["guardCheck"];
    assert_eq!(check["verdict"], "REGRESSED", "{rollout}");
    let high = check["interval"][1].as_f64().unwrap();
    assert!(high < -0.02, "{rollout}");
    assert!(check["lift"].as_f64().unwrap() < high, "{rollout}");
    assert!(
        check["oldUsers"].as_u64().unwrap() + check["newUsers"].as_u64().unwrap() >= MIN_USERS,
        "{rollout}"
    );

    // The audit log says why: the guard's stop with its figures, by the
    // rollout itself.
    let events = audit(&ended.serve, &ended.token).await;
    let stops: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "guard_stop")
        .collect();
    assert_eq!(stops.len(), 1, "{events:#?}");
    let stop = stops[0];
    assert_eq!(stop["subjectKind"], "rollout");
    assert!(
        stop["actor"].as_str().unwrap().starts_with("rollout:"),
        "{stop}"
    );
    assert_eq!(stop["after"]["status"], "paused");
    assert_eq!(stop["after"]["guard"]["tolerance"], 0.02);
    assert_eq!(stop["after"]["guard"]["variant"], "new");
    assert_eq!(stop["after"]["guard"]["metric"]["event"], "purchase");
    assert_eq!(stop["after"]["guardCheck"]["verdict"], "regressed");
    assert_eq!(stop["after"]["guardCheck"]["newUsers"], check["newUsers"]);
    assert_eq!(stop["after"]["guardCheck"]["oldUsers"], check["oldUsers"]);
    assert_eq!(stop["after"]["guardCheck"]["interval"], check["interval"]);
    assert_eq!(
        events
            .iter()
            .filter(|e| e["action"] == "rollout_step")
            .count(),
        usize::try_from(paused_at + 1).unwrap(),
        "{events:#?}"
    );
    // Each step before was cleared by the guard, audited with its figures.
    let clears: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "guard_clear")
        .collect();
    assert_eq!(
        clears.len(),
        usize::try_from(paused_at).unwrap(),
        "{events:#?}"
    );
    for clear in clears {
        assert_eq!(
            clear["after"]["guardCheck"]["verdict"], "healthy",
            "{clear}"
        );
        assert!(
            clear["after"]["guardCheck"]["oldUsers"].as_u64().unwrap()
                + clear["after"]["guardCheck"]["newUsers"].as_u64().unwrap()
                >= MIN_USERS,
            "{clear}"
        );
    }
    let (code, log) = ended.serve.terminate();
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test]
async fn a_guarded_rollout_without_a_regression_runs_to_the_end() {
    let ended = guarded_rollout("guarded-healthy", OLD_RATE).await;
    let rollout = &ended.rollout;
    println!("after {} users: {rollout}", ended.users);
    assert_eq!(
        rollout["status"], "DONE",
        "after {} users: {rollout}",
        ended.users
    );
    assert_eq!(rollout["nextStep"], 3);
    assert_eq!(ended.served_weight, 50);
    // Each step after the first followed a healthy check of the one before.
    assert_eq!(rollout["guardCheck"]["step"], 1, "{rollout}");
    assert_eq!(rollout["guardCheck"]["verdict"], "HEALTHY", "{rollout}");
    let events = audit(&ended.serve, &ended.token).await;
    assert!(
        events.iter().all(|e| e["action"] != "guard_stop"),
        "{events:#?}"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["action"] == "rollout_step")
            .count(),
        3,
        "{events:#?}"
    );
    // The first two steps were each cleared once, with their figures.
    let cleared: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "guard_clear")
        .map(|e| &e["after"]["guardCheck"]["step"])
        .collect();
    assert_eq!(cleared, [&json!(1), &json!(0)], "{events:#?}");
    let (code, log) = ended.serve.terminate();
    assert_eq!(code, Some(0), "{log}");
}
