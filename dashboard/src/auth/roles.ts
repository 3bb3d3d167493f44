// What each admin role may do (the server's rule: viewer < editor < admin),
// and the reason shown beside a control the signed-in role may not use.

/** The signed-in token, as the server describes it. */
export interface Viewer {
  /** The token's name: the actor recorded in the audit log. */
  name: string;
  /** "viewer", "editor" or "admin". */
  role: string;
}

/** Something a role may or may not do. */
export type Permission = 'changeFlags';

const RANK: Record<string, number> = { viewer: 1, editor: 2, admin: 3 };

const NEEDS: Record<Permission, { role: string; what: string }> = {
  changeFlags: { role: 'editor', what: 'change flags' },
};

/** Why `viewer` may not do `permission`, or `null` when it may. */
export function denial(viewer: Viewer, permission: Permission): string | null {
  const needed = NEEDS[permission];
  const rank = RANK[viewer.role];
  if (rank === undefined) {
    return `The role “${viewer.role}” cannot ${needed.what}`;
  }
  if (rank >= (RANK[needed.role] ?? Infinity)) return null;
  const plural = viewer.role.charAt(0).toUpperCase() + viewer.role.slice(1) + 's';
  return `${plural} cannot ${needed.what}`;
}
