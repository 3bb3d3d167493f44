// The segment screens' GraphQL operations.
import { graphql } from '../gql';

export const SegmentFields = graphql(`
  fragment SegmentFields on Segment {
    flagSet
    key
    definition
    version
    updatedAt
  }
`);

export const SegmentListQuery = graphql(`
  query SegmentList($flagSet: String!) {
    segments(flagSet: $flagSet) {
      ...SegmentFields
    }
  }
`);

export const CreateSegmentMutation = graphql(`
  mutation CreateSegment($flagSet: String!, $key: String!, $definition: JSON!) {
    createSegment(flagSet: $flagSet, key: $key, definition: $definition) {
      ...SegmentFields
    }
  }
`);

export const UpdateSegmentMutation = graphql(`
  mutation UpdateSegment($flagSet: String!, $key: String!, $expectedVersion: Int!, $definition: JSON!) {
    updateSegment(flagSet: $flagSet, key: $key, expectedVersion: $expectedVersion, definition: $definition) {
      ...SegmentFields
    }
  }
`);

export const DeleteSegmentMutation = graphql(`
  mutation DeleteSegment($flagSet: String!, $key: String!, $expectedVersion: Int!) {
    deleteSegment(flagSet: $flagSet, key: $key, expectedVersion: $expectedVersion) {
      ...SegmentFields
    }
  }
`);
