// The audit log's GraphQL operations, and the fields of an audit event
// that the audit log and a flag's history both show.
import { graphql } from '../gql';

export const AuditEventFields = graphql(`
  fragment AuditEventFields on AuditEvent {
    id
    flagSet
    subjectKind
    subjectKey
    action
    actor
    requestId
    version
    before
    after
    diff
    outOfBand
    createdAt
  }
`);

export const AuditLogQuery = graphql(`
  query AuditLog($filter: AuditFilter!) {
    audit(filter: $filter) {
      items {
        ...AuditEventFields
      }
      next
    }
  }
`);
