//! The periodic analysis: every node with a store analyses each running
//! experiment every `--analysis-interval`, one node at a time (the one
//! that leads, as for rollouts), and stores each result with its time, so
//! results form a history that may be read at any moment: the sequential
//! figures stay valid however often they are looked at. A result that
//! finds a sample-ratio mismatch wakes the alerter, which sends the
//! audited onset to the webhooks.

use std::future::Future;
use std::time::Duration;

use graphql_admin::alerts::AlertWaker;
use store::{Leadership, Store};
use time::OffsetDateTime;
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
            Ok(true) => round(&store, alerts.as_ref()).await,
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
