// The tokens and SDK keys screen's GraphQL operations.
import { graphql } from '../gql';

export const TokenFields = graphql(`
  fragment TokenFields on Token {
    id
    name
    role
    flagSet
    prefix
    createdAt
    revokedAt
  }
`);

export const TokensQuery = graphql(`
  query Tokens {
    tokens {
      ...TokenFields
    }
  }
`);

// The secret is asked for here only, and shown once.
export const CreateTokenMutation = graphql(`
  mutation CreateToken($name: String!, $role: String!, $flagSet: String) {
    createToken(name: $name, role: $role, flagSet: $flagSet) {
      token {
        ...TokenFields
      }
      secret
    }
  }
`);

export const RevokeTokenMutation = graphql(`
  mutation RevokeToken($id: Int!) {
    revokeToken(id: $id) {
      ...TokenFields
    }
  }
`);
