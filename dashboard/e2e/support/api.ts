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

/** One flag's OFREP answer: the HTTP status and the body. */
export type OfrepAnswer = {
  status: number;
  body: {
    key?: string;
    value?: unknown;
    reason?: string;
    variant?: string;
    errorCode?: string;
    errorDetails?: string;
    metadata?: Record<string, unknown>;
  };
};

/**
 * Evaluates `flagKey` for `context` over OFREP, as an SDK would; with
 * `flagSet`, only that flag set is asked (the `flagd-selector` header), as
 * when several flag sets hold the same key.
 */
export async function ofrepEvaluate(
  flagKey: string,
  context: Record<string, unknown> = {},
  flagSet?: string,
): Promise<OfrepAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (flagSet !== undefined) headers['flagd-selector'] = `flagSetId=${flagSet}`;
  const response = await fetch(new URL(`/ofrep/v1/evaluate/flags/${encodeURIComponent(flagKey)}`, env.ofrepUrl), {
    method: 'POST',
    headers,
    body: JSON.stringify({ context }),
  });
  return { status: response.status, body: (await response.json()) as OfrepAnswer['body'] };
}

/** A flag as the admin API holds it now. */
export type StoredFlag = { version: number; state: string; defaultVariant: string | null; definition: Record<string, unknown> };

/** Reads a flag's version and definition through the admin API. */
export async function storedFlag(flagSet: string, key: string): Promise<StoredFlag> {
  const data = await graphql<{ flag: StoredFlag }>(
    'query ($flagSet: String!, $key: String!) { flag(flagSet: $flagSet, key: $key) { version state defaultVariant definition } }',
    { flagSet, key },
  );
  return data.flag;
}

/** Creates a flag in `flagSet` with `definition` through the admin API, for a scenario to start from. */
export async function createFlag(flagSet: string, key: string, definition: Record<string, unknown>): Promise<StoredFlag> {
  const data = await graphql<{ createFlag: StoredFlag }>(
    'mutation ($flagSet: String!, $key: String!, $definition: JSON!) { createFlag(flagSet: $flagSet, key: $key, flag: { definition: $definition }) { version state defaultVariant definition } }',
    { flagSet, key, definition },
  );
  return data.createFlag;
}

/** A tracking event as applications send it (README, "Tracking events"). */
export type TrackingEvent = { name: string; context: { targetingKey: string }; details?: { value?: number } };

/**
 * Sends tracking events to `POST /ensign/v1/events` on the OFREP port, as
 * an application does, in batches of at most 1,000 (the endpoint's limit);
 * on a node without keys the `flagd-selector` header names the flag set
 * they belong to. Every event must be accepted.
 */
export async function trackEvents(flagSet: string, events: readonly TrackingEvent[]): Promise<void> {
  for (let start = 0; start < events.length; start += 1000) {
    const batch = events.slice(start, start + 1000);
    const response = await fetch(new URL('/ensign/v1/events', env.ofrepUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'flagd-selector': `flagSetId=${flagSet}` },
      body: JSON.stringify({ events: batch }),
    });
    const body = (await response.json()) as { accepted?: number; rejected?: unknown[] };
    expect(response.status, `events answer ${JSON.stringify(body)}`).toBe(202);
    expect(body.accepted, `events accepted of ${String(batch.length)}: ${JSON.stringify(body)}`).toBe(batch.length);
  }
}

/** Runs `task` over `items`, at most `width` at a time, and returns the results in order. */
export async function inParallel<T, R>(items: readonly T[], width: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}

/** A rollout as the admin API holds it now, with its guard's latest check. */
export type StoredRollout = {
  id: number;
  status: string;
  nextStep: number;
  guardedVariant: string | null;
  guardCheck: {
    step: number;
    verdict: string;
    oldUsers: number;
    newUsers: number;
    lift: number | null;
    interval: [number, number] | null;
  } | null;
};

/** Reads rollout `id` through the admin API. */
export async function storedRollout(id: number): Promise<StoredRollout> {
  const data = await graphql<{ rollout: StoredRollout }>(
    'query ($id: Int!) { rollout(id: $id) { id status nextStep guardedVariant guardCheck { step verdict oldUsers newUsers lift interval } } }',
    { id },
  );
  return data.rollout;
}
