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

/**
 * The segment list's query context: an empty list holds no `Segment` for
 * urql's cache to tie it to, so it names the type, and a created segment
 * refetches it.
 */
export const SEGMENT_LIST_CONTEXT = { additionalTypenames: ['Segment'] };

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
