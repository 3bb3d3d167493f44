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
 * when several flag sets hold the same key; with `sdkKey`, the request
 * carries that SDK key as `Authorization: Bearer` (an SDK key is bound to
 * its flag set, so it needs no selector).
 */
export async function ofrepEvaluate(
  flagKey: string,
  context: Record<string, unknown> = {},
  flagSet?: string,
  sdkKey?: string,
): Promise<OfrepAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (flagSet !== undefined) headers['flagd-selector'] = `flagSetId=${flagSet}`;
  if (sdkKey !== undefined) headers.authorization = `Bearer ${sdkKey}`;
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

/**
 * Creates a flag in `flagSet` with `definition` through the admin API, for
 * a scenario to start from; `clientVisible` lets client SDK keys see it.
 */
export async function createFlag(
  flagSet: string,
  key: string,
  definition: Record<string, unknown>,
  { clientVisible = false }: { clientVisible?: boolean } = {},
): Promise<StoredFlag> {
  const data = await graphql<{ createFlag: StoredFlag }>(
    'mutation ($flagSet: String!, $key: String!, $definition: JSON!, $clientVisible: Boolean) { createFlag(flagSet: $flagSet, key: $key, flag: { definition: $definition, clientVisible: $clientVisible }) { version state defaultVariant definition } }',
    { flagSet, key, definition, clientVisible },
  );
  return data.createFlag;
}

/** A tracking event as `POST /ensign/v1/events` takes it (README, "Tracking events"). */
export type TrackingEvent = {
  name: string;
  context: { targetingKey: string } & Record<string, unknown>;
  details?: { value?: number } & Record<string, unknown>;
  timestamp?: string;
};

/**
 * Sends `events` to the OFREP listener's `POST /ensign/v1/events` in
 * batches of at most 1,000, as events of `flagSet` (the `flagd-selector`
 * header: a node without keys serves several flag sets); every batch must
 * be accepted whole. Returns how many were accepted.
 */
export async function trackEvents(flagSet: string, events: TrackingEvent[]): Promise<number> {
  let accepted = 0;
  for (let start = 0; start < events.length; start += 1000) {
    const batch = events.slice(start, start + 1000);
    const response = await fetch(new URL('/ensign/v1/events', env.ofrepUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'flagd-selector': `flagSetId=${flagSet}` },
      body: JSON.stringify({ events: batch }),
    });
    const body = (await response.json()) as { accepted?: number; rejected?: unknown[] };
    expect(response.status, `events answer ${JSON.stringify(body)}`).toBe(202);
    expect(body.rejected ?? [], 'events refused').toEqual([]);
    accepted += body.accepted ?? 0;
  }
  return accepted;
}

/** A segment as the admin API holds it now. */
export type StoredSegment = { key: string; definition: unknown; version: number };

/** The segments of `flagSet`, by key. */
export async function storedSegments(flagSet: string): Promise<StoredSegment[]> {
  const data = await graphql<{ segments: StoredSegment[] }>(
    'query ($flagSet: String!) { segments(flagSet: $flagSet) { key definition version } }',
    { flagSet },
  );
  return data.segments;
}

/** A token as the admin API lists it (never its secret). */
export type StoredToken = { id: number; name: string; role: string; flagSet: string | null; prefix: string; revokedAt: string | null };

/** Every token, live and revoked. */
export async function storedTokens(): Promise<StoredToken[]> {
  const data = await graphql<{ tokens: StoredToken[] }>('{ tokens { id name role flagSet prefix revokedAt } }');
  return data.tokens;
}

/** One flag's evaluation counts, as `flagUsage` answers them. */
export type FlagUsage = { flag: string; lastEvaluatedAt: string | null; evaluations24h: number };

/** The evaluation counts of every flag of `flagSet`. */
export async function flagUsage(flagSet: string): Promise<FlagUsage[]> {
  const data = await graphql<{ flagUsage: FlagUsage[] }>(
    'query ($flagSet: String!) { flagUsage(flagSet: $flagSet) { flag lastEvaluatedAt evaluations24h } }',
    { flagSet },
  );
  return data.flagUsage;
}

/** A stale flag, as `staleFlags` answers it. */
export type StaleFlag = { flag: string; reason: string; lastEvaluatedAt: string | null };

/** The stale flags of `flagSet` over the last `hours`. */
export async function staleFlags(flagSet: string, hours: number): Promise<StaleFlag[]> {
  const data = await graphql<{ staleFlags: StaleFlag[] }>(
    'query ($flagSet: String!, $hours: Int!) { staleFlags(flagSet: $flagSet, unusedForHours: $hours) { flag reason lastEvaluatedAt } }',
    { flagSet, hours },
  );
  return data.staleFlags;
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
