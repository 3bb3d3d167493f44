// The comparison screen's GraphQL operations: two flag sets side by side,
// and the promotion of one flag from one to the other.
import { graphql } from '../gql';

export const ComparedFlagFields = graphql(`
  fragment ComparedFlagFields on Flag {
    flagSet
    key
    version
    state
    definition
    clientVisible
    archived
    updatedAt
  }
`);

export const CompareFlagSetsQuery = graphql(`
  query CompareFlagSets($from: String!, $to: String!) {
    compareFlagSets(from: $from, to: $to) {
      key
      differences
      from {
        ...ComparedFlagFields
      }
      to {
        ...ComparedFlagFields
      }
    }
  }
`);

export const PromoteFlagMutation = graphql(`
  mutation PromoteFlag($from: String!, $to: String!, $key: String!, $fromVersion: Int!, $expectedVersion: Int) {
    promoteFlag(from: $from, to: $to, key: $key, fromVersion: $fromVersion, expectedVersion: $expectedVersion) {
      ...ComparedFlagFields
    }
  }
`);
