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

// A page of the list. `totalCount` counts every flag matching the filters;
// with `$countAll` (the first page of a filtered list) `unfiltered` counts
// the flags the filters choose from, for "12 of 5,000 match".
export const FlagListQuery = graphql(`
  query FlagList(
    $flagSet: String!
    $search: String
    $state: FlagState
    $tag: String
    $sort: FlagSort!
    $after: String
    $first: Int!
    $includeArchived: Boolean!
    $countAll: Boolean!
  ) {
    flags(
      flagSet: $flagSet
      search: $search
      state: $state
      tag: $tag
      sort: $sort
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
        tags
      }
      next
      totalCount
    }
    unfiltered: flags(flagSet: $flagSet, first: 1, includeArchived: $includeArchived) @include(if: $countAll) {
      totalCount
    }
  }
`);

/** The tag filter's options. */
export const FlagTagsQuery = graphql(`
  query FlagTags($flagSet: String!, $includeArchived: Boolean!) {
    flagTags(flagSet: $flagSet, includeArchived: $includeArchived)
  }
`);

// What the flag screen shows of a flag that every edit can change: an
// edit's answer carries it, so the screen shows the flag as saved.
export const FlagFields = graphql(`
  fragment FlagFields on Flag {
    flagSet
    key
    definition
    state
    defaultVariant
    version
    updatedAt
  }
`);

export const FlagOverviewQuery = graphql(`
  query FlagOverview($flagSet: String!, $key: String!) {
    flag(flagSet: $flagSet, key: $key) {
      ...FlagFields
      clientVisible
      locked
      archived
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

export const RestoreFlagMutation = graphql(`
  mutation RestoreFlag($flagSet: String!, $key: String!, $expectedVersion: Int!) {
    restoreFlag(flagSet: $flagSet, key: $key, expectedVersion: $expectedVersion) {
      key
      archived
      state
      version
      updatedAt
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

export const CreateFlagMutation = graphql(`
  mutation CreateFlag($flagSet: String!, $key: String!, $definition: JSON!) {
    createFlag(flagSet: $flagSet, key: $key, flag: { definition: $definition }) {
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
      tags
    }
  }
`);
