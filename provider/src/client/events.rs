//! The provider's status and the events announcing its changes.
//!
//! open-feature 0.3 has no provider event API yet, so each provider exposes
//! its own subscription ([`ProviderEvent`] over a broadcast channel) and a
//! `status()` that the SDK's [`FeatureProvider`] trait already knows. Once
//! the SDK grows an event API, these events are what will be emitted there.
//!
//! [`FeatureProvider`]: open_feature::provider::FeatureProvider

use std::time::Duration;

use open_feature::provider::ProviderStatus;
use tokio::sync::{broadcast, watch};

/// How many events a slow subscriber may fall behind before it is told it
/// lagged.
const EVENT_CAPACITY: usize = 64;

/// A change in a provider's state, as OpenFeature's provider events name
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderEvent {
    /// The provider can evaluate: its first state arrived, or it recovered
    /// after being stale or in error.
    Ready,
    /// Flags changed; `flag_keys` lists those added, changed or removed,
    /// sorted.
    ConfigurationChanged {
        /// The keys that differ.
        flag_keys: Vec<String>,
    },
    /// The connection to the source was lost; the last good state is still
    /// served.
    Stale {
        /// What was lost, and why.
        message: String,
    },
    /// The provider cannot evaluate reliably: it never received a first
    /// state, or the server refused its credentials.
    Error {
        /// What went wrong.
        message: String,
    },
}

/// The provider's state, with its [`ProviderStatus`] twin (which is neither
/// `Copy` nor `Clone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    NotReady,
    Ready,
    Stale,
    Error,
}

impl State {
    pub(crate) fn status(self) -> ProviderStatus {
        match self {
            State::NotReady => ProviderStatus::NotReady,
            State::Ready => ProviderStatus::Ready,
            State::Stale => ProviderStatus::STALE,
            State::Error => ProviderStatus::Error,
        }
    }
}

/// A provider's state and its event feed. Every transition is announced
/// once; repeating the current state announces nothing.
#[derive(Debug)]
pub(crate) struct Status {
    state: watch::Sender<State>,
    events: broadcast::Sender<ProviderEvent>,
}

impl Status {
    pub(crate) fn new() -> Status {
        let (state, _) = watch::channel(State::NotReady);
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Status { state, events }
    }

    pub(crate) fn state(&self) -> State {
        *self.state.borrow()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<ProviderEvent> {
        self.events.subscribe()
    }

    /// Moves to `next`; sends `event` only if the state changed.
    fn transition(&self, next: State, event: ProviderEvent) {
        if self.state.send_if_modified(|state| {
            let changed = *state != next;
            *state = next;
            changed
        }) {
            // No subscriber is not an error.
            let _ = self.events.send(event);
        }
    }

    pub(crate) fn ready(&self) {
        self.transition(State::Ready, ProviderEvent::Ready);
    }

    /// Ready to stale; from any other state, nothing (a provider that never
    /// had a state is in error, not stale).
    pub(crate) fn stale(&self, message: String) {
        if self.state() == State::Ready {
            self.transition(State::Stale, ProviderEvent::Stale { message });
        }
    }

    pub(crate) fn error(&self, message: String) {
        self.transition(State::Error, ProviderEvent::Error { message });
    }

    pub(crate) fn changed(&self, flag_keys: Vec<String>) {
        let _ = self
            .events
            .send(ProviderEvent::ConfigurationChanged { flag_keys });
    }

    /// Waits until the provider leaves NOT_READY (or `timeout` passes);
    /// returns the state then.
    pub(crate) async fn settled(&self, timeout: Duration) -> State {
        let mut receiver = self.state.subscribe();
        let _ = tokio::time::timeout(
            timeout,
            receiver.wait_for(|state| *state != State::NotReady),
        )
        .await;
        self.state()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_announced_once() {
        let status = Status::new();
        let mut events = status.subscribe();
        status.stale("lost".into());
        assert_eq!(status.state(), State::NotReady, "never ready: not stale");
        status.error("refused".into());
        status.error("refused again".into());
        status.ready();
        status.ready();
        status.stale("lost".into());
        status.changed(vec!["a".into()]);
        let mut seen = Vec::new();
        while let Ok(event) = events.try_recv() {
            seen.push(event);
        }
        assert_eq!(
            seen,
            [
                ProviderEvent::Error {
                    message: "refused".into()
                },
                ProviderEvent::Ready,
                ProviderEvent::Stale {
                    message: "lost".into()
                },
                ProviderEvent::ConfigurationChanged {
                    flag_keys: vec!["a".into()]
                },
            ]
        );
        assert_eq!(status.state().status(), ProviderStatus::STALE);
    }
}
