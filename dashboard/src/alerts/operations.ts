// The alerts screen's GraphQL operations: a page of alerts with where each
// stands with every webhook, and how delivery to each webhook stands.
import { graphql } from '../gql';

export const AlertsQuery = graphql(`
  query Alerts($first: Int!, $beforeId: Int, $flagSet: String) {
    alerts(first: $first, beforeId: $beforeId, flagSet: $flagSet) {
      items {
        id
        severity
        kind
        kinds
        message
        publication {
          version
          published
          errors
        }
        event {
          id
          flagSet
          subjectKind
          subjectKey
          action
          actor
          after
          createdAt
        }
        deliveries {
          webhook
          status
        }
      }
      next
    }
  }
`);

export const WebhooksQuery = graphql(`
  query Webhooks {
    webhooks {
      target
      deliveredThrough
      pending
      updatedAt
      deliveredAt
      attemptedAt
      failingSince
      failedAttempts
      lastError
    }
  }
`);
