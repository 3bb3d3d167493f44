//! What the publisher needs from the store: which flag sets have versions
//! not yet published, and recording a publication.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::entity::flag_set;
use super::{FlagSetRecord, Store, StoreError};

impl Store {
    /// The flag sets, not archived, whose version is ahead of their
    /// published version, by key: the publisher's backlog.
    pub async fn unpublished_flag_sets(&self) -> Result<Vec<FlagSetRecord>, StoreError> {
        Ok(flag_set::Entity::find()
            .filter(flag_set::Column::Archived.eq(false))
            .filter(
                Expr::col(flag_set::Column::Version)
                    .gt(Expr::col(flag_set::Column::PublishedVersion)),
            )
            .order_by_asc(flag_set::Column::Key)
            .all(&self.db)
            .await?
            .into_iter()
            .map(FlagSetRecord::from)
            .collect())
    }

    /// Records that `version` of `flag_set` is published. The published
    /// version only rises, and never past the flag set's version: a
    /// publisher that finishes late with an older version changes nothing.
    /// Returns whether it rose. Neither the flag set's version nor its
    /// `updated_at` changes, so this is not a change to audit.
    pub async fn mark_published(&self, flag_set: &str, version: i64) -> Result<bool, StoreError> {
        let result = flag_set::Entity::update_many()
            .col_expr(flag_set::Column::PublishedVersion, Expr::value(version))
            .filter(flag_set::Column::Key.eq(flag_set))
            .filter(flag_set::Column::PublishedVersion.lt(version))
            .filter(flag_set::Column::Version.gte(version))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }
}
