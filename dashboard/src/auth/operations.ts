// The sign-in check: the signed-in token's name, role and what the role may change.
import { graphql } from '../gql';

export const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      name
      role
      can {
        changeFlags {
          allowed
          neededRole
        }
        administer {
          allowed
          neededRole
        }
      }
    }
  }
`);
