//! The rollout scheduler: a loop that applies due rollout steps
//! ([`Store::run_rollout_step`]) on exactly one admin node and announces each one as
//! a [`Commit`].
//!
//! The node that runs rollouts is the one that leads
//! ([`store::Leadership`], a PostgreSQL advisory lock on a session of its
//! own; SQLite serves one process, which just runs).
//!
//! The lock decides who works; it is not what makes a step happen once.
//! [`Store::run_rollout_step`] holds each rollout's row lock while applying a step,
//! so even two nodes that both believe they lead (one of them with a dead
//! connection it has not noticed yet) apply each step once.

use std::future::Future;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::broadcast;
use tokio::time::MissedTickBehavior;
use tracing::{info, warn};

use store::Commit;
use store::{Action, StepOutcome, StepRun};
use store::{Leadership, LeadershipError, Store, StoreError};

/// The advisory lock key the schedulers of one database contend for
/// ("ensignR1" in ASCII).
pub const DEFAULT_LOCK_KEY: i64 = 0x656E_7369_676E_5231;

/// The scheduler's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerSettings {
    /// How often due steps are looked for (default 1 s). A step is applied
    /// at most this long after its time.
    pub interval: Duration,
    /// The PostgreSQL advisory lock key. Deployments that share one
    /// database (in different schemas) each need their own.
    pub lock_key: i64,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        SchedulerSettings {
            interval: Duration::from_secs(1),
            lock_key: DEFAULT_LOCK_KEY,
        }
    }
}

/// Why a scheduler tick failed. The loop logs it and tries again at the
/// next tick.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The advisory lock could not be asked for (no connection).
    #[error(transparent)]
    Lock(#[from] LeadershipError),
    /// Applying due steps failed in the store.
    #[error("running due rollout steps failed")]
    Store(#[from] StoreError),
}

/// What one tick did.
#[derive(Debug)]
pub enum Tick {
    /// Another node holds the lock: nothing was run.
    Standby,
    /// This node holds the lock and ran the due steps (perhaps none).
    Ran(Vec<StepRun>),
}

/// Applies due rollout steps, on one node at a time.
#[derive(Debug)]
pub struct Scheduler {
    store: Store,
    commits: broadcast::Sender<Commit>,
    settings: SchedulerSettings,
    leadership: Leadership,
}

impl Scheduler {
    /// A scheduler over `store` that announces applied steps on `commits`
    /// (the admin API's `Admin::commits`, so that subscriptions and the
    /// evaluation feed see them).
    pub fn new(
        store: Store,
        commits: broadcast::Sender<Commit>,
        settings: SchedulerSettings,
    ) -> Scheduler {
        Scheduler {
            leadership: Leadership::new(store.clone(), "rollout scheduler", settings.lock_key),
            store,
            commits,
            settings,
        }
    }

    /// Whether this scheduler held the lock at its last tick.
    pub fn is_leader(&self) -> bool {
        self.leadership.is_leader()
    }

    /// Runs until `shutdown` completes: a tick per interval, with the
    /// current time. Then releases the lock, so another node takes over at
    /// once.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let period = self.settings.interval.max(Duration::from_millis(1));
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut shutdown = std::pin::pin!(shutdown);
        info!(
            interval_ms = period.as_millis(),
            "Rollout scheduler started."
        );
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticker.tick() => {}
            }
            if let Err(error) = self.tick(OffsetDateTime::now_utc()).await {
                warn!(
                    error = %error,
                    cause = ?std::error::Error::source(&error),
                    "Rollout scheduler tick failed; retrying at the next one."
                );
            }
        }
        self.release().await;
        info!("Rollout scheduler stopped.");
    }

    /// One round: makes sure this node holds the lock (or takes it), then
    /// applies the steps due at `now`, announcing each one as soon as it
    /// commits. A database failure on one rollout is logged and leaves it
    /// for the next tick; the others still run.
    pub async fn tick(&mut self, now: OffsetDateTime) -> Result<Tick, SchedulerError> {
        if !self.leadership.hold().await? {
            return Ok(Tick::Standby);
        }
        let mut runs = Vec::new();
        for id in self.store.due_rollouts(now).await? {
            loop {
                match self.store.run_rollout_step(id, now).await {
                    Ok(Some(run)) => {
                        self.announce(&run);
                        let go_on = run.outcome.is_applied();
                        runs.push(run);
                        if !go_on {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        warn!(
                            rollout = id,
                            error = %error,
                            cause = ?std::error::Error::source(&error),
                            "Rollout step not applied; retrying at the next tick."
                        );
                        break;
                    }
                }
            }
        }
        Ok(Tick::Ran(runs))
    }

    /// Logs a step and, when the flag changed, sends its commit.
    fn announce(&self, run: &StepRun) {
        match &run.outcome {
            StepOutcome::Applied { version } => info!(
                rollout = run.rollout,
                flag_set = %run.flag_set,
                flag = %run.flag,
                step = run.step,
                version,
                "Rollout step applied."
            ),
            StepOutcome::AlreadyApplied => info!(
                rollout = run.rollout,
                flag_set = %run.flag_set,
                flag = %run.flag,
                step = run.step,
                "Rollout step had been applied before; recorded it."
            ),
            StepOutcome::Failed(error) => warn!(
                rollout = run.rollout,
                flag_set = %run.flag_set,
                flag = %run.flag,
                step = run.step,
                error = %error,
                "Rollout step cannot be applied; the rollout failed."
            ),
        }
        if run.outcome.is_applied() {
            // Nobody listening is fine: the store is the record.
            let _ = self.commits.send(Commit {
                flag_set: run.flag_set.clone(),
                flag: Some(run.flag.clone()),
                action: Action::RolloutStep,
                actor: run.actor.clone(),
            });
        }
    }

    /// Gives the lock up and closes its session.
    pub async fn release(&mut self) {
        self.leadership.release().await;
    }
}
