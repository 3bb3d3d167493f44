// The GraphQL operations of flag edits: the two saves (targeting and
// rollout weights, each with the version read), and the flag as it is now
// with its latest change, for a save refused as stale.
import { graphql } from '../gql';

export const UpdateFlagDefinitionMutation = graphql(`
  mutation UpdateFlagDefinition($flagSet: String!, $key: String!, $expectedVersion: Int!, $definition: JSON!) {
    updateFlag(flagSet: $flagSet, key: $key, expectedVersion: $expectedVersion, flag: { definition: $definition }) {
      ...FlagFields
    }
  }
`);

export const SetRolloutMutation = graphql(`
  mutation SetRollout($flagSet: String!, $key: String!, $expectedVersion: Int!, $weights: [Weight!]!) {
    setRollout(flagSet: $flagSet, key: $key, expectedVersion: $expectedVersion, weights: $weights) {
      ...FlagFields
    }
  }
`);

export const FlagNowQuery = graphql(`
  query FlagNow($flagSet: String!, $key: String!) {
    flag(flagSet: $flagSet, key: $key) {
      flagSet
      key
      definition
      version
      updatedAt
      history(first: 1) {
        items {
          id
          actor
          action
          version
          createdAt
        }
      }
    }
  }
`);

export const FlagSetSchemeQuery = graphql(`
  query FlagSetScheme {
    flagSets {
      key
      fractional
      metadata
    }
  }
`);

export const SegmentsQuery = graphql(`
  query Segments($flagSet: String!) {
    segments(flagSet: $flagSet) {
      key
      definition
    }
  }
`);
