//! The GraphQL subscription (viewer role): every committed change, as the
//! store announces it on `Admin.commits`, optionally of one flag set.

use async_graphql::{Context, SimpleObject, Subscription};
use futures::Stream;

use super::schema::{admin, authorize};
use store::{Commit, TokenRole};

// The GraphQL face of the store's `Commit` (its doc is the schema's).
/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
#[graphql(name = "Commit")]
pub struct CommitObject {
    /// The flag set that changed.
    pub flag_set: String,
    /// The flag, when one flag changed.
    pub flag: Option<String>,
    /// What was done ("update", "kill", "import", ...).
    pub action: String,
    /// Who did it.
    pub actor: String,
}

impl From<Commit> for CommitObject {
    fn from(commit: Commit) -> CommitObject {
        CommitObject {
            flag_set: commit.flag_set,
            flag: commit.flag,
            action: commit.action.as_str().to_owned(),
            actor: commit.actor,
        }
    }
}

/// Live updates.
#[derive(Debug, Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Every committed change of one flag set (all flag sets when omitted).
    async fn flag_changes(
        &self,
        ctx: &Context<'_>,
        flag_set: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = CommitObject> + use<>> {
        authorize(ctx, TokenRole::Viewer)?;
        let receiver = admin(ctx)?.commits.subscribe();
        let stream = tokio_stream::wrappers::BroadcastStream::new(receiver);
        Ok(futures::StreamExt::filter_map(stream, move |commit| {
            let wanted = match &commit {
                Ok(c) => flag_set.as_ref().is_none_or(|f| f == &c.flag_set),
                Err(_) => false,
            };
            std::future::ready(if wanted {
                commit.ok().map(CommitObject::from)
            } else {
                None
            })
        }))
    }
}
