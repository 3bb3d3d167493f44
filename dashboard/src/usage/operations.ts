// The flag usage screen's GraphQL operations.
import { graphql } from '../gql';

export const FlagUsageQuery = graphql(`
  query FlagUsage($flagSet: String!) {
    flagUsage(flagSet: $flagSet) {
      flag
      lastEvaluatedAt
      firstEvaluatedAt
      evaluations24h
      evaluations30d
      variants {
        variant
        evaluations24h
        lastServedAt
      }
    }
  }
`);

export const StaleFlagsQuery = graphql(`
  query StaleFlags($flagSet: String!, $unusedForHours: Int!) {
    staleFlags(flagSet: $flagSet, unusedForHours: $unusedForHours) {
      flag
      reason
      lastEvaluatedAt
      variant
      since
    }
  }
`);
