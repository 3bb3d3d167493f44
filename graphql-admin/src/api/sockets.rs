//! The admin API's open WebSocket sessions, by token, so that a token's
//! rights end with the token.
//!
//! A session is registered when its socket is upgraded and learns its
//! token at `connection_init`. Every operation on the socket looks the
//! token up again (`routes.rs`), so a revoked token runs nothing more and a
//! token's current role applies. Revoking a token on this node closes its
//! sockets before `revokeToken` answers ([`Sockets::close_token`]); on
//! other admin nodes a periodic check of the open sockets' tokens against
//! the store closes them within [`RECHECK_INTERVAL`]. A socket closed for
//! its token gets close code [`TOKEN_REVOKED`] (4403, the code graphql-ws
//! uses for "forbidden").

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use store::Store;

/// The close code of a socket whose token was revoked.
pub const TOKEN_REVOKED: u16 = 4403;

/// How often the tokens of open sockets are checked against the store,
/// which is how sockets learn of revocations made on other nodes.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(2);

/// How long closing a socket may wait for its peer to take the close
/// frame; then the connection is dropped.
pub(super) const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a socket is being closed, as sent in its close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    /// The WebSocket close code.
    pub code: u16,
    /// The close reason.
    pub reason: String,
}

impl Closing {
    fn revoked() -> Closing {
        Closing {
            code: TOKEN_REVOKED,
            reason: "the token was revoked".into(),
        }
    }
}

/// The registry of open sessions (cheap to clone; clones share it).
#[derive(Debug, Clone)]
pub struct Sockets {
    store: Store,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    open: HashMap<u64, Entry>,
    rechecking: bool,
}

#[derive(Debug)]
struct Entry {
    token: Option<i64>,
    close: watch::Sender<Option<Closing>>,
    done: watch::Receiver<bool>,
}

impl Sockets {
    /// An empty registry whose sessions are checked against `store`.
    pub fn new(store: Store) -> Sockets {
        Sockets {
            store,
            inner: Arc::new(Mutex::new(Inner::default())),
        }
    }

    /// Registers a new socket; it is unregistered when the session drops.
    pub(super) fn open(&self) -> Session {
        let (close, closing) = watch::channel(None);
        let (finished, done) = watch::channel(false);
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.open.insert(
            id,
            Entry {
                token: None,
                close,
                done,
            },
        );
        Session {
            id,
            sockets: self.clone(),
            closing,
            _finished: finished,
        }
    }

    /// How many sockets are open for token `token`.
    pub fn open_for(&self, token: i64) -> usize {
        self.lock()
            .open
            .values()
            .filter(|e| e.token == Some(token))
            .count()
    }

    /// Closes every socket of token `token` and waits until each has
    /// stopped running operations and sent its close frame (or given up on
    /// a peer that does not read).
    pub async fn close_token(&self, token: i64) {
        let closing: Vec<watch::Receiver<bool>> = {
            let inner = self.lock();
            inner
                .open
                .values()
                .filter(|e| e.token == Some(token))
                .map(|e| {
                    e.close.send_replace(Some(Closing::revoked()));
                    e.done.clone()
                })
                .collect()
        };
        if !closing.is_empty() {
            tracing::info!(
                token,
                sockets = closing.len(),
                "Closing the sockets of a revoked token."
            );
        }
        for mut done in closing {
            // The session sets nothing: it ends by dropping its sender.
            let _ = tokio::time::timeout(2 * CLOSE_WRITE_TIMEOUT, done.wait_for(|d| *d)).await;
        }
    }

    /// Records the token of session `id`, and starts the periodic check
    /// if it is not running.
    fn attach(&self, id: u64, token: i64) {
        let mut inner = self.lock();
        if let Some(entry) = inner.open.get_mut(&id) {
            entry.token = Some(token);
        }
        if !inner.rechecking {
            inner.rechecking = true;
            tokio::spawn(self.clone().recheck());
        }
    }

    /// Closes the sockets whose token is no longer live, every
    /// [`RECHECK_INTERVAL`], while any socket has a token.
    async fn recheck(self) {
        loop {
            tokio::time::sleep(RECHECK_INTERVAL).await;
            let tokens: BTreeSet<i64> = {
                let mut inner = self.lock();
                let tokens: BTreeSet<i64> = inner.open.values().filter_map(|e| e.token).collect();
                if tokens.is_empty() {
                    inner.rechecking = false;
                    return;
                }
                tokens
            };
            let live: BTreeSet<i64> = match self.store.tokens().await {
                Ok(all) => all
                    .into_iter()
                    .filter(|t| t.revoked_at.is_none() && !t.role.is_sdk())
                    .map(|t| t.id)
                    .collect(),
                Err(error) => {
                    tracing::warn!(%error, "Checking the tokens of open sockets failed; checking again later.");
                    continue;
                }
            };
            for token in tokens.difference(&live) {
                self.close_token(*token).await;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One open socket's registration; dropping it unregisters the socket and
/// tells whoever closes it that it is done.
#[derive(Debug)]
pub(super) struct Session {
    id: u64,
    sockets: Sockets,
    closing: watch::Receiver<Option<Closing>>,
    _finished: watch::Sender<bool>,
}

impl Session {
    /// What records the session's token once it is known.
    pub(super) fn attacher(&self) -> Attacher {
        Attacher {
            id: self.id,
            sockets: self.sockets.clone(),
        }
    }

    /// Resolves when the socket is to be closed.
    pub(super) async fn closing(&mut self) -> Closing {
        let closing = match self.closing.wait_for(Option::is_some).await {
            Ok(closing) => closing.clone(),
            Err(_) => None,
        };
        match closing {
            Some(closing) => closing,
            // The registry never drops a live session's sender.
            None => std::future::pending().await,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.sockets.lock().open.remove(&self.id);
    }
}

/// Records a session's token, and closes the session when an operation
/// finds its token revoked.
#[derive(Debug, Clone)]
pub(super) struct Attacher {
    id: u64,
    sockets: Sockets,
}

impl Attacher {
    /// Records that the session authenticated as token `token`.
    pub(super) fn attach(&self, token: i64) {
        self.sockets.attach(self.id, token);
    }

    /// The token the session authenticated as, once it has.
    pub(super) fn token(&self) -> Option<i64> {
        self.sockets.lock().open.get(&self.id).and_then(|e| e.token)
    }

    /// Closes this session because its token is no longer live.
    pub(super) fn revoked(&self) {
        if let Some(entry) = self.sockets.lock().open.get(&self.id) {
            entry.close.send_replace(Some(Closing::revoked()));
        }
    }
}
