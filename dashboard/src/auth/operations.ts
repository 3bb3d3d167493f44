// The sign-in check: the signed-in token's name and role.
import { graphql } from '../gql';

// Until `Query.viewer` is in the schema, the token list stands in for it:
// an admin token may list the tokens (and finds itself by its prefix);
// any other admin role is refused with a message naming its role.
export const ViewerProbeQuery = graphql(`
  query ViewerProbe {
    tokens {
      name
      role
      prefix
      revokedAt
    }
  }
`);
