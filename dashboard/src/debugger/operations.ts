// The evaluation debugger's GraphQL operations: the flag's rule with the
// segments it may refer to, and an evaluation with the rule it ran.
import { graphql } from '../gql';

// The flag as stored and the segments its rule may refer to, read before
// an evaluation and again with each, so the path is drawn over the rule
// that was evaluated.
export const DebuggedRule = graphql(`
  fragment DebuggedRule on Query {
    flag(flagSet: $flagSet, key: $key) {
      flagSet
      key
      version
      state
      definition
    }
    segments(flagSet: $flagSet) {
      flagSet
      key
      definition
    }
  }
`);

export const DebuggerRuleQuery = graphql(`
  query DebuggerRule($flagSet: String!, $key: String!) {
    ...DebuggedRule
  }
`);

// The flag and segments are read again with the evaluation, so the rule
// drawn is the one the server just evaluated.
export const EvaluateQuery = graphql(`
  query Evaluate($flagSet: String!, $key: String!, $context: JSON!) {
    evaluate(flagSet: $flagSet, key: $key, context: $context) {
      value
      variant
      reason
      errorCode
      errorMessage
      explain
      steps {
        pointer
        kind
        segment
        condition
        branch
        operator
        clause
        value
        bucket
        hash
      }
      omittedSteps
    }
    ...DebuggedRule
  }
`);
