// The admin API called directly from a scenario: to set up what the
// browser is then shown (a viewer's token, a flag set of its own, many
// flags) and to check what the server holds after the browser changed it.
import { expect } from '@playwright/test';

import { env } from './env';

/** One GraphQL error as the admin API reports it. */
export type GraphQLError = { message: string; extensions?: { code?: string } };

/**
 * Runs `query` with `variables` as the holder of `token` (the admin token
 * by default) and returns its `data`; any error fails the scenario with
 * the server's message and code.
 */
export async function graphql<T>(
  query: string,
  variables: Record<string, unknown> = {},
  token: string = env.token,
): Promise<T> {
  const response = await fetch(new URL('/graphql', env.adminUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: GraphQLError[] };
  expect(body.errors ?? [], `errors of ${query}`).toEqual([]);
  expect(response.status, `status of ${query}`).toBe(200);
  if (body.data === undefined) throw new Error(`no data for ${query}`);
  return body.data;
}
