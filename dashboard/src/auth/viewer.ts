// Loads who the token belongs to; this is also how a token is validated.
import type { Client } from 'urql';

import { type ApiFailure, failureOf } from '../api/errors';
import { ViewerProbeQuery } from './operations';
import type { Viewer } from './roles';

export type ViewerResult = { ok: true; viewer: Viewer } | { ok: false; failure: ApiFailure };

// The server's refusal of a role too low for the token list:
// `token "<name>" has role <role>, this needs admin` (the name JSON-like quoted).
const ROLE_TOO_LOW = /^token "((?:[^"\\]|\\.)*)" has role (\w+), this needs \w+$/;

/** The token's name and role, or the server's reason to refuse it. */
export async function loadViewer(client: Client, token: string): Promise<ViewerResult> {
  const result = await client
    .query(ViewerProbeQuery, {}, { requestPolicy: 'network-only' })
    .toPromise();
  if (result.data) {
    const mine = result.data.tokens.filter(
      (t) => t.revokedAt == null && token.startsWith(t.prefix),
    );
    const [only] = mine;
    // Two live admin tokens may share a prefix: then the name is unknown
    // and every change counts as someone else's.
    return { ok: true, viewer: { name: mine.length === 1 && only ? only.name : '', role: 'admin' } };
  }
  if (!result.error) {
    return { ok: false, failure: { message: 'the server sent no answer', code: 'EMPTY_ANSWER' } };
  }
  const failure = failureOf(result.error);
  const tooLow = failure.code === 'FORBIDDEN' ? ROLE_TOO_LOW.exec(failure.message) : null;
  if (tooLow?.[1] !== undefined && tooLow[2] !== undefined) {
    return { ok: true, viewer: { name: tooLow[1].replace(/\\(.)/g, '$1'), role: tooLow[2] } };
  }
  return { ok: false, failure };
}
