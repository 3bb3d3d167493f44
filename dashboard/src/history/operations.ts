// A flag's history and rollback: their GraphQL operations.
import { graphql } from '../gql';

export const FlagHistoryQuery = graphql(`
  query FlagHistory($flagSet: String!, $key: String!, $first: Int!, $beforeId: Int) {
    flag(flagSet: $flagSet, key: $key) {
      flagSet
      key
      history(first: $first, beforeId: $beforeId) {
        items {
          ...AuditEventFields
        }
        next
      }
    }
  }
`);

export const RollbackFlagMutation = graphql(`
  mutation RollbackFlag($flagSet: String!, $key: String!, $expectedVersion: Int!, $toVersion: Int!) {
    rollbackFlag(flagSet: $flagSet, key: $key, expectedVersion: $expectedVersion, toVersion: $toVersion) {
      ...FlagFields
    }
  }
`);
