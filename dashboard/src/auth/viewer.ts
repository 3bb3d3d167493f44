// Loads who the token belongs to; this is also how a token is validated.
import type { Client } from 'urql';

import { type ApiFailure, failureOf } from '../api/errors';
import { ViewerQuery } from './operations';
import type { Viewer } from './roles';

export type ViewerResult = { ok: true; viewer: Viewer } | { ok: false; failure: ApiFailure };

/** The token's name, role and rights, or the server's reason to refuse it. */
export async function loadViewer(client: Client): Promise<ViewerResult> {
  const result = await client.query(ViewerQuery, {}, { requestPolicy: 'network-only' }).toPromise();
  if (result.data) return { ok: true, viewer: result.data.viewer };
  const failure = result.error
    ? failureOf(result.error)
    : { message: 'the server sent no answer', code: 'EMPTY_ANSWER' };
  return { ok: false, failure };
}
