// The flag screens' GraphQL operations.
import { graphql } from '../gql';

export const FlagSetsQuery = graphql(`
  query FlagSets {
    flagSets {
      key
      name
      archived
      readOnly
    }
  }
`);

// Tags are read from the definition's `metadata.tags` here until the
// server answers `Flag.tags`; state, tag and sort filters wait for the
// `flags` query's arguments of the same names.
export const FlagListQuery = graphql(`
  query FlagList(
    $flagSet: String!
    $search: String
    $after: String
    $first: Int!
    $includeArchived: Boolean!
  ) {
    flags(
      flagSet: $flagSet
      search: $search
      after: $after
      first: $first
      includeArchived: $includeArchived
    ) {
      items {
        key
        state
        defaultVariant
        version
        updatedAt
        archived
        locked
        definition
      }
      next
    }
  }
`);

export const FlagOverviewQuery = graphql(`
  query FlagOverview($flagSet: String!, $key: String!) {
    flag(flagSet: $flagSet, key: $key) {
      flagSet
      key
      definition
      state
      defaultVariant
      version
      clientVisible
      locked
      archived
      updatedAt
    }
  }
`);

export const KillSwitchMutation = graphql(`
  mutation KillSwitch($flagSet: String!, $key: String!) {
    killSwitch(flagSet: $flagSet, key: $key) {
      key
      state
      version
      updatedAt
    }
  }
`);

export const ArchiveFlagMutation = graphql(`
  mutation ArchiveFlag($flagSet: String!, $key: String!, $expectedVersion: Int!) {
    archiveFlag(flagSet: $flagSet, key: $key, expectedVersion: $expectedVersion) {
      key
      archived
      version
    }
  }
`);

export const FlagChangesSubscription = graphql(`
  subscription FlagChanges($flagSet: String) {
    flagChanges(flagSet: $flagSet) {
      flagSet
      flag
      action
      actor
    }
  }
`);
