// What a scenario sets up through the admin API before the browser sees
// it: a flag set of its own, flags in it, and tokens of a given role.
import { graphql } from './api';
import { env } from './env';

/** A key no earlier run against the same server has used. */
export function uniqueKey(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}

/**
 * Creates a flag set of the scenario's own, keyed `prefix` and a suffix
 * (`uniqueKey`), and returns its key: the scenario's flags then change no
 * list that another scenario counts.
 */
export async function createFlagSet(prefix: string): Promise<string> {
  const key = uniqueKey(prefix);
  await graphql('mutation ($key: String!) { createFlagSet(key: $key, name: $key) { key } }', { key });
  return key;
}

/** A flagd flag definition, as `importFlagSet` and `createFlag` take it. */
export type FlagDefinition = Record<string, unknown>;

/**
 * The admin API refuses request bodies over 1 MiB (graphql-admin's
 * `MAX_BODY_BYTES`): an import is sent in commits of at most this many
 * bytes of flags, leaving room for the query and the JSON around them.
 */
const IMPORT_CHUNK_BYTES = 512 * 1024;

/**
 * Imports `flags` into `flagSet` as flagd flag files of at most
 * `IMPORT_CHUNK_BYTES`, one commit each (an import leaves the flags it does
 * not name alone); returns how many commits it took.
 */
export async function importFlags(flagSet: string, flags: Record<string, FlagDefinition>): Promise<number> {
  const chunks: Record<string, FlagDefinition>[] = [];
  let chunk: Record<string, FlagDefinition> = {};
  let bytes = 0;
  for (const [key, definition] of Object.entries(flags)) {
    const size = JSON.stringify({ [key]: definition }).length;
    if (bytes + size > IMPORT_CHUNK_BYTES && bytes > 0) {
      chunks.push(chunk);
      chunk = {};
      bytes = 0;
    }
    chunk[key] = definition;
    bytes += size;
  }
  if (bytes > 0) chunks.push(chunk);
  for (const part of chunks) {
    await graphql('mutation ($flagSet: String!, $file: JSON!) { importFlagSet(flagSet: $flagSet, file: $file) }', {
      flagSet,
      file: { flags: part },
    });
  }
  return chunks.length;
}

/** A token made for a scenario: its id (to revoke it) and its secret. */
export type ScenarioToken = { id: number; secret: string };

/** Creates a token of `role` (`viewer`, `editor` or `admin`) with the admin token. */
export async function createToken(name: string, role: string): Promise<ScenarioToken> {
  const data = await graphql<{ createToken: { token: { id: number }; secret: string } }>(
    'mutation ($name: String!, $role: String!) { createToken(name: $name, role: $role) { token { id } secret } }',
    { name, role },
  );
  return { id: data.createToken.token.id, secret: data.createToken.secret };
}

/** Revokes token `id` with the admin token `ensign serve` printed. */
export async function revokeToken(id: number): Promise<void> {
  await graphql('mutation ($id: Int!) { revokeToken(id: $id) { revokedAt } }', { id }, env.token);
}
