// The evaluation debugger's GraphQL operations: the flag's rule with the
// segments it may refer to, and an evaluation with the rule it ran.
import { graphql } from '../gql';

export const DebuggerRuleQuery = graphql(`
  query DebuggerRule($flagSet: String!, $key: String!) {
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
    }
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
