//! Alerts in the GraphQL API (viewer role): the audit events that raise an
//! alert (out-of-band edits, kill switches, changes to locked flags, the
//! onset of an experiment's sample-ratio mismatch, a guarded rollout's
//! stop), newest first, as the webhooks of `crate::alerts` report them; and
//! how delivery to each webhook stands.

use std::collections::HashMap;

use async_graphql::{Context, Enum, Object, SimpleObject};

use super::audit::AuditObject;
use super::cost::{page_size, paged, unpaged};
use super::error::store_error;
use super::schema::{admin, authorize, time};
use crate::alerts::{self, AlertKind, Publication, Severity};
use store::{AuditFilter, DeliveryState, TokenRole};
use store::{Store, StoreError};

/// Audit events read per page (the store's largest page), and the most
/// alerts one query returns.
const PAGE: u64 = 500;

/// How many audit events one `alerts` query reads at most before it
/// returns what it found, with a cursor to go on.
const SCAN_LIMIT: usize = 10 * PAGE as usize;

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "AlertSeverity")]
pub enum SeverityObject {
    /// A deliberate but unusual change.
    Warning,
    /// A change that cannot be published.
    Critical,
}

impl From<Severity> for SeverityObject {
    fn from(severity: Severity) -> Self {
        match severity {
            Severity::Warning => SeverityObject::Warning,
            Severity::Critical => SeverityObject::Critical,
        }
    }
}

/// Why a change raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "AlertKind")]
pub enum KindObject {
    /// Changed by hand in SQL, outside Ensign.
    OutOfBand,
    /// The flag was disabled.
    KillSwitch,
    /// The flag is locked.
    LockedFlag,
    /// A running experiment's users per variant stopped matching its
    /// weights (the onset of a sample-ratio mismatch).
    SampleRatioMismatch,
    /// A guarded rollout's guard found the new variant worse than it
    /// tolerates, and paused the rollout or restored its weights.
    GuardStop,
}

impl From<AlertKind> for KindObject {
    fn from(kind: AlertKind) -> Self {
        match kind {
            AlertKind::OutOfBand => KindObject::OutOfBand,
            AlertKind::KillSwitch => KindObject::KillSwitch,
            AlertKind::LockedFlag => KindObject::LockedFlag,
            AlertKind::SampleRatioMismatch => KindObject::SampleRatioMismatch,
            AlertKind::GuardStop => KindObject::GuardStop,
        }
    }
}

/// Whether the flag set of an out-of-band edit compiles, as stored now.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "AlertPublication")]
pub struct PublicationObject {
    /// The flag set's version that was compiled.
    version: i64,
    /// Whether it compiles, so it is published; otherwise evaluation nodes
    /// keep serving the last valid version.
    published: bool,
    /// The compiler's errors.
    errors: Vec<String>,
}

impl From<Publication> for PublicationObject {
    fn from(p: Publication) -> Self {
        PublicationObject {
            version: p.version,
            published: p.published,
            errors: p.errors.iter().map(ToString::to_string).collect(),
        }
    }
}

/// An alert, derived from one audit event.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Alert")]
pub struct AlertObject {
    /// The audit event's id.
    id: i64,
    severity: SeverityObject,
    /// The most significant reason.
    kind: KindObject,
    /// Every reason.
    kinds: Vec<KindObject>,
    /// What happened; for an out-of-band edit, whether the flag set as
    /// stored now compiles and is published.
    message: String,
    /// For an out-of-band edit: whether the flag set as stored now
    /// compiles.
    publication: Option<PublicationObject>,
    /// The audit event.
    event: AuditObject,
    /// Where it stands with each webhook, in `webhooks`' order.
    deliveries: Vec<AlertDelivery>,
}

/// Where one audit event stands with one webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum DeliveryStatus {
    /// The webhook's cursor is past it: sent and acknowledged (or not one
    /// of the events the webhook takes).
    Delivered,
    /// Waiting its turn.
    Pending,
    /// Waiting behind a delivery that is failing, and being retried.
    Failing,
}

/// An alert's delivery to one webhook.
#[derive(Debug, Clone, SimpleObject)]
pub struct AlertDelivery {
    /// The webhook's origin.
    webhook: String,
    status: DeliveryStatus,
}

/// How delivery to one webhook stands, as every admin node records it.
/// A webhook removed from the configuration keeps its record, which then
/// stops changing.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Webhook")]
pub struct WebhookObject {
    /// Its origin (scheme, host and port; never the path, which may hold
    /// a secret).
    target: String,
    /// The id of the last audit event it has handled: everything up to it
    /// was delivered or is not one of its events.
    delivered_through: i64,
    /// The audit events after that one, not handled yet.
    pending: u64,
    /// When its cursor last moved (RFC 3339).
    updated_at: String,
    /// When a delivery to it last succeeded.
    delivered_at: Option<String>,
    /// When the last attempt, good or bad, ended.
    attempted_at: Option<String>,
    /// While its current delivery fails (retried with backoff): since when.
    failing_since: Option<String>,
    /// While its current delivery fails: the failed attempts.
    failed_attempts: u32,
    /// While its current delivery fails: the last attempt's error.
    last_error: Option<String>,
}

impl From<DeliveryState> for WebhookObject {
    fn from(state: DeliveryState) -> Self {
        WebhookObject {
            target: webhook_name(&state),
            delivered_through: state.last_event_id,
            pending: state.pending,
            updated_at: time(state.updated_at),
            delivered_at: state.delivered_at.map(time),
            attempted_at: state.attempted_at.map(time),
            failing_since: state.failing_since.map(time),
            failed_attempts: state.failed_attempts,
            last_error: state.last_error,
        }
    }
}

/// A webhook's name: its origin, or a placeholder for a record kept from
/// before origins were.
fn webhook_name(state: &DeliveryState) -> String {
    state
        .target
        .clone()
        .unwrap_or_else(|| "(a webhook not registered since)".to_owned())
}

/// Where audit event `id` stands with the webhook in `state`.
fn delivery(state: &DeliveryState, id: i64) -> AlertDelivery {
    AlertDelivery {
        webhook: webhook_name(state),
        status: if id <= state.last_event_id {
            DeliveryStatus::Delivered
        } else if state.failing_since.is_some() {
            DeliveryStatus::Failing
        } else {
            DeliveryStatus::Pending
        },
    }
}

/// A page of alerts.
#[derive(Debug, Clone, SimpleObject)]
pub struct AlertPage {
    items: Vec<AlertObject>,
    /// Pass as `beforeId` for the next page; `null` when the audit log is
    /// exhausted. A page may hold fewer than `first` alerts (even none)
    /// and still have a next one, when alerts are sparse.
    next: Option<i64>,
}

/// Read access to alerts.
#[derive(Debug, Default)]
pub struct AlertQuery;

#[Object]
impl AlertQuery {
    /// Alerts, newest first (`first`: 1 to 100): unusual flag changes,
    /// the onsets of experiments' sample-ratio mismatches and guarded
    /// rollouts' stops.
    #[graphql(complexity = "paged(first, child_complexity)")]
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: u64,
        before_id: Option<i64>,
        flag_set: Option<String>,
    ) -> async_graphql::Result<AlertPage> {
        authorize(ctx, TokenRole::Viewer)?;
        let first = page_size(first)?;
        let store = &admin(ctx)?.store;
        alert_page(store, first, before_id, flag_set)
            .await
            .map_err(store_error)
    }

    /// How delivery to each webhook stands, by origin.
    #[graphql(complexity = "unpaged(child_complexity)")]
    async fn webhooks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<WebhookObject>> {
        authorize(ctx, TokenRole::Viewer)?;
        let states = admin(ctx)?
            .store
            .delivery_states()
            .await
            .map_err(store_error)?;
        Ok(states.into_iter().map(Into::into).collect())
    }
}

async fn alert_page(
    store: &Store,
    first: u64,
    before_id: Option<i64>,
    flag_set: Option<String>,
) -> Result<AlertPage, StoreError> {
    let wanted = first.clamp(1, PAGE) as usize;
    let webhooks = store.delivery_states().await?;
    let mut items = Vec::new();
    let mut publications: HashMap<String, Option<Publication>> = HashMap::new();
    let mut cursor = before_id;
    let mut scanned = 0;
    loop {
        let page = store
            .audit(&AuditFilter {
                flag_set: flag_set.clone(),
                before_id: cursor,
                limit: PAGE,
                ..AuditFilter::default()
            })
            .await?;
        for event in page.items {
            scanned += 1;
            cursor = Some(event.id);
            let kinds = alerts::alert_kinds(&event);
            if kinds.is_empty() {
                continue;
            }
            let publication = match (&event.flag_set, kinds.contains(&AlertKind::OutOfBand)) {
                (Some(set), true) => match publications.get(set) {
                    Some(known) => known.clone(),
                    None => {
                        let assessed = match store.document(set).await {
                            Ok((version, document)) => {
                                Some(alerts::publication(version, &document))
                            }
                            Err(StoreError::FlagSetNotFound { .. }) => None,
                            Err(error) => return Err(error),
                        };
                        publications.insert(set.clone(), assessed.clone());
                        assessed
                    }
                },
                _ => None,
            };
            let Some(alert) = alerts::alert(&event, kinds, publication) else {
                continue;
            };
            items.push(AlertObject {
                id: event.id,
                severity: alert.severity.into(),
                kind: alert.kind.into(),
                kinds: alert.kinds.into_iter().map(KindObject::from).collect(),
                message: alert.message,
                publication: alert.publication.map(PublicationObject::from),
                deliveries: webhooks.iter().map(|w| delivery(w, event.id)).collect(),
                event: event.into(),
            });
            if items.len() == wanted {
                return Ok(AlertPage {
                    items,
                    next: cursor,
                });
            }
        }
        if page.next.is_none() {
            return Ok(AlertPage { items, next: None });
        }
        if scanned >= SCAN_LIMIT {
            return Ok(AlertPage {
                items,
                next: cursor,
            });
        }
    }
}
