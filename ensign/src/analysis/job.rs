//! The periodic analysis: every node with a store analyses each running
//! experiment every `--analysis-interval`, one node at a time (the one
//! that leads, as for rollouts), and stores each result with its time, so
//! results form a history that may be read at any moment: the sequential
//! figures stay valid however often they are looked at. A result that
//! finds a sample-ratio mismatch wakes the alerter, which sends the
//! audited onset to the webhooks. The same round checks every running
//! guarded rollout's current step ([`super::guard`]).

use std::future::Future;
use std::time::Duration;

use graphql_admin::alerts::AlertWaker;
use store::{Action, Commit, GuardVerdict, Leadership, Store};
use time::OffsetDateTime;
use tokio::sync::broadcast;
use tokio::time::MissedTickBehavior;
use tracing::{info, warn};

/// The advisory lock key the analysis jobs of one database contend for
/// ("ensignA1" in ASCII).
pub const LOCK_KEY: i64 = 0x656E_7369_676E_4131;

/// Runs the analysis of every running experiment every `interval` until
/// `shutdown` completes, while this node leads; the first round comes one
/// interval after start.
pub async fn run(
    store: Store,
    interval: Duration,
    alerts: Option<AlertWaker>,
    commits: broadcast::Sender<Commit>,
    shutdown: impl Future<Output = ()>,
) {
    let mut leadership = Leadership::new(store.clone(), "experiment analysis", LOCK_KEY);
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut shutdown = std::pin::pin!(shutdown);
    info!(
        interval_s = interval.as_secs(),
        "Experiment analysis scheduled."
    );
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticker.tick() => {}
        }
        match leadership.hold().await {
            Ok(true) => {
                round(&store, alerts.as_ref()).await;
                guard_round(&store, alerts.as_ref(), &commits).await;
            }
            Ok(false) => {}
            Err(error) => warn!(
                %error,
                "Experiment analysis lock not available; retrying at the next round."
            ),
        }
    }
    leadership.release().await;
}

/// Analyses each running experiment once; a failure is logged and leaves
/// the others to run.
async fn round(store: &Store, alerts: Option<&AlertWaker>) {
    let experiments = match store.running_experiments().await {
        Ok(experiments) => experiments,
        Err(error) => {
            warn!(%error, "Listing the running experiments failed; retrying at the next round.");
            return;
        }
    };
    for experiment in experiments {
        let started = std::time::Instant::now();
        match super::stored::analyse(store, &experiment, OffsetDateTime::now_utc()).await {
            Ok(result) => {
                info!(
                    flag_set = %experiment.flag_set,
                    experiment = %experiment.key,
                    users = result.users,
                    srm_mismatch = result.srm_mismatch,
                    elapsed_ms = started.elapsed().as_millis(),
                    "Experiment analysed."
                );
                super::stored::wake_on_mismatch(alerts, &result);
            }
            Err(error) => warn!(
                flag_set = %experiment.flag_set,
                experiment = %experiment.key,
                error = format!("{error:#}"),
                "Experiment analysis failed; retrying at the next round."
            ),
        }
    }
}

/// Checks each running guarded rollout's current step once; a stop is
/// announced as a commit (it ends the flag's tracking, and may write its
/// weights back), and a healthy check wakes the alerter (it may be the
/// step's audited clearance). A failure is logged and leaves the others to
/// run.
async fn guard_round(
    store: &Store,
    alerts: Option<&AlertWaker>,
    commits: &broadcast::Sender<Commit>,
) {
    let rollouts = match store.guarded_rollouts().await {
        Ok(rollouts) => rollouts,
        Err(error) => {
            warn!(%error, "Listing the guarded rollouts failed; retrying at the next round.");
            return;
        }
    };
    for rollout in rollouts {
        match super::guard::check(store, &rollout, OffsetDateTime::now_utc()).await {
            Ok(super::guard::Outcome::Checked(checked)) => {
                if let Some(check) = &checked.guard_check {
                    info!(
                        flag_set = %checked.flag_set,
                        flag = %checked.flag,
                        rollout = checked.id,
                        step = check.step,
                        verdict = check.verdict.as_str(),
                        old_users = check.old_users,
                        new_users = check.new_users,
                        "Guarded rollout checked."
                    );
                    // A healthy check may be the step's clearance, which
                    // is audited and sent to the webhooks.
                    if check.verdict == GuardVerdict::Healthy
                        && let Some(alerts) = alerts
                    {
                        alerts.wake();
                    }
                }
            }
            Ok(super::guard::Outcome::Stopped(stop, check)) => {
                let stopped = &stop.rollout;
                warn!(
                    flag_set = %stopped.flag_set,
                    flag = %stopped.flag,
                    rollout = stopped.id,
                    step = check.step,
                    status = stopped.status.as_str(),
                    lift = ?check.lift,
                    interval = ?check.interval,
                    "Guarded rollout stopped: its new variant regressed beyond the tolerance."
                );
                let _ = commits.send(Commit {
                    flag_set: stopped.flag_set.clone(),
                    flag: Some(stopped.flag.clone()),
                    action: if stop.restored_version.is_some() {
                        Action::RolloutRestore
                    } else {
                        Action::GuardStop
                    },
                    actor: stopped.actor(),
                });
            }
            Ok(super::guard::Outcome::Moved) => {}
            Err(error) => warn!(
                flag_set = %rollout.flag_set,
                flag = %rollout.flag,
                rollout = rollout.id,
                error = format!("{error:#}"),
                "Guarded rollout check failed; retrying at the next round."
            ),
        }
    }
}
