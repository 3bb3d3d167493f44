//! Leadership: which of several nodes sharing one store runs a periodic
//! job (applying rollout steps, analysing experiments), one node at a time.
//!
//! On PostgreSQL the leader is the node holding a session-level advisory
//! lock (`pg_try_advisory_lock`) on a connection of its own, taken out of
//! the store's pool. The lock lives as long as that session: when the node
//! stops, it unlocks; when it dies or loses the connection, the server
//! ends the session and the lock passes to the next node that asks. The
//! holder checks its connection before each round, and the others try the
//! lock. SQLite serves one process, which just leads.
//!
//! The lock decides who works; it is not what makes work happen once.
//! Each job keeps its own guarantee for the moment two nodes both believe
//! they lead (one of them with a dead connection it has not noticed yet).

use std::time::Duration;

use sea_orm::DbBackend;
use sea_orm::sqlx::{self, Connection, PgConnection};
use tracing::{info, warn};

use super::Store;

/// How long the lock holder waits for its connection to answer before it
/// takes the connection, and with it the lock, for lost.
const LOCK_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The advisory lock could not be asked for (no connection).
#[derive(Debug, thiserror::Error)]
#[error("cannot take the {job} lock {key}")]
pub struct LeadershipError {
    /// The job the lock is for.
    pub job: &'static str,
    /// The lock key.
    pub key: i64,
    /// The driver's error.
    #[source]
    pub source: sqlx::Error,
}

/// One node's claim to lead a job.
#[derive(Debug)]
pub struct Leadership {
    store: Store,
    /// The job, as log lines name it ("rollout scheduler").
    job: &'static str,
    /// The PostgreSQL advisory lock key of the job.
    key: i64,
    /// The session that holds (or asks for) the lock, on PostgreSQL.
    session: Option<PgConnection>,
    leader: bool,
}

impl Leadership {
    /// A claim to lead `job` over `store`, under advisory lock `key`.
    pub fn new(store: Store, job: &'static str, key: i64) -> Leadership {
        Leadership {
            store,
            job,
            key,
            session: None,
            leader: false,
        }
    }

    /// Whether this node led at its last [`Leadership::hold`].
    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// Whether this node leads now: checks the lock's session when it
    /// holds the lock, asks for the lock otherwise.
    pub async fn hold(&mut self) -> Result<bool, LeadershipError> {
        if self.store.backend() != DbBackend::Postgres {
            self.leader = true;
            return Ok(true);
        }
        let (job, key) = (self.job, self.key);
        if self.leader {
            if let Some(session) = self.session.as_mut() {
                let alive = tokio::time::timeout(
                    LOCK_CHECK_TIMEOUT,
                    sqlx::query("SELECT 1").execute(&mut *session),
                )
                .await;
                if matches!(alive, Ok(Ok(_))) {
                    return Ok(true);
                }
            }
            warn!(
                job,
                lock_key = key,
                "Lost the lock session; another node may take over."
            );
            self.leader = false;
            self.session = None;
        }
        let session = match self.session.as_mut() {
            Some(session) => session,
            None => {
                let pool = self.store.connection().get_postgres_connection_pool();
                let connection =
                    pool.acquire()
                        .await
                        .map_err(|source| LeadershipError { job, key, source })?;
                self.session.insert(connection.detach())
            }
        };
        let taken = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *session)
            .await;
        match taken {
            Ok(true) => {
                info!(job, lock_key = key, "Lock taken; this node leads.");
                self.leader = true;
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(source) => {
                self.session = None;
                Err(LeadershipError { job, key, source })
            }
        }
    }

    /// Gives the lock up and closes its session.
    pub async fn release(&mut self) {
        let was_leader = std::mem::take(&mut self.leader);
        let Some(mut session) = self.session.take() else {
            return;
        };
        let (job, key) = (self.job, self.key);
        if was_leader {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(key)
                .execute(&mut session)
                .await;
            match unlocked {
                Ok(_) => info!(job, lock_key = key, "Lock released."),
                Err(error) => warn!(
                    job,
                    lock_key = key,
                    error = %error,
                    "Lock not released; it goes when the session ends."
                ),
            }
        }
        let _ = session.close().await;
    }
}
