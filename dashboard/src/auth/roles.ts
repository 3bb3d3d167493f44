// What the signed-in role may do, as the server reports it in
// `viewer.can`, and the reason shown beside a control it may not use.
import type { ViewerQuery } from '../gql/graphql';

/** The signed-in token, as the server describes it. */
export type Viewer = ViewerQuery['viewer'];

/** A class of mutation the server reports a right for. */
export type Right = keyof Viewer['can'];

/** Why `viewer` may not use `right`, or `null` when the server says it may. */
export function denial(viewer: Viewer, right: Right): string | null {
  const permission = viewer.can[right];
  if (permission.allowed) return null;
  const who = plural(viewer.role);
  switch (right) {
    case 'changeFlags':
      return `${who} cannot change flags`;
    case 'administer':
      // Editors may change flags, so say which role this needs.
      return `${who} cannot manage tokens or flag sets: that needs the ${permission.neededRole} role`;
  }
}

/** "viewer" → "Viewers"; an empty role reads as "This role". */
function plural(role: string): string {
  return role === '' ? 'This role' : `${role.charAt(0).toUpperCase()}${role.slice(1)}s`;
}
