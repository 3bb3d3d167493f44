//! What a query may cost. Every list field counts as many times as the
//! items it may return: a paged field (`flags`, `audit`, `alerts`, a
//! flag's `history`) as `first` items, any other list as
//! [`UNPAGED_ESTIMATE`] items, so that aliases, page sizes and nesting all
//! multiply. `first` is refused above [`MAX_FIRST`] (an error is clearer
//! than a silently shorter page), and the [`CostLimits`] extension refuses
//! a query above the schema's depth or complexity limit with a code,
//! before anything is executed.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::{ServerError, ValidationResult};

use super::error::ApiError;
use super::schema::{MAX_COMPLEXITY, MAX_DEPTH};

/// The most items one page of any paged field holds.
pub const MAX_FIRST: u64 = 100;

/// How many items a list without paging counts for in the complexity.
pub const UNPAGED_ESTIMATE: usize = 50;

/// The complexity of a paged field: `first` times its items' complexity.
pub(super) fn paged(first: u64, child_complexity: usize) -> usize {
    usize::try_from(first)
        .unwrap_or(usize::MAX)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// The complexity of a list without paging.
pub(super) fn unpaged(child_complexity: usize) -> usize {
    UNPAGED_ESTIMATE
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// Checks a page size: 1 to [`MAX_FIRST`].
pub(super) fn page_size(first: u64) -> async_graphql::Result<u64> {
    if (1..=MAX_FIRST).contains(&first) {
        Ok(first)
    } else {
        Err(ApiError::InvalidPageSize { first }.into())
    }
}

/// Refuses, before execution, a query deeper than [`MAX_DEPTH`] (code
/// `TOO_DEEP`) or more complex than [`MAX_COMPLEXITY`] (code
/// `TOO_COMPLEX`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CostLimits;

impl ExtensionFactory for CostLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CostLimits)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for CostLimits {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if result.depth > MAX_DEPTH {
            let depth = result.depth;
            return Err(vec![ApiError::TooDeep { depth }.server_error(None)]);
        }
        if result.complexity > MAX_COMPLEXITY {
            let complexity = result.complexity;
            return Err(vec![ApiError::TooComplex { complexity }.server_error(None)]);
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_multiply_and_never_overflow() {
        assert_eq!(paged(10, 3), 31);
        assert_eq!(paged(u64::MAX, 2), usize::MAX);
        assert_eq!(unpaged(2), 101);
        assert_eq!(unpaged(usize::MAX), usize::MAX);
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert!(page_size(0).is_err());
        assert_eq!(page_size(1).ok(), Some(1));
        assert_eq!(page_size(MAX_FIRST).ok(), Some(MAX_FIRST));
        assert!(page_size(MAX_FIRST + 1).is_err());
    }
}
