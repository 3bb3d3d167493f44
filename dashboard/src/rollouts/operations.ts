// The rollout screens' GraphQL operations: the list, one rollout with its
// guard's latest check, the flag a rollout is scheduled for, and the
// mutations that schedule, pause, resume and cancel one.
import { graphql } from '../gql';

// What the list shows of each rollout.
export const RolloutSummaryFields = graphql(`
  fragment RolloutSummaryFields on Rollout {
    id
    flagSet
    flag
    status
    nextStep
    nextAt
    lastError
    createdAt
    createdBy
    steps {
      at
      weights {
        variant
        weight
      }
    }
    guard {
      action
      metric {
        event
        kind
      }
    }
    guardedVariant
    guardCheck {
      verdict
      checkedAt
    }
  }
`);

// Everything the rollout screen shows; every mutation on a rollout answers it.
export const RolloutFields = graphql(`
  fragment RolloutFields on Rollout {
    ...RolloutSummaryFields
    actor
    updatedAt
    guard {
      metric {
        event
        kind
        windowSeconds
      }
      direction
      tolerance
      minUsers
      action
    }
    initialWeights {
      variant
      weight
    }
    stepStartedAt
    guardCheck {
      step
      checkedAt
      verdict
      oldUsers
      newUsers
      lift
      interval
      reason
    }
  }
`);

export const RolloutsQuery = graphql(`
  query Rollouts($flagSet: String!) {
    rollouts(flagSet: $flagSet) {
      ...RolloutSummaryFields
    }
  }
`);

export const RolloutQuery = graphql(`
  query Rollout($id: Int!) {
    rollout(id: $id) {
      ...RolloutFields
    }
  }
`);

/** Flags to choose from in the schedule form: keys matching a search, with their definitions. */
export const RolloutFlagChoicesQuery = graphql(`
  query RolloutFlagChoices($flagSet: String!, $search: String) {
    flags(flagSet: $flagSet, search: $search, first: 100) {
      items {
        key
        definition
      }
      totalCount
    }
  }
`);

/** The flag a rollout is being scheduled for. */
export const RolloutFlagQuery = graphql(`
  query RolloutFlag($flagSet: String!, $key: String!) {
    flag(flagSet: $flagSet, key: $key) {
      flagSet
      key
      version
      state
      archived
      definition
    }
  }
`);

export const ScheduleRolloutMutation = graphql(`
  mutation ScheduleRollout($flagSet: String!, $key: String!, $steps: [RolloutStepInput!]!, $guard: RolloutGuardInput) {
    scheduleRollout(flagSet: $flagSet, key: $key, steps: $steps, guard: $guard) {
      ...RolloutFields
    }
  }
`);

export const PauseRolloutMutation = graphql(`
  mutation PauseRollout($id: Int!) {
    pauseRollout(id: $id) {
      ...RolloutFields
    }
  }
`);

export const ResumeRolloutMutation = graphql(`
  mutation ResumeRollout($id: Int!) {
    resumeRollout(id: $id) {
      ...RolloutFields
    }
  }
`);

export const CancelRolloutMutation = graphql(`
  mutation CancelRollout($id: Int!) {
    cancelRollout(id: $id) {
      ...RolloutFields
    }
  }
`);
