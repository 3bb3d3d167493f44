//! The commit announcement: what every committed change tells the nodes
//! that follow the store (subscriptions, the publisher, the alerter, the
//! embedded evaluation feed) over an in-process broadcast channel.

use crate::Action;

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The flag set that changed.
    pub flag_set: String,
    /// The flag, when one flag changed.
    pub flag: Option<String>,
    /// What was done.
    pub action: Action,
    /// Who did it.
    pub actor: String,
}
