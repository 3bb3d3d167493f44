//! Flag usage in the GraphQL API (viewer): each flag's evaluation counts
//! over the last 24 hours and 30 days and when it was last evaluated, as
//! evaluation nodes count them, and the flags that look ready to be removed
//! from code.

use async_graphql::{Context, Enum, Object, SimpleObject};
use time::OffsetDateTime;

use super::cost::unpaged;
use super::error::{ApiError, store_error};
use super::schema::{admin, authorize, time};
use store::{FlagUsage, StaleFlag, Staleness, TokenRole, VariantUsage};

/// The longest window of `staleFlags`: ten years.
const MAX_UNUSED_FOR_HOURS: u32 = 10 * 366 * 24;

/// How often a flag was evaluated, and when, as the evaluation nodes
/// counted it (to the minute; evaluations of in-process evaluators are not
/// counted).
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "FlagUsage")]
pub struct FlagUsageObject {
    /// The flag's key.
    flag: String,
    /// The start of the latest minute it was evaluated in (RFC 3339);
    /// `null` if it never was.
    last_evaluated_at: Option<String>,
    /// The start of the first minute it was evaluated in; `null` if it
    /// never was.
    first_evaluated_at: Option<String>,
    /// Evaluations in the minutes that started in the last 24 hours.
    evaluations_24h: u64,
    /// Evaluations in the hours that started in the last 30 days.
    evaluations_30d: u64,
    /// Each variant it served (a `null` variant: evaluations that served
    /// none, such as errors).
    variants: Vec<VariantUsageObject>,
}

/// How often a flag served one variant.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "VariantUsage")]
pub struct VariantUsageObject {
    /// The variant; `null` for evaluations that served none.
    variant: Option<String>,
    /// Evaluations in the minutes that started in the last 24 hours.
    evaluations_24h: u64,
    /// The start of the latest minute it was served in.
    last_served_at: String,
}

impl From<FlagUsage> for FlagUsageObject {
    fn from(usage: FlagUsage) -> Self {
        FlagUsageObject {
            flag: usage.flag,
            last_evaluated_at: usage.last_evaluated.map(time),
            first_evaluated_at: usage.first_evaluated.map(time),
            evaluations_24h: usage.evaluations_24h,
            evaluations_30d: usage.evaluations_30d,
            variants: usage.variants.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<VariantUsage> for VariantUsageObject {
    fn from(usage: VariantUsage) -> Self {
        VariantUsageObject {
            variant: usage.variant,
            evaluations_24h: usage.evaluations_24h,
            last_served_at: time(usage.last_served),
        }
    }
}

/// Why a flag can likely be removed from code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum StaleReason {
    /// No evaluation in the window (and the flag is older than it).
    NotEvaluated,
    /// Every evaluation in the window, and for at least as long, served
    /// one variant: the code can use it directly.
    OneVariant,
}

/// A flag that can likely be removed from code.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "StaleFlag")]
pub struct StaleFlagObject {
    /// The flag's key.
    flag: String,
    /// Why.
    reason: StaleReason,
    /// For `NOT_EVALUATED`: the start of the latest minute it was
    /// evaluated in, `null` if it never was.
    last_evaluated_at: Option<String>,
    /// For `ONE_VARIANT`: the variant served (`null`: none, as errors
    /// serve).
    variant: Option<String>,
    /// For `ONE_VARIANT`: since when it has served only that variant.
    since: Option<String>,
}

impl From<StaleFlag> for StaleFlagObject {
    fn from(stale: StaleFlag) -> Self {
        match stale.staleness {
            Staleness::NotEvaluated { last_evaluated } => StaleFlagObject {
                flag: stale.flag,
                reason: StaleReason::NotEvaluated,
                last_evaluated_at: last_evaluated.map(time),
                variant: None,
                since: None,
            },
            Staleness::OneVariant { variant, since } => StaleFlagObject {
                flag: stale.flag,
                reason: StaleReason::OneVariant,
                last_evaluated_at: None,
                variant,
                since: Some(time(since)),
            },
        }
    }
}

/// Reading flag usage.
#[derive(Debug, Default)]
pub struct UsageQuery;

#[Object]
impl UsageQuery {
    /// Every flag of a flag set (archived ones aside), by key, with its
    /// evaluation counts and when it was last evaluated; flags never
    /// evaluated are listed with none.
    #[graphql(complexity = "unpaged(child_complexity)")]
    async fn flag_usage(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
    ) -> async_graphql::Result<Vec<FlagUsageObject>> {
        authorize(ctx, TokenRole::Viewer)?;
        let store = &admin(ctx)?.store;
        store.flag_set(&flag_set).await.map_err(store_error)?;
        let usage = store
            .flag_usage(&flag_set, OffsetDateTime::now_utc())
            .await
            .map_err(store_error)?;
        Ok(usage.into_iter().map(Into::into).collect())
    }

    /// The flags of a flag set that can likely be removed from code, by
    /// key: those not evaluated for `unusedForHours` (1 to 87,840; default
    /// 720, 30 days), and those that served one variant to everyone for
    /// that long.
    #[graphql(complexity = "unpaged(child_complexity)")]
    async fn stale_flags(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        #[graphql(default = 720)] unused_for_hours: u32,
    ) -> async_graphql::Result<Vec<StaleFlagObject>> {
        authorize(ctx, TokenRole::Viewer)?;
        if !(1..=MAX_UNUSED_FOR_HOURS).contains(&unused_for_hours) {
            return Err(ApiError::InvalidInput {
                what: "unusedForHours",
                reason: format!("takes 1 to {MAX_UNUSED_FOR_HOURS} hours, not {unused_for_hours}"),
            }
            .into());
        }
        let store = &admin(ctx)?.store;
        store.flag_set(&flag_set).await.map_err(store_error)?;
        let stale = store
            .stale_flags(
                &flag_set,
                time::Duration::hours(i64::from(unused_for_hours)),
                OffsetDateTime::now_utc(),
            )
            .await
            .map_err(store_error)?;
        Ok(stale.into_iter().map(Into::into).collect())
    }
}
