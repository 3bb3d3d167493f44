// Tokens and SDK keys in words: what each role may do, the order the list
// shows them in, and what the create form checks before anything is sent
// (the same rules as the store's: a name of 1 to 100 bytes, a flag set for
// an SDK key and none for an admin token).
import type { TokenFieldsFragment } from '../gql/graphql';

export type Token = TokenFieldsFragment;

/** A role as `createToken` spells it. */
export type Role = 'viewer' | 'editor' | 'admin' | 'server' | 'client';

export interface RoleInfo {
  role: Role;
  label: string;
  /** Whether it is an SDK key (evaluation, bound to a flag set) rather than an admin token. */
  sdk: boolean;
  /** What a holder of it may do. */
  help: string;
}

export const ROLES: readonly RoleInfo[] = [
  { role: 'viewer', label: 'Viewer', sdk: false, help: 'Reads everything in the admin API and changes nothing.' },
  {
    role: 'editor',
    label: 'Editor',
    sdk: false,
    help: 'Reads everything, and changes flags, segments and rollouts and imports flag files.',
  },
  {
    role: 'admin',
    label: 'Admin',
    sdk: false,
    help: 'Everything an editor may, and creates and revokes tokens and creates flag sets.',
  },
  {
    role: 'server',
    label: 'Server SDK key',
    sdk: true,
    help:
      'Evaluates every flag of one flag set over OFREP and gRPC and syncs it, for services you run. ' +
      'It may ask for the decision path (x-ensign-explain).',
  },
  {
    role: 'client',
    label: 'Client SDK key',
    sdk: true,
    help:
      'Evaluates only the client-visible flags of one flag set, for browsers and mobile apps, where ' +
      'anyone can read the key. It never gets the decision path and cannot sync whole configurations.',
  },
];

/** What the role is, for a role this version may not know as well. */
export function roleInfo(role: string): RoleInfo {
  return ROLES.find((r) => r.role === role) ?? { role: role as Role, label: role, sdk: false, help: '' };
}

/** Whether `role` is an SDK key's. */
export function isSdkRole(role: string): boolean {
  return roleInfo(role).sdk;
}

/** Live tokens first, then revoked ones; the newest first within each. */
export function sortTokens(tokens: readonly Token[]): Token[] {
  return [...tokens].sort((a, b) => {
    const live = Number(a.revokedAt !== null) - Number(b.revokedAt !== null);
    if (live !== 0) return live;
    return Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.id - a.id;
  });
}

/** The create form's fields as typed. */
export interface NewToken {
  name: string;
  role: Role;
  /** The flag set an SDK key is bound to ('' before one is chosen). */
  flagSet: string;
}

/** What `createToken` is sent. */
export interface TokenInput {
  name: string;
  role: Role;
  flagSet: string | null;
}

export type CheckedToken = { ok: true; input: TokenInput } | { ok: false; problems: { name?: string; flagSet?: string } };

/** The longest name the store keeps, in bytes. */
export const MAX_NAME_BYTES = 100;

/** Checks the form as the store will; the name is sent trimmed, as the store keeps it. */
export function checkNewToken(form: NewToken): CheckedToken {
  const name = form.name.trim();
  const problems: { name?: string; flagSet?: string } = {};
  const bytes = new TextEncoder().encode(name).length;
  if (bytes === 0) problems.name = 'A token needs a name';
  else if (bytes > MAX_NAME_BYTES) problems.name = `A name has at most ${MAX_NAME_BYTES} bytes; this one has ${bytes}`;
  const sdk = isSdkRole(form.role);
  if (sdk && form.flagSet === '') problems.flagSet = 'An SDK key needs a flag set';
  if (problems.name !== undefined || problems.flagSet !== undefined) return { ok: false, problems };
  return { ok: true, input: { name, role: form.role, flagSet: sdk ? form.flagSet : null } };
}
