// GraphiQL's requests carry the signed-in token, and none without one.
import { afterEach, expect, test } from 'vitest';

import { FakeSocket, mockApi } from '../test/harness';
import { createFetcher } from './fetcher';

afterEach(() => {
  FakeSocket.reset();
});

const answer = { body: { data: { flagSets: [] } } };

/** Runs a query through the fetcher; its answer may be a stream of results. */
async function run(token: string | null) {
  const received = mockApi(() => answer);
  const answered: unknown = await createFetcher(token)({ query: 'query Sets { flagSets { key } }', operationName: 'Sets' });
  let result = answered;
  if (typeof answered === 'object' && answered !== null && Symbol.asyncIterator in answered) {
    for await (const first of answered as AsyncIterable<unknown>) {
      result = first;
      break;
    }
  }
  return { received, result };
}

test('requests carry the token as a bearer token', async () => {
  const { received, result } = await run('ens_adm_abc');
  expect(result).toEqual(answer.body);
  expect(received).toEqual([{ operationName: 'Sets', variables: {}, authorization: 'Bearer ens_adm_abc' }]);
});

test('without a session, requests carry no token', async () => {
  const { received } = await run(null);
  expect(received[0]?.authorization).toBeNull();
});
