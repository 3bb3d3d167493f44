//! A source fed in-process by the application that embeds the server: the
//! embedded store hands each committed state of its flag sets over a watch
//! channel, with no network in between.

use std::sync::Arc;

use engine::publication::Access;
use serde_json::Value;
use tokio::sync::watch;

use super::Loader;

/// Named flagd documents, one per flag set.
pub type Documents = Vec<(String, Value)>;

/// The SDK keys of each flag set.
pub type AccessList = Vec<(String, Access)>;

/// One state: the documents and their keys.
type State = Option<Arc<(Documents, AccessList)>>;

/// The sending side: the application publishes each new state here.
#[derive(Debug, Clone)]
pub struct FeedSender(watch::Sender<State>);

/// The receiving side, given to the server as [`super::SourceKind::Feed`].
#[derive(Debug, Clone)]
pub struct Feed(watch::Receiver<State>);

/// A connected sender and feed. The source is not ready until the first
/// state is sent.
pub fn channel() -> (FeedSender, Feed) {
    let (sender, receiver) = watch::channel(None);
    (FeedSender(sender), Feed(receiver))
}

impl FeedSender {
    /// Replaces the source's flag sets with `documents`. Only the latest
    /// state counts: states sent faster than they are loaded are skipped.
    pub fn send(&self, documents: Documents) {
        self.send_with_access(documents, Vec::new());
    }

    /// Replaces the source's flag sets and their SDK keys.
    pub fn send_with_access(&self, documents: Documents, access: AccessList) {
        self.0.send_replace(Some(Arc::new((documents, access))));
    }
}

impl PartialEq for Feed {
    fn eq(&self, other: &Self) -> bool {
        self.0.same_channel(&other.0)
    }
}

impl Eq for Feed {}

/// Loads every state sent to `feed` until the sender is dropped or the
/// server shuts down.
pub async fn run(
    loader: Arc<Loader>,
    index: usize,
    feed: Feed,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut receiver = feed.0;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let current = receiver.borrow_and_update().clone();
        if let Some(state) = current {
            let (documents, access) = state.as_ref().clone();
            let _ = loader.load_sets(index, documents).await;
            loader.set_access(index, access);
        }
        tokio::select! {
            changed = receiver.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = &mut shutdown => return,
        }
    }
}
