//! The audit trail in the GraphQL API (viewer role): audit events, paged
//! newest first and filtered by flag set, flag, actor and time. A flag's
//! own `history` (in [`super::flags`]) pages the same events.

use async_graphql::{Context, InputObject, Json, Object, SimpleObject};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use super::cost::{page_size, paged};
use super::error::{ApiError, store_error};
use super::schema::{admin, authorize, time};
use store::{AuditFilter, AuditRecord, Page, TokenRole};

/// An audit event.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "AuditEvent")]
pub struct AuditObject {
    id: i64,
    flag_set: Option<String>,
    subject_kind: String,
    subject_key: String,
    action: String,
    actor: String,
    request_id: Option<String>,
    version: Option<i64>,
    before: Option<Json<Value>>,
    after: Option<Json<Value>>,
    diff: Option<Json<Value>>,
    out_of_band: bool,
    created_at: String,
}

impl From<AuditRecord> for AuditObject {
    fn from(r: AuditRecord) -> Self {
        AuditObject {
            id: r.id,
            flag_set: r.flag_set,
            subject_kind: r.subject.as_str().to_owned(),
            subject_key: r.subject_key,
            action: r.action.as_str().to_owned(),
            actor: r.actor,
            request_id: r.request_id,
            version: r.version,
            before: r.before.map(Json),
            after: r.after.map(Json),
            diff: r.diff.map(Json),
            out_of_band: r.out_of_band,
            created_at: time(r.created_at),
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Clone, SimpleObject)]
pub struct AuditPage {
    items: Vec<AuditObject>,
    /// Pass as `beforeId` for the next page.
    next: Option<i64>,
}

impl From<Page<AuditRecord, i64>> for AuditPage {
    fn from(page: Page<AuditRecord, i64>) -> Self {
        AuditPage {
            items: page.items.into_iter().map(AuditObject::from).collect(),
            next: page.next,
        }
    }
}

/// Audit log filters.
#[derive(Debug, Clone, InputObject)]
#[graphql(name = "AuditFilter")]
pub struct AuditQuery {
    flag_set: Option<String>,
    flag: Option<String>,
    actor: Option<String>,
    /// RFC 3339.
    since: Option<String>,
    /// RFC 3339.
    until: Option<String>,
    before_id: Option<i64>,
    /// The page size, 1 to 100.
    #[graphql(default = 50)]
    first: u64,
}

impl Default for AuditQuery {
    fn default() -> Self {
        AuditQuery {
            flag_set: None,
            flag: None,
            actor: None,
            since: None,
            until: None,
            before_id: None,
            first: 50,
        }
    }
}

fn parse_time(text: Option<String>) -> async_graphql::Result<Option<time::OffsetDateTime>> {
    text.map(|t| {
        time::OffsetDateTime::parse(&t, &Rfc3339)
            .map_err(|error| ApiError::InvalidTime { text: t, error }.into())
    })
    .transpose()
}

/// Reading the audit log.
#[derive(Debug, Default)]
pub struct AuditLogQuery;

#[Object]
impl AuditLogQuery {
    /// A page of the audit log, newest first.
    #[graphql(complexity = "paged(filter.first, child_complexity)")]
    async fn audit(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: AuditQuery,
    ) -> async_graphql::Result<AuditPage> {
        authorize(ctx, TokenRole::Viewer)?;
        let page = admin(ctx)?
            .store
            .audit(&AuditFilter {
                flag_set: filter.flag_set,
                flag: filter.flag,
                actor: filter.actor,
                since: parse_time(filter.since)?,
                until: parse_time(filter.until)?,
                before_id: filter.before_id,
                limit: page_size(filter.first)?,
            })
            .await
            .map_err(store_error)?;
        Ok(page.into())
    }
}
